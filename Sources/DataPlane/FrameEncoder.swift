import Engine

/// Writes siddhi-io-tcp frames with siddhi-map-binary payloads (docs/protocol.md): what Siddhi's
/// TCP sink sends, and what `tandem send` and Tandem's tcp sink send.
public struct FrameEncoder {
    public var sessionId: String
    public init(sessionId: String = "tandem") { self.sessionId = sessionId }

    /// Appends one frame holding rows `range` of `batch` on `channel` to `out`.
    public func append(batch: EventBatch, rows range: Range<Int>? = nil, channel: String, to out: inout [UInt8]) {
        let rows = range ?? 0..<batch.count
        let attributes = batch.schema.attributes
        var payload = 4
        for row in rows {
            payload += 8
            for (c, a) in attributes.enumerated() {
                switch a.type {
                case .int, .float: payload += 4
                case .long, .double: payload += 8
                case .bool: payload += 1
                case .string: payload += 4 + (batch.isNull(c, row) ? 0 : batch.withStringBytes(c, row) { $0.count })
                }
            }
        }
        let session = Array(sessionId.utf8), channelBytes = Array(channel.utf8)
        let messageSize = 4 + session.count + 4 + channelBytes.count + 4 + payload
        out.reserveCapacity(out.count + 5 + messageSize)
        out.append(FrameDecoder.protocolByte)
        out.appendBigEndian(UInt32(messageSize))
        out.appendBigEndian(UInt32(session.count))
        out.append(contentsOf: session)
        out.appendBigEndian(UInt32(channelBytes.count))
        out.append(contentsOf: channelBytes)
        out.appendBigEndian(UInt32(payload))
        out.appendBigEndian(UInt32(rows.count))
        for row in rows {
            out.appendBigEndian(UInt64(bitPattern: batch.timestamps[row]))
            for (c, a) in attributes.enumerated() {
                // The binary map has no null marker: a null is sent as the type's zero / empty string.
                switch a.type {
                case .int: out.appendBigEndian(UInt32(truncatingIfNeeded: batch.int64(c, row)))
                case .long: out.appendBigEndian(UInt64(bitPattern: batch.int64(c, row)))
                case .float: out.appendBigEndian(Float(batch.double(c, row)).bitPattern)
                case .double: out.appendBigEndian(batch.double(c, row).bitPattern)
                case .bool: out.append(batch.bool(c, row) ? 1 : 0)
                case .string:
                    if batch.isNull(c, row) {
                        out.appendBigEndian(UInt32(0))
                    } else {
                        batch.withStringBytes(c, row) { bytes in
                            out.appendBigEndian(UInt32(bytes.count))
                            out.append(contentsOf: bytes)
                        }
                    }
                }
            }
        }
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
