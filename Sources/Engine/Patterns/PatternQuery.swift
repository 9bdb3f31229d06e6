/// A pattern (`every e1=A[…] -> e2=B[…] -> … within T`) or sequence (`every e1=A, e2=B, …`) over
/// batches, with Siddhi's matching:
///
/// - the first state starts a partial match at each qualifying event (`every`), or only at the
///   first one (without `every`, the whole query matches at most once);
/// - a pattern's partial at state k takes the first later event of state k's stream that meets
///   its condition (conditions read earlier states' events); a sequence's partial must take the
///   very next event of the query's streams, else it dies;
/// - `within T`: a partial whose first event is more than T before an event cannot take it, and is
///   dropped once time passes T;
/// - one event completes every partial it fits, in the order the partials started.
///
/// Conditions run batch-wide: for state k, one row per (waiting partial, candidate event) built
/// over the pattern schema, evaluated by one vector program.
///
/// Limit: at most `partialsMax` partial matches; past it the oldest are dropped and counted.
final class PatternQuery {
    let plan: QueryPlan
    let pattern: PatternPlan
    static let partialsMax = 1 << 20
    private let firstFilter: VectorProgram?
    private let conditions: [VectorProgram?]
    /// Per state, the events partial matches captured (rows referenced by `Partial.rows`).
    private var captures: [EventBatch]
    /// A partial match's captured rows, one per state reached, held inline (no allocation per
    /// partial match): linear chains have at most `PatternQuery.statesMax` states.
    struct CaptureRows: Sequence {
        private var storage: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0, 0, 0)
        private(set) var count = 0

        init(_ rows: [Int32] = []) { for r in rows { append(r) } }

        subscript(j: Int) -> Int32 {
            get {
                precondition(j >= 0 && j < count)
                return withUnsafeBytes(of: storage) { $0.load(fromByteOffset: j * 4, as: Int32.self) }
            }
            set {
                precondition(j >= 0 && j < count)
                withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: newValue, toByteOffset: j * 4, as: Int32.self) }
            }
        }

        mutating func append(_ row: Int32) {
            precondition(count < PatternQuery.statesMax, "pattern over \(PatternQuery.statesMax) states")
            count += 1
            self[count - 1] = row
        }

        func makeIterator() -> IndexingIterator<[Int32]> { (0..<count).map { self[$0] }.makeIterator() }
    }

    /// The most states a linear chain runs here with (longer ones run on `PatternMachine`).
    static let statesMax = 8

    struct Partial {
        var state: Int
        var rows: CaptureRows
        var firstMs: Int64
        var order: Int64
        /// First row of the batch being processed it may take (0 for partials from earlier batches).
        var start: Int
    }
    private var partials: [Partial] = []
    private var started = false
    private var finished = false
    private var nextOrder: Int64 = 0
    /// Partial matches dropped at `partialsMax`.
    private(set) var droppedCount = 0
    private var scratch: EventBatch
    private let selector: Selector
    /// Runs the pattern when it is not a linear chain (counting, logical, absent steps).
    private let machine: PatternMachine?

    /// Per state of a pattern (not a sequence): a top-level `#k.x == #j.y` conjunct of its
    /// condition (j earlier, both int, long, string or bool): a row whose x differs from the
    /// partial match's `ej.y` cannot make the condition true, so its pair is never built. Keys are
    /// compared by a 64-bit digest first (equal values, equal digests).
    private let equalityKeys: [(own: Int, earlierState: Int, earlier: Int, isString: Bool)?]
    private var rowDigests: [UInt64] = []

    /// The digest of `batch`'s column `c` at `row` (nil when null).
    @inline(__always)
    private static func digest(_ batch: EventBatch, _ c: Int, _ row: Int, isString: Bool) -> UInt64? {
        if !batch.nulls[c].isEmpty && batch.nulls[c][row] != 0 { return nil }
        let slot = batch.columns[c][row]
        guard isString else { return slot }
        let start = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
        return batch.stringBytes.withUnsafeBufferPointer { fnv1a64(UnsafeBufferPointer(rebasing: $0[start..<start + length])) }
    }

    /// The equality conjunct `PatternQuery.equalityKeys` describes, if state `k`'s condition has one.
    private static func equalityKey(_ condition: TypedExpression?, state k: Int, offsets: [Int])
        -> (own: Int, earlierState: Int, earlier: Int, isString: Bool)? {
        guard let condition else { return nil }
        func stateOf(_ column: Int) -> Int { offsets.lastIndex { $0 <= column }! }
        func find(_ e: TypedExpression) -> (own: Int, earlierState: Int, earlier: Int, isString: Bool)? {
            switch e {
            case .and(let a, let b): return find(a) ?? find(b)
            case .compare(.equal, .column(let x, let tx), .column(let y, let ty), _):
                guard tx == ty, [.int, .long, .string, .bool].contains(tx) else { return nil }
                for (own, other) in [(x, y), (y, x)] where stateOf(own) == k && stateOf(other) < k {
                    let j = stateOf(other)
                    return (own - offsets[k], j, other - offsets[j], tx == .string)
                }
                return nil
            default: return nil
            }
        }
        return find(condition)
    }

    init(plan: QueryPlan) {
        self.plan = plan
        pattern = plan.pattern!
        machine = pattern.isLinear ? nil : PatternMachine(plan: plan)
        var offsets: [Int] = [], width = 0
        for state in pattern.states {
            offsets.append(width)
            width += state.schema.attributes.count
        }
        let states = pattern.states
        let isSequence = pattern.isSequence
        equalityKeys = states.indices.map { k in
            k == 0 || isSequence ? nil : PatternQuery.equalityKey(states[k].condition, state: k, offsets: offsets)
        }
        firstFilter = pattern.states[0].streamCondition.map(VectorProgram.init)
        conditions = pattern.states.map { $0.condition.map(VectorProgram.init) }
        captures = pattern.states.map { EventBatch(schema: $0.schema) }
        scratch = EventBatch(schema: plan.input)
        selector = Selector(plan: plan)
    }

    var nextTimerMs: Int64? { machine?.nextTimerMs ?? selector.nextTimerMs }

    func advanceTime(to clockMs: Int64) -> EventBatch? { machine?.advanceTime(to: clockMs) ?? selector.advanceTime(to: clockMs) }

    /// Partial matches dropped at `partialsMax`.
    var partialsDropped: Int { machine?.droppedCount ?? droppedCount }

    /// Copies row `r` of `batch` into state `k`'s captures; returns its row there.
    private func capture(_ k: Int, _ batch: EventBatch, _ r: Int) -> Int32 {
        Int32(captures[k].appendRow(from: batch, row: r))
    }

    /// Events of `stream` arrived.
    func process(stream: String, _ batch: EventBatch, clockMs: Int64, playback: Bool) -> EventBatch? {
        if let machine { return machine.process(stream: stream, batch, clockMs: clockMs, playback: playback) }
        let n = batch.count
        guard n > 0, !finished else { return nil }
        let states = pattern.states
        let count = states.count
        var completions: [(row: Int, order: Int64, rows: CaptureRows)] = []
        func within(_ p: Partial, _ r: Int) -> Bool {
            guard let w = pattern.withinMs else { return true }
            return batch.timestamps[r] - p.firstMs <= w
        }

        // 1. Starts.
        if states[0].stream == stream && (pattern.every || !started) {
            var rows: [Int] = []
            if let firstFilter {
                let keep = firstFilter.evaluateCondition(batch)
                for r in 0..<n where keep[r] & 1 == 1 { rows.append(r) }
            } else {
                rows = Array(0..<n)
            }
            if !pattern.every { rows = Array(rows.prefix(1)) }
            // Every start's event is captured in one column-wise pass.
            let firstCapture = Int32(captures[0].count)
            captures[0].appendRows(from: batch, rows: rows.map { Int32($0) })
            for (k, r) in rows.enumerated() {
                started = true
                let partial = Partial(state: 1, rows: CaptureRows([firstCapture + Int32(k)]), firstMs: batch.timestamps[r], order: nextOrder, start: r + 1)
                nextOrder += 1
                if count == 1 { completions.append((r, partial.order, partial.rows)) } else { partials.append(partial) }
            }
        }

        // 2. Each later state, in order: partials advanced here go on at the next state.
        for k in 1..<max(count, 1) {
            // Per partial: dead (dropped after this state), and its scan cursor (-1: not scanning).
            // Pattern partials scan their candidates in growing spans (most match within a few
            // events): span 16, then 64, 256, … until matched or out of rows.
            var dead = [Bool](repeating: false, count: partials.count)
            var cursor = [Int](repeating: -1, count: partials.count)
            var scanning: [Int] = []
            var anyDead = false
            for (i, p) in partials.enumerated() where p.state == k && p.start < n {
                if pattern.isSequence {
                    if states[k].stream != stream || !within(p, p.start) {
                        dead[i] = true
                        anyDead = true
                    } else {
                        cursor[i] = p.start
                        scanning.append(i)
                    }
                } else if states[k].stream == stream {
                    cursor[i] = p.start
                    scanning.append(i)
                }
            }
            var span = pattern.isSequence ? 1 : 16
            var comboPartials: [Int32] = [], comboRows: [Int32] = []
            let key = scanning.isEmpty ? nil : equalityKeys[k]
            var partialDigests: [UInt64?] = []
            if let key {
                if rowDigests.count < n { rowDigests = Array(repeating: 0, count: max(n, 2 * rowDigests.count)) }
                for r in 0..<n { rowDigests[r] = PatternQuery.digest(batch, key.own, r, isString: key.isString) ?? 0 }
                partialDigests = partials.indices.map { i in
                    partials[i].state == k
                        ? PatternQuery.digest(captures[key.earlierState], key.earlier, Int(partials[i].rows[key.earlierState]), isString: key.isString)
                        : nil
                }
            }
            while !scanning.isEmpty {
                comboPartials.removeAll(keepingCapacity: true)
                comboRows.removeAll(keepingCapacity: true)
                var still: [Int] = []
                for i in scanning {
                    let from = cursor[i], to = min(n, from + span)
                    let p = partials[i]
                    if let key {
                        // Only rows whose key equals the partial's can match (a null key never does).
                        if let wanted = partialDigests[i] {
                            for r in from..<to where rowDigests[r] == wanted && within(p, r) {
                                if !batch.nulls[key.own].isEmpty && batch.nulls[key.own][r] != 0 { continue }
                                comboPartials.append(Int32(i))
                                comboRows.append(Int32(r))
                            }
                        }
                    } else {
                        for r in from..<to where within(p, r) {
                            comboPartials.append(Int32(i))
                            comboRows.append(Int32(r))
                        }
                    }
                    if to >= n || pattern.isSequence { cursor[i] = -1 } else { cursor[i] = to; still.append(i) }
                }
                span *= 4
                let m = comboRows.count
                if m > 0 {
                    var keep: UnsafePointer<UInt64>? = nil
                    if let program = conditions[k] {
                        var sources: [(EventBatch, [Int32])] = []
                        for j in 0..<count {
                            if j < k {
                                sources.append((captures[j], comboPartials.map { partials[Int($0)].rows[j] }))
                            } else if j == k {
                                sources.append((batch, comboRows))
                            } else {
                                sources.append((captures[j], [Int32](repeating: -1, count: m)))
                            }
                        }
                        PairBatch.build(&scratch, sources: sources, timestamps: comboRows.map { batch.timestamps[Int($0)] })
                        keep = program.evaluateCondition(scratch)
                    }
                    var c = 0
                    while c < m {
                        // The combos of one partial are consecutive, in row order: it takes the first kept.
                        let i = Int(comboPartials[c])
                        var taken = -1
                        while c < m, Int(comboPartials[c]) == i {
                            if taken < 0, keep.map({ $0[c] & 1 == 1 }) ?? true { taken = Int(comboRows[c]) }
                            c += 1
                        }
                        if taken < 0 {
                            if pattern.isSequence { dead[i] = true; anyDead = true }
                            continue
                        }
                        cursor[i] = -1
                        partials[i].rows.append(capture(k, batch, taken))
                        partials[i].state = k + 1
                        partials[i].start = taken + 1
                        if k + 1 == count {
                            completions.append((taken, partials[i].order, partials[i].rows))
                            dead[i] = true
                            anyDead = true
                        }
                    }
                }
                scanning = still.filter { cursor[$0] >= 0 }
            }
            if anyDead {
                var kept: [Partial] = []
                kept.reserveCapacity(partials.count)
                for (i, p) in partials.enumerated() where !dead[i] { kept.append(p) }
                partials = kept
            }
        }

        // 3. Time and bounds.
        let lastMs = batch.timestamps[n - 1]
        if let w = pattern.withinMs { partials.removeAll { lastMs - $0.firstMs > w } }
        if partials.count > PatternQuery.partialsMax {
            let extra = partials.count - PatternQuery.partialsMax
            droppedCount += extra
            partials.removeFirst(extra)
        }
        for i in partials.indices { partials[i].start = 0 }
        if !completions.isEmpty && !pattern.every {
            finished = true
            partials.removeAll()
        } else if started && partials.isEmpty && !pattern.every {
            finished = true  // the one partial match failed (sequence) or timed out
        }

        // 4. Matches, in event order then in the order their partials started. Compaction renumbers
        // the captured rows, so it waits until the matches are copied out.
        guard !completions.isEmpty else {
            compactCaptures()
            return nil
        }
        completions.sort { $0.row != $1.row ? $0.row < $1.row : $0.order < $1.order }
        PairBatch.build(&scratch, sources: (0..<count).map { j in (captures[j], completions.map { $0.rows[j] }) },
                        timestamps: completions.map { batch.timestamps[$0.row] })
        compactCaptures()
        return selector.process(scratch, clockMs: clockMs, playback: playback)
    }

    /// Drops captured events no partial match refers to, once they are most of the storage.
    private func compactCaptures() {
        let referenced = partials.reduce(0) { $0 + $1.rows.count }
        let stored = captures.reduce(0) { $0 + $1.count }
        guard stored > 1024, stored > 4 * referenced else { return }
        var fresh = pattern.states.map { EventBatch(schema: $0.schema) }
        for i in partials.indices {
            for (j, row) in Array(partials[i].rows).enumerated() {
                fresh[j].appendRow(from: captures[j], row: Int(row))
                partials[i].rows[j] = Int32(fresh[j].count - 1)
            }
        }
        captures = fresh
    }

    // MARK: Snapshot

    /// The layout tags of a pattern's state (snapshot version 4 on; version 3 has linear only).
    /// `machineLayout` 3: a sequence's waiting lists hold only what the last event moved or kept
    /// (the machine drops the rest at the end of each event); 2, written before: the rest was
    /// still listed, to be dropped before the next event (it still restores, dropped at restore).
    static let linearLayout = 1, machineLayout = 3, machineLayoutBefore = 2

    func write(to w: inout SnapshotWriter) {
        w.int(machine == nil ? PatternQuery.linearLayout : PatternQuery.machineLayout)
        if let machine {
            machine.write(to: &w)
            return
        }
        w.bool(started)
        w.bool(finished)
        w.int64(nextOrder)
        w.int(droppedCount)
        w.int(partials.count)
        for p in partials {
            w.int(p.state)
            w.int64(p.firstMs)
            w.int64(p.order)
            for (j, row) in p.rows.enumerated() { w.row((captures[j].timestamps[Int(row)], captures[j].row(Int(row)))) }
        }
        selector.write(to: &w)
    }

    struct State {
        var started: Bool
        var finished: Bool
        var nextOrder: Int64
        var droppedCount: Int
        var partials: [Partial]
        var captures: [EventBatch]
        var selector: StatefulQuery.State?
        var machine: PatternMachine.State? = nil
    }

    func decode(from r: inout SnapshotReader) throws(SnapshotError) -> State {
        let layout = r.formatVersion >= 4 ? try r.int() : PatternQuery.linearLayout
        let expected = machine == nil ? [PatternQuery.linearLayout] : [PatternQuery.machineLayout, PatternQuery.machineLayoutBefore]
        guard expected.contains(layout) else {
            throw SnapshotError(r.formatVersion >= 4 ? "pattern state layout \(layout) differs from this pattern's"
                                : "a version-\(r.formatVersion) snapshot has no state for this pattern form (counting, logical or absent steps)")
        }
        if let machine {
            return State(started: false, finished: false, nextOrder: 0, droppedCount: 0, partials: [], captures: [], selector: nil,
                         machine: try machine.decode(from: &r, dropsAtEventEnd: layout == PatternQuery.machineLayout))
        }
        let started = try r.bool(), finished = try r.bool()
        let nextOrder = try r.int64()
        let dropped = try r.int()
        let n = try r.int()
        guard n >= 0, n <= PatternQuery.partialsMax else { throw SnapshotError("pattern partial count out of range") }
        var fresh = pattern.states.map { EventBatch(schema: $0.schema) }
        var partials: [Partial] = []
        for _ in 0..<n {
            let state = try r.int()
            guard state >= 1, state < pattern.states.count else { throw SnapshotError("pattern state out of range") }
            let firstMs = try r.int64(), order = try r.int64()
            var rows: [Int32] = []
            for j in 0..<state {
                let (t, values) = try r.row()
                guard values.count == pattern.states[j].schema.attributes.count, fresh[j].append(timestamp: t, values: values) else {
                    throw SnapshotError("pattern event does not match its stream")
                }
                rows.append(Int32(fresh[j].count - 1))
            }
            partials.append(Partial(state: state, rows: CaptureRows(rows), firstMs: firstMs, order: order, start: 0))
        }
        let selectorState = try selector.decode(from: &r)
        return State(started: started, finished: finished, nextOrder: nextOrder, droppedCount: dropped, partials: partials,
                     captures: fresh, selector: selectorState)
    }

    func apply(_ state: State) {
        if let machine, let machineState = state.machine {
            machine.apply(machineState)
            return
        }
        started = state.started
        finished = state.finished
        nextOrder = state.nextOrder
        droppedCount = state.droppedCount
        partials = state.partials
        captures = state.captures
        selector.apply(state.selector)
    }
}
