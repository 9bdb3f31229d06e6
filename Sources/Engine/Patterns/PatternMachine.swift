/// Runs the pattern and sequence forms beyond a linear chain: counting states (`<2:5>`, `+`, `*`,
/// `?`), logical steps (`and`, `or`), absence (`not S[…] for T`, `not S[…] and e2=B[…]`),
/// `every` on any step and `every (…)` over a group of steps. Linear chains run on `PatternQuery`'s batched matcher instead.
///
/// The matching follows Siddhi 5's state machine, so that its observable quirks carry over:
///
/// - Each state keeps the partial matches waiting at it (`pending`) and the ones that reached it
///   during the current event (`fresh`, moved to `pending` before the state's next event), so
///   one event never advances a partial match twice. States reading the arriving stream take the
///   event last state first.
/// - A partial match is one object that several states can hold at once: a counting state keeps
///   collecting into a partial match it already handed to the next step (`e1[last]` then reads the
///   latest), and both sides of a logical step hold the same one. `every` copies it instead.
/// - `every (…)` over a group copies a partial match back to the group's first step only once its
///   last step is met, so successive matches of the group do not overlap (Siddhi's
///   `EveryInnerStateRuntime`); each copy that went on waits for the later steps on its own.
/// - A counting state hands a partial match on when it reaches its minimum (at once for a zero
///   minimum), and stops collecting at its maximum, or when a later step took an event.
/// - A sequence drops, before each event, every partial match the previous event did not move.
/// - An absent state fires from the clock (`advanceTime`), when `for` has passed since the partial
///   match reached it (since the start, or the last matching event, for a first state).
///
/// Conditions are evaluated once per (state, event) over all partial matches waiting there, as one
/// batch over the pattern schema, by the state's vector program.
///
/// Limits: `PatternQuery.partialsMax` partial matches (past it the oldest are dropped and counted)
/// and `countMax` events per counting state of one partial match (at it the state stops
/// collecting, as at its maximum).
final class PatternMachine {
    /// The most states (a logical step counts two) a non-linear pattern may have.
    static let statesMax = 16
    /// The most events a counting state collects for one partial match (`<2:>`, `+`, `*`, or a
    /// larger maximum): at it the state stops collecting, as at a maximum.
    static let countMax = 1024

    /// Marks an absent state's slot: its `for` time passed without the event (`and`/`or` logic).
    static let satisfied: Int32 = -2
    /// Marks an absent state's slot: the event it waits not to see arrived (`not A and B`).
    static let arrived: Int32 = -3

    let plan: QueryPlan
    let pattern: PatternPlan
    private let selector: Selector
    private let conditions: [VectorProgram?]
    /// Per state whose condition reads only its own event: that condition as a filter, evaluated
    /// once per arriving batch (`ownKeep`) instead of once per waiting partial match.
    private let ownConditions: [VectorProgram?]
    private var ownKeep: [[UInt64]]
    /// Per state, the events partial matches refer to (`Partial.rows`).
    private var captures: [EventBatch]
    private var scratch: EventBatch

    struct Partial {
        /// Per state, its captured rows (several for a counting state; a marker for an absent one).
        var rows: [[Int32]]
        /// The time of the event (or absence) that last moved it.
        var timestampMs: Int64
        /// The time of its first captured event (for `within`); nil before any.
        var firstMs: Int64?
        var order: Int64
    }
    private var partials: [Int: Partial] = [:]
    private var nextId = 0
    private var nextOrder: Int64 = 0
    /// Per state: partial-match ids waiting there, and those that arrived during the current event.
    private var pending: [[Int]]
    private var fresh: [[Int]]
    /// Sequences, during one event: per state, the partial matches the event kept waiting there.
    private var carried: [[Int]]
    /// Per absent state: whether it still fires (a first state without `every` fires once); the
    /// time a first absent state fires when nothing is pending; the last arrival of the event an
    /// absent logical state waits not to see (0: none since it last fired).
    private var active: [Bool]
    private var scheduledMs: [Int64]
    private var lastArrivalMs: [Int64]
    /// The clock when the query first ran (absence timers of a first state count from it).
    private var startMs: Int64? = nil
    private var initialized = false
    /// Partial matches dropped at `PatternQuery.partialsMax`.
    private(set) var droppedCount = 0

    // Derived from the plan.
    private let elementOf: [Int]
    private let partnerOf: [Int?]
    private let effectiveMax: [Int]
    private let isCountingState: [Bool]
    /// Per step: where `every` restarts a copy of a partial match that met it (the step itself
    /// for `every e1=A`, the group's first step for the last step of `every (…)`), nil for none.
    private let rearmAt: [Int?]
    /// With `within`: the states inside an `every (…)` group that starts the pattern, except its
    /// first step's (Siddhi's `withinEveryPreStateProcessor`): before each event, a partial match
    /// waiting there that `within` dropped re-arms the group (`expireInGroups`).
    private let groupExpiryStates: [(state: Int, groupFirst: Int)]
    /// A sequence's first state when it is `every not S for T` alone.
    private let everyAbsentFirst: Int?
    /// A sequence's first step when it is two absences (`not A for T1 and not B for T2`, `… or …`).
    private let absentPairFirst: (Int, Int)?
    /// A pattern's or sequence's first step when it is `every` on two absences (`every (not A for T1
    /// or not B for T2)`), or a sequence's when it is `every` on a logical step with one (`every (not
    /// A for T and e2=B), …`): each absent side checks on its own clock (`scheduledMs`, Siddhi's
    /// scheduler of that side).
    private let everyAbsentPair: (Int, Int)?
    private var completions: [(ms: Int64, rows: [Int32])] = []
    private var liveAfterCollect = 0

    init(plan: QueryPlan) {
        self.plan = plan
        pattern = plan.pattern!
        selector = Selector(plan: plan)
        conditions = pattern.states.map { $0.condition.map(VectorProgram.init) }
        ownConditions = pattern.states.map { $0.streamCondition.map(VectorProgram.init) }
        ownKeep = Array(repeating: [], count: pattern.states.count)
        captures = pattern.states.map { EventBatch(schema: $0.schema) }
        scratch = EventBatch(schema: plan.input)
        let n = pattern.states.count
        pending = Array(repeating: [], count: n)
        fresh = pending
        carried = pending
        active = Array(repeating: true, count: n)
        scheduledMs = Array(repeating: 0, count: n)
        lastArrivalMs = scheduledMs
        var elementOf = Array(repeating: 0, count: n), partnerOf = [Int?](repeating: nil, count: n)
        for (e, element) in pattern.elements.enumerated() {
            for s in element.states { elementOf[s] = e }
            if element.states.count == 2 {
                partnerOf[element.states[0]] = element.states[1]
                partnerOf[element.states[1]] = element.states[0]
            }
        }
        self.elementOf = elementOf
        self.partnerOf = partnerOf
        rearmAt = pattern.elements.enumerated().map { e, element in element.every ? e : element.everyGroupFirst }
        var groupExpiry: [(state: Int, groupFirst: Int)] = []
        if pattern.withinMs != nil && !pattern.isSequence {
            // Only a group at the start: a copy re-armed in a later group keeps the first step's
            // event, so `within` has passed for it too.
            for (last, element) in pattern.elements.enumerated() where element.everyGroupFirst == 0 {
                for e in 1...last {
                    for s in pattern.elements[e].states { groupExpiry.append((s, 0)) }
                }
            }
        }
        groupExpiryStates = groupExpiry
        let first = pattern.elements[0]
        everyAbsentFirst = pattern.isSequence && first.every && first.states.count == 1 && pattern.states[first.states[0]].isAbsent
            ? first.states[0] : nil
        let states = pattern.states
        absentPairFirst = pattern.isSequence && first.states.count == 2 && first.states.allSatisfy({ states[$0].isAbsent })
            ? (first.states[0], first.states[1]) : nil
        everyAbsentPair = first.every && first.states.count == 2
            && (first.states.allSatisfy({ states[$0].isAbsent }) || pattern.isSequence && first.states.contains(where: { states[$0].isAbsent }))
            && first.states.allSatisfy({ !states[$0].isAbsent || states[$0].forMs != nil })
            ? (first.states[0], first.states[1]) : nil
        isCountingState = pattern.states.map { $0.minCount != 1 || $0.maxCount != 1 }
        effectiveMax = pattern.states.map { $0.maxCount < 0 ? PatternMachine.countMax : min($0.maxCount, PatternMachine.countMax) }
    }

    private var isSequence: Bool { pattern.isSequence }
    private var lastElement: Int { pattern.elements.count - 1 }
    private func isCounting(_ s: Int) -> Bool { isCountingState[s] }

    // MARK: Time

    /// When the clock must next reach the query: an absence timer or the selector's.
    var nextTimerMs: Int64? {
        // Before the first run, the first clock move starts the absence timers of a first state.
        if startMs == nil && pattern.states.contains(where: \.isAbsent) { return Int64.min }
        var due = selector.nextTimerMs
        for s in pattern.states.indices where pattern.states[s].isAbsent {
            if let d = absentDue(s) { due = min(due ?? d, d) }
        }
        return due
    }

    /// When absent state `s` next fires, if it waits for anything.
    private func absentDue(_ s: Int) -> Int64? {
        guard active[s], let forMs = pattern.states[s].forMs else { return nil }
        if let (a, b) = everyAbsentPair, s == a || s == b { return scheduledMs[s] }  // (an absent side)
        var due: Int64? = nil
        for id in pending[s] + fresh[s] {
            guard let p = partials[id], p.rows[s].isEmpty else { continue }
            let d = p.timestampMs < 0 ? scheduledMs[s] : p.timestampMs + forMs
            due = min(due ?? d, d)
        }
        if partnerOf[s] == nil && elementOf[s] == 0 && !isSequence && pending[s].isEmpty && fresh[s].isEmpty {
            due = min(due ?? scheduledMs[s], scheduledMs[s])
        }
        if let d = due, partnerOf[s] != nil, lastArrivalMs[s] > 0 { return max(d, lastArrivalMs[s] + forMs) }
        return due
    }

    /// Starts the machine at the clock `nowMs`: the first step waits from here.
    private func start(_ nowMs: Int64) {
        guard startMs == nil else { return }
        startMs = nowMs
        for s in pattern.elements[0].states where pattern.states[s].isAbsent {
            scheduledMs[s] = nowMs + (pattern.states[s].forMs ?? 0)
        }
        if !initialized { initialize(nowMs) }
    }

    /// A new empty partial match at the first step.
    private func initialize(_ nowMs: Int64) {
        initialized = true
        // A first `not S for T` alone waits from `scheduledMs` (moved by each S), not from its partial match.
        let first = pattern.elements[0]
        let waitsOnSchedule = first.states.count == 1 && pattern.states[first.states[0]].isAbsent
        addState(0, newPartial(waitsOnSchedule ? -1 : nowMs))
    }

    private func newPartial(_ ms: Int64) -> Int {
        let id = nextId
        nextId += 1
        partials[id] = Partial(rows: Array(repeating: [], count: pattern.states.count), timestampMs: ms, firstMs: nil, order: nextOrder)
        nextOrder += 1
        return id
    }

    func advanceTime(to clockMs: Int64) -> EventBatch? {
        start(clockMs)
        fireTimers(upTo: clockMs)
        if completions.isEmpty {
            collect()
            return selector.advanceTime(to: clockMs)
        }
        let output = flush(clockMs: clockMs, playback: true)
        collect()  // after the matches were copied out: compaction renumbers captured rows
        return output
    }

    /// Fires the absence timers due at or before `clockMs`, in time order.
    private func fireTimers(upTo clockMs: Int64) {
        var rounds = 0
        while rounds < 4096 {
            var best: (Int64, Int)? = nil
            for s in pattern.states.indices where pattern.states[s].isAbsent {
                if let d = absentDue(s), d <= clockMs, best.map({ d < $0.0 }) ?? true { best = (d, s) }
            }
            guard let (due, s) = best else { return }
            fire(s, at: due)
            rounds += 1
        }
    }

    /// Absent state `s` at `nowMs`: partial matches whose `for` time passed move on.
    private func fire(_ s: Int, at nowMs: Int64) {
        let forMs = pattern.states[s].forMs!
        let e = elementOf[s]
        var ready: [Int] = []
        if let (a, b) = everyAbsentPair, s == a || s == b {
            ready = checkEveryPairSide(s, partner: s == a ? b : a, at: nowMs)
        } else if let partner = partnerOf[s] {
            update(s)
            var keep: [Int] = []
            for id in pending[s] {
                guard var p = partials[id] else { continue }
                if expired(p, s, nowMs) { continue }
                guard nowMs >= p.timestampMs + forMs else { keep.append(id); continue }
                if absentSideTimedOut(s, partner: partner, isOr: pattern.elements[e].logical == .or, id: id, &p) { ready.append(id) }
            }
            pending[s] = keep
            lastArrivalMs[s] = 0
        } else {
            if e == 0 && !isSequence && pending[s].isEmpty && fresh[s].isEmpty {
                // A pattern's first `not S for T` waits again; a sequence's ends with its partial match.
                let id = newPartial(-1)
                fresh[s].append(id)
            }
            update(s)
            var keep: [Int] = []
            for id in pending[s] {
                guard let p = partials[id] else { continue }
                if expired(p, s, nowMs) { continue }
                let due = p.timestampMs < 0 ? scheduledMs[s] : p.timestampMs + forMs
                if nowMs >= due { ready.append(id) } else { keep.append(id) }
            }
            pending[s] = keep
            if ready.isEmpty && scheduledMs[s] < nowMs { scheduledMs[s] = nowMs + forMs }
        }
        for id in ready {
            partials[id]?.timestampMs = nowMs
            advance(e, id, nowMs)
            if !pattern.elements[e].every && e == 0 {
                active[s] = false
                if let partner = partnerOf[s], pattern.elements[e].logical == .or { active[partner] = false }
            }
        }
    }

    /// Partial match `id` (`p`) whose time passed at absent side `s` of a logical step: with `or` it
    /// goes on unless the partner side completed it already (then it is dropped); with `and` it goes
    /// on when the partner has its part, else the side is marked done and it waits at the partner.
    /// True: it goes on now.
    private func absentSideTimedOut(_ s: Int, partner: Int, isOr: Bool, id: Int, _ p: inout Partial) -> Bool {
        let partnerHas = !p.rows[partner].isEmpty
        if partnerHas { return !isOr }
        p.rows[s] = [PatternMachine.satisfied]
        partials[id] = p
        return isOr
    }

    /// `every (not A for T1 or/and not B for T2)` first in a pattern: side `s` checks at `nowMs`, as
    /// Siddhi 5's `AbsentLogicalPreStateProcessor` does on its scheduler. If its event came less than
    /// its time ago, it checks again then; otherwise the partial matches waiting at it whose time
    /// passed leave it (`or`: each one the partner has not completed goes on, marked; `and`: each
    /// the partner completed goes on, the others are marked and wait for the partner), and it checks
    /// again its time later. Returns the partial matches that go on.
    private func checkEveryPairSide(_ s: Int, partner: Int, at nowMs: Int64) -> [Int] {
        let forMs = pattern.states[s].forMs!
        if lastArrivalMs[s] > 0 && nowMs < lastArrivalMs[s] + forMs {
            scheduledMs[s] = lastArrivalMs[s] + forMs
            return []
        }
        update(s)
        let isOr = pattern.elements[elementOf[s]].logical == .or
        var ready: [Int] = [], keep: [Int] = []
        for id in pending[s] {
            guard var p = partials[id] else { continue }
            // A copy restarted from a side that went on marked (Siddhi's empty marker event) is due at once.
            guard p.timestampMs < 0 || nowMs >= p.timestampMs + forMs else { keep.append(id); continue }
            if absentSideTimedOut(s, partner: partner, isOr: isOr, id: id, &p) { ready.append(id) }
        }
        pending[s] = keep
        lastArrivalMs[s] = 0
        scheduledMs[s] = nowMs + forMs
        return ready
    }

    // MARK: Events

    /// Events of `stream` arrived; returns the matches they (and timers due among them) completed.
    func process(stream: String, _ batch: EventBatch, clockMs: Int64, playback: Bool) -> EventBatch? {
        let n = batch.count
        guard n > 0 else { return nil }
        start(playback ? batch.timestamps[0] : clockMs)
        let consumers = pattern.states.indices.filter { pattern.states[$0].stream == stream }.reversed()
        for s in consumers {
            if let program = ownConditions[s] {
                let keep = program.evaluateCondition(batch)
                ownKeep[s] = Array(UnsafeBufferPointer(start: keep, count: n))
            }
        }
        for r in 0..<n {
            let ms = batch.timestamps[r]
            if playback { fireTimers(upTo: ms) }
            if isSequence {
                // The previous event dropped the partial matches it did not move or keep (`endEvent`);
                // the ones it moved wait here now, and `every` restarts.
                // (`every` on two absences restarts after the event instead, in `endEvent`.)
                if fresh[0].isEmpty && (pattern.elements[0].every || !initialized) && everyAbsentPair == nil { initialize(ms) }
                for s in pattern.states.indices {
                    pending[s].append(contentsOf: fresh[s])
                    fresh[s].removeAll()
                }
            } else {
                if !groupExpiryStates.isEmpty { expireInGroups(ms) }
                for s in consumers { update(s) }
            }
            for s in consumers { take(s, batch, r, ms) }
            if isSequence { endEvent(consumers: consumers) }
        }
        let output = flush(clockMs: clockMs, playback: playback)
        collect()  // after the matches were copied out: compaction renumbers captured rows
        return output
    }

    /// Before an event at `ms`: drops the partial matches waiting inside an `every (…)` group for
    /// which `within` has passed, and re-arms the group once per state that dropped any, from a
    /// copy of the last one dropped there (Siddhi's `StreamPreStateProcessor.expireEvents`): the
    /// copy waits at the group's first step, and may take this very event. A partial match held
    /// at two states (a logical step, a counting state that handed it on) re-arms once.
    private func expireInGroups(_ ms: Int64) {
        droppedScratch.removeAll(keepingCapacity: true)
        for (s, first) in groupExpiryStates {
            // In place (no list built per event): most events drop nothing.
            let lastPending = dropExpired(&pending[s], at: s, ms)
            let lastFresh = dropExpired(&fresh[s], at: s, ms)
            if let last = lastFresh ?? lastPending { addEveryState(first, last) }
        }
    }
    /// Removes the partial matches in `ids` for which `within` passed at state `s`; returns the last
    /// one removed that no other state of this event dropped already.
    private func dropExpired(_ ids: inout [Int], at s: Int, _ ms: Int64) -> Int? {
        var last: Int? = nil
        var kept = 0
        for i in ids.indices {
            let id = ids[i]
            guard let p = partials[id], expired(p, s, ms) else {
                ids[kept] = id
                kept += 1
                continue
            }
            if droppedScratch.insert(id).inserted { last = id }
        }
        ids.removeLast(ids.count - kept)
        return last
    }
    /// `expireInGroups`' partial matches dropped during one event, kept between events.
    private var droppedScratch = Set<Int>()

    /// Moves state `s`'s fresh partial matches to pending (both sides of a logical step).
    private func update(_ s: Int) {
        for t in [s] + (partnerOf[s].map { [$0] } ?? []) where !fresh[t].isEmpty {
            pending[t].append(contentsOf: fresh[t])
            fresh[t].removeAll()
        }
    }

    /// A sequence after each event: the partial matches still waiting anywhere are dropped (the next
    /// event must move them), but for those the event kept alive (`carried`): at a `not` state, an
    /// event of its stream that does not match it; at the other side of a `not … and` step, an event
    /// it took while the absence still runs. One side of `and` (without `not`) that took its event
    /// waits for the other side until an event of the other side's stream, as in Siddhi.
    private func endEvent<C: Collection<Int>>(consumers: C) {
        for s in pattern.states.indices {
            if carried[s].isEmpty && pending[s].isEmpty { continue }
            // What stays waiting collects in `carried[s]`, then replaces `pending[s]` in place (both
            // keep their capacity: no array is built per event).
            // `every (not A for T and e2=B), …`: a partial match whose absence completed waits at the
            // event's side through other events (Siddhi clears the two sides only while both hold it).
            if let (a, b) = everyAbsentPair, s == a || s == b, !pattern.states[s].isAbsent, pattern.elements[0].logical == .and {
                let t = s == a ? b : a
                for id in pending[s] where partials[id]?.rows[t] == [PatternMachine.satisfied] { carried[s].append(id) }
            }
            if let t = partnerOf[s], pattern.elements[elementOf[s]].logical == .and, !consumers.contains(s),
               !pattern.states[s].isAbsent, !pattern.states[t].isAbsent {
                for id in pending[s] where partials[id].map({ !$0.rows[t].isEmpty }) == true { carried[s].append(id) }
            }
            seenScratch.removeAll(keepingCapacity: true)
            pending[s].removeAll(keepingCapacity: true)
            for id in carried[s] where !endedScratch.contains(id) && seenScratch.insert(id).inserted { pending[s].append(id) }
            carried[s].removeAll(keepingCapacity: true)
        }
        // `every not S for T, …`: the first state waits again at once, on its schedule (T after the
        // start, the last S or the last time it fired), whatever the event was (Siddhi re-inits a
        // start state with `every` at each event).
        if let s = everyAbsentFirst, pending[s].isEmpty && fresh[s].isEmpty { fresh[s].append(newPartial(-1)) }
        // A first step of two absences that an event ended waits again until it completes (Siddhi
        // re-inits a sequence's start state): from the query's start, each side gated by its last
        // matching event (`absentDue`).
        if !endedScratch.isEmpty { endedScratch.removeAll(keepingCapacity: true) }
        // Under `every` the new one waits from no time: each side takes it at its next check (`checkEveryPairSide`).
        if let (a, b) = absentPairFirst ?? (isSequence ? everyAbsentPair : nil), active[a] && active[b], let start = startMs,
           pending[a].isEmpty && fresh[a].isEmpty && pending[b].isEmpty && fresh[b].isEmpty {
            let id = newPartial(everyAbsentPair == nil ? start : -1)
            fresh[a].append(id)
            fresh[b].append(id)
        }
    }
    /// `endEvent`'s duplicate filter, kept between events (no allocation per event).
    private var seenScratch = Set<Int>()
    /// During one event of a sequence: the partial matches a matching event ended at a step of two absences.
    private var endedScratch = Set<Int>()

    /// Whether `within` has passed for `p` at state `s` (never at the first step).
    private func expired(_ p: Partial, _ s: Int, _ ms: Int64) -> Bool {
        guard let w = pattern.withinMs, elementOf[s] > 0, let first = p.firstMs else { return false }
        return abs(ms - first) > w
    }

    /// The captured rows of state `j` a group of the pattern schema reads (`index` nil: the last).
    @inline(__always)
    private static func pick(_ rows: [Int32], _ extra: Int32?, _ index: PatternIndex?) -> Int32 {
        let count = rows.count + (extra == nil ? 0 : 1)
        func at(_ i: Int) -> Int32 {
            let r = i < rows.count ? rows[i] : extra!
            return r < 0 ? -1 : r
        }
        guard count > 0 else { return -1 }
        switch index {
        case nil: return at(count - 1)
        case .first(let k)?: return k < count ? at(k) : -1
        case .last(let k)?: return k < count ? at(count - 1 - k) : -1
        }
    }

    /// Builds `scratch` with one pattern-schema row per entry: partial `ids[i]`, with `row` as the
    /// newest event of state `s` when given.
    private func buildRows(_ ids: [Int], state s: Int?, eventRow: Int32?, timestamps: [Int64]) {
        let count = pattern.states.count, groups = count + pattern.views.count, m = ids.count
        // One pass over the partial matches fills every group's row list (a partial match is
        // fetched once, not once per group).
        var matrix = [Int32](repeating: -1, count: groups * m)
        for (i, id) in ids.enumerated() {
            guard let p = partials[id] else { continue }
            for g in 0..<groups {
                let j = g < count ? g : pattern.views[g - count].state
                let index: PatternIndex? = g < count ? nil : pattern.views[g - count].index
                let row: Int32
                if j == s, let eventRow {
                    row = isCountingState[j] ? PatternMachine.pick(p.rows[j], eventRow, index) : (index == nil ? eventRow : -1)
                } else {
                    row = PatternMachine.pick(p.rows[j], nil, index)
                }
                matrix[g * m + i] = row
            }
        }
        var sources: [(EventBatch, [Int32])] = []
        sources.reserveCapacity(groups)
        for g in 0..<groups {
            let j = g < count ? g : pattern.views[g - count].state
            sources.append((captures[j], Array(matrix[(g * m)..<(g * m + m)])))
        }
        PairBatch.build(&scratch, sources: sources, timestamps: timestamps)
    }

    /// State `s` takes the event at row `r` of `batch`.
    private func take(_ s: Int, _ batch: EventBatch, _ r: Int, _ ms: Int64) {
        let state = pattern.states[s]
        if state.isAbsent && !active[s] { return }
        let e = elementOf[s]
        let logical = pattern.elements[e].logical
        if isSequence && state.isAbsent, let t = partnerOf[s], pattern.states[t].isAbsent {
            // `not A for T1 and not B for T2` in a sequence: once A's time passed, events of A's stream
            // leave the partial match waiting for B's time.
            for id in pending[t] where partials[id]?.rows[s] == [PatternMachine.satisfied] { carried[t].append(id) }
        }
        // Candidates: drop the expired, the ones a partner already took (or), the ones a later
        // step already took (counting).
        var candidates: [Int] = []
        var kept: [Int] = []
        for id in pending[s] {
            guard let p = partials[id] else { continue }
            if expired(p, s, ms) { continue }
            if logical == .or, let partner = partnerOf[s], !p.rows[partner].isEmpty { continue }
            if isCounting(s) && laterStepTook(p, e) { continue }
            candidates.append(id)
        }
        guard !candidates.isEmpty else {
            pending[s] = []
            return
        }
        // With a condition on its own event only, one filter value holds for every candidate.
        let ownMatch: Bool? = ownConditions[s] == nil ? nil : ownKeep[s][r] & 1 == 1
        if ownMatch == false && !state.isAbsent && !isSequence {
            pending[s] = candidates
            return
        }
        let eventRow = ownMatch == false ? -1 : Int32(captures[s].appendRow(from: batch, row: r))
        var keep: UnsafePointer<UInt64>? = nil
        if ownMatch == nil, let program = conditions[s] {
            buildRows(candidates, state: s, eventRow: eventRow, timestamps: Array(repeating: ms, count: candidates.count))
            keep = program.evaluateCondition(scratch)
        }
        for (i, id) in candidates.enumerated() {
            let matched = ownMatch ?? keep.map { $0[i] & 1 == 1 } ?? true
            if state.isAbsent {
                if matched {
                    // The event it waits not to see: the partial match ends here.
                    if let t = partnerOf[s] {
                        lastArrivalMs[s] = ms
                        if state.forMs == nil { partials[id]?.rows[s] = [PatternMachine.arrived] }
                        // Two absences in a sequence: it ends for both sides, even if the other side
                        // (of the same stream) kept it for this event.
                        if isSequence && pattern.states[t].isAbsent { endedScratch.insert(id) }
                    } else {
                        scheduledMs[s] = ms + (state.forMs ?? 0)
                    }
                } else {
                    kept.append(id)
                    if isSequence {
                        // An event of the `not` stream that does not match it keeps the sequence waiting.
                        carried[s].append(id)
                        if let t = partnerOf[s], pending[t].contains(id) { carried[t].append(id) }
                    }
                }
                continue
            }
            guard matched else {
                if !isSequence { kept.append(id) }
                continue
            }
            var p = partials[id]!
            p.rows[s].append(eventRow)
            if e == 0 && p.firstMs == nil { p.firstMs = ms }
            // The time moves with a step that is met (an `and` side waiting for its partner keeps the
            // time the step began: its absence timer counts from there).
            let waits = logical == .and && !isCounting(s) && !partnerCanProceed(partnerOf[s]!, p)
            if !waits { p.timestampMs = ms }
            partials[id] = p
            if waits {
                // `not A for T and B` in a sequence: B came first, the absence still runs.
                if isSequence, let t = partnerOf[s], pattern.states[t].isAbsent { carried[t].append(id) }
                continue
            }
            if isCounting(s) {
                let n = p.rows[s].count
                let full = n >= effectiveMax[s]
                if isSequence {
                    if n >= state.minCount { handOn(e, id, ms) }
                    if !full { addState(e, id) }
                } else {
                    if n == state.minCount { minReached(e, id, ms) }
                    if !full && !(n == state.minCount && e == lastElement) { kept.append(id) }
                }
                continue
            }
            advance(e, id, ms)
        }
        pending[s] = kept
    }

    /// Whether a step after `e` already took an event for `p` (a counting state then stops).
    private func laterStepTook(_ p: Partial, _ e: Int) -> Bool {
        for later in (e + 1)..<min(e + 3, pattern.elements.count) {
            for t in pattern.elements[later].states where !p.rows[t].isEmpty { return true }
        }
        return false
    }

    /// For `and`: whether the partner (state `t`) is met for `p`.
    private func partnerCanProceed(_ t: Int, _ p: Partial) -> Bool {
        let rows = p.rows[t]
        guard pattern.states[t].isAbsent else { return !rows.isEmpty }
        // `not A and B`: B goes on unless A came; `not A for T and B`: only once T passed without A.
        return pattern.states[t].forMs == nil ? rows.isEmpty : rows == [PatternMachine.satisfied]
    }

    /// A counting state reached its minimum.
    private func minReached(_ e: Int, _ id: Int, _ ms: Int64) {
        if e == lastElement {
            emit(id)
        } else {
            addState(e + 1, id)
        }
        if let g = rearmAt[e] { addEveryState(g, id) }
    }

    /// Step `e` is met for partial `id`: it goes to the next step (or out), and `every` restarts `e`
    /// (or, for the last step of an `every (…)` group, the group's first step).
    private func advance(_ e: Int, _ id: Int, _ ms: Int64) {
        handOn(e, id, ms)
        if let g = rearmAt[e] { addEveryState(g, id) }
    }

    private func handOn(_ e: Int, _ id: Int, _ ms: Int64) {
        if e == lastElement { emit(id) } else { addState(e + 1, id) }
    }

    /// Partial `id` reaches step `e`.
    private func addState(_ e: Int, _ id: Int) {
        let element = pattern.elements[e]
        for s in element.states {
            if pattern.states[s].isAbsent && !active[s] { continue }
            // A sequence (and a first logical step) holds one partial match per state at a time.
            if (isSequence || (element.logical != nil && e == 0)) && !fresh[s].isEmpty { continue }
            fresh[s].append(id)
        }
        if element.states.count == 1, let s = element.states.first, isCounting(s), pattern.states[s].minCount == 0,
           partials[id]?.rows[s].isEmpty == true {
            minReached(e, id, partials[id]!.timestampMs)
        }
    }

    /// `every`: a copy of partial `id` without step `e` onwards restarts at `e`.
    private func addEveryState(_ e: Int, _ id: Int) {
        guard var p = partials[id] else { return }
        let first = pattern.elements[e].states.min()!
        // `every` on two absences: a copy from a partial match whose first side went on marked waits
        // from no time (Siddhi's marker event has none), so each side takes it at its next check.
        if let (a, _) = everyAbsentPair, e == 0, p.rows[a] == [PatternMachine.satisfied] { p.timestampMs = -1 }
        for s in first..<pattern.states.count { p.rows[s] = [] }
        if e == 0 { p.firstMs = nil }
        p.order = nextOrder
        nextOrder += 1
        let copy = nextId
        nextId += 1
        partials[copy] = p
        for s in pattern.elements[e].states {
            // `every (not A for T -> …)`: a first `not A` turned off once it fired takes no copy (Siddhi's).
            if pattern.states[s].isAbsent && !active[s] { continue }
            if pattern.states[s].isAbsent && partnerOf[s] == nil { scheduledMs[s] = p.timestampMs + (pattern.states[s].forMs ?? 0) }
            fresh[s].append(copy)
        }
    }

    /// Partial `id` matched the whole pattern.
    private func emit(_ id: Int) {
        guard let p = partials[id] else { return }
        let count = pattern.states.count
        var rows: [Int32] = []
        rows.reserveCapacity(count + pattern.views.count)
        for j in 0..<count { rows.append(PatternMachine.pick(p.rows[j], nil, nil)) }
        for view in pattern.views { rows.append(PatternMachine.pick(p.rows[view.state], nil, view.index)) }
        completions.append((p.timestampMs, rows))
    }

    /// The matches completed so far, through the selector.
    private func flush(clockMs: Int64, playback: Bool) -> EventBatch? {
        guard !completions.isEmpty else { return nil }
        let count = pattern.states.count
        var sources: [(EventBatch, [Int32])] = []
        for g in 0..<(count + pattern.views.count) {
            let j = g < count ? g : pattern.views[g - count].state
            sources.append((captures[j], completions.map { $0.rows[g] }))
        }
        PairBatch.build(&scratch, sources: sources, timestamps: completions.map(\.ms))
        completions.removeAll()
        return selector.process(scratch, clockMs: clockMs, playback: playback)
    }

    // MARK: Bounds

    /// Forgets partial matches no state holds, bounds their number, and compacts the captures.
    private func collect() {
        guard partials.count > 2 * liveAfterCollect + 64 || partials.count > PatternQuery.partialsMax else { return }
        var live = Set<Int>()
        for list in pending { live.formUnion(list) }
        for list in fresh { live.formUnion(list) }
        for id in Array(partials.keys) where !live.contains(id) { partials[id] = nil }
        if partials.count > PatternQuery.partialsMax {
            let extra = partials.count - PatternQuery.partialsMax
            let oldest = Set(partials.sorted { $0.value.order < $1.value.order }.prefix(extra).map(\.key))
            for id in oldest { partials[id] = nil }
            for s in pending.indices {
                pending[s].removeAll { oldest.contains($0) }
                fresh[s].removeAll { oldest.contains($0) }
            }
            droppedCount += extra
        }
        liveAfterCollect = partials.count
        let referenced = partials.values.reduce(0) { $0 + $1.rows.reduce(0) { $0 + $1.count } }
        let stored = captures.reduce(0) { $0 + $1.count }
        guard stored > 1024, stored > 4 * referenced else { return }
        var compact = pattern.states.map { EventBatch(schema: $0.schema) }
        for id in Array(partials.keys) {
            var p = partials[id]!
            for j in p.rows.indices {
                p.rows[j] = p.rows[j].map { $0 < 0 ? $0 : Int32(compact[j].appendRow(from: captures[j], row: Int($0))) }
            }
            partials[id] = p
        }
        captures = compact
    }

    // MARK: Snapshot

    /// Layout: clock start, flags, per-state lists and timers, then each live partial match with
    /// its events (markers as negative rows), then the selector.
    func write(to w: inout SnapshotWriter) {
        var live = Set<Int>()
        for list in pending { live.formUnion(list) }
        for list in fresh { live.formUnion(list) }
        w.bool(startMs != nil)
        w.int64(startMs ?? 0)
        w.bool(initialized)
        w.int64(nextOrder)
        w.int(droppedCount)
        w.int(pattern.states.count)
        for s in pattern.states.indices {
            w.bool(active[s])
            w.int64(scheduledMs[s])
            w.int64(lastArrivalMs[s])
            w.int(pending[s].count)
            for id in pending[s] { w.int(id) }
            w.int(fresh[s].count)
            for id in fresh[s] { w.int(id) }
        }
        let ids = live.filter { partials[$0] != nil }.sorted()
        w.int(ids.count)
        for id in ids {
            let p = partials[id]!
            w.int(id)
            w.int64(p.timestampMs)
            w.bool(p.firstMs != nil)
            w.int64(p.firstMs ?? 0)
            w.int64(p.order)
            for (j, rows) in p.rows.enumerated() {
                w.int(rows.count)
                for row in rows {
                    w.bool(row < 0)
                    if row < 0 { w.int64(Int64(row)) } else { w.row((captures[j].timestamps[Int(row)], captures[j].row(Int(row)))) }
                }
            }
        }
        selector.write(to: &w)
    }

    struct State {
        var startMs: Int64?
        var initialized: Bool
        var nextOrder: Int64
        var droppedCount: Int
        var active: [Bool], scheduledMs: [Int64], lastArrivalMs: [Int64]
        var pending: [[Int]], fresh: [[Int]]
        var partials: [Int: Partial]
        var captures: [EventBatch]
        var selector: StatefulQuery.State?
    }

    /// `dropsAtEventEnd` false: a snapshot of layout `PatternQuery.machineLayoutBefore`, whose
    /// sequence waiting lists still hold what the next event would have dropped first.
    func decode(from r: inout SnapshotReader, dropsAtEventEnd: Bool = true) throws(SnapshotError) -> State {
        let hasStart = try r.bool()
        let start = try r.int64()
        let initialized = try r.bool()
        let nextOrder = try r.int64()
        let dropped = try r.int()
        let n = pattern.states.count
        guard try r.int() == n else { throw SnapshotError("pattern state count differs") }
        var active: [Bool] = [], scheduled: [Int64] = [], arrivals: [Int64] = [], pending: [[Int]] = [], fresh: [[Int]] = []
        func ids(_ r: inout SnapshotReader) throws(SnapshotError) -> [Int] {
            let c = try r.int()
            guard c >= 0, c <= PatternQuery.partialsMax else { throw SnapshotError("pattern list length out of range") }
            var out: [Int] = []
            for _ in 0..<c { out.append(try r.int()) }
            return out
        }
        for _ in 0..<n {
            active.append(try r.bool())
            scheduled.append(try r.int64())
            arrivals.append(try r.int64())
            let waiting = try ids(&r)
            // Before layout 3 a sequence (no `not` then) dropped all of these before its next event.
            pending.append(isSequence && !dropsAtEventEnd ? [] : waiting)
            fresh.append(try ids(&r))
        }
        let count = try r.int()
        guard count >= 0, count <= PatternQuery.partialsMax else { throw SnapshotError("pattern partial count out of range") }
        var captures = pattern.states.map { EventBatch(schema: $0.schema) }
        var partials: [Int: Partial] = [:]
        for _ in 0..<count {
            let id = try r.int()
            let ts = try r.int64()
            let hasFirst = try r.bool()
            let first = try r.int64()
            let order = try r.int64()
            var rows: [[Int32]] = []
            for j in 0..<n {
                let c = try r.int()
                guard c >= 0, c <= PatternMachine.countMax else { throw SnapshotError("pattern capture count out of range") }
                var list: [Int32] = []
                for _ in 0..<c {
                    if try r.bool() {
                        let marker = try r.int64()
                        guard marker == Int64(PatternMachine.satisfied) || marker == Int64(PatternMachine.arrived) else {
                            throw SnapshotError("pattern marker out of range")
                        }
                        list.append(Int32(marker))
                    } else {
                        let (t, values) = try r.row()
                        guard values.count == pattern.states[j].schema.attributes.count, captures[j].append(timestamp: t, values: values) else {
                            throw SnapshotError("pattern event does not match its stream")
                        }
                        list.append(Int32(captures[j].count - 1))
                    }
                }
                rows.append(list)
            }
            partials[id] = Partial(rows: rows, timestampMs: ts, firstMs: hasFirst ? first : nil, order: order)
        }
        for list in pending + fresh where list.contains(where: { partials[$0] == nil }) {
            throw SnapshotError("pattern list names an unknown partial match")
        }
        let selectorState = try selector.decode(from: &r)
        return State(startMs: hasStart ? start : nil, initialized: initialized, nextOrder: nextOrder, droppedCount: dropped,
                     active: active, scheduledMs: scheduled, lastArrivalMs: arrivals, pending: pending, fresh: fresh,
                     partials: partials, captures: captures, selector: selectorState)
    }

    func apply(_ state: State) {
        startMs = state.startMs
        initialized = state.initialized
        nextOrder = state.nextOrder
        droppedCount = state.droppedCount
        active = state.active
        scheduledMs = state.scheduledMs
        lastArrivalMs = state.lastArrivalMs
        pending = state.pending
        fresh = state.fresh
        partials = state.partials
        nextId = (partials.keys.max() ?? -1) + 1
        liveAfterCollect = partials.count
        captures = state.captures
        completions.removeAll()
        selector.apply(state.selector)
    }
}
