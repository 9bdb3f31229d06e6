import Engine

/// One stream a TCP source feeds: frames whose channelId equals `channel` (or one of `aliases`)
/// decode into `schema`.
public struct SourceChannel: Sendable {
    /// The source's `context` option (Tandem's default: the stream name).
    public var channel: String
    /// More channel ids accepted for this stream, e.g. Siddhi's own default context
    /// `<AppName>/<StreamName>`, so a Siddhi TCP sink configured for a Siddhi source also matches.
    public var aliases: [String]
    /// The app stream index the batches are for (opaque to the data plane, copied into `IngestBatch`).
    public var streamIndex: Int
    public var schema: StreamSchema

    public init(channel: String, streamIndex: Int, schema: StreamSchema, aliases: [String] = []) {
        self.channel = channel
        self.aliases = aliases
        self.streamIndex = streamIndex
        self.schema = schema
    }

    /// Every channel id this stream answers to.
    public var channelIds: [String] { [channel] + aliases }
}
