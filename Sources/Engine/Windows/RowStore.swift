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
    /// Group id per row as the query computed it when the row arrived (-1: not known), so that an
    /// expiring row is not looked up again. Not part of snapshots (restored rows start unknown).
    private(set) var groupIds: UnsafeMutablePointer<Int32>
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
        groupIds = .allocate(capacity: 1)
        columns = (0..<schema.attributes.count).map { _ in .allocate(capacity: 1) }
        nulls = (0..<schema.attributes.count).map { _ in .allocate(capacity: 1) }
        stringColumns = schema.attributes.indices.filter { schema.attributes[$0].type.isTextual }
    }

    deinit {
        timestamps.deallocate()
        arrivals.deallocate()
        groupIds.deallocate()
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
            groupIds.deallocate(); groupIds = .allocate(capacity: newCapacity)
            for c in 0..<width {
                columns[c].deallocate(); columns[c] = .allocate(capacity: newCapacity)
                nulls[c].deallocate(); nulls[c] = .allocate(capacity: newCapacity)
            }
        } else {
            timestamps = reallocate(timestamps, newCapacity)
            arrivals = reallocate(arrivals, newCapacity)
            groupIds = reallocate(groupIds, newCapacity)
            for c in 0..<width {
                columns[c] = reallocate(columns[c], newCapacity)
                nulls[c] = reallocate(nulls[c], newCapacity)
            }
        }
        head = 0
        capacity = newCapacity
    }

    /// Appends rows `rows` of `batch` (in order) with their arrival clocks and, when known, their
    /// group ids (indexed like the batch's rows; -1 for unknown).
    func append(_ batch: EventBatch, rows: Range<Int>, groupIds rowGroups: UnsafePointer<Int32>? = nil,
                arrivals rowArrivals: (Int) -> Int64) {
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
                groupIds[at] = rowGroups?[r] ?? -1
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

    /// Column blocks: timestamps, arrivals, then per column its null bytes and slots (strings as
    /// slots into a compacted arena that follows). Copied from the rings as raw memory: a 1 M-event
    /// window takes a few memcpys, not millions of appends.
    func write(to w: inout SnapshotWriter) {
        let n = count
        w.reserve(n * (16 + 9 * width) + arenaLive + 64 * (width + 2))
        let ringCapacity = max(capacity, 1)
        w.ring(timestamps, head: head, count: n, capacity: ringCapacity)
        w.ring(arrivals, head: head, count: n, capacity: ringCapacity)
        for c in 0..<width {
            w.ring(nulls[c], head: head, count: n, capacity: ringCapacity)
            guard stringColumns.contains(c) else {
                w.ring(columns[c], head: head, count: n, capacity: ringCapacity)
                continue
            }
            // Strings: this column's live bytes packed in row order, slots repointed to them.
            let slots = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, n))
            defer { slots.deallocate() }
            var total = 0
            for i in 0..<n where nulls[c][at(i)] == 0 { total += Int(columns[c][at(i)] & 0xFFFF_FFFF) }
            var packed = [UInt8](repeating: 0, count: total)
            packed.withUnsafeMutableBytes { out in
                arena.withUnsafeBytes { bytes in
                    var end = 0
                    for i in 0..<n {
                        let a = at(i)
                        guard nulls[c][a] == 0 else { slots[i] = 0; continue }
                        let slot = columns[c][a]
                        let offset = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
                        slots[i] = UInt64(end) << 32 | UInt64(length)
                        if length > 0 { (out.baseAddress! + end).copyMemory(from: bytes.baseAddress! + offset, byteCount: length) }
                        end += length
                    }
                }
            }
            w.block(slots, count: n)
            w.bytes(packed)
        }
    }

    /// A store holding what `write` wrote (this store is not touched).
    func decoded(from r: inout SnapshotReader) throws(SnapshotError) -> RowStore {
        let fresh = RowStore(schema: schema)
        var probe = r
        let n = try probe.int()
        fresh.reserve(max(n, 1))
        try r.block(into: fresh.timestamps, expected: n)
        try r.block(into: fresh.arrivals, expected: n)
        for c in 0..<width {
            try r.block(into: fresh.nulls[c], expected: n)
            try r.block(into: fresh.columns[c], expected: n)
            if stringColumns.contains(c) {
                let bytes = try r.bytes()
                // Rebase this column's slots onto the fresh store's arena.
                let base = UInt64(fresh.arena.count) << 32
                for i in 0..<n where fresh.nulls[c][i] == 0 {
                    let slot = fresh.columns[c][i]
                    guard Int(slot >> 32) + Int(slot & 0xFFFF_FFFF) <= bytes.count else { throw SnapshotError("string outside its arena") }
                    fresh.columns[c][i] = slot &+ base
                }
                fresh.arena.append(contentsOf: bytes)
                fresh.arenaLive += bytes.count
            }
        }
        fresh.groupIds.update(repeating: -1, count: max(n, 1))
        fresh.count = n
        return fresh
    }
}
