import Engine

/// The event-sync link between the active node (client) and the passive node (server) of a
/// two-node HA cluster: length-prefixed frames, big-endian.
///
///     uint32 bodyBytes, uint8 kind, body
///
/// Passive → active: `received` frames (string app, int64 lastSequence: every event of the app up
/// to it is in the passive's queue), cumulative, sent after each read; they let the active
/// acknowledge publishers only once the passive holds their events.
///
/// Kinds (active → passive; TCP flow control is the push-back):
/// - `events`: string app, int64 firstSequence, uint64 publisherId, uint64 publisherSeq (the
///   acknowledged-framing batch this batch completes, 0 0 for none), int64 clockMs (the active's
///   engine clock when it ran the batch: the passive runs it at the same time), then one
///   siddhi-io-tcp frame (``FrameEncoder``) whose channel is the stream name and whose events carry
///   sequence numbers `firstSequence ..< firstSequence + eventCount`. One frame per engine batch.
/// - `clock`: string app, int64 afterSequence, int64 clockMs, uint8 hasChecksum, uint64 checksum —
///   in order with the events: the active moved its engine clock to `clockMs` after running event
///   `afterSequence` (timers fire there on both nodes), and, with a checksum, took a snapshot there
///   whose state has that checksum (the passive compares its own; see ``EventSyncEntry/checksum``).
/// - `delivered`: string app, uint32 n, n × int64 — per sink of the app (in declaration order),
///   the number of its outputs the active's sink is done with (written out or dropped): the
///   passive forgets the outputs it kept up to there, and a new active sends the rest again.
/// - `persisted`: string app, string revision, int64 lastSequence — a snapshot holding every event
///   of the app up to `lastSequence` is committed; the passive trims exactly those events.
/// - `hello`: string nodeId, int64 term — the first frame of a connection.
/// - `released`: the active gave up its lease (graceful handover); the passive may take over now.
///
/// Strings are uint32 length + UTF-8.
public enum EventSyncFrameKind: UInt8, Sendable {
    case events = 1
    case persisted = 2
    case hello = 3
    case released = 4
    /// Passive → active.
    case received = 5
    case clock = 6
    case delivered = 7
}

/// A malformed event-sync frame (the connection carrying it is closed).
public struct EventSyncError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, with the app and stream when known.
    public var message: String
    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// Encodes and decodes event-sync frames.
public enum EventSyncProtocol {
    /// Largest frame body accepted: one engine batch (≤ 65 536 events) with its strings.
    public static let frameBytesMax = 1 << 28
    /// Bytes before the body: uint32 length, uint8 kind.
    public static let headerBytes = 5

    /// Appends an `events` frame holding `batch` (stream `stream` of `app`), first sequence `firstSequence`.
    public static func appendEvents(app: String, stream: String, firstSequence: Int64, batch: EventBatch,
                                    publisherId: UInt64 = 0, publisherSeq: UInt64 = 0, clockMs: Int64 = 0,
                                    encoder: FrameEncoder, to out: inout [UInt8]) {
        let start = out.count
        out.appendBigEndian(UInt32(0))  // patched below
        out.append(EventSyncFrameKind.events.rawValue)
        appendString(app, to: &out)
        out.appendBigEndian(UInt64(bitPattern: firstSequence))
        out.appendBigEndian(publisherId)
        out.appendBigEndian(publisherSeq)
        out.appendBigEndian(UInt64(bitPattern: clockMs))
        encoder.append(batch: batch, channel: stream, to: &out)
        patchLength(&out, start: start)
    }

    /// Appends a `clock` frame: the clock moved to `clockMs` after event `afterSequence`, with the
    /// checksum of a snapshot taken there when `checksum` is given.
    public static func appendClock(app: String, afterSequence: Int64, clockMs: Int64, checksum: UInt64?, to out: inout [UInt8]) {
        let start = out.count
        out.appendBigEndian(UInt32(0))
        out.append(EventSyncFrameKind.clock.rawValue)
        appendString(app, to: &out)
        out.appendBigEndian(UInt64(bitPattern: afterSequence))
        out.appendBigEndian(UInt64(bitPattern: clockMs))
        out.append(checksum == nil ? 0 : 1)
        out.appendBigEndian(checksum ?? 0)
        patchLength(&out, start: start)
    }

    /// Appends a `delivered` frame: per sink, the outputs of `app` the active's sinks are done with.
    public static func appendDelivered(app: String, watermarks: [Int64], to out: inout [UInt8]) {
        let start = out.count
        out.appendBigEndian(UInt32(0))
        out.append(EventSyncFrameKind.delivered.rawValue)
        appendString(app, to: &out)
        out.appendBigEndian(UInt32(watermarks.count))
        for w in watermarks { out.appendBigEndian(UInt64(bitPattern: w)) }
        patchLength(&out, start: start)
    }

    /// Most sinks of one app a `delivered` frame names.
    public static let sinksMax = 4096

    /// Appends a `received` frame (passive → active).
    public static func appendReceived(app: String, lastSequence: Int64, to out: inout [UInt8]) {
        let start = out.count
        out.appendBigEndian(UInt32(0))
        out.append(EventSyncFrameKind.received.rawValue)
        appendString(app, to: &out)
        out.appendBigEndian(UInt64(bitPattern: lastSequence))
        patchLength(&out, start: start)
    }

    /// Appends a `persisted` (control) frame.
    public static func appendPersisted(app: String, revision: String, lastSequence: Int64, to out: inout [UInt8]) {
        let start = out.count
        out.appendBigEndian(UInt32(0))
        out.append(EventSyncFrameKind.persisted.rawValue)
        appendString(app, to: &out)
        appendString(revision, to: &out)
        out.appendBigEndian(UInt64(bitPattern: lastSequence))
        patchLength(&out, start: start)
    }

    /// Appends a `hello` frame.
    public static func appendHello(nodeId: String, term: Int64, to out: inout [UInt8]) {
        let start = out.count
        out.appendBigEndian(UInt32(0))
        out.append(EventSyncFrameKind.hello.rawValue)
        appendString(nodeId, to: &out)
        out.appendBigEndian(UInt64(bitPattern: term))
        patchLength(&out, start: start)
    }

    /// Appends a `released` frame.
    public static func appendReleased(to out: inout [UInt8]) {
        out.appendBigEndian(UInt32(1))
        out.append(EventSyncFrameKind.released.rawValue)
    }

    private static func appendString(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            out.appendBigEndian(UInt32(bytes.count))
            out.append(contentsOf: bytes)
        }
    }

    private static func patchLength(_ out: inout [UInt8], start: Int) {
        let body = out.count - start - 4
        precondition(body <= frameBytesMax, "event-sync frame over \(frameBytesMax) bytes")
        let be = UInt32(body).bigEndian
        withUnsafeBytes(of: be) { raw in for i in 0..<4 { out[start + i] = raw[i] } }
    }

    /// One decoded frame.
    public enum Frame: Sendable {
        case events(EventSyncEntry)
        case persisted(app: String, revision: String, lastSequence: Int64)
        case hello(nodeId: String, term: Int64)
        case released
        case received(app: String, lastSequence: Int64)
        case delivered(app: String, watermarks: [Int64])
    }

    /// Decodes one frame body (after the uint32 length).
    public static func decode(body: UnsafeRawBufferPointer) throws(EventSyncError) -> Frame {
        var r = BigEndianReader(body)
        guard let kindByte = r.uint8(), let kind = EventSyncFrameKind(rawValue: kindByte) else {
            throw EventSyncError("unknown event-sync frame kind")
        }
        switch kind {
        case .events:
            let app = try string(&r, "app")
            guard let first = r.int64(), let publisherId = r.uint64(), let publisherSeq = r.uint64(), let clockMs = r.int64() else {
                throw EventSyncError("events frame: truncated sequence")
            }
            let frameStart = r.offset
            guard let frame = r.raw(r.remaining) else { throw EventSyncError("events frame: truncated") }
            // Peek at the embedded frame's channel (the stream) and event count.
            var f = BigEndianReader(frame)
            guard f.uint8() == FrameDecoder.protocolByte, f.uint32() != nil else { throw EventSyncError("events frame: not a siddhi-io-tcp frame") }
            _ = try string(&f, "session")
            let stream = try string(&f, "stream")
            guard f.uint32() != nil, let count = f.int32(), count >= 0 else { throw EventSyncError("events frame: truncated payload header") }
            _ = frameStart
            var entry = EventSyncEntry(app: app, stream: stream, firstSequence: first, eventCount: Int(count), frame: Array(frame),
                                       publisherId: publisherId, publisherSeq: publisherSeq)
            entry.clockMs = clockMs
            return .events(entry)
        case .persisted:
            let app = try string(&r, "app")
            let revision = try string(&r, "revision")
            guard let last = r.int64() else { throw EventSyncError("persisted frame: truncated sequence") }
            return .persisted(app: app, revision: revision, lastSequence: last)
        case .hello:
            let node = try string(&r, "node id")
            guard let term = r.int64() else { throw EventSyncError("hello frame: truncated term") }
            return .hello(nodeId: node, term: term)
        case .released:
            return .released
        case .received:
            let app = try string(&r, "app")
            guard let last = r.int64() else { throw EventSyncError("received frame: truncated sequence") }
            return .received(app: app, lastSequence: last)
        case .delivered:
            let app = try string(&r, "app")
            guard let n = r.uint32(), n <= sinksMax else { throw EventSyncError("delivered frame: bad sink count") }
            var watermarks: [Int64] = []
            for _ in 0..<n {
                guard let w = r.int64() else { throw EventSyncError("delivered frame: truncated") }
                watermarks.append(w)
            }
            return .delivered(app: app, watermarks: watermarks)
        case .clock:
            let app = try string(&r, "app")
            guard let after = r.int64(), let clockMs = r.int64(), let has = r.uint8(), has <= 1, let sum = r.uint64() else {
                throw EventSyncError("clock frame: truncated")
            }
            return .events(EventSyncEntry(clockOf: app, afterSequence: after, clockMs: clockMs, checksum: has == 1 ? sum : nil))
        }
    }

    private static func string(_ r: inout BigEndianReader, _ what: String) throws(EventSyncError) -> String {
        guard let n = r.int32(), n >= 0, let bytes = r.raw(Int(n)) else { throw EventSyncError("truncated \(what)") }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Events of one batch the passive holds: sequence numbers `firstSequence ..< firstSequence + eventCount`
/// of stream `stream` of app `app`, kept encoded (a siddhi-io-tcp frame) until replayed or trimmed.
public struct EventSyncEntry: Sendable {
    /// The app the events are for.
    public var app: String
    /// The stream of the app (the embedded frame's channel).
    public var stream: String
    /// Sequence number of the first event.
    public var firstSequence: Int64
    /// Events in the frame.
    public var eventCount: Int
    /// The siddhi-io-tcp frame (siddhi-map-binary payload) holding the events.
    public var frame: [UInt8]
    /// The acknowledged-framing publisher batch these events complete (0, 0: none).
    public var publisherId: UInt64
    public var publisherSeq: UInt64
    /// The active's engine clock when it ran these events (a `clock` entry: the time it moved to).
    /// 0: not carried (the passive then uses its own wall clock).
    public var clockMs: Int64 = 0
    /// A `clock` entry carrying the checksum of the snapshot the active took after
    /// `lastSequence`: the passive's state there must have the same one.
    public var checksum: UInt64?
    /// Whether this is a `clock` entry (no events: `eventCount` 0, `lastSequence` the event it follows).
    public var isClock: Bool { eventCount == 0 && frame.isEmpty }

    /// Sequence number of the entry's last event.
    public var lastSequence: Int64 { firstSequence + Int64(eventCount) - 1 }

    /// An entry for events `firstSequence ..< firstSequence + eventCount` held in `frame`.
    public init(app: String, stream: String, firstSequence: Int64, eventCount: Int, frame: [UInt8],
                publisherId: UInt64 = 0, publisherSeq: UInt64 = 0) {
        self.publisherId = publisherId
        self.publisherSeq = publisherSeq
        self.app = app
        self.stream = stream
        self.firstSequence = firstSequence
        self.eventCount = eventCount
        self.frame = frame
    }

    /// A `clock` entry: the active's clock moved to `clockMs` after event `afterSequence` of `app`.
    public init(clockOf app: String, afterSequence: Int64, clockMs: Int64, checksum: UInt64?) {
        self.init(app: app, stream: "", firstSequence: afterSequence + 1, eventCount: 0, frame: [])
        self.clockMs = clockMs
        self.checksum = checksum
    }

    /// Decodes the events into a batch of `schema`, dropping those with a sequence number at or
    /// below `after` (already in the restored snapshot). Empty when all of them are.
    public func decode(schema: StreamSchema, after: Int64) throws(EventSyncError) -> EventBatch {
        var batch = EventBatch(schema: schema, capacity: eventCount)
        let types = schema.attributes.map(\.type)
        let failure: String? = frame.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> String? in
            var r = BigEndianReader(raw)
            guard r.uint8() == FrameDecoder.protocolByte, r.uint32() != nil else { return "not a siddhi-io-tcp frame" }
            for _ in 0..<2 {
                guard let n = r.int32(), n >= 0, r.raw(Int(n)) != nil else { return "truncated frame header" }
            }
            guard r.uint32() != nil, let count = r.int32(), Int(count) == eventCount else {
                return "event count differs from the frame's"
            }
            do {
                try types.withUnsafeBufferPointer { t throws(FrameDecodeError) in
                    try batch.appendBinaryEvents(&r, eventCount: eventCount, types: t, maxStringBytes: Int(Int32.max))
                }
            } catch {
                return "\(error)"
            }
            return nil
        }
        if let failure { throw EventSyncError("\(app)/\(stream): \(failure)") }
        let skip = Int(max(0, min(Int64(eventCount), after - firstSequence + 1)))
        guard skip > 0 else { return batch }
        guard skip < eventCount else { return EventBatch(schema: schema) }
        var kept = EventBatch(schema: schema, capacity: eventCount - skip)
        let rows = (skip..<eventCount).map { Int32($0) }
        rows.withUnsafeBufferPointer { kept.gather($0, from: batch) }
        return kept
    }
}
