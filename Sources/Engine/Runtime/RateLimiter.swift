/// Output rate limiting, after the selector, as Siddhi's rate limiters:
///
/// Per N events:
/// - `all`: rows are held and released together at every Nth row;
/// - `first`: the first row of each period of N passes (with group by, each group counts its own rows);
/// - `last`: at every Nth row the last row is released (with group by, the last row of each group,
///   groups in first-seen order).
///
/// Per time period T (`output … every 5 sec`):
/// - `all`: rows are held and released together at the end of each period;
/// - `first`: the first row of each period passes (with group by, the first of each group);
/// - `last`: at the end of each period the last row (per group, groups in first-seen order) is released;
/// - `snapshot`: at the end of each period the query's current state is emitted: with aggregates or
///   group by, the latest row of every group seen; otherwise the rows now in the window (a current row
///   joins, its expired row leaves; RESET empties), or the latest row when the query has no window.
///
/// Periods start at the clock of the first row the limiter sees and stay aligned to it; periods in
/// which nothing would be emitted are skipped in one step. (Siddhi starts them at the wall-clock
/// time the query starts, which makes playback outputs depend on the machine; Tandem's rule keeps
/// replays deterministic.)
///
/// Limits: per-event `all` holds at most N rows; time-based `all` holds at most `heldRowsMax` rows and
/// releases early when a period would hold more (so memory stays bounded under any input rate).
final class RateLimiter {
    let rate: OutputRate
    let schema: StreamSchema
    let grouped: Bool
    /// Whether snapshot mode tracks window contents (no aggregates, no group by, a window).
    let tracksWindow: Bool
    /// Time-based `all` and windowed `snapshot` hold at most this many rows.
    static let heldRowsMax = 1 << 20
    private var counter = 0
    private var groupCounters: [Int32: Int] = [:]
    private var held: [(Int64, [Value])] = []
    private var lastByGroup: [Int32: (Int64, [Value])] = [:]
    private var lastOrder: [Int32] = []
    /// Time-based rates: the end of the running period (nil before the first row).
    private(set) var dueMs: Int64?
    /// Time-based `first` without group by: when the last row passed.
    private var firstPassedMs: Int64?
    private var firstSeen: Set<Int32> = []

    init(rate: OutputRate, schema: StreamSchema, grouped: Bool, tracksWindow: Bool = false) {
        self.rate = rate
        self.schema = schema
        self.grouped = grouped
        self.tracksWindow = tracksWindow
    }

    /// The next time (ms) a time-based limiter must emit, if any.
    var nextTimerMs: Int64? { rate.periodMs == nil ? nil : dueMs }

    /// The rows of `batch` (with their group ids and chunk kinds) that pass now, in order; nil when
    /// none. `clockMs` is the engine's clock.
    func apply(_ batch: EventBatch, groups: [Int32], kinds: [UInt8], clockMs: Int64) -> EventBatch? {
        if let period = rate.periodMs, dueMs == nil { dueMs = clockMs + period }
        var out = EventBatch(schema: schema)
        for r in 0..<batch.count {
            let g = grouped ? groups[r] : 0
            if let period = rate.periodMs {
                switch rate.mode {
                case .all:
                    held.append((batch.timestamps[r], batch.row(r)))
                    if held.count >= RateLimiter.heldRowsMax { releaseHeld(into: &out) }
                case .first:
                    if grouped {
                        if firstSeen.insert(g).inserted { out.append(timestamp: batch.timestamps[r], values: batch.row(r)) }
                    } else if firstPassedMs.map({ $0 + period <= clockMs }) ?? true {
                        firstPassedMs = clockMs
                        out.append(timestamp: batch.timestamps[r], values: batch.row(r))
                    }
                case .last:
                    remember(g, (batch.timestamps[r], batch.row(r)))
                case .snapshot:
                    if tracksWindow {
                        let kind = kinds.isEmpty ? ChunkRowKind.current.rawValue : kinds[r]
                        let row = batch.row(r)
                        if kind == ChunkRowKind.current.rawValue {
                            if held.count < RateLimiter.heldRowsMax { held.append((batch.timestamps[r], row)) }
                        } else if kind == ChunkRowKind.expired.rawValue {
                            if let i = held.firstIndex(where: { $0.1 == row }) { held.remove(at: i) }
                        } else {
                            held.removeAll(keepingCapacity: true)
                        }
                    } else if kinds.isEmpty || kinds[r] == ChunkRowKind.current.rawValue {
                        remember(g, (batch.timestamps[r], batch.row(r)))
                    }
                }
                continue
            }
            let events = rate.events ?? 1
            switch rate.mode {
            case .all, .snapshot:
                held.append((batch.timestamps[r], batch.row(r)))
                counter += 1
                if counter == events {
                    releaseHeld(into: &out)
                    counter = 0
                }
            case .first:
                let seen = grouped ? groupCounters[g, default: 0] : counter
                if seen == 0 { out.append(timestamp: batch.timestamps[r], values: batch.row(r)) }
                let next = seen + 1 == events ? 0 : seen + 1
                if grouped { groupCounters[g] = next } else { counter = next }
            case .last:
                remember(g, (batch.timestamps[r], batch.row(r)))
                counter += 1
                if counter == events {
                    releaseLast(into: &out)
                    counter = 0
                }
            }
        }
        return out.isEmpty ? nil : out
    }

    /// Ends every period that is over at `clockMs` and returns what they emit.
    func tick(clockMs: Int64) -> EventBatch? {
        guard let period = rate.periodMs, var due = dueMs, due <= clockMs else { return nil }
        var out = EventBatch(schema: schema)
        switch rate.mode {
        case .all: releaseHeld(into: &out)
        case .last: releaseLast(into: &out)
        case .first: firstSeen.removeAll(keepingCapacity: true)
        case .snapshot:
            if tracksWindow {
                for (t, v) in held { out.append(timestamp: t, values: v) }
            } else {
                for g in lastOrder { if let (t, v) = lastByGroup[g] { out.append(timestamp: t, values: v) } }
            }
        }
        // One emission per call; a snapshot emits once per period, other modes skip to the period
        // holding the clock (nothing is held for the periods in between).
        due += period
        if rate.mode != .snapshot || out.isEmpty, due <= clockMs { due += ((clockMs - due) / period + 1) * period }
        dueMs = due
        return out.isEmpty ? nil : out
    }

    private func remember(_ g: Int32, _ row: (Int64, [Value])) {
        if lastByGroup[g] == nil { lastOrder.append(g) }
        lastByGroup[g] = row
    }

    private func releaseHeld(into out: inout EventBatch) {
        for (t, v) in held { out.append(timestamp: t, values: v) }
        held.removeAll(keepingCapacity: true)
    }

    private func releaseLast(into out: inout EventBatch) {
        for g in lastOrder { if let (t, v) = lastByGroup[g] { out.append(timestamp: t, values: v) } }
        lastByGroup.removeAll(keepingCapacity: true)
        lastOrder.removeAll(keepingCapacity: true)
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
        w.bool(dueMs != nil)
        w.int64(dueMs ?? 0)
        w.bool(firstPassedMs != nil)
        w.int64(firstPassedMs ?? 0)
        w.int(firstSeen.count)
        for g in firstSeen.sorted() { w.int64(Int64(g)) }
    }

    /// A limiter holding the state `write` wrote (this one is not touched).
    func decoded(from r: inout SnapshotReader) throws(SnapshotError) -> RateLimiter {
        let fresh = RateLimiter(rate: rate, schema: schema, grouped: grouped, tracksWindow: tracksWindow)
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
        let hasDue = try r.bool()
        let due = try r.int64()
        fresh.dueMs = hasDue ? due : nil
        let hasFirst = try r.bool()
        let first = try r.int64()
        fresh.firstPassedMs = hasFirst ? first : nil
        for _ in 0..<(try r.int()) { fresh.firstSeen.insert(Int32(truncatingIfNeeded: try r.int64())) }
        return fresh
    }
}
