import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// End to end through the real executable: `tandem run` on an app with a TCP source, events
/// published over loopback by `tandem send` (siddhi-io-tcp frames), filtered output read from the
/// node's log sink.
@Suite(.serialized) struct EndToEndTests {
    static func app(port: Int) -> String {
        """
        @App:name('E2E')
        @source(type='tcp', port='\(port)', context='StockStream', @map(type='binary'))
        define stream StockStream (symbol string, price double, volume long);

        @sink(type='log', prefix='OUT')
        define stream Out (symbol string, price double, total double);

        from StockStream[price > 50.0]
        select symbol, price, price * volume as total
        insert into Out;
        """
    }

    /// Events and the rows the filter must let through, in order.
    static let input: [(String, Double, Int64)] = (0..<200).map { i in
        ("S\(i % 7)", Double(i % 100) + 0.25, Int64(i))
    }
    static var expected: [String] {
        input.filter { $0.1 > 50.0 }.map { "[\($0.0), \($0.1), \($0.1 * Double($0.2))]" }
    }

    static func writeInput(_ dir: URL) throws -> URL {
        let url = dir.appendingPathComponent("events.jsonl")
        let text = input.enumerated().map { i, e in
            "{\"stream\":\"StockStream\",\"timestamp\":\(1000 + i),\"data\":[\"\(e.0)\",\(e.1),\(e.2)]}"
        }.joined(separator: "\n") + "\n"
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// The `data=[...]` part of log-sink lines with the given prefix.
    static func outputRows(_ lines: [String], prefix: String) -> [String] {
        lines.filter { $0.contains(prefix) && $0.contains("Event{") }.compactMap { line in
            guard let start = line.range(of: "data=[")?.lowerBound,
                  let end = line.range(of: "], isExpired")?.lowerBound else { return nil }
            return "[" + line[line.index(start, offsetBy: 6)..<end] + "]"
        }
    }

    static func waitForPort(_ port: Int, timeoutSec: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSec)
        while Date() < deadline {
            let fd = connectLoopback(port: port)
            if fd >= 0 {
                close(fd)
                return true
            }
            usleep(50_000)
        }
        return false
    }

    @Test(arguments: ["io_uring", "epoll"])
    func filteredEventsFlowFromSocketToSink(backend: String) throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeTCPPort()
        let apps = dir.appendingPathComponent("apps")
        try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
        let appFile = apps.appendingPathComponent("e2e.siddhi")
        try EndToEndTests.app(port: port).write(to: appFile, atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("deployment.yaml")
        try "tandem:\n  dataPlane:\n    ioBackend: \(backend)\n".write(to: config, atomically: true, encoding: .utf8)
        let input = try EndToEndTests.writeInput(dir)

        let node = try NodeProcess(arguments: ["run", "--config", config.path, "--apps", apps.path], workingDirectory: dir)
        defer { _ = node.terminate() }
        #expect(EndToEndTests.waitForPort(port, timeoutSec: 20), "node did not open port \(port): \(node.stderr)")

        let (status, _, sendErr) = try NodeProcess.runToEnd(
            ["send", "--app", appFile.path, "--host", "127.0.0.1", "--input", input.path, "--batch", "16"],
            workingDirectory: dir)
        #expect(status == 0, "tandem send failed: \(sendErr)")

        let expected = EndToEndTests.expected
        node.waitFor(timeoutSec: 20) { lines, _ in EndToEndTests.outputRows(lines, prefix: "OUT").count >= expected.count }
        #expect(EndToEndTests.outputRows(node.lines, prefix: "OUT") == expected)
        #expect(node.stderr.contains(backend == "epoll" ? "epoll" : "io_uring"))

        #expect(node.terminate() == 0, "node did not stop cleanly on SIGTERM: \(node.stderr)")
    }

    @Test func malformedFrameClosesOnlyThatConnection() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeTCPPort()
        let appFile = dir.appendingPathComponent("e2e.siddhi")
        try EndToEndTests.app(port: port).write(to: appFile, atomically: true, encoding: .utf8)
        let input = try EndToEndTests.writeInput(dir)
        let node = try NodeProcess(arguments: ["run", "--apps", dir.path], workingDirectory: dir)
        defer { _ = node.terminate() }
        #expect(EndToEndTests.waitForPort(port, timeoutSec: 20))

        // A connection that sends garbage (wrong protocol byte) must be closed by the node.
        let fd = connectLoopback(port: port)
        #expect(fd >= 0)
        let garbage: [UInt8] = [0x7F, 0, 0, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        _ = garbage.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var buffer = [UInt8](repeating: 0, count: 16)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        #expect(n == 0, "the node should close a connection that sends a malformed frame")
        close(fd)

        // Other publishers and the node are unaffected.
        let (status, _, sendErr) = try NodeProcess.runToEnd(
            ["send", "--app", appFile.path, "--host", "127.0.0.1", "--input", input.path], workingDirectory: dir)
        #expect(status == 0, "\(sendErr)")
        let expected = EndToEndTests.expected
        node.waitFor(timeoutSec: 20) { lines, _ in EndToEndTests.outputRows(lines, prefix: "OUT").count >= expected.count }
        #expect(EndToEndTests.outputRows(node.lines, prefix: "OUT") == expected)
        #expect(node.stderr.lowercased().contains("protocol"), "the closing reason should be logged: \(node.stderr)")
        #expect(node.terminate() == 0)
    }

    @Test func generatedLoadIsCountedExactly() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeTCPPort()
        let app = """
        @App:name('Count')
        @source(type='tcp', port='\(port)', @map(type='binary'))
        define stream S (symbol string, price double, volume long);
        @sink(type='log', prefix='ALL')
        define stream Out (volume long);
        from S select volume insert into Out;
        """
        let appFile = dir.appendingPathComponent("count.siddhi")
        try app.write(to: appFile, atomically: true, encoding: .utf8)
        let node = try NodeProcess(arguments: ["run", "--apps", dir.path], workingDirectory: dir)
        defer { _ = node.terminate() }
        #expect(EndToEndTests.waitForPort(port, timeoutSec: 20), "the node did not open \(port): \(node.stderr)")
        let (status, sendOut, sendErr) = try NodeProcess.runToEnd(
            ["send", "--app", appFile.path, "--host", "127.0.0.1", "--count", "5000", "--batch", "100"], workingDirectory: dir)
        #expect(status == 0, "\(sendErr)")
        #expect((sendOut + sendErr).contains("5000"))
        node.waitFor(timeoutSec: 20) { lines, _ in EndToEndTests.outputRows(lines, prefix: "ALL").count >= 5000 }
        #expect(EndToEndTests.outputRows(node.lines, prefix: "ALL").count == 5000)
        #expect(node.terminate() == 0)
    }
}

/// The other commands, run as a user would.
@Suite struct CommandLineTests {
    @Test func versionReportsNativeLibraries() throws {
        let (status, out, _) = try NodeProcess.runToEnd(["version"], workingDirectory: URL(fileURLWithPath: "/tmp"))
        #expect(status == 0)
        #expect(out.contains("tandem "))
        // jemalloc must be the process allocator of the executable, read through mallctl.
        #expect(out.range(of: #"jemalloc \d+\.\d+\.\d+"#, options: .regularExpression) != nil, "\(out)")
        #expect(out.range(of: #"liburing \d+\.\d+"#, options: .regularExpression) != nil, "\(out)")
        #expect(out.range(of: #"mysql-client \d+\.\d+"#, options: .regularExpression) != nil, "\(out)")
    }

    @Test func validateReportsEveryErrorWithPosition() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.siddhi")
        try """
        @App:name('Bad')
        define stream S (symbol string, price double);
        from S[price > 'x'] select symbol insert into A;
        from T select symbol insert into B;
        """.write(to: bad, atomically: true, encoding: .utf8)
        let (status, out, err) = try NodeProcess.runToEnd(["validate", bad.path], workingDirectory: dir)
        #expect(status != 0)
        let text = out + err
        #expect(text.contains("bad.siddhi:3:"), "\(text)")
        #expect(text.contains("bad.siddhi:4:"), "\(text)")
        #expect(text.contains("error:"))

        let good = dir.appendingPathComponent("good.siddhi")
        try "define stream S (a int);\nfrom S[a > 1] select a insert into T;\n".write(to: good, atomically: true, encoding: .utf8)
        let (goodStatus, _, goodErr) = try NodeProcess.runToEnd(["validate", good.path], workingDirectory: dir)
        #expect(goodStatus == 0, "\(goodErr)")
    }

    /// validate builds the sources and sinks as `tandem run` does: an unknown sink type or a bad
    /// transport option fails with the annotation's position, and nothing is opened.
    @Test func validateChecksTransportsAsADeployDoes() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String)] = [
            ("@sink(type='nope')\ndefine stream T (a int);", "@sink(type='nope') is not supported yet"),
            ("@source(type='http', receiver.url='ftp://0.0.0.0:8080/x', @map(type='json'))\ndefine stream T (a int);", "the scheme must be http or https"),
            ("@source(type='http', receiver.url='https://0.0.0.0:8443/x', tls.certificate.file='c.pem', @map(type='json'))\ndefine stream T (a int);",
             "needs both tls.certificate.file and tls.key.file"),
            ("@source(type='http', receiver.url='http://0.0.0.0:8080/x', basic.auth.enabled='yes', @map(type='json'))\ndefine stream T (a int);",
             "basic.auth.enabled 'yes'"),
            ("@sink(type='http', @map(type='json'))\ndefine stream T (a int);", "http sink needs publisher.url"),
        ]
        for (k, (transport, reason)) in cases.enumerated() {
            let file = dir.appendingPathComponent("t\(k).siddhi")
            try "@App:name('T\(k)')\ndefine stream S (a int);\n\(transport)\nfrom S select a insert into T;\n".write(to: file, atomically: true, encoding: .utf8)
            let (status, out, err) = try NodeProcess.runToEnd(["validate", file.path], workingDirectory: dir)
            #expect(status == 1, "\(transport): \(out)\(err)")
            #expect(err.contains("\(file.path):3:"), "\(err)")
            #expect(err.contains("error: "), "\(err)")
            #expect(err.contains(reason), "\(transport): \(err)")
        }
        // A locked https source with its own (absent here) files and a known sink pass: validate reads no file.
        let good = dir.appendingPathComponent("good.siddhi")
        try """
        @App:name('Good')
        @source(type='http', receiver.url='https://0.0.0.0:8443/s', basic.auth.enabled='true', tls.certificate.file='/etc/x/c.pem', tls.key.file='/etc/x/k.pem', @map(type='json'))
        define stream S (a int);
        @sink(type='log')
        define stream T (a int);
        from S select a insert into T;
        """.write(to: good, atomically: true, encoding: .utf8)
        let (status, out, err) = try NodeProcess.runToEnd(["validate", good.path], workingDirectory: dir)
        #expect(status == 0, "\(out)\(err)")
        #expect(out.contains("ok"))
    }

    @Test func badConfigIsAClearErrorNamingTheKey() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("deployment.yaml")
        try "state.persistence:\n  intervalInMin: x\n".write(to: config, atomically: true, encoding: .utf8)
        let (status, out, err) = try NodeProcess.runToEnd(["run", "--config", config.path, "--apps", dir.path], workingDirectory: dir, timeoutSec: 20)
        #expect(status != 0)
        #expect((out + err).contains("state.persistence.intervalInMin"), "\(out)\(err)")
    }
}

/// Time windows in a running node follow the wall clock: events expire without new input.
@Suite struct WallClockWindowTests {
    @Test func timeWindowExpiresOnTheWallClock() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeTCPPort()
        let appFile = dir.appendingPathComponent("expiry.siddhi")
        try """
        @App:name('Expiry')
        @source(type='tcp', port='\(port)', context='S', @map(type='binary'))
        define stream S (symbol string, price double, volume long);
        @sink(type='log', prefix='WIN')
        define stream Out (live long);
        from S#window.time(300 ms) select count() as live insert all events into Out;
        """.write(to: appFile, atomically: true, encoding: .utf8)
        let node = try NodeProcess(arguments: ["run", "--apps", dir.path], workingDirectory: dir)
        defer { _ = node.terminate() }
        #expect(EndToEndTests.waitForPort(port, timeoutSec: 20))
        let (status, _, sendErr) = try NodeProcess.runToEnd(
            ["send", "--app", appFile.path, "--host", "127.0.0.1", "--count", "5", "--batch", "5"], workingDirectory: dir)
        #expect(status == 0, "\(sendErr)")
        // One frame of 5 events: one collapsed row with 5 live, then, 300 ms later with no input, 0 live.
        node.waitFor(timeoutSec: 10) { lines, _ in EndToEndTests.outputRows(lines, prefix: "WIN").contains("[0]") }
        #expect(EndToEndTests.outputRows(node.lines, prefix: "WIN") == ["[5]", "[0]"], "\(node.lines)")
        #expect(node.terminate() == 0)
    }

    /// A publisher that sets no timestamp (Siddhi's `new Event()`: -1) gets the arrival time, as in
    /// Siddhi; other values stay. Through `tandem send`, a real socket and the node's decoder.
    @Test func unsetTimestampBecomesTheArrivalTime() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeTCPPort()
        let appFile = dir.appendingPathComponent("stamp.siddhi")
        try """
        @App:name('Stamp')
        @source(type='tcp', port='\(port)', context='S', @map(type='binary'))
        define stream S (symbol string, price double, volume long);
        @sink(type='log', prefix='TS')
        define stream Out (ts long, volume long);
        from S select eventTimestamp() as ts, volume insert into Out;
        """.write(to: appFile, atomically: true, encoding: .utf8)
        let input = dir.appendingPathComponent("events.jsonl")
        try """
        {"stream":"S","timestamp":-1,"data":["A",1.0,1]}
        {"stream":"S","timestamp":-2,"data":["A",1.0,2]}
        {"stream":"S","timestamp":5,"data":["A",1.0,3]}

        """.write(to: input, atomically: true, encoding: .utf8)
        let node = try NodeProcess(arguments: ["run", "--apps", dir.path], workingDirectory: dir)
        defer { _ = node.terminate() }
        #expect(EndToEndTests.waitForPort(port, timeoutSec: 20))
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let (status, _, sendErr) = try NodeProcess.runToEnd(
            ["send", "--app", appFile.path, "--host", "127.0.0.1", "--input", input.path], workingDirectory: dir)
        #expect(status == 0, "\(sendErr)")
        node.waitFor(timeoutSec: 10) { lines, _ in EndToEndTests.outputRows(lines, prefix: "TS").count >= 3 }
        let after = Int64(Date().timeIntervalSince1970 * 1000)
        let rows = EndToEndTests.outputRows(node.lines, prefix: "TS")
        #expect(rows.count == 3, "\(node.lines)")
        guard rows.count == 3 else { return }
        let arrival = Int64(rows[0].dropFirst().prefix { $0 != "," }) ?? 0
        #expect(arrival >= before && arrival <= after, "\(rows[0]) not in [\(before), \(after)]")
        #expect(rows[0].hasSuffix(", 1]"))
        #expect(Array(rows[1...]) == ["[-2, 2]", "[5, 3]"])
        #expect(node.terminate() == 0)
    }
}
