import DataPlane
import CShims
import Foundation
import Prometheus

/// What `/metrics` reads at each scrape instead of counting on the hot path: ring occupancy, sink
/// queues, source backpressure, role and term, io backend, jemalloc. Series of apps that are gone
/// are removed. One sampler per node; scrapes are serialised by its lock.
final class MetricsSampler: @unchecked Sendable {
    private let registry = TandemMetrics.registry
    private let lock = NSLock()
    /// Gauges set at the last scrape, by name and labels (the others are unregistered).
    private var gauges: [String: Gauge] = [:]
    private var counters: [String: Counter] = [:]
    /// Backpressure ns already added to the counter, per listener stats object.
    private var backpressureSeen: [ObjectIdentifier: Int] = [:]
    static let roles = ["standalone", "active", "passive", "starting", "stopped"]

    /// The Prometheus text: the recorded metrics plus a fresh sample.
    func render(board: NodeStatusBoard) -> String {
        lock.lock()
        defer { lock.unlock() }
        sample(board: board)
        return registry.emitToString()
    }

    private func sample(board: NodeStatusBoard) {
        let status = board.current
        var seen: Set<String> = []
        func gauge(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
            let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
            seen.insert(key)
            let g = gauges[key] ?? registry.makeGauge(descriptor: TandemMetrics.descriptor(name), labels: labels)
            gauges[key] = g
            g.set(value)
        }
        for role in MetricsSampler.roles { gauge("tandem_role", [("role", role)], status.role == role ? 1 : 0) }
        gauge("tandem_term", [], Double(status.term ?? 0))
        gauge("tandem_io_backend", [("backend", status.ioBackend)], 1)
        if let inSync = status.inSync { gauge("tandem_in_sync", [], inSync ? 1 : 0) }
        if let ms = status.lastHeartbeatMonoMs { gauge("tandem_heartbeat_age_seconds", [], Double(ActiveFence.nowMs() - ms) / 1000) }
        var value = 0
        if tandem_jemalloc_stat("stats.allocated", &value) == 0 { gauge("tandem_jemalloc_allocated_bytes", [], Double(value)) }
        if tandem_jemalloc_stat("stats.resident", &value) == 0 { gauge("tandem_jemalloc_resident_bytes", [], Double(value)) }
        var live: Set<ObjectIdentifier> = []
        for host in board.hosts {
            let app = host.app.name
            for source in host.sources {
                let labels = [("app", app), ("source", source.label)]
                gauge("tandem_ingest_ring_batches", labels, Double(source.ring.count))
                gauge("tandem_ingest_ring_capacity_batches", labels, Double(source.ring.capacity))
                guard let listener = source as? TCPSourceListener else { continue }
                let id = ObjectIdentifier(listener.stats)
                live.insert(id)
                let total = listener.stats.ringFullWaitNs.load(ordering: .relaxed)
                let delta = total - (backpressureSeen[id] ?? 0)
                backpressureSeen[id] = total
                let key = "tandem_source_backpressure_seconds_total|" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: "|")
                let counter = counters[key] ?? registry.makeCounter(descriptor: TandemMetrics.descriptor("tandem_source_backpressure_seconds_total"), labels: labels)
                counters[key] = counter
                if delta > 0 { counter.increment(by: Double(delta) / 1e9) }
            }
        }
        backpressureSeen = backpressureSeen.filter { live.contains($0.key) }
        for (key, g) in gauges where !seen.contains(key) {
            registry.unregisterGauge(g)
            gauges[key] = nil
        }
    }
}
