import Atomics
import Engine
import Foundation

/// One app's `@source(type='wso2event', wso2.stream.id='name:version', @map(type='wso2event'))`
/// streams: while open, the node's `DatabridgeReceiver` routes the events of those stream ids into
/// this app's ring (and opens its ports if this is the first source open).
///
/// HA: like the other sources it is opened only on the active node, after the replay, and closed
/// when the node stops being active; with `ackRelease == .onRelease` a publish is answered only once
/// the consumer released its events (the passive holds them).
public final class DatabridgeSource: IngestSource, @unchecked Sendable {
    public let streams: [WSO2EventStream]
    public let receiver: DatabridgeReceiver
    public let shared: SharedIngestRing
    public let ackRelease: TCPSourceOptions.AckRelease
    public var ring: SPSCRing<IngestBatch> { shared.ring }
    public var returns: SPSCRing<EventBatch>? { nil }
    public var label: String { "wso2event " + streams.map(\.streamId).joined(separator: ",") }
    /// Who owns it, for errors (`app 'A'`).
    public let owner: String
    let metrics: SourceMetrics
    /// Set by `closeSource`: publishes waiting for room or a release give up.
    let closing = ManagedAtomic<Bool>(true)

    public init(streams: [WSO2EventStream], owner: String, receiver: DatabridgeReceiver, ring: SPSCRing<IngestBatch>,
                doorbell: Doorbell, ackRelease: TCPSourceOptions.AckRelease, metricDimensions: [(String, String)]) {
        self.streams = streams
        self.owner = owner
        self.receiver = receiver
        self.ackRelease = ackRelease
        shared = SharedIngestRing(ring: ring, doorbell: doorbell)
        metrics = SourceMetrics(kind: "wso2event", dimensions: metricDimensions)
    }

    public func openSource() throws(SourceOpenError) {
        closing.store(false, ordering: .releasing)
        do throws(SourceOpenError) {
            try receiver.attach(self)
        } catch {
            closing.store(true, ordering: .releasing)
            throw error
        }
    }

    public func closeSource() {
        closing.store(true, ordering: .releasing)
        receiver.detach(self)
    }

    public func releaseMetrics() { metrics.destroy() }

    public func releaseAcks(through ticket: UInt64) { shared.releaseAcks(through: ticket) }

    var isClosing: Bool { closing.load(ordering: .acquiring) }
}
