import Atomics
import DataPlane
import Engine
import Foundation
import Logging

/// Why an app could not be deployed.
public struct DeployError: Error, Sendable, CustomStringConvertible {
    /// The app's name.
    public var app: String
    /// Usually `file:line:column: what is wrong`.
    public var message: String
    public var description: String { "\(app): \(message)" }
}

/// `tandem validate`'s second step: what a deploy checks beyond compiling.
public enum AppDeployCheck {
    /// Builds `app`'s sources and sinks as a deploy does (every option read, the same errors), without
    /// opening a port or connecting. The node's configuration and files are not known here: an https
    /// http source without its own certificate files is taken as served with `tandem.api.tls`, the
    /// files are not read, and wso2event sources and rdbms tables are checked only as far as the app
    /// itself says.
    public static func check(_ app: SiddhiApp) throws(DeployError) {
        var logger = Logger(label: "tandem.validate")
        logger.logLevel = .critical
        var security = HTTPSourceSecurity.none
        security.checkOnly = true
        _ = try AppHost(app: app, settings: TandemSettings(), logger: logger, httpSecurity: security, checkOnly: true)
    }
}

/// Until when (monotonic ms) the node may act as active; the engine threads run no input after it.
/// The control plane moves it forward after every lease renewal. Standalone: for ever.
final class ActiveFence: Sendable {
    let untilMs = ManagedAtomic<Int>(Int.max)

    static func nowMs() -> Int { Int(DispatchTime.now().uptimeNanoseconds / 1_000_000) }
    var isOpen: Bool { ActiveFence.nowMs() < untilMs.load(ordering: .acquiring) }
}

/// A snapshot taken on the engine thread at a batch boundary, waiting to be written.
struct PendingSnapshot: Sendable {
    var bytes: [UInt8]
    /// Sequence number of the last input event the snapshot contains.
    var lastSequence: Int64
    var epochMs: Int64
    /// Monotonic time it was taken at.
    var takenAtNs: UInt64 = DispatchTime.now().uptimeNanoseconds
}

/// One deployed app: its runtime, its sources (one tcp listener or http server per port, one
/// subscription per in-memory topic), its sinks and the engine thread that owns the runtime.
///
/// Threads: each source publishes into its own SPSC ring (a tcp listener from its reactor thread;
/// http requests and in-memory publishers one at a time through `SharedIngestRing`); the engine
/// thread drains all of them into the runtime. Nothing else touches the runtime while the
/// engine thread runs; before `start` and after `stop` the control-plane thread may (restore, replay,
/// final snapshot).
///
/// HA: the engine thread numbers every input event (``lastSequence``), forwards each batch to the
/// passive through `syncLink` before running it, and takes snapshots at batch boundaries when asked.
final class AppHost: @unchecked Sendable {
    let app: SiddhiApp
    let runtime: AppRuntime
    let logger: Logger
    /// Every source, in ring order (tcp listeners, http servers, in-memory subscriptions).
    private(set) var sources: [any IngestSource] = []
    private var returnRings: [SPSCRing<EventBatch>?] = []
    let doorbell = Doorbell()
    private var sinks: [LogSink] = []
    private var tcpSinks: [TCPSink] = []
    private var httpSinks: [HTTPSink] = []
    /// Attached (publishing) only while the sources are open.
    private var memorySinks: [InMemorySink] = []
    private var sinksStarted = false

    /// `@sink(type='tcp', url='tcp://host:port/context', @map(type='binary'))` as siddhi-io-tcp
    /// writes it, plus Tandem's `framing='acked'`, `queue.capacity='256'` and
    /// `on.full='block'|'drop'` (with `block.timeout.ms`).
    static func tcpSinkOptions(_ sink: TransportSpec, app: SiddhiApp) throws(DeployError) -> TCPSinkOptions {
        let at = "\(app.fileName):\(sink.position)"
        if let map = sink.mapType, map != "binary" {
            throw DeployError(app: app.name, message: "\(at): tcp sink needs @map(type='binary'), got '\(map)'")
        }
        guard let url = sink.option("url"), url.hasPrefix("tcp://") else {
            throw DeployError(app: app.name, message: "\(at): tcp sink needs url='tcp://host:port/context'")
        }
        let rest = url.dropFirst("tcp://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let hostPort = rest[..<slash]
        let context = slash < rest.endIndex ? String(rest[rest.index(after: slash)...]) : sink.streamName
        guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]),
              (1...65535).contains(port), colon > hostPort.startIndex else {
            throw DeployError(app: app.name, message: "\(at): tcp sink url '\(url)' needs host:port")
        }
        var options = TCPSinkOptions(host: String(hostPort[..<colon]), port: port, channel: context.isEmpty ? sink.streamName : context)
        options.metricDimensions = [("app", app.name), ("stream", sink.streamName)]
        switch sink.option("framing")?.lowercased() {
        case nil, "siddhi": options.framing = .siddhi
        case "acked": options.framing = .acked
        case let other?: throw DeployError(app: app.name, message: "\(at): tcp sink framing '\(other)' (expected siddhi or acked)")
        }
        let (capacity, policy) = try sinkQueueOptions(sink, kind: "tcp", app: app)
        if let capacity { options.queueCapacity = capacity }
        options.fullPolicy = policy
        return options
    }
    let stopping = ManagedAtomic<Bool>(false)
    /// Outputs (sinks, output counters) run only while on: off on a passive's standby runtime.
    let outputsOn = ManagedAtomic<Bool>(true)
    /// Numbers outputs per sink; a standby keeps them until the active reports them delivered.
    let ledger: OutputLedger
    /// Per sink (declaration order): how to write a batch, and how many events it is done with
    /// since it started (nil: it writes synchronously, done as soon as written).
    var sinkWriters: [(EventBatch) -> Void] = []
    var sinkDone: [(@Sendable () -> Int)?] = []
    /// HA takeover: outputs the old active may not have delivered, written first by the engine.
    var redelivery: [(sink: Int, first: Int64, batch: EventBatch)] = []
    /// Per sink, the output number its `sinkDone` count starts from.
    var deliveredBase: [Int64] = []
    var lastDeliveredReport: [Int64] = []
    var lastDeliveredReportNs: UInt64 = 0
    var deliveredLinkGeneration = -1
    private let finished = DispatchSemaphore(value: 0)
    var thread: Thread?
    /// Longest idle sleep of the engine (and standby) loop.
    static let idleWaitMs = 100

    /// HA: where input batches are forwarded (nil: standalone). Set before `start`.
    var syncLink: EventSyncClient?
    /// Input runs only while this is open (HA); set before `start`.
    var fence = ActiveFence()
    /// Sequence number of the last input event run (engine thread while it runs).
    var lastSequence: Int64 = 0
    /// Whether the runtime has never run an event (its empty state is the state before sequence 1).
    var pristine = true
    /// Whether the state is the cluster's through `lastSequence` (it ran as active, or a takeover
    /// restored it): a demoted node keeps such state for its next takeover.
    var stateValid = false
    let snapshotRequested = ManagedAtomic<Bool>(false)
    private let snapshotLock = NSLock()
    private var pendingSnapshot: PendingSnapshot?
    /// Called on the engine thread after it stored a snapshot (wakes the control plane).
    var onSnapshot: (@Sendable () -> Void)?
    /// HA: this app's share of the passive's queue (events). The engine checkpoints on its own after
    /// half of it since the last snapshot, and forwards no batch that would take the events since the
    /// last committed snapshot past it (push-back) until a checkpoint commits. Int.max: no limit.
    let passiveShareEvents = ManagedAtomic<Int>(Int.max)
    /// HA: sequence of the last snapshot written to the store (set by the control plane).
    let committedSequence = ManagedAtomic<Int>(0)
    var lastSnapshotSequence: Int64 = 0
    var lastSnapshotAtMs = 0
    /// Engine-initiated checkpoints are at least this far apart (keeps the database's load bounded).
    static let checkpointSpacingMs = 50
    /// Whether the standby's state ever differed from the active's (its counter series exists).
    var divergedOnce = false
    /// Whether the lease-lapse warning was logged (engine thread; reset when the fence opens).
    var fenceWarned = false
    /// Set when the node stops being active: queued input is dropped, not run.
    let discarding = ManagedAtomic<Bool>(false)
    var streamNames: [String] = []
    var scratch: [UInt8] = []
    /// Indices of the sources open.
    private var portsOpen: Set<Int> = []
    /// Whether every source port is open.
    var allPortsOpen: Bool { portsOpen.count == sources.count }

    /// HA: publishers' acks wait until the passive holds their events (see `releaseAcks`).
    let haAcks: Bool
    /// HA: batches run whose acks wait for the passive: (last sequence, listener, ticket), oldest first.
    var pendingAcks: [(sequence: Int64, listener: Int, ticket: UInt64)] = []
    var pendingAcksHead = 0
    /// HA: the first sequence forwarded to the passive attached now (`.max`: none attached), and the
    /// link generation it was attached in.
    var syncFromSequence: Int64 = .max
    var linkGeneration = -1

    /// Events in and out, for the status page, statistics and metrics.
    let counters: AppHostCounters

    /// The stores of the app's `@store(type='rdbms')` tables (see `MySQLTableStore`).
    private(set) var tableStores: [MySQLTableStore] = []

    /// `datasources`: deployment.yaml's, which `@store(type='rdbms', datasource='NAME')` tables name.
    /// `httpSecurity`: the users and certificate the app's http sources check and serve (the node's).
    /// `checkOnly` (`tandem validate`, no deployment.yaml): builds the sources and sinks, which
    /// opens and connects nothing, and skips what depends on the node's configuration (the
    /// databridge receiver, the tables' datasources); the host is not to be started.
    init(app: SiddhiApp, settings: TandemSettings, logger: Logger, haAcks: Bool = false,
         datasources: [String: DatasourceConfig] = [:], databridge: DatabridgeReceiver? = nil,
         httpSecurity: HTTPSourceSecurity = .none, checkOnly: Bool = false) throws(DeployError) {
        self.haAcks = haAcks
        self.app = app
        self.logger = logger
        runtime = AppRuntime(app: app)
        streamNames = app.streams.map(\.name)
        let counters = AppHostCounters(app: app)
        self.counters = counters
        let outputsOn = self.outputsOn
        for stream in counters.outputStreams {
            runtime.addOutputCallback(stream: stream) { if outputsOn.load(ordering: .relaxed) { counters.recordOut(stream: stream, events: $0.count) } }
        }

        let ledger = OutputLedger(sinks: app.sinks.count, app: app.name, logger: logger)
        self.ledger = ledger
        for (k, sink) in app.sinks.enumerated() {
            // Every output is numbered (HA: kept by a standby until delivered); it goes out only while outputs are on.
            func route(_ write: @escaping (EventBatch) -> Void, done: (@Sendable () -> Int)?) {
                sinkWriters.append(write)
                sinkDone.append(done)
                runtime.addOutputCallback(stream: sink.streamName) {
                    ledger.emitted(sink: k, $0)
                    if outputsOn.load(ordering: .relaxed) { write($0) }
                }
            }
            switch sink.type {
            case "log":
                let logSink = LogSink(prefix: sink.option("prefix") ?? "\(app.name) : \(sink.streamName)")
                sinks.append(logSink)
                route({ logSink.write($0) }, done: nil)
            case "tcp":
                let options = try AppHost.tcpSinkOptions(sink, app: app)
                let tcpSink = TCPSink(options: options, logger: logger)
                tcpSinks.append(tcpSink)
                route({ tcpSink.write($0) }, done: { tcpSink.eventsDone })
            case "http":
                let httpSink = HTTPSink(options: try AppHost.httpSinkOptions(sink, app: app), logger: logger)
                httpSinks.append(httpSink)
                route({ httpSink.write($0) }, done: { httpSink.eventsDone })
            case "inmemory":
                let memorySink = try AppHost.inMemorySink(sink, app: app, logger: logger)
                memorySinks.append(memorySink)
                route({ memorySink.write($0) }, done: nil)
            default:
                throw DeployError(app: app.name, message: "\(app.fileName):\(sink.position): @sink(type='\(sink.type)') is not supported yet (supported: log, tcp, http, inMemory)")
            }
        }

        // Group tcp sources by (host, port): one listener serves every channel on its port.
        var byPort: [String: TCPSourceOptions] = [:]
        var order: [String] = []
        // http sources: one server per host:port, one route per path.
        var httpByPort: [String: HTTPSourceOptions] = [:]
        var httpOrder: [String] = []
        var memorySources: [InMemorySource] = []
        var wso2Streams: [WSO2EventStream] = []
        for source in app.sources {
            let at = "\(app.fileName):\(source.position)"
            switch source.type {
            case "tcp": break
            case "http":
                let options = try AppHost.httpSource(source, streamIndex: runtime.streamIndex(source.streamName)!, app: app, haAcks: haAcks,
                                                     security: httpSecurity)
                let key = "\(options.host):\(options.port)"
                if var existing = httpByPort[key] {
                    guard !existing.routes.contains(where: { $0.path == options.routes[0].path }) else {
                        throw DeployError(app: app.name, message: "\(at): two http sources on \(key) use path '\(options.routes[0].path)'")
                    }
                    guard existing.tls == options.tls else {
                        throw DeployError(app: app.name, message: "\(at): http sources on \(key) differ in https or its certificate files: one port serves one of them")
                    }
                    existing.routes += options.routes
                    existing.authenticator = existing.authenticator ?? options.authenticator
                    httpByPort[key] = existing
                } else {
                    httpByPort[key] = options
                    httpOrder.append(key)
                }
                continue
            case "inmemory":
                memorySources.append(try AppHost.inMemorySource(source, streamIndex: runtime.streamIndex(source.streamName)!, app: app,
                                                                ringCapacity: settings.ingestRingCapacity, doorbell: doorbell))
                continue
            case "wso2event":
                wso2Streams.append(try DatabridgeNode.stream(source, streamIndex: runtime.streamIndex(source.streamName)!, app: app))
                continue
            default:
                throw DeployError(app: app.name, message: "\(at): @source(type='\(source.type)') is not supported yet (supported: tcp, http, inMemory, wso2event)")
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
                if haAcks {
                    options.ackRelease = .onRelease
                    options.leaseMs = settings.haLeaseMs
                }
                options.keepaliveIntervalMs = settings.keepaliveIntervalMs
                options.batchSize = settings.batchSize
                options.maxFrameBytes = settings.maxFrameBytes
                options.backend = settings.ioBackend
                options.metricDimensions = [("app", app.name)]
                byPort[key] = options
                order.append(key)
            }
        }
        for key in order {
            let ring = SPSCRing<IngestBatch>(capacity: settings.ingestRingCapacity)
            // Batches go back to their listener after the engine ran them, so decoding reuses their storage.
            let returns = SPSCRing<EventBatch>(capacity: settings.ingestRingCapacity)
            sources.append(TCPSourceListener(options: byPort[key]!, ring: ring, doorbell: doorbell, returns: returns, logger: logger))
            returnRings.append(returns)
        }
        for key in httpOrder {
            let ring = SPSCRing<IngestBatch>(capacity: settings.ingestRingCapacity)
            sources.append(HTTPSource(options: httpByPort[key]!, ring: ring, doorbell: doorbell, logger: logger))
            returnRings.append(nil)
        }
        for source in memorySources {
            sources.append(source)
            returnRings.append(nil)
        }
        if !wso2Streams.isEmpty && !checkOnly {
            guard let databridge else {
                throw DeployError(app: app.name, message: "\(app.fileName): @source(type='wso2event') needs the databridge receiver, which tandem.databridge.enabled turns off")
            }
            sources.append(DatabridgeSource(streams: wso2Streams, owner: "app '\(app.name)'", receiver: databridge,
                                            ring: SPSCRing(capacity: settings.ingestRingCapacity), doorbell: doorbell,
                                            ackRelease: haAcks ? .onRelease : .onRingAccept, metricDimensions: [("app", app.name)]))
            returnRings.append(nil)
        }
        // Only a node whose fence is open (standalone, or the active within its lease) writes.
        // `fence` is replaced before start, so it is read at each write, not captured now.
        if checkOnly { return }
        tableStores = try AppHost.tableStores(app, datasources: datasources, logger: logger) { [weak self] in
            self?.fence.isOpen ?? false
        }
        for store in tableStores { runtime.attachStore(store, table: store.table.name) }
    }

    /// Replaces the state with a snapshot (before `start`). Sets the sequence to `lastSequence`.
    func restore(_ bytes: [UInt8], lastSequence: Int64) throws(SnapshotError) {
        precondition(thread == nil, "restore before start")
        try restoreState(bytes, lastSequence: lastSequence)
    }

    /// Replaces the state (on the engine thread, or before it runs).
    func restoreState(_ bytes: [UInt8], lastSequence: Int64) throws(SnapshotError) {
        let (state, publishers, outputs) = try AppHost.unwrap(bytes)
        try runtime.restore(state)
        publisherSeqs = publishers
        ledger.restore(counts: outputs)
        self.lastSequence = lastSequence
        lastSnapshotSequence = lastSequence
        committedSequence.store(Int(lastSequence), ordering: .relaxed)
    }

    /// Numbers the next input event after `sequence` (before `start`): an HA app replaced through the
    /// REST API keeps counting where its previous version stopped, so the passive's queue stays in order.
    func continueSequence(after sequence: Int64) {
        precondition(thread == nil, "continueSequence before start")
        lastSequence = sequence
        lastSnapshotSequence = sequence
        committedSequence.store(Int(sequence), ordering: .relaxed)
    }

    /// Runs queued events of the passive's queue (before `start`, after `restore`): those at or
    /// below the current sequence are already in the state and skipped. Returns the events run.
    func replay(_ entry: EventSyncEntry) throws(EventSyncError) -> Int {
        precondition(thread == nil, "replay before start")
        guard entry.lastSequence > lastSequence else { return 0 }
        guard let index = runtime.streamIndex(entry.stream) else {
            throw EventSyncError("\(app.name): queued events for unknown stream \(entry.stream)")
        }
        let batch = try entry.decode(schema: app.streams[index], after: lastSequence)
        if !runtime.isPlayback { runtime.advanceTime(to: AppHost.wallClockMs()) }
        runtime.send(streamIndex: index, batch: batch)
        lastSequence = entry.lastSequence
        pristine = false
        notePublisher(entry.publisherId, entry.publisherSeq)
        return batch.count
    }

    // MARK: Publishers (acknowledged framing) across failovers

    /// Per publisher id, its highest batch whose events this app ran (engine thread; read by the
    /// control plane only before the ports open). In snapshots and in the passive's queue, so a
    /// new active skips batches a publisher resends after a failover.
    var publisherSeqs: [UInt64: UInt64] = [:]
    private var publisherOrder: [UInt64] = []
    /// Publishers remembered at most (the oldest first seen is forgotten past it: a batch it resends
    /// after a failover would then run twice).
    static let publishersMax = 16_384

    func notePublisher(_ id: UInt64, _ seq: UInt64) {
        guard id != 0 else { return }
        if let known = publisherSeqs[id] {
            if seq > known { publisherSeqs[id] = seq }
            return
        }
        publisherSeqs[id] = seq
        publisherOrder.append(id)
        if publisherOrder.count > AppHost.publishersMax {
            publisherSeqs[publisherOrder.removeFirst()] = nil
        }
    }

    static let wrapMagic: [UInt8] = Array("TNDMHOST".utf8)
    /// Version 2 adds the output counts per sink after the publisher table.
    static let wrapMagic2: [UInt8] = Array("TNDMHST2".utf8)

    /// The app's snapshot: the runtime's state, the publisher table and the output counts per sink.
    static func wrap(_ state: [UInt8], _ publishers: [UInt64: UInt64], outputs: [Int64]) -> [UInt8] {
        var out = wrapMagic2
        func word<T: FixedWidthInteger>(_ v: T) {
            var be = v.bigEndian
            withUnsafeBytes(of: &be) { out.append(contentsOf: $0) }
        }
        word(UInt32(publishers.count))
        for (id, seq) in publishers.sorted(by: { $0.key < $1.key }) {
            word(id)
            word(seq)
        }
        word(UInt32(outputs.count))
        for n in outputs { word(n) }
        out.append(contentsOf: state)
        return out
    }

    /// Splits a snapshot into the runtime's state, the publisher table and the output counts (older
    /// snapshots hold no counts, or only the runtime's state).
    static func unwrap(_ bytes: [UInt8]) throws(SnapshotError) -> ([UInt8], [UInt64: UInt64], [Int64]?) {
        let magic = Array(bytes.prefix(wrapMagic.count))
        guard bytes.count >= wrapMagic.count + 4, magic == wrapMagic || magic == wrapMagic2 else { return (bytes, [:], nil) }
        func word(_ at: Int, _ size: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<size { v = v << 8 | UInt64(bytes[at + k]) }
            return v
        }
        var at = wrapMagic.count
        let n = Int(word(at, 4))
        at += 4
        guard n <= publishersMax, bytes.count >= at + 16 * n else { throw SnapshotError("publisher table truncated") }
        var table: [UInt64: UInt64] = [:]
        for _ in 0..<n {
            table[word(at, 8)] = word(at + 8, 8)
            at += 16
        }
        var outputs: [Int64]?
        if magic == wrapMagic2 {
            guard bytes.count >= at + 4 else { throw SnapshotError("output counts truncated") }
            let sinks = Int(word(at, 4))
            at += 4
            guard sinks <= EventSyncProtocol.sinksMax, bytes.count >= at + 8 * sinks else { throw SnapshotError("output counts truncated") }
            outputs = (0..<sinks).map { Int64(bitPattern: word(at + 8 * $0, 8)) }
            at += 8 * sinks
        }
        return (Array(bytes[at...]), table, outputs)
    }

    /// The node is no longer active: the engine drops what is queued (it must not run it) so that
    /// the sources can stop at once.
    func abandonInput() {
        discarding.store(true, ordering: .releasing)
        doorbell.ring()
    }

    /// Asks the engine thread for a snapshot at its next batch boundary.
    func requestSnapshot() {
        snapshotRequested.store(true, ordering: .releasing)
        doorbell.ring()
    }

    /// The snapshot the engine thread took, if one is waiting.
    func takePendingSnapshot() -> PendingSnapshot? {
        snapshotLock.lock(); defer { snapshotLock.unlock() }
        defer { pendingSnapshot = nil }
        return pendingSnapshot
    }

    /// A snapshot taken on the calling thread: only when the engine thread is not running (before
    /// `start` or after `stop`).
    func snapshotStopped() -> PendingSnapshot {
        precondition(thread == nil, "snapshotStopped while the engine runs")
        return PendingSnapshot(bytes: AppHost.wrap(runtime.snapshot(), publisherSeqs, outputs: ledger.counts), lastSequence: lastSequence, epochMs: AppHost.wallClockMs())
    }

    /// Starts the engine thread, then opens the source ports (so nothing arrives before it can run).
    func start() throws(DeployError) {
        startEngine()
        do {
            try openPorts()
        } catch {
            stop()  // ports, engine, sink senders and metric series: nothing of a failed start stays
            throw error
        }
    }

    /// Starts the engine thread only (HA failover step 1: no ports yet), and the sinks' senders.
    func startEngine() {
        if !sinksStarted {
            for sink in tcpSinks { sink.start() }
            for sink in httpSinks { sink.start() }
            sinksStarted = true
        }
        precondition(thread == nil)
        stopping.store(false, ordering: .relaxed)
        discarding.store(false, ordering: .relaxed)
        outputsOn.store(true, ordering: .releasing)
        stateValid = true
        ledger.retaining = false
        deliveredBase = ledger.counts
        for r in redelivery { deliveredBase[r.sink] -= Int64(r.batch.count) }
        startThread(name: "tandem-engine-\(app.name)") { [self] in runEngine() }
    }

    /// Runs `body` on the engine thread (one at a time).
    func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
        precondition(thread == nil)
        let thread = Thread { [self] in
            body()
            finished.signal()
        }
        thread.name = name
        self.thread = thread
        thread.start()
    }

    /// Opens the source ports (the engine thread runs).
    /// Opens the ports not open yet (each is tried; the first failure is thrown, and a later call
    /// tries the failed ones again: after a failover on one host, the old active may still hold them).
    func openPorts() throws(DeployError) {
        var failure: DeployError?
        // In-memory sinks publish only from here on (a passive's replay must not reach other apps).
        for sink in memorySinks {
            do {
                try sink.attach()
            } catch {
                failure = failure ?? DeployError(app: app.name, message: "\(error)")
            }
        }
        for (i, source) in sources.enumerated() where !portsOpen.contains(i) {
            do {
                // Batches the cluster holds already are skipped if their publisher resends them.
                source.seedPublishers(publisherSeqs)
                try source.openSource()
                portsOpen.insert(i)
            } catch {
                failure = failure ?? DeployError(app: app.name, message: "\(error)")
            }
        }
        if let failure { throw failure }
        logger.info("app '\(app.name)' deployed from \(app.fileName): \(app.streams.count) streams, \(app.queryNames.count) queries, sources: \(sources.map(\.label).joined(separator: ", ")), \(sinks.count + tcpSinks.count + httpSinks.count + memorySinks.count) sinks")
    }

    /// Closes the ports (their decoded events still reach the engine), then drains and stops the engine.
    func stop() {
        closePorts()
        // Still active (undeploy, graceful stop): write what waits; demoted: discard it. Either way
        // an engine waiting on a store (loading from a database that is down, or a full queue)
        // must not hang the stop.
        let mayWrite = fence.isOpen
        for store in tableStores { store.beginStop(drain: mayWrite) }
        stopEngine()
        for store in tableStores {
            store.close(drain: mayWrite)
            store.destroyMetrics()
        }
        if sinksStarted {
            for sink in tcpSinks { sink.stop() }
            for sink in httpSinks { sink.stop() }
        }
        sinksStarted = false
        for source in sources { source.releaseMetrics() }
        ledger.destroyMetrics()
        if divergedOnce { AppHost.divergenceCounter(app.name).destroy() }
        logger.info("app '\(app.name)' stopped")
    }

    /// Closes the source ports (stops intake); decoded events still reach the engine.
    func closePorts() {
        for source in sources { source.closeSource() }
        for sink in memorySinks { sink.detach() }
    }

    func stopEngine() {
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
        // Stored tables load before the first batch (a restore or replay may have loaded them already).
        let skipped = runtime.loadStores()
        if skipped > 0 { logger.error("app '\(app.name)': \(skipped) database rows of stored tables skipped at load (a value that does not fit, or a repeated primary key)") }
        if !redelivery.isEmpty {
            let events = redelivery.reduce(0) { $0 + $1.batch.count }
            for r in redelivery { sinkWriters[r.sink](r.batch) }
            redelivery = []
            logger.notice("ha: app '\(app.name)' sent again \(events) output events the old active had not reported delivered")
        }
        // The loop is the data path; this host is its hook (HA fence, forwarding, acks, checkpoints).
        let loop = EngineLoop<AppHost>(runtime: runtime, rings: sources.map(\.ring), returns: returnRings,
                                       doorbell: doorbell, stopping: stopping)
        loop.run(hook: self)
    }

    /// The checksum a runtime snapshot ends with: equal states give equal checksums.
    static func stateChecksum(_ snapshot: [UInt8]) -> UInt64 {
        var sum: UInt64 = 0
        for (i, b) in snapshot.suffix(8).enumerated() { sum |= UInt64(b) << (8 * UInt64(i)) }
        return sum
    }

    func takeSnapshot() {
        let state = runtime.snapshot()
        // The passive compares its own state at this point with this one's (in order with the events).
        syncLink?.forwardClock(app: app.name, afterSequence: lastSequence, clockMs: runtime.currentTimeMs, checksum: AppHost.stateChecksum(state))
        let taken = PendingSnapshot(bytes: AppHost.wrap(state, publisherSeqs, outputs: ledger.counts), lastSequence: lastSequence, epochMs: AppHost.wallClockMs())
        lastSnapshotSequence = lastSequence
        lastSnapshotAtMs = ActiveFence.nowMs()
        snapshotLock.lock()
        pendingSnapshot = taken
        snapshotLock.unlock()
        onSnapshot?()
    }
}
