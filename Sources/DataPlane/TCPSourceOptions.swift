import Atomics

/// Settings of one TCP source listener.
public struct TCPSourceOptions: Sendable {
    public var host: String = "0.0.0.0"
    /// 0 picks a free port (read it from `TCPSourceListener.port` after `start`).
    public var port: Int
    /// The streams this port feeds, by channel id (the sources' `context`).
    public var channels: [SourceChannel]
    /// Events per batch handed to the engine, 1...`EventBatch.capacityMax`.
    public var batchSize: Int = 1024
    public var maxFrameBytes: Int = FrameDecoder.maxFrameBytesDefault
    public var maxStringBytes: Int = FrameDecoder.maxStringBytesDefault
    public var backend: IOBackend = .auto
    /// Connections beyond this are closed at once (logged).
    public var connectionsMax: Int = 1024
    /// How long `stop()` keeps waiting for ring room to hand on the last decoded events before it
    /// drops them (logged): bounded, so a consumer that stopped first cannot hang shutdown.
    public var stopDrainTimeoutMs: Int = 5000
    /// When acks (Tandem acknowledged framing) may go out.
    public var ackRelease: AckRelease = .onRingAccept
    /// Keepalive interval (docs/protocol.md): a connection whose hello asked for keepalives gets a
    /// record (ack or keepalive) at least this often while the listener runs; 0 sends none.
    public var keepaliveIntervalMs: Int = TCPSourceOptions.keepaliveIntervalMsDefault
    /// The HA lease (heartbeatInterval × heartbeatMaxRetry) carried in keepalives so a publisher
    /// knows how long a failover may take; 0: standalone or unknown.
    public var leaseMs: Int = 0
    /// Extra metric labels (the node adds `app`).
    public var metricDimensions: [(String, String)] = []

    /// When a listener acknowledges batches to their publishers.
    public enum AckRelease: Sendable, Equatable {
        /// As soon as the engine ring accepted them (standalone node).
        case onRingAccept
        /// Once also released by the consumer through `TCPSourceListener.releaseAcks(through:)` (HA: the
        /// passive holds them). Until then the publisher keeps them (its window is bounded), so a node
        /// that never releases stalls its acked publishers, never loses their events.
        case onRelease
    }

    public static let keepaliveIntervalMsDefault = 1000

    public init(host: String = "0.0.0.0", port: Int, channels: [SourceChannel]) {
        self.host = host
        self.port = port
        self.channels = channels
    }
}

/// Counters a listener keeps; read from any thread.
public final class TCPSourceStats: Sendable {
    public let connectionsAccepted = ManagedAtomic<Int>(0)
    /// Refused at `connectionsMax`.
    public let connectionsRejected = ManagedAtomic<Int>(0)
    /// Connections closed because of a malformed or oversized frame.
    public let framesRejected = ManagedAtomic<Int>(0)
    public let bytesReceived = ManagedAtomic<Int>(0)
    public let eventsDecoded = ManagedAtomic<Int>(0)
    public let batchesPublished = ManagedAtomic<Int>(0)
    /// Times the reactor found the engine ring full and stopped reading (backpressure).
    public let ringFullWaits = ManagedAtomic<Int>(0)
    /// Nanoseconds the reactor spent not reading because the engine ring was full.
    public let ringFullWaitNs = ManagedAtomic<Int>(0)
    /// Acknowledgements written to publishers (Tandem acknowledged framing; cumulative, so at most one
    /// per receive).
    public let acksSent = ManagedAtomic<Int>(0)
    /// Acknowledged frames a publisher resent after they had been accepted: skipped, acked again.
    public let duplicateBatchesSkipped = ManagedAtomic<Int>(0)
    /// Connections closed because a newer connection of their publisher id took over.
    public let connectionsSuperseded = ManagedAtomic<Int>(0)
    /// Times every provided receive buffer was in use (io_uring multishot): the kernel paused receiving.
    public let receiveBufferStalls = ManagedAtomic<Int>(0)
    /// Whether the io_uring reactor runs multishot receives into a provided-buffer ring.
    public let multishotReceive = ManagedAtomic<Bool>(false)
    /// Events dropped because the ring stayed full through `stopDrainTimeoutMs` during `stop()`.
    public let eventsDroppedAtStop = ManagedAtomic<Int>(0)
    public init() {}
}
