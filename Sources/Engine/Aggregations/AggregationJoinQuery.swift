/// A join reading an aggregation: each stream event (after its filter) reads the rows of the
/// `per` granularity whose bucket starts within [start, end), pairs with those that meet `on`
/// (or, outer, goes out alone with nulls), and the query's selector runs over the pairs.
///
/// An event whose `within` or `per` cannot be used (null, a malformed date, start not before end,
/// a granularity the aggregation lacks) reads nothing and is counted in `rejectedEvents` (Siddhi
/// throws and loses it).
final class AggregationJoinQuery {
    let plan: QueryPlan
    let join: AggregationJoinPlan
    let aggregation: IncrementalAggregation
    private let filter: VectorProgram?
    /// Per `within` value: a constant (ms, or a pattern's range) or a program over the stream.
    private enum Bound {
        case constant(Int64)
        case range(Int64, Int64)
        case program(VectorProgram)
    }
    private let within: [Bound]
    /// The granularity's index in the aggregation's durations, when `per` is a constant.
    private let perIndex: Int?
    private let perProgram: VectorProgram?
    private let onProgram: VectorProgram?
    private let selector: Selector
    private var filtered: EventBatch
    private var rows: EventBatch
    private var pair: EventBatch
    private var streamRows: [Int32] = []
    private var aggregationRows: [Int32] = []
    private var stamps: [Int64] = []
    private(set) var rejectedEvents = 0

    init(plan: QueryPlan, aggregation: IncrementalAggregation) {
        self.plan = plan
        join = plan.aggregationJoin!
        self.aggregation = aggregation
        filter = join.filter.map(VectorProgram.init)
        let single = join.within.count == 1
        within = join.within.map { e in
            switch e {
            case .constant(.string(let text), _):
                if single, let r = try? AggregationDate.patternRange(text) { return .range(r.startMs, r.endMs) }
                if !single, let t = try? AggregationDate.timestampMs(text) { return .constant(t) }
            case .constant(.long(let t), _): return .constant(t)
            case .widen(.constant(.int(let t), _), _, _): return .constant(Int64(t))
            default: break
            }
            return .program(VectorProgram(e))
        }
        if case .constant(.string(let word), _) = join.per {
            perIndex = AggregationDuration(word: word).flatMap { aggregation.spec.durations.firstIndex(of: $0) }
            perProgram = nil
        } else {
            perIndex = nil
            perProgram = VectorProgram(join.per)
        }
        onProgram = join.on.map(VectorProgram.init)
        selector = Selector(plan: plan)
        filtered = EventBatch(schema: join.streamSchema)
        rows = EventBatch(schema: aggregation.spec.output)
        pair = EventBatch(schema: plan.input)
    }

    var nextTimerMs: Int64? { selector.nextTimerMs }

    func advanceTime(to clockMs: Int64) -> EventBatch? { selector.advanceTime(to: clockMs) }

    /// The range and granularity stream row `r` reads, or nil when they are unusable.
    private func retrieval(_ r: Int, _ batch: EventBatch) -> (start: Int64, end: Int64, duration: Int)? {
        let duration: Int
        if let perIndex {
            duration = perIndex
        } else {
            guard case .string(let word) = perProgram!.resultValue(r, batch: batch),
                  let d = AggregationDuration(word: word), let k = aggregation.spec.durations.firstIndex(of: d) else { return nil }
            duration = k
        }
        func value(_ bound: Bound) -> Value? {
            switch bound {
            case .constant(let t): return .long(t)
            case .range: return nil
            case .program(let p): return p.resultValue(r, batch: batch)
            }
        }
        if within.count == 1 {
            switch within[0] {
            case .range(let start, let end): return (start, end, duration)
            default:
                guard case .string(let text)? = value(within[0]), let range = try? AggregationDate.patternRange(text) else { return nil }
                return (range.startMs, range.endMs, duration)
            }
        }
        var bounds: [Int64] = []
        for bound in within {
            switch value(bound) {
            case .long(let t)?: bounds.append(t)
            case .string(let text)?:
                guard let t = try? AggregationDate.timestampMs(text) else { return nil }
                bounds.append(t)
            default: return nil
            }
        }
        guard bounds[0] < bounds[1] else { return nil }
        return (bounds[0], bounds[1], duration)
    }

    /// Stream events arriving (their side is fixed by the plan).
    func process(_ input: EventBatch, clockMs: Int64, playback: Bool) -> EventBatch? {
        var batch = input
        if let filter {
            let keep = filter.evaluateCondition(input)
            var selected: [Int32] = []
            for i in 0..<input.count where keep[i] & 1 == 1 { selected.append(Int32(i)) }
            guard !selected.isEmpty else { return nil }
            if selected.count < input.count {
                selected.withUnsafeBufferPointer { filtered.gather($0, from: input) }
                batch = filtered
            }
        }
        let n = batch.count
        guard n > 0 else { return nil }
        for bound in within { if case .program(let p) = bound { p.evaluate(batch) } }
        perProgram?.evaluate(batch)
        rows.removeAll()
        streamRows.removeAll(keepingCapacity: true)
        aggregationRows.removeAll(keepingCapacity: true)
        stamps.removeAll(keepingCapacity: true)
        // Events of one batch usually read the same range: read it once.
        var last: (start: Int64, end: Int64, duration: Int)? = nil
        var lastRows = 0..<0
        var readAny = [Bool](repeating: false, count: n)
        for r in 0..<n {
            guard let range = retrieval(r, batch) else {
                rejectedEvents += 1
                continue
            }
            readAny[r] = true
            if last == nil || last! != range {
                let from = rows.count
                aggregation.appendRows(durationIndex: range.duration, from: range.start, to: range.end, into: &rows)
                lastRows = from..<rows.count
                last = range
            }
            for k in lastRows {
                streamRows.append(Int32(r))
                aggregationRows.append(Int32(k))
                stamps.append(batch.timestamps[r])
            }
        }
        let a = join.aggregationSide
        func build(_ stream: [Int32], _ aggregated: [Int32], _ times: [Int64]) {
            if a == 0 {
                PairBatch.build(&pair, left: rows, leftRows: aggregated, right: batch, rightRows: stream, timestamps: times)
            } else {
                PairBatch.build(&pair, left: batch, leftRows: stream, right: rows, rightRows: aggregated, timestamps: times)
            }
        }
        var keptStream = streamRows, keptAggregated = aggregationRows, keptStamps = stamps
        if let onProgram, !streamRows.isEmpty {
            build(streamRows, aggregationRows, stamps)
            let keep = onProgram.evaluateCondition(pair)
            keptStream.removeAll(keepingCapacity: true)
            keptAggregated.removeAll(keepingCapacity: true)
            keptStamps.removeAll(keepingCapacity: true)
            for p in 0..<streamRows.count where keep[p] & 1 == 1 {
                keptStream.append(streamRows[p])
                keptAggregated.append(aggregationRows[p])
                keptStamps.append(stamps[p])
            }
        }
        if join.keepsUnmatched {
            // Each stream event keeps its place: its matches, or itself with nulls.
            var s: [Int32] = [], g: [Int32] = [], t: [Int64] = []
            var p = 0
            for r in 0..<n where readAny[r] {
                var any = false
                while p < keptStream.count, keptStream[p] == Int32(r) {
                    s.append(keptStream[p]); g.append(keptAggregated[p]); t.append(keptStamps[p])
                    any = true
                    p += 1
                }
                if !any { s.append(Int32(r)); g.append(-1); t.append(batch.timestamps[r]) }
            }
            (keptStream, keptAggregated, keptStamps) = (s, g, t)
        }
        guard !keptStream.isEmpty else { return nil }
        build(keptStream, keptAggregated, keptStamps)
        return selector.process(pair, clockMs: clockMs, playback: playback)
    }

    // MARK: Snapshot (the aggregation itself is saved by the runtime; here only the selector's state)

    func write(to w: inout SnapshotWriter) {
        w.int(rejectedEvents)
        selector.write(to: &w)
    }

    struct State {
        var rejectedEvents: Int
        var selector: StatefulQuery.State?
    }

    func decode(from r: inout SnapshotReader) throws(SnapshotError) -> State {
        let rejected = try r.int()
        return State(rejectedEvents: rejected, selector: try selector.decode(from: &r))
    }

    func apply(_ state: State) {
        rejectedEvents = state.rejectedEvents
        selector.apply(state.selector)
    }
}
