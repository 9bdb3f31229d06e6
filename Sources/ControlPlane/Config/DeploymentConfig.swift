import DataPlane
import Foundation

/// Everything a node reads from deployment.yaml. The WSO2 Streaming Integrator sections are
/// accepted as SI users write them; Tandem's own tuning lives under `tandem:`.
/// See docs/configuration.md for every key and its default.
public struct DeploymentConfig: Sendable {
    /// `wso2.carbon.id`: this node's id in the cluster (default: the host name).
    public var nodeId: String
    public var persistence: PersistenceConfig
    /// `wso2.datasources.dataSources`, by name.
    public var datasources: [String: DatasourceConfig]
    public var cluster: ClusterConfig
    public var deployment: DeploymentModeConfig
    public var tandem: TandemSettings

    /// Built-in defaults: standalone, file persistence under `siddhi-app-persistence/`, apps from
    /// `deployment/siddhi-files/`.
    public static var defaults: DeploymentConfig {
        DeploymentConfig(
            nodeId: ProcessInfo.processInfo.hostName,
            persistence: PersistenceConfig(),
            datasources: [:],
            cluster: ClusterConfig(),
            deployment: DeploymentModeConfig(),
            tandem: TandemSettings())
    }

    /// Reads and checks a deployment.yaml file (`${env:NAME}` substituted from `environment`).
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> LoadedConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(path: path, message: "cannot read configuration file: \(error.localizedDescription)")
        }
        return try parse(yaml: text, source: path, environment: environment)
    }

    /// Parses deployment.yaml text; `source` names it in syntax errors.
    public static func parse(yaml: String, source: String, environment: [String: String] = [:]) throws(ConfigError) -> LoadedConfig {
        var loader = ConfigLoader(source: source, environment: environment)
        return try loader.load(yaml)
    }
}

/// A parsed configuration and the warnings (ignored sections, unknown keys) found on the way.
public struct LoadedConfig: Sendable {
    public var config: DeploymentConfig
    public var warnings: [String]
    public init(config: DeploymentConfig, warnings: [String]) {
        self.config = config
        self.warnings = warnings
    }
}

/// `state.persistence`.
public struct PersistenceConfig: Sendable {
    public enum Store: Sendable, Equatable {
        /// FileSystemPersistenceStore: snapshots under `directory`.
        case file(directory: String)
        /// DBPersistenceStore: snapshots in `table` of datasource `datasource`.
        case database(datasource: String, table: String)
    }
    public var enabled = true
    /// `intervalInMin` × 60 000, or `tandem.persistence.intervalInMs` when set.
    public var intervalMs = 60_000
    public var revisionsToKeep = 2
    public var store = Store.file(directory: "siddhi-app-persistence")
}

/// One `wso2.datasources.dataSources[]` entry (RDBMS, MySQL/MariaDB).
public struct DatasourceConfig: Sendable {
    public var name: String
    public var url: JDBCURL
    public var username: String
    public var password: String
    public var maxPoolSize: Int
    public var connectionTimeoutMs: Int

    /// The libmysqlclient endpoint for this datasource.
    public var endpoint: MySQLEndpoint {
        MySQLEndpoint(host: url.host, port: url.port, user: username, password: password, database: url.database,
                      timeoutSec: UInt32(max(1, connectionTimeoutMs / 1000)))
    }
}

/// `cluster.config` (RDBMS coordination strategy).
public struct ClusterConfig: Sendable {
    public var enabled = false
    public var groupId = "sp"
    public var coordinationStrategyClass = "org.wso2.carbon.cluster.coordinator.rdbms.RDBMSCoordinationStrategy"
    public var datasource: String? = nil
    public var heartbeatIntervalMs = 1000
    public var heartbeatMaxRetry = 2
    public var eventPollingIntervalMs = 1000
}

/// `deployment.config`.
public struct DeploymentModeConfig: Sendable {
    public enum Mode: String, Sendable { case standalone, ha }
    public var mode = Mode.standalone
    public var eventSyncHost = "0.0.0.0"
    public var eventSyncPort = 9893
    public var advertisedHost: String? = nil
    public var advertisedPort: Int? = nil
    /// Passive's event queue bound (events).
    public var eventByteBufferQueueCapacity = 20_000
}

/// `tandem:` — Tandem's own tuning.
public struct TandemSettings: Sendable {
    public var appsDirectory = "deployment/siddhi-files"
    public var ioBackend = IOBackend.auto
    /// Batches per ingest ring (power of two).
    public var ingestRingCapacity = 1024
    /// Events per batch.
    public var batchSize = 1024
    public var maxFrameBytes = 16 << 20
    public var logLevel = "info"
}
