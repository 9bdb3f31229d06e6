import Engine
import Foundation
import Glibc

/// `@sink(type='log')`: prints each output event as Siddhi's log sink does,
/// `[time] INFO {LogSink} - <prefix> : Event{timestamp=…, data=[…], isExpired=false}`, with one
/// `write` per batch. Runs on the engine thread that produced the batch.
public final class LogSink {
    public let prefix: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let formatter: DateFormatter

    /// - Parameters:
    ///   - prefix: the sink's `prefix` option; Siddhi's default is `<app> : <stream>`.
    ///   - fd: where lines go (standard output by default).
    public init(prefix: String, fd: Int32 = STDOUT_FILENO) {
        self.prefix = prefix
        self.fd = fd
        formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
    }

    /// Formats one attribute value as Siddhi (Java `toString`) prints it.
    static func text(_ value: Value) -> String {
        switch value {
        case .null: "null"
        case .int(let v): String(v)
        case .long(let v): String(v)
        case .float(let v): v.description
        case .double(let v): v.description
        case .string(let v): v
        case .bool(let v): v ? "true" : "false"
        }
    }

    /// The line for one event (without the time header); used by tests and by `write`.
    public static func eventText(_ batch: EventBatch, row: Int, expired: Bool = false) -> String {
        var line = "Event{timestamp=\(batch.timestamps[row]), data=["
        for c in 0..<batch.schema.attributes.count {
            if c > 0 { line += ", " }
            line += text(batch.value(c, row))
        }
        line += "], isExpired=\(expired)}"
        return line
    }

    public func write(_ batch: EventBatch) {
        guard !batch.isEmpty else { return }
        let header = "[\(formatter.string(from: Date()))] INFO {LogSink} - \(prefix) : "
        buffer.removeAll(keepingCapacity: true)
        for row in 0..<batch.count {
            buffer.append(contentsOf: header.utf8)
            buffer.append(contentsOf: LogSink.eventText(batch, row: row).utf8)
            buffer.append(0x0A)
        }
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return  // stdout gone (closed pipe): output is lost, the engine keeps running
                }
                offset += n
            }
        }
    }
}
