/// A length field of a frame (see docs/protocol.md).
public enum FrameField: String, Sendable, Equatable {
    case sessionId, channelId, payload, eventCount, string
}

/// Why a frame was rejected. The connection that sent it is closed; nothing else is affected.
public enum FrameDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first byte of a frame is neither 0x02 nor 0x54 (e.g. an HTTP or text client on the port).
    case badProtocolByte(UInt8)
    /// `messageSize` is below its fixed fields: 12 bytes, 28 in an acknowledged frame (negative included).
    case messageSizeTooSmall(Int)
    /// The header announces a frame larger than `maxFrameBytes` (checked before buffering the body).
    case frameTooLarge(sizeBytes: Int, maxFrameBytes: Int)
    /// A length field is negative or runs past the end of the frame (-1: the field itself is cut off).
    case badLength(FrameField, Int)
    /// The payload length differs from the bytes left in the frame after the two ids.
    case payloadSizeMismatch(payloadBytes: Int, bytesLeft: Int)
    /// The frame's channelId matches no source on this listener.
    case unknownChannel(String)
    /// The event count is negative or announces more events than the payload can hold.
    case badEventCount(Int)
    /// The payload ends inside event `eventIndex` (0-based) of `eventCount`.
    case truncatedEvent(eventIndex: Int, eventCount: Int)
    /// A string value longer than `maxStringBytes`.
    case stringTooLong(lengthBytes: Int, maxStringBytes: Int)
    /// Bytes left in the payload after the last event.
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .badProtocolByte(let b):
            "bad protocol byte 0x\(String(b, radix: 16)) (expected 0x02, siddhi-io-tcp framing, or 0x54, Tandem acknowledged framing)"
        case .messageSizeTooSmall(let size):
            "message size \(size) is smaller than its fixed fields (12 bytes, 28 with publisher id and batch sequence)"
        case .frameTooLarge(let size, let max):
            "frame of \(size) bytes exceeds maxFrameBytes \(max)"
        case .badLength(let field, let length):
            length < 0 && length != -1
                ? "negative \(field.rawValue) length \(length)"
                : "\(field.rawValue) length \(length) runs past the end of the frame"
        case .payloadSizeMismatch(let payload, let left):
            "payload length \(payload) differs from the \(left) bytes left in the frame"
        case .unknownChannel(let channel):
            "unknown channel '\(channel)' (no tcp source on this port has this context)"
        case .badEventCount(let count):
            "event count \(count) is negative or cannot fit in the payload"
        case .truncatedEvent(let index, let count):
            "payload ends inside event \(index + 1) of \(count)"
        case .stringTooLong(let length, let max):
            "string of \(length) bytes exceeds maxStringBytes \(max)"
        case .trailingBytes(let n):
            "\(n) bytes left over after the last event"
        }
    }
}
