/// Events a window holds, stored by column in power-of-two ring buffers of raw memory, so that
/// adding at the tail and expiring at the head touch only the events' own slots (no ARC, no
/// uniqueness checks in the loops).
///
/// String values are copied into the store's own byte arena (the batch they came in is transient);
/// the arena is compacted when more than half of it belongs to expired events, so memory stays
/// proportional to the events held.
final class RowStore {
    let schema: StreamSchema
    let width: Int
    private(set) var count = 0
    private(set) var head = 0
    private(set) var capacity = 0
    private(set) var timestamps: UnsafeMutablePointer<Int64>
    /// Arrival clock per row (what time windows expire by).
    private(set) var arrivals: UnsafeMutablePointer<Int64>
    private(set) var columns: [UnsafeMutablePointer<UInt64>]
    private(set) var nulls: [UnsafeMutablePointer<UInt8>]
    private(set) var arena: [UInt8] = []
    private var arenaLive = 0
    let stringColumns: [Int]

    init(schema: StreamSchema) {
        self.schema = schema
        width = schema.attributes.count
        timestamps = .allocate(capacity: 1)
        arrivals = .allocate(capacity: 1)
        columns = (0..<schema.attributes.count).map { _ in .allocate(capacity: 1) }
        nulls = (0..<schema.attributes.count).map { _ in .allocate(capacity: 1) }
        stringColumns = schema.attributes.indices.filter { schema.attributes[$0].type == .string }
    }

    deinit {
        timestamps.deallocate()
        arrivals.deallocate()
        for p in columns { p.deallocate() }
        for p in nulls { p.deallocate() }
    }

    var mask: Int { capacity - 1 }

    /// Ring index of the i-th oldest row.
    @inline(__always)
    func at(_ i: Int) -> Int { (head + i) & (capacity - 1) }

    private func reallocate<T>(_ p: UnsafeMutablePointer<T>, _ newCapacity: Int) -> UnsafeMutablePointer<T> {
        let fresh = UnsafeMutablePointer<T>.allocate(capacity: newCapacity)
        for i in 0..<count { (fresh + i).initialize(to: p[(head + i) & (capacity - 1)]) }
        p.deallocate()
        return fresh
    }

    /// Makes room for `extra` more rows.
    func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        var newCapacity = max(16, capacity)
        while newCapacity < count + extra { newCapacity *= 2 }
        if capacity == 0 {
            timestamps.deallocate(); timestamps = .allocate(capacity: newCapacity)
            arrivals.deallocate(); arrivals = .allocate(capacity: newCapacity)
            for c in 0..<width {
                columns[c].deallocate(); columns[c] = .allocate(capacity: newCapacity)
                nulls[c].deallocate(); nulls[c] = .allocate(capacity: newCapacity)
            }
        } else {
            timestamps = reallocate(timestamps, newCapacity)
            arrivals = reallocate(arrivals, newCapacity)
            for c in 0..<width {
                columns[c] = reallocate(columns[c], newCapacity)
                nulls[c] = reallocate(nulls[c], newCapacity)
            }
        }
        head = 0
        capacity = newCapacity
    }

    /// Appends rows `rows` of `batch` (in order) with their arrival clocks.
    func append(_ batch: EventBatch, rows: Range<Int>, arrivals rowArrivals: (Int) -> Int64) {
        guard !rows.isEmpty else { return }
        reserve(rows.count)
        let arenaBase = arena.count
        if !stringColumns.isEmpty { arena.append(contentsOf: batch.stringBytes) }
        let m = mask
        var at = (head + count) & m
        batch.timestamps.withUnsafeBufferPointer { ts in
            for r in rows {
                timestamps[at] = ts[r]
                arrivals[at] = rowArrivals(r)
                at = (at + 1) & m
            }
        }
        for c in 0..<width {
            let dst = columns[c], dn = nulls[c]
            let isString = stringColumns.contains(c)
            let columnNulls = batch.nulls[c]
            batch.columns[c].withUnsafeBufferPointer { src in
                var at = (head + count) & m
                for r in rows {
                    var v = src[r]
                    if isString { v = v &+ (UInt64(arenaBase) << 32) }
                    dst[at] = v
                    dn[at] = columnNulls.isEmpty ? 0 : columnNulls[r]
                    at = (at + 1) & m
                }
            }
        }
        if !stringColumns.isEmpty { arenaLive += batch.stringBytes.count }
        count += rows.count
    }

    /// Arrival time of the i-th oldest row.
    @inline(__always)
    func arrival(_ i: Int) -> Int64 { arrivals[at(i)] }

    var oldestArrivalMs: Int64? { count > 0 ? arrivals[head] : nil }

    /// Drops the `n` oldest rows.
    func removeOldest(_ n: Int) {
        precondition(n <= count)
        guard n > 0 else { return }
        if !stringColumns.isEmpty {
            for i in 0..<n {
                let a = at(i)
                for c in stringColumns where nulls[c][a] == 0 { arenaLive -= Int(columns[c][a] & 0xFFFF_FFFF) }
            }
        }
        head = (head + n) & mask
        count -= n
        if count == 0 {
            head = 0
            arena.removeAll(keepingCapacity: true)
            arenaLive = 0
        } else {
            compactIfSparse()
        }
    }

    func removeAll() { removeOldest(count) }

    private func compactIfSparse() {
        guard !stringColumns.isEmpty, arena.count > 4096, arenaLive * 2 < arena.count else { return }
        var fresh: [UInt8] = []
        fresh.reserveCapacity(max(arenaLive * 2, 64))
        for i in 0..<count {
            let a = at(i)
            for c in stringColumns where nulls[c][a] == 0 {
                let slot = columns[c][a]
                let offset = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
                columns[c][a] = UInt64(fresh.count) << 32 | UInt64(length)
                fresh.append(contentsOf: arena[offset..<offset + length])
            }
        }
        arena = fresh
        arenaLive = fresh.count
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        w.int(count)
        for i in 0..<count {
            let a = at(i)
            w.int64(timestamps[a])
            w.int64(arrivals[a])
            for c in 0..<width {
                w.uint8(nulls[c][a])
                if schema.attributes[c].type == .string && nulls[c][a] == 0 {
                    let slot = columns[c][a]
                    let offset = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
                    w.bytes(arena[offset..<offset + length])
                } else {
                    w.uint64(columns[c][a])
                }
            }
        }
    }

    /// A store holding what `write` wrote (this store is not touched).
    func decoded(from r: inout SnapshotReader) throws(SnapshotError) -> RowStore {
        let fresh = RowStore(schema: schema)
        let n = try r.int()
        var batch = EventBatch(schema: schema, capacity: 1)
        for _ in 0..<n {
            batch.removeAll()
            let timestamp = try r.int64()
            let arrival = try r.int64()
            let row = batch.appendRow(timestamp: timestamp)
            for c in 0..<width {
                let isNull = try r.uint8() != 0
                if schema.attributes[c].type == .string && !isNull {
                    let bytes = try r.bytes()
                    bytes.withUnsafeBytes { batch.setString(c, row, utf8: $0) }
                } else {
                    let v = try r.uint64()
                    if isNull { batch.setNull(c, row) } else { batch.columns[c][row] = v }
                }
            }
            fresh.append(batch, rows: 0..<1) { _ in arrival }
        }
        return fresh
    }
}
