import Engine

/// Why a source could not start taking input (a port in use, an address that does not resolve, an
/// in-memory topic whose shape differs).
public struct SourceOpenError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A source feeding one app's engine thread through a ring of its own: a TCP listener, an HTTP
/// server, an in-memory topic subscription.
///
/// The engine thread is the single consumer of `ring` and may hand used batches back through
/// `returns`. `openSource` and `closeSource` are called from one control thread; in HA only the active node opens
/// its sources (after the role is decided) and closes them when it stops being active.
public protocol IngestSource: AnyObject, Sendable {
    /// Decoded batches for the engine (this source produces, the engine consumes).
    var ring: SPSCRing<IngestBatch> { get }
    /// Used batches coming back from the engine for reuse; nil when the source does not reuse them.
    var returns: SPSCRing<EventBatch>? { get }
    /// What it is, for logs: `tcp 0.0.0.0:9892`, `http 0.0.0.0:8006`, `inMemory topic 'T'`.
    var label: String { get }
    /// Before `openSource`: publisher batches the cluster already holds (acknowledged TCP framing only).
    func seedPublishers(_ highest: [UInt64: UInt64])
    /// Starts taking input. May be called again after a failure (a port the old active still held).
    func openSource() throws(SourceOpenError)
    /// Stops taking input; what was already accepted still reaches the ring. Idempotent.
    func closeSource()
    /// Removes this source's metric series (its app is gone for good; call after `closeSource`).
    func releaseMetrics()
    /// Lets acknowledgements go for every batch whose `IngestBatch.ackTicket` is at most `ticket`
    /// (HA: once the passive holds them). Any thread.
    func releaseAcks(through ticket: UInt64)
}

extension IngestSource {
    public func seedPublishers(_ highest: [UInt64: UInt64]) {}
}

extension TCPSourceListener: IngestSource {
    public var label: String { "tcp \(options.host):\(options.port)" }

    public func openSource() throws(SourceOpenError) {
        do {
            try start()
        } catch {
            throw SourceOpenError("cannot open tcp source \(options.host):\(options.port): \(error)")
        }
    }

    public func closeSource() { stop() }

    public func releaseMetrics() { metrics.destroy() }
}
