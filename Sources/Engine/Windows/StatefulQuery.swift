/// Runs a query with a window, aggregates, group by, having, order by or limit, with Siddhi 5's
/// chunk semantics:
///
/// - the window turns each arrival (or timer tick) into a chunk of rows: expired events (removed from
///   the window, stamped with the clock), a RESET for batch windows, and current events;
/// - aggregates add current rows, remove expired rows, restart at RESET;
/// - with aggregates, the rows one chunk emits collapse to the last row per group, groups in
///   first-seen order (Siddhi 5.1.33); without, every emitted row is output;
/// - `insert [current|expired|all] events` picks which rows are emitted.
///
/// One input batch is one chunk, as a batch of events sent together is in Siddhi.
///
/// The common sliding shape (length or time window, count/sum/avg, current events) runs fused over
/// the same state in `StatefulQuery+Sliding.swift`; the state it shares is internal for that file.
final class StatefulQuery {
    let plan: QueryPlan
    private let filter: VectorProgram?
    private let projectionPrograms: [VectorProgram?]
    private let argumentPrograms: [VectorProgram?]
    var aggregators: [Aggregator]
    var groups: GroupTable
    /// The window's events, oldest first. Batch windows hold the previous batch (`previousCount`
    /// rows) followed by the batch being filled.
    var store: RowStore
    private var previousCount = 0
    /// timeBatch: start of the current period (nil before the first event); cron: the next fire.
    private var batchStartMs: Int64?
    var chunk: EventBatch
    /// The chunk plan (pass 1), in raw memory: appended per row on the hot path.
    let planned = ChunkPlan()
    var output: EventBatch
    private var filtered: EventBatch
    /// Rows that passed the filter (reused).
    private var selection: [Int32] = []
    private let emitsCurrent: Bool
    private let emitsExpired: Bool
    /// Expired rows matter when they are emitted, or when aggregates of a sliding window subtract
    /// them (a batch window's RESET makes them irrelevant to aggregates).
    private let keepsExpired: Bool
    var queueAtStart = 0
    private var virtualHead = 0
    private var virtualTail = 0
    private var chunkInputRows = 0

    init(plan: QueryPlan) {
        self.plan = plan
        filter = plan.filter.map(VectorProgram.init)
        havingProgram = plan.having.map(VectorProgram.init)
        projectionPrograms = plan.projections.map { e in
            switch e {
            case .aggregate, .column: return nil
            default: return VectorProgram(e)
            }
        }
        argumentPrograms = plan.aggregates.map { $0.argument.map(VectorProgram.init) }
        aggregators = plan.aggregates.map(Aggregator.init)
        groups = GroupTable(width: max(1, plan.groupBy.count))
        store = RowStore(schema: plan.input)
        chunk = EventBatch(schema: plan.input)
        output = EventBatch(schema: plan.output)
        filtered = EventBatch(schema: plan.input)
        // `output snapshot` without aggregates or groups tracks the window's rows, so it sees expiries.
        let tracksWindow = plan.outputRate?.mode == .snapshot && plan.window != nil && plan.aggregates.isEmpty
            && plan.groupBy.isEmpty
        self.tracksWindow = tracksWindow
        limiter = plan.outputRate.map {
            RateLimiter(rate: $0, schema: plan.output, grouped: !plan.groupBy.isEmpty, tracksWindow: tracksWindow)
        }
        emitsCurrent = plan.outputEventType != .expired || tracksWindow
        emitsExpired = plan.outputEventType != .current || tracksWindow
        switch plan.window {
        case .lengthBatch, .timeBatch, .externalTimeBatch, .batch, .delay, nil:
            keepsExpired = emitsExpired
        case .length, .time, .timeLength, .externalTime, .session, .lossyFrequent, .frequent, .sort, .expression,
             .expressionBatch, .cron:
            // expressionBatch and cron send no RESET (as Siddhi): aggregates subtract the expired batch.
            keepsExpired = emitsExpired || !plan.aggregates.isEmpty
        }
        switch plan.window {
        case .expression(let c), .expressionBatch(let c, _, _): conditionEvaluator = WindowConditionEvaluator(c)
        default: conditionEvaluator = nil
        }
        // Batch windows whose expired rows nobody reads and whose select is attributes and aggregates
        // only: aggregate rows as they arrive and hold one pending row per group, not the batch.
        var eager = false
        switch plan.window {
        case .lengthBatch, .timeBatch:
            eager = !keepsExpired && !plan.aggregates.isEmpty && !tracksWindow && plan.projections.allSatisfy {
                switch $0 {
                case .aggregate, .column: return true
                default: return false
                }
            }
        default:
            break
        }
        // unionSet's values live in its aggregator only until the chunk is output: not held pending.
        eagerBatch = eager && plan.postFilter == nil && plan.aggregates.allSatisfy { $0.kind != .unionSet }
        postFilter = plan.postFilter.map(VectorProgram.init)
        postFiltered = EventBatch(schema: plan.input)
        pending = EventBatch(schema: plan.output)
    }

    /// `output snapshot` over a window without aggregates: the limiter sees current, expired and
    /// RESET rows and keeps the window's contents.
    private let tracksWindow: Bool
    /// The filter after the window, over each chunk (current and expired rows; RESET passes).
    private let postFilter: VectorProgram?
    private var postFiltered: EventBatch
    private var postSelection: [Int32] = []
    /// Set when the query has the shape the fused sliding path runs (`StatefulQuery+Sliding.swift`).
    lazy var sliding: SlidingShape? = SlidingShape(plan: plan, tracksWindow: tracksWindow)
    /// Per-batch scratch of the sliding path.
    var slidingScratch = SlidingScratch()
    /// The engine clock of the chunk being processed (the rate limiter's clock).
    private var chunkClockMs: Int64 = 0
    /// Programs reading `currentTimeMillis()`.
    private lazy var clockPrograms: [VectorProgram] = {
        var all = [filter, havingProgram].compactMap { $0 }
        all += projectionPrograms.compactMap { $0 }
        all += argumentPrograms.compactMap { $0 }
        return all.filter(\.usesClock)
    }()

    private func setClock(_ clockMs: Int64?) {
        for p in clockPrograms { p.clockMs = clockMs }
    }

    /// The next time (ms) at which a timer must fire, if any.
    var nextTimerMs: Int64? {
        let window = windowTimerMs
        guard let due = limiter?.nextTimerMs else { return window }
        return window.map { min($0, due) } ?? due
    }

    private var windowTimerMs: Int64? {
        switch plan.window {
        case .time(let t), .timeLength(let t, _), .delay(let t): return store.oldestArrivalMs.map { $0 + t }
        case .timeBatch(let t): return batchStartMs.map { $0 + t }
        case .cron: return batchStartMs
        case .session(let gap, _, let latency): return sessions.map { $0.lastMs + gap + latency }.min()
        default: return nil
        }
    }

    // MARK: Chunk planning (pass 1: which rows, no values copied)

    @inline(__always)
    private func plan(_ source: Int, _ kind: ChunkRowKind, stamp: Int64) {
        if kind == .expired && !keepsExpired { return }  // nobody reads it: skip the copy
        planned.add(source, kind, stamp)
    }

    /// Batch windows: the previous batch expires, RESET, the filled batch becomes current.
    private func planFlush(stampMs: Int64, reset: Bool = true) {
        let filled = virtualTail - virtualHead - previousCount
        guard previousCount > 0 || filled > 0 else { return }
        if !reset && filled == 0 { return }  // cron: an empty fire emits nothing, the old batch stays
        for v in virtualHead..<(virtualHead + previousCount) { plan(v, .expired, stamp: stampMs) }
        if reset { plan(-1, .reset, stamp: stampMs) }
        for v in (virtualHead + previousCount)..<virtualTail { plan(v, .current, stamp: -1) }
        virtualHead += previousCount
        previousCount = filled
    }

    private func planTimers(_ clockMs: Int64, arrival: (Int) -> Int64) {
        switch plan.window {
        case .time(let t):
            // A chunk holds at most EventBatch.capacityMax expiries: a clock jump that expires more
            // leaves the rest for the next arrival or tick (AppRuntime ticks until none is due).
            let expiriesMax = EventBatch.capacityMax + 2 * chunkInputRows
            while virtualHead < virtualTail, planned.count < expiriesMax, arrival(virtualHead) + t <= clockMs {
                plan(virtualHead, .expired, stamp: clockMs)
                virtualHead += 1
            }
        case .timeLength(let t, _):
            while virtualHead < virtualTail, arrival(virtualHead) + t <= clockMs {
                plan(virtualHead, .expired, stamp: clockMs)
                virtualHead += 1
            }
        case .delay(let t):
            // Released events are emitted as current events at the clock; they never expire.
            while virtualHead < virtualTail, arrival(virtualHead) + t <= clockMs {
                plan(virtualHead, .current, stamp: clockMs)
                virtualHead += 1
            }
        case .timeBatch(let t):
            while let start = batchStartMs, start + t <= clockMs {
                planFlush(stampMs: start + t)
                // Periods stay aligned to the first event; empty periods are skipped in one step.
                let live = virtualTail - virtualHead > 0
                batchStartMs = live ? start + t : start + max(1, (clockMs - start) / t) * t
            }
        case .cron(let schedule):
            while let due = batchStartMs, due <= clockMs {
                planFlush(stampMs: due, reset: false)
                // Later fires up to the clock find nothing held: skip to the first after it.
                batchStartMs = schedule.next(after: clockMs)
            }
        default:
            break
        }
    }

    /// Moves time-based windows to `clockMs` and returns what their timers emit.
    func advanceTime(to clockMs: Int64) -> EventBatch? {
        chunkClockMs = clockMs
        setClock(clockMs)
        var out: EventBatch? = nil
        if let next = windowTimerMs, next <= clockMs {
            out = run(EventBatch(schema: plan.input), clockMs: clockMs, playback: false, timerOnly: true)
        }
        // The rate limiter's period ends after what the window emitted at the same instant.
        if let limiter, let due = limiter.nextTimerMs, due <= clockMs, let ticked = limiter.tick(clockMs: clockMs) {
            guard var merged = out else { return ticked }
            for r in 0..<ticked.count { merged.append(timestamp: ticked.timestamps[r], values: ticked.row(r)) }
            out = merged
        }
        return out
    }

    /// Processes one input batch (one chunk) at `clockMs`; in playback each event's own timestamp is
    /// the clock for it.
    func process(_ input: EventBatch, clockMs: Int64, playback: Bool) -> EventBatch? {
        chunkClockMs = playback ? max(clockMs, input.timestamps.last ?? clockMs) : clockMs
        setClock(playback ? nil : clockMs)
        var batch = input
        if let filter {
            filter.evaluate(input)
            let keep = filter.resultValues
            selection.removeAll(keepingCapacity: true)
            for i in 0..<input.count where keep[i] & 1 == 1 { selection.append(Int32(truncatingIfNeeded: i)) }
            guard !selection.isEmpty else { return nil }
            if selection.count < input.count {
                selection.withUnsafeBufferPointer { filtered.gather($0, from: input) }
                batch = filtered
            }
        }
        return run(batch, clockMs: clockMs, playback: playback, timerOnly: false)
    }

    /// A chunk made elsewhere (a join's pairs), with each row's kind: for window-less selectors.
    /// Expired rows subtract from aggregates; `insert [current|expired|all] events` picks the output.
    func processChunk(_ batch: EventBatch, kinds: [UInt8], clockMs: Int64, playback: Bool) -> EventBatch? {
        precondition(plan.window == nil && kinds.count == batch.count, "processChunk needs a window-less plan")
        chunkClockMs = playback ? max(clockMs, batch.timestamps.last ?? clockMs) : clockMs
        setClock(playback ? nil : clockMs)
        planned.fillCurrent(batch.count)
        kinds.withUnsafeBufferPointer { planned.kinds.update(from: $0.baseAddress!, count: batch.count) }
        chunk = batch
        defer { chunk = idleChunk }
        return finishChunk()
    }

    private func run(_ batch: EventBatch, clockMs: Int64, playback: Bool, timerOnly: Bool) -> EventBatch? {
        switch plan.window {
        case .session(let gap, let key, let latency):
            return runSessions(batch, clockMs: clockMs, playback: playback, gapMs: gap, keyColumn: key, latencyMs: latency)
        case .lossyFrequent, .frequent, .sort:
            return runCounting(batch, clockMs: clockMs, playback: playback)
        case .expression, .expressionBatch:
            return runConditioned(batch, clockMs: clockMs, playback: playback)
        case .lengthBatch where eagerBatch, .timeBatch where eagerBatch:
            return runEagerBatch(batch, clockMs: clockMs, playback: playback)
        case .length, .time:
            if !timerOnly, let sliding { return runSliding(batch, sliding, clockMs: clockMs, playback: playback) }
        default:
            break
        }
        let n = batch.count
        planned.count = 0
        let q = store.count
        chunkInputRows = n
        queueAtStart = q
        virtualHead = 0
        virtualTail = q
        let store = self.store
        // External-time windows take time from an attribute of the event, the others from the clock.
        var externalColumn: Int? = nil
        switch plan.window {
        case .externalTime(let c, _), .externalTimeBatch(let c, _, _): externalColumn = c
        default: break
        }
        let external: [UInt64] = externalColumn.map { batch.columns[$0] } ?? []
        batch.timestamps.withUnsafeBufferPointer { ts in
            let arrival: (Int) -> Int64 = { v in
                if v < q { return store.arrival(v) }
                if externalColumn != nil { return Int64(bitPattern: external[v - q]) }
                return playback ? ts[v - q] : clockMs
            }
            if timerOnly { planTimers(clockMs, arrival: arrival) }
            let window = plan.window  // read once: a per-row read copies the enum's payload
            for r in 0..<n {
                let now = playback ? ts[r] : clockMs
                let v = q + r
                switch window {
                case nil:
                    plan(v, .current, stamp: -1)
                    virtualHead = v + 1  // nothing is kept
                    virtualTail = v + 1
                case .length(let size):
                    if virtualTail - virtualHead == size {
                        plan(virtualHead, .expired, stamp: now)
                        virtualHead += 1
                    }
                    plan(v, .current, stamp: -1)
                    virtualTail = v + 1
                case .time(let t):
                    // Expire inline (the hot path of time windows); same rule as planTimers.
                    let expiriesMax = EventBatch.capacityMax + 2 * n
                    let arrivals = store.arrivals, mask = store.capacity - 1, head = store.head
                    while virtualHead < virtualTail, planned.count < expiriesMax {
                        let arrived = virtualHead < q ? arrivals[(head + virtualHead) & mask] : (playback ? ts[virtualHead - q] : clockMs)
                        if arrived + t > now { break }
                        plan(virtualHead, .expired, stamp: now)
                        virtualHead += 1
                    }
                    plan(v, .current, stamp: -1)
                    virtualTail = v + 1
                case .lengthBatch(let size):
                    virtualTail = v + 1
                    if virtualTail - virtualHead - previousCount == size { planFlush(stampMs: now) }
                case .timeBatch:
                    planTimers(now, arrival: arrival)
                    if batchStartMs == nil { batchStartMs = now }
                    virtualTail = v + 1
                case .externalTime(_, let t):
                    let eventTime = arrival(v)
                    while virtualHead < virtualTail, arrival(virtualHead) + t <= eventTime {
                        plan(virtualHead, .expired, stamp: eventTime)
                        virtualHead += 1
                    }
                    plan(v, .current, stamp: -1)
                    virtualTail = v + 1
                case .externalTimeBatch(_, let t, let start):
                    let eventTime = arrival(v)
                    if batchStartMs == nil {
                        batchStartMs = start.map { $0 + ((eventTime - $0) / t) * t - (eventTime < $0 && (eventTime - $0) % t != 0 ? t : 0) } ?? eventTime
                    }
                    if let begin = batchStartMs, eventTime >= begin + t {
                        planFlush(stampMs: eventTime)
                        batchStartMs = begin + ((eventTime - begin) / t) * t  // the period holding this event
                    }
                    virtualTail = v + 1
                case .timeLength(_, let size):
                    planTimers(now, arrival: arrival)
                    if virtualTail - virtualHead == size {
                        plan(virtualHead, .expired, stamp: now)
                        virtualHead += 1
                    }
                    plan(v, .current, stamp: -1)
                    virtualTail = v + 1
                case .cron(let schedule):
                    planTimers(now, arrival: arrival)
                    if batchStartMs == nil { batchStartMs = schedule.next(after: now) }
                    virtualTail = v + 1
                case .batch:
                    virtualTail = v + 1
                case .delay:
                    planTimers(now, arrival: arrival)  // releases what is due
                    virtualTail = v + 1                // held, not emitted yet
                case .session, .lossyFrequent, .frequent, .sort, .expression, .expressionBatch:
                    preconditionFailure("these windows run row by row (runSessions, runCounting, runConditioned)")
                }
            }
            if case .batch = plan.window, n > 0 { planFlush(stampMs: playback ? ts[n - 1] : clockMs) }
        }
        fillChunk(batch)
        if postFilter != nil { applyPostFilter() }
        useHints = carriesGroups && planned.count > 0
        let out = finishChunk()
        useHints = false
        // Pass 3: the queue drops what expired and keeps what arrived and is still held, with the
        // group ids found for the arrivals.
        var rowGroups: UnsafePointer<Int32>? = nil
        if carriesGroups && n > 0 {
            inputGroups.removeAll(keepingCapacity: true)
            inputGroups.append(contentsOf: repeatElement(-1, count: n))
            if chunk.count > 0 && groupOf.count == planned.count {
                let src = planned.sources
                for k in 0..<planned.count {
                    let v = Int(src[k])
                    if v >= q { inputGroups[v - q] = groupOf[k] }
                }
            }
        }
        store.removeOldest(min(virtualHead, q))
        let firstKept = max(virtualHead, q) - q
        if firstKept < n {
            let ts = batch.timestamps
            inputGroups.withUnsafeBufferPointer { ids in
                if carriesGroups { rowGroups = ids.baseAddress }
                store.append(batch, rows: firstKept..<n, groupIds: rowGroups) { r in
                    externalColumn != nil ? Int64(bitPattern: external[r]) : (playback ? ts[r] : clockMs)
                }
            }
        }
        return out
    }

    /// Pass 2: copies every planned row's values into `chunk`, column by column, over raw memory.
    func fillChunk(_ batch: EventBatch) {
        let m = planned.count
        chunk.reset(count: m)
        guard m > 0 else { return }
        let q = queueAtStart
        let store = self.store
        let storeArenaBytes = store.arena.count
        if !store.stringColumns.isEmpty {
            chunk.stringBytes.append(contentsOf: store.arena)
            chunk.stringBytes.append(contentsOf: batch.stringBytes)
        }
        let inputShift = UInt64(storeArenaBytes) << 32
        do {
            let src = planned.sources, stamp = planned.stamps
            if carriesGroups {
                // Rows coming from the window already know their group; arrivals are looked up.
                groupHints.removeAll(keepingCapacity: true)
                groupHints.append(contentsOf: repeatElement(-1, count: m))
                let ids = store.groupIds
                groupHints.withUnsafeMutableBufferPointer { hint in
                    for k in 0..<m {
                        let v = Int(src[k])
                        if v >= 0 && v < q { hint[k] = ids[store.at(v)] }
                    }
                }
            }
            do {
                batch.timestamps.withUnsafeBufferPointer { ts in
                    chunk.timestamps.withUnsafeMutableBufferPointer { out in
                        for k in 0..<m {
                            let v = Int(src[k])
                            if stamp[k] >= 0 { out[k] = stamp[k] } else { out[k] = v < q ? store.timestamps[store.at(v)] : ts[v - q] }
                        }
                    }
                }
            }
            for c in 0..<store.width {
                let isString = store.stringColumns.contains(c)
                let storeColumn = store.columns[c], storeNulls = store.nulls[c]
                let inputNulls = batch.nulls[c]
                var anyNull = !inputNulls.isEmpty
                batch.columns[c].withUnsafeBufferPointer { input in
                    chunk.columns[c].withUnsafeMutableBufferPointer { out in
                        for k in 0..<m {
                            let v = Int(src[k])
                            if v < 0 {
                                out[k] = 0
                            } else if v < q {
                                let a = store.at(v)
                                out[k] = storeColumn[a]
                                if storeNulls[a] != 0 { anyNull = true }
                            } else {
                                out[k] = isString ? input[v - q] &+ inputShift : input[v - q]
                            }
                        }
                    }
                }
                if anyNull {
                    var mask = [UInt8](repeating: 0, count: m)
                    for k in 0..<m {
                        let v = Int(src[k])
                        if v < 0 { continue }
                        if v < q { mask[k] = storeNulls[store.at(v)] } else if !inputNulls.isEmpty { mask[k] = inputNulls[v - q] }
                    }
                    chunk.nulls[c] = mask
                }
            }
        }
    }

    /// Drops the chunk rows the filter after the window rejects, from the chunk and its plan
    /// alike: they reach neither the aggregates nor the output (the window still holds them).
    private func applyPostFilter() {
        let m = chunk.count
        guard m > 0, let postFilter else { return }
        let keep = postFilter.evaluateCondition(chunk)
        let kinds = planned.kinds, sources = planned.sources, stamps = planned.stamps
        postSelection.removeAll(keepingCapacity: true)
        for k in 0..<m where kinds[k] == ChunkRowKind.reset.rawValue || keep[k] & 1 == 1 { postSelection.append(Int32(k)) }
        guard postSelection.count < m else { return }
        postSelection.withUnsafeBufferPointer { postFiltered.gather($0, from: chunk) }
        swap(&chunk, &postFiltered)
        // Kept rows move down in order, so the plan compacts in place.
        let hinted = carriesGroups && groupHints.count == m
        for (to, from) in postSelection.enumerated() {
            let k = Int(from)
            kinds[to] = kinds[k]
            sources[to] = sources[k]
            stamps[to] = stamps[k]
            if hinted { groupHints[to] = groupHints[k] }
        }
        planned.count = postSelection.count
        if hinted { groupHints.removeLast(m - postSelection.count) }
    }

    // MARK: Session windows

    /// One key's open session: its events (kept as boxed rows: sessions are not the hot path).
    struct Session {
        var key: UInt64
        var lastMs: Int64
        var rows: [(Int64, [Value])]
    }

    private var sessions: [Session] = []
    private var sessionInterner = StringInterner()

    private func sessionKey(_ batch: EventBatch, _ row: Int, _ column: Int?) -> UInt64 {
        guard let column else { return 0 }
        if batch.isNull(column, row) { return GroupTable.nullPart }
        if batch.schema.attributes[column].type.isTextual {
            return UInt64(batch.withStringBytes(column, row) { sessionInterner.id($0) })
        }
        return batch.columns[column][row]
    }

    /// Sessions are chunked like the other windows, but built row by row: expiring sessions (their
    /// events as expired rows with their own timestamps, earliest expiry first), then each arrival.
    private func runSessions(_ batch: EventBatch, clockMs: Int64, playback: Bool, gapMs: Int64, keyColumn: Int?,
                             latencyMs: Int64) -> EventBatch? {
        chunk.removeAll()
        planned.count = 0
        func expire(upTo now: Int64) {
            // Cheap check first: most arrivals expire nothing.
            guard let due = nextTimerMs, due <= now else { return }
            while let i = sessions.indices.filter({ sessions[$0].lastMs + gapMs + latencyMs <= now })
                .min(by: { sessions[$0].lastMs < sessions[$1].lastMs }) {
                let session = sessions.remove(at: i)
                guard keepsExpired else { continue }
                for (t, values) in session.rows {
                    chunk.append(timestamp: t, values: values)
                    planned.add(0, .expired, -1)
                }
            }
        }
        expire(upTo: batch.count == 0 ? clockMs : (playback ? batch.timestamps[0] : clockMs))
        for r in 0..<batch.count {
            let now = playback ? batch.timestamps[r] : clockMs
            expire(upTo: now)
            let key = sessionKey(batch, r, keyColumn)
            let row = (batch.timestamps[r], batch.row(r))
            if let i = sessions.firstIndex(where: { $0.key == key }) {
                sessions[i].rows.append(row)
                sessions[i].lastMs = max(sessions[i].lastMs, now)
            } else {
                sessions.append(Session(key: key, lastMs: now, rows: [row]))
            }
            chunk.append(timestamp: row.0, values: row.1)
            planned.add(0, .current, -1)
        }
        return finishChunk()
    }

    // MARK: Frequency and sort windows

    /// lossyFrequent / frequent: per key its count, Lossy Counting's delta, and its latest event.
    struct Counted {
        var count: Int64
        var delta: Int64
        var row: (Int64, [Value])
    }

    private var counted: [[UInt64]: Counted] = [:]
    private var countedTotal: Int64 = 0
    /// sort: the held events in order.
    private var sorted: [(Int64, [Value])] = []

    /// Oldest event first, then key order: a deterministic order for pruning and decrementing.
    private static func oldestFirst(_ a: (key: [UInt64], value: Counted), _ b: (key: [UInt64], value: Counted)) -> Bool {
        a.value.row.0 != b.value.row.0 ? a.value.row.0 < b.value.row.0 : a.key.lexicographicallyPrecedes(b.key)
    }

    private func countingKey(_ batch: EventBatch, _ row: Int, _ columns: [Int]) -> [UInt64] {
        columns.map { c in
            if batch.isNull(c, row) { return GroupTable.nullPart }
            if batch.schema.attributes[c].type.isTextual { return UInt64(batch.withStringBytes(c, row) { sessionInterner.id($0) }) }
            return batch.columns[c][row]
        }
    }

    private func emitRow(_ row: (Int64, [Value]), _ kind: ChunkRowKind, stampMs: Int64? = nil) {
        if kind == .expired && !keepsExpired { return }
        chunk.append(timestamp: stampMs ?? row.0, values: row.1)
        planned.add(0, kind, -1)
    }

    private static func less(_ a: [Value], _ b: [Value], _ keys: [(column: Int, ascending: Bool)]) -> Bool {
        for (c, ascending) in keys {
            let order = compareValues(a[c], b[c])
            if order != 0 { return ascending ? order < 0 : order > 0 }
        }
        return false
    }

    private static func compareValues(_ a: Value, _ b: Value) -> Int {
        func number(_ v: Value) -> Double? {
            switch v {
            case .int(let x): Double(x)
            case .long(let x): Double(x)
            case .float(let x): Double(x)
            case .double(let x): x
            case .bool(let x): x ? 1 : 0
            default: nil
            }
        }
        switch (a, b) {
        case (.null, .null): return 0
        case (.null, _): return -1
        case (_, .null): return 1
        case (.string(let x), .string(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        default:
            let x = number(a) ?? 0, y = number(b) ?? 0
            return x < y ? -1 : (x > y ? 1 : 0)
        }
    }

    private func runCounting(_ batch: EventBatch, clockMs: Int64, playback: Bool) -> EventBatch? {
        chunk.removeAll()
        planned.count = 0
        for r in 0..<batch.count {
            let now = playback ? batch.timestamps[r] : clockMs
            let row = (batch.timestamps[r], batch.row(r))
            switch plan.window {
            case .lossyFrequent(let support, let error, let keys):
                let key = countingKey(batch, r, keys)
                countedTotal += 1
                let width = Int64((1 / error).rounded(.up))
                let bucket = (countedTotal + width - 1) / width
                if var entry = counted[key] {
                    emitRow(entry.row, .expired, stampMs: now)
                    entry.count += 1
                    entry.row = row
                    counted[key] = entry
                } else {
                    counted[key] = Counted(count: 1, delta: bucket - 1, row: row)
                }
                if countedTotal % width == 0 {
                    // Pruned in a stable order (oldest event first) so output never depends on hashing.
                    for (k, entry) in counted.filter({ $0.value.count + $0.value.delta <= bucket })
                        .sorted(by: StatefulQuery.oldestFirst) {
                        counted[k] = nil
                        emitRow(entry.row, .expired, stampMs: now)
                    }
                }
                if let entry = counted[key], Double(entry.count) >= (support - error) * Double(countedTotal) {
                    emitRow(row, .current)
                }
            case .frequent(let n, let keys):
                let key = countingKey(batch, r, keys)
                if var entry = counted[key] {
                    emitRow(entry.row, .expired, stampMs: now)
                    entry.count += 1
                    entry.row = row
                    counted[key] = entry
                    emitRow(row, .current)
                } else if counted.count < n {
                    counted[key] = Counted(count: 1, delta: 0, row: row)
                    emitRow(row, .current)
                } else {
                    // Misra–Gries: every key loses one; keys at zero leave (their event expires).
                    for (k, var entry) in counted.sorted(by: StatefulQuery.oldestFirst) {
                        entry.count -= 1
                        if entry.count <= 0 {
                            counted[k] = nil
                            emitRow(entry.row, .expired, stampMs: now)
                        } else {
                            counted[k] = entry
                        }
                    }
                    if counted.count < n {
                        counted[key] = Counted(count: 1, delta: 0, row: row)
                        emitRow(row, .current)
                    }
                }
            case .sort(let n, let keys):
                let index = sorted.firstIndex { StatefulQuery.less(row.1, $0.1, keys) } ?? sorted.count
                sorted.insert(row, at: index)
                emitRow(row, .current)
                if sorted.count > n { emitRow(sorted.removeLast(), .expired, stampMs: now) }
            default:
                preconditionFailure("not a counting window")
            }
        }
        return finishChunk()
    }

    // MARK: Batch windows aggregated on arrival

    /// lengthBatch / timeBatch with only attributes and aggregates selected and no expired rows
    /// emitted: each arrival updates the aggregates at once and the group's pending row; a flush
    /// emits the pending rows (Siddhi's collapse: the last row of each group, groups in first-seen
    /// order, aggregates as of that row, which is the batch's end) and restarts the aggregates, as
    /// the RESET would. Same output as planning the whole batch at the flush, without holding it.
    private let eagerBatch: Bool
    /// Rows aggregated into the running batch.
    private var pendingCount = 0
    /// One row per group of the running batch (its latest row; aggregate columns filled at flush).
    private var pending: EventBatch
    /// Groups of the running batch, first seen first; and per group its row in `pending` (-1: none).
    private var pendingOrder: [Int32] = []
    private var pendingSlot: [Int32] = []
    /// Per group, its latest row in the input batch being processed (-1: none yet).
    private var latestRow: [Int32] = []
    private var touched: [Int32] = []
    private var eagerOutputs: [EventBatch] = []
    /// An empty batch `chunk` points to between eager runs (so no input batch stays referenced).
    lazy var idleChunk = EventBatch(schema: plan.input)

    private func runEagerBatch(_ batch: EventBatch, clockMs: Int64, playback: Bool) -> EventBatch? {
        eagerOutputs.removeAll(keepingCapacity: true)
        let n = batch.count
        let stepMs: Int64
        let size: Int
        switch plan.window {
        case .lengthBatch(let s): size = s; stepMs = 0
        case .timeBatch(let t): size = Int.max; stepMs = t
        default: preconditionFailure("not an eager batch window")
        }
        if n == 0 {
            if stepMs > 0 { flushDue(clockMs, stepMs: stepMs) }
            return mergedEagerOutputs()
        }
        chunk = batch
        // Drop the reference to the input at the end: its producer reuses the storage.
        defer { chunk = idleChunk }
        planned.fillCurrent(n)
        groupIds()
        if latestRow.count < groups.count { latestRow.append(contentsOf: repeatElement(-1, count: groups.count - latestRow.count)) }
        if pendingSlot.count < groups.count { pendingSlot.append(contentsOf: repeatElement(-1, count: groups.count - pendingSlot.count)) }
        // Aggregate arguments over the whole batch at once; segments use offsets into them.
        var argumentValues: [UnsafePointer<UInt64>?] = []
        var argumentNulls: [UnsafePointer<UInt8>?] = []
        var interned: [[UInt64]] = []
        var directColumns = [Int](repeating: -1, count: argumentPrograms.count)
        for (k, program) in argumentPrograms.enumerated() {
            guard let program else {
                argumentValues.append(nil); argumentNulls.append(nil); interned.append([])
                continue
            }
            if case .column(let c, let type)? = plan.aggregates[k].argument, !type.isTextual, batch.nulls[c].isEmpty {
                // A plain attribute: aggregateSegment reads the chunk's column in place.
                argumentValues.append(nil); argumentNulls.append(nil); interned.append([])
                directColumns[k] = c
                continue
            }
            program.evaluate(chunk)
            argumentValues.append(program.resultValues)
            argumentNulls.append(program.resultNulls)
            interned.append(program.resultType.isTextual ? self.interned(program: program) : [])
        }
        var a = 0
        while a < n {
            var b = n
            if stepMs > 0 {
                // A row whose time ends the running period flushes it first (playback: per row).
                let now = playback ? batch.timestamps[a] : clockMs
                flushDue(now, stepMs: stepMs)
                if batchStartMs == nil { batchStartMs = now }
                if playback {
                    let end = batchStartMs! + stepMs
                    b = a + 1
                    while b < n, batch.timestamps[b] < end { b += 1 }
                }
            } else {
                b = min(n, a + (size - pendingCount))
            }
            aggregateSegment(a..<b, argumentValues, argumentNulls, interned, directColumns)
            pendingCount += b - a
            if stepMs == 0, pendingCount == size { flushPending() }
            a = b
        }
        return mergedEagerOutputs()
    }

    /// timeBatch: ends every period that is over at `clockMs` (empty periods skipped in one step).
    private func flushDue(_ clockMs: Int64, stepMs: Int64) {
        while let start = batchStartMs, start + stepMs <= clockMs {
            let live = pendingCount > 0
            flushPending()
            batchStartMs = live ? start + stepMs : start + max(1, (clockMs - start) / stepMs) * stepMs
        }
    }

    private func aggregateSegment(_ rows: Range<Int>, _ values: [UnsafePointer<UInt64>?], _ nulls: [UnsafePointer<UInt8>?],
                                  _ interned: [[UInt64]], _ directColumns: [Int]) {
        let count = rows.count
        guard count > 0 else { return }
        let a = rows.lowerBound
        let groupCount = groups.count
        groupOf.withUnsafeBufferPointer { gr in
            let g0 = gr.baseAddress! + a
            let kinds = UnsafePointer(planned.kinds) + a
            latestRow.withUnsafeBufferPointer { never in
                // Nothing is captured mid-batch (values are read at the flush).
                for (k, aggregator) in aggregators.enumerated() {
                    func update(_ v: UnsafePointer<UInt64>?) {
                        aggregator.add(rows: count, groups: g0, groupCount: groupCount, values: v, nulls: nulls[k].map { $0 + a },
                                       currentKinds: kinds, noCapture: never.baseAddress!)
                    }
                    if directColumns[k] >= 0 {
                        chunk.columns[directColumns[k]].withUnsafeBufferPointer { update($0.baseAddress! + a) }
                    } else if interned[k].isEmpty {
                        update(values[k].map { $0 + a })
                    } else {
                        interned[k].withUnsafeBufferPointer { update($0.baseAddress! + a) }
                    }
                }
            }
            // Each group's latest row of the segment becomes its pending row.
            var touched = self.touched
            self.touched = []  // held uniquely while appending
            latestRow.withUnsafeMutableBufferPointer { latest in
                for i in rows {
                    let g = Int(gr[i])
                    if latest[g] < 0 { touched.append(Int32(g)) }
                    latest[g] = Int32(i)
                }
            }
            self.touched = touched
        }
        let projections = plan.projections
        for g32 in touched {
            let g = Int(g32), r = Int(latestRow[g])
            latestRow[g] = -1
            var slot = Int(pendingSlot[g])
            if slot < 0 {
                slot = pending.appendRow(timestamp: 0)
                pendingSlot[g] = Int32(slot)
                pendingOrder.append(g32)
            }
            pending.timestamps[slot] = chunk.timestamps[r]
            for (o, projection) in projections.enumerated() {
                guard case .column(let c, let type) = projection else { continue }
                if chunk.isNull(c, r) {
                    pending.setNull(o, slot)
                } else if type.isTextual {
                    pending.setNull(o, slot, false)
                    chunk.withStringBytes(c, r) { pending.setString(o, slot, utf8: $0) }
                } else {
                    pending.setNull(o, slot, false)
                    pending.columns[o][slot] = chunk.columns[c][r]
                }
            }
        }
        touched.removeAll(keepingCapacity: true)
    }

    /// Emits the running batch's pending rows (through having, order by, limit and the rate
    /// limiter) and restarts the aggregates.
    private func flushPending() {
        defer {
            for a in aggregators { a.reset() }
            for g in pendingOrder { pendingSlot[Int(g)] = -1 }
            pendingOrder.removeAll(keepingCapacity: true)
            pending.removeAll()
            pendingCount = 0
        }
        guard !pendingOrder.isEmpty else { return }
        output = pending
        for (o, projection) in plan.projections.enumerated() {
            guard case .aggregate(let k, _) = projection else { continue }
            for (slot, g) in pendingOrder.enumerated() {
                let (bits, isNull) = aggregators[k].value(Int(g))
                if isNull { output.setNull(o, slot) } else { output.setNull(o, slot, false); output.columns[o][slot] = bits }
            }
        }
        outputGroups.removeAll(keepingCapacity: true)
        outputGroups.append(contentsOf: pendingOrder)
        outputKinds.removeAll(keepingCapacity: true)
        if let shaped = shape() { eagerOutputs.append(shaped) }
    }

    private func mergedEagerOutputs() -> EventBatch? {
        guard var first = eagerOutputs.first else { return nil }
        for extra in eagerOutputs.dropFirst() {
            for r in 0..<extra.count { first.append(timestamp: extra.timestamps[r], values: extra.row(r)) }
        }
        return first
    }

    // MARK: Expression windows

    private let conditionEvaluator: WindowConditionEvaluator?
    /// Expression windows hold at most this many events: past it the oldest expire (expression) or
    /// the batch flushes (expressionBatch), as if the condition had failed.
    static let conditionHeldMax = 1 << 20
    /// expression: the events held, oldest first. expressionBatch: the batch being filled.
    private var conditionHeld: [(Int64, [Value])] = []
    /// expressionBatch: the previous batch (expires at the next flush).
    private var conditionExpired: [(Int64, [Value])] = []
    /// expressionBatch: the events the condition's aggregates run over (Siddhi's aggregator state,
    /// which after a flush holds the triggering event even when it went out with the batch).
    private var conditionAggregated: [(Int64, [Value])] = []

    /// expression / expressionBatch, row by row, with Siddhi's chunk order: expired rows before the
    /// arrival (sliding), or the expired previous batch then the flushed batch (batch).
    private func runConditioned(_ batch: EventBatch, clockMs: Int64, playback: Bool) -> EventBatch? {
        chunk.removeAll()
        planned.count = 0
        let evaluator = conditionEvaluator!
        for r in 0..<batch.count {
            let now = playback ? batch.timestamps[r] : clockMs
            let row = (batch.timestamps[r], batch.row(r))
            switch plan.window {
            case .expression:
                conditionHeld.append(row)
                let full = conditionHeld.count > StatefulQuery.conditionHeldMax
                if full || !evaluator.holds(event: row, first: conditionHeld[0], last: row, aggregated: conditionHeld[...]) {
                    var removed = 0
                    while removed < conditionHeld.count {
                        let oldest = conditionHeld[removed]
                        removed += 1
                        emitRow(oldest, .expired, stampMs: now)
                        let rest = conditionHeld[removed...]
                        if rest.count <= StatefulQuery.conditionHeldMax,
                           evaluator.holds(event: oldest, first: rest.first ?? oldest, last: row, aggregated: rest) { break }
                    }
                    conditionHeld.removeFirst(removed)
                }
                emitRow(row, .current)
            case .expressionBatch(_, let includeTriggering, true):
                // Streamed: arrivals go out at once; `conditionExpired` holds the running batch to expire.
                conditionAggregated.append(row)
                if conditionExpired.count < StatefulQuery.conditionHeldMax, evaluator.holds(
                    event: row, first: conditionExpired.first ?? row, last: row, aggregated: conditionAggregated[...]) {
                    conditionExpired.append(row)
                    emitRow(row, .current)
                    continue
                }
                conditionAggregated = [row]
                if conditionExpired.isEmpty {
                    emitRow(row, .expired, stampMs: now)
                    emitRow(row, .current, stampMs: now)
                } else if includeTriggering {
                    emitRow(row, .current)
                    for old in conditionExpired { emitRow(old, .expired, stampMs: now) }
                    emitRow(row, .expired, stampMs: now)
                    conditionExpired.removeAll()
                } else {
                    for old in conditionExpired { emitRow(old, .expired, stampMs: now) }
                    emitRow(row, .current)
                    conditionExpired = [row]
                }
            case .expressionBatch(_, let includeTriggering, false):
                conditionAggregated.append(row)
                if conditionHeld.count < StatefulQuery.conditionHeldMax, evaluator.holds(event: row, first: conditionHeld.first ?? row, last: row, aggregated: conditionAggregated[...]) {
                    conditionHeld.append(row)
                    continue
                }
                conditionAggregated = [row]
                for old in conditionExpired { emitRow(old, .expired, stampMs: now) }
                conditionExpired.removeAll()
                if conditionHeld.isEmpty {
                    emitRow(row, .expired, stampMs: now)
                    emitRow(row, .current, stampMs: now)
                    continue
                }
                // The flushed batch goes out stamped with the clock and becomes the next expiry.
                for held in conditionHeld {
                    emitRow(held, .current, stampMs: now)
                    conditionExpired.append((now, held.1))
                }
                conditionHeld.removeAll()
                if includeTriggering {
                    emitRow(row, .current)
                    conditionExpired.append((now, row.1))
                } else {
                    conditionHeld.append(row)
                }
            default:
                preconditionFailure("not an expression window")
            }
        }
        return finishChunk()
    }

    // MARK: Selection

    var groupOf: [Int32] = []
    private var lastEmitted: [Int32] = []
    private var groupOrder: [Int32] = []
    /// Per group, its row in the output of the current chunk.
    private var outputPosition: [Int] = []
    private var outputRows: [Int32] = []
    /// Group id of each output row (for per-group output rates).
    private var outputGroups: [Int32] = []
    /// Chunk kind of each output row, only when the rate limiter tracks the window.
    private var outputKinds: [UInt8] = []
    private var limiter: RateLimiter?
    /// `having`, compiled once (it runs over each output chunk).
    private let havingProgram: VectorProgram?
    private var keyParts: [UInt64] = []

    @inline(__always)
    private func emitted(_ kind: UInt8) -> Bool {
        kind == ChunkRowKind.current.rawValue ? emitsCurrent : kind == ChunkRowKind.expired.rawValue && emitsExpired
    }

    private var keyScratch: [UInt64] = []
    /// Sliding windows with aggregates and group by carry each row's group id in the window, so
    /// expiring rows skip the key lookup (strings interned once per event, not twice).
    lazy var carriesGroups: Bool = !aggregators.isEmpty && !plan.groupBy.isEmpty
    /// Per chunk row, its group id when known before `groupIds` (rows from the window), else -1.
    private var groupHints: [Int32] = []
    /// Whether `groupHints` belongs to the chunk being finished (set by fillChunk).
    var useHints = false
    /// Per input row, the group id `groupIds` found for it (for the window to carry), else -1.
    var inputGroups: [Int32] = []
    /// distinctCount over strings compares interned ids; kept apart from the group keys' interner,
    /// whose ids double as group ids.
    private var valueInterner = StringInterner()

    /// Group id of every chunk row: key parts gathered column by column (strings interned), then
    /// one table lookup per row, all over raw buffers.
    func groupIds() {
        let n = chunk.count
        groupOf.removeAll(keepingCapacity: true)
        groupOf.append(contentsOf: repeatElement(0, count: n))
        if plan.groupBy.isEmpty {
            if groups.count == 0 { _ = [UInt64(0)].withUnsafeBufferPointer { groups.id($0) } }
            return
        }
        let keyColumns = plan.groupBy
        let width = keyColumns.count
        if keyScratch.count < n * width { keyScratch = Array(repeating: 0, count: n * width) }
        let chunk = self.chunk
        // One string key: the interned id is the group id (both are dense, in first-seen order).
        if width == 1, chunk.schema.attributes[keyColumns[0]].type.isTextual, chunk.nulls[keyColumns[0]].isEmpty {
            chunk.columns[keyColumns[0]].withUnsafeBufferPointer { column in
                chunk.stringBytes.withUnsafeBytes { arena in
                    groupOf.withUnsafeMutableBufferPointer { out in
                        // Rows from the window keep the group they had (restored rows have none).
                        groupHints.withUnsafeBufferPointer { hints in
                            groups.interner.ids(slots: column.baseAddress!, count: n, arena: arena, skip: planned.kinds,
                                                hints: useHints ? hints.baseAddress : nil, into: out.baseAddress!)
                        }
                    }
                }
            }
            // Interned ids are group ids: register the strings first seen in this chunk, in order.
            while groups.count < groups.interner.count { _ = [UInt64(groups.count)].withUnsafeBufferPointer { groups.id($0) } }
            return
        }
        keyScratch.withUnsafeMutableBufferPointer { parts in
            for (k, c) in keyColumns.enumerated() {
                let isString = chunk.schema.attributes[c].type.isTextual
                let nulls = chunk.nulls[c]
                chunk.columns[c].withUnsafeBufferPointer { column in
                    if isString {
                        chunk.stringBytes.withUnsafeBytes { arena in
                            for i in 0..<n {
                                let slot = column[i]
                                let offset = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
                                parts[i * width + k] = UInt64(groups.interner.id(UnsafeRawBufferPointer(rebasing: arena[offset..<offset + length])))
                            }
                        }
                    } else {
                        for i in 0..<n { parts[i * width + k] = column[i] }
                    }
                }
                if !nulls.isEmpty { for i in 0..<n where nulls[i] != 0 { parts[i * width + k] = GroupTable.nullPart } }
            }
            do {
                let kind = planned.kinds
                let hinted = useHints
                groupOf.withUnsafeMutableBufferPointer { out in
                    for i in 0..<n where kind[i] != ChunkRowKind.reset.rawValue {
                        if hinted, groupHints[i] >= 0 {
                            out[i] = groupHints[i]
                            continue
                        }
                        out[i] = groups.id(UnsafeBufferPointer(rebasing: parts[i * width..<(i + 1) * width]))
                    }
                }
            }
        }
    }

    private func finishChunk() -> EventBatch? {
        let n = chunk.count
        guard n > 0 else { return nil }
        output.removeAll()
        outputRows.removeAll(keepingCapacity: true)
        var captured: [[(UInt64, Bool)]] = []

        outputGroups.removeAll(keepingCapacity: true)
        outputKinds.removeAll(keepingCapacity: true)
        if aggregators.isEmpty {
            // Without aggregates every emitted row is output (group by only names the groups).
            if !plan.groupBy.isEmpty { groupIds() }
            for i in 0..<n where emitted(planned.kinds[i]) || (tracksWindow && planned.kinds[i] == ChunkRowKind.reset.rawValue) {
                outputRows.append(Int32(i))
                outputGroups.append(plan.groupBy.isEmpty ? 0 : groupOf[i])
                if tracksWindow { outputKinds.append(planned.kinds[i]) }
            }
        } else {
            groupIds()
            let groupCount = groups.count
            if lastEmitted.count < groupCount { lastEmitted.append(contentsOf: repeatElement(-1, count: groupCount - lastEmitted.count)) }
            groupOrder.removeAll(keepingCapacity: true)
            for i in 0..<n where emitted(planned.kinds[i]) {
                let g = Int(groupOf[i])
                if lastEmitted[g] < 0 { groupOrder.append(Int32(g)) }
                lastEmitted[g] = Int32(i)
            }
            if outputPosition.count < groupCount { outputPosition.append(contentsOf: repeatElement(0, count: groupCount - outputPosition.count)) }
            for (k, g) in groupOrder.enumerated() {
                outputPosition[Int(g)] = k
                outputRows.append(lastEmitted[Int(g)])
                outputGroups.append(g)
            }
            captured = Array(repeating: Array(repeating: (0, true), count: groupOrder.count), count: aggregators.count)
            for (a, aggregator) in aggregators.enumerated() {
                if aggregator.kind == .unionSet, let program = argumentPrograms[a] {
                    aggregator.beginChunk()
                    program.evaluate(chunk)
                    let nulls = program.resultNulls
                    let positions = outputPosition
                    let chunk = self.chunk
                    groupOf.withUnsafeBufferPointer { gr in
                        lastEmitted.withUnsafeBufferPointer { last in
                            aggregator.updateSets(rows: n, kinds: planned.kinds, groups: gr.baseAddress!, groupCount: groupCount,
                                                  text: { i in
                                                      if let nulls, nulls[i] != 0 { return nil }
                                                      return program.withResultBytes(i, batch: chunk) {
                                                          SetText.elements($0.assumingMemoryBound(to: UInt8.self))
                                                      }
                                                  },
                                                  captureRow: last.baseAddress!,
                                                  record: { _, g in captured[a][positions[Int(g)]] = aggregator.value(Int(g)) })
                        }
                    }
                    continue
                }
                var values: UnsafePointer<UInt64>? = nil
                var nulls: UnsafePointer<UInt8>? = nil
                var internedValues: [UInt64] = []
                if case .column(let c, let type)? = plan.aggregates[a].argument, !type.isTextual {
                    // A plain attribute: read the chunk's column in place (no program, no copy).
                    let positions = outputPosition
                    let record: (Int, Int32) -> Void = { _, g in captured[a][positions[Int(g)]] = aggregator.value(Int(g)) }
                    let k = UnsafePointer(planned.kinds)
                    chunk.columns[c].withUnsafeBufferPointer { column in
                        chunk.nulls[c].withUnsafeBufferPointer { columnNulls in
                            groupOf.withUnsafeBufferPointer { gr in
                                lastEmitted.withUnsafeBufferPointer { last in
                                    aggregator.update(rows: n, kinds: k, groups: gr.baseAddress!, groupCount: groupCount,
                                                      values: column.baseAddress!, nulls: columnNulls.isEmpty ? nil : columnNulls.baseAddress,
                                                      captureRow: last.baseAddress!, record: record)
                                }
                            }
                        }
                    }
                    continue
                }
                if let program = argumentPrograms[a] {
                    program.evaluate(chunk)
                    values = program.resultValues
                    nulls = program.resultNulls
                    if program.resultType.isTextual {
                        // String slots point into this chunk's arena; compare strings by interned id.
                        internedValues = interned(program: program)
                    }
                }
                let positions = outputPosition
                let record: (Int, Int32) -> Void = { _, g in captured[a][positions[Int(g)]] = aggregator.value(Int(g)) }
                do {
                    let k = UnsafeBufferPointer(start: planned.kinds, count: n)
                    groupOf.withUnsafeBufferPointer { gr in
                        lastEmitted.withUnsafeBufferPointer { last in
                            if internedValues.isEmpty {
                                aggregator.update(rows: n, kinds: k.baseAddress!, groups: gr.baseAddress!, groupCount: groupCount,
                                                  values: values, nulls: nulls, captureRow: last.baseAddress!, record: record)
                            } else {
                                internedValues.withUnsafeBufferPointer { iv in
                                    aggregator.update(rows: n, kinds: k.baseAddress!, groups: gr.baseAddress!, groupCount: groupCount,
                                                      values: iv.baseAddress!, nulls: nulls, captureRow: last.baseAddress!, record: record)
                                }
                            }
                        }
                    }
                }
            }
            for g in groupOrder { lastEmitted[Int(g)] = -1 }
        }
        guard !outputRows.isEmpty else { return nil }
        buildOutput(captured)
        return shape()
    }

    /// Interned ids of a string-valued program's result (for distinctCount over strings).
    private func interned(program: VectorProgram) -> [UInt64] {
        // A string argument is a column load: read the strings from the chunk's arena.
        let n = chunk.count
        var out = [UInt64](repeating: 0, count: n)
        let values = program.resultValues
        chunk.stringBytes.withUnsafeBytes { arena in
            for i in 0..<n {
                let slot = values[i]
                let offset = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
                out[i] = UInt64(valueInterner.id(UnsafeRawBufferPointer(rebasing: arena[offset..<offset + length])))
            }
        }
        return out
    }

    private func buildOutput(_ captured: [[(UInt64, Bool)]]) {
        let rows = outputRows.count
        output.reset(count: rows)
        output.stringBytes = chunk.stringBytes
        for (k, r) in outputRows.enumerated() { output.timestamps[k] = chunk.timestamps[Int(r)] }
        for (o, projection) in plan.projections.enumerated() {
            switch projection {
            case .aggregate(let a, _):
                for k in 0..<rows {
                    let (bits, isNull) = captured[a][k]
                    if isNull {
                        output.setNull(o, k)
                    } else if aggregators[a].kind == .unionSet {
                        // A set made by unionSet: its text is in the aggregator until the next chunk.
                        let offset = Int(bits >> 32), length = Int(bits & 0xFFFF_FFFF)
                        let text = aggregators[a].textArena[offset..<offset + length]
                        output.columns[o][k] = UInt64(output.stringBytes.count) << 32 | UInt64(length)
                        output.stringBytes.append(contentsOf: text)
                    } else {
                        output.columns[o][k] = bits
                    }
                }
            case .column(let c, _):
                for (k, r) in outputRows.enumerated() {
                    if chunk.isNull(c, Int(r)) { output.setNull(o, k) } else { output.columns[o][k] = chunk.columns[c][Int(r)] }
                }
            default:
                let program = projectionPrograms[o]!
                program.evaluate(chunk)
                let values = program.resultValues
                let nulls = program.resultNulls
                for (k, r) in outputRows.enumerated() {
                    if let nulls, nulls[Int(r)] != 0 { output.setNull(o, k) } else { output.columns[o][k] = values[Int(r)] }
                }
            }
        }
    }

    /// having, order by, offset, limit over the output chunk.
    private func shape() -> EventBatch? {
        var rows = Array(0..<output.count)
        if plan.having != nil {
            let program = havingProgram!
            program.evaluate(output)
            let keep = program.resultValues
            rows = rows.filter { keep[$0] & 1 == 1 }
        }
        if !plan.orderBy.isEmpty {
            let out = output
            rows.sort { a, b in
                for (c, ascending) in plan.orderBy {
                    let order = StatefulQuery.compare(out, c, a, b)
                    if order != 0 { return ascending ? order < 0 : order > 0 }
                }
                return a < b
            }
        }
        if let offset = plan.offset { rows = Array(rows.dropFirst(offset)) }
        if let limit = plan.limit { rows = Array(rows.prefix(limit)) }
        guard !rows.isEmpty else { return nil }
        var shaped = output
        if rows != Array(0..<output.count) {
            shaped = EventBatch(schema: output.schema, capacity: rows.count)
            for r in rows { shaped.append(timestamp: output.timestamps[r], values: output.row(r)) }
        }
        guard let limiter else { return shaped }
        return limiter.apply(shaped, groups: rows.map { outputGroups[$0] },
                             kinds: outputKinds.isEmpty ? [] : rows.map { outputKinds[$0] }, clockMs: chunkClockMs)
    }

    /// -1, 0, 1 comparing column `c` of rows a and b (nulls first).
    private static func compare(_ batch: EventBatch, _ c: Int, _ a: Int, _ b: Int) -> Int {
        let na = batch.isNull(c, a), nb = batch.isNull(c, b)
        if na || nb { return na == nb ? 0 : (na ? -1 : 1) }
        switch batch.schema.attributes[c].type {
        case .int, .long, .bool:
            let x = batch.int64(c, a), y = batch.int64(c, b)
            return x < y ? -1 : (x > y ? 1 : 0)
        case .float, .double:
            let x = batch.double(c, a), y = batch.double(c, b)
            return x < y ? -1 : (x > y ? 1 : 0)
        case .string, .object:
            let x = batch.string(c, a), y = batch.string(c, b)
            return x < y ? -1 : (x > y ? 1 : 0)
        }
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        store.write(to: &w)
        w.int(previousCount)
        w.bool(batchStartMs != nil)
        w.int64(batchStartMs ?? 0)
        groups.write(to: &w)
        w.int(aggregators.count)
        for a in aggregators { a.write(to: &w) }
        w.bool(limiter != nil)
        limiter?.write(to: &w)
        sessionInterner.write(to: &w)
        w.int64(countedTotal)
        w.int(counted.count)
        for (key, entry) in counted.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            w.uint64s(key)
            w.int64(entry.count)
            w.int64(entry.delta)
            w.row(entry.row)
        }
        w.int(sorted.count)
        for row in sorted { w.row(row) }
        w.int(sessions.count)
        for session in sessions {
            w.uint64(session.key)
            w.int64(session.lastMs)
            w.int(session.rows.count)
            for row in session.rows { w.row(row) }
        }
        for rows in [conditionHeld, conditionExpired, conditionAggregated] {
            w.int(rows.count)
            for row in rows { w.row(row) }
        }
        w.int(pendingCount)
        w.int(pendingOrder.count)
        for (slot, g) in pendingOrder.enumerated() {
            w.int64(Int64(g))
            w.row((pending.timestamps[slot], pending.row(slot)))
        }
    }

    /// The state read back from a snapshot, not yet applied.
    struct State {
        var pendingCount: Int
        var pendingRows: [(Int32, (Int64, [Value]))]
        var conditionRows: [[(Int64, [Value])]]
        var countedTotal: Int64
        var counted: [[UInt64]: Counted]
        var sorted: [(Int64, [Value])]
        var sessionInterner: StringInterner
        var sessions: [Session]
        var limiter: RateLimiter?
        var store: RowStore
        var previousCount: Int
        var batchStartMs: Int64?
        var groups: GroupTable
        var aggregators: [Aggregator]
    }

    /// Reads state written by `write` without touching this query (restore is all or nothing).
    func decode(from r: inout SnapshotReader) throws(SnapshotError) -> State {
        let store = try self.store.decoded(from: &r)
        let previousCount = try r.int()
        guard previousCount <= store.count else { throw SnapshotError("batch window state is inconsistent") }
        let hasStart = try r.bool()
        let start = try r.int64()
        var groups = GroupTable(width: max(1, plan.groupBy.count))
        try groups.read(from: &r)
        guard try r.int() == aggregators.count else { throw SnapshotError("aggregate count differs") }
        let fresh = plan.aggregates.map(Aggregator.init)
        for a in fresh { try a.read(from: &r) }
        guard try r.bool() == (limiter != nil) else { throw SnapshotError("output rate differs") }
        let freshLimiter = try limiter?.decoded(from: &r)
        var interner = StringInterner()
        try interner.read(from: &r)
        let total = try r.int64()
        var freshCounted: [[UInt64]: Counted] = [:]
        for _ in 0..<(try r.int()) {
            let key = try r.uint64s()
            let count = try r.int64()
            let delta = try r.int64()
            freshCounted[key] = Counted(count: count, delta: delta, row: try r.row())
        }
        var freshSorted: [(Int64, [Value])] = []
        for _ in 0..<(try r.int()) { freshSorted.append(try r.row()) }
        var freshSessions: [Session] = []
        for _ in 0..<(try r.int()) {
            let key = try r.uint64()
            let last = try r.int64()
            var rows: [(Int64, [Value])] = []
            for _ in 0..<(try r.int()) { rows.append(try r.row()) }
            freshSessions.append(Session(key: key, lastMs: last, rows: rows))
        }
        var conditionRows: [[(Int64, [Value])]] = []
        for _ in 0..<3 {
            var rows: [(Int64, [Value])] = []
            for _ in 0..<(try r.int()) { rows.append(try r.row()) }
            conditionRows.append(rows)
        }
        let pendingCount = try r.int()
        var pendingRows: [(Int32, (Int64, [Value]))] = []
        for _ in 0..<(try r.int()) {
            let g = try r.int64()
            guard g >= 0, g < Int64(groups.count) else { throw SnapshotError("batch window state names an unknown group") }
            pendingRows.append((Int32(g), try r.row()))
        }
        return State(pendingCount: pendingCount, pendingRows: pendingRows, conditionRows: conditionRows, countedTotal: total, counted: freshCounted, sorted: freshSorted,
                     sessionInterner: interner, sessions: freshSessions, limiter: freshLimiter, store: store, previousCount: previousCount, batchStartMs: hasStart ? start : nil, groups: groups, aggregators: fresh)
    }

    func apply(_ state: State) {
        store = state.store
        previousCount = state.previousCount
        batchStartMs = state.batchStartMs
        groups = state.groups
        aggregators = state.aggregators
        limiter = state.limiter
        sessionInterner = state.sessionInterner
        sessions = state.sessions
        countedTotal = state.countedTotal
        counted = state.counted
        sorted = state.sorted
        conditionHeld = state.conditionRows[0]
        conditionExpired = state.conditionRows[1]
        conditionAggregated = state.conditionRows[2]
        pendingCount = state.pendingCount
        pending.removeAll()
        pendingOrder.removeAll()
        pendingSlot = Array(repeating: -1, count: groups.count)
        for (g, row) in state.pendingRows {
            pendingSlot[Int(g)] = Int32(pending.count)
            pendingOrder.append(g)
            _ = pending.append(timestamp: row.0, values: row.1)
        }
        lastEmitted = Array(repeating: -1, count: groups.count)
        resolveWindowGroups()
    }
}

/// Pass 1 of a chunk: per row its source (virtual queue index: window rows, then input rows; -1 for
/// RESET), its kind, and its timestamp override (expired rows carry the clock; -1 keeps the event's
/// own). Raw, growable memory so that planning a row is three stores.
final class ChunkPlan {
    private(set) var sources: UnsafeMutablePointer<Int32>
    private(set) var kinds: UnsafeMutablePointer<UInt8>
    private(set) var stamps: UnsafeMutablePointer<Int64>
    private var capacity = 4096
    var count = 0

    init() {
        sources = .allocate(capacity: capacity)
        kinds = .allocate(capacity: capacity)
        stamps = .allocate(capacity: capacity)
    }

    deinit {
        sources.deallocate()
        kinds.deallocate()
        stamps.deallocate()
    }

    @inline(__always)
    func add(_ source: Int, _ kind: ChunkRowKind, _ stamp: Int64) {
        if count == capacity { grow() }
        sources[count] = Int32(truncatingIfNeeded: source)
        kinds[count] = kind.rawValue
        stamps[count] = stamp
        count += 1
    }

    /// `n` current rows 0..<n with their own timestamps (a chunk that is the input batch itself).
    func fillCurrent(_ n: Int) {
        while capacity < n { grow() }
        kinds.update(repeating: ChunkRowKind.current.rawValue, count: n)
        for i in 0..<n { sources[i] = Int32(truncatingIfNeeded: i) }
        stamps.update(repeating: -1, count: n)
        count = n
    }

    private func grow() {
        precondition(capacity * 2 <= EventBatch.rowsMax, "window chunk over EventBatch.rowsMax")
        func moved<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> { p.movedToAllocation(capacity: capacity * 2, count: count) }
        sources = moved(sources)
        kinds = moved(kinds)
        stamps = moved(stamps)
        capacity *= 2
    }
}
