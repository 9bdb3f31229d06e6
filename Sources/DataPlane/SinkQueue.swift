import Atomics
import Dispatch
import Engine
import Logging

/// What a sink's `write` does when its queue is full (the receiver is slower than the engine, or away).
public enum SinkFullPolicy: Sendable, Equatable {
    /// Wait for room up to `timeoutMs`, then drop the batch (counted). Backpressure onto the engine,
    /// bounded so a dead receiver cannot stall ingest for ever.
    case block(timeoutMs: Int)
    /// Drop the batch at once (counted): the engine never waits.
    case dropNewest
}

/// A sink's bounded queue of output batches, from the engine thread (`write`, the single producer)
/// to the sink's sender thread (`pop`, the single consumer), with the full-queue policy applied in
/// `write`, drops counted (`eventsDropped`, metrics) and logged at most once a second.
///
/// `EventBatch` is copy-on-write: queuing a batch does not copy it.
public final class SinkQueue: @unchecked Sendable {
    public let policy: SinkFullPolicy
    /// For logs: `http sink http://host:8080/path`.
    public let name: String
    /// Events dropped: full queue, last retry failed, or left at stop.
    public let eventsDropped = ManagedAtomic<Int>(0)
    /// Times `write` found the queue full.
    public let queueFullWaits = ManagedAtomic<Int>(0)
    /// Events the sink is done with: sent (written out, or taken into an acked publisher's window)
    /// or dropped. HA reports it to the passive, which then forgets the outputs it kept for them.
    public let eventsDone = ManagedAtomic<Int>(0)
    let metrics: SinkMetrics
    private let ring: SPSCRing<EventBatch>
    /// Rung by `write` (the sender sleeps on it) and by `stop`.
    let doorbell = Doorbell()
    private let logger: Logger
    /// Engine thread only: drops since the last log line.
    private var dropsUnlogged = 0
    private var lastDropLogNs: UInt64 = 0

    /// - Parameter capacity: batches, a power of two in 2…65536.
    public init(capacity: Int, policy: SinkFullPolicy, name: String, metrics: SinkMetrics, logger: Logger) {
        if case .block(let timeoutMs) = policy { precondition(timeoutMs >= 0) }
        ring = SPSCRing(capacity: capacity)
        self.policy = policy
        self.name = name
        self.metrics = metrics
        self.logger = logger
    }

    /// Engine thread: queues `batch`, applying the policy when the queue is full. Returns false when
    /// the batch was dropped.
    @discardableResult
    public func write(_ batch: EventBatch) -> Bool {
        guard !batch.isEmpty else { return true }
        if ring.tryPush(batch) {
            doorbell.ring()
            return true
        }
        queueFullWaits.wrappingIncrement(ordering: .relaxed)
        metrics.queueFull.increment()
        if case .block(let timeoutMs) = policy {
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutMs) * 1_000_000
            var backoff = Backoff()
            while DispatchTime.now().uptimeNanoseconds < deadline {
                doorbell.ring()
                backoff.pause()
                if ring.tryPush(batch) {
                    doorbell.ring()
                    return true
                }
            }
        }
        countDropped(batch.count)
        dropsUnlogged += batch.count
        let now = DispatchTime.now().uptimeNanoseconds
        if now - lastDropLogNs >= 1_000_000_000 {
            logger.error("\(name): queue full, dropped \(dropsUnlogged) events (receiver slow or away)")
            dropsUnlogged = 0
            lastDropLogNs = now
        }
        return false
    }

    /// Sender thread: the oldest queued batch, if any.
    public func pop() -> EventBatch? {
        let batch = ring.tryPop()
        if batch != nil { metrics.queueDepth.record(ring.count) }
        return batch
    }

    public var isEmpty: Bool { ring.isEmpty }

    /// Batches queued and not sent yet (any thread).
    public var count: Int { ring.count }

    /// Sender thread: sleeps until a `write` (or `wake`), at most `timeoutMs`.
    public func wait(timeoutMs: Int, while condition: () -> Bool) {
        doorbell.wait(timeoutMs: timeoutMs) { ring.isEmpty && condition() }
    }

    /// Sender thread: `events` were sent.
    public func countSent(_ events: Int) {
        eventsDone.wrappingIncrement(by: events, ordering: .releasing)
    }

    /// Wakes the sender (stop).
    public func wake() { doorbell.ring() }

    /// Counts events dropped anywhere in the sink (any thread).
    public func countDropped(_ events: Int) {
        eventsDropped.wrappingIncrement(by: events, ordering: .relaxed)
        eventsDone.wrappingIncrement(by: events, ordering: .releasing)
        metrics.dropped.increment(by: events)
    }
}
