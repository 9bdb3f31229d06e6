import Atomics
import Dispatch
import Engine
import Logging

/// `@sink(type='inMemory', topic='T')`: publishes an app stream's output batches to topic `T` of
/// the node's `InMemoryBroker`; every in-memory source subscribed to it receives them.
///
/// `write` runs on the engine thread and pushes straight into each subscriber's engine ring (no
/// queue of its own). When a subscriber's ring is full, `policy` applies: wait up to the timeout,
/// then drop for that subscriber, or drop at once; drops are counted and logged at most once a second.
/// Publishes only while attached (the app's sources are open: in HA, on the active node).
public final class InMemorySink: @unchecked Sendable {
    public let topic: String
    public let schema: StreamSchema
    public let policy: SinkFullPolicy
    /// `app 'A' stream 'S'`, for messages.
    public let owner: String
    /// Events delivered, counted once per subscriber.
    public let eventsDelivered = ManagedAtomic<Int>(0)
    /// Events a full subscriber ring did not take, counted once per subscriber.
    public let eventsDropped = ManagedAtomic<Int>(0)
    private let broker: InMemoryBroker
    private let attached = ManagedAtomic<Bool>(false)
    private let logger: Logger
    private let metrics: SinkMetrics
    /// Engine thread only.
    private var dropsUnlogged = 0
    private var lastDropLogNs: UInt64 = 0

    public init(topic: String, schema: StreamSchema, policy: SinkFullPolicy, owner: String, logger: Logger,
                broker: InMemoryBroker = .shared, metricDimensions: [(String, String)] = []) {
        if case .block(let timeoutMs) = policy { precondition(timeoutMs >= 0) }
        self.topic = topic
        self.schema = schema
        self.policy = policy
        self.owner = owner
        self.logger = logger
        self.broker = broker
        metrics = SinkMetrics(kind: "inMemory", dimensions: metricDimensions + [("topic", topic)])
    }

    /// Joins the topic (refused when its shape differs). Idempotent.
    public func attach() throws(SourceOpenError) {
        try broker.register(publisher: self, topic: topic, schema: schema, who: owner)
        attached.store(true, ordering: .releasing)
    }

    public func detach() {
        attached.store(false, ordering: .releasing)
        broker.unregister(publisher: self, topic: topic)
    }

    /// Engine thread: delivers `batch` to every subscriber of the topic.
    public func write(_ batch: EventBatch) {
        guard !batch.isEmpty, attached.load(ordering: .acquiring) else { return }
        for subscriber in broker.subscribers(of: topic) {
            if subscriber.deliver(batch, policy: policy) {
                eventsDelivered.wrappingIncrement(by: batch.count, ordering: .relaxed)
                metrics.sent.increment(by: batch.count)
            } else {
                eventsDropped.wrappingIncrement(by: batch.count, ordering: .relaxed)
                metrics.dropped.increment(by: batch.count)
                metrics.queueFull.increment()
                dropsUnlogged += batch.count
                let now = DispatchTime.now().uptimeNanoseconds
                if now - lastDropLogNs >= 1_000_000_000 {
                    logger.error("inMemory sink topic '\(topic)' (\(owner)): \(subscriber.owner) is behind; dropped \(dropsUnlogged) events")
                    dropsUnlogged = 0
                    lastDropLogNs = now
                }
            }
        }
    }
}
