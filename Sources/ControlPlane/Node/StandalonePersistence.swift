import DataPlane
import Dispatch
import Foundation
import Logging

/// State persistence of a standalone node (`state.persistence`): at start each app is restored
/// from its latest revision; while it runs, every `intervalMs` each app's engine takes a snapshot at
/// a batch boundary, written by the persistence thread (file or database store, `revisionsToKeep`);
/// at stop a last snapshot is written after the engines drained. A revision that cannot be restored
/// (the app changed, a corrupt file) is reported and the app starts empty; nothing is deleted.
final class StandalonePersistence: @unchecked Sendable {
    private let config: DeploymentConfig
    private let logger: Logger
    private let hosts: [AppHost]
    private let wake = DispatchSemaphore(value: 0)
    private let persister: PersistWorker
    private let stopping = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    /// How long a stop waits for the last snapshots to be written.
    static let stopSaveTimeoutMs = 10_000

    init(config: DeploymentConfig, hosts: [AppHost], logger: Logger) {
        self.config = config
        self.hosts = hosts
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

    /// Starts the periodic snapshots (after the apps started).
    func start() {
        for host in hosts { host.onSnapshot = { [wake] in wake.signal() } }
        persister.start()
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "tandem-control"
        self.thread = thread
        thread.start()
    }

    private func run() {
        var nextMs = StandalonePersistence.nowMs() + config.persistence.intervalMs
        while true {
            let waitMs = max(1, nextMs - StandalonePersistence.nowMs())
            if stopping.wait(timeout: .now() + .milliseconds(min(waitMs, 1_000))) == .success { return }
            collect()
            if StandalonePersistence.nowMs() >= nextMs {
                for host in hosts { host.requestSnapshot() }
                nextMs = StandalonePersistence.nowMs() + config.persistence.intervalMs
            }
        }
    }

    /// Hands the snapshots the engines took to the persistence thread; logs what it finished.
    private func collect() {
        for host in hosts {
            if let snapshot = host.takePendingSnapshot() { persister.submit(.init(app: host.app.name, snapshot: snapshot, fence: nil)) }
        }
        for result in persister.takeResults() {
            if let revision = result.revision {
                logger.debug("persistence: app '\(result.app)' saved \(revision.revision)")
            } else {
                logger.error("persistence: app '\(result.app)' snapshot not saved: \(result.error ?? "unknown error")")
            }
        }
    }

    /// Stops the timer; after the apps stopped, writes each app's last snapshot.
    func stop(afterAppsStopped: () -> Void) {
        guard thread != nil else { return }
        stopping.signal()
        finished.wait()
        thread = nil
        afterAppsStopped()
        for host in hosts { persister.submit(.init(app: host.app.name, snapshot: host.snapshotStopped(), fence: nil)) }
        persister.stop(timeoutMs: StandalonePersistence.stopSaveTimeoutMs)
        collect()
        logger.info("persistence: last snapshots of \(hosts.count) apps written")
    }

    static func nowMs() -> Int { Int(DispatchTime.now().uptimeNanoseconds / 1_000_000) }
}
