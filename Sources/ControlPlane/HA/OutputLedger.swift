import Engine
import Foundation
import Logging
import Metrics

/// Numbers an app's outputs per sink and, on a hot standby, keeps them until the active reports
/// its sinks done with them, so that a failover sends again what the old active may not have
/// delivered: outputs stay at least once across a failover.
///
/// Output `n` of sink `k` is the `n`-th event the app emitted towards that sink, counted from the
/// app's first event: the same on both nodes, which run the same batches at the same clock, and
/// kept in snapshots. A sink that can drop duplicates by id can use it (exactly once).
///
/// Engine thread only (and the control thread while the engine is stopped).
final class OutputLedger: @unchecked Sendable {
    /// Per sink, outputs emitted so far (the next one's number is `counts[k] + 1`).
    var counts: [Int64]
    /// Whether emitted outputs are kept (a standby: outputs off).
    var retaining = false
    /// Per sink, the outputs the active reported done with (standby), never moving back.
    private(set) var delivered: [Int64]
    /// Per sink, kept outputs oldest first (`first`: number of the batch's first event); read from `heads`.
    private var kept: [[(first: Int64, batch: EventBatch)]]
    private var heads: [Int]
    private(set) var keptEvents = 0
    /// Most events kept across the app's sinks; past it the oldest go (counted, logged).
    let keptEventsMax: Int
    private let app: String
    private let logger: Logger
    /// Made at the first drop: an app that never drops has no series.
    private var dropped: Metrics.Counter?
    private var droppedUnlogged = 0
    private var lastDropLogNs: UInt64 = 0

    /// Events a standby keeps at most per app by default (about the outputs of a second at 1 M/s).
    static let keptEventsMaxDefault = 1 << 20

    init(sinks: Int, app: String, logger: Logger, keptEventsMax: Int = OutputLedger.keptEventsMaxDefault) {
        precondition(keptEventsMax >= 1)
        counts = Array(repeating: 0, count: sinks)
        delivered = Array(repeating: 0, count: sinks)
        kept = Array(repeating: [], count: sinks)
        heads = Array(repeating: 0, count: sinks)
        self.keptEventsMax = keptEventsMax
        self.app = app
        self.logger = logger
    }

    /// The runtime emitted `batch` towards sink `k`: numbered, and kept on a standby unless the
    /// active already reported those outputs done.
    @inline(__always)
    func emitted(sink k: Int, _ batch: EventBatch) {
        let first = counts[k] + 1
        counts[k] += Int64(batch.count)
        guard retaining, counts[k] > delivered[k] else { return }
        kept[k].append((first, batch))
        keptEvents += batch.count
        if keptEvents > keptEventsMax { dropOldest() }
    }

    /// The active's report: per sink, the outputs it is done with. Forgets what they cover.
    func trim(delivered report: [Int64]) {
        for k in 0..<min(report.count, delivered.count) where report[k] > delivered[k] {
            delivered[k] = report[k]
            while heads[k] < kept[k].count {
                let (first, batch) = kept[k][heads[k]]
                guard first + Int64(batch.count) - 1 <= delivered[k] else { break }
                keptEvents -= batch.count
                heads[k] += 1
            }
            compact(k)
        }
    }

    /// What the active did not report done, per sink in output order (a batch cut at the report),
    /// and forgets it: a new active sends it again first.
    func takeUndelivered() -> [(sink: Int, first: Int64, batch: EventBatch)] {
        var out: [(sink: Int, first: Int64, batch: EventBatch)] = []
        for k in kept.indices {
            for (first, batch) in kept[k][heads[k]...] {
                let skip = Int(max(0, min(Int64(batch.count), delivered[k] - first + 1)))
                guard skip < batch.count else { continue }
                if skip == 0 {
                    out.append((k, first, batch))
                } else {
                    var rest = EventBatch(schema: batch.schema, capacity: batch.count - skip)
                    let rows = (skip..<batch.count).map { Int32($0) }
                    rows.withUnsafeBufferPointer { rest.gather($0, from: batch) }
                    out.append((k, first + Int64(skip), rest))
                }
            }
        }
        clearKept()
        return out
    }

    /// Drops every kept output (a restore: they belong to another state).
    func clearKept() {
        for k in kept.indices {
            kept[k].removeAll()
            heads[k] = 0
        }
        keptEvents = 0
    }

    /// A restore: the counts the snapshot holds (zeros when it holds none or another sink count).
    func restore(counts restored: [Int64]?) {
        clearKept()
        if let restored, restored.count == counts.count { counts = restored } else { counts = Array(repeating: 0, count: counts.count) }
        delivered = Array(repeating: 0, count: counts.count)
    }

    private func dropOldest() {
        // From the sink holding the most: the bound then costs the slowest sink first.
        var victim = 0
        var most = -1
        for k in kept.indices {
            let held = kept[k].count - heads[k]
            if held > most {
                most = held
                victim = k
            }
        }
        guard heads[victim] < kept[victim].count else { return }
        let batch = kept[victim][heads[victim]].batch
        heads[victim] += 1
        keptEvents -= batch.count
        compact(victim)
        if dropped == nil { dropped = OutputLedger.droppedCounter(app) }
        dropped?.increment(by: batch.count)
        droppedUnlogged += batch.count
        let now = DispatchTime.now().uptimeNanoseconds
        if now - lastDropLogNs >= 1_000_000_000 {
            logger.error("ha: app '\(app)' standby keeps at most \(keptEventsMax) output events the active has not reported delivered; \(droppedUnlogged) dropped (a failover now would not send them again: the active's sinks are slow or away)")
            droppedUnlogged = 0
            lastDropLogNs = now
        }
    }

    private static func droppedCounter(_ app: String) -> Metrics.Counter {
        Metrics.Counter(label: "tandem_ha_standby_outputs_dropped_total", dimensions: [("app", app)])
    }

    /// Removes the app's series (undeploy).
    func destroyMetrics() {
        dropped?.destroy()
        dropped = nil
    }

    private func compact(_ k: Int) {
        if heads[k] == kept[k].count {
            kept[k].removeAll(keepingCapacity: true)
            heads[k] = 0
        } else if heads[k] > 1024 && heads[k] * 2 > kept[k].count {
            kept[k].removeFirst(heads[k])
            heads[k] = 0
        }
    }
}
