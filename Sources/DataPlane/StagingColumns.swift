import Engine

/// The events of one channel decoded on one connection and not yet handed on, in raw memory the
/// decoder owns: frames decode here with plain loads and stores (no per-event call, no
/// copy-on-write check, no allocation once warm), and a whole batch moves into an `EventBatch` with
/// one copy per column when it is handed to the engine.
///
/// Bounded: at most `EventBatch.capacityMax` rows; string bytes at most
/// `FrameDecoder.batchStringBytesMax` plus one frame (the decoder cuts batches before that).
/// Not thread-safe (one connection's reactor thread).
final class StagingColumns {
    /// Attribute types as small codes, for a tight switch.
    private enum Code: UInt8 { case int, long, float, double, bool, string }

    let schema: StreamSchema
    /// `width` attribute codes (raw memory: read per value on the hot path).
    private let codes: UnsafeMutablePointer<Code>
    private let width: Int
    private(set) var capacity = 0
    /// Rows decoded.
    private(set) var count = 0
    private var timestamps: UnsafeMutablePointer<Int64>
    /// `width` column pointers, each `capacity` slots, laid out as `EventBatch` slots.
    private let columns: UnsafeMutablePointer<UnsafeMutablePointer<UInt64>>
    private var strings: UnsafeMutableRawPointer
    private var stringCapacity = 0
    /// String bytes used.
    private(set) var stringCount = 0
    /// A zero-length (null) string was decoded since the last move.
    private var sawNullString = false
    private let stringColumns: [Int]

    static let initialRows = 256
    static let initialStringBytes = 16 << 10

    init(schema: StreamSchema) {
        self.schema = schema
        let list: [Code] = schema.attributes.map {
            switch $0.type {
            case .int: .int
            case .long: .long
            case .float: .float
            case .double: .double
            case .bool: .bool
            case .string, .object: .string  // an object is its JSON text
            }
        }
        codes = .allocate(capacity: max(1, list.count))
        codes.initialize(from: list, count: list.count)
        width = list.count
        stringColumns = list.indices.filter { list[$0] == .string }
        capacity = StagingColumns.initialRows
        timestamps = .allocate(capacity: capacity)
        columns = .allocate(capacity: max(width, 1))
        for c in 0..<width { (columns + c).initialize(to: .allocate(capacity: capacity)) }
        stringCapacity = StagingColumns.initialStringBytes
        strings = .allocate(byteCount: stringCapacity, alignment: 16)
    }

    deinit {
        codes.deallocate()
        timestamps.deallocate()
        for c in 0..<width { columns[c].deallocate() }
        columns.deallocate()
        strings.deallocate()
    }

    private func growRows(to rows: Int) {
        precondition(rows <= EventBatch.capacityMax, "staging over EventBatch.capacityMax")
        let newCapacity = min(EventBatch.capacityMax, max(rows, capacity * 2))
        let t = UnsafeMutablePointer<Int64>.allocate(capacity: newCapacity)
        t.update(from: timestamps, count: count)
        timestamps.deallocate()
        timestamps = t
        for c in 0..<width {
            let column = UnsafeMutablePointer<UInt64>.allocate(capacity: newCapacity)
            column.update(from: columns[c], count: count)
            columns[c].deallocate()
            columns[c] = column
        }
        capacity = newCapacity
    }

    private func growStrings(to bytes: Int) {
        let newCapacity = max(bytes, stringCapacity * 2)
        let s = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        s.copyMemory(from: strings, byteCount: stringCount)
        strings.deallocate()
        strings = s
        stringCapacity = newCapacity
    }

    /// The timestamp a publisher sends when it set none: Siddhi's `new Event()` carries -1, and Siddhi's
    /// sources (`InputEventHandler`) give exactly that value, no other, the arrival time instead.
    static let unsetTimestamp: Int64 = -1

    /// Decodes `eventCount` siddhi-map-binary events from `body[offset..<body.count]`; returns the
    /// offset after the last one. All or nothing: on error nothing of this call stays.
    /// `eventIndexBase` only numbers events in errors.
    ///
    /// Events with timestamp -1 get `arrivalMs`; when it is nil the wall clock is read once (only if
    /// such an event is there) and kept in it, so the chunks of one large frame share one time.
    @inline(__always)
    func append(_ body: UnsafeRawBufferPointer, offset start: Int, eventCount: Int, maxStringBytes: Int,
                eventIndexBase: Int = 0, arrivalMs: inout Int64?) throws(FrameDecodeError) -> Int {
        if count + eventCount > capacity { growRows(to: count + eventCount) }
        // The strings of these events cannot be longer than the bytes they are read from.
        let end = body.count
        if stringCount + (end - start) > stringCapacity { growStrings(to: stringCount + (end - start)) }
        guard let base = body.baseAddress else {
            if eventCount == 0 { return start }
            throw .truncatedEvent(eventIndex: eventIndexBase, eventCount: eventIndexBase + eventCount)
        }
        let rowsBefore = count, stringsBefore = stringCount
        var p = start
        var row = count
        var failure: FrameDecodeError? = nil
        var sawUnset = false
        events: for e in 0..<eventCount {
            guard end - p >= 8 else { failure = .truncatedEvent(eventIndex: e, eventCount: eventCount); break }
            let timestamp = Int64(bitPattern: UInt64(bigEndian: base.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
            timestamps[row] = timestamp
            if timestamp == StagingColumns.unsetTimestamp { sawUnset = true }
            p += 8
            for c in 0..<width {
                let slot: UInt64
                switch codes[c] {
                case .int:
                    guard end - p >= 4 else { failure = .truncatedEvent(eventIndex: e, eventCount: eventCount); break events }
                    slot = UInt64(bitPattern: Int64(Int32(bitPattern: UInt32(bigEndian: base.loadUnaligned(fromByteOffset: p, as: UInt32.self)))))
                    p += 4
                case .long:
                    guard end - p >= 8 else { failure = .truncatedEvent(eventIndex: e, eventCount: eventCount); break events }
                    slot = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: p, as: UInt64.self))
                    p += 8
                case .float:
                    guard end - p >= 4 else { failure = .truncatedEvent(eventIndex: e, eventCount: eventCount); break events }
                    slot = Double(Float(bitPattern: UInt32(bigEndian: base.loadUnaligned(fromByteOffset: p, as: UInt32.self)))).bitPattern
                    p += 4
                case .double:
                    guard end - p >= 8 else { failure = .truncatedEvent(eventIndex: e, eventCount: eventCount); break events }
                    slot = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: p, as: UInt64.self))
                    p += 8
                case .bool:
                    guard end - p >= 1 else { failure = .truncatedEvent(eventIndex: e, eventCount: eventCount); break events }
                    slot = base.load(fromByteOffset: p, as: UInt8.self) == 1 ? 1 : 0  // Siddhi: only 1 is true
                    p += 1
                case .string:
                    guard end - p >= 4 else { failure = .truncatedEvent(eventIndex: e, eventCount: eventCount); break events }
                    let length = Int(Int32(bitPattern: UInt32(bigEndian: base.loadUnaligned(fromByteOffset: p, as: UInt32.self))))
                    p += 4
                    guard length >= 0 else { failure = .badLength(.string, length); break events }
                    guard length <= maxStringBytes else {
                        failure = .stringTooLong(lengthBytes: length, maxStringBytes: maxStringBytes)
                        break events
                    }
                    guard end - p >= length else { failure = .truncatedEvent(eventIndex: e, eventCount: eventCount); break events }
                    if length == 0 {
                        slot = 0  // Siddhi's binary map reads a zero length as null
                        sawNullString = true
                    } else {
                        (strings + stringCount).copyMemory(from: base + p, byteCount: length)
                        slot = UInt64(stringCount) << 32 | UInt64(length)
                        stringCount += length
                        p += length
                    }
                }
                columns[c][row] = slot
            }
            row += 1
        }
        if var failure {
            count = rowsBefore
            stringCount = stringsBefore
            if case .truncatedEvent(let index, let total) = failure {
                failure = .truncatedEvent(eventIndex: eventIndexBase + index, eventCount: eventIndexBase + total)
            }
            throw failure
        }
        if sawUnset {
            // A second pass only over frames that have such events: the common path pays one compare.
            let now = arrivalMs ?? LogSink.nowMs()
            arrivalMs = now
            for r in rowsBefore..<row where timestamps[r] == StagingColumns.unsetTimestamp { timestamps[r] = now }
        }
        count = row
        return p
    }

    /// Drops rows and string bytes back to an earlier state (undoing a frame).
    func truncate(rows: Int, stringBytes: Int) {
        precondition(rows <= count && stringBytes <= stringCount)
        count = rows
        stringCount = stringBytes
    }

    /// Moves every row into `batch` (empty, of this schema) with one copy per column; staging is then empty.
    func move(into batch: inout EventBatch) {
        precondition(batch.isEmpty && batch.schema === schema)
        let n = count
        guard n > 0 else { return }
        batch.reset(count: n)
        batch.timestamps.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: timestamps, count: n) }
        for c in 0..<width {
            let column = columns[c]
            batch.columns[c].withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: column, count: n) }
        }
        if stringCount > 0 {
            batch.stringBytes.append(contentsOf: UnsafeRawBufferPointer(start: strings, count: stringCount))
        }
        if sawNullString {
            for c in stringColumns {
                let column = columns[c]
                var flags: [UInt8]? = nil
                for r in 0..<n where column[r] == 0 {
                    if flags == nil { flags = [UInt8](repeating: 0, count: n) }
                    flags![r] = 1
                }
                if let flags { batch.nulls[c] = flags }
            }
        }
        count = 0
        stringCount = 0
        sawNullString = false
    }
}
