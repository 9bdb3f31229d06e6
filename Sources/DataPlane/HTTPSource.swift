import Atomics
import Dispatch
import Engine
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import Metrics
import NIOSSL
import ServiceLifecycle

/// An HTTP source: a Hummingbird server on one host:port that takes Siddhi-style JSON events by
/// POST on each route's path and hands them to the engine through the app's ring.
///
/// A request is answered:
/// - 200 once its events are in the engine ring (all of them: one body is one batch, all or nothing);
///   with `ackRelease == .onRelease` (HA) once the consumer also released them, else 202 after
///   `ackTimeoutMs` (accepted, durability not confirmed);
/// - 401 with `WWW-Authenticate: Basic realm="tandem"` on a route with `basicAuth` when the request
///   has no credentials or wrong ones (checked before the body is read: nothing of it is taken);
/// - 400 with the reason (event index, attribute) for a body that is not valid JSON events;
/// - 404 for another path, 405 for another method, 413 over `maxBodyBytes`;
/// - 503 with `Retry-After` when the ring stayed full for `ringFullTimeoutMs`, when more than
///   `requestsInFlightMax` requests are being handled, while too many credentials are being
///   verified at once (see `HTTPBasicAuthenticator`), or while the source stops.
///
/// With `options.tls` the port serves https only (a plain http request on it fails its handshake).
///
/// Nothing is buffered beyond the bodies of the requests in flight (bounded by
/// `requestsInFlightMax` × `maxBodyBytes`) and the ring.
///
/// Threads: `openSource` and `closeSource` block the calling control-plane thread until the server runs or has
/// stopped; call them from a plain thread, not from a Swift concurrency task. Requests are handled
/// on Swift concurrency's pool and wait for ring room by sleeping, never by blocking a thread.
public final class HTTPSource: IngestSource, @unchecked Sendable {
    public let options: HTTPSourceOptions
    public let stats = HTTPSourceStats()
    public let shared: SharedIngestRing
    public var ring: SPSCRing<IngestBatch> { shared.ring }
    public var returns: SPSCRing<EventBatch>? { nil }
    public var label: String { "\(options.tls == nil ? "http" : "https") \(options.host):\(options.port)" }
    /// The bound port (differs from `options.port` when that was 0); valid after `openSource`.
    public var port: Int { lock.withLock { boundPort } }

    let logger: Logger
    let metrics: SourceMetrics
    let mappers: [String: (route: HTTPSourceRoute, mapper: JSONEventMapper)]
    private let statusCounters: [Int: Counter]
    let inFlight = ManagedAtomic<Int>(0)
    let closing = ManagedAtomic<Bool>(false)
    private let lock = NSLock()
    private var boundPort = 0
    private var running: (group: ServiceGroup, task: Task<Void, Never>, finished: DispatchSemaphore)?

    /// How long `openSource` waits for the server to bind, and `closeSource` for it to finish in-flight requests.
    static let stopTimeoutMs = 5_000

    public init(options: HTTPSourceOptions, ring: SPSCRing<IngestBatch>, doorbell: Doorbell, logger: Logger) {
        precondition(options.maxBodyBytes > 0 && options.requestsInFlightMax > 0 && options.ringFullTimeoutMs >= 0)
        self.options = options
        self.logger = logger
        shared = SharedIngestRing(ring: ring, doorbell: doorbell)
        var mappers: [String: (HTTPSourceRoute, JSONEventMapper)] = [:]
        for route in options.routes {
            precondition(mappers[route.path] == nil, "two routes on \(route.path)")
            mappers[route.path] = (route, JSONEventMapper(schema: route.schema, failOnMissingAttribute: route.failOnMissingAttribute))
        }
        self.mappers = mappers
        let dimensions = options.metricDimensions + [("port", String(options.port))]
        metrics = SourceMetrics(kind: "http", dimensions: dimensions)
        var counters: [Int: Counter] = [:]
        for code in [200, 202, 400, 401, 404, 405, 413, 503] {
            counters[code] = Counter(label: "tandem_http_source_requests_total", dimensions: dimensions + [("status", String(code))])
        }
        statusCounters = counters
    }

    public func releaseAcks(through ticket: UInt64) { shared.releaseAcks(through: ticket) }

    /// Binds and starts the server; returns once it listens (throws if it cannot bind).
    public func openSource() throws(SourceOpenError) {
        lock.lock()
        defer { lock.unlock() }
        guard running == nil else { return }
        closing.store(false, ordering: .releasing)
        final class StartState: @unchecked Sendable {
            let lock = NSLock()
            var port: Int?
            var error: (any Error)?
            let started = DispatchSemaphore(value: 0)
        }
        let state = StartState()
        let where_ = "\(options.host):\(options.port)"
        let server: HTTPServerBuilder
        if let tls = options.tls {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateFile).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: tls.keyFile, format: .pem)
                server = try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
            } catch {
                throw SourceOpenError("cannot open https source \(where_): cannot read the certificate \(tls.certificateFile) or the key \(tls.keyFile) (PEM): \(error)")
            }
        } else {
            server = .http1()
        }
        let app = Application(
            responder: HTTPSourceResponder(source: self),
            server: server,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "Tandem"),
            onServerRunning: { channel in
                state.lock.withLock { state.port = channel.localAddress?.port ?? 0 }
                state.started.signal()
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let finished = DispatchSemaphore(value: 0)
        let task = Task.detached {
            do {
                try await group.run()
            } catch {
                state.lock.withLock { state.error = error }
            }
            state.started.signal()  // a bind failure ends `run` before the server ran
            finished.signal()
        }
        if state.started.wait(timeout: .now() + .milliseconds(options.startTimeoutMs)) == .timedOut {
            task.cancel()
            finished.wait()
            throw SourceOpenError("http source \(where_) did not start within \(options.startTimeoutMs) ms")
        }
        let (port, error) = state.lock.withLock { (state.port, state.error) }
        guard let port, error == nil else {
            finished.wait()
            throw SourceOpenError("cannot open http source \(where_): \(error.map { "\($0)" } ?? "the server stopped")")
        }
        boundPort = port
        running = (group, task, finished)
        let paths = options.routes.map(\.path).joined(separator: ", ")
        logger.info("\(options.tls == nil ? "http" : "https") source listening on \(options.host):\(port), paths: \(paths)")
    }

    /// Stops taking requests: in-flight ones finish (those waiting for ring room or a release are
    /// answered 503), the port closes. Idempotent.
    public func releaseMetrics() { metrics.destroy() }

    public func closeSource() {
        lock.lock()
        defer { lock.unlock() }
        guard let (group, task, finished) = running else { return }
        running = nil
        closing.store(true, ordering: .releasing)
        Task.detached { await group.triggerGracefulShutdown() }
        if finished.wait(timeout: .now() + .milliseconds(HTTPSource.stopTimeoutMs)) == .timedOut {
            logger.warning("http source :\(boundPort): requests still open after \(HTTPSource.stopTimeoutMs) ms; cancelling them")
            task.cancel()
            finished.wait()
        }
        logger.info("http source :\(boundPort) stopped")
    }

    // MARK: Requests (Swift concurrency pool)

    func count(_ status: HTTPResponse.Status) {
        statusCounters[status.code]?.increment()
        switch status.code {
        case 200: stats.requestsAccepted.wrappingIncrement(ordering: .relaxed)
        case 503: stats.requestsUnavailable.wrappingIncrement(ordering: .relaxed)
        case 401:
            stats.requestsRejected.wrappingIncrement(ordering: .relaxed)
            stats.requestsUnauthorized.wrappingIncrement(ordering: .relaxed)
        case 400..<500: stats.requestsRejected.wrappingIncrement(ordering: .relaxed)
        default: break
        }
    }

    /// Maps a body and hands its events to the engine; the response says what happened.
    func handle(_ request: Request) async -> Response {
        guard let (route, mapper) = mappers[request.uri.path] else {
            return reply(.notFound, "no http source on path '\(request.uri.path)' (paths: \(options.routes.map(\.path).joined(separator: ", ")))")
        }
        guard request.method == .post else {
            var response = reply(.methodNotAllowed, "\(request.method) is not accepted: POST the events as JSON")
            response.headers[.allow] = "POST"
            return response
        }
        if route.basicAuth {
            guard let authenticator = options.authenticator else {
                return unauthorized("basic authentication is on and no user is known to this source")
            }
            switch await authenticator.check(authorization: request.headers[.authorization]) {
            case .allowed: break
            case .denied(let reason): return unauthorized(reason)
            case .busy: return unavailable("too many credentials being verified at once")
            }
        }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > options.maxBodyBytes {
            return reply(.contentTooLarge, "body of \(length) bytes is over the limit of \(options.maxBodyBytes) bytes")
        }
        guard !closing.load(ordering: .acquiring) else { return unavailable("the source is stopping") }
        let current = inFlight.loadThenWrappingIncrement(ordering: .acquiringAndReleasing)
        defer { inFlight.wrappingDecrement(ordering: .releasing) }
        guard current < options.requestsInFlightMax else {
            return unavailable("more than \(options.requestsInFlightMax) requests at once")
        }

        // Collect the body, at most maxBodyBytes (a chunked body has no length up front).
        var body: ByteBuffer?
        do {
            for try await chunk in request.body {
                if body == nil {
                    body = chunk
                } else {
                    var chunk = chunk
                    body!.writeBuffer(&chunk)
                }
                if body!.readableBytes > options.maxBodyBytes {
                    return reply(.contentTooLarge, "body is over the limit of \(options.maxBodyBytes) bytes")
                }
            }
        } catch {
            return reply(.badRequest, "cannot read the body: \(error)")
        }

        var batch = EventBatch(schema: route.schema)
        let timestamp = LogSink.nowMs()
        let mapped: Result<Int, JSONMapError> = (body ?? ByteBuffer()).withUnsafeReadableBytes { bytes in
            do throws(JSONMapError) {
                return .success(try mapper.map(bytes, timestamp: timestamp, into: &batch))
            } catch {
                return .failure(error)
            }
        }
        let events: Int
        switch mapped {
        case .success(let n): events = n
        case .failure(let error): return reply(.badRequest, error.description)
        }
        guard events > 0 else { return reply(.ok, "accepted 0 events") }

        guard let (ticket, waitedNs) = await shared.pushAsync(streamIndex: route.streamIndex, batch: batch, timeoutMs: options.ringFullTimeoutMs) else {
            stats.ringFullWaits.wrappingIncrement(ordering: .relaxed)
            metrics.recordBackpressure(waitedNs: UInt64(options.ringFullTimeoutMs) * 1_000_000)
            return unavailable("the engine is behind: its input ring stayed full for \(options.ringFullTimeoutMs) ms; nothing of this request was taken")
        }
        if waitedNs > 0 {
            stats.ringFullWaits.wrappingIncrement(ordering: .relaxed)
            metrics.recordBackpressure(waitedNs: waitedNs)
        }
        metrics.events.increment(by: events)
        stats.eventsAccepted.wrappingIncrement(by: events, ordering: .relaxed)
        if options.ackRelease == .onRelease {
            let released = await shared.awaitRelease(ticket, timeoutMs: options.ackTimeoutMs) { self.closing.load(ordering: .relaxed) }
            if !released {
                if closing.load(ordering: .acquiring) {
                    return unavailable("this node stopped being active before the events were held by the cluster; they may or may not have been run")
                }
                return reply(.accepted, "accepted \(events) events; not yet confirmed held by the cluster after \(options.ackTimeoutMs) ms")
            }
        }
        return reply(.ok, "accepted \(events) events")
    }

    func unavailable(_ reason: String) -> Response {
        var response = reply(.serviceUnavailable, reason)
        response.headers[.retryAfter] = String(options.retryAfterSeconds)
        return response
    }

    func unauthorized(_ reason: String) -> Response {
        var response = reply(.unauthorized, reason)
        response.headers[.wwwAuthenticate] = #"Basic realm="tandem", charset="UTF-8""#
        return response
    }

    func reply(_ status: HTTPResponse.Status, _ text: String) -> Response {
        count(status)
        if status.code >= 400 && status.code != 404 { logger.debug("http source :\(boundPort): \(status.code) \(text)") }
        return Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}

/// Hummingbird's entry into an `HTTPSource` (every path, every method: the source answers 404/405).
struct HTTPSourceResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let source: HTTPSource

    func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        await source.handle(request)
    }
}
