import Engine

/// Why a frame was rejected. The connection that sent it is closed; nothing else is affected.
public enum FrameDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    case badProtocolByte(UInt8)
    case frameTooLarge(sizeBytes: Int, maxFrameBytes: Int)
    case malformed(String)
    case unknownChannel(String)

    public var description: String {
        switch self {
        case .badProtocolByte(let b): "bad protocol byte 0x\(String(b, radix: 16)) (expected 0x02, siddhi-io-tcp framing)"
        case .frameTooLarge(let size, let max): "frame of \(size) bytes exceeds maxFrameBytes \(max)"
        case .malformed(let why): "malformed frame: \(why)"
        case .unknownChannel(let channel): "unknown channel '\(channel)' (no tcp source has this context)"
        }
    }
}

/// One stream a TCP source feeds: frames whose channelId equals `channel` decode into `schema`.
public struct SourceChannel: Sendable {
    public var channel: String
    /// The app stream index the batches are for (opaque to the data plane).
    public var streamIndex: Int
    public var schema: StreamSchema
    public init(channel: String, streamIndex: Int, schema: StreamSchema) {
        self.channel = channel
        self.streamIndex = streamIndex
        self.schema = schema
    }
}

/// Decodes siddhi-io-tcp frames carrying siddhi-map-binary payloads (see docs/protocol.md) straight
/// from receive buffers into per-channel `EventBatch`es.
///
/// Fed the bytes of one connection as they arrive; complete frames are decoded, a trailing partial
/// frame is left for the next call. A batch is handed to `emit` when it reaches `batchSize` events
/// and by `flush`. No allocation per event: values go into the batch's preallocated columns.
public final class FrameDecoder {
    public static let protocolByte: UInt8 = 0x02
    public static let headerBytes = 5
    public static let maxFrameBytesDefault = 16 << 20

    public let channels: [SourceChannel]
    public let batchSize: Int
    public let maxFrameBytes: Int
    private let channelBytes: [[UInt8]]
    private var batches: [EventBatch]

    public init(channels: [SourceChannel], batchSize: Int = 1024, maxFrameBytes: Int = FrameDecoder.maxFrameBytesDefault) {
        precondition(!channels.isEmpty)
        precondition(batchSize >= 1 && batchSize <= EventBatch.capacityMax)
        precondition(maxFrameBytes >= 64)
        self.channels = channels
        self.batchSize = batchSize
        self.maxFrameBytes = maxFrameBytes
        channelBytes = channels.map { Array($0.channel.utf8) }
        batches = channels.map { EventBatch(schema: $0.schema, capacity: batchSize) }
    }

    /// Total size of the frame starting at `bytes` (header included) once its header is there;
    /// nil while fewer than 5 bytes are available. Validates the protocol byte and size limit.
    @inline(__always)
    public func frameLength(_ bytes: UnsafeRawBufferPointer) throws(FrameDecodeError) -> Int? {
        guard bytes.count >= FrameDecoder.headerBytes else {
            if let first = bytes.first, first != FrameDecoder.protocolByte { throw .badProtocolByte(first) }
            return nil
        }
        let first = bytes[0]
        guard first == FrameDecoder.protocolByte else { throw .badProtocolByte(first) }
        let size = Int(Int32(bitPattern: bytes.loadBigEndianUInt32(at: 1)))
        guard size >= 12 else { throw .malformed("message size \(size) smaller than its three length fields") }
        guard size <= maxFrameBytes - FrameDecoder.headerBytes else {
            throw .frameTooLarge(sizeBytes: size + FrameDecoder.headerBytes, maxFrameBytes: maxFrameBytes)
        }
        return FrameDecoder.headerBytes + size
    }

    /// Decodes every complete frame at the start of `bytes`; returns how many bytes were consumed
    /// (the rest is an incomplete frame). On error, events of the bad frame are discarded, events of
    /// earlier frames stay in their batches (call `flush`), and the connection should be closed.
    public func decode(_ bytes: UnsafeRawBufferPointer, emit: (SourceChannel, EventBatch) -> Void) throws(FrameDecodeError) -> Int {
        var offset = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            guard let length = try frameLength(rest), rest.count >= length else { return offset }
            try decodeFrame(UnsafeRawBufferPointer(rebasing: rest[FrameDecoder.headerBytes..<length]), emit: emit)
            offset += length
        }
    }

    /// Hands every non-empty batch to `emit`.
    public func flush(emit: (SourceChannel, EventBatch) -> Void) {
        for i in batches.indices where !batches[i].isEmpty { hand(i, emit) }
    }

    /// Events decoded and not yet emitted, over all channels.
    public var pendingEvents: Int { batches.reduce(0) { $0 + $1.count } }

    private func hand(_ i: Int, _ emit: (SourceChannel, EventBatch) -> Void) {
        emit(channels[i], batches[i])
        // The emitted batch now belongs to the consumer; start a fresh one (one allocation per batch).
        batches[i] = EventBatch(schema: channels[i].schema, capacity: batchSize)
    }

    /// `body` is the frame after the 5-byte header: session id, channel id, payload.
    private func decodeFrame(_ body: UnsafeRawBufferPointer, emit: (SourceChannel, EventBatch) -> Void) throws(FrameDecodeError) {
        var reader = BigEndianReader(body)
        guard let sessionLength = reader.length(), reader.skip(sessionLength) else { throw .malformed("bad session id length") }
        guard let channelLength = reader.length(), let channel = reader.bytes(channelLength) else {
            throw .malformed("bad channel id length")
        }
        guard let index = channelBytes.firstIndex(where: { $0.elementsEqual(channel) }) else {
            throw .unknownChannel(String(decoding: channel, as: UTF8.self))
        }
        guard let payloadLength = reader.length(), payloadLength == reader.remaining else {
            throw .malformed("payload length does not match the message size")
        }
        guard let eventCount = reader.length() else { throw .malformed("missing event count") }
        let attributes = channels[index].schema.attributes
        // Each event takes at least 8 bytes of timestamp plus its fixed-width attributes.
        guard eventCount <= reader.remaining / 8 else { throw .malformed("event count \(eventCount) does not fit the payload") }
        guard eventCount <= EventBatch.capacityMax else {
            throw .malformed("\(eventCount) events in one frame; at most \(EventBatch.capacityMax)")
        }
        // A frame is all or nothing: it goes into one batch, which is handed on only after the frame
        // decoded completely, so a bad frame never leaks half its events.
        if batches[index].count + eventCount > EventBatch.capacityMax { hand(index, emit) }

        var decodedInBatch = 0
        for _ in 0..<eventCount {
            guard let timestamp = reader.int64() else {
                batches[index].removeLast(decodedInBatch)
                throw .malformed("truncated event")
            }
            let row = batches[index].appendRow(timestamp: timestamp)
            decodedInBatch += 1
            for (c, attribute) in attributes.enumerated() {
                var ok = true
                switch attribute.type {
                case .int:
                    if let v = reader.int32() { batches[index].setInt64(c, row, Int64(v)) } else { ok = false }
                case .long:
                    if let v = reader.int64() { batches[index].setInt64(c, row, v) } else { ok = false }
                case .float:
                    if let v = reader.uint32() { batches[index].setDouble(c, row, Double(Float(bitPattern: v))) } else { ok = false }
                case .double:
                    if let v = reader.uint64() { batches[index].setDouble(c, row, Double(bitPattern: v)) } else { ok = false }
                case .bool:
                    if let v = reader.uint8() { batches[index].setBool(c, row, v != 0) } else { ok = false }
                case .string:
                    if let length = reader.length(), let bytes = reader.raw(length) {
                        batches[index].setString(c, row, utf8: bytes)
                    } else {
                        ok = false
                    }
                }
                if !ok {
                    // A frame is all or nothing: drop what this frame added to the current batch.
                    batches[index].removeLast(decodedInBatch)
                    throw .malformed("truncated value of attribute '\(attribute.name)'")
                }
            }
        }
        guard reader.remaining == 0 else {
            batches[index].removeLast(decodedInBatch)
            throw .malformed("\(reader.remaining) trailing bytes after \(eventCount) events")
        }
        if batches[index].count >= batchSize { hand(index, emit) }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

/// Bounds-checked big-endian reads from a byte buffer; every read returns nil past the end.
struct BigEndianReader {
    private let buffer: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    var remaining: Int { buffer.count - offset }

    @inline(__always)
    mutating func uint8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { offset += 1 }
        return buffer[offset]
    }

    @inline(__always)
    mutating func uint32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { offset += 4 }
        return UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    mutating func uint64() -> UInt64? {
        guard remaining >= 8 else { return nil }
        defer { offset += 8 }
        return UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    mutating func int32() -> Int32? { uint32().map { Int32(bitPattern: $0) } }

    @inline(__always)
    mutating func int64() -> Int64? { uint64().map { Int64(bitPattern: $0) } }

    /// A non-negative int32 length that fits in what is left; nil otherwise.
    @inline(__always)
    mutating func length() -> Int? {
        guard let v = int32(), v >= 0 else { return nil }
        return Int(v)
    }

    @inline(__always)
    mutating func skip(_ n: Int) -> Bool {
        guard n >= 0 && remaining >= n else { return false }
        offset += n
        return true
    }

    @inline(__always)
    mutating func raw(_ n: Int) -> UnsafeRawBufferPointer? {
        guard n >= 0 && remaining >= n else { return nil }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + n])
    }

    @inline(__always)
    mutating func bytes(_ n: Int) -> UnsafeRawBufferPointer? { raw(n) }
}
