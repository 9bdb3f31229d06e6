import Atomics
import Engine

/// `@source(type='inMemory', topic='T')`: receives what in-memory sinks of the node's apps publish
/// to topic `T`, through a ring of its own into the app's engine (bounded: the publisher's
/// `SinkFullPolicy` decides what happens when it is full).
///
/// Subscribed only while open: in HA only the active node's apps run, and events published while a
/// subscriber is closed (or not deployed yet) do not reach it, as in Siddhi.
public final class InMemorySource: IngestSource, @unchecked Sendable {
    public let topic: String
    public let streamIndex: Int
    public let schema: StreamSchema
    /// `app 'A' stream 'S'`, for messages.
    public let owner: String
    public let shared: SharedIngestRing
    public var ring: SPSCRing<IngestBatch> { shared.ring }
    public var returns: SPSCRing<EventBatch>? { nil }
    public var label: String { "inMemory topic '\(topic)'" }
    /// Events received into the ring.
    public let eventsReceived = ManagedAtomic<Int>(0)
    private let broker: InMemoryBroker
    private let isOpen = ManagedAtomic<Bool>(false)
    private let metrics: SourceMetrics

    public init(topic: String, streamIndex: Int, schema: StreamSchema, owner: String, ring: SPSCRing<IngestBatch>,
                doorbell: Doorbell, broker: InMemoryBroker = .shared, metricDimensions: [(String, String)] = []) {
        self.topic = topic
        self.streamIndex = streamIndex
        self.schema = schema
        self.owner = owner
        self.broker = broker
        shared = SharedIngestRing(ring: ring, doorbell: doorbell)
        metrics = SourceMetrics(kind: "inMemory", dimensions: metricDimensions + [("topic", topic)])
    }

    public func openSource() throws(SourceOpenError) {
        try broker.subscribe(self)
        isOpen.store(true, ordering: .releasing)
    }

    public func releaseMetrics() { metrics.destroy() }

    public func closeSource() {
        isOpen.store(false, ordering: .releasing)
        broker.unsubscribe(self)
    }

    public func releaseAcks(through ticket: UInt64) { shared.releaseAcks(through: ticket) }

    /// Publisher's thread: hands `batch` (of the topic's shape) to this app's engine, applying
    /// `policy` while the ring is full. Returns false when it was dropped.
    func deliver(_ batch: EventBatch, policy: SinkFullPolicy) -> Bool {
        guard isOpen.load(ordering: .acquiring) else { return false }
        let events = batch.schema === schema ? batch : batch.rebound(to: schema)
        let pushed: Bool
        switch policy {
        case .dropNewest:
            pushed = shared.tryPush(streamIndex: streamIndex, batch: events) != nil
            if !pushed { metrics.recordBackpressure(waitedNs: 0) }
        case .block(let timeoutMs):
            let result = shared.pushWaiting(streamIndex: streamIndex, batch: events, timeoutMs: timeoutMs) {
                !isOpen.load(ordering: .relaxed)
            }
            pushed = result != nil
            if let waited = result?.waitedNs, waited > 0 {
                metrics.recordBackpressure(waitedNs: waited)
            } else if result == nil {
                metrics.recordBackpressure(waitedNs: UInt64(timeoutMs) * 1_000_000)
            }
        }
        if pushed {
            eventsReceived.wrappingIncrement(by: batch.count, ordering: .relaxed)
            metrics.events.increment(by: batch.count)
        }
        return pushed
    }
}
