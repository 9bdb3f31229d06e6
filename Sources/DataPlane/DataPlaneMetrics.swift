import Metrics

/// The data plane's metrics, through the swift-metrics API (the node picks the backend, e.g.
/// Prometheus; without one they cost a no-op call). Names and labels are listed in
/// docs/sources-and-sinks.md. Each source or sink creates its handles once; hot paths only increment.

/// Metrics of one source: events handed to the engine, and backpressure (the engine ring was full).
public struct SourceMetrics: Sendable {
    /// `tandem_source_events_total`
    let events: Counter
    /// `tandem_source_backpressure_total`: times the source found the engine ring full and waited
    /// (TCP: stopped reading its sockets; HTTP: held the request).
    let backpressure: Counter
    /// `tandem_source_backpressure_wait_seconds_total`: time spent waiting for ring room (seconds:
    /// Prometheus wants base units).
    let backpressureWait: FloatingPointCounter

    /// - Parameters:
    ///   - kind: `tcp`, `http`, `inMemory` (the `source` label).
    ///   - dimensions: more labels (the node adds `app`; a listener its `port` or topic).
    public init(kind: String, dimensions: [(String, String)]) {
        let labels = [("source", kind)] + dimensions
        events = Counter(label: "tandem_source_events_total", dimensions: labels)
        backpressure = Counter(label: "tandem_source_backpressure_total", dimensions: labels)
        backpressureWait = FloatingPointCounter(label: "tandem_source_backpressure_wait_seconds_total", dimensions: labels)
    }

    /// Removes the series (the source's app was undeployed), so scrapes stop showing them.
    public func destroy() {
        events.destroy()
        backpressure.destroy()
        backpressureWait.destroy()
    }

    func recordBackpressure(waitedNs: UInt64) {
        backpressure.increment()
        if waitedNs > 0 { backpressureWait.increment(by: Double(waitedNs) / 1e9) }
    }
}

/// Metrics of one sink's bounded queue and its sending.
public struct SinkMetrics: Sendable {
    /// `tandem_sink_events_sent_total`
    let sent: Counter
    /// `tandem_sink_events_dropped_total`: by the full-queue policy, after the last retry, or unsent at stop.
    let dropped: Counter
    /// `tandem_sink_retries_total`: sends tried again (connection errors, 5xx).
    let retries: Counter
    /// `tandem_sink_queue_full_total`: times `write` found the queue full.
    let queueFull: Counter
    /// `tandem_sink_queue_batches`: batches waiting in the queue (sampled at each send).
    let queueDepth: Gauge

    /// - Parameters:
    ///   - kind: `http`, `tcp`, `inMemory` (the `sink` label).
    ///   - dimensions: more labels (`app`, `stream`, the destination).
    public init(kind: String, dimensions: [(String, String)]) {
        let labels = [("sink", kind)] + dimensions
        sent = Counter(label: "tandem_sink_events_sent_total", dimensions: labels)
        dropped = Counter(label: "tandem_sink_events_dropped_total", dimensions: labels)
        retries = Counter(label: "tandem_sink_retries_total", dimensions: labels)
        queueFull = Counter(label: "tandem_sink_queue_full_total", dimensions: labels)
        queueDepth = Gauge(label: "tandem_sink_queue_batches", dimensions: labels)
    }

    /// Removes the series (the sink's app was undeployed).
    public func destroy() {
        sent.destroy()
        dropped.destroy()
        retries.destroy()
        queueFull.destroy()
        queueDepth.destroy()
    }
}
