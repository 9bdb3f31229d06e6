import DataPlane
import Foundation
import Logging

/// Everything a node reads from `deployment.yaml`.
///
/// The WSO2 Streaming Integrator sections (`wso2.carbon`, `state.persistence`, `wso2.datasources`,
/// `cluster.config`, `deployment.config`) are accepted as SI users write them, WSO2 class names
/// included; Tandem's own tuning lives under `tandem:`. Every key and its default:
/// docs/configuration.md. Read a file with ``load(path:environment:)``.
public struct DeploymentConfig: Sendable, Equatable {
    /// `wso2.carbon.id`: this node's id in the cluster. Default: the host name.
    public var nodeId: String
    /// `state.persistence`.
    public var persistence: PersistenceConfig
    /// `wso2.datasources.dataSources`, by name: every usable MySQL/MariaDB datasource.
    public var datasources: [String: DatasourceConfig]
    /// `cluster.config`.
    public var cluster: ClusterConfig
    /// `deployment.config`: standalone or two-node HA, and the event sync server.
    public var deployment: DeploymentModeConfig
    /// `tandem`: Tandem's own tuning.
    public var tandem: TandemSettings
    /// `tandem.api` (and SI's `wso2.transport.http` default listener): REST API, health, metrics.
    public var api: ApiConfig
    /// SI's `databridge.config` and `tandem.databridge`: the wso2event receiver ports.
    public var databridge = DatabridgeConfig()

    public init(nodeId: String, persistence: PersistenceConfig = PersistenceConfig(),
                datasources: [String: DatasourceConfig] = [:], cluster: ClusterConfig = ClusterConfig(),
                deployment: DeploymentModeConfig = DeploymentModeConfig(), tandem: TandemSettings = TandemSettings(),
                api: ApiConfig = ApiConfig()) {
        self.nodeId = nodeId
        self.persistence = persistence
        self.datasources = datasources
        self.cluster = cluster
        self.deployment = deployment
        self.tandem = tandem
        self.api = api
    }

    /// What a node runs with when it has no configuration file: node id = host name, standalone,
    /// state persisted every minute to files under `siddhi-app-persistence/` (2 revisions kept),
    /// apps from `deployment/siddhi-files/`, no datasources, clustering off.
    public static let defaults = DeploymentConfig(nodeId: ProcessInfo.processInfo.hostName)

    /// The datasource `state.persistence` writes to, when persistence is on and uses the DB store.
    public var persistenceDatasource: DatasourceConfig? {
        guard persistence.enabled, case .database(let name, _) = persistence.store else { return nil }
        return datasources[name]
    }

    /// The datasource cluster coordination uses, when clustering is on.
    public var clusterDatasource: DatasourceConfig? {
        guard cluster.enabled, let name = cluster.datasource else { return nil }
        return datasources[name]
    }
}

/// A parsed configuration with the warnings found on the way (sections and keys Tandem ignores).
public struct LoadedConfig: Sendable {
    /// The configuration: the file's values over ``DeploymentConfig/defaults``.
    public var config: DeploymentConfig
    /// One line each, in file order, e.g. `section wso2.metrics is not used by Tandem; ignored`.
    public var warnings: [String]

    public init(config: DeploymentConfig, warnings: [String]) {
        self.config = config
        self.warnings = warnings
    }
}

/// `state.persistence`: periodic snapshots of app state.
public struct PersistenceConfig: Sendable, Equatable {
    /// Where snapshots go.
    public enum Store: Sendable, Equatable {
        /// `…persistence.FileSystemPersistenceStore`: one folder per app under `directory`
        /// (`config.location`).
        case file(directory: String)
        /// `…persistence.DBPersistenceStore`: rows of `table` in the datasource named `datasource`
        /// (`config.datasource`, `config.table`).
        case database(datasource: String, table: String)
    }

    /// `enabled`: take snapshots periodically. Default true.
    public var enabled: Bool
    /// Time between snapshots: `intervalInMin` × 60 000, or `tandem.persistence.intervalInMs` when
    /// set. Default 60 000.
    public var intervalMs: Int
    /// `revisionsToKeep`: snapshots kept per app; older ones are deleted. Default 2.
    public var revisionsToKeep: Int
    /// `persistenceStore` with its `config`. Default: files under `siddhi-app-persistence`.
    public var store: Store
    /// `persistenceStore` as written (the WSO2 class name), for logs. Default ``defaultStoreClass``.
    public var storeClass: String

    /// The file store's folder when `config.location` is not given.
    public static let defaultDirectory = "siddhi-app-persistence"
    /// The DB store's table when `config.table` is not given.
    public static let defaultTable = "PERSISTENCE_TABLE"
    /// SI's file store class, the default `persistenceStore`.
    public static let defaultStoreClass = "org.wso2.carbon.streaming.integrator.core.persistence.FileSystemPersistenceStore"

    public init(enabled: Bool = true, intervalMs: Int = 60_000, revisionsToKeep: Int = 2,
                store: Store = .file(directory: PersistenceConfig.defaultDirectory),
                storeClass: String = PersistenceConfig.defaultStoreClass) {
        self.enabled = enabled
        self.intervalMs = intervalMs
        self.revisionsToKeep = revisionsToKeep
        self.store = store
        self.storeClass = storeClass
    }
}

/// One `wso2.datasources.dataSources[]` entry: an RDBMS datasource on MySQL or MariaDB.
///
/// The pool settings are HikariCP's, as SI writes them; Tandem keeps them for its own client where
/// they apply (see docs/configuration.md).
public struct DatasourceConfig: Sendable, Equatable {
    /// `name`: what `state.persistence.config.datasource` and
    /// `cluster.config.strategyConfig.datasource` refer to.
    public var name: String
    /// `description`, informational.
    public var description: String?
    /// `jndiConfig.name`, informational (Tandem has no JNDI).
    public var jndiName: String?
    /// `definition.type`: always `RDBMS`.
    public var type: String
    /// `definition.configuration.jdbcUrl`, parsed.
    public var url: JDBCURL
    /// `definition.configuration.username`. Default empty.
    public var username: String
    /// `definition.configuration.password`. Default empty. Give it as `${env:NAME}`.
    public var password: String
    /// `definition.configuration.driverClassName`, informational (Tandem uses libmysqlclient).
    public var driverClassName: String?
    /// `definition.configuration.maxPoolSize`: connections at most. Default 10.
    public var maxPoolSize: Int
    /// `definition.configuration.idleTimeout`: ms an idle connection is kept. Default 600 000.
    public var idleTimeoutMs: Int
    /// `definition.configuration.connectionTimeout`: ms to wait for a connection; also Tandem's
    /// read and write timeout on it. Default 30 000 (HikariCP's).
    public var connectionTimeoutMs: Int
    /// `definition.configuration.connectionTestQuery`: run to check a pooled connection.
    public var connectionTestQuery: String?
    /// `definition.configuration.validationTimeout`: ms a connection check may take. Default 5 000.
    public var validationTimeoutMs: Int
    /// `definition.configuration.isAutoCommit`. Default true.
    public var isAutoCommit: Bool

    public init(name: String, description: String? = nil, jndiName: String? = nil, type: String = "RDBMS", url: JDBCURL,
                username: String = "", password: String = "", driverClassName: String? = nil,
                maxPoolSize: Int = 10, idleTimeoutMs: Int = 600_000, connectionTimeoutMs: Int = 30_000,
                connectionTestQuery: String? = nil, validationTimeoutMs: Int = 5_000, isAutoCommit: Bool = true) {
        self.name = name
        self.description = description
        self.jndiName = jndiName
        self.type = type
        self.url = url
        self.username = username
        self.password = password
        self.driverClassName = driverClassName
        self.maxPoolSize = maxPoolSize
        self.idleTimeoutMs = idleTimeoutMs
        self.connectionTimeoutMs = connectionTimeoutMs
        self.connectionTestQuery = connectionTestQuery
        self.validationTimeoutMs = validationTimeoutMs
        self.isAutoCommit = isAutoCommit
    }

    /// The libmysqlclient endpoint for this datasource; its timeout is `connectionTimeoutMs` in
    /// whole seconds, rounded up.
    public var endpoint: MySQLEndpoint {
        MySQLEndpoint(host: url.host, port: url.port, user: username, password: password, database: url.database,
                      timeoutSec: UInt32(clamping: max(1, (connectionTimeoutMs + 999) / 1000)))
    }
}

/// `cluster.config`: coordination of the two nodes through a MySQL database.
public struct ClusterConfig: Sendable, Equatable {
    /// The only coordination strategy, SI's RDBMS one.
    public static let rdbmsStrategyClass = "org.wso2.carbon.cluster.coordinator.rdbms.RDBMSCoordinationStrategy"

    /// `enabled`. Default false.
    public var enabled: Bool
    /// `groupId`: nodes with the same group form one cluster. Default `sp` (SI's own default).
    public var groupId: String
    /// `coordinationStrategyClass`, as written. Default ``rdbmsStrategyClass``.
    public var coordinationStrategyClass: String
    /// `strategyConfig.datasource`: required when enabled.
    public var datasource: String?
    /// `strategyConfig.heartbeatInterval` (ms). Default 1 000.
    public var heartbeatIntervalMs: Int
    /// `strategyConfig.heartbeatMaxRetry`: missed heartbeats before a node is considered gone. Default 2.
    public var heartbeatMaxRetry: Int
    /// `strategyConfig.eventPollingInterval` (ms): how often membership changes are read. Default 1 000.
    public var eventPollingIntervalMs: Int

    public init(enabled: Bool = false, groupId: String = "sp",
                coordinationStrategyClass: String = ClusterConfig.rdbmsStrategyClass, datasource: String? = nil,
                heartbeatIntervalMs: Int = 1_000, heartbeatMaxRetry: Int = 2, eventPollingIntervalMs: Int = 1_000) {
        self.enabled = enabled
        self.groupId = groupId
        self.coordinationStrategyClass = coordinationStrategyClass
        self.datasource = datasource
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.heartbeatMaxRetry = heartbeatMaxRetry
        self.eventPollingIntervalMs = eventPollingIntervalMs
    }
}

/// `deployment.config`: how this node runs, and the event sync server of a two-node HA cluster.
public struct DeploymentModeConfig: Sendable, Equatable {
    /// `type`.
    public enum Mode: String, Sendable {
        /// No `deployment.config` section (or `type: standalone`): one node on its own.
        case standalone
        /// `type: ha`: two-node minimum HA (one active, one passive).
        case ha
    }

    /// `type`. Default standalone.
    public var mode: Mode
    /// `eventSyncServer.host`: address the passive's event sync server listens on. Default `0.0.0.0`.
    public var eventSyncHost: String
    /// `eventSyncServer.port`. Default 9893.
    public var eventSyncPort: Int
    /// `eventSyncServer.advertisedHost`: what the other node connects to (on ECS, the task's IP).
    /// Default: none (``eventSyncHost`` is used).
    public var advertisedHost: String?
    /// `eventSyncServer.advertisedPort`. Default: none (``eventSyncPort`` is used).
    public var advertisedPort: Int?
    /// `eventByteBufferQueueCapacity`: events the passive queues until a snapshot covers them.
    /// Default 20 000.
    public var eventByteBufferQueueCapacity: Int

    public init(mode: Mode = .standalone, eventSyncHost: String = "0.0.0.0", eventSyncPort: Int = 9893,
                advertisedHost: String? = nil, advertisedPort: Int? = nil, eventByteBufferQueueCapacity: Int = 20_000) {
        self.mode = mode
        self.eventSyncHost = eventSyncHost
        self.eventSyncPort = eventSyncPort
        self.advertisedHost = advertisedHost
        self.advertisedPort = advertisedPort
        self.eventByteBufferQueueCapacity = eventByteBufferQueueCapacity
    }

    /// Where the other node reaches this node's event sync server: the advertised host and port,
    /// else the listening ones.
    public var advertisedEndpoint: (host: String, port: Int) {
        (advertisedHost ?? eventSyncHost, advertisedPort ?? eventSyncPort)
    }
}

/// `tandem`: Tandem's own tuning (not an SI section).
public struct TandemSettings: Sendable, Equatable {
    /// The log levels `tandem.log.level` accepts, quietest last.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    /// The largest `dataPlane.batchSize` (an engine batch holds at most this many events).
    public static let maxBatchSize = 65_536

    /// `appsDirectory`: folder of `.siddhi` apps deployed at start. Default `deployment/siddhi-files`.
    public var appsDirectory: String
    /// `dataPlane.ioBackend`: `auto`, `io_uring` or `epoll`. Default auto.
    public var ioBackend: IOBackend
    /// `dataPlane.ingestRingCapacity`: batches between a source and its app's engine thread; a power
    /// of two. Default 1 024.
    public var ingestRingCapacity: Int
    /// `dataPlane.batchSize`: events per batch, at most ``maxBatchSize``. Default 1 024.
    public var batchSize: Int
    /// `dataPlane.maxFrameBytes`: larger frames close their connection. Default 16 MiB.
    public var maxFrameBytes: Int
    /// `dataPlane.keepaliveIntervalMs`: how often a tcp source sends a keepalive on a connection whose
    /// publisher asked for them (docs/protocol.md); 0 sends none. Default 1 000.
    public var keepaliveIntervalMs: Int = 1_000
    /// The HA lease (heartbeatInterval × max(2, heartbeatMaxRetry)) when clustering is on, else 0:
    /// derived from `cluster.config`, carried in keepalives so publishers know how long a failover takes.
    public var haLeaseMs: Int = 0
    /// `persistence.intervalInMs`, when given (it overrides `state.persistence.intervalInMin`).
    public var persistenceIntervalMs: Int?
    /// `log.level`, lower case, one of ``logLevels``. Default `info`.
    public var logLevel: String

    public init(appsDirectory: String = "deployment/siddhi-files", ioBackend: IOBackend = .auto,
                ingestRingCapacity: Int = 1_024, batchSize: Int = 1_024, maxFrameBytes: Int = 16 << 20,
                persistenceIntervalMs: Int? = nil, logLevel: String = "info") {
        self.appsDirectory = appsDirectory
        self.ioBackend = ioBackend
        self.ingestRingCapacity = ingestRingCapacity
        self.batchSize = batchSize
        self.maxFrameBytes = maxFrameBytes
        self.persistenceIntervalMs = persistenceIntervalMs
        self.logLevel = logLevel
    }

    /// ``logLevel`` as a swift-log level.
    public var loggerLevel: Logger.Level { Logger.Level(rawValue: logLevel) ?? .info }
}

extension DeploymentConfig {
    /// Reads and checks a deployment.yaml file.
    ///
    /// - Parameters:
    ///   - path: the file; a file that does not exist is an error (a node without a file uses
    ///     ``defaults`` instead of calling this).
    ///   - environment: where `${env:NAME}` / `${sys:NAME}` placeholders are looked up; by default
    ///     the process environment with the file ``environmentFileVariable`` names (``withEnvironmentFile(_:)``).
    /// - Returns: the configuration and the warnings (ignored sections and keys).
    /// - Throws: every problem of the file, each with its key path; or the file name, line and
    ///   column of a YAML syntax error.
    public static func load(path: String, environment: [String: String] = DeploymentConfig.withEnvironmentFile(ProcessInfo.processInfo.environment)) throws(ConfigError) -> LoadedConfig {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError(path: path, message: "configuration file not found")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(path: path, message: "cannot read configuration file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(path: path, message: "configuration file is not UTF-8 text")
        }
        return try parse(yaml: text, source: path, environment: environment)
    }

    /// Names the file where the container entrypoint (deploy/entrypoint.sh) writes the variables it
    /// derives (TANDEM_NODE_ID, TANDEM_ADVERTISED_HOST). It exports them to the node only, and
    /// `docker exec <task> tandem status` (ECS Exec) starts from the image's environment without
    /// them, so every command reads them from this file.
    public static let environmentFileVariable = "TANDEM_ENV_FILE"

    /// `environment` plus the `NAME=value` lines of the file its ``environmentFileVariable`` names,
    /// for names it does not set (what a process was given wins). No variable, or no readable file:
    /// `environment` as it is.
    public static func withEnvironmentFile(_ environment: [String: String]) -> [String: String] {
        guard let path = environment[environmentFileVariable], !path.isEmpty,
              let data = FileManager.default.contents(atPath: path) else { return environment }
        var merged = environment
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let eq = line.firstIndex(of: "="), eq != line.startIndex else { continue }
            let name = String(line[..<eq])
            if merged[name] == nil { merged[name] = String(line[line.index(after: eq)...]) }
        }
        return merged
    }

    /// Parses deployment.yaml text, as ``load(path:environment:)`` does a file; `source` names the
    /// text in syntax errors.
    public static func parse(yaml: String, source: String, environment: [String: String] = [:]) throws(ConfigError) -> LoadedConfig {
        var loader = ConfigLoader(source: source, environment: environment)
        return try loader.load(yaml)
    }
}
