/// The fused path of the most common stateful query: a sliding `length` or `time` window with
/// `count`, `sum` and `avg` over attributes, `group by` (or none), selecting attributes and
/// aggregates, emitting current events, with no `having`, `order by`, `limit` or output rate.
///
/// The general path plans a chunk (expired and current rows), copies every attribute of every
/// chunk row, then runs each aggregate over the chunk. Here the chunk is never built: the rows each
/// arrival pushes out of the window are a contiguous run of the window's queue, found first; then
/// each aggregate takes one loop over the arrivals that subtracts what left and adds what came,
/// reading argument values where they lie (the window's columns or the batch's). State is the
/// general path's own (window, group table, aggregators), so snapshots are the same and timer
/// expiries still run the general path. The output is the same row for row; a test runs both.
struct SlidingShape {
    let functions: [RunningAggregate]

    init?(plan: QueryPlan, tracksWindow: Bool) {
        switch plan.window {
        case .length(let n)? where n >= 1: break
        case .time(let t)? where t >= 0: break
        default: return nil
        }
        guard plan.join == nil, plan.pattern == nil, plan.postFilter == nil, plan.having == nil, plan.orderBy.isEmpty,
              plan.limit == nil, plan.offset == nil, plan.outputRate == nil, plan.outputEventType == .current, !tracksWindow,
              let functions = RunningAggregate.of(plan) else { return nil }
        self.functions = functions
    }
}

/// Per-batch scratch of the sliding path, kept between batches so that a batch allocates nothing.
struct SlidingScratch {
    /// `expiredUpTo[r]` ..< `expiredUpTo[r + 1]`: the window queue positions row r pushes out
    /// (positions below the window's count are window rows, the rest this batch's rows).
    var expiredUpTo: [Int] = []
    /// Per group, the last row of this batch that belongs to it (−1: none).
    var lastRow: [Int32] = []
    /// Groups with a row in this batch, first seen first.
    var touched: [Int32] = []
    /// Per aggregate, per touched group (by its output position): the value at the group's last row.
    var captured: [[(UInt64, Bool)]] = []
    var outputPosition: [Int32] = []
}

extension StatefulQuery {
    /// One input batch through the sliding shape; returns the output (valid until the next call).
    func runSliding(_ batch: EventBatch, _ shape: SlidingShape, clockMs: Int64, playback: Bool) -> EventBatch? {
        let n = batch.count
        guard n > 0 else { return nil }
        // Group id per arrival (the general path's lookup over the batch as a chunk of current rows).
        chunk = batch
        defer { chunk = idleChunk }
        planned.fillCurrent(n)
        useHints = false
        groupIds()
        let groupCount = groups.count
        let q = store.count
        var scratch = slidingScratch
        slidingScratch = SlidingScratch()  // hold the buffers uniquely while filling them
        defer { slidingScratch = scratch }

        // Pass 1: which queue positions each arrival pushes out, exactly as the general path plans them.
        scratch.expiredUpTo.removeAll(keepingCapacity: true)
        scratch.expiredUpTo.append(0)
        var head = 0
        switch plan.window {
        case .length(let size):
            for r in 0..<n {
                if q + r - head == size { head += 1 }
                scratch.expiredUpTo.append(head)
            }
        case .time(let t):
            let store = self.store
            let arrivals = store.arrivals, mask = store.capacity - 1, storeHead = store.head
            batch.timestamps.withUnsafeBufferPointer { ts in
                for r in 0..<n {
                    let now = playback ? ts[r] : clockMs
                    while head < q + r {
                        let arrived = head < q ? arrivals[(storeHead + head) & mask] : (playback ? ts[head - q] : clockMs)
                        if arrived + t > now { break }
                        head += 1
                    }
                    scratch.expiredUpTo.append(head)
                }
            }
        default:
            preconditionFailure("the sliding path runs length and time windows")
        }

        // Each group's last row, and the groups in first-seen order (Siddhi's collapse of a chunk).
        if scratch.lastRow.count < groupCount {
            scratch.lastRow.append(contentsOf: repeatElement(-1, count: groupCount - scratch.lastRow.count))
            scratch.outputPosition.append(contentsOf: repeatElement(0, count: groupCount - scratch.outputPosition.count))
        }
        scratch.touched.removeAll(keepingCapacity: true)
        groupOf.withUnsafeBufferPointer { gr in
            for r in 0..<n {
                let g = Int(gr[r])
                if scratch.lastRow[g] < 0 {
                    scratch.outputPosition[g] = Int32(scratch.touched.count)
                    scratch.touched.append(Int32(g))
                }
                scratch.lastRow[g] = Int32(r)
            }
        }
        let m = scratch.touched.count
        if scratch.captured.count != shape.functions.count { scratch.captured = Array(repeating: [], count: shape.functions.count) }

        // Pass 2: per aggregate, one loop over the arrivals.
        let store = self.store
        let storeHead = store.head, mask = store.capacity - 1
        let storeGroups = store.groupIds
        // Without group by every row is group 0 and the window keeps no ids.
        let carries = carriesGroups
        for (a, function) in shape.functions.enumerated() {
            let aggregator = aggregators[a]
            let sums = aggregator.runningSums(groupCount: groupCount)
            scratch.captured[a].removeAll(keepingCapacity: true)
            scratch.captured[a].append(contentsOf: repeatElement((0, true), count: m))
            let column = function.column, integer = function.integer
            let storeValues = column >= 0 ? store.columns[column] : nil
            let storeNulls = column >= 0 ? store.nulls[column] : nil
            let batchValues = column >= 0 ? batch.columns[column] : []
            let batchNulls = column >= 0 ? batch.nulls[column] : []
            scratch.expiredUpTo.withUnsafeBufferPointer { upTo in
            scratch.lastRow.withUnsafeBufferPointer { lastRow in
            scratch.outputPosition.withUnsafeBufferPointer { position in
            scratch.captured[a].withUnsafeMutableBufferPointer { captured in
            groupOf.withUnsafeBufferPointer { gr in
            batchValues.withUnsafeBufferPointer { values in
            batchNulls.withUnsafeBufferPointer { nulls in
                let longs = sums.longs, doubles = sums.doubles, counts = sums.counts
                let hasNulls = !nulls.isEmpty
                for r in 0..<n {
                    var v = upTo[r]
                    let end = upTo[r + 1]
                    while v < end {
                        // A row leaves: from the window's queue or (a window shorter than the batch) this batch.
                        let g: Int, bits: UInt64, isNull: Bool
                        if v < q {
                            let slot = (storeHead + v) & mask
                            g = carries ? Int(storeGroups[slot]) : 0
                            assert(g >= 0, "a window row without its group id (resolveWindowGroups runs at restore)")
                            bits = column >= 0 ? storeValues![slot] : 0
                            isNull = column >= 0 && storeNulls![slot] != 0
                        } else {
                            g = Int(gr[v - q])
                            bits = column >= 0 ? values[v - q] : 0
                            isNull = hasNulls && nulls[v - q] != 0
                        }
                        if column < 0 {
                            longs[g] &-= 1
                        } else if !isNull {
                            if integer { longs[g] &-= Int64(bitPattern: bits) } else { doubles[g] -= Double(bitPattern: bits) }
                            counts[g] &-= 1
                        }
                        v += 1
                    }
                    let g = Int(gr[r])
                    if column < 0 {
                        longs[g] &+= 1
                    } else if !(hasNulls && nulls[r] != 0) {
                        let bits = values[r]
                        if integer { longs[g] &+= Int64(bitPattern: bits) } else { doubles[g] += Double(bitPattern: bits) }
                        counts[g] &+= 1
                    }
                    if lastRow[g] == Int32(truncatingIfNeeded: r) { captured[Int(position[g])] = aggregator.value(g) }
                }
            }}}}}}}
        }

        // The window drops what left and keeps what arrived and is still held, with group ids.
        let removed = min(head, q)
        store.removeOldest(removed)
        let firstKept = max(head, q) - q
        if firstKept < n {
            let ts = batch.timestamps
            groupOf.withUnsafeBufferPointer { ids in
                store.append(batch, rows: firstKept..<n, groupIds: carries ? ids.baseAddress : nil) { r in playback ? ts[r] : clockMs }
            }
        }

        // One output row per touched group: its last row's attributes and its captured aggregates.
        output.reset(count: m)
        var stringsCopied = false
        for (k, g) in scratch.touched.enumerated() {
            let r = Int(scratch.lastRow[Int(g)])
            output.timestamps[k] = batch.timestamps[r]
        }
        for (o, projection) in plan.projections.enumerated() {
            switch projection {
            case .aggregate(let a, _):
                for k in 0..<m {
                    let (bits, isNull) = scratch.captured[a][k]
                    if isNull { output.setNull(o, k) } else { output.columns[o][k] = bits }
                }
            case .column(let c, let type):
                if type.isTextual && !stringsCopied {
                    output.stringBytes.append(contentsOf: batch.stringBytes)  // slots stay valid as they are
                    stringsCopied = true
                }
                for (k, g) in scratch.touched.enumerated() {
                    let r = Int(scratch.lastRow[Int(g)])
                    if batch.isNull(c, r) { output.setNull(o, k) } else { output.columns[o][k] = batch.columns[c][r] }
                }
            default:
                preconditionFailure("the sliding shape selects attributes and aggregates only")
            }
        }
        for g in scratch.touched { scratch.lastRow[Int(g)] = -1 }
        return output
    }

    /// After a restore: window rows carry no group id (snapshots leave them out); look them up once
    /// so that rows leaving the window need no lookup.
    func resolveWindowGroups() {
        guard carriesGroups, store.count > 0 else { return }
        let pieceRows = EventBatch.capacityMax
        var start = 0
        let empty = EventBatch(schema: plan.input)
        while start < store.count {
            let end = min(store.count, start + pieceRows)
            planned.count = 0
            queueAtStart = store.count
            for v in start..<end { planned.add(v, .current, -1) }
            fillChunk(empty)
            useHints = false
            groupIds()
            for v in start..<end { store.groupIds[store.at(v)] = groupOf[v - start] }
            start = end
        }
        chunk = idleChunk
    }
}
