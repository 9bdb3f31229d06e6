/// `output all|first|last every N events`, after the selector, as Siddhi's per-event rate limiters:
///
/// - `all`: rows are held and released together at every Nth row;
/// - `first`: the first row of each period of N passes (with group by, each group counts its own rows);
/// - `last`: at every Nth row the last row is released (with group by, the last row of each group,
///   groups in first-seen order).
///
/// Held rows are bounded by N (a limit the query states).
final class RateLimiter {
    let rate: OutputRate
    let schema: StreamSchema
    let grouped: Bool
    private var counter = 0
    private var groupCounters: [Int32: Int] = [:]
    private var held: [(Int64, [Value])] = []
    private var lastByGroup: [Int32: (Int64, [Value])] = [:]
    private var lastOrder: [Int32] = []

    init(rate: OutputRate, schema: StreamSchema, grouped: Bool) {
        self.rate = rate
        self.schema = schema
        self.grouped = grouped
    }

    /// The rows of `batch` (with their group ids) that pass, in order; nil when none.
    func apply(_ batch: EventBatch, groups: [Int32]) -> EventBatch? {
        var out = EventBatch(schema: schema)
        for r in 0..<batch.count {
            let g = grouped ? groups[r] : 0
            switch rate.mode {
            case .all:
                held.append((batch.timestamps[r], batch.row(r)))
                counter += 1
                if counter == rate.events {
                    for (t, v) in held { out.append(timestamp: t, values: v) }
                    held.removeAll(keepingCapacity: true)
                    counter = 0
                }
            case .first:
                let seen = grouped ? groupCounters[g, default: 0] : counter
                if seen == 0 { out.append(timestamp: batch.timestamps[r], values: batch.row(r)) }
                let next = seen + 1 == rate.events ? 0 : seen + 1
                if grouped { groupCounters[g] = next } else { counter = next }
            case .last:
                if lastByGroup[g] == nil { lastOrder.append(g) }
                lastByGroup[g] = (batch.timestamps[r], batch.row(r))
                counter += 1
                if counter == rate.events {
                    for g in lastOrder { if let (t, v) = lastByGroup[g] { out.append(timestamp: t, values: v) } }
                    lastByGroup.removeAll(keepingCapacity: true)
                    lastOrder.removeAll(keepingCapacity: true)
                    counter = 0
                }
            }
        }
        return out.isEmpty ? nil : out
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        w.int(counter)
        w.int(groupCounters.count)
        for (g, c) in groupCounters.sorted(by: { $0.key < $1.key }) {
            w.int64(Int64(g))
            w.int(c)
        }
        w.int(held.count)
        for row in held { w.row(row) }
        w.int(lastOrder.count)
        for g in lastOrder {
            w.int64(Int64(g))
            w.row(lastByGroup[g]!)
        }
    }

    /// A limiter holding the state `write` wrote (this one is not touched).
    func decoded(from r: inout SnapshotReader) throws(SnapshotError) -> RateLimiter {
        let fresh = RateLimiter(rate: rate, schema: schema, grouped: grouped)
        fresh.counter = try r.int()
        for _ in 0..<(try r.int()) {
            let g = Int32(truncatingIfNeeded: try r.int64())
            fresh.groupCounters[g] = try r.int()
        }
        for _ in 0..<(try r.int()) { fresh.held.append(try r.row()) }
        for _ in 0..<(try r.int()) {
            let g = Int32(truncatingIfNeeded: try r.int64())
            fresh.lastOrder.append(g)
            fresh.lastByGroup[g] = try r.row()
        }
        return fresh
    }
}
