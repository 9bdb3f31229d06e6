import Atomics
import DataPlane
import Engine
import Foundation
import Logging
import Metrics

/// The passive's hot standby: the app's runtime runs on its engine thread with outputs off and
/// applies what the active forwards, in sequence order, at the active's engine clock (docs/ha.md).
///
/// The thread takes its steps from the ``EventSyncQueue``: apply the entries that continue its
/// state; restore a committed revision when its state is not the active's (just started, a new
/// active, a checksum that differed, a gap); wait. At a `clock` entry carrying a checksum it
/// compares its own state's: a difference (a non-deterministic function such as `rand()`) is
/// logged, counted (`tandem_ha_standby_divergence_total`) and repaired from that revision.
extension AppHost {
    /// How a standby engine reads a committed revision (its own connection to the store).
    typealias RevisionLoader = @Sendable (SnapshotRevision) throws -> [UInt8]

    /// Whether the app can run hot on a passive: tables kept in a database (`@store`) are the
    /// database's, and a passive must not load or write them, so such apps wait cold (restore and
    /// replay at failover).
    var canRunHot: Bool { app.storedTables.isEmpty }

    /// Starts the standby engine thread (no ports, outputs off). Call before any other start.
    func startStandby(queue: EventSyncQueue, load: @escaping RevisionLoader) {
        precondition(canRunHot)
        stopping.store(false, ordering: .relaxed)
        outputsOn.store(false, ordering: .releasing)
        ledger.retaining = true
        let wake = ManagedAtomic<Bool>(true)
        queue.setListener(app: app.name) { [doorbell] in
            wake.store(true, ordering: .releasing)
            doorbell.ring()
        }
        startThread(name: "tandem-standby-\(app.name)") { [self] in
            runStandby(queue: queue, load: load, wake: wake)
        }
    }

    /// Stops the standby engine after it applied what continues its state (failover: the queue was
    /// drained from the link before), and detaches it from the queue.
    func stopStandby(queue: EventSyncQueue) {
        queue.setListener(app: app.name, nil)
        stopEngine()
    }

    /// The divergence counter's series (made at the first divergence: a passive that never diverges has none).
    static func divergenceCounter(_ app: String) -> Metrics.Counter {
        Metrics.Counter(label: "tandem_ha_standby_divergence_total", dimensions: [("app", app)])
    }

    private func runStandby(queue: EventSyncQueue, load: RevisionLoader, wake: ManagedAtomic<Bool>) {
        let name = app.name
        var appliedSinceLog = 0
        while true {
            let stop = stopping.load(ordering: .acquiring)
            wake.store(false, ordering: .relaxed)
            switch queue.standbyStep(app: name, pristine: pristine, mayRestore: !stop) {
            case .apply(let entries, let epoch):
                var k = 0
                var valid = true
                while k < entries.count && valid {
                    valid = applyStandby(entries[k], queue: queue)
                    k += 1
                }
                ledger.trim(delivered: queue.deliveredOutputs(app: name))
                if valid {
                    queue.applied(app: name, through: lastSequence, epoch: epoch)
                    appliedSinceLog += entries.count
                } else if k < entries.count {
                    // The state is being repaired: what it did not apply waits for after the restore.
                    queue.requeue(app: name, entries: Array(entries[k...]))
                }
            case .restore(let revision, let through, let epoch):
                let startNs = DispatchTime.now().uptimeNanoseconds
                do {
                    let bytes = try load(SnapshotRevision(revision: revision, appName: name, lastSequence: through))
                    try restoreState(bytes, lastSequence: through)
                    pristine = false
                    queue.restored(app: name, through: through, epoch: epoch)
                    let ms = (DispatchTime.now().uptimeNanoseconds - startNs) / 1_000_000
                    logger.notice("ha: app '\(name)' standby restored revision \(revision) (through sequence \(through), \(bytes.count) bytes) in \(ms) ms; applying the events after it")
                } catch {
                    queue.restoreFailed(app: name, revision: revision)
                    logger.error("ha: app '\(name)' standby cannot restore revision \(revision): \(error); waiting for a newer one")
                }
            case .wait:
                ledger.trim(delivered: queue.deliveredOutputs(app: name))
                if stop { return }
                doorbell.wait(timeoutMs: AppHost.idleWaitMs) {
                    !wake.load(ordering: .acquiring) && !stopping.load(ordering: .relaxed)
                }
            }
        }
    }

    /// Applies one forwarded entry; false when the state turned out not to be the active's (then
    /// the queue waits for a revision to restore).
    private func applyStandby(_ entry: EventSyncEntry, queue: EventSyncQueue) -> Bool {
        if entry.isClock {
            if !runtime.isPlayback { runtime.advanceTime(to: entry.clockMs) }
            guard let expected = entry.checksum, entry.lastSequence == lastSequence else { return true }
            let own = AppHost.stateChecksum(runtime.snapshot())
            guard own != expected else { return true }
            AppHost.divergenceCounter(app.name).increment()
            divergedOnce = true
            logger.error("ha: app '\(app.name)' standby state differs from the active's after sequence \(lastSequence) (checksum \(String(own, radix: 16)) against \(String(expected, radix: 16)): a non-deterministic function, or a bug); reloading the active's revision there")
            queue.invalidate(app: app.name, appliedThrough: lastSequence, complete: true)
            return false
        }
        guard entry.lastSequence > lastSequence else { return true }
        do {
            guard let index = runtime.streamIndex(entry.stream) else {
                throw EventSyncError("\(app.name): forwarded events for unknown stream \(entry.stream)")
            }
            let batch = try entry.decode(schema: app.streams[index], after: lastSequence)
            if !runtime.isPlayback, entry.clockMs > 0 { runtime.advanceTime(to: entry.clockMs) }
            runtime.send(streamIndex: index, batch: batch)
        } catch {
            logger.error("ha: app '\(app.name)' standby cannot apply events \(entry.firstSequence)...\(entry.lastSequence): \(error); reloading a revision")
            queue.invalidate(app: app.name, appliedThrough: entry.lastSequence, complete: false)
            return false
        }
        lastSequence = entry.lastSequence
        pristine = false
        notePublisher(entry.publisherId, entry.publisherSeq)
        return true
    }
}
