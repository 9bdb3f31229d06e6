import Atomics
import Dispatch
import Engine
import Foundation

/// The producing side of an engine ring for sources with many producers: HTTP requests handled
/// concurrently, in-memory publishers on other apps' engine threads.
///
/// `SPSCRing` allows one producer at a time; a lock serializes them (held only for one `tryPush`, so
/// it is never held while waiting for room). Each batch pushed gets a ticket (1, 2, 3, …), so a
/// producer can wait until the consumer released it (`releaseAcks(through:)`, HA: the passive holds
/// it).
///
/// A full ring refuses: the caller decides how long to wait (`pushWaiting`, `pushAsync`) and what to
/// do at the limit; nothing here grows.
public final class SharedIngestRing: @unchecked Sendable {
    public let ring: SPSCRing<IngestBatch>
    public let doorbell: Doorbell
    private let lock = NSLock()
    /// Under `lock`.
    private var ticketsPushed: UInt64 = 0
    private let ticketsReleased = ManagedAtomic<UInt64>(0)

    public init(ring: SPSCRing<IngestBatch>, doorbell: Doorbell) {
        self.ring = ring
        self.doorbell = doorbell
    }

    /// Pushes once; returns the batch's ticket, or nil when the ring is full.
    public func tryPush(streamIndex: Int, batch: EventBatch) -> UInt64? {
        lock.lock()
        let ticket = ticketsPushed + 1
        let pushed = ring.tryPush(IngestBatch(streamIndex: streamIndex, batch: batch, ackTicket: ticket))
        if pushed { ticketsPushed = ticket }
        lock.unlock()
        doorbell.ring()  // also when full: the consumer may be parked on a stale view
        return pushed ? ticket : nil
    }

    /// Pushes, waiting (on this thread, with `Backoff`) up to `timeoutMs` for room. Returns the ticket
    /// and the nanoseconds spent waiting, or nil when the ring stayed full (or `giveUp` turned true).
    public func pushWaiting(streamIndex: Int, batch: EventBatch, timeoutMs: Int,
                            giveUp: () -> Bool = { false }) -> (ticket: UInt64, waitedNs: UInt64)? {
        if let ticket = tryPush(streamIndex: streamIndex, batch: batch) { return (ticket, 0) }
        let start = DispatchTime.now().uptimeNanoseconds
        let deadline = start + UInt64(max(0, timeoutMs)) * 1_000_000
        var backoff = Backoff()
        while true {
            backoff.pause()
            if let ticket = tryPush(streamIndex: streamIndex, batch: batch) {
                return (ticket, DispatchTime.now().uptimeNanoseconds - start)
            }
            if giveUp() || DispatchTime.now().uptimeNanoseconds >= deadline { return nil }
        }
    }

    /// Pushes from an async context, sleeping (not blocking a thread) up to `timeoutMs` for room.
    /// Returns the ticket and the nanoseconds spent waiting, or nil when the ring stayed full.
    public func pushAsync(streamIndex: Int, batch: EventBatch, timeoutMs: Int) async -> (ticket: UInt64, waitedNs: UInt64)? {
        if let ticket = tryPush(streamIndex: streamIndex, batch: batch) { return (ticket, 0) }
        let start = DispatchTime.now().uptimeNanoseconds
        let deadline = start + UInt64(max(0, timeoutMs)) * 1_000_000
        var sleepUs: UInt64 = 50
        while true {
            try? await Task.sleep(nanoseconds: sleepUs * 1_000)
            sleepUs = min(sleepUs * 2, SharedIngestRing.asyncSleepMaxUs)
            if let ticket = tryPush(streamIndex: streamIndex, batch: batch) {
                return (ticket, DispatchTime.now().uptimeNanoseconds - start)
            }
            if Task.isCancelled || DispatchTime.now().uptimeNanoseconds >= deadline { return nil }
        }
    }

    /// Longest sleep between two tries of `pushAsync` and `awaitRelease`.
    static let asyncSleepMaxUs: UInt64 = 2_000

    /// Marks every ticket up to `ticket` released (any thread; tickets only move forward).
    public func releaseAcks(through ticket: UInt64) {
        var current = ticketsReleased.load(ordering: .relaxed)
        while current < ticket {
            let (exchanged, original) = ticketsReleased.compareExchange(expected: current, desired: ticket, ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }

    /// Whether `ticket` was released.
    public func isReleased(_ ticket: UInt64) -> Bool { ticketsReleased.load(ordering: .acquiring) >= ticket }

    /// Waits (sleeping) until `ticket` is released, `timeoutMs` passed or `giveUp` turned true;
    /// returns whether it was released.
    public func awaitRelease(_ ticket: UInt64, timeoutMs: Int, giveUp: @Sendable () -> Bool = { false }) async -> Bool {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, timeoutMs)) * 1_000_000
        var sleepUs: UInt64 = 100
        while !isReleased(ticket) {
            if giveUp() || Task.isCancelled || DispatchTime.now().uptimeNanoseconds >= deadline { return false }
            try? await Task.sleep(nanoseconds: sleepUs * 1_000)
            sleepUs = min(sleepUs * 2, SharedIngestRing.asyncSleepMaxUs)
        }
        return true
    }
}
