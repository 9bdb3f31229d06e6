import Atomics
import CShims
import Dispatch
import Engine
import Foundation
import Glibc
import Logging

/// A TCP source: accepts publishers on one port, decodes siddhi-io-tcp frames (and Tandem
/// acknowledged frames, whose acks it sends once their batches are in the ring) and publishes batches
/// into a bounded SPSC ring read by the app's engine thread.
///
/// Threading contract:
/// - `start()` and `stop()` are called from one control thread.
/// - Between them a reactor thread of its own (io_uring, or epoll) owns every socket, decoder and
///   batch; it is the single producer of `ring` and the single consumer of `returns`.
/// - The engine thread is the single consumer of `ring` (it waits on `doorbell`) and may hand used
///   batches back through `returns` (as the single producer), which keeps decoding allocation free.
///
/// When the ring is full the reactor stops reading sockets until there is room, so TCP flow control
/// pushes back on publishers: nothing is dropped and nothing is buffered without bound. A malformed
/// or oversized frame closes only the connection that sent it (logged with the reason); events of its
/// earlier, good frames are still published.
public final class TCPSourceListener: @unchecked Sendable {
    public let options: TCPSourceOptions
    /// Decoded batches for the engine (this listener produces, the engine consumes).
    public let ring: SPSCRing<IngestBatch>
    /// Rung after every push.
    public let doorbell: Doorbell
    /// Used batches coming back from the engine for reuse; nil when the engine keeps them.
    public let returns: SPSCRing<EventBatch>?
    public let stats = TCPSourceStats()
    /// `tandem_source_events_total` and the backpressure counters (see `SourceMetrics`).
    let metrics: SourceMetrics
    /// The backend actually running (after fallback); valid after `start()`.
    public private(set) var backend: IOBackend = .auto
    /// The bound port (differs from `options.port` when that was 0); valid after `start()`.
    public private(set) var port = 0

    let logger: Logger
    let stopping = ManagedAtomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    var listenFd: Int32 = -1
    /// The io_uring instance when `backend == .ioUring` (created in `start` so a refusal can still
    /// fall back to epoll before the socket is opened).
    var uring: UnsafeMutablePointer<io_uring>?
    private let pool: BatchPool
    /// Tickets of batches pushed into the ring (reactor thread), and released for acks (any thread).
    private var ticketsPushed: UInt64 = 0
    private let ticketsReleased = ManagedAtomic<UInt64>(0)
    /// Highest accepted batch per publisher, shared by every connection (resent batches are skipped).
    private let sequences = PublisherSequences()
    /// io_uring with multishot receive: the registered provided-buffer ring and its buffers (reactor
    /// thread only; nil when the kernel refused it and receives are one recv per connection).
    var bufferRing: UnsafeMutablePointer<io_uring_buf_ring>?
    var providedBuffers: UnsafeMutableRawPointer?
    /// Multishot receives of dropped connections whose final completion has not arrived yet: their
    /// buffers must not be freed before it does.
    var orphanedReceives = 0
    /// Live connections by id (reactor thread only).
    var connections: [UInt32: SourceConnection] = [:]
    private var nextConnectionId: UInt32 = 1
    /// Set when `stop()` first finds the ring full: after it, remaining batches are dropped (logged).
    private var stopDeadlineNs: UInt64?

    /// Timeout of one reactor wait: the longest `stop()` waits for the reactor to notice, and the
    /// longest a partial batch waits when a receive could not tell whether more data was pending.
    static let pollTimeoutMs = 50
    /// Id 0 marks the listening socket in reactor tags.
    static let listenerId: UInt32 = 0
    /// Marks the wake-up eventfd in reactor tags (`releaseAcks` from another thread).
    static let wakeId: UInt32 = .max
    /// Non-blocking eventfd that `releaseAcks` writes to so the reactor sends released acks at once
    /// (-1 when acks are not held for release).
    var wakeFd: Int32 = -1

    /// - Parameters:
    ///   - options: address, channels, batch size and limits.
    ///   - ring: where decoded batches go (capacity bounds what is in flight).
    ///   - doorbell: rung after each push; the engine thread waits on it.
    ///   - returns: optional ring through which the engine hands used batches back.
    ///   - logger: connection-level events (malformed frames at error, closes at debug).
    public init(options: TCPSourceOptions, ring: SPSCRing<IngestBatch>, doorbell: Doorbell,
                returns: SPSCRing<EventBatch>? = nil, logger: Logger) {
        precondition(options.connectionsMax >= 1 && options.connectionsMax <= 1 << 20)
        precondition(options.stopDrainTimeoutMs >= 0)
        precondition(options.keepaliveIntervalMs >= 0 && options.leaseMs >= 0)
        self.options = options
        self.ring = ring
        self.doorbell = doorbell
        self.returns = returns
        self.logger = logger
        pool = BatchPool(returns: returns)
        metrics = SourceMetrics(kind: "tcp", dimensions: options.metricDimensions + [("port", String(options.port))])
        // Fail fast on bad channel/limit settings (the decoder checks them again per connection).
        _ = FrameDecoder(channels: options.channels, batchSize: options.batchSize, maxFrameBytes: options.maxFrameBytes,
                         maxStringBytes: options.maxStringBytes)
    }

    deinit {
        if wakeFd >= 0 { close(wakeFd) }
    }

    /// Binds the port and starts the reactor thread. Throws if the port cannot be bound.
    /// Before `start`: publisher batches the cluster already holds (from a restored snapshot and
    /// the replayed queue); a publisher resending them after a failover is skipped, not counted twice.
    public func seedPublishers(_ highest: [UInt64: UInt64]) {
        precondition(thread == nil, "seed before start")
        for (id, seq) in highest { sequences.seed(publisherId: id, batchSeq: seq) }
    }

    public func start() throws(SocketError) {
        precondition(thread == nil && !stopping.load(ordering: .relaxed), "a listener starts once")
        let (resolved, reason) = IOBackend.resolve(options.backend)
        if let reason { logger.warning("tcp source \(options.host):\(options.port): \(reason)") }
        backend = resolved
        if backend == .ioUring {
            let uring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
            // COOP_TASKRUN (5.19+): completions are posted when the reactor enters the kernel anyway,
            // instead of interrupting it; older kernels refuse the flag, then plain setup.
            var rc = io_uring_queue_init(TCPSourceListener.uringEntries, uring, UInt32(IORING_SETUP_COOP_TASKRUN))
            if rc == -EINVAL { rc = io_uring_queue_init(TCPSourceListener.uringEntries, uring, 0) }
            if rc == 0 {
                self.uring = uring
            } else {
                uring.deallocate()
                logger.warning("tcp source \(options.host):\(options.port): io_uring_queue_init failed (\(String(cString: strerror(-rc))), errno \(-rc)); using epoll")
                backend = .epoll
            }
        }
        // io_uring wants a blocking socket (on an O_NONBLOCK one its accept completes with -EAGAIN
        // instead of waiting); epoll needs a non-blocking one.
        let fd: Int32, boundPort: Int
        do {
            (fd, boundPort) = try Socket.listen(host: options.host, port: options.port, nonBlocking: backend == .epoll)
        } catch {
            releaseURing()
            throw error
        }
        listenFd = fd
        port = boundPort
        let channels = options.channels.map(\.channel).joined(separator: ", ")
        logger.info("tcp source listening on \(options.host):\(boundPort) (\(backend.rawValue)), channels: \(channels)")
        if options.ackRelease == .onRelease {
            wakeFd = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        }
        let thread = Thread { [self] in
            tandem_set_thread_name("tandem-tcp-\(boundPort)")
            if backend == .ioUring { runIOUring() } else { runEpoll() }
            closeAll()
            releaseURing()
            finished.signal()
        }
        thread.name = "tandem-tcp-\(boundPort)"
        self.thread = thread
        thread.start()
    }

    /// Closes the port and every connection, hands decoded events on to the ring (waiting at most
    /// `stopDrainTimeoutMs` for room), and joins the reactor thread. Idempotent.
    public func stop() {
        guard thread != nil, !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
        thread = nil
    }

    private func releaseURing() {
        guard let uring else { return }
        io_uring_queue_exit(uring)
        uring.deallocate()
        self.uring = nil
    }

    // MARK: Connection handling shared by both reactors (reactor thread only)

    /// Registers an accepted socket; nil (socket closed) at the connection limit.
    func accepted(_ fd: Int32) -> SourceConnection? {
        guard connections.count < options.connectionsMax else {
            stats.connectionsRejected.wrappingIncrement(ordering: .relaxed)
            logger.warning("tcp source :\(port): connection limit \(options.connectionsMax) reached; closing new connection")
            close(fd)
            return nil
        }
        while nextConnectionId == TCPSourceListener.listenerId || nextConnectionId == TCPSourceListener.wakeId
                || connections[nextConnectionId] != nil { nextConnectionId &+= 1 }
        let id = nextConnectionId
        nextConnectionId &+= 1
        let decoder = FrameDecoder(channels: options.channels, batchSize: options.batchSize, maxFrameBytes: options.maxFrameBytes,
                                   maxStringBytes: options.maxStringBytes, pool: pool, sequences: sequences)
        let connection = SourceConnection(id: id, fd: fd, decoder: decoder)
        connections[id] = connection
        stats.connectionsAccepted.wrappingIncrement(ordering: .relaxed)
        logger.debug("tcp source :\(port): connection from \(connection.peer)")
        return connection
    }

    /// Handles `n` bytes received into the connection's receive area. Returns false when the
    /// connection was closed for a bad frame (the reactor must not use it again).
    func received(_ connection: SourceConnection, _ n: Int) -> Bool {
        stats.bytesReceived.wrappingIncrement(by: n, ordering: .relaxed)
        guard !connection.retired else { return true }  // superseded: closing, its bytes are not read
        do {
            try connection.received(n) { self.publish($0, $1) }
            afterDecode(connection)
            return true
        } catch {
            stats.framesRejected.wrappingIncrement(ordering: .relaxed)
            logger.error("tcp source :\(port): closing connection from \(connection.peer): \(error)")
            connection.decoder.flush(emit: publish)  // events of earlier, good frames still count
            afterDecode(connection)
            drop(connection)
            return false
        }
    }

    /// Handles bytes received into memory the connection does not own (an io_uring provided buffer),
    /// decoding complete frames in place. Returns false when the connection was closed for a bad frame.
    func received(_ connection: SourceConnection, bytes: UnsafeRawBufferPointer) -> Bool {
        stats.bytesReceived.wrappingIncrement(by: bytes.count, ordering: .relaxed)
        guard !connection.retired else { return true }
        do {
            try connection.consume(bytes) { self.publish($0, $1) }
            afterDecode(connection)
            return true
        } catch {
            stats.framesRejected.wrappingIncrement(ordering: .relaxed)
            logger.error("tcp source :\(port): closing connection from \(connection.peer): \(error)")
            connection.decoder.flush(emit: publish)
            afterDecode(connection)
            drop(connection)
            return false
        }
    }

    /// After frames were decoded: a keepalive hello is answered with a keepalive at once (so the
    /// publisher knows this node sends them), connections whose publisher id moved here are closed,
    /// and acks go out.
    private func afterDecode(_ connection: SourceConnection) {
        if let publisherId = connection.decoder.takeKeepaliveHello() {
            if connection.keepalivePublisher == nil { keepaliveConnections += 1 }  // a second hello counts once
            connection.keepalivePublisher = publisherId
            if options.keepaliveIntervalMs > 0 { connection.sendKeepalive(intervalMs: keepaliveInterval, leaseMs: leaseMs) }
        }
        for id in connection.decoder.takeSuperseded() where id != connection.id {
            guard let older = connections[id], !older.retired else { continue }
            stats.connectionsSuperseded.wrappingIncrement(ordering: .relaxed)
            logger.warning("tcp source :\(port): a publisher id moved from the connection from \(older.peer) to the newer one from \(connection.peer); closing the older")
            retire(older, .superseded)
        }
        acknowledge(connection)
    }

    /// Closes `connection` on its own initiative: hands on what it decoded, sends its due acks and a
    /// not-active record (if it asked for keepalives), then shuts the socket down. The reactor drops
    /// it when the receive side reports the end (an armed receive may still point into its buffer).
    private func retire(_ connection: SourceConnection, _ reason: FrameEncoder.NotActiveReason) {
        connection.decoder.flush(emit: publish)
        acknowledge(connection)
        connection.sendNotActive(reason)
        connection.retired = true
        shutdown(connection.fd, Int32(SHUT_RDWR))
    }

    /// Connections whose hello asked for keepalives (the keepalive scan is skipped when there are none).
    private var keepaliveConnections = 0
    private var keepaliveInterval: UInt32 { UInt32(clamping: options.keepaliveIntervalMs) }
    private var leaseMs: UInt32 { UInt32(clamping: options.leaseMs) }
    /// When the keepalive scan last ran (monotonic ms).
    private var keepaliveScanMs = 0

    /// Sends a keepalive on every opted-in connection that got no record for the keepalive interval.
    /// Called on every reactor wake-up (at least every `pollTimeoutMs`) and while waiting for ring
    /// room, so a node held back by its engine is not mistaken for a silent one.
    func sendKeepalives() {
        guard keepaliveConnections > 0, options.keepaliveIntervalMs > 0 else { return }
        let now = SourceConnection.nowMs()
        // Scanning at a tenth of the interval keeps the gap between records near the interval.
        guard now - keepaliveScanMs >= max(1, options.keepaliveIntervalMs / 10) else { return }
        keepaliveScanMs = now
        for connection in connections.values where connection.keepalivePublisher != nil && !connection.retired
            && now - connection.lastOutputMs >= options.keepaliveIntervalMs {
            connection.sendKeepalive(intervalMs: keepaliveInterval, leaseMs: leaseMs)
        }
    }

    /// Sends the connection's ack once every event it decoded is in the engine ring (the ring accepted
    /// the batches: acks are sent only after that). Writes never block the reactor.
    ///
    /// HA hook: with `options.ackRelease == .onRelease` an ack also waits until the consumer released
    /// the ticket of the last batch pushed when the ack became due (`releaseAcks(through:)`): the
    /// event-sync link calls it once the passive holds the batches up to that ticket.
    func acknowledge(_ connection: SourceConnection) {
        let duplicates = sequences.duplicatesSkipped
        if duplicates > 0 {
            stats.duplicateBatchesSkipped.wrappingIncrement(by: duplicates, ordering: .relaxed)
            sequences.duplicatesSkipped = 0
        }
        if let ack = connection.decoder.takeAck() { connection.awaitRelease(ack, ticket: ticketsPushed) }
        let released = options.ackRelease == .onRingAccept ? UInt64.max : ticketsReleased.load(ordering: .acquiring)
        let before = connection.acksSent
        connection.releaseAcks(through: released)
        connection.pumpAcks()
        stats.acksSent.wrappingIncrement(by: connection.acksSent - before, ordering: .relaxed)
    }

    /// Lets acks go out for every batch whose `IngestBatch.ackTicket` is at most `ticket` (only with
    /// `ackRelease == .onRelease`). Any thread; tickets only move forward. Wakes the reactor (an
    /// eventfd it watches), which sends them at once.
    public func releaseAcks(through ticket: UInt64) {
        var current = ticketsReleased.load(ordering: .relaxed)
        while current < ticket {
            let (exchanged, original) = ticketsReleased.compareExchange(expected: current, desired: ticket, ordering: .acquiringAndReleasing)
            if exchanged {
                if wakeFd >= 0 { _ = eventfd_write(wakeFd, 1) }  // the reactor sends them now, not at its next timeout
                return
            }
            current = original
        }
    }

    /// The peer closed (`error` nil) or the socket failed: hand on what was decoded, drop the rest.
    func closed(_ connection: SourceConnection, error: Int32?) {
        if let error {
            logger.info("tcp source :\(port): connection from \(connection.peer) failed: \(String(cString: strerror(error)))")
        } else if connection.partialBytes > 0 {
            logger.warning("tcp source :\(port): connection from \(connection.peer) closed mid-frame; \(connection.partialBytes) bytes of an incomplete frame dropped")
        } else {
            logger.debug("tcp source :\(port): connection from \(connection.peer) closed")
        }
        connection.decoder.flush(emit: publish)
        acknowledge(connection)  // a half-closed publisher still reads its last acks
        drop(connection)
    }

    private func drop(_ connection: SourceConnection) {
        connections[connection.id] = nil
        if connection.keepalivePublisher != nil { keepaliveConnections -= 1 }
        if connection.multishotArmed {
            // io_uring holds its own reference to the socket: shut it down so the peer sees the close
            // at once and the armed receive ends (its last completion arrives for an unknown id).
            orphanedReceives += 1
            shutdown(connection.fd, Int32(SHUT_RDWR))
            connection.multishotArmed = false
        }
        close(connection.fd)
    }

    /// Hands partial batches on so latency stays low when traffic is light: those of connections
    /// whose socket was found drained, or of every connection when `all`.
    func flushIdle(all: Bool) {
        for connection in connections.values {
            if (all || !connection.mayHaveMore) && connection.decoder.pendingEvents > 0 {
                connection.decoder.flush(emit: publish)
            }
            if connection.decoder.pendingAck != nil || connection.hasUnsentAck || connection.hasAcksAwaitingRelease { acknowledge(connection) }
        }
        sendKeepalives()
    }

    /// Pushes a batch to the engine ring, waiting (and so not reading any socket) while it is full.
    private func publish(_ channel: SourceChannel, _ batch: EventBatch) {
        assert(!batch.isEmpty)
        let handed = sequences.handed
        let item = IngestBatch(streamIndex: channel.streamIndex, batch: batch, ackTicket: ticketsPushed + 1,
                               publisherId: handed?.publisherId ?? 0, publisherSeq: handed?.batchSeq ?? 0)
        if !ring.tryPush(item) {
            // Backpressure: no socket is read until the engine makes room (counted, and timed).
            let waitStartNs = DispatchTime.now().uptimeNanoseconds
            defer {
                let waitedNs = DispatchTime.now().uptimeNanoseconds - waitStartNs
                stats.ringFullWaits.wrappingIncrement(ordering: .relaxed)
                stats.ringFullWaitNs.wrappingIncrement(by: Int(waitedNs), ordering: .relaxed)
                metrics.recordBackpressure(waitedNs: waitedNs)
            }
            var backoff = Backoff()
            while !ring.tryPush(item) {
                doorbell.ring()  // the consumer may be parked on a stale view
                if stopping.load(ordering: .relaxed) {
                    // One deadline for the whole stop, however many batches are still to hand on.
                    let now = DispatchTime.now().uptimeNanoseconds
                    let deadline = stopDeadlineNs ?? now + UInt64(options.stopDrainTimeoutMs) * 1_000_000
                    stopDeadlineNs = deadline
                    if now >= deadline {
                        stats.eventsDroppedAtStop.wrappingIncrement(by: batch.count, ordering: .relaxed)
                        logger.error("tcp source :\(port): engine ring still full after \(options.stopDrainTimeoutMs) ms while stopping; dropping \(batch.count) decoded events of '\(channel.channel)'")
                        return
                    }
                }
                sendKeepalives()  // held back by the engine, not gone: publishers must still hear from us
                backoff.pause()
            }
        }
        ticketsPushed += 1
        stats.eventsDecoded.wrappingIncrement(by: batch.count, ordering: .relaxed)
        metrics.events.increment(by: batch.count)
        stats.batchesPublished.wrappingIncrement(ordering: .relaxed)
        doorbell.ring()
    }

    private func closeAll() {
        for connection in connections.values {
            connection.decoder.flush(emit: publish)
            // The node stops serving this port: due acks, then "not active", so a publisher moves on
            // at once instead of waiting out its silence timeout.
            acknowledge(connection)
            if !connection.retired { connection.sendNotActive(.stopping) }
            TCPSourceListener.closeGently(connection.fd)
        }
        connections.removeAll()
        if listenFd >= 0 { close(listenFd) }
        listenFd = -1
        logger.info("tcp source :\(port) stopped")
    }

    /// Closes a socket so that what was written to it still arrives: FIN after the data, and the
    /// bytes the publisher sent that nobody will decode read away first (closing a socket with unread
    /// bytes resets the connection, and the peer may then lose the final acks and not-active record).
    static func closeGently(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 16 << 10)
        for _ in 0..<64 {  // bounded: a publisher still writing cannot hold the stop
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { break }
        }
        close(fd)
    }

    /// Reactor: consumes the wake-up eventfd's count (acks are then sent by `flushIdle`).
    func drainWake() {
        var value: eventfd_t = 0
        _ = eventfd_read(wakeFd, &value)
    }
}
