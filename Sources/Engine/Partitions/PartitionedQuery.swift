/// A query inside `partition … begin … end`: one instance per partition key, each with its own
/// windows, aggregates and pattern state, created when its key first appears.
///
/// A batch arrives with each row's instance id. Stateless queries run once over the whole batch
/// (they hold no state, so instances would be identical) and carry the ids through. Stateful ones
/// split the batch by id: each key's rows, in arrival order, are one chunk for its instance, and
/// the outputs are concatenated key by key (keys in first-seen order) with their ids, so that
/// downstream inner streams reach the same key's instances.
final class PartitionedQuery {
    enum Instance {
        case stateful(StatefulQuery)
        case join(JoinQuery)
        case pattern(PatternQuery)
    }

    let plan: QueryPlan
    let keys: PartitionKeys
    private let stateless: QueryRuntime?
    /// The flat all-keys runner of `length` windows with sum/avg/count, when the query has that shape.
    private let keyed: KeyedLengthAggregate?
    private let make: () -> Instance
    /// By instance id; nil until the key's first event.
    private var instances: [Instance?] = []
    /// Ids with an instance, in creation order (timers and snapshots walk them in this order).
    private var created: [Int32] = []
    private var output: EventBatch
    /// The instance id of each row of the last returned batch.
    private(set) var outputKeys: [Int32] = []
    // Scratch for splitting a batch by key (reused; no allocation per batch once warm).
    private var sub: EventBatch
    private var rowCounts: [Int32] = []
    private var touched: [Int32] = []
    private var rowOrder: [Int32] = []
    private var rowStarts: [Int32] = []

    init(plan: QueryPlan, keys: PartitionKeys, tables: [String: Table]) {
        self.plan = plan
        self.keys = keys
        output = EventBatch(schema: plan.output)
        sub = EventBatch(schema: plan.input)
        keyed = KeyedLengthAggregate(plan: plan)
        if plan.join == nil && plan.pattern == nil && !plan.isStateful {
            stateless = QueryRuntime(plan: plan)
            make = { preconditionFailure("stateless partitioned queries have no instances") }
        } else {
            stateless = nil
            make = {
                if plan.join != nil { return .join(JoinQuery(plan: plan, tables: tables)) }
                if plan.pattern != nil { return .pattern(PatternQuery(plan: plan)) }
                return .stateful(StatefulQuery(plan: plan))
            }
        }
    }

    /// Instances created so far (the keyed runner has none: it holds every key in flat arrays).
    var instanceCount: Int { created.count }

    /// Whether the flat keyed runner serves this query (tests compare it with the instances).
    var isKeyed: Bool { keyed != nil }

    private func instance(_ id: Int32) -> Instance {
        let i = Int(id)
        if i >= instances.count { instances.append(contentsOf: repeatElement(nil, count: i + 1 - instances.count)) }
        if let existing = instances[i] { return existing }
        let fresh = make()
        instances[i] = fresh
        created.append(id)
        return fresh
    }

    private static func run(_ instance: Instance, side: Int, stream: String, _ batch: EventBatch, clockMs: Int64,
                            playback: Bool) -> EventBatch? {
        switch instance {
        case .stateful(let q): return q.process(batch, clockMs: clockMs, playback: playback)
        case .join(let q): return q.process(side: side, batch, clockMs: clockMs, playback: playback)
        case .pattern(let q): return q.process(stream: stream, batch, clockMs: clockMs, playback: playback)
        }
    }

    /// Processes `batch` (rows tagged with instance ids; -1: no instance, skipped) arriving on
    /// `stream` (join side `side`). Returns the output, valid until the next call, with `outputKeys`.
    func process(side: Int, stream: String, _ batch: EventBatch, keys rowKeys: [Int32], clockMs: Int64,
                 playback: Bool) -> EventBatch? {
        let n = batch.count
        precondition(rowKeys.count == n, "one instance id per row")
        if let stateless {
            // Rows without an instance (over the key limit) are dropped before the query sees them.
            if rowKeys.contains(-1) {
                let kept = (0..<n).filter { rowKeys[$0] >= 0 }.map { Int32($0) }
                sub.removeAll()
                sub.appendRows(from: batch, rows: kept)
                guard let out = stateless.process(sub, clockMs: playback ? nil : clockMs) else { return nil }
                stateless.gatherKeys(kept.map { rowKeys[Int($0)] }, into: &outputKeys)
                return out
            }
            guard let out = stateless.process(batch, clockMs: playback ? nil : clockMs) else { return nil }
            stateless.gatherKeys(rowKeys, into: &outputKeys)
            return out
        }
        if let keyed {
            let out = keyed.process(batch, keys: rowKeys, keyCount: keys.count)
            outputKeys = keyed.outputKeys
            return out
        }
        output.removeAll()
        outputKeys.removeAll(keepingCapacity: true)
        // One key only (common with runs of one key): no split, no copy of the input.
        if let first = rowKeys.first, rowKeys.allSatisfy({ $0 == first }) {
            guard first >= 0 else { return nil }
            let out = PartitionedQuery.run(instance(first), side: side, stream: stream, batch, clockMs: clockMs, playback: playback)
            guard let out, !out.isEmpty else { return nil }
            outputKeys.append(contentsOf: repeatElement(first, count: out.count))
            return out
        }
        // Counting sort of the rows by key, keys in first-seen order, rows in arrival order.
        let idCount = keys.count
        if rowCounts.count < idCount { rowCounts.append(contentsOf: repeatElement(0, count: idCount - rowCounts.count)) }
        touched.removeAll(keepingCapacity: true)
        for k in rowKeys where k >= 0 {
            if rowCounts[Int(k)] == 0 { touched.append(k) }
            rowCounts[Int(k)] += 1
        }
        rowStarts.removeAll(keepingCapacity: true)
        var start: Int32 = 0
        for k in touched {
            rowStarts.append(start)
            start += rowCounts[Int(k)]
            rowCounts[Int(k)] = rowStarts.last!  // now the fill cursor
        }
        rowOrder.removeAll(keepingCapacity: true)
        rowOrder.append(contentsOf: repeatElement(0, count: Int(start)))
        for (r, k) in rowKeys.enumerated() where k >= 0 {
            rowOrder[Int(rowCounts[Int(k)])] = Int32(r)
            rowCounts[Int(k)] += 1
        }
        for (t, k) in touched.enumerated() {
            rowCounts[Int(k)] = 0
            let from = Int(rowStarts[t])
            let to = t + 1 < touched.count ? Int(rowStarts[t + 1]) : Int(start)
            sub.removeAll()
            rowOrder.withUnsafeBufferPointer { sub.appendRows(from: batch, rows: UnsafeBufferPointer(rebasing: $0[from..<to])) }
            if let out = PartitionedQuery.run(instance(k), side: side, stream: stream, sub, clockMs: clockMs, playback: playback),
               !out.isEmpty {
                append(out, key: k)
            }
        }
        return output.isEmpty ? nil : output
    }

    private func append(_ out: EventBatch, key: Int32) {
        output.appendAll(from: out)
        outputKeys.append(contentsOf: repeatElement(key, count: out.count))
    }

    /// The earliest timer of any instance.
    var nextTimerMs: Int64? {
        var earliest: Int64? = nil
        for id in created {
            let due: Int64?
            switch instances[Int(id)]! {
            case .stateful(let q): due = q.nextTimerMs
            case .join(let q): due = q.nextTimerMs
            case .pattern(let q): due = q.nextTimerMs
            }
            if let due, earliest.map({ due < $0 }) ?? true { earliest = due }
        }
        return earliest
    }

    /// Ticks every instance whose timer is due (one chunk each); outputs concatenated by key.
    func advanceTime(to clockMs: Int64) -> EventBatch? {
        output.removeAll()
        outputKeys.removeAll(keepingCapacity: true)
        for id in created {
            let out: EventBatch?
            switch instances[Int(id)]! {
            case .stateful(let q): out = (q.nextTimerMs.map { $0 <= clockMs } ?? false) ? q.advanceTime(to: clockMs) : nil
            case .join(let q): out = (q.nextTimerMs.map { $0 <= clockMs } ?? false) ? q.advanceTime(to: clockMs) : nil
            case .pattern(let q): out = (q.nextTimerMs.map { $0 <= clockMs } ?? false) ? q.advanceTime(to: clockMs) : nil
            }
            if let out, !out.isEmpty { append(out, key: id) }
        }
        return output.isEmpty ? nil : output
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        if let keyed {
            keyed.write(to: &w)
            return
        }
        w.int(created.count)
        for id in created {
            w.int(Int(id))
            switch instances[Int(id)]! {
            case .stateful(let q): q.write(to: &w)
            case .join(let q): q.write(to: &w)
            case .pattern(let q): q.write(to: &w)
            }
        }
    }

    /// Decoded instances, applied by `apply` once the whole snapshot decoded.
    struct State {
        var instances: [(id: Int32, instance: Instance)]
        var keyed: KeyedLengthAggregate.State? = nil
    }

    func decode(from r: inout SnapshotReader) throws(SnapshotError) -> State {
        if let keyed { return State(instances: [], keyed: try keyed.decode(from: &r)) }
        guard stateless == nil else {
            guard try r.int() == 0 else { throw SnapshotError("stateless partitioned query with instances") }
            return State(instances: [])
        }
        let count = try r.int()
        guard count >= 0 && count <= PartitionKeys.keysMax * 2 else { throw SnapshotError("partition instance count \(count) out of range") }
        var decoded: [(id: Int32, instance: Instance)] = []
        for _ in 0..<count {
            let id = try r.int()
            guard id >= 0 && id < Int(Int32.max) else { throw SnapshotError("partition instance id \(id) out of range") }
            let fresh = make()
            switch fresh {
            case .stateful(let q): q.apply(try q.decode(from: &r))
            case .join(let q): q.apply(try q.decode(from: &r))
            case .pattern(let q): q.apply(try q.decode(from: &r))
            }
            decoded.append((Int32(id), fresh))
        }
        return State(instances: decoded)
    }

    func apply(_ state: State) {
        if let keyed, let keyedState = state.keyed {
            keyed.apply(keyedState)
            return
        }
        instances = []
        created = []
        for (id, instance) in state.instances {
            let i = Int(id)
            if i >= instances.count { instances.append(contentsOf: repeatElement(nil, count: i + 1 - instances.count)) }
            instances[i] = instance
            created.append(id)
        }
    }
}
