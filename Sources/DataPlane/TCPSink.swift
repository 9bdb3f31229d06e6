import Atomics
import CShims
import Dispatch
import Engine
import Foundation
import Glibc
import Logging

/// Settings of a `TCPSink`.
public struct TCPSinkOptions: Sendable {
    /// What `write` does when the queue is full (shared by every sink with a queue).
    public typealias FullPolicy = SinkFullPolicy

    public var host: String
    public var port: Int
    /// The channel id frames carry: the receiving source's `context` (Tandem: the stream name;
    /// Siddhi's TCP source: `<App>/<Stream>`), the path of Siddhi's `url='tcp://host:port/<context>'`.
    public var channel: String
    /// Batches waiting for the sender thread (a power of two); the bound on sink memory.
    public var queueCapacity: Int = 256
    public var fullPolicy: FullPolicy = .block(timeoutMs: 1000)
    /// `.siddhi` (siddhi-io-tcp, what a Siddhi TCP source reads) or `.acked` (a Tandem node).
    public var framing: TCPPublisher.Framing = .siddhi
    /// Pause between reconnect attempts while the receiver is away.
    public var reconnectDelayMs: Int = 200
    /// How long `stop()` waits for queued batches to be sent before dropping them (counted).
    public var stopDrainTimeoutMs: Int = 5000
    /// Labels for the sink's metrics (the node adds `app` and `stream`).
    public var metricDimensions: [(String, String)] = []

    public init(host: String, port: Int, channel: String) {
        self.host = host
        self.port = port
        self.channel = channel
    }
}

/// Counters of a `TCPSink`; read from any thread.
public final class TCPSinkStats: Sendable {
    public let batchesSent = ManagedAtomic<Int>(0)
    public let eventsSent = ManagedAtomic<Int>(0)
    /// Events dropped by the full-queue policy, or left in the queue when `stop()` gave up (the
    /// sink queue's counter).
    public let eventsDropped: ManagedAtomic<Int>
    /// Times `write` found the queue full (the sink queue's counter).
    public let queueFullWaits: ManagedAtomic<Int>
    /// Successful connects after the first one.
    public let reconnects = ManagedAtomic<Int>(0)

    init(queue: SinkQueue) {
        eventsDropped = queue.eventsDropped
        queueFullWaits = queue.queueFullWaits
    }
}

/// A tcp sink: sends an app stream's output batches to a TCP receiver as siddhi-io-tcp frames
/// (siddhi-map-binary payloads), so a Siddhi node's tcp source or another Tandem node can consume
/// them; or in Tandem's acknowledged framing.
///
/// Threads: `write` runs on the engine thread and only enqueues (an SPSC ring of `queueCapacity`
/// batches; `EventBatch` is copy-on-write, so a batch is not copied). A sender thread of the sink's
/// own drains the queue into a `TCPPublisher`, connecting, and reconnecting with `reconnectDelayMs`
/// pauses, whenever the receiver is away; a batch whose send failed is sent again after the
/// reconnect (at least once; with `.acked` framing the receiver skips what it had).
///
/// A slow or absent receiver fills the queue; then `fullPolicy` applies: wait a bounded time (then
/// drop) or drop at once. Drops are counted in `stats.eventsDropped` and logged. Nothing grows
/// without bound.
public final class TCPSink: @unchecked Sendable {
    public let options: TCPSinkOptions
    public let stats: TCPSinkStats
    /// The bounded queue with the full-queue policy, drop counting and logging (shared with the http sink).
    private let queue: SinkQueue
    private let stopping = ManagedAtomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    private let logger: Logger

    public init(options: TCPSinkOptions, logger: Logger) {
        precondition((0...65535).contains(options.port), "port out of range")
        self.options = options
        self.logger = logger
        queue = SinkQueue(capacity: options.queueCapacity, policy: options.fullPolicy,
                          name: "tcp sink \(options.host):\(options.port)/\(options.channel)",
                          metrics: SinkMetrics(kind: "tcp", dimensions: options.metricDimensions
                                                + [("url", "tcp://\(options.host):\(options.port)/\(options.channel)")]),
                          logger: logger)
        stats = TCPSinkStats(queue: queue)
    }

    /// Starts the sender thread (it connects in the background). Call once.
    public func start() {
        precondition(thread == nil, "a sink starts once")
        let thread = Thread { [self] in
            tandem_set_thread_name("tandem-sink")
            runSender()
            finished.signal()
        }
        self.thread = thread
        thread.start()
    }

    /// Batches queued and not sent yet (any thread; at most `options.queueCapacity`).
    public var queueDepth: Int { queue.count }

    /// Events this sink is done with (sent or dropped), in output order but for drops when full.
    public var eventsDone: Int { queue.eventsDone.load(ordering: .acquiring) }

    /// Engine thread: queues `batch` for sending (applying `fullPolicy` when the queue is full).
    public func write(_ batch: EventBatch) { queue.write(batch) }

    /// Sends what is queued (waiting at most `stopDrainTimeoutMs`), then closes. Idempotent.
    public func stop() {
        guard thread != nil, !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.wake()
        finished.wait()
        thread = nil
    }

    // MARK: Sender thread

    private func runSender() {
        let publisher = TCPPublisher(host: options.host, port: options.port, sessionId: "tandem-sink",
                                     connectTimeoutMs: 2000, sendTimeoutMs: 10_000, framing: options.framing,
                                     reconnectTimeoutMs: 0)
        var connectedOnce = false
        var stopDeadlineNs: UInt64? = nil
        var pending: EventBatch? = nil  // popped, not yet sent
        func pastStopDeadline() -> Bool {
            guard stopping.load(ordering: .acquiring) else { return false }
            let now = DispatchTime.now().uptimeNanoseconds
            let deadline = stopDeadlineNs ?? now + UInt64(options.stopDrainTimeoutMs) * 1_000_000
            stopDeadlineNs = deadline
            return now >= deadline
        }
        while true {
            if pending == nil { pending = queue.pop() }
            guard let batch = pending else {
                if stopping.load(ordering: .acquiring) { break }
                queue.wait(timeoutMs: 100) { !stopping.load(ordering: .relaxed) }
                continue
            }
            if !publisher.isConnected {
                do {
                    try publisher.connect()
                    if connectedOnce { stats.reconnects.wrappingIncrement(ordering: .relaxed) }
                    connectedOnce = true
                    logger.info("tcp sink connected to \(options.host):\(options.port)/\(options.channel)")
                } catch {
                    if pastStopDeadline() { break }
                    usleep(UInt32(options.reconnectDelayMs) * 1000)
                    continue
                }
            }
            let seqBefore = publisher.nextBatchSeq
            do {
                try publisher.send(batch, channel: options.channel)
                stats.batchesSent.wrappingIncrement(ordering: .relaxed)
                stats.eventsSent.wrappingIncrement(by: batch.count, ordering: .relaxed)
                queue.metrics.sent.increment(by: batch.count)
                queue.countSent(batch.count)
                pending = nil
            } catch {
                // Acked framing: a batch the publisher took is in its window and is resent on reconnect.
                if publisher.nextBatchSeq != seqBefore {
                    stats.batchesSent.wrappingIncrement(ordering: .relaxed)
                    stats.eventsSent.wrappingIncrement(by: batch.count, ordering: .relaxed)
                    queue.metrics.sent.increment(by: batch.count)
                    queue.countSent(batch.count)
                    pending = nil
                }
                logger.warning("tcp sink \(options.host):\(options.port)/\(options.channel): \(error); reconnecting")
                publisher.close()
                if pastStopDeadline() { break }
            }
        }
        if options.framing == .acked && publisher.isConnected { try? publisher.flush(timeoutMs: options.stopDrainTimeoutMs) }
        publisher.finish(timeoutMs: 1000)
        var left = pending?.count ?? 0
        while let batch = queue.pop() { left += batch.count }
        if left > 0 {
            queue.countDropped(left)
            logger.error("tcp sink \(options.host):\(options.port)/\(options.channel): stopped with \(left) events unsent (receiver away)")
        }
    }
}
