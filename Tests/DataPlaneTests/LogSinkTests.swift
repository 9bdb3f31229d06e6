@testable import DataPlane
import Engine
import Foundation
import Glibc
import Testing

@Suite struct LogSinkTests {
    static let schema = StreamSchema(name: "Out", attributes: [
        Attribute(name: "symbol", type: .string), Attribute(name: "price", type: .double),
        Attribute(name: "volume", type: .long), Attribute(name: "ratio", type: .float),
        Attribute(name: "count", type: .int), Attribute(name: "ok", type: .bool),
    ])

    /// Everything `body` writes to the sink's fd, read back through a pipe.
    static func captured(_ body: (LogSink) -> Void, prefix: String = "App : Out") -> String {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0)
        let sink = LogSink(prefix: prefix, fd: fds[1])
        body(sink)
        close(fds[1])
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        close(fds[0])
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func linesLookLikeSiddhisLogSink() {
        var batch = EventBatch(schema: LogSinkTests.schema)
        batch.append(timestamp: 1000, values: [.string("IBM"), .double(75.6), .long(100), .float(1.5), .int(-3), .bool(true)])
        batch.append(timestamp: 1001, values: [.null, .double(1e7), .long(-1), .float(0.0001), .int(0), .bool(false)])
        batch.append(timestamp: 1002, values: [.string("héllo, ☃"), .double(100), .null, .float(-0.0), .int(Int32.max), .null])
        let text = LogSinkTests.captured { $0.write(batch) }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines[3].isEmpty, "one line per event, newline terminated")
        let bodies = lines.prefix(3).map { line -> Substring in
            // "[yyyy-MM-dd HH:mm:ss.SSS] INFO {LogSink} - "
            #expect(line.hasPrefix("["))
            let close = line.firstIndex(of: "]")!
            let stamp = line[line.index(after: line.startIndex)..<close]
            #expect(stamp.count == 23, "timestamp \(stamp)")
            #expect(stamp.allSatisfy { $0.isNumber || "-: .".contains($0) })
            return line[line.index(after: close)...]
        }
        #expect(bodies[0] == " INFO {LogSink} - App : Out : Event{timestamp=1000, data=[IBM, 75.6, 100, 1.5, -3, true], isExpired=false}")
        #expect(bodies[1] == " INFO {LogSink} - App : Out : Event{timestamp=1001, data=[null, 1.0E7, -1, 1.0E-4, 0, false], isExpired=false}")
        #expect(bodies[2] == " INFO {LogSink} - App : Out : Event{timestamp=1002, data=[héllo, ☃, 100.0, null, -0.0, 2147483647, null], isExpired=false}")
    }

    @Test func expiredEventsAndEmptyBatches() {
        var batch = EventBatch(schema: LogSinkTests.schema)
        batch.append(timestamp: 5, values: [.string("A"), .double(1), .long(2), .float(3), .int(4), .bool(true)])
        let text = LogSinkTests.captured { sink in
            sink.write(EventBatch(schema: LogSinkTests.schema))  // nothing
            sink.write(batch, expired: true)
        }
        #expect(text.hasSuffix(" - App : Out : Event{timestamp=5, data=[A, 1.0, 2, 3.0, 4, true], isExpired=true}\n"))
        #expect(text.split(separator: "\n").count == 1)
    }

    @Test func largeBatchIsWrittenCompletely() {
        var batch = EventBatch(schema: LogSinkTests.schema)
        let long = String(repeating: "x", count: 10_000)
        for i in 0..<300 { batch.append(timestamp: Int64(i), values: [.string(long), .double(0.5), .long(Int64(i)), .float(2), .int(1), .bool(false)]) }
        // 3 MB of output: more than the pipe holds, so read concurrently.
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let reader = fds[0]
        let lineCount = Counter()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            var chunk = [UInt8](repeating: 0, count: 65536)
            var lines = 0
            while true {
                let n = chunk.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                lines += chunk[0..<n].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            }
            lineCount.set(lines)
            done.signal()
        }
        thread.start()
        let sink = LogSink(prefix: "p", fd: fds[1])
        sink.write(batch)
        close(fds[1])
        done.wait()
        close(reader)
        #expect(lineCount.value == 300)
        #expect(sink.writeErrors == 0)
    }

    @Test func writeToAClosedPipeIsCountedNotFatal() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        close(fds[0])
        signal(SIGPIPE, SIG_IGN)
        let sink = LogSink(prefix: "p", fd: fds[1])
        var batch = EventBatch(schema: LogSinkTests.schema)
        batch.append(timestamp: 1, values: [.string("A"), .double(1), .long(2), .float(3), .int(4), .bool(true)])
        sink.write(batch)
        close(fds[1])
        #expect(sink.writeErrors == 1)
    }

    @Test(arguments: [
        (75.6, "75.6"), (100.0, "100.0"), (0.001, "0.001"), (9.999e-4, "9.999E-4"), (1e7, "1.0E7"),
        (9_999_999.0, "9999999.0"), (1.5e-4, "1.5E-4"), (0.0, "0.0"), (-0.0, "-0.0"), (1e300, "1.0E300"),
        (-2.25, "-2.25"), (123_456_789.5, "1.234567895E8"), (12345.678, "12345.678"), (1e16, "1.0E16"),
        (.nan, "NaN"), (.infinity, "Infinity"), (-.infinity, "-Infinity"),
    ] as [(Double, String)])
    func doublesPrintAsJava(value: Double, java: String) {
        #expect(JavaNumberText.double(value) == java)
    }

    @Test func floatsPrintAsJava() {
        #expect(JavaNumberText.float(75.6) == "75.6")
        #expect(JavaNumberText.float(1e10) == "1.0E10")
        #expect(JavaNumberText.float(Float.greatestFiniteMagnitude) == "3.4028235E38")
        #expect(JavaNumberText.float(0.1) == "0.1", "Float digits, not the Double widening's 0.10000000149011612")
    }

    @Test func timestampHeaderFormat() {
        // 2026-11-26 20:00:00.007 UTC, printed in local time: check the shape and the milliseconds.
        let text = LogSink.timestampText(nowMs: 1_795_723_200_007)
        #expect(text.count == 23)
        #expect(text.hasSuffix(".007"))
        #expect(text.hasPrefix("2026-11-2"))
    }
}

/// A value set by one thread and read by another after `join`.
final class Counter: @unchecked Sendable {
    private(set) var value = 0
    func set(_ v: Int) { value = v }
}
