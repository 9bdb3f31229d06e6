import DataPlane
import Dispatch
import Engine
import Foundation
import Logging

/// The control thread of a standalone node: it owns the running apps (``AppTable``), serves the
/// REST API's requests (``ControlMailbox``), and persists state (`state.persistence`).
///
/// Persistence: at start each app is restored from its latest revision (``restore(_:config:logger:)``,
/// before the apps start); while it runs, every `intervalMs` each app's engine takes a snapshot at a
/// batch boundary, written by the persistence thread (file or database store, `revisionsToKeep`); at
/// stop a last snapshot is written after the engines drained. A revision that cannot be restored
/// (the app changed, a corrupt file) is reported and the app starts empty; nothing is deleted.
/// `POST …/backup` snapshots at once even when periodic persistence is off.
final class StandaloneController: @unchecked Sendable {
    private let config: DeploymentConfig
    /// The node's wso2event receiver, which apps deployed later attach to (nil: disabled).
    private let databridge: DatabridgeReceiver?
    /// The node's users and certificate for the apps' http sources.
    private let httpSecurity: HTTPSourceSecurity
    private let logger: Logger
    private let table: AppTable
    private let mailbox: ControlMailbox
    private let board: NodeStatusBoard
    private let wake = DispatchSemaphore(value: 0)
    private let persister: PersistWorker
    private let stopRequested = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    private var backups = PendingBackups()
    /// The store the control thread reads for restores (opened when first needed).
    private var store: SnapshotStore?
    /// How long a stop waits for the last snapshots to be written.
    static let stopSaveTimeoutMs = 10_000

    init(config: DeploymentConfig, table: AppTable, mailbox: ControlMailbox, board: NodeStatusBoard, logger: Logger,
         databridge: DatabridgeReceiver? = nil, httpSecurity: HTTPSourceSecurity = .none) {
        self.config = config
        self.databridge = databridge
        self.httpSecurity = httpSecurity
        self.table = table
        self.mailbox = mailbox
        self.board = board
        self.logger = logger
        // A standalone node has no passive: a link that is never attached.
        persister = PersistWorker(config: config, link: EventSyncClient(nodeId: config.nodeId, stallLimitMs: 1, logger: logger),
                                  logger: logger, wake: wake)
    }

    /// Restores every app from its latest revision (before the apps start).
    static func restore(_ hosts: [AppHost], config: DeploymentConfig, logger: Logger) {
        let store: SnapshotStore
        do {
            store = try PersistWorker.openStore(config, timeoutSec: PersistWorker.timeoutSec(config))
        } catch {
            logger.error("persistence: cannot open the store: \(error); apps start empty")
            return
        }
        for host in hosts {
            do {
                guard let (revision, bytes) = try store.latest(appName: host.app.name) else { continue }
                try host.restore(bytes, lastSequence: revision.lastSequence)
                logger.info("persistence: app '\(host.app.name)' restored revision \(revision.revision)")
            } catch {
                logger.error("persistence: app '\(host.app.name)' not restored (\(error)); it starts empty, its revisions are kept")
            }
        }
    }

    /// Starts the control thread (after the apps started).
    func start() {
        for host in table.hosts { host.onSnapshot = { [wake] in wake.signal() } }
        persister.start()
        mailbox.attach(wake: { [wake] in wake.signal() })
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "tandem-control"
        self.thread = thread
        thread.start()
    }

    private func run() {
        let periodic = config.persistence.enabled
        var nextMs = periodic ? StandaloneController.nowMs() + config.persistence.intervalMs : Int.max
        publish()
        while true {
            let waitMs = max(1, min(nextMs - StandaloneController.nowMs(), 1_000))
            if stopRequested.wait(timeout: .now()) == .success { return }
            _ = wake.wait(timeout: .now() + .milliseconds(waitMs))
            if stopRequested.wait(timeout: .now()) == .success { return }
            for job in mailbox.take() { serve(job) }
            collect()
            if StandaloneController.nowMs() >= nextMs {
                for host in table.hosts { host.requestSnapshot() }
                nextMs = StandaloneController.nowMs() + config.persistence.intervalMs
            }
            backups.expire()
            publish()
        }
    }

    private func publish() {
        board.update { status in
            status.role = "standalone"
            status.apps = table.summaries { $0.host == nil ? "inactive" : "active" }
        }
        board.hosts = table.hosts
    }

    // MARK: REST requests

    private var launcher: AppTable.Launcher {
        AppTable.Launcher(
            make: { [config, logger, wake, databridge, httpSecurity] (app: SiddhiApp) throws(DeployError) -> AppHost in
                let host = try AppHost(app: app, settings: config.tandem, logger: logger, datasources: config.datasources, databridge: databridge,
                                httpSecurity: httpSecurity)
                host.onSnapshot = { wake.signal() }
                return host
            },
            launch: { (host: AppHost) throws(DeployError) in try host.start() },
            latestState: { [self] name in
                guard config.persistence.enabled, let (revision, bytes) = try? controlStore()?.latest(appName: name) else { return nil }
                return PendingSnapshot(bytes: bytes, lastSequence: revision.lastSequence, epochMs: revision.epochMs)
            })
    }

    private func controlStore() -> SnapshotStore? {
        if store == nil {
            do {
                store = try PersistWorker.openStore(config, timeoutSec: PersistWorker.timeoutSec(config))
            } catch {
                logger.error("persistence: cannot open the store: \(error)")
            }
        }
        return store
    }

    private func serve(_ job: ControlMailbox.Job) {
        switch job.command {
        case .deploy(let app, let source, let mode):
            let result = table.deploy(app, source: source, mode: mode, with: launcher)
            job.reply.send(result)
        case .list:
            job.reply.send(.success(.apps(table.summaries { $0.host == nil ? "inactive" : "active" })))
        case .statistics:
            job.reply.send(.success(.statistics(table.summaries { $0.host == nil ? "inactive" : "active" })))
        case .source(let name):
            job.reply.send(table[name].map { .success(.source($0.source)) } ?? .failure(.notFound(name)))
        case .undeploy(let name):
            job.reply.send(table.undeploy(name) { host in
                if config.persistence.enabled {
                    persister.submit(.init(app: name, snapshot: host.snapshotStopped(), fence: nil))
                }
            })
        case .backup(let name):
            guard let host = table[name]?.host else {
                job.reply.send(.failure(table[name] == nil ? .notFound(name) : ApiFailure(status: 409, message: "Siddhi app '\(name)' is not running")))
                return
            }
            backups.add(app: name, reply: job.reply)
            host.requestSnapshot()
        case .restore(let name, let revision):
            guard let store = controlStore() else {
                job.reply.send(.failure(ApiFailure(status: 503, message: "the snapshot store cannot be opened")))
                return
            }
            let result = table.restore(name, revision: revision, store: store, continueSequence: false, with: launcher)
            if case .failure(let failure) = result, failure.status == 503 { self.store = nil }
            job.reply.send(result)
        case .deleteRevisions(let name):
            guard table[name] != nil else {
                job.reply.send(.failure(.notFound(name)))
                return
            }
            do {
                guard let store = controlStore() else { throw SnapshotStoreError(message: "the snapshot store cannot be opened") }
                try store.clear(appName: name)
                job.reply.send(.success(.done("revisions of Siddhi app '\(name)' deleted")))
            } catch {
                self.store = nil
                job.reply.send(.failure(ApiFailure(status: 503, message: "snapshot store: \(error)")))
            }
        }
    }

    // MARK: Persistence

    /// Hands the snapshots the engines took to the persistence thread; logs what it finished.
    private func collect() {
        for host in table.hosts {
            if let snapshot = host.takePendingSnapshot() { persister.submit(.init(app: host.app.name, snapshot: snapshot, fence: nil)) }
        }
        for result in persister.takeResults() {
            if let revision = result.revision {
                logger.debug("persistence: app '\(result.app)' saved \(revision.revision)")
            } else {
                logger.error("persistence: app '\(result.app)' snapshot not saved: \(result.error ?? "unknown error")")
            }
            if table[result.app] != nil { SnapshotReporting.record(result, board: board) }  // not for an undeployed app's last one
            backups.settle(result)
        }
    }

    /// Stops the control thread (REST requests get 503 from then on), then the apps (sources first,
    /// engines after they drain), then writes each app's last snapshot.
    func stop() {
        guard thread != nil else { return }
        mailbox.close(reason: "the node is stopping")
        stopRequested.signal()
        wake.signal()
        finished.wait()
        thread = nil
        backups.failAll("the node is stopping")
        let hosts = table.hosts
        for host in hosts.reversed() { host.stop() }
        if config.persistence.enabled {
            for host in hosts { persister.submit(.init(app: host.app.name, snapshot: host.snapshotStopped(), fence: nil)) }
        }
        persister.stop(timeoutMs: StandaloneController.stopSaveTimeoutMs)
        collect()
        if config.persistence.enabled { logger.info("persistence: last snapshots of \(hosts.count) apps written") }
        board.update { $0.role = "stopped" }
    }

    static func nowMs() -> Int { Int(DispatchTime.now().uptimeNanoseconds / 1_000_000) }
}
