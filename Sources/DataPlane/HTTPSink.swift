import AsyncHTTPClient
import Atomics
import CShims
import Dispatch
import Engine
import Foundation
import Logging
import NIOCore

/// Settings of an `HTTPSink`.
public struct HTTPSinkOptions: Sendable {
    /// `publisher.url`: `http://host:port/path` (or https).
    public var url: String
    /// `method`: POST (default) or PUT.
    public var method: String = "POST"
    /// `headers`: extra request headers (Content-Type is `application/json` unless given).
    public var headers: [(String, String)] = []
    /// Batches waiting for the sender (a power of two); the bound on the sink's memory.
    public var queueCapacity: Int = 256
    public var fullPolicy: SinkFullPolicy = .block(timeoutMs: 1000)
    /// Queued batches are combined into one request up to this many events (a larger single batch
    /// still goes in one request).
    public var requestEventsMax: Int = 1024
    /// Sends tried again after a connection error, a timeout, 5xx, 408 or 429, before the events are
    /// dropped (counted). 0: no retry.
    public var retriesMax: Int = 5
    /// Pause before the first retry; doubles per retry up to `retryBackoffMaxMs`.
    public var retryBackoffMs: Int = 100
    public var retryBackoffMaxMs: Int = 5000
    /// Limit of one request, from sending to the end of the answer.
    public var requestTimeoutMs: Int = 10_000
    /// Limit of connecting (a receiver that refuses connections fails after this, then is retried).
    public var connectTimeoutMs: Int = 2000
    /// How long `stop()` keeps sending what is queued before dropping it (counted).
    public var stopDrainTimeoutMs: Int = 5000
    /// Extra metric labels (the node adds `app` and `stream`).
    public var metricDimensions: [(String, String)] = []

    public init(url: String) {
        self.url = url
    }
}

/// An http sink: posts an app stream's output to a URL as Siddhi-style JSON
/// (`{"event":{…}}`, or an array of them when several events go in one request).
///
/// Threads: `write` runs on the engine thread and only enqueues (`SinkQueue`: bounded, with the
/// full-queue policy). A sender thread of the sink's own takes what is queued (up to
/// `requestEventsMax` events per request), posts it with AsyncHTTPClient, and retries with
/// exponential backoff on connection errors, timeouts, 5xx, 408 and 429 (`retriesMax`); other 4xx
/// answers are not retried (the same body would fail again) and are dropped, logged with the answer.
/// Delivery is at least once: a request whose answer was lost is sent again.
public final class HTTPSink: @unchecked Sendable {
    public let options: HTTPSinkOptions
    public let queue: SinkQueue
    /// Events the receiver answered 2xx to.
    public let eventsSent = ManagedAtomic<Int>(0)
    /// Requests sent again.
    public let retries = ManagedAtomic<Int>(0)
    private let stopping = ManagedAtomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    private let logger: Logger
    private let metrics: SinkMetrics

    public init(options: HTTPSinkOptions, logger: Logger) {
        precondition(options.requestEventsMax >= 1 && options.retriesMax >= 0 && options.retryBackoffMs >= 0)
        self.options = options
        self.logger = logger
        metrics = SinkMetrics(kind: "http", dimensions: options.metricDimensions + [("url", options.url)])
        queue = SinkQueue(capacity: options.queueCapacity, policy: options.fullPolicy, name: "http sink \(options.url)",
                          metrics: metrics, logger: logger)
    }

    /// Engine thread: queues `batch` for sending.
    public func write(_ batch: EventBatch) { queue.write(batch) }

    /// Events this sink is done with (answered 2xx, or dropped), in output order but for drops when full.
    public var eventsDone: Int { queue.eventsDone.load(ordering: .acquiring) }

    /// Starts the sender thread. Call once.
    public func start() {
        precondition(thread == nil, "a sink starts once")
        let thread = Thread { [self] in
            tandem_set_thread_name("tandem-http-sink")
            runSender()
            finished.signal()
        }
        self.thread = thread
        thread.start()
    }

    /// Sends what is queued (for at most `stopDrainTimeoutMs`), drops the rest (counted). Idempotent.
    public func stop() {
        guard thread != nil, !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.wake()
        finished.wait()
        thread = nil
    }

    // MARK: Sender thread

    private func runSender() {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .milliseconds(Int64(options.connectTimeoutMs)),
                                      read: .milliseconds(Int64(options.requestTimeoutMs)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var stopDeadlineNs: UInt64?
        func pastStopDeadline() -> Bool {
            guard stopping.load(ordering: .acquiring) else { return false }
            let now = DispatchTime.now().uptimeNanoseconds
            let deadline = stopDeadlineNs ?? now + UInt64(options.stopDrainTimeoutMs) * 1_000_000
            stopDeadlineNs = deadline
            return now >= deadline
        }
        var body: [UInt8] = []
        var batches: [EventBatch] = []
        while true {
            batches.removeAll(keepingCapacity: true)
            var events = 0
            while events < options.requestEventsMax, let batch = queue.pop() {
                batches.append(batch)
                events += batch.count
            }
            guard events > 0 else {
                if stopping.load(ordering: .acquiring) { break }
                queue.wait(timeoutMs: 100) { !stopping.load(ordering: .relaxed) }
                continue
            }
            if pastStopDeadline() {
                queue.countDropped(events)
                logger.error("\(queue.name): stopping; \(events) events not sent")
                continue
            }
            body.removeAll(keepingCapacity: true)
            JSONEventWriter.append(batches, to: &body)
            send(body, events: events, client: client, pastStopDeadline: pastStopDeadline)
        }
        do {
            try client.syncShutdown()
        } catch {
            logger.warning("\(queue.name): closing the HTTP client: \(error)")
        }
    }

    /// Posts one body, retrying as the options say; counts the outcome.
    private func send(_ body: [UInt8], events: Int, client: HTTPClient, pastStopDeadline: () -> Bool) {
        var backoffMs = options.retryBackoffMs
        var attempt = 0
        while true {
            let outcome: String
            var retryable = true
            do {
                var request = try HTTPClient.Request(url: options.url, method: options.method == "PUT" ? .PUT : .POST)
                request.headers.add(name: "Content-Type", value: "application/json")
                for (name, value) in options.headers {
                    request.headers.replaceOrAdd(name: name, value: value)
                }
                request.body = .bytes(body)
                let response = try client.execute(request: request, deadline: .now() + .milliseconds(Int64(options.requestTimeoutMs))).wait()
                let status = Int(response.status.code)
                if (200..<300).contains(status) {
                    eventsSent.wrappingIncrement(by: events, ordering: .relaxed)
                    metrics.sent.increment(by: events)
                    queue.countSent(events)
                    return
                }
                let answer = response.body.map { String(buffer: $0) }.map { String($0.prefix(300)) } ?? ""
                outcome = "answered \(status)\(answer.isEmpty ? "" : ": \(answer.trimmingCharacters(in: .whitespacesAndNewlines))")"
                retryable = status >= 500 || status == 408 || status == 429
            } catch {
                outcome = "\(error)"
            }
            guard retryable, attempt < options.retriesMax, !pastStopDeadline() else {
                queue.countDropped(events)
                let why = retryable ? (attempt == options.retriesMax ? "after \(attempt) retries" : "while stopping") : "(not retried)"
                logger.error("\(queue.name): \(events) events dropped \(why): \(outcome)")
                return
            }
            attempt += 1
            retries.wrappingIncrement(ordering: .relaxed)
            metrics.retries.increment()
            logger.warning("\(queue.name): \(outcome); retry \(attempt) of \(options.retriesMax) in \(backoffMs) ms")
            // Sleep in small steps so that a stop is noticed.
            var slept = 0
            while slept < backoffMs, !pastStopDeadline() {
                let step = min(50, backoffMs - slept)
                usleep(UInt32(step) * 1000)
                slept += step
            }
            backoffMs = min(options.retryBackoffMaxMs, max(1, backoffMs * 2))
        }
    }
}
