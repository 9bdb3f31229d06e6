import DataPlane
import Engine
import Foundation
import Logging

/// A Tandem node: reads its configuration, deploys every Siddhi app of its apps folder, serves the
/// REST API, health, metrics and status page (``ApiServer``), and stops cleanly. Standalone, or one
/// node of a two-node HA cluster (`deployment.config type: ha`, see docs/ha.md), where a
/// control-plane thread decides the role and only the active node opens ports.
public final class TandemNode {
    public let config: DeploymentConfig
    public let appsDirectory: String
    private let logger: Logger
    private let environment: [String: String]
    private let mailbox = ControlMailbox()
    private let board: NodeStatusBoard
    private var standalone: StandaloneController?
    private var controller: HAController?
    private var api: ApiServer?
    private var deployed: [String] = []
    /// The wso2event receiver every app's `@source(type='wso2event')` shares (nil: disabled).
    private let databridge: DatabridgeReceiver?
    /// The users and certificate every app's http sources check and serve.
    private let httpSecurity: HTTPSourceSecurity

    /// - Parameter environment: where `TANDEM_ADMIN_USER` / `TANDEM_ADMIN_PASSWORD` are read.
    public init(config: DeploymentConfig, appsDirectory: String? = nil, logger: Logger,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.config = config
        self.appsDirectory = appsDirectory ?? config.tandem.appsDirectory
        self.logger = logger
        self.environment = environment
        databridge = DatabridgeNode.receiver(config: config, environment: environment, logger: logger)
        httpSecurity = HTTPSourceSecurity.node(config, environment: environment)
        TandemMetrics.bootstrap()
        let ha = config.deployment.mode == .ha && config.cluster.enabled
        board = NodeStatusBoard(NodeStatus(
            nodeId: config.nodeId, mode: ha ? "ha" : "standalone", role: ha ? "starting" : "standalone",
            ioBackend: IOBackend.resolve(config.tandem.ioBackend).backend.rawValue, version: BuildInfo.current().tandem))
    }

    /// Names of the apps deployed at start.
    public var deployedApps: [String] { deployed }

    /// The port the HTTP endpoint listens on, once it does (nil when disabled or not bound).
    public var apiPort: Int? { api?.boundPort }

    /// Deploys every `.siddhi` file in the apps folder. An app that does not compile or cannot open
    /// its ports is reported and skipped; the others run. Then starts the HTTP endpoint (a port that
    /// cannot be bound is logged; the node runs without it). Throws only if the folder is unreadable.
    public func start() throws(DeployError) {
        let info = BuildInfo.current()
        logger.info("tandem \(info.tandem) node '\(config.nodeId)' starting: \(config.deployment.mode.rawValue), jemalloc \(info.jemalloc ?? "absent"), liburing \(info.liburing), io backend \(IOBackend.resolve(config.tandem.ioBackend).backend.rawValue)")
        switch config.persistence.store {
        case .file(let directory):
            logger.info("persistence: file store under \(directory)/, every \(config.persistence.intervalMs) ms")
        case .database(let datasource, let table):
            logger.info("persistence: database store \(datasource).\(table), every \(config.persistence.intervalMs) ms")
        }
        let ha = config.deployment.mode == .ha && config.cluster.enabled
        if config.deployment.mode == .ha && !ha {
            logger.warning("deployment.config type ha without cluster.config enabled: running standalone")
        }

        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: appsDirectory)
                .filter { $0.hasSuffix(".siddhi") }.sorted()
        } catch {
            throw DeployError(app: appsDirectory, message: "cannot read the apps folder: \(error.localizedDescription)")
        }
        if files.isEmpty { logger.warning("no .siddhi files in \(appsDirectory)") }
        let table = AppTable(appsDirectory: appsDirectory, logger: logger)
        var pending: [AppHost] = []
        for file in files {
            let path = (appsDirectory as NSString).appendingPathComponent(file)
            do {
                let source = try String(contentsOfFile: path, encoding: .utf8)
                let app = try SiddhiApp.compile(source: source, fileName: path)
                guard table[app.name] == nil else {
                    logger.error("\(path): an app named '\(app.name)' is already deployed; skipped")
                    continue
                }
                let host = try AppHost(app: app, settings: config.tandem, logger: logger, datasources: config.datasources, databridge: databridge,
                                        httpSecurity: httpSecurity)
                // HA: the controller builds its own hosts; this one only checked the app.
                table.insert(AppTable.Slot(app: app, source: source, path: path, host: ha ? nil : host))
                if !ha { pending.append(host) }
            } catch let errors as SiddhiCompileErrors {
                logger.error("app \(path) not deployed:\n\(errors.description)")
            } catch let error as DeployError {
                logger.error("app not deployed: \(error)")
            } catch {
                logger.error("app \(path) not deployed: \(error.localizedDescription)")
            }
        }
        deployed = table.names
        if ha {
            let controller = HAController(config: config, table: table, mailbox: mailbox, board: board, logger: logger, databridge: databridge,
                                           httpSecurity: httpSecurity)
            self.controller = controller
            controller.start()
            logger.info("node '\(config.nodeId)' deployed \(table.names.count) of \(files.count) apps in HA mode (role decided by the cluster)")
        } else {
            // Restore from the latest revisions before anything arrives, then start.
            if config.persistence.enabled { StandaloneController.restore(pending, config: config, logger: logger) }
            for host in pending {
                do {
                    try host.start()
                } catch {
                    logger.error("app not deployed: \(error)")
                    table[host.app.name]?.host = nil
                    table[host.app.name]?.error = error.message
                }
            }
            let standalone = StandaloneController(config: config, table: table, mailbox: mailbox, board: board, logger: logger, databridge: databridge,
                                           httpSecurity: httpSecurity)
            standalone.start()
            self.standalone = standalone
            logger.info("node '\(config.nodeId)' running \(table.hosts.count) of \(files.count) apps")
        }
        if config.api.enabled {
            let api = ApiServer(config: config, mailbox: mailbox, board: board, environment: environment, logger: logger)
            api.start()
            self.api = api
        } else {
            logger.notice("api: tandem.api.enabled is false: no REST API, /health, /metrics or status page")
        }
    }

    /// Stops the HTTP endpoint, then every app: sources first (no new input), then engines after
    /// they drain (HA: graceful handover).
    public func stop() {
        controller?.stop()
        controller = nil
        standalone?.stop()
        standalone = nil
        api?.stop()
        api = nil
        logger.info("node '\(config.nodeId)' stopped")
    }
}
