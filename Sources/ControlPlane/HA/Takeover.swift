import Atomics
import DataPlane
import Foundation
import Logging

/// The work of a failover between taking the lease and opening the ports: per app, restore the
/// latest revision that loads, then replay the passive's queue after it, up to its first gap.
///
/// Runs on a thread of its own (``start()``), so the control thread keeps renewing the lease
/// meanwhile: a large restore or a long replay would otherwise let it lapse mid-takeover, and the
/// node would demote with the replayed events in a runtime it then drops. Setting ``abort`` stops it
/// between two queued entries (the lease was lost); what it took from the queue is in ``results``
/// either way, so the control thread can queue it again.
final class Takeover: @unchecked Sendable {
    /// One app's takeover.
    struct AppResult {
        var app: String
        /// The revision restored, nil when none (the app starts from empty state).
        var revision: SnapshotRevision?
        /// The queued entries taken for the app that continue the revision without a hole (those
        /// replayed, or all of them when the takeover was aborted before their turn).
        var entries: [EventSyncEntry]
        /// Events replayed.
        var replayed = 0
        /// Whether every entry in `entries` was replayed.
        var complete = false
        /// The last sequence the app holds when `complete`.
        var through: Int64 = 0
        /// Whether the standby state was taken over as it was (no restore).
        var hot = false
    }

    /// Set by the control thread when the lease is lost: no more entries are replayed.
    let abort = ManagedAtomic<Bool>(false)
    /// Per app, in the hosts' order; only read after the thread finished (``wait(timeoutMs:)``).
    private(set) var results: [AppResult] = []

    private let hosts: [AppHost]
    private let store: SnapshotStore?
    private let queue: EventSyncQueue
    private let logger: Logger
    private let finished = DispatchSemaphore(value: 0)

    init(hosts: [AppHost], store: SnapshotStore?, queue: EventSyncQueue, logger: Logger) {
        self.hosts = hosts
        self.store = store
        self.queue = queue
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "tandem-takeover"
        thread.start()
    }

    /// Waits up to `timeoutMs` for the work to end; true once it has.
    func wait(timeoutMs: Int) -> Bool {
        finished.wait(timeout: .now() + .milliseconds(timeoutMs)) == .success
    }

    private func run() {
        for host in hosts {
            let name = host.app.name
            var result = AppResult(app: name, revision: nil, entries: [])
            var restoredSequence: Int64 = 0
            let taken = queue.take(app: name)
            // A standby whose queue has a gap after its state, when a committed revision goes past
            // that state, is stopped between hearing of the revision and restoring it: the revision
            // holds events the standby never saw (acknowledged ones among them), so restore it.
            let hotState = queue.completeThrough(app: name).flatMap { hot -> Int64? in
                guard hot == host.lastSequence else { return nil }
                guard Takeover.contiguousRun(taken, after: hot).gap != nil,
                      let persisted = queue.lastPersisted(app: name), persisted.lastSequence > hot else { return hot }
                logger.notice("ha: app '\(name)' standby state ends at sequence \(hot) before a gap that revision \(persisted.revision) (through \(persisted.lastSequence)) covers: restoring it")
                return nil
            }
            if let hot = hotState {
                // Hot standby: the runtime holds the old active's state already (or one that differs
                // only by a non-deterministic function's results); nothing to restore.
                restoredSequence = hot
                result.hot = true
                host.stateValid = true
                logger.info("ha: app '\(name)' standby state is the active's through sequence \(hot): no restore")
            } else if !abort.load(ordering: .acquiring) {
                host.stateValid = true
                do {
                    for revision in try store?.revisions(appName: name).reversed() ?? [] {
                        do {
                            let bytes = try store!.load(revision)
                            try host.restore(bytes, lastSequence: revision.lastSequence)
                            host.pristine = false
                            restoredSequence = revision.lastSequence
                            result.revision = revision
                            logger.info("ha: app '\(name)' restored revision \(revision.revision) (events up to sequence \(revision.lastSequence))")
                            break
                        } catch {
                            logger.error("ha: app '\(name)' cannot restore revision \(revision.revision): \(error); trying an older one")
                        }
                    }
                } catch {
                    logger.error("ha: app '\(name)': \(error); starting from empty state")
                }
            }
            let run = Takeover.contiguousRun(taken, after: restoredSequence)
            result.entries = run.entries
            if let gap = run.gap {
                // Only the events up to the gap run: the ones after it were not acknowledged to any
                // publisher (acks after a re-attach wait for a snapshot covering the gap), so an
                // acknowledging publisher resends the gap and them in order; running them now would
                // record its later batches as held and make the new active skip the resent gap.
                logger.error("ha: app '\(name)': events \(gap.lowerBound)...\(gap.upperBound) are in no snapshot and not queued (the passive was out of sync): \(run.eventsAfterGap) queued events after them are not replayed; acknowledging publishers resend all of them, events of plain publishers there are lost")
            }
            Failpoint.pass("takeover-replay")
            var complete = !abort.load(ordering: .acquiring)
            for entry in run.entries where complete {
                do {
                    result.replayed += try host.replay(entry)
                } catch {
                    logger.error("ha: app '\(name)': queued events not replayed: \(error)")
                }
                complete = !abort.load(ordering: .relaxed)
            }
            result.complete = complete
            result.through = host.lastSequence
            if complete { logger.info("ha: app '\(name)' replayed \(result.replayed) queued events; continuing after sequence \(host.lastSequence)") }
            results.append(result)
        }
    }

    /// The queued entries a new active may replay after restoring a snapshot through `restored`:
    /// those that continue it without a hole. `gap` is the first range of sequences neither in the
    /// snapshot nor queued, and `eventsAfterGap` counts the queued events past it (not replayed).
    static func contiguousRun(_ entries: [EventSyncEntry], after restored: Int64)
        -> (entries: [EventSyncEntry], gap: ClosedRange<Int64>?, eventsAfterGap: Int) {
        var next = restored + 1
        var run: [EventSyncEntry] = []
        for (i, entry) in entries.enumerated() where entry.lastSequence >= next {
            guard entry.firstSequence <= next else {
                let after = entries[i...].reduce(0) { $0 + Int(max(0, min(Int64($1.eventCount), $1.lastSequence - next + 1))) }
                return (run, next...(entry.firstSequence - 1), after)
            }
            run.append(entry)
            next = entry.lastSequence + 1
        }
        return (run, nil, 0)
    }
}
