import DataPlane
import Foundation
import Logging

/// Writes snapshots on a thread of its own (with its own database connection), so a slow save never
/// delays the control plane's heartbeats, then sends the passive the control message for each
/// committed revision.
///
/// Its mailbox holds at most one job per app: a newer snapshot of an app replaces one not yet
/// written (it covers more events). Results go back to the control-plane thread through
/// ``takeResults()``.
final class PersistWorker: @unchecked Sendable {
    struct Job: Sendable {
        var app: String
        var snapshot: PendingSnapshot
        /// The active's lease condition (DB store with both databases on one server), or nil.
        var fence: LeaseFence?
    }

    struct Result: Sendable {
        var app: String
        var revision: SnapshotRevision?
        var error: String?
        var snapshot: PendingSnapshot
        /// Whether the control message reached the passive.
        var announced: Bool
        /// How long the store took to write it.
        var saveDurationNs: UInt64 = 0
    }

    private let config: DeploymentConfig
    private let link: EventSyncClient
    private let logger: Logger
    private let wake: DispatchSemaphore
    private let condition = NSCondition()
    private var jobs: [String: Job] = [:]
    private var order: [String] = []
    private var results: [Result] = []
    private var busy = false
    private var stopping = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameter wake: signalled after each result (the control thread waits on it).
    init(config: DeploymentConfig, link: EventSyncClient, logger: Logger, wake: DispatchSemaphore) {
        self.config = config
        self.link = link
        self.logger = logger
        self.wake = wake
    }

    func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "tandem-persist"
        self.thread = thread
        thread.start()
    }

    /// Finishes the jobs already queued (up to `timeoutMs` in all), then stops the thread. A save
    /// still stuck on an unreachable database after that is abandoned (logged; the process exits).
    func stop(timeoutMs: Int) {
        let deadline = DispatchTime.now() + .milliseconds(timeoutMs)
        _ = waitIdle(timeoutMs: timeoutMs)
        condition.lock()
        stopping = true
        jobs.removeAll()
        order.removeAll()
        condition.broadcast()
        condition.unlock()
        if thread != nil && finished.wait(timeout: deadline) == .timedOut {
            logger.warning("ha: a snapshot save is still waiting for the database; abandoned at stop")
        }
        thread = nil
    }

    func submit(_ job: Job) {
        condition.lock()
        if jobs[job.app] == nil { order.append(job.app) }
        jobs[job.app] = job
        condition.broadcast()
        condition.unlock()
    }

    /// Drops the jobs not started (the node stopped being active).
    func cancelPending() {
        condition.lock()
        jobs.removeAll()
        order.removeAll()
        condition.unlock()
    }

    func takeResults() -> [Result] {
        condition.lock()
        defer { condition.unlock() }
        defer { results.removeAll() }
        return results
    }

    /// Waits until every queued job is written; false on timeout.
    func waitIdle(timeoutMs: Int) -> Bool {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        condition.lock()
        defer { condition.unlock() }
        while busy || !jobs.isEmpty {
            if !condition.wait(until: deadline) { return false }
        }
        return true
    }

    private func run() {
        var store: SnapshotStore?
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty && stopping {
                condition.unlock()
                return
            }
            let app = order.removeFirst()
            let job = jobs.removeValue(forKey: app)!
            busy = true
            condition.unlock()

            var result = Result(app: app, revision: nil, error: nil, snapshot: job.snapshot, announced: false)
            do {
                if store == nil { store = try openStore() }
                if let db = store as? DatabaseSnapshotStore { db.leaseFence = job.fence }
                Failpoint.pass("persist-before-save")
                let saveStartNs = DispatchTime.now().uptimeNanoseconds
                defer { result.saveDurationNs = DispatchTime.now().uptimeNanoseconds - saveStartNs }
                let revision = try store!.save(appName: app, epochMs: job.snapshot.epochMs, lastSequence: job.snapshot.lastSequence,
                                               snapshot: job.snapshot.bytes, revisionsToKeep: config.persistence.revisionsToKeep)
                result.revision = revision
                // Committed: the passive may now drop the events it covers.
                result.announced = link.persisted(app: app, revision: revision.revision, lastSequence: job.snapshot.lastSequence)
                Failpoint.pass("persist-after-control")
            } catch {
                result.error = "\(error)"
                store = nil  // its connection may be broken: a fresh one for the next job
            }
            condition.lock()
            results.append(result)
            busy = false
            condition.broadcast()
            condition.unlock()
            wake.signal()
        }
    }

    /// Client timeout of the persistence connection: long enough for a large snapshot's round trip,
    /// short enough that an unreachable database is noticed within a few leases.
    static func timeoutSec(_ config: DeploymentConfig) -> UInt32 {
        UInt32(max(5, 2 * config.cluster.heartbeatIntervalMs * max(2, config.cluster.heartbeatMaxRetry) / 1000))
    }

    private func openStore() throws -> SnapshotStore {
        try PersistWorker.openStore(config, timeoutSec: PersistWorker.timeoutSec(config))
    }

    /// The configured snapshot store (file directory, or a connection to the DB store) with a
    /// client timeout of at most `timeoutSec`.
    static func openStore(_ config: DeploymentConfig, timeoutSec: UInt32) throws -> SnapshotStore {
        switch config.persistence.store {
        case .file(let directory):
            return FileSnapshotStore(directory: directory)
        case .database(let name, let table):
            guard var endpoint = config.datasources[name]?.endpoint else {
                throw SnapshotStoreError(message: "persistence datasource \(name) is not defined")
            }
            endpoint.timeoutSec = min(endpoint.timeoutSec, timeoutSec)
            return try DatabaseSnapshotStore(connection: try MySQLConnection(endpoint), table: table)
        }
    }
}
