import Metrics
import Prometheus

/// The process's metrics: swift-metrics backed by a Prometheus registry, bootstrapped once per
/// process on first use (a second ``bootstrap()`` does nothing, so tests that start several nodes in
/// one process are fine). DataPlane and the engine host record through the swift-metrics API; only
/// this folder knows Prometheus. Every name: docs/rest.md.
public enum TandemMetrics {
    /// The registry `/metrics` renders.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets["tandem_batch_events"] = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536]
        factory.valueHistogramBuckets["tandem_snapshot_bytes"] = [1 << 10, 16 << 10, 256 << 10, 1 << 20, 16 << 20, 256 << 20, 1 << 30].map(Double.init)
        factory.durationHistogramBuckets["tandem_snapshot_save_seconds"] = [1, 5, 10, 50, 100, 500, 1000, 5000, 30000].map { .milliseconds($0) }
        factory.durationHistogramBuckets["tandem_heartbeat_seconds"] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000].map { .milliseconds($0) }
        MetricsSystem.bootstrap(HelpTextMetricsFactory(base: factory))
        return registry
    }()

    /// Makes swift-metrics record into ``registry`` (idempotent).
    public static func bootstrap() { _ = registry }

    /// `name` (the whole metric name) with its help text.
    static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? "")
    }

    /// The `# HELP` text of every metric (`promtool check metrics` wants one on each). A name must be
    /// here before it is recorded (checked in debug builds).
    static let help: [String: String] = [
        // Engine host (AppHostCounters, PendingBackups).
        "tandem_stream_events_in_total": "Events the engine ran, per input stream",
        "tandem_stream_events_out_total": "Events handed to sinks, per stream with a sink",
        "tandem_batch_events": "Events per input batch",
        "tandem_snapshot_save_seconds": "Time the store took to write a snapshot",
        "tandem_snapshot_bytes": "Snapshot sizes",
        // HA.
        "tandem_heartbeat_seconds": "HA: round trip of one heartbeat (lease renewal or check) to the cluster database",
        "tandem_heartbeat_age_seconds": "HA: age of the last heartbeat the cluster database took",
        "tandem_role": "1 for the node's current role, 0 for the others",
        "tandem_term": "HA lease term of the active (0 standalone)",
        "tandem_in_sync": "HA: 1 when the passive holds every event since the last checkpoint",
        "tandem_ha_standby_divergence_total": "HA: times a passive's standby state differed from the active's at a checkpoint (then reloaded)",
        "tandem_ha_standby_outputs_dropped_total": "HA: output events a passive could not keep for a failover (over its bound before the active reported them delivered)",
        // Process.
        "tandem_io_backend": "1 for the io backend in use",
        "tandem_jemalloc_allocated_bytes": "jemalloc stats.allocated",
        "tandem_jemalloc_resident_bytes": "jemalloc stats.resident",
        // Sources (DataPlane SourceMetrics, HTTPSource; MetricsSampler).
        "tandem_source_events_total": "Events a source handed to its engine ring",
        "tandem_source_backpressure_total": "Times a source found its engine ring full and waited",
        "tandem_source_backpressure_wait_seconds_total": "Time a source spent waiting for room in its engine ring",
        "tandem_source_backpressure_seconds_total": "Time a tcp source stopped reading because its engine ring was full",
        "tandem_http_source_requests_total": "Requests an http source answered, by status",
        "tandem_ingest_ring_batches": "Batches waiting between a source and its engine",
        "tandem_ingest_ring_capacity_batches": "Capacity of the ring between a source and its engine",
        // Sinks (DataPlane SinkMetrics).
        "tandem_sink_events_sent_total": "Events a sink delivered",
        "tandem_sink_events_dropped_total": "Events a sink dropped (full queue, last retry failed, unsent at stop)",
        "tandem_sink_retries_total": "Sends a sink tried again",
        "tandem_sink_queue_full_total": "Times a sink found its queue full",
        "tandem_sink_queue_batches": "Batches waiting in a sink's queue",
        // Store-backed tables (MySQLTableStore).
        "tandem_table_store_pending_changes": "Changes to a stored table waiting for its writer",
        "tandem_table_store_changes_written_total": "Changes to a stored table the database committed",
        "tandem_table_store_changes_failed_total": "Changes to a stored table the database refused",
        "tandem_table_store_changes_discarded_total": "Changes to a stored table not written (no longer active, or stopped while the database was down)",
        "tandem_table_store_transactions_total": "Transactions committed for a stored table",
    ]
}

/// swift-prometheus's factory registers swift-metrics handles without help text; this one registers
/// them with ``TandemMetrics/help`` and leaves buckets and removal to that factory.
struct HelpTextMetricsFactory: MetricsFactory {
    let base: PrometheusMetricsFactory
    private var registry: PrometheusCollectorRegistry { base.registry }

    private func named(_ label: String) -> MetricNameDescriptor {
        assert(TandemMetrics.help[label] != nil || !label.hasPrefix("tandem_"), "metric \(label) has no help text in TandemMetrics.help")
        return TandemMetrics.descriptor(label)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: named(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: named(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: named(label), labels: dimensions) }
        let buckets = base.valueHistogramBuckets[label] ?? base.defaultValueHistogramBuckets
        return registry.makeValueHistogram(descriptor: named(label), labels: dimensions, buckets: buckets)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: named(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let buckets = base.durationHistogramBuckets[label] ?? base.defaultDurationHistogramBuckets
        return registry.makeDurationHistogram(descriptor: named(label), labels: dimensions, buckets: buckets)
    }

    func destroyCounter(_ handler: any CounterHandler) { base.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { base.destroyFloatingPointCounter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { base.destroyRecorder(handler) }
    func destroyMeter(_ handler: any MeterHandler) { base.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { base.destroyTimer(handler) }
}
