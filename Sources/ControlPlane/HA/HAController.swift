import Atomics
import DataPlane
import Engine
import Foundation
import Logging
import Metrics

/// Runs a node of a two-node minimum HA cluster (`deployment.config type: ha`) on its own
/// control-plane thread, which owns the MySQL connections, the ``ClusterCoordinator`` and the role.
///
/// - **Passive**: the apps are compiled but not started, no source port is open; the event-sync
///   server queues what the active forwards and trims it at each control message.
/// - **Active**: apps run with their ports open; each engine thread numbers and forwards every input
///   batch to the attached passive; snapshots are taken at batch boundaries every persistence
///   interval (and at once when a passive attaches), saved fenced by the lease term, then announced
///   to the passive with their last sequence number.
/// - **Failover** (passive whose lease check succeeds): drain the link, (1) runtimes without ports,
///   (2) restore the latest revision, (3) replay the queued events after its sequence, (4) open ports.
/// - **Demotion** (lease not renewed in time): input stops at the lease validity (engine fence), the
///   ports close, the node becomes passive with fresh runtimes.
/// - **Graceful stop** (SIGTERM) of the active: close ports, drain, checkpoint, control message,
///   release the lease and tell the passive, which takes over at once.
///
/// Every role change logs one line `ha-role {json}` (role, term, lease expiry, last revision,
/// passive in sync, queue depth).
final class HAController: @unchecked Sendable {
    private let config: DeploymentConfig
    /// The node's wso2event receiver, which apps deployed later attach to (nil: disabled).
    private let databridge: DatabridgeReceiver?
    /// The node's users and certificate for the apps' http sources.
    private let httpSecurity: HTTPSourceSecurity
    /// The apps (control thread): the folder's at start, then the cluster's (``ClusterAppStore``).
    private let table: AppTable
    private var apps: [SiddhiApp] { table.apps }
    private let mailbox: ControlMailbox
    private let board: NodeStatusBoard
    private var backups = PendingBackups()
    private var catalog: ClusterAppStore?
    /// The last cluster app version this node applied.
    private var catalogVersion: Int64 = 0
    /// Monotonic ms of the last heartbeat the database took.
    private var lastHeartbeatMs: Int?
    /// Each app's share of the attached passive's queue (events), for hosts made later.
    private var passiveShare = Int.max
    private let logger: Logger
    private let wake = DispatchSemaphore(value: 0)
    private let stopRequested = ManagedAtomic<Bool>(false)
    private let releasedByActive = ManagedAtomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?

    // Control-thread state.
    private var hosts: [AppHost] { table.hosts }
    private var server: EventSyncServer?
    private let queue: EventSyncQueue
    private let link: EventSyncClient
    private let fence = ActiveFence()
    private var coordinator: ClusterCoordinator?
    private var store: SnapshotStore?
    private var lastRevision: SnapshotRevision?
    /// Per app, the last revision this node committed as active (announced again at each attach).
    private var committedRevisions: [String: (revision: String, lastSequence: Int64)] = [:]
    /// Per app, the queued entries the last takeover replayed (through `through`), until a checkpoint
    /// covering them commits: a demotion before that queues them again (see `demote`).
    private var takeoverEntries: [String: (through: Int64, entries: [EventSyncEntry])] = [:]
    /// Apps still to be checkpointed (after the current passive attached) before it is in sync.
    private var awaitingCheckpoint: Set<String> = []
    private var attachedAtNs: UInt64 = 0
    private var nextLinkAttemptMs = 0
    private var lastErrorText: String?

    /// How long a passive may read nothing before the active detaches it.
    static let stallLimitMs = 5_000
    /// Longest a graceful stop waits for its final snapshots to be written.
    static let handoverSaveTimeoutMs = 10_000
    private let persister: PersistWorker

    init(config: DeploymentConfig, table: AppTable, mailbox: ControlMailbox, board: NodeStatusBoard, logger: Logger,
         databridge: DatabridgeReceiver? = nil, httpSecurity: HTTPSourceSecurity = .none) {
        self.config = config
        self.databridge = databridge
        self.httpSecurity = httpSecurity
        self.table = table
        self.mailbox = mailbox
        self.board = board
        self.logger = logger
        queue = EventSyncQueue(capacityEvents: config.deployment.eventByteBufferQueueCapacity)
        link = EventSyncClient(nodeId: config.nodeId, stallLimitMs: HAController.stallLimitMs, logger: logger)
        persister = PersistWorker(config: config, link: link, logger: logger, wake: wake)
    }

    func start() {
        mailbox.attach(wake: { [wake] in wake.signal() })
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "tandem-control"
        self.thread = thread
        thread.start()
    }

    /// Stops the node (graceful handover when active) and waits for the control thread.
    func stop() {
        guard thread != nil else { return }
        mailbox.close(reason: "the node is stopping")
        stopRequested.store(true, ordering: .releasing)
        wake.signal()
        finished.wait()
        thread = nil
    }

    private static func nowMs() -> Int { ActiveFence.nowMs() }

    /// Wall-clock epoch ms of a monotonic instant (for logs that other processes compare).
    static func epochMs(atMonotonicMs ms: Int) -> Int {
        Int(AppHost.wallClockMs()) - (HAController.nowMs() - ms)
    }

    private var cluster: ClusterConfig { config.cluster }
    private var leaseDurationMs: Int { cluster.heartbeatIntervalMs * max(2, cluster.heartbeatMaxRetry) }

    // MARK: Main loop

    private func run() {
        publish()
        guard let coordinator = connect() else { return }
        self.coordinator = coordinator
        persister.start()
        defer { persister.stop(timeoutMs: isActive ? HAController.handoverSaveTimeoutMs : 1_000) }
        syncCatalog()
        becomePassive()
        var nextTickMs = 0
        var nextPersistMs = Int.max
        while !stopRequested.load(ordering: .acquiring) {
            var now = HAController.nowMs()
            let released = releasedByActive.exchange(false, ordering: .acquiringAndReleasing)
            if now >= nextTickMs || released {
                let wasActive = isActive
                let tickStartMs = now
                let role = coordinator.tick()
                let tickEndMs = HAController.nowMs()
                Metrics.Timer(label: "tandem_heartbeat_seconds").recordMilliseconds(tickEndMs - tickStartMs)
                if coordinator.lastError == nil { lastHeartbeatMs = tickEndMs }
                reportError(coordinator.lastError)
                switch (wasActive, role) {
                case (false, .active(let lease)):
                    promote(lease, detectedAtMs: tickStartMs)
                    nextPersistMs = HAController.nowMs() + config.persistence.intervalMs
                case (true, .passive):
                    demote(reason: coordinator.lastError.map { "lease not renewed (\($0))" } ?? "lease lost to another node")
                case (true, .active):
                    fence.untilMs.store(Int(coordinator.activeUntilMs), ordering: .releasing)
                default:
                    break
                }
                if coordinator.connectionBroken { reconnect() }
                if coordinator.lastError == nil { syncCatalog() }
                now = HAController.nowMs()
                if isActive {
                    nextTickMs = tickStartMs + cluster.heartbeatIntervalMs
                } else if let leader = coordinator.observedLeader {
                    // Look again right when the active's lease can lapse (database clock), not a heartbeat later.
                    nextTickMs = now + max(5, min(cluster.heartbeatIntervalMs, leader.remainingMs + 5))
                } else {
                    nextTickMs = now + cluster.heartbeatIntervalMs
                }
            }
            if isActive {
                openPendingPorts()
                maintainLink(now: now)
                if config.persistence.enabled && now >= nextPersistMs {
                    for host in hosts { host.requestSnapshot() }
                    nextPersistMs = now + config.persistence.intervalMs
                }
                saveSnapshots()
                processResults()
            }
            if !isActive { reportStandby() }
            for job in mailbox.take() { serve(job) }
            backups.expire()
            publish()
            let untilMs = min(nextTickMs, isActive ? nextPersistMs : Int.max)
            let waitMs = max(1, untilMs - HAController.nowMs())
            _ = wake.wait(timeout: .now() + .milliseconds(min(waitMs, 1_000)))
        }
        backups.failAll("the node is stopping")
        if isActive { handover() } else { stopPassive() }
        logRole("stopped", term: nil)
        board.update { $0.role = "stopped" }
    }

    private var isActive: Bool {
        if case .active = coordinator?.role { return true }
        return false
    }

    private func reportError(_ error: MySQLError?) {
        let text = error.map { "\($0)" }
        if text != lastErrorText {
            if let text { logger.error("cluster database: \(text)") } else if lastErrorText != nil { logger.notice("cluster database reachable again") }
            lastErrorText = text
        }
    }

    /// The cluster database endpoint: its client timeout keeps a stalled database from holding the
    /// control thread much longer than the lease lasts.
    private var clusterEndpoint: MySQLEndpoint? {
        guard var endpoint = config.clusterDatasource?.endpoint else { return nil }
        endpoint.timeoutSec = UInt32(max(1, leaseDurationMs / 2000))
        return endpoint
    }

    /// Opens the cluster connection (tables created if absent) and the snapshot store.
    private func openStores() throws -> (LeaseStore, SnapshotStore) {
        guard let endpoint = clusterEndpoint else { throw DeployError(app: "ha", message: "cluster.config.strategyConfig.datasource is not usable") }
        let connection = try MySQLConnection(endpoint)
        let leaseStore = LeaseStore(connection: connection, groupId: cluster.groupId)
        try leaseStore.createTables()
        let catalog = ClusterAppStore(connection: connection, groupId: cluster.groupId)
        try catalog.createTable()
        self.catalog = catalog
        let store: SnapshotStore
        switch config.persistence.store {
        case .file(let directory):
            store = FileSnapshotStore(directory: directory)
        case .database(let name, let table):
            guard var persistence = config.datasources[name]?.endpoint else {
                throw DeployError(app: "ha", message: "persistence datasource \(name) is not defined")
            }
            persistence.timeoutSec = min(persistence.timeoutSec, PersistWorker.timeoutSec(config))
            store = try DatabaseSnapshotStore(connection: try MySQLConnection(persistence), table: table)
        }
        return (leaseStore, store)
    }

    /// Replaces broken connections (after a database restart or network cut); the role is kept.
    private func reconnect() {
        guard let coordinator else { return }
        do {
            let (leaseStore, store) = try openStores()
            coordinator.reconnect(leaseStore)
            fenceStore = leaseStore
            self.store = store
            logger.notice("ha: reconnected to the cluster database")
        } catch {
            logger.warning("ha: cannot reconnect to the cluster database: \(error)")
        }
    }

    /// Opens the cluster and persistence connections (retrying until stopped).
    private func connect() -> ClusterCoordinator? {
        guard let endpoint = clusterEndpoint else {
            logger.critical("ha: cluster.config.strategyConfig.datasource is not usable; not starting")
            return nil
        }
        while !stopRequested.load(ordering: .acquiring) {
            do {
                let (leaseStore, store) = try openStores()
                self.store = store
                let coordinator = ClusterCoordinator(
                    store: leaseStore, nodeId: config.nodeId, heartbeatIntervalMs: cluster.heartbeatIntervalMs,
                    heartbeatMaxRetry: max(2, cluster.heartbeatMaxRetry), properties: { [self] in propertyMap() })
                coordinator.defersTo = { [self] others in
                    // Hold back while another passive holds the events this node lacks.
                    !queueInSync && others.values.contains { $0.contains("\"inSync\":true") && $0.contains("\"role\":\"passive\"") }
                }
                fenceStore = leaseStore
                if case .database = config.persistence.store, !fencedSaves {
                    logger.warning("ha: PERSISTENCE_DB and the cluster database are on different servers: snapshot saves are not fenced by the lease term")
                }
                if config.deployment.advertisedEndpoint.host == "0.0.0.0" {
                    logger.warning("ha: deployment.config.eventSyncServer.advertisedHost is not set and host is 0.0.0.0: the other node can reach this one only on the same host (127.0.0.1); set advertisedHost to this node's address")
                }
                logger.info("ha: node '\(config.nodeId)' in group '\(cluster.groupId)', lease \(leaseDurationMs) ms (heartbeat \(cluster.heartbeatIntervalMs) ms × \(cluster.heartbeatMaxRetry))")
                return coordinator
            } catch {
                logger.error("ha: cannot reach the cluster database \(endpoint.host):\(endpoint.port): \(error); retrying")
                _ = wake.wait(timeout: .now() + .milliseconds(cluster.heartbeatIntervalMs))
            }
        }
        return nil
    }

    private var fenceStore: LeaseStore?

    /// Snapshot saves carry the lease term only when the persistence and cluster databases are on one
    /// server (the fence is a subquery on the lease table).
    private var fencedSaves: Bool {
        guard let cluster = config.clusterDatasource, let persistence = config.persistenceDatasource else { return false }
        return cluster.url.host == persistence.url.host && cluster.url.port == persistence.url.port
    }

    /// Whether every app's queued events are complete since its last committed snapshot.
    private var queueInSync: Bool {
        apps.allSatisfy { queue.inSync(app: $0.name) == true }
    }

    private func propertyMap() -> String {
        let (host, port) = config.deployment.advertisedEndpoint
        let syncPort = server?.port ?? port
        let advertisedPort = config.deployment.advertisedPort ?? syncPort
        let role = isActive ? "active" : "passive"
        return "{\"eventSyncHost\":\"\(host)\",\"eventSyncPort\":\(advertisedPort),\"queueCapacityEvents\":\(queue.capacityEvents),\"role\":\"\(role)\",\"inSync\":\(queueInSync),\"queueDepth\":\(queue.depth),\"passiveInSync\":\(isActive && passiveInSync),\"standbyLive\":\(!isActive && standbyLive)}"
    }

    // MARK: Passive

    /// A host of this HA node for `app` (not started).
    private func makeHost(_ app: SiddhiApp) throws(DeployError) -> AppHost {
        let host = try AppHost(app: app, settings: config.tandem, logger: logger, haAcks: true, datasources: config.datasources, databridge: databridge,
                                httpSecurity: httpSecurity)
        host.fence = fence
        host.syncLink = link
        host.onSnapshot = { [wake] in wake.signal() }
        host.passiveShareEvents.store(passiveShare, ordering: .relaxed)
        return host
    }

    /// Fresh hosts (not started) for every app.
    private func buildHosts() {
        for name in table.names {
            guard let slot = table[name] else { continue }
            do {
                slot.host = try makeHost(slot.app)
                slot.error = nil
            } catch {
                slot.host = nil
                slot.error = error.message
                logger.error("app not deployed: \(error)")
            }
        }
    }

    private func dropHosts() {
        for name in table.names { table[name]?.host = nil }
    }

    /// - Parameter kept: per app, the state (a snapshot through a sequence) this node keeps from its
    ///   time as active: its standby starts hot from it, for this node's own next takeover.
    private func becomePassive(extra: String = "", kept: [String: PendingSnapshot] = [:]) {
        fence.untilMs.store(0, ordering: .releasing)
        buildHosts()
        var hot: [String: Int64] = [:]
        for (name, state) in kept {
            guard let host = table[name]?.host else { continue }
            do {
                try host.restore(state.bytes, lastSequence: state.lastSequence)
                hot[name] = state.lastSequence
            } catch {
                logger.error("ha: app '\(name)': its state as active cannot be kept: \(error)")
            }
        }
        queue.reset(hotThrough: hot)
        startServer()
        startStandbys()
        logRole("passive", term: nil, extra: extra)
    }

    /// Starts the standby engine of every host that runs hot and is not running.
    private func startStandbys() {
        for host in hosts where host.canRunHot && host.thread == nil { startStandby(host) }
    }

    private func startStandby(_ host: AppHost) {
        let config = self.config
        host.startStandby(queue: queue) { revision in
            // Its own connection: a large revision loads while the control thread goes on.
            let store = try PersistWorker.openStore(config, timeoutSec: PersistWorker.timeoutSec(config))
            return try store.load(revision)
        }
    }

    private func startServer() {
        let server = EventSyncServer(host: config.deployment.eventSyncHost, port: config.deployment.eventSyncPort, queue: queue,
                                     logger: logger) { [releasedByActive, wake] notice in
            switch notice {
            case .released:
                releasedByActive.store(true, ordering: .releasing)
                wake.signal()
            case .disconnected, .connected:
                wake.signal()
            }
        }
        do {
            try server.start()
            self.server = server
        } catch {
            logger.error("ha: event-sync server cannot listen on \(config.deployment.eventSyncHost):\(config.deployment.eventSyncPort): \(error)")
        }
    }

    private func stopPassive() {
        server?.stop()
        server = nil
        for host in hosts {
            host.stopStandby(queue: queue)
            host.stop()
        }
        dropHosts()
    }

    /// Whether every app that can run hot holds the active's state (a passive's standby is live).
    private var standbyLive: Bool {
        hosts.allSatisfy { !$0.canRunHot || queue.hotThrough(app: $0.app.name) != nil }
    }
    private var standbyLiveLogged: Bool?
    private var standbyBehindLoggedMs = 0

    /// Logs when the standby goes live or stops being live, and, while it catches up (a late
    /// joiner restoring the active's checkpoint), how far behind it is, at most every 5 s.
    private func reportStandby() {
        let live = standbyLive
        let now = HAController.nowMs()
        if live == standbyLiveLogged && (live || now - standbyBehindLoggedMs < 5_000) { return }
        standbyBehindLoggedMs = now
        if live {
            logger.notice("ha: standby live: every app holds the active's state (\(queue.depth) received events still to apply)")
        } else {
            let waiting = hosts.filter { $0.canRunHot && queue.hotThrough(app: $0.app.name) == nil }.map(\.app.name)
            logger.notice("ha: standby catching up: \(waiting.joined(separator: ", ")) wait for the active's checkpoint to restore; \(queue.depth) received events held meanwhile")
        }
        standbyLiveLogged = live
    }

    // MARK: Failover

    private func promote(_ lease: Lease, detectedAtMs: Int) {
        standbyLiveLogged = nil
        // Everything the previous active sent is queued before replaying (it closed the link, or died).
        server?.stop(drainMs: cluster.heartbeatIntervalMs)
        server = nil
        // The standby engines apply what continues their state and stop: a hot app needs no restore.
        for host in hosts { host.stopStandby(queue: queue) }
        fence.untilMs.store(Int(coordinator?.activeUntilMs ?? 0), ordering: .releasing)
        lastRevision = nil
        committedRevisions = [:]  // another incarnation's numbering
        // (1) runtimes exist, no ports open; (2) restore; (3) replay the queue after the revision —
        // on a thread of its own while this one keeps renewing the lease.
        let takeover = Takeover(hosts: hosts, store: store, queue: queue, logger: logger)
        takeover.start()
        while !takeover.wait(timeoutMs: cluster.heartbeatIntervalMs) {
            guard let coordinator, isActive else { continue }
            coordinator.tick()
            reportError(coordinator.lastError)
            if isActive {
                fence.untilMs.store(Int(coordinator.activeUntilMs), ordering: .releasing)
            } else {
                takeover.abort.store(true, ordering: .releasing)
            }
        }
        takeoverEntries = [:]
        for result in takeover.results where !result.entries.isEmpty {
            takeoverEntries[result.app] = (result.through, result.entries)
        }
        guard isActive, takeover.results.allSatisfy(\.complete) else {
            demote(reason: "the lease lapsed during the takeover (\(HAController.nowMs() - detectedAtMs) ms)")
            return
        }
        lastRevision = takeover.results.compactMap(\.revision).last
        for host in hosts where host.ledger.retaining {
            // Outputs of what the standby applied that the old active's sinks had not reported done.
            host.ledger.trim(delivered: queue.deliveredOutputs(app: host.app.name))
            host.redelivery = host.ledger.takeUndelivered()
        }
        for host in hosts { host.startEngine() }
        // (4) open the ports.
        portWarned = []
        openPendingPorts()
        awaitingCheckpoint = []
        nextLinkAttemptMs = 0
        // The replayed state becomes durable at once.
        for host in hosts { host.requestSnapshot() }
        let replayed = takeover.results.reduce(0) { $0 + $1.replayed }
        logRole("active", term: lease.term, extra: ",\"replayedEvents\":\(replayed),\"takeoverMs\":\(HAController.nowMs() - detectedAtMs),\"leaseCheckEpochMs\":\(HAController.epochMs(atMonotonicMs: detectedAtMs))")
    }

    private func demote(reason: String) {
        logger.error("ha: demoting: \(reason)")
        // Events replayed at the last takeover that no checkpoint of this node covers yet are in no
        // other place: they go back to the queue for the next takeover (here or, if this node is in
        // sync, the other node defers to it).
        let requeue = takeoverEntries
        takeoverEntries = [:]
        // The engines ran no input after this instant (the fence), whatever the database did.
        let actedUntil = HAController.epochMs(atMonotonicMs: min(HAController.nowMs(), fence.untilMs.load(ordering: .acquiring)))
        fence.untilMs.store(0, ordering: .releasing)
        for host in hosts { host.abandonInput() }
        for host in hosts { host.stop() }
        // The state it ran (every event through its last sequence) may be the cluster's only copy
        // of what no checkpoint holds yet: kept hot for this node's next takeover. Another
        // active's hello makes the standby restore that one's checkpoint instead.
        var kept: [String: PendingSnapshot] = [:]
        for host in hosts where host.canRunHot && host.stateValid { kept[host.app.name] = host.snapshotStopped() }
        link.detach(reason: "this node is no longer active")
        persister.cancelPending()
        backups.failAll("node '\(config.nodeId)' is no longer the active node")
        becomePassive(extra: ",\"actedUntilEpochMs\":\(actedUntil)", kept: kept)
        for (app, held) in requeue {
            queue.requeue(app: app, entries: held.entries)
            logger.notice("ha: app '\(app)': \(held.entries.reduce(0) { $0 + $1.eventCount }) replayed events no checkpoint covers yet are queued again")
        }
    }

    // MARK: Active duties

    /// Opens the source ports still closed (a port the old active still holds on this host is tried
    /// again at every heartbeat, logged once).
    private func openPendingPorts() {
        for host in hosts where !host.allPortsOpen {
            do {
                try host.openPorts()
            } catch {
                if !portWarned.contains(host.app.name) { logger.error("ha: \(error); retrying every heartbeat") }
                portWarned.insert(host.app.name)
            }
        }
    }
    private var portWarned: Set<String> = []

    private func maintainLink(now: Int) {
        if link.isAttached { return }
        if !awaitingCheckpoint.isEmpty || attachedAtNs != 0 {
            awaitingCheckpoint = []
            attachedAtNs = 0
        }
        guard now >= nextLinkAttemptMs, case .active(let lease) = coordinator?.role else { return }
        nextLinkAttemptMs = now + max(100, cluster.eventPollingIntervalMs)
        guard let (host, port, capacity) = passiveEndpoint() else { return }
        do {
            let committed = hosts.compactMap { host in
                committedRevisions[host.app.name].map { (app: host.app.name, revision: $0.revision, lastSequence: $0.lastSequence) }
            }
            try link.attach(host: host, port: port, term: lease.term, connectTimeoutMs: max(100, cluster.heartbeatIntervalMs / 2),
                            committed: committed)
            // Each app's share of the passive's queue, with a quarter left for frames in flight.
            passiveQueueCapacity = capacity
            applyShares()
            attachedAtNs = DispatchTime.now().uptimeNanoseconds
            awaitingCheckpoint = Set(hosts.map(\.app.name))
            syncNoticeGiven = false
            // The passive joined: checkpoint at once so it is in sync.
            for host in hosts { host.requestSnapshot() }
        } catch {
            logger.warning("ha: cannot attach passive at \(host):\(port): \(error)")
        }
    }

    /// The event-sync endpoint of a live passive, from its property map.
    private func passiveEndpoint() -> (String, Int, Int)? {
        for (_, properties) in coordinator?.otherMembers.sorted(by: { $0.key < $1.key }) ?? [] {
            guard let data = properties.data(using: .utf8),
                  let map = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let host = map["eventSyncHost"] as? String, let port = map["eventSyncPort"] as? Int,
                  (map["role"] as? String) != "active" else { continue }
            let capacity = map["queueCapacityEvents"] as? Int ?? config.deployment.eventByteBufferQueueCapacity
            return (host == "0.0.0.0" ? "127.0.0.1" : host, port, capacity)
        }
        return nil
    }

    /// Hands the snapshots the engines took to the persistence thread.
    private func saveSnapshots() {
        for host in hosts {
            guard let snapshot = host.takePendingSnapshot() else { continue }
            submit(host: host, snapshot)
        }
    }

    private func submit(host: AppHost, _ snapshot: PendingSnapshot) {
        var fence: LeaseFence?
        if fencedSaves, let fenceStore, case .active(let lease) = coordinator?.role { fence = fenceStore.fenceCondition(lease) }
        persister.submit(PersistWorker.Job(app: host.app.name, snapshot: snapshot, fence: fence))
    }

    /// What the persistence thread finished: last revision, passive in sync.
    @discardableResult
    private func processResults() -> Int {
        var saved = 0
        for result in persister.takeResults() {
            backups.settle(result)
            guard let revision = result.revision else {
                logger.error("ha: \(result.error ?? "snapshot not saved")")
                continue
            }
            saved += 1
            lastRevision = revision
            committedRevisions[result.app] = (revision.revision, result.snapshot.lastSequence)
            if table[result.app] != nil { SnapshotReporting.record(result, board: board) }  // not for an undeployed app's last one
            if let held = takeoverEntries[result.app], result.snapshot.lastSequence >= held.through {
                takeoverEntries[result.app] = nil  // the takeover's replay is durable now
            }
            if let host = hosts.first(where: { $0.app.name == result.app }) {
                host.committedSequence.store(max(host.committedSequence.load(ordering: .relaxed), Int(result.snapshot.lastSequence)), ordering: .releasing)
            }
            if result.announced, result.snapshot.takenAtNs >= attachedAtNs, awaitingCheckpoint.remove(result.app) != nil {
                // The passive can rebuild from here: no more flow control by checkpoints (it applies
                // what it receives; TCP pushes back when it falls behind).
                hosts.first { $0.app.name == result.app }?.passiveShareEvents.store(Int.max, ordering: .relaxed)
            }
            if result.announced, result.snapshot.takenAtNs >= attachedAtNs, awaitingCheckpoint.isEmpty, !syncNoticeGiven {
                syncNoticeGiven = true
                logger.notice("ha: passive \(link.attachedPeer ?? "?") in sync (checkpoint \(revision.revision), sequence \(result.snapshot.lastSequence))")
            }
            logger.debug("ha: app '\(result.app)' persisted \(revision.revision) through sequence \(result.snapshot.lastSequence) (\(result.snapshot.bytes.count) bytes)")
        }
        return saved
    }

    private var passiveInSync: Bool { link.isAttached && awaitingCheckpoint.isEmpty && attachedAtNs != 0 }
    /// Whether the current attach's "in sync" line was logged.
    private var syncNoticeGiven = false

    /// SIGTERM on the active: stop intake, drain, checkpoint, tell the passive, release the lease.
    private func handover() {
        let startMs = HAController.nowMs()
        // Nothing waits for a checkpoint any more: the engines drain their rings at once.
        for host in hosts { host.passiveShareEvents.store(Int.max, ordering: .relaxed) }
        for host in hosts { host.closePorts() }
        for host in hosts { host.stop() }
        var saved = 0
        if passiveInSync && hosts.allSatisfy({ waitReceived($0) }) {
            // The passive holds every event (its state or its queue): it goes on from there, and
            // checkpoints once it is active. No save stands between the stop and its takeover.
            saved = processResults()
        } else {
            _ = persister.waitIdle(timeoutMs: HAController.handoverSaveTimeoutMs)
            processResults()
            for host in hosts where config.persistence.enabled { submit(host: host, host.snapshotStopped()) }
            // Saved and announced before the lease goes: the passive then replays nothing twice.
            if !persister.waitIdle(timeoutMs: HAController.handoverSaveTimeoutMs) {
                logger.error("ha: final checkpoint not written within \(HAController.handoverSaveTimeoutMs) ms; the passive replays its queue instead")
            }
            saved = processResults()
        }
        link.released()
        coordinator?.release()
        fence.untilMs.store(0, ordering: .releasing)
        dropHosts()
        logger.notice("ha: handed over in \(HAController.nowMs() - startMs) ms (\(saved) apps checkpointed, lease released)")
    }

    /// Waits (up to a heartbeat) until the passive reports holding every event `host` ran.
    private func waitReceived(_ host: AppHost) -> Bool {
        let deadline = HAController.nowMs() + cluster.heartbeatIntervalMs
        while true {
            guard let received = link.receivedThrough(app: host.app.name) else { return false }
            if received >= host.lastSequence { return true }
            if HAController.nowMs() >= deadline { return false }
            usleep(500)
        }
    }

    // MARK: Apps from the cluster, REST requests

    /// The attached passive's queue capacity (events), when one is attached.
    private var passiveQueueCapacity: Int?

    /// Each app's share of the passive's queue, with a quarter left for frames in flight.
    private func applyShares() {
        guard let capacity = passiveQueueCapacity else { return }
        passiveShare = max(1, capacity * 3 / (4 * max(1, hosts.count)))
        for host in hosts { host.passiveShareEvents.store(passiveShare, ordering: .relaxed) }
    }

    /// Applies the apps deployed, replaced or removed through the REST API of the active (this node
    /// before a restart, or the other one), as recorded in the cluster database.
    private func syncCatalog() {
        guard let catalog else { return }
        let changes: [ClusterAppChange]
        do {
            changes = try catalog.changes(after: catalogVersion)
        } catch {
            logger.warning("ha: cannot read the cluster's apps: \(error)")
            return
        }
        for change in changes {
            catalogVersion = max(catalogVersion, change.version)
            apply(change)
        }
    }

    private func apply(_ change: ClusterAppChange) {
        let existing = table[change.name]
        guard let source = change.source else {
            guard let slot = existing else { return }
            slot.host?.stopStandby(queue: queue)
            slot.host?.stop()
            table.remove(change.name)
            if let path = slot.path { table.removeFile(path) }
            _ = queue.take(app: change.name)  // its queued events have no app any more
            logger.notice("ha: app '\(change.name)' removed (cluster version \(change.version))")
            return
        }
        if existing?.source == source { return }
        let fileName = existing?.path ?? "\(change.name).siddhi"
        let app: SiddhiApp
        do {
            app = try SiddhiApp.compile(source: source, fileName: fileName)
        } catch {
            logger.error("ha: app '\(change.name)' of cluster version \(change.version) does not compile here:\n\(error.description)")
            return
        }
        if isActive {
            // Only an active writes the table; another active's change (a split brain healed) is run as told.
            if case .failure(let failure) = table.deploy(app, source: source, mode: .createOrUpdate, with: launcher) {
                logger.error("ha: app '\(app.name)' of cluster version \(change.version) not deployed: \(failure.message)")
            }
            return
        }
        if let old = existing?.host {
            old.stopStandby(queue: queue)
            old.stop()
        }
        let slot = AppTable.Slot(app: app, source: source, path: existing?.path, host: nil)
        do {
            let host = try makeHost(app)
            slot.host = host
            if host.canRunHot { startStandby(host) }
        } catch {
            slot.error = error.message
            logger.error("ha: app '\(app.name)' cannot be prepared: \(error)")
        }
        table.insert(slot)
        table.writeFile(slot)
        logger.notice("ha: app '\(app.name)' \(existing == nil ? "added" : "updated") from the cluster (version \(change.version))")
    }

    /// How the active builds and starts hosts for REST deploys and restores.
    private var launcher: AppTable.Launcher {
        AppTable.Launcher(
            make: { [self] (app: SiddhiApp) throws(DeployError) -> AppHost in try makeHost(app) },
            launch: { (host: AppHost) throws(DeployError) in
                host.startEngine()
                do throws(DeployError) {
                    try host.openPorts()
                } catch {
                    host.stop()
                    throw error
                }
            },
            latestState: { [self] name in
                guard let latest = try? store?.latest(appName: name) else { return nil }
                return PendingSnapshot(bytes: latest.1, lastSequence: latest.0.lastSequence, epochMs: latest.0.epochMs)
            })
    }

    /// 503 naming the active, for requests that only the active serves.
    private var notActive: ApiFailure {
        let leader = coordinator?.observedLeader?.lease.nodeId
        return ApiFailure(status: 503, message: "node '\(config.nodeId)' is the passive node; send app requests to the active node"
                          + (leader.map { " '\($0)'" } ?? " (none is active right now)"), activeNode: leader)
    }

    /// Writes an app change to the cluster table, fenced by this node's lease.
    private func record(_ name: String, source: String?) -> ApiFailure? {
        guard let catalog, case .active(let lease) = coordinator?.role, let fenceStore else { return notActive }
        do {
            guard let version = try catalog.put(name: name, source: source, nodeId: config.nodeId, fence: fenceStore.fenceCondition(lease)) else {
                return notActive
            }
            catalogVersion = max(catalogVersion, version)
            return nil
        } catch {
            return ApiFailure(status: 503, message: "cluster database: \(error); nothing changed")
        }
    }

    private func serve(_ job: ControlMailbox.Job) {
        guard isActive else {
            job.reply.send(.failure(notActive))
            return
        }
        switch job.command {
        case .deploy(let app, let source, let mode):
            let previous = table[app.name]
            if previous != nil && mode == .create {
                job.reply.send(.failure(ApiFailure(status: 409, message: "a Siddhi app named '\(app.name)' is already deployed (PUT /siddhi-apps replaces it)")))
                return
            }
            do {
                _ = try makeHost(app)  // sources and sinks check out before the cluster hears of it
            } catch {
                job.reply.send(.failure(ApiFailure(status: 400, message: error.message, details: [error.message])))
                return
            }
            if let failure = record(app.name, source: source) {
                job.reply.send(.failure(failure))
                return
            }
            let result = table.deploy(app, source: source, mode: mode, with: launcher)
            if case .failure = result {
                _ = record(app.name, source: previous?.source)  // the cluster keeps what runs
            } else if let host = table[app.name]?.host {
                applyShares()
                if link.isAttached && attachedAtNs != 0 { awaitingCheckpoint.insert(app.name) }
                host.requestSnapshot()  // durable at once, so the passive can rebuild it
            }
            job.reply.send(result)
        case .list:
            job.reply.send(.success(.apps(summaries())))
        case .statistics:
            job.reply.send(.success(.statistics(summaries())))
        case .source(let name):
            job.reply.send(table[name].map { .success(.source($0.source)) } ?? .failure(.notFound(name)))
        case .undeploy(let name):
            guard table[name] != nil else {
                job.reply.send(.failure(.notFound(name)))
                return
            }
            if let failure = record(name, source: nil) {
                job.reply.send(.failure(failure))
                return
            }
            awaitingCheckpoint.remove(name)
            job.reply.send(table.undeploy(name) { host in
                if config.persistence.enabled { submit(host: host, host.snapshotStopped()) }
            })
            applyShares()
        case .backup(let name):
            guard let host = table[name]?.host else {
                job.reply.send(.failure(.notFound(name)))
                return
            }
            backups.add(app: name, reply: job.reply)
            host.requestSnapshot()
        case .restore(let name, let revision):
            guard let store else {
                job.reply.send(.failure(ApiFailure(status: 503, message: "the snapshot store is not open")))
                return
            }
            let result = table.restore(name, revision: revision, store: store, continueSequence: true, with: launcher)
            // The restored state becomes the cluster's at once (the passive rebuilds from it).
            table[name]?.host?.requestSnapshot()
            job.reply.send(result)
        case .deleteRevisions(let name):
            guard table[name] != nil else {
                job.reply.send(.failure(.notFound(name)))
                return
            }
            do {
                guard let store else { throw SnapshotStoreError(message: "the snapshot store is not open") }
                try store.clear(appName: name)
                job.reply.send(.success(.done("revisions of Siddhi app '\(name)' deleted")))
            } catch {
                job.reply.send(.failure(ApiFailure(status: 503, message: "snapshot store: \(error)")))
            }
        }
    }

    private func summaries() -> [AppSummary] {
        table.summaries { slot in
            guard isActive else { return "passive" }
            return slot.host?.allPortsOpen == true ? "active" : "inactive"
        }
    }

    /// Publishes this node's state for /health, /status, /metrics.
    private func publish() {
        let role = coordinator == nil ? "starting" : (isActive ? "active" : "passive")
        var term: Int64?
        if case .active(let lease) = coordinator?.role { term = lease.term } else { term = coordinator?.observedLeader?.lease.term }
        var peer: NodeStatus.Peer?
        if let (id, properties) = coordinator?.otherMembers.sorted(by: { $0.key < $1.key }).first {
            let map = properties.data(using: .utf8).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
            let address = (map["eventSyncHost"] as? String).map { "\($0):\(map["eventSyncPort"] as? Int ?? 0)" }
            peer = NodeStatus.Peer(nodeId: id, role: map["role"] as? String ?? "unknown", address: address, inSync: map["inSync"] as? Bool)
        }
        let apps = summaries()
        let inSync = isActive ? passiveInSync : queueInSync
        let leader = isActive ? config.nodeId : coordinator?.observedLeader?.lease.nodeId
        let error = coordinator == nil ? "not connected yet" : coordinator?.lastError.map { "\($0)" }
        board.update { status in
            status.role = role
            status.term = term
            status.inSync = inSync
            status.activeNode = leader
            status.dbReachable = error == nil
            status.dbError = error
            status.lastHeartbeatMonoMs = lastHeartbeatMs
            status.heartbeatLimitMs = leaseDurationMs
            status.peer = peer
            status.apps = apps
        }
        board.hosts = table.hosts
    }

    // MARK: Status

    private func logRole(_ role: String, term: Int64?, extra: String = "") {
        let leaseMs = isActive ? max(0, Int(coordinator?.activeUntilMs ?? 0) - HAController.nowMs()) : 0
        let revision = lastRevision.map { "\"\($0.revision)\"" } ?? "null"
        let termText = term.map(String.init) ?? (coordinator?.observedLeader.map { String($0.lease.term) } ?? "null")
        logger.notice("ha-role {\"node\":\"\(config.nodeId)\",\"role\":\"\(role)\",\"term\":\(termText),\"leaseExpiresInMs\":\(leaseMs),\"lastRevision\":\(revision),\"passiveInSync\":\(role == "active" ? passiveInSync : queueInSync),\"queueDepth\":\(queue.depth),\"atEpochMs\":\(AppHost.wallClockMs())\(extra)}")
    }
}
