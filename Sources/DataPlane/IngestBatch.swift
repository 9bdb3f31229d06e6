import Engine

/// A decoded batch on its way from a reactor thread to an app's engine thread.
public struct IngestBatch: Sendable {
    /// The app stream the events are for (from the source's `SourceChannel`).
    public var streamIndex: Int
    public var batch: EventBatch
    public init(streamIndex: Int, batch: EventBatch) {
        self.streamIndex = streamIndex
        self.batch = batch
    }
}
