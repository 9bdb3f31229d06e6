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
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Makes swift-metrics record into ``registry`` (idempotent).
    public static func bootstrap() { _ = registry }
}
