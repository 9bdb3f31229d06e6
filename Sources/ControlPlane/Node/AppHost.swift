import Atomics
import DataPlane
import Engine
import Foundation
import Logging

/// Why an app could not be deployed.
public struct DeployError: Error, Sendable, CustomStringConvertible {
    public var app: String
    public var message: String
    public var description: String { "\(app): \(message)" }
}

/// One deployed app: its runtime, its sources (one listener per port), its sinks and the engine
/// thread that owns the runtime.
///
/// Threads: each listener runs its own reactor thread and publishes into its own SPSC ring; the
/// engine thread drains all of them into the runtime. Nothing else touches the runtime.
final class AppHost: @unchecked Sendable {
    let app: SiddhiApp
    private let runtime: AppRuntime
    private let logger: Logger
    private(set) var listeners: [TCPSourceListener] = []
    private var returnRings: [SPSCRing<EventBatch>] = []
    private let doorbell = Doorbell()
    private var sinks: [LogSink] = []
    private let stopping = ManagedAtomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    /// Batches drained from one ring before looking at the next, so no source starves another.
    static let batchesPerRingMax = 64
    static let idleWaitMs = 100

    init(app: SiddhiApp, settings: TandemSettings, logger: Logger) throws(DeployError) {
        self.app = app
        self.logger = logger
        runtime = AppRuntime(app: app)

        for sink in app.sinks {
            switch sink.type {
            case "log":
                let logSink = LogSink(prefix: sink.option("prefix") ?? "\(app.name) : \(sink.streamName)")
                sinks.append(logSink)
                runtime.addOutputCallback(stream: sink.streamName) { logSink.write($0) }
            default:
                throw DeployError(app: app.name, message: "\(app.fileName):\(sink.position): @sink(type='\(sink.type)') is not supported yet (supported: log)")
            }
        }

        // Group tcp sources by (host, port): one listener serves every channel on its port.
        var byPort: [String: TCPSourceOptions] = [:]
        var order: [String] = []
        for source in app.sources {
            let at = "\(app.fileName):\(source.position)"
            guard source.type == "tcp" else {
                throw DeployError(app: app.name, message: "\(at): @source(type='\(source.type)') is not supported yet (supported: tcp)")
            }
            if let map = source.mapType, map != "binary", map != "passthrough" {
                throw DeployError(app: app.name, message: "\(at): tcp source needs @map(type='binary'), got '\(map)'")
            }
            let portText = source.option("port") ?? "9892"
            guard let port = Int(portText), (0...65535).contains(port) else {
                throw DeployError(app: app.name, message: "\(at): port '\(portText)' is not a port number")
            }
            let host = source.option("host") ?? "0.0.0.0"
            // Without a context, Siddhi's own tcp source listens on "<app>/<stream>": accept both.
            let context = source.option("context")
            let channel = SourceChannel(channel: context ?? source.streamName,
                                        streamIndex: runtime.streamIndex(source.streamName)!, schema: source.schema,
                                        aliases: context == nil ? ["\(app.name)/\(source.streamName)"] : [])
            let key = "\(host):\(port)"
            if var existing = byPort[key] {
                guard !existing.channels.contains(where: { $0.channel == channel.channel }) else {
                    throw DeployError(app: app.name, message: "\(at): two tcp sources on \(key) use context '\(channel.channel)'")
                }
                existing.channels.append(channel)
                byPort[key] = existing
            } else {
                var options = TCPSourceOptions(host: host, port: port, channels: [channel])
                options.batchSize = settings.batchSize
                options.maxFrameBytes = settings.maxFrameBytes
                options.backend = settings.ioBackend
                byPort[key] = options
                order.append(key)
            }
        }
        for key in order {
            let ring = SPSCRing<IngestBatch>(capacity: settings.ingestRingCapacity)
            // Batches go back to their listener after the engine ran them, so decoding reuses their storage.
            let returns = SPSCRing<EventBatch>(capacity: settings.ingestRingCapacity)
            listeners.append(TCPSourceListener(options: byPort[key]!, ring: ring, doorbell: doorbell, returns: returns, logger: logger))
            returnRings.append(returns)
        }
    }

    /// Starts the engine thread, then opens the source ports (so nothing arrives before it can run).
    func start() throws(DeployError) {
        let thread = Thread { [self] in
            runEngine()
            finished.signal()
        }
        thread.name = "tandem-engine-\(app.name)"
        self.thread = thread
        thread.start()
        for (i, listener) in listeners.enumerated() {
            do {
                try listener.start()
            } catch {
                for started in listeners[..<i] { started.stop() }
                stopEngine()
                throw DeployError(app: app.name, message: "cannot open tcp source: \(error)")
            }
        }
        logger.info("app '\(app.name)' deployed from \(app.fileName): \(app.streams.count) streams, \(app.queryNames.count) queries, \(listeners.count) tcp listeners, \(sinks.count) sinks")
    }

    /// Closes the ports (their decoded events still reach the engine), then drains and stops the engine.
    func stop() {
        for listener in listeners { listener.stop() }
        stopEngine()
        logger.info("app '\(app.name)' stopped")
    }

    private func stopEngine() {
        guard thread != nil else { return }
        stopping.store(true, ordering: .releasing)
        doorbell.ring()
        finished.wait()
        thread = nil
    }

    static func wallClockMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    private func runEngine() {
        let rings = listeners.map(\.ring)
        let returns = returnRings
        while true {
            var drained = 0
            for (r, ring) in rings.enumerated() {
                for _ in 0..<AppHost.batchesPerRingMax {
                    guard let item = ring.tryPop() else { break }
                    if !runtime.isPlayback { runtime.advanceTime(to: AppHost.wallClockMs()) }
                    runtime.send(streamIndex: item.streamIndex, batch: item.batch)
                    _ = returns[r].tryPush(item.batch)  // full: the listener allocates a new one instead
                    drained += 1
                }
            }
            if drained > 0 { continue }
            // Idle: move the clock (timers of later windows fire here), then sleep until a push.
            if !runtime.isPlayback { runtime.advanceTime(to: AppHost.wallClockMs()) }
            if stopping.load(ordering: .acquiring) && rings.allSatisfy(\.isEmpty) { return }
            // Sleep until a push, or until the next window timer is due (at most idleWaitMs).
            var waitMs = AppHost.idleWaitMs
            if !runtime.isPlayback, let due = runtime.nextTimerMs {
                waitMs = Int(max(1, min(Int64(AppHost.idleWaitMs), due - AppHost.wallClockMs())))
            }
            doorbell.wait(timeoutMs: waitMs) { rings.allSatisfy(\.isEmpty) && !stopping.load(ordering: .relaxed) }
        }
    }
}
