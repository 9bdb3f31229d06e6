import Foundation

/// The rows one side of a join holds: a sliding window over that side's arrivals (a stream without
/// a window holds nothing: its arrivals join straight from their batch). Rows live in an `EventBatch`; `head` is the
/// first row still held. Rows before `head` stay addressable until `compact()`, so that a chunk
/// can pair expired rows too.
final class SideWindow {
    let window: WindowSpec?
    private(set) var rows: EventBatch
    private var arrivals: [Int64] = []
    private(set) var head = 0

    init(schema: StreamSchema, window: WindowSpec?) {
        self.window = window
        rows = EventBatch(schema: schema)
    }

    var live: Range<Int> { head..<rows.count }

    /// When the oldest row of a time window expires (nil: no time window, or empty).
    var nextExpiryMs: Int64? {
        guard head < rows.count else { return nil }
        switch window {
        case .time(let t), .timeLength(let t, _): return arrivals[head] + t
        default: return nil
        }
    }

    /// Drops the oldest held row and returns it.
    func popOldest() -> Int32 {
        precondition(head < rows.count)
        head += 1
        return Int32(head - 1)
    }

    /// Adds row `r` of `batch`, arrived at `nowMs`; returns its row here and the rows it pushes
    /// out (length windows; externalTime by the event's own time).
    func add(_ batch: EventBatch, _ r: Int, nowMs: Int64) -> (row: Int32, expired: [Int32]) {
        var arrival = nowMs
        var expired: [Int32] = []
        if case .externalTime(let column, let t) = window {
            arrival = batch.int64(column, r)
            while head < rows.count, arrivals[head] + t <= arrival { expired.append(popOldest()) }
        }
        rows.appendRow(from: batch, row: r)
        arrivals.append(arrival)
        let row = Int32(rows.count - 1)
        switch window {
        case .length(let n), .timeLength(_, let n):
            while rows.count - 1 - head >= n { expired.append(popOldest()) }
        default:
            break
        }
        return (row, expired)
    }

    /// Drops the rows before `head` once they are most of the storage (amortised; strings go too).
    func compact() {
        guard head > 0, head * 2 >= rows.count else { return }
        var fresh = EventBatch(schema: rows.schema)
        fresh.appendRows(from: rows, rows: (head..<rows.count).map { Int32($0) })
        rows = fresh
        arrivals.removeFirst(head)
        head = 0
    }

    func write(to w: inout SnapshotWriter) {
        w.int(rows.count - head)
        for r in live {
            w.row((rows.timestamps[r], rows.row(r)))
            w.int64(arrivals[r])
        }
    }

    func decoded(from r: inout SnapshotReader) throws(SnapshotError) -> SideWindow {
        let fresh = SideWindow(schema: rows.schema, window: window)
        let n = try r.int()
        guard n >= 0, n <= EventBatch.rowsMax else { throw SnapshotError("join window size out of range") }
        for _ in 0..<n {
            let (t, values) = try r.row()
            guard values.count == rows.schema.attributes.count, fresh.rows.append(timestamp: t, values: values) else {
                throw SnapshotError("join window row does not match its stream")
            }
            fresh.arrivals.append(try r.int64())
        }
        return fresh
    }
}

/// A join: each side's filter and window, the pairs that meet `on` (an index lookup into a table
/// side when `on` has `table.key == …`), unmatched arrivals of outer sides with nulls, then the
/// query's selector over the pair batch.
///
/// Siddhi's order: an arrival on one side joins the other side's current rows, then enters its own
/// window; with the same stream on both sides, the left side goes first.
final class JoinQuery {
    let plan: QueryPlan
    let join: JoinPlan
    private let filters: [VectorProgram?]
    private var windows: [SideWindow]
    private let tables: [Table?]
    private let onProgram: VectorProgram?
    private let probePrograms: [VectorProgram?]
    /// A probe that is an attribute of the arriving side as is (`T.k == S.k`): the same load over
    /// the arriving batch itself, with no pair batch built for it.
    private let batchProbePrograms: [VectorProgram?]
    private let selector: Selector
    private var pair: EventBatch
    private var filtered: [EventBatch]

    /// Per side: whether its arrivals join, whether it is outer, whether it holds rows.
    private let triggers: [Bool]
    private let outer: [Bool]
    private let held: [Bool]

    init(plan: QueryPlan, tables byName: [String: Table]) {
        self.plan = plan
        join = plan.join!
        let sides = [join.left, join.right]
        triggers = sides.map(\.triggers)
        outer = sides.map(\.keepsUnmatched)
        held = sides.map { $0.window != nil }
        filters = sides.map { $0.filter.map(VectorProgram.init) }
        windows = sides.map { SideWindow(schema: $0.schema, window: $0.window) }
        tables = sides.map { $0.isTable ? byName[$0.name] : nil }
        onProgram = join.on.map(VectorProgram.init)
        probePrograms = join.probes.map { $0.map { VectorProgram($0.probe) } }
        let leftWidth = join.left.schema.attributes.count
        batchProbePrograms = join.probes.enumerated().map { k, probe in
            guard case .column(let c, let type)? = probe?.probe else { return nil }
            let offset = k == 0 ? 0 : leftWidth
            guard c >= offset && c - offset < sides[k].schema.attributes.count else { return nil }
            return VectorProgram(.column(c - offset, type))
        }
        selector = Selector(plan: plan)
        pair = EventBatch(schema: plan.input)
        filtered = sides.map { EventBatch(schema: $0.schema) }
    }

    var nextTimerMs: Int64? { selector.nextTimerMs }

    func advanceTime(to clockMs: Int64) -> EventBatch? { selector.advanceTime(to: clockMs) }

    /// The pairs of one chunk, in order: per trigger (an arrival or an expired row) its candidates.
    /// Raw growable buffers, reused across chunks: adding a pair is five stores.
    final class Pairs {
        private(set) var left: UnsafeMutablePointer<Int32>
        private(set) var right: UnsafeMutablePointer<Int32>
        private(set) var kinds: UnsafeMutablePointer<UInt8>
        private(set) var stamps: UnsafeMutablePointer<Int64>
        /// Per pair, its trigger (index into `triggers`).
        private(set) var trigger: UnsafeMutablePointer<Int32>
        private(set) var count = 0
        private var capacity = 1024
        var triggers: [(side: Int, row: Int32, kind: UInt8, stamp: Int64, outer: Bool)] = []

        init() {
            left = .allocate(capacity: capacity)
            right = .allocate(capacity: capacity)
            kinds = .allocate(capacity: capacity)
            stamps = .allocate(capacity: capacity)
            trigger = .allocate(capacity: capacity)
        }

        deinit {
            left.deallocate(); right.deallocate(); kinds.deallocate(); stamps.deallocate(); trigger.deallocate()
        }

        func reset() {
            count = 0
            triggers.removeAll(keepingCapacity: true)
        }

        @inline(__always)
        func add(_ l: Int32, _ r: Int32, _ t: Int) {
            if count == capacity { grow() }
            left[count] = l
            right[count] = r
            kinds[count] = triggers[t].kind
            stamps[count] = triggers[t].stamp
            trigger[count] = Int32(truncatingIfNeeded: t)
            count += 1
        }

        private func grow() {
            precondition(capacity * 2 <= EventBatch.rowsMax, "join chunk over EventBatch.rowsMax pairs")
            func moved<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> { p.movedToAllocation(capacity: capacity * 2, count: count) }
            left = moved(left); right = moved(right); kinds = moved(kinds); stamps = moved(stamps); trigger = moved(trigger)
            capacity *= 2
        }

        func sameRows(as other: Pairs) -> Bool {
            count == other.count && memcmp(left, other.left, count * 4) == 0 && memcmp(right, other.right, count * 4) == 0
        }

        var leftRows: UnsafeBufferPointer<Int32> { UnsafeBufferPointer(start: left, count: count) }
        var rightRows: UnsafeBufferPointer<Int32> { UnsafeBufferPointer(start: right, count: count) }
        var timestamps: UnsafeBufferPointer<Int64> { UnsafeBufferPointer(start: stamps, count: count) }
        var kindList: [UInt8] { Array(UnsafeBufferPointer(start: kinds, count: count)) }
    }

    private let pairs = Pairs()
    private let matched = Pairs()

    /// Where side `s`'s pair rows live: its table, its window, or (a stream without a window,
    /// the side that arrived) the arriving batch itself.
    private func storage(_ side: Int, arrivedOn k: Int, _ batch: EventBatch) -> EventBatch {
        if let table = tables[side] { return table.rows }
        if side == k && windows[side].window == nil { return batch }
        return windows[side].rows
    }

    /// An arrival on side `k` (0 left, 1 right). Expired rows (time windows up to the arrival,
    /// rows an arrival pushes out) join too, as expired pairs: aggregates subtract them.
    func process(side k: Int, _ input: EventBatch, clockMs: Int64, playback: Bool) -> EventBatch? {
        var batch = input
        if let filter = filters[k] {
            let keep = filter.evaluateCondition(input)
            let rows = (0..<input.count).filter { keep[$0] & 1 == 1 }.map { Int32($0) }
            guard !rows.isEmpty else { return nil }
            if rows.count < input.count {
                rows.withUnsafeBufferPointer { filtered[k].gather($0, from: input) }
                batch = filtered[k]
            }
        }
        let sides = [join.left, join.right]
        let other = 1 - k
        // Index lookups into a table on the other side: keys of every arrival at once.
        var probeKeys: [UInt64?] = []
        var probeColumn = -1
        if sides[k].triggers, let table = tables[other], let probe = join.probes[k], table.isIndexed(probe.column),
           let program = probePrograms[k] {
            let n = batch.count
            if let direct = batchProbePrograms[k] {
                direct.evaluate(batch)
                probeKeys = table.probeKeys(direct, batch: batch, count: n, column: probe.column)
            } else {
                let these = (0..<n).map { Int32($0) }, none = [Int32](repeating: -1, count: n)
                if k == 0 {
                    PairBatch.build(&pair, left: batch, leftRows: these, right: table.rows, rightRows: none, timestamps: batch.timestamps)
                } else {
                    PairBatch.build(&pair, left: table.rows, leftRows: none, right: batch, rightRows: these, timestamps: batch.timestamps)
                }
                program.evaluate(pair)
                probeKeys = table.probeKeys(program, batch: pair, count: n, column: probe.column)
            }
            probeColumn = probe.column
        }
        pairs.reset()
        let pairs = self.pairs
        // Read once per chunk, not per row (each read of a side copies its struct).
        let triggers = self.triggers, outer = self.outer
        let sideTables = self.tables
        let probeIsPrimary = probeColumn >= 0 && (tables[other]?.isPrimaryKey(probeColumn) ?? false)
        /// `probe`: the arrival's key into the other side's index (`.some(nil)`: no row can match).
        func joinRow(_ s: Int, _ row: Int32, _ kind: ChunkRowKind, stamp: Int64, probe: UInt64?? = nil) {
            guard triggers[s] else { return }
            let o = 1 - s
            pairs.triggers.append((s, row, kind.rawValue, stamp, outer[s]))
            let t = pairs.triggers.count - 1
            if let table = sideTables[o] {
                if let probe {
                    guard let key = probe else { return }
                    if probeIsPrimary {
                        if let c = table.primaryRow(key) { if s == 0 { pairs.add(row, c, t) } else { pairs.add(c, row, t) } }
                        return
                    }
                    for c in table.rows(matching: key, column: probeColumn) ?? table.liveRows {
                        if s == 0 { pairs.add(row, c, t) } else { pairs.add(c, row, t) }
                    }
                    return
                }
                for c in table.liveRows { if s == 0 { pairs.add(row, c, t) } else { pairs.add(c, row, t) } }
            } else {
                for c in windows[o].live { if s == 0 { pairs.add(row, Int32(c), t) } else { pairs.add(Int32(c), row, t) } }
            }
        }
        let timed = windows[0].nextExpiryMs != nil || windows[1].nextExpiryMs != nil
        let held = self.held[k]
        let primaryLookup = !timed && !held && triggers[k] && probeIsPrimary
        if primaryLookup, let table = sideTables[other] {
            // The common stream–table lookup: each arrival pairs with at most the one row holding
            // its key. Same pairs as joinRow makes, in one loop with the table held once.
            let n = batch.count
            pairs.triggers.reserveCapacity(n)
            batch.timestamps.withUnsafeBufferPointer { ts in
                for r in 0..<n {
                    pairs.triggers.append((k, Int32(truncatingIfNeeded: r), ChunkRowKind.current.rawValue, ts[r], outer[k]))
                    guard let key = probeKeys[r], let c = table.primaryRow(key) else { continue }
                    if k == 0 { pairs.add(Int32(truncatingIfNeeded: r), c, r) } else { pairs.add(c, Int32(truncatingIfNeeded: r), r) }
                }
            }
        }
        for r in 0..<batch.count where !primaryLookup {
            let now = playback ? batch.timestamps[r] : clockMs
            // Time windows expire in time order across both sides, each expiry joining the other
            // side as it was then.
            while timed {
                let due = [windows[0].nextExpiryMs, windows[1].nextExpiryMs]
                guard let s = (0..<2).filter({ due[$0].map { $0 <= now } ?? false }).min(by: { due[$0]! < due[$1]! }) else { break }
                joinRow(s, windows[s].popOldest(), .expired, stamp: due[s]!)
            }
            let probe: UInt64?? = probeKeys.isEmpty ? nil : .some(probeKeys[r])
            if !held {
                // Not held: the arrival joins straight from the batch.
                joinRow(k, Int32(r), .current, stamp: batch.timestamps[r], probe: probe)
                continue
            }
            let (row, expired) = windows[k].add(batch, r, nowMs: now)
            for x in expired { joinRow(k, x, .expired, stamp: now) }
            joinRow(k, row, .current, stamp: batch.timestamps[r], probe: probe)
        }
        defer { for w in windows { w.compact() } }
        guard !pairs.triggers.isEmpty else { return nil }
        let left = storage(0, arrivedOn: k, batch), right = storage(1, arrivedOn: k, batch)
        var keep: UnsafePointer<UInt64>? = nil
        if let onProgram, pairs.count > 0 {
            PairBatch.build(&pair, left: left, leftRows: pairs.leftRows, right: right, rightRows: pairs.rightRows,
                            timestamps: pairs.timestamps)
            keep = onProgram.evaluateCondition(pair)
        }
        // Per trigger, its matches in order; an outer side's trigger without one pairs with nulls.
        // Without aggregates expired pairs change nothing: a stateless selector gets current ones only.
        let final = matched
        final.reset()
        final.triggers = pairs.triggers
        let currentOnly = !selector.readsExpired
        var p = 0
        for t in 0..<pairs.triggers.count {
            let trigger = pairs.triggers[t]
            let skip = currentOnly && trigger.kind != ChunkRowKind.current.rawValue
            var any = false
            while p < pairs.count, pairs.trigger[p] == Int32(truncatingIfNeeded: t) {
                if !skip, keep.map({ $0[p] & 1 == 1 }) ?? true {
                    final.add(pairs.left[p], pairs.right[p], t)
                    any = true
                }
                p += 1
            }
            if !any && !skip && trigger.outer {
                if trigger.side == 0 { final.add(trigger.row, -1, t) } else { final.add(-1, trigger.row, t) }
            }
        }
        guard final.count > 0 else { return nil }
        if keep == nil || !final.sameRows(as: pairs) {
            PairBatch.build(&pair, left: left, leftRows: final.leftRows, right: right, rightRows: final.rightRows,
                            timestamps: final.timestamps)
        }
        return selector.process(pair, kinds: final.kindList, clockMs: clockMs, playback: playback)
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        for window in windows { window.write(to: &w) }
        selector.write(to: &w)
    }

    struct State {
        var windows: [SideWindow]
        var selector: StatefulQuery.State?
    }

    func decode(from r: inout SnapshotReader) throws(SnapshotError) -> State {
        var fresh: [SideWindow] = []
        for window in windows { fresh.append(try window.decoded(from: &r)) }
        let selectorState = try selector.decode(from: &r)
        return State(windows: fresh, selector: selectorState)
    }

    func apply(_ state: State) {
        windows = state.windows
        selector.apply(state.selector)
    }
}
