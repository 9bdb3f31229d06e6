import Engine
import Glibc

/// Decodes siddhi-io-tcp frames (and Tandem acknowledged frames) carrying siddhi-map-binary payloads
/// (see docs/protocol.md) straight from a connection's receive buffer into per-channel batches.
///
/// Fed the bytes of one connection as they arrive: every complete frame is decoded in place, a
/// trailing partial frame is left for the next call. Events go into per-channel `StagingColumns`
/// (raw memory, plain stores); a channel's events are handed to `emit` as one `EventBatch` (one copy
/// per column) when they reach `batchSize` and by `flush`. Nothing is allocated per event, and with a
/// `BatchPool` whose batches come back, nothing per batch.
///
/// Acknowledged frames: a batch a publisher resends after it was accepted is skipped (see
/// `PublisherSequences`); `takeAck` tells when an ack is due.
///
/// A frame is all or nothing: a bad frame adds no event, and events of earlier frames stay.
///
/// As Siddhi's sources do, an event timestamp of exactly -1 (a publisher that set none) becomes the
/// frame's arrival time (wall clock, milliseconds).
///
/// Not thread-safe: one decoder per connection, used by the connection's reactor thread.
public final class FrameDecoder {
    /// First byte of every siddhi-io-tcp frame.
    public static let protocolByte: UInt8 = 0x02
    /// First byte of a Tandem acknowledged frame ('T'): a siddhi-io-tcp frame whose message starts
    /// with a uint64 publisher id and a uint64 batch sequence number (docs/protocol.md).
    public static let ackedProtocolByte: UInt8 = 0x54
    /// Protocol byte plus int32 messageSize.
    public static let headerBytes = 5
    /// Publisher id and batch sequence number at the start of an acknowledged frame's message.
    public static let ackedFieldsBytes = 16
    /// The three int32 length fields every message carries (session, channel, payload).
    public static let messageBytesMin = 12
    public static let maxFrameBytesDefault = 16 << 20
    public static let maxStringBytesDefault = 1 << 20
    /// A batch whose string arena holds this much is handed on before the next frame: bounds batch
    /// memory and keeps arena offsets far inside `EventBatch`'s 32-bit range.
    public static let batchStringBytesMax = 64 << 20

    public let channels: [SourceChannel]
    public let batchSize: Int
    /// The largest frame accepted, header included.
    public let maxFrameBytes: Int
    /// The longest string value accepted.
    public let maxStringBytes: Int
    /// Channel ids (aliases included) as bytes in one allocation, and per id (offset, length, channel
    /// index): raw memory so that matching a frame's id costs a memcmp and no reference counting.
    private let channelIdBytes: UnsafeMutableRawPointer
    private let channelIdSpans: UnsafeMutableBufferPointer<(offset: Int, length: Int, channel: Int)>
    private let layouts: [BinaryEventLayout]
    /// Per channel: the fewest bytes an event can take (`BinaryEventLayout.minEventBytes`).
    private let minEventBytes: UnsafeMutablePointer<Int>
    private let pool: BatchPool
    /// Per channel: events decoded and not yet handed on (`stagingRefs` holds the same objects
    /// unretained, for the per-frame path).
    private let staging: [StagingColumns]
    private let stagingRefs: UnsafeMutablePointer<Unmanaged<StagingColumns>>
    /// Index into `channelIds` of the previous frame's id: publishers usually send one channel per connection.
    private var lastChannelId = 0
    /// Highest accepted batch per publisher (shared by every decoder of a listener): a resent
    /// acknowledged frame that was already accepted is skipped, and acknowledged again.
    private let sequences: PublisherSequences
    /// The newest acknowledged frame decoded (or skipped as a duplicate) whose ack is not yet taken:
    /// acks are cumulative, so only the newest matters. See `takeAck`.
    public private(set) var pendingAck: (publisherId: UInt64, batchSeq: UInt64)?
    /// The `emit` of the `decode`/`flush` call in progress (nil between calls).
    private var handler: ((SourceChannel, EventBatch) -> Void)?
    /// The sequence entry of the publisher of the previous acknowledged frame.
    private var publisherEntry: PublisherSequences.Entry?
    /// The listener's id of this decoder's connection (0: standalone), recorded in the publisher
    /// entries it uses so a newer connection of a publisher id is noticed.
    var connectionId: UInt32 = 0
    /// Connections whose publisher id this connection took over since the last `takeSuperseded`.
    private var superseded: [UInt32] = []
    /// The publisher id of a hello that asked for keepalives, until `takeKeepaliveHello`.
    private var keepaliveHello: UInt64?

    /// - Parameters:
    ///   - channels: the channels this connection may publish to (at least one; distinct ids).
    ///   - batchSize: events per emitted batch, 1...`EventBatch.capacityMax`.
    ///   - maxFrameBytes: larger frames are rejected from their header, before they are buffered.
    ///   - maxStringBytes: longer string values are rejected.
    public convenience init(channels: [SourceChannel], batchSize: Int = 1024, maxFrameBytes: Int = FrameDecoder.maxFrameBytesDefault,
                            maxStringBytes: Int = FrameDecoder.maxStringBytesDefault) {
        self.init(channels: channels, batchSize: batchSize, maxFrameBytes: maxFrameBytes, maxStringBytes: maxStringBytes,
                  pool: BatchPool(returns: nil), sequences: PublisherSequences())
    }

    /// As above, with batches from `pool` and duplicate detection in `sequences`, which the decoders of
    /// one listener share.
    init(channels: [SourceChannel], batchSize: Int, maxFrameBytes: Int, maxStringBytes: Int, pool: BatchPool,
         sequences: PublisherSequences = PublisherSequences()) {
        precondition(!channels.isEmpty, "FrameDecoder needs at least one channel")
        let ids = channels.flatMap(\.channelIds)
        precondition(Set(ids).count == ids.count, "FrameDecoder channel ids must be distinct")
        precondition(batchSize >= 1 && batchSize <= EventBatch.capacityMax)
        precondition(maxFrameBytes >= 64 && maxFrameBytes <= Int(Int32.max))
        precondition(maxStringBytes >= 0)
        self.channels = channels
        self.batchSize = batchSize
        self.maxFrameBytes = maxFrameBytes
        self.maxStringBytes = min(maxStringBytes, maxFrameBytes)  // no string can be larger than its frame anyway
        let idList = channels.indices.flatMap { i in channels[i].channelIds.map { (Array($0.utf8), i) } }
        let idBytes = UnsafeMutableRawPointer.allocate(byteCount: max(1, idList.reduce(0) { $0 + $1.0.count }), alignment: 8)
        let spans = UnsafeMutableBufferPointer<(offset: Int, length: Int, channel: Int)>.allocate(capacity: idList.count)
        var offset = 0
        for (k, (bytes, channel)) in idList.enumerated() {
            bytes.withUnsafeBytes { if let base = $0.baseAddress { (idBytes + offset).copyMemory(from: base, byteCount: $0.count) } }
            spans[k] = (offset, bytes.count, channel)
            offset += bytes.count
        }
        channelIdBytes = idBytes
        channelIdSpans = spans
        let layouts = channels.map { BinaryEventLayout($0.schema) }
        self.layouts = layouts
        minEventBytes = .allocate(capacity: channels.count)
        for i in channels.indices { minEventBytes[i] = layouts[i].minEventBytes }
        self.pool = pool
        self.sequences = sequences
        let staging = channels.map { StagingColumns(schema: $0.schema) }
        self.staging = staging
        stagingRefs = .allocate(capacity: staging.count)
        for i in staging.indices { (stagingRefs + i).initialize(to: Unmanaged.passUnretained(staging[i])) }
    }

    deinit {
        channelIdBytes.deallocate()
        channelIdSpans.deallocate()
        minEventBytes.deallocate()
        stagingRefs.deallocate()
    }

    /// Total size of the frame starting at `bytes` (header included) once its header is there;
    /// nil while fewer than 5 bytes are available. Validates the protocol byte and the size limit.
    @inline(__always)
    public func frameLength(_ bytes: UnsafeRawBufferPointer) throws(FrameDecodeError) -> Int? {
        guard let first = bytes.first else { return nil }
        guard first == FrameDecoder.protocolByte || first == FrameDecoder.ackedProtocolByte else { throw .badProtocolByte(first) }
        guard bytes.count >= FrameDecoder.headerBytes else { return nil }
        let size = Int(Int32(bitPattern: bytes.loadBigEndianUInt32(at: 1)))
        let sizeMin = first == FrameDecoder.protocolByte ? FrameDecoder.messageBytesMin
                                                          : FrameDecoder.messageBytesMin + FrameDecoder.ackedFieldsBytes
        guard size >= sizeMin else { throw .messageSizeTooSmall(size) }
        guard size <= maxFrameBytes - FrameDecoder.headerBytes else {
            throw .frameTooLarge(sizeBytes: size + FrameDecoder.headerBytes, maxFrameBytes: maxFrameBytes)
        }
        return FrameDecoder.headerBytes + size
    }

    /// Decodes every complete frame at the start of `bytes`; returns how many bytes were consumed
    /// (the rest is the start of an incomplete frame).
    ///
    /// On error the bad frame's events are discarded, events of earlier frames stay in their batches
    /// (hand them on with `flush`), and the caller should close the connection: the stream cannot be
    /// resynchronised.
    public func decode(_ bytes: UnsafeRawBufferPointer, emit: (SourceChannel, EventBatch) -> Void) throws(FrameDecodeError) -> Int {
        // `emit` is parked in `handler` for the duration, so the per-frame path carries no closure
        // (passing one down costs reference counting per frame); only `hand` (per batch) uses it.
        var failure: FrameDecodeError? = nil
        let consumed = withoutActuallyEscaping(emit) { emit -> Int in
            handler = emit
            defer { handler = nil }
            do throws(FrameDecodeError) {
                return try decodeFrames(bytes)
            } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        return consumed
    }

    private func decodeFrames(_ bytes: UnsafeRawBufferPointer) throws(FrameDecodeError) -> Int {
        var offset = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            guard let length = try frameLength(rest), rest.count >= length else { return offset }
            if rest[0] == FrameDecoder.protocolByte {
                handIfFull(try decodeFrame(UnsafeRawBufferPointer(rebasing: rest[FrameDecoder.headerBytes..<length])))
            } else {
                let publisherId = rest.loadBigEndianUInt64(at: FrameDecoder.headerBytes)
                let batchSeq = rest.loadBigEndianUInt64(at: FrameDecoder.headerBytes + 8)
                if publisherEntry?.publisherId != publisherId { publisherEntry = sequences.entry(publisherId) }
                let entry = publisherEntry!
                if entry.connectionId != connectionId { claim(entry) }
                if batchSeq == 0 && FrameDecoder.isKeepaliveHello(UnsafeRawBufferPointer(rebasing: rest[..<length])) {
                    keepaliveHello = publisherId
                    offset += length
                    continue
                }
                var index: Int? = nil
                if batchSeq > entry.highestSeq {
                    let bodyStart = FrameDecoder.headerBytes + FrameDecoder.ackedFieldsBytes
                    index = try decodeFrame(UnsafeRawBufferPointer(rebasing: rest[bodyStart..<length]))
                }
                // Recorded only once decoded; a resent batch accepted before (its ack was lost) is
                // skipped here and acknowledged again.
                if sequences.acceptIfNew(entry, batchSeq: batchSeq) { lastAccepted = (publisherId, batchSeq) }
                pendingAck = (publisherId, batchSeq)
                // Only now, with this frame accepted, may a batch its last event fills be handed on: it
                // must claim this frame (`IngestBatch.publisherSeq`). Claiming the one before would let
                // a new active run this frame again when its publisher resends it after a failover.
                if let index { handIfFull(index) }
            }
            offset += length
            assert(offset <= bytes.count)
        }
    }

    /// Records that this connection now carries `entry`'s publisher; the connection that carried it
    /// before is reported by `takeSuperseded`.
    @inline(never)
    private func claim(_ entry: PublisherSequences.Entry) {
        if entry.connectionId != 0 && !superseded.contains(entry.connectionId) { superseded.append(entry.connectionId) }
        entry.connectionId = connectionId
    }

    /// Whether `frame` (a whole acknowledged frame with batchSeq 0) is a hello asking for keepalives
    /// (docs/protocol.md): empty session and channel ids, an 8-byte payload of version and flags with
    /// bit 0 set. Anything else with batchSeq 0 — a hello without the flag, or a frame of a publisher
    /// that numbered from 0 — is handled as before hellos existed: skipped as already accepted and
    /// acknowledged as batch 0, its body never parsed.
    static func isKeepaliveHello(_ frame: UnsafeRawBufferPointer) -> Bool {
        let lengths = headerBytes + ackedFieldsBytes
        guard frame.count == headerBytes + FrameEncoder.helloMessageBytes,
              frame.loadBigEndianUInt32(at: lengths) == 0, frame.loadBigEndianUInt32(at: lengths + 4) == 0,
              frame.loadBigEndianUInt32(at: lengths + 8) == 8 else { return false }
        return frame.loadBigEndianUInt32(at: lengths + 16) & FrameEncoder.helloKeepaliveFlag != 0
    }

    /// Connections (listener ids) whose publisher id a frame on this connection took over since the
    /// last call; they should be closed. Taking them clears them.
    func takeSuperseded() -> [UInt32] {
        guard !superseded.isEmpty else { return [] }
        defer { superseded.removeAll(keepingCapacity: true) }
        return superseded
    }

    /// The publisher id of a hello asking for keepalives received since the last call, if any.
    func takeKeepaliveHello() -> UInt64? {
        defer { keepaliveHello = nil }
        return keepaliveHello
    }

    /// The ack to send now, if any: the newest acknowledged frame decoded, once every event decoded on
    /// this connection has been handed to `emit` (acks are cumulative: the publisher drops every
    /// batch up to `batchSeq`). Taking it clears it.
    public func takeAck() -> (publisherId: UInt64, batchSeq: UInt64)? {
        guard let ack = pendingAck, pendingEvents == 0 else { return nil }
        pendingAck = nil
        return ack
    }

    /// Hands every non-empty batch to `emit`.
    public func flush(emit: (SourceChannel, EventBatch) -> Void) {
        withoutActuallyEscaping(emit) { emit in
            handler = emit
            defer { handler = nil }
            for i in staging.indices where staging[i].count > 0 { hand(i) }
        }
    }

    /// Events decoded and not yet emitted, over all channels.
    public var pendingEvents: Int {
        var sum = 0
        for s in staging { sum += s.count }
        return sum
    }

    private func hand(_ i: Int) {
        // The emitted batch belongs to the consumer; staging starts over.
        var batch = pool.take(schema: channels[i].schema, capacity: max(batchSize, staging[i].count))
        staging[i].move(into: &batch)
        // Once nothing is staged, every accepted publisher batch is wholly handed on with this one.
        sequences.handed = pendingEvents == 0 ? lastAccepted : nil
        handler!(channels[i], batch)
        sequences.handed = nil
    }

    /// The newest acknowledged-framing batch accepted on this connection (publisher id, sequence).
    private var lastAccepted: (UInt64, UInt64)?

    @inline(__always)
    private func channelIndex(_ name: UnsafeRawBufferPointer) -> Int? {
        @inline(__always) func matches(_ k: Int) -> Bool {
            let span = channelIdSpans[k]
            return span.length == name.count && (span.length == 0 || memcmp(channelIdBytes + span.offset, name.baseAddress!, span.length) == 0)
        }
        if matches(lastChannelId) { return channelIdSpans[lastChannelId].channel }
        for k in channelIdSpans.indices where matches(k) {
            lastChannelId = k
            return channelIdSpans[k].channel
        }
        return nil
    }

    /// A frame with more events than one batch holds (a Siddhi sink flushing a large chunk).
    @inline(never)
    private func decodeLargeFrame(_ body: UnsafeRawBufferPointer, reader: BigEndianReader, eventCount: Int, index: Int, stage: StagingColumns,
) throws(FrameDecodeError) {
        let maxStringBytes = self.maxStringBytes
            // More events than one batch holds (a Siddhi sink flushing a large chunk). Batches handed
            // on cannot be taken back, so prove the whole frame well formed before the first event.
            try layouts[index].validate(reader, eventCount: eventCount, maxStringBytes: maxStringBytes)
            var done = 0
            var offset = reader.offset
            var arrivalMs: Int64? = nil
            while done < eventCount {
                let chunk = min(eventCount - done, EventBatch.capacityMax - stage.count)
                if chunk == 0 {
                    hand(index)
                    continue
                }
                do {
                    offset = try stage.append(body, offset: offset, eventCount: chunk, maxStringBytes: maxStringBytes, eventIndexBase: done,
                                              arrivalMs: &arrivalMs)
                } catch {
                    preconditionFailure("a validated frame failed to decode: \(error)")
                }
                done += chunk
            }
            assert(offset == body.count)
    }

    /// Hands channel `index`'s staged events on once they fill a batch.
    @inline(__always)
    private func handIfFull(_ index: Int) {
        if staging[index].count >= batchSize { hand(index) }
    }

    /// `body` is the frame after the 5-byte header: session id, channel id, payload. Stages its events
    /// (a batch it fills is handed on by the caller: `handIfFull`) and returns their channel's index.
    private func decodeFrame(_ body: UnsafeRawBufferPointer) throws(FrameDecodeError) -> Int {
        var reader = BigEndianReader(body)
        _ = reader.raw(try reader.lengthField(.sessionId))  // identifies the publisher only; unused
        let channel = reader.raw(try reader.lengthField(.channelId))!
        guard let index = channelIndex(channel) else { throw .unknownChannel(String(decoding: channel, as: UTF8.self)) }
        let payloadLength = try reader.lengthField(.payload)
        guard payloadLength == reader.remaining else {
            throw .payloadSizeMismatch(payloadBytes: payloadLength, bytesLeft: reader.remaining)
        }
        guard let count = reader.int32() else { throw .badLength(.eventCount, -1) }
        let eventCount = Int(count)
        guard eventCount >= 0 && eventCount <= reader.remaining / minEventBytes[index] else { throw .badEventCount(eventCount) }

        // A frame goes into one batch whole when it can: cut the batch first if the frame would overflow it.
        var failure: FrameDecodeError? = nil
        stagingRefs[index]._withUnsafeGuaranteedRef { stage in
            do throws(FrameDecodeError) {
                try decodeEvents(body, reader: reader, eventCount: eventCount, index: index, stage: stage)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return index
    }

    @inline(__always)
    private func decodeEvents(_ body: UnsafeRawBufferPointer, reader: BigEndianReader, eventCount: Int, index: Int, stage: StagingColumns,
) throws(FrameDecodeError) {
        if stage.count > 0 && (stage.count + eventCount > EventBatch.capacityMax
            || stage.stringCount + body.count > FrameDecoder.batchStringBytesMax) {
            hand(index)
        }
        let maxStringBytes = self.maxStringBytes
        if eventCount <= EventBatch.capacityMax {
            let rowsBefore = stage.count, stringsBefore = stage.stringCount
            var arrivalMs: Int64? = nil
            let end = try stage.append(body, offset: reader.offset, eventCount: eventCount, maxStringBytes: maxStringBytes,
                                       arrivalMs: &arrivalMs)
            guard end == body.count else {
                stage.truncate(rows: rowsBefore, stringBytes: stringsBefore)
                throw .trailingBytes(body.count - end)
            }
        } else {
            try decodeLargeFrame(body, reader: reader, eventCount: eventCount, index: index, stage: stage)
        }
    }
}
