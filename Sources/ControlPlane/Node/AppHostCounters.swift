import Atomics
import Engine
import Foundation
import Metrics

/// One app's event counts: plain atomics for the status page and `/siddhi-apps/statistics`, and
/// swift-metrics counters per stream plus a batch-size histogram for `/metrics`. Written by the
/// engine thread once per batch (never per event); read from any thread.
///
/// Hosts of one app share its series (an update or a restore builds a new host next to the old
/// one); when the last host of an app goes, the app's series leave `/metrics`.
final class AppHostCounters: Sendable {
    private let appName: String
    /// Live hosts per app name.
    private static let live = LiveHostCounts()

    let eventsIn = ManagedAtomic<Int>(0)
    let eventsOut = ManagedAtomic<Int>(0)
    /// Per input stream index: `tandem_stream_events_in_total{app,stream}`.
    private let inByStream: [Metrics.Counter]
    /// Per output stream name: `tandem_stream_events_out_total{app,stream}`.
    private let outByStream: [String: Metrics.Counter]
    /// `tandem_batch_events{app}`: events per input batch the engine ran.
    private let batchSize: Recorder

    init(app: SiddhiApp) {
        appName = app.name
        AppHostCounters.live.add(app.name)
        inByStream = app.streams.map { Metrics.Counter(label: "tandem_stream_events_in_total", dimensions: [("app", app.name), ("stream", $0.name)]) }
        var out: [String: Metrics.Counter] = [:]
        for name in Set(app.sinks.map(\.streamName)) {
            out[name] = Metrics.Counter(label: "tandem_stream_events_out_total", dimensions: [("app", app.name), ("stream", name)])
        }
        outByStream = out
        batchSize = Recorder(label: "tandem_batch_events", dimensions: [("app", app.name)], aggregate: true)
    }

    /// The streams whose output leaves the node through a sink.
    var outputStreams: [String] { outByStream.keys.sorted() }

    func recordIn(streamIndex: Int, events: Int) {
        eventsIn.wrappingIncrement(by: events, ordering: .relaxed)
        inByStream[streamIndex].increment(by: events)
        batchSize.record(events)
    }

    func recordOut(stream: String, events: Int) {
        eventsOut.wrappingIncrement(by: events, ordering: .relaxed)
        outByStream[stream]?.increment(by: events)
    }

    deinit {
        guard AppHostCounters.live.remove(appName) else { return }
        // No host of this app is left: its series go (snapshot series are made per write).
        for counter in inByStream { counter.destroy() }
        for counter in outByStream.values { counter.destroy() }
        batchSize.destroy()
        Recorder(label: "tandem_snapshot_bytes", dimensions: [("app", appName)], aggregate: true).destroy()
        Metrics.Timer(label: "tandem_snapshot_save_seconds", dimensions: [("app", appName)]).destroy()
    }
}

/// Live hosts per app name (any thread).
private final class LiveHostCounts: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]

    func add(_ app: String) {
        lock.withLock { counts[app, default: 0] += 1 }
    }

    /// Whether it was the app's last host.
    func remove(_ app: String) -> Bool {
        lock.withLock {
            let left = counts[app, default: 1] - 1
            counts[app] = left > 0 ? left : nil
            return left <= 0
        }
    }
}
