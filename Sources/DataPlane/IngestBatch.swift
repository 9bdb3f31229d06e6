import Engine

/// A decoded batch on its way from a reactor thread to an app's engine thread.
public struct IngestBatch: Sendable {
    /// The app stream the events are for (from the source's `SourceChannel`).
    public var streamIndex: Int
    public var batch: EventBatch
    /// This batch's place in its listener's push order (1, 2, 3, …; 0 when not from a listener).
    /// With `TCPSourceOptions.ackRelease == .onRelease`, acks covering it wait until the consumer calls
    /// `TCPSourceListener.releaseAcks(through:)` with a ticket at least this one (HA: once the passive
    /// holds the batch).
    public var ackTicket: UInt64
    /// Acknowledged framing: the publisher whose batches this one completes, and the highest batch
    /// sequence of it whose events have all been handed on with this batch or before (0, 0: none).
    /// The cluster remembers it (snapshots, the passive's queue) so that a batch resent after a
    /// failover is recognised and skipped.
    public var publisherId: UInt64
    public var publisherSeq: UInt64
    public init(streamIndex: Int, batch: EventBatch, ackTicket: UInt64 = 0, publisherId: UInt64 = 0, publisherSeq: UInt64 = 0) {
        self.streamIndex = streamIndex
        self.batch = batch
        self.ackTicket = ackTicket
        self.publisherId = publisherId
        self.publisherSeq = publisherSeq
    }
}
