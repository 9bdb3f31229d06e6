/// The select part of a join or pattern query (its `QueryPlan` over the pair or pattern schema):
/// a stateless projection, or a `StatefulQuery` when it aggregates, groups, shapes or rate-limits.
final class Selector {
    private let stateless: QueryRuntime?
    private let stateful: StatefulQuery?

    init(plan: QueryPlan) {
        if plan.isStateful {
            stateful = StatefulQuery(plan: plan)
            stateless = nil
        } else {
            stateless = QueryRuntime(plan: plan)
            stateful = nil
        }
    }

    /// Whether expired rows matter (aggregates subtract them); a stateless selector ignores them.
    var readsExpired: Bool { stateful != nil }

    var nextTimerMs: Int64? { stateful?.nextTimerMs }

    func advanceTime(to clockMs: Int64) -> EventBatch? { stateful?.advanceTime(to: clockMs) }

    /// Rows that all arrive now (current events).
    func process(_ batch: EventBatch, clockMs: Int64, playback: Bool) -> EventBatch? {
        if let stateful { return stateful.process(batch, clockMs: clockMs, playback: playback) }
        return stateless!.process(batch, clockMs: playback ? nil : clockMs)
    }

    /// Rows with their chunk kinds (a join's current and expired pairs).
    func process(_ batch: EventBatch, kinds: [UInt8], clockMs: Int64, playback: Bool) -> EventBatch? {
        if let stateful { return stateful.processChunk(batch, kinds: kinds, clockMs: clockMs, playback: playback) }
        return stateless!.process(batch, clockMs: playback ? nil : clockMs)
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        w.bool(stateful != nil)
        stateful?.write(to: &w)
    }

    func decode(from r: inout SnapshotReader) throws(SnapshotError) -> StatefulQuery.State? {
        guard try r.bool() == (stateful != nil) else { throw SnapshotError("query selector differs") }
        return try stateful?.decode(from: &r)
    }

    func apply(_ state: StatefulQuery.State?) {
        if let state { stateful?.apply(state) }
    }
}
