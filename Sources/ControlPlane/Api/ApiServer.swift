import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import ServiceLifecycle

/// The node's HTTP endpoint (Hummingbird 2 on its own event loops, never an engine thread): SI's
/// app-management API under `/siddhi-apps` behind basic authentication, plus the open read-only
/// endpoints (``NodeRoutes``). HTTPS when `tandem.api.tls` names a certificate and a key.
///
/// A port that cannot be bound (or a TLS file that cannot be read) is logged as an error and the
/// node runs without the endpoint: its events matter more, and a health check from outside then
/// fails, which is what an orchestrator acts on.
final class ApiServer: @unchecked Sendable {
    private let config: DeploymentConfig
    private let mailbox: ControlMailbox
    private let board: NodeStatusBoard
    private let environment: [String: String]
    private let logger: Logger
    private var running: (group: ServiceGroup, task: Task<Void, Never>)?
    private let lock = NSLock()
    private var port: Int?
    private let started = DispatchSemaphore(value: 0)

    init(config: DeploymentConfig, mailbox: ControlMailbox, board: NodeStatusBoard, environment: [String: String], logger: Logger) {
        self.config = config
        self.mailbox = mailbox
        self.board = board
        self.environment = environment
        self.logger = logger
    }

    /// The bound port, once listening.
    var boundPort: Int? {
        lock.lock(); defer { lock.unlock() }
        return port
    }

    /// Starts serving; returns once the port is bound or binding failed (at most 10 s).
    func start() {
        let api = config.api
        let users = ApiUsers(config: api, environment: environment)
        if !api.authEnabled {
            logger.warning("api: authentication is off (tandem.api.auth.enabled: false): anyone who reaches port \(api.port) can deploy and remove apps")
        } else if users.isEmpty {
            logger.warning("api: \(BasicAuthMiddleware<BasicRequestContext>.noUserMessage); until then /siddhi-apps answers 401 (/health, /metrics and the status page are open)")
        }
        let router = Router(context: BasicRequestContext.self)
        NodeRoutes(board: board, sampler: MetricsSampler()).register(on: router)
        let apps = router.group("siddhi-apps").add(middleware: BasicAuthMiddleware<BasicRequestContext>(users: users, enabled: api.authEnabled))
        AppRoutes(mailbox: mailbox, board: board).register(on: apps)

        var serverLogger = logger
        serverLogger.logLevel = max(logger.logLevel, .warning)  // no line per request
        let server: HTTPServerBuilder
        do {
            if let certificate = api.certificateFile, let key = api.keyFile {
                let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
                let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
                server = try .tls(.http1(), tlsConfiguration: tls)
            } else {
                server = .http1()
            }
        } catch {
            logger.error("api: HTTPS not started: cannot read tandem.api.tls files: \(error)")
            return
        }
        let scheme = api.tls ? "https" : "http"
        let app = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(api.host, port: api.port), serverName: "tandem"),
            onServerRunning: { [self] channel in
                let bound = channel.localAddress?.port ?? api.port
                lock.withLock { port = bound }
                logger.notice("api: listening on \(scheme)://\(api.host):\(bound) (REST /siddhi-apps, /health, /metrics, status page /)")
                started.signal()
            },
            logger: serverLogger)
        // In a ServiceGroup so that `stop` can shut it down gracefully (see there).
        let group = ServiceGroup(configuration: .init(services: [app], logger: serverLogger))
        let task = Task { [logger, started] in
            do {
                try await group.run()
            } catch {
                logger.error("api: not serving on \(api.host):\(api.port): \(error)")
            }
            started.signal()
        }
        running = (group, task)
        _ = started.wait(timeout: .now() + .seconds(10))
    }

    /// Stops serving: the port closes, requests in progress are answered, idle connections closed.
    /// Gracefully, as Hummingbird expects: cancelling its task instead ends the accept loop with a
    /// CancellationError that it logs as an error ("Waiting on child channel"), at every stop.
    /// Cancelled only when a request is still open after 5 s.
    func stop() {
        guard let (group, task) = running else { return }
        running = nil
        let done = DispatchSemaphore(value: 0)
        Task {
            await group.triggerGracefulShutdown()
            _ = await task.value
            done.signal()
        }
        if done.wait(timeout: .now() + .seconds(5)) == .timedOut {
            logger.warning("api: requests still open after 5 s; cancelling them")
            task.cancel()
            if done.wait(timeout: .now() + .seconds(5)) == .timedOut { logger.warning("api: server did not stop within 10 s") }
        }
    }
}
