import Engine
import Glibc

/// `@sink(type='log')`: prints each output event as Siddhi's log sink does, one line per event:
///
///     [2026-11-26 20:00:00.123] INFO {LogSink} - App : OutStream : Event{timestamp=1000, data=[IBM, 75.6, 100], isExpired=false}
///
/// Values print as Java's `toString` would (`100.0`, `1.0E7`, `null`). Each batch becomes one
/// buffered `write` (more only past `bufferBytesMax`). Not thread-safe: it runs on the engine thread
/// that produced the batch.
public final class LogSink {
    /// Output is written once the buffer passes this, so a batch of huge strings stays bounded.
    public static let bufferBytesMax = 1 << 20

    /// The sink's `prefix` option; Siddhi's default is `<app> : <stream>`.
    public let prefix: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// Writes that failed (e.g. a closed pipe); the events are lost, the engine keeps running.
    public private(set) var writeErrors = 0

    /// - Parameters:
    ///   - prefix: text before ` : Event{…}`.
    ///   - fd: where lines go (standard output by default); not closed by the sink.
    public init(prefix: String, fd: Int32 = STDOUT_FILENO) {
        self.prefix = prefix
        self.fd = fd
        buffer.reserveCapacity(64 << 10)
    }

    /// Prints every event of `batch` (current events unless `expired`).
    public func write(_ batch: EventBatch, expired: Bool = false) {
        guard !batch.isEmpty else { return }
        var header = "[" + LogSink.timestampText(nowMs: LogSink.nowMs()) + "] INFO {LogSink} - " + prefix + " : "
        buffer.removeAll(keepingCapacity: true)
        header.withUTF8 { header in
            for row in 0..<batch.count {
                buffer.append(contentsOf: header)
                LogSink.appendEvent(batch, row: row, expired: expired, to: &buffer)
                buffer.append(0x0A)
                if buffer.count >= LogSink.bufferBytesMax { flush() }
            }
        }
        flush()
    }

    /// `Event{timestamp=…, data=[…], isExpired=…}` for one row (tests, other sinks).
    public static func eventText(_ batch: EventBatch, row: Int, expired: Bool = false) -> String {
        var bytes: [UInt8] = []
        appendEvent(batch, row: row, expired: expired, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func appendEvent(_ batch: EventBatch, row: Int, expired: Bool, to out: inout [UInt8]) {
        append("Event{timestamp=", to: &out)
        append(String(batch.timestamps[row]), to: &out)
        append(", data=[", to: &out)
        let attributes = batch.schema.attributes
        for c in 0..<attributes.count {
            if c > 0 { append(", ", to: &out) }
            if batch.isNull(c, row) {
                append("null", to: &out)
                continue
            }
            switch attributes[c].type {
            case .int, .long: append(String(batch.int64(c, row)), to: &out)
            case .float: append(JavaNumberText.float(Float(batch.double(c, row))), to: &out)
            case .double: append(JavaNumberText.double(batch.double(c, row)), to: &out)
            case .bool: append(batch.bool(c, row) ? "true" : "false", to: &out)
            case .string, .object: batch.withStringBytes(c, row) { out.append(contentsOf: $0) }
            }
        }
        append(expired ? "], isExpired=true}" : "], isExpired=false}", to: &out)
    }

    @inline(__always)
    private static func append(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { out.append(contentsOf: $0) }
    }

    /// Wall-clock milliseconds since the epoch.
    static func nowMs() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// `yyyy-MM-dd HH:mm:ss.SSS` in local time, as log4j prints Siddhi's log lines.
    static func timestampText(nowMs: Int64) -> String {
        var seconds = time_t(nowMs / 1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = Int(nowMs % 1000)
        let millis = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millis)"
    }

    private func flush() {
        defer { buffer.removeAll(keepingCapacity: true) }
        let failed = buffer.withUnsafeBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return true
                }
                offset += n
            }
            return false
        }
        if failed { writeErrors += 1 }
    }
}
