import Atomics
import DataPlane
import Engine
import Foundation
import Logging

/// The node's side of its engine loop (``EngineLoop``, DataPlane): everything a node adds around
/// the batches. Standalone that is counting and publisher bookkeeping; an HA active also fences
/// input by its lease, numbers and forwards every batch to the passive before running it, tells
/// the passive its clock moves and its sinks' progress, releases publishers' acks once the cluster
/// holds their events, and takes snapshots at batch boundaries.
extension AppHost: EngineLoopHook {
    var mayRun: Bool { fence.isOpen }
    var discardQueued: Bool { discarding.load(ordering: .acquiring) }
    var idleWaitMs: Int { pendingAcksHead < pendingAcks.count ? 1 : AppHost.idleWaitMs }  // poll the passive's receipts
    var wantsWake: Bool { snapshotRequested.load(ordering: .relaxed) }

    func beginPass() {
        if snapshotRequested.load(ordering: .relaxed) && snapshotRequested.exchange(false, ordering: .acquiring) {
            takeSnapshot()
        }
        // HA: once the lease may have lapsed nothing runs (the rings fill, the sources stop reading,
        // publishers are pushed back) until the control plane demotes or renews.
        if fence.isOpen {
            fenceWarned = false
        } else if !fenceWarned && !discarding.load(ordering: .relaxed) && !stopping.load(ordering: .relaxed) {
            logger.warning("app '\(app.name)': lease validity lapsed; input paused until renewed or demoted")
            fenceWarned = true
        }
    }

    func willRun(_ item: IngestBatch, ring: Int, clockMs: Int64) -> Bool {
        let first = lastSequence + 1
        if let syncLink {
            holdForPassive(syncLink, adding: item.batch.count)
            guard fence.isOpen else { return false }
        }
        lastSequence += Int64(item.batch.count)
        var forwarded = false
        if let syncLink {
            if Failpoint.fires("forward-detach") { syncLink.detach(reason: "failpoint forward-detach") }
            forwarded = syncLink.forward(app: app.name, stream: streamNames[item.streamIndex], firstSequence: first,
                                         batch: item.batch, publisherId: item.publisherId,
                                         publisherSeq: item.publisherSeq, clockMs: clockMs, scratch: &scratch)
        }
        if forwarded { Failpoint.pass("engine-mid-batch") }
        if haAcks {
            // The ack waits until the batch is durable in the cluster (see releaseAcks).
            if forwarded, let syncLink {
                let generation = syncLink.generation.load(ordering: .acquiring)
                if generation != linkGeneration {
                    linkGeneration = generation
                    syncFromSequence = first
                }
            } else {
                linkGeneration = -1
                syncFromSequence = .max
            }
        }
        return true
    }

    func didRun(_ item: IngestBatch, ring: Int) {
        pristine = false
        counters.recordIn(streamIndex: item.streamIndex, events: item.batch.count)
        notePublisher(item.publisherId, item.publisherSeq)
        if haAcks { pendingAcks.append((lastSequence, ring, item.ackTicket)) }
        checkpointIfDue()
    }

    func endPass() {
        releaseAcks()
        reportDelivered()
    }

    /// Idle on the active: when a timer fired, the passive is told in order with the events, so its
    /// timers fire at the same point.
    func idle(clockMs: Int64, timerFired: Bool) {
        if timerFired, let syncLink { syncLink.forwardClock(app: app.name, afterSequence: lastSequence, clockMs: clockMs) }
    }

    func notRun(events: Int, batchesAtStop: Int) {
        if events > 0 { logger.error("app '\(app.name)': \(events) received events not run: this node's lease lapsed") }
        if batchesAtStop > 0 { logger.error("app '\(app.name)': \(batchesAtStop) batches not run: this node's lease lapsed") }
    }

    /// Lets publishers' acks go for every batch that is durable in the cluster: covered by a
    /// committed snapshot, or held by a passive that can rebuild it (it has every event since the
    /// last committed snapshot: it was attached before the first event after it). Without a passive
    /// in sync acks wait for the next checkpoint (publishers are held back by their unacked window).
    func releaseAcks() {
        guard pendingAcksHead < pendingAcks.count else { return }
        let committed = Int64(committedSequence.load(ordering: .acquiring))
        var through = syncLink == nil ? Int64.max : committed
        if syncFromSequence <= committed + 1, let received = syncLink?.receivedThrough(app: app.name) {
            through = max(through, received)
        }
        var release: [Int: UInt64] = [:]
        while pendingAcksHead < pendingAcks.count, pendingAcks[pendingAcksHead].sequence <= through {
            let p = pendingAcks[pendingAcksHead]
            release[p.listener] = max(release[p.listener] ?? 0, p.ticket)
            pendingAcksHead += 1
        }
        for (source, ticket) in release { sources[source].releaseAcks(through: ticket) }
        if pendingAcksHead > 1024 && pendingAcksHead * 2 > pendingAcks.count {
            pendingAcks.removeFirst(pendingAcksHead)
            pendingAcksHead = 0
        }
    }

    /// Takes a checkpoint when half of the passive's share was forwarded since the last one, the last
    /// one is written, and the previous engine-initiated one is `checkpointSpacingMs` old.
    func checkpointIfDue() {
        let share = passiveShareEvents.load(ordering: .relaxed)
        guard share != Int.max, lastSequence - lastSnapshotSequence >= Int64(share / 2),
              Int64(committedSequence.load(ordering: .acquiring)) >= lastSnapshotSequence else { return }
        let now = ActiveFence.nowMs()
        guard now - lastSnapshotAtMs >= AppHost.checkpointSpacingMs else { return }
        takeSnapshot()
    }

    /// Flow control towards the passive: before forwarding `adding` more events, wait while the events
    /// since the last committed snapshot would exceed the passive's share (checkpointing meanwhile).
    /// Gives up after the link's stall limit (the link then detaches a passive that reads nothing).
    func holdForPassive(_ link: EventSyncClient, adding: Int) {
        let share = passiveShareEvents.load(ordering: .relaxed)
        guard share != Int.max else { return }
        var waitedMs = 0
        while lastSequence + Int64(adding) - Int64(committedSequence.load(ordering: .acquiring)) > Int64(share) {
            guard waitedMs < link.stallLimitMs, fence.isOpen, !discarding.load(ordering: .relaxed), link.isAttached else { return }
            if lastSequence > lastSnapshotSequence, Int64(committedSequence.load(ordering: .acquiring)) >= lastSnapshotSequence,
               ActiveFence.nowMs() - lastSnapshotAtMs >= AppHost.checkpointSpacingMs {
                takeSnapshot()
            }
            usleep(1_000)
            waitedMs += 1
        }
    }

    /// HA: tells the passive, at most every 2 ms and when it changed, how many outputs each sink is
    /// done with, so it forgets the outputs it keeps for a failover.
    func reportDelivered() {
        guard let syncLink, !sinkWriters.isEmpty else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - lastDeliveredReportNs >= 2_000_000 else { return }
        lastDeliveredReportNs = now
        var marks = ledger.counts
        for k in marks.indices { if let done = sinkDone[k] { marks[k] = deliveredBase[k] + Int64(done()) } }
        let generation = syncLink.generation.load(ordering: .relaxed)
        guard marks != lastDeliveredReport || generation != deliveredLinkGeneration else { return }
        if syncLink.forwardDelivered(app: app.name, watermarks: marks) {
            lastDeliveredReport = marks
            deliveredLinkGeneration = generation
        }
    }

}
