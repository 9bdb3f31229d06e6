import DataPlane
import Engine
import Foundation
import Logging

/// A Tandem node: reads its configuration, deploys every Siddhi app of its apps folder, and stops
/// cleanly. Standalone, or one node of a two-node HA cluster (`deployment.config type: ha`, see
/// docs/ha.md), where a control-plane thread decides the role and only the active node opens ports.
public final class TandemNode {
    public let config: DeploymentConfig
    public let appsDirectory: String
    private let logger: Logger
    private var hosts: [AppHost] = []
    private var controller: HAController?
    private var persistence: StandalonePersistence?

    public init(config: DeploymentConfig, appsDirectory: String? = nil, logger: Logger) {
        self.config = config
        self.appsDirectory = appsDirectory ?? config.tandem.appsDirectory
        self.logger = logger
    }

    /// Names of the deployed apps.
    public var deployedApps: [String] { hosts.map(\.app.name) }

    /// Deploys every `.siddhi` file in the apps folder. An app that does not compile or cannot open
    /// its ports is reported and skipped; the others run. Throws only if the folder is unreadable.
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
        var names = Set<String>()
        var haApps: [SiddhiApp] = []
        var pending: [AppHost] = []
        for file in files {
            let path = (appsDirectory as NSString).appendingPathComponent(file)
            do {
                let source = try String(contentsOfFile: path, encoding: .utf8)
                let app = try SiddhiApp.compile(source: source, fileName: path)
                guard names.insert(app.name).inserted else {
                    logger.error("\(path): an app named '\(app.name)' is already deployed; skipped")
                    continue
                }
                let host = try AppHost(app: app, settings: config.tandem, logger: logger)
                if ha {
                    haApps.append(app)  // the controller builds its own hosts; this one only checked the app
                } else {
                    pending.append(host)
                }
            } catch let errors as SiddhiCompileErrors {
                logger.error("app \(path) not deployed:\n\(errors.description)")
            } catch let error as DeployError {
                logger.error("app not deployed: \(error)")
            } catch {
                logger.error("app \(path) not deployed: \(error.localizedDescription)")
            }
        }
        if !ha {
            // Restore from the latest revisions before anything arrives, then start.
            if config.persistence.enabled { StandalonePersistence.restore(pending, config: config, logger: logger) }
            for host in pending {
                do {
                    try host.start()
                    hosts.append(host)
                } catch {
                    logger.error("app not deployed: \(error)")
                }
            }
            if config.persistence.enabled {
                let persistence = StandalonePersistence(config: config, hosts: hosts, logger: logger)
                persistence.start()
                self.persistence = persistence
            }
        }
        if ha {
            let controller = HAController(config: config, apps: haApps, logger: logger)
            self.controller = controller
            controller.start()
            logger.info("node '\(config.nodeId)' deployed \(haApps.count) of \(files.count) apps in HA mode (role decided by the cluster)")
        } else {
            logger.info("node '\(config.nodeId)' running \(hosts.count) of \(files.count) apps")
        }
    }

    /// Stops every app: sources first (no new input), then engines after they drain.
    public func stop() {
        controller?.stop()
        controller = nil
        if let persistence {
            persistence.stop { for host in hosts.reversed() { host.stop() } }
            self.persistence = nil
        } else {
            for host in hosts.reversed() { host.stop() }
        }
        hosts.removeAll()
        logger.info("node '\(config.nodeId)' stopped")
    }
}
