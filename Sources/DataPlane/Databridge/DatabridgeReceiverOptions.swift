/// Settings of a node's databridge receiver (deployment.yaml `databridge.config` and
/// `tandem.databridge`; see docs/configuration.md).
public struct DatabridgeReceiverOptions: Sendable, Equatable {
    /// The four ports: nil closes one, 0 picks a free port (read `DatabridgeReceiver.boundPorts`).
    public var host: String = "0.0.0.0"
    public var thriftPort: Int? = 7611
    public var thriftTLSPort: Int? = 7711
    public var binaryPort: Int? = 9611
    public var binaryTLSPort: Int? = 9711
    /// PEM certificate chain and key of the TLS ports; without them the TLS ports stay closed.
    public var certificateFile: String?
    public var keyFile: String?
    /// Whether a login on a port without TLS is accepted (the password then crosses the network in
    /// plain text). Default false: such a login is refused with an error naming the TLS port.
    public var allowPlainTextCredentials = false
    /// Larger requests close their connection (`maxMessageBytes`, default 16 MiB). Bounds each
    /// connection's buffer.
    public var maxMessageBytes = 16 << 20
    /// Connections open at once beyond this are closed at accept (default 1 024).
    public var connectionsMax = 1_024
    /// A session unused this long expires (SI's `clientTimeoutMin`, default 30 minutes).
    public var sessionTimeoutMs = 30 * 60_000
    /// Sessions held at once (default 10 000; at the limit the least recently used is dropped).
    public var sessionsMax = 10_000
    /// Events per engine batch a bundle is cut into.
    public var batchEventsMax = 1_024
    /// How long a publish waits for room in an engine ring before it is refused.
    public var ringFullTimeoutMs = 30_000
    /// HA: how long a publish waits for the cluster to hold its events before it is answered with an
    /// error (the events were taken and may run; a resend may count them twice).
    public var ackTimeoutMs = 60_000

    public init() {}

    /// Whether TLS ports can be opened.
    public var tls: Bool { certificateFile != nil && keyFile != nil }
}
