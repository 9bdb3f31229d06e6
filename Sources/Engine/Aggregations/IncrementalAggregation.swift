/// One `define aggregation` at run time: every event of its input updates, for each duration of
/// `every …`, the partial aggregates of its (bucket, group) entry. Reading (`within … per …`)
/// turns the retained entries of one duration into rows of the aggregation's output schema.
///
/// Each duration is updated directly (not rolled up from the next finer one when a bucket
/// closes), so a bucket holds exactly the events whose time falls in it: in-progress buckets are
/// complete as of the last event, and events that arrive out of order land in their own bucket.
///
/// Partial aggregates per entry, in 8-byte slots: `count` [n]; `sum` [sum, values];
/// `avg` [sum, values, events]; `min`/`max` [best, values]; `distinctCount` [set index].
/// Sums of int/long are Int64 (wrapping, as Java's long), of float/double Double.
final class IncrementalAggregation {
    /// Bucket starts retained per duration (65 536: 18 h of seconds, 45 days of minutes, 7 years of hours).
    static let bucketsPerDurationMax = 1 << 16
    /// (bucket, group) entries retained per duration.
    static let entriesPerDurationMax = 1 << 22

    let spec: AggregationSpec
    private let filter: VectorProgram?
    private var filtered: EventBatch
    private var groups: GroupTable?
    /// `distinctCount` string values, interned to words.
    private var values = StringInterner()
    private var stores: [AggregationBuckets]
    /// Slot offset of each aggregate within an entry.
    private let offsets: [Int]
    /// Group-by columns with their types.
    private let groupColumns: [(column: Int, type: AttributeType)]
    /// Events without a usable time (a null or unparseable `aggregate by` value): not aggregated.
    private(set) var droppedEvents = 0

    // Per-batch scratch, reused.
    private var rows: [Int32] = []
    private var times: [Int64] = []
    private var gids: [Int32] = []
    private var entries: [Int32] = []
    private var parts: [UInt64] = []
    private var distinctKeys: [UInt64] = []
    private var distinctValid: [Bool] = []

    init(spec: AggregationSpec, bucketsMax: Int = IncrementalAggregation.bucketsPerDurationMax,
         entriesMax: Int = IncrementalAggregation.entriesPerDurationMax) {
        self.spec = spec
        filter = spec.filter.map(VectorProgram.init)
        filtered = EventBatch(schema: spec.input)
        groups = spec.groupBy.isEmpty ? nil : GroupTable(width: spec.groupBy.count + 1)
        var offsets: [Int] = []
        var width = 0
        var setSlots: [Int] = []
        for aggregate in spec.aggregates {
            offsets.append(width)
            switch aggregate.kind {
            case .count: width += 1
            case .sum, .min, .max: width += 2
            case .avg: width += 3
            case .distinctCount:
                setSlots.append(width)
                width += 1
            }
        }
        self.offsets = offsets
        stores = spec.durations.map { _ in
            AggregationBuckets(width: max(width, 1), setSlots: setSlots, bucketsMax: bucketsMax, entriesMax: entriesMax)
        }
        parts = Array(repeating: 0, count: spec.groupBy.count + 1)
        groupColumns = spec.groupBy.map { ($0, spec.input.attributes[$0].type) }
    }

    /// Buckets evicted and rows dropped by the limits, over all durations.
    var evictedBuckets: Int { stores.reduce(0) { $0 + $1.evictedBuckets } }
    var droppedRows: Int { stores.reduce(0) { $0 + $1.droppedRows } }

    /// Aggregates one batch of the input stream.
    func add(_ input: EventBatch) {
        var batch = input
        if let filter {
            let keep = filter.evaluateCondition(input)
            var selected: [Int32] = []
            for i in 0..<input.count where keep[i] & 1 == 1 { selected.append(Int32(i)) }
            guard !selected.isEmpty else { return }
            if selected.count < input.count {
                selected.withUnsafeBufferPointer { filtered.gather($0, from: input) }
                batch = filtered
            }
        }
        let n = batch.count
        guard n > 0 else { return }
        rows.removeAll(keepingCapacity: true)
        times.removeAll(keepingCapacity: true)
        if let c = spec.timestampColumn {
            let isString = spec.input.attributes[c].type.isTextual
            for r in 0..<n {
                if batch.isNull(c, r) {
                    droppedEvents += 1
                    continue
                }
                if isString {
                    guard let t = try? AggregationDate.timestampMs(batch.string(c, r)) else {
                        droppedEvents += 1
                        continue
                    }
                    times.append(t)
                } else {
                    times.append(batch.int64(c, r))
                }
                rows.append(Int32(r))
            }
        } else {
            for r in 0..<n {
                rows.append(Int32(r))
                times.append(batch.timestamps[r])
            }
        }
        let m = rows.count
        guard m > 0 else { return }
        assignGroups(batch, m)
        if entries.count < m { entries = Array(repeating: 0, count: max(m, entries.count * 2)) }
        for (d, store) in stores.enumerated() {
            let duration = spec.durations[d]
            // A bucket start costs a 64-bit division (a calendar step for months and years): reuse
            // the last bucket while times stay in it, as they mostly do.
            var cachedStart = Int64.max, cachedEnd = Int64.min
            for i in 0..<m {
                let t = times[i]
                if t < cachedStart || t >= cachedEnd {
                    cachedStart = duration.bucketStart(t)
                    cachedEnd = duration.nextStart(cachedStart)
                }
                entries[i] = store.entry(start: cachedStart, group: gids[i])
            }
            for (k, aggregate) in spec.aggregates.enumerated() {
                update(store, aggregate, offset: offsets[k], batch, m)
            }
        }
    }

    /// Group ids of the kept rows: one key word per group-by column (strings interned, -0.0 as
    /// 0.0, null as 0) and a last word with a bit per null column, so null never equals a value.
    private func assignGroups(_ batch: EventBatch, _ m: Int) {
        if gids.count < m { gids = Array(repeating: 0, count: max(m, gids.count * 2)) }
        guard var table = groups else {
            for i in 0..<m { gids[i] = 0 }
            return
        }
        groups = nil  // `table` is then the only owner: interning does not copy its storage
        defer { groups = table }
        let width = groupColumns.count
        let columns = groupColumns
        parts.withUnsafeMutableBufferPointer { parts in
            let key = UnsafeBufferPointer(parts)
            for i in 0..<m {
                let r = Int(rows[i])
                var mask: UInt64 = 0
                for k in 0..<width {
                    let (c, type) = columns[k]
                    if batch.isNull(c, r) {
                        parts[k] = 0
                        mask |= 1 << UInt64(k)
                        continue
                    }
                    switch type {
                    case .string, .object: parts[k] = UInt64(batch.withStringBytes(c, r) { table.interner.id($0) })
                    case .float, .double:
                        let v = batch.columns[c][r]
                        parts[k] = Double(bitPattern: v) == 0 ? 0 : v
                    default: parts[k] = batch.columns[c][r]
                    }
                }
                parts[width] = mask
                gids[i] = table.id(key)
            }
        }
    }

    /// One aggregate over the kept rows of one duration: one loop, the kind switched once.
    private func update(_ store: AggregationBuckets, _ aggregate: IncrementalAggregateSpec, offset o: Int,
                        _ batch: EventBatch, _ m: Int) {
        let w = store.width
        if aggregate.kind == .distinctCount {
            distinctWords(aggregate, batch, m)
            for i in 0..<m where entries[i] >= 0 && distinctValid[i] {
                store.insert(distinctKeys[i], intoSetOf: entries[i], slot: o)
            }
            return
        }
        entries.withUnsafeBufferPointer { entries in
            rows.withUnsafeBufferPointer { rows in
                store.withSlots { slots in
                    guard let c = aggregate.column, aggregate.kind != .count else {
                        for i in 0..<m where entries[i] >= 0 { slots[Int(entries[i]) * w + o] &+= 1 }
                        return
                    }
                    let integer = aggregate.argumentType == .int || aggregate.argumentType == .long
                    let nulls = batch.nulls[c]
                    batch.columns[c].withUnsafeBufferPointer { column in
                        switch aggregate.kind {
                        case .sum, .avg:
                            let isAvg = aggregate.kind == .avg
                            for i in 0..<m where entries[i] >= 0 {
                                let b = Int(entries[i]) * w + o
                                if isAvg { slots[b + 2] &+= 1 }
                                let r = Int(rows[i])
                                if !nulls.isEmpty && nulls[r] != 0 { continue }
                                if integer {
                                    slots[b] = slots[b] &+ column[r]
                                } else {
                                    slots[b] = (Double(bitPattern: slots[b]) + Double(bitPattern: column[r])).bitPattern
                                }
                                slots[b + 1] &+= 1
                            }
                        case .min, .max:
                            let wantsMax = aggregate.kind == .max
                            for i in 0..<m where entries[i] >= 0 {
                                let r = Int(rows[i])
                                if !nulls.isEmpty && nulls[r] != 0 { continue }
                                let b = Int(entries[i]) * w + o
                                let v = column[r]
                                if slots[b + 1] == 0 {
                                    slots[b] = v
                                    slots[b + 1] = 1
                                    continue
                                }
                                let better: Bool
                                if integer {
                                    let x = Int64(bitPattern: v), y = Int64(bitPattern: slots[b])
                                    better = wantsMax ? x > y : x < y
                                } else {
                                    let x = Double(bitPattern: v), y = Double(bitPattern: slots[b])
                                    better = wantsMax ? x > y : x < y
                                }
                                if better { slots[b] = v }
                                slots[b + 1] &+= 1
                            }
                        case .count, .distinctCount:
                            break
                        }
                    }
                }
            }
        }
    }

    /// The `distinctCount` value words of the kept rows (strings interned, -0.0 as 0.0); nulls are not counted.
    private func distinctWords(_ aggregate: IncrementalAggregateSpec, _ batch: EventBatch, _ m: Int) {
        if distinctKeys.count < m {
            distinctKeys = Array(repeating: 0, count: m)
            distinctValid = Array(repeating: false, count: m)
        }
        let c = aggregate.column!
        let type = spec.input.attributes[c].type
        for i in 0..<m {
            let r = Int(rows[i])
            distinctValid[i] = !batch.isNull(c, r)
            guard distinctValid[i] else { continue }
            switch type {
            case .string, .object: distinctKeys[i] = UInt64(batch.withStringBytes(c, r) { values.id($0) })
            case .float, .double:
                let v = batch.columns[c][r]
                distinctKeys[i] = Double(bitPattern: v) == 0 ? 0 : v
            default: distinctKeys[i] = batch.columns[c][r]
            }
        }
    }

    // MARK: Reading

    /// Appends to `out` (the output schema) one row per retained entry of duration number
    /// `durationIndex` whose bucket starts in [fromMs, toMs): buckets ascending, groups in
    /// first-seen order within a bucket. Row timestamps are the bucket starts.
    func appendRows(durationIndex: Int, from fromMs: Int64, to toMs: Int64, into out: inout EventBatch) {
        let store = stores[durationIndex]
        let w = store.width
        let keyWidth = spec.groupBy.count + 1
        let keys = groups?.keys ?? []
        store.forEachBucket(from: fromMs, to: toMs) { start, entries in
            for e in entries {
                let row = out.appendRow(timestamp: start)
                out.setInt64(0, row, start)
                let g = Int(store.group(of: e))
                let base = Int(e) * w
                for (j, item) in spec.items.enumerated() {
                    let column = j + 1
                    switch item {
                    case .groupKey(let k):
                        let part = keys[g * keyWidth + k]
                        if keys[g * keyWidth + keyWidth - 1] & (1 << UInt64(k)) != 0 {
                            out.setNull(column, row)
                        } else if spec.input.attributes[spec.groupBy[k]].type.isTextual {
                            groups!.interner.bytes(Int32(truncatingIfNeeded: part)).withUnsafeBytes { out.setString(column, row, utf8: $0) }
                        } else {
                            out.columns[column][row] = part
                        }
                    case .aggregate(let k):
                        let aggregate = spec.aggregates[k]
                        let b = base + offsets[k]
                        let integer = aggregate.argumentType == .int || aggregate.argumentType == .long
                        let slots = store.slots
                        switch aggregate.kind {
                        case .count:
                            out.setInt64(column, row, Int64(bitPattern: slots[b]))
                        case .distinctCount:
                            out.setInt64(column, row, Int64(store.setCount(e, slot: offsets[k])))
                        case .sum, .min, .max:
                            if slots[b + 1] == 0 { out.setNull(column, row) } else { out.columns[column][row] = slots[b] }
                        case .avg:
                            if slots[b + 1] == 0 {
                                out.setNull(column, row)
                            } else if integer {
                                // As Siddhi 5.1.33: avg is its long sum divided by its long count (truncating).
                                let q = Int64(bitPattern: slots[b]) / Int64(bitPattern: slots[b + 2])
                                out.setDouble(column, row, Double(q))
                            } else {
                                out.setDouble(column, row, Double(bitPattern: slots[b]) / Double(Int64(bitPattern: slots[b + 2])))
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        w.int(droppedEvents)
        w.bool(groups != nil)
        groups?.write(to: &w)
        values.write(to: &w)
        w.int(stores.count)
        for store in stores { store.write(to: &w) }
    }

    struct State {
        var droppedEvents: Int
        var groups: GroupTable?
        var values: StringInterner
        var stores: [AggregationBuckets]
    }

    func decode(from r: inout SnapshotReader) throws(SnapshotError) -> State {
        let dropped = try r.int()
        guard try r.bool() == (groups != nil) else { throw SnapshotError("aggregation '\(spec.name)' group by differs") }
        var freshGroups: GroupTable? = nil
        if groups != nil {
            var table = GroupTable(width: spec.groupBy.count + 1)
            try table.read(from: &r)
            freshGroups = table
        }
        var freshValues = StringInterner()
        try freshValues.read(from: &r)
        guard try r.int() == stores.count else { throw SnapshotError("aggregation '\(spec.name)' durations differ") }
        let groupCount = freshGroups?.count ?? 1
        var freshStores: [AggregationBuckets] = []
        for store in stores { freshStores.append(try store.decoded(from: &r, groupCount: groupCount)) }
        return State(droppedEvents: dropped, groups: freshGroups, values: freshValues, stores: freshStores)
    }

    func apply(_ state: State) {
        droppedEvents = state.droppedEvents
        groups = state.groups
        values = state.values
        stores = state.stores
    }
}
