@testable import ControlPlane
import DataPlane
import Foundation
import Testing

/// deployment.yaml loading: the seed guide's sections as written, defaults, and the shipped files.
@Suite struct ConfigTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The deployment.yaml sections of the seed guide (WSO2 SI minimum HA on AWS ECS), verbatim:
    /// the two datasource snippets as the guide indents them under `dataSources:`, and the
    /// `deployment.config` table's parameters as a user following it writes them.
    static let seed = """
        wso2.carbon:
          id: wso2-si-1
        state.persistence:
          enabled: true
          intervalInMin: 1
          revisionsToKeep: 2
          persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore
          config:
            datasource: PERSISTENCE_DB
            table: PERSISTENCE_TABLE
        wso2.datasources:
          dataSources:
            - name: PERSISTENCE_DB
              description: The MySQL datasource used for persistence
              jndiConfig:
                name: jdbc/PERSISTENCE_DB
              definition:
                type: RDBMS
                configuration:
                  jdbcUrl: 'jdbc:mysql://wso2db.cxtsxcdgcayr.ap-south-1.rds.amazonaws.com:3306/persistencedb?useSSL=false'
                  username: root
                  password: rootroot
                  driverClassName: com.mysql.jdbc.Driver
                  maxPoolSize: 50
                  idleTimeout: 60000
                  connectionTestQuery: SELECT 1
                  validationTimeout: 30000
                  isAutoCommit: false
            - name: WSO2_CLUSTER_DB
              description: The MySQL datasource used for persistence
              jndiConfig:
                name: jdbc/WSO2_CLUSTER_DB
              definition:
                type: RDBMS
                configuration:
                  jdbcUrl: 'jdbc:mysql://wso2db.cxtsxcdgcayr.ap-south-1.rds.amazonaws.com:3306/clusterdb?useSSL=false'
                  username: root
                  password: rootroot
                  driverClassName: com.mysql.jdbc.Driver
                  maxPoolSize: 50
                  idleTimeout: 60000
                  connectionTestQuery: SELECT 1
                  validationTimeout: 30000
                  isAutoCommit: false
        cluster.config:
          enabled: true
          groupId:  si
          coordinationStrategyClass: org.wso2.carbon.cluster.coordinator.rdbms.RDBMSCoordinationStrategy
          strategyConfig:
            datasource: WSO2_CLUSTER_DB
            heartbeatInterval: 5000
            heartbeatMaxRetry: 5
            eventPollingInterval: 5000
        deployment.config:
          type: ha
          host: localhost
          advertisedHost: localhost
        """

    @Test func seedGuideSectionsLoadAsWritten() throws {
        let loaded = try DeploymentConfig.parse(yaml: Self.seed, source: "seed.yaml")
        let c = loaded.config
        #expect(c.nodeId == "wso2-si-1")

        #expect(c.persistence.enabled && c.persistence.intervalMs == 60_000 && c.persistence.revisionsToKeep == 2)
        #expect(c.persistence.store == .database(datasource: "PERSISTENCE_DB", table: "PERSISTENCE_TABLE"))
        #expect(c.persistence.storeClass == "org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore")

        #expect(Set(c.datasources.keys) == ["PERSISTENCE_DB", "WSO2_CLUSTER_DB"])
        let db = try #require(c.datasources["PERSISTENCE_DB"])
        #expect(db.url == JDBCURL(host: "wso2db.cxtsxcdgcayr.ap-south-1.rds.amazonaws.com", port: 3306, database: "persistencedb",
                                  parameters: ["useSSL": "false"], scheme: .mysql))
        #expect(db.description == "The MySQL datasource used for persistence" && db.jndiName == "jdbc/PERSISTENCE_DB" && db.type == "RDBMS")
        #expect(db.username == "root" && db.password == "rootroot" && db.driverClassName == "com.mysql.jdbc.Driver")
        #expect(db.maxPoolSize == 50 && db.idleTimeoutMs == 60_000 && db.connectionTestQuery == "SELECT 1")
        #expect(db.validationTimeoutMs == 30_000 && db.isAutoCommit == false && db.connectionTimeoutMs == 30_000)
        #expect(db.endpoint == MySQLEndpoint(host: "wso2db.cxtsxcdgcayr.ap-south-1.rds.amazonaws.com", port: 3306, user: "root",
                                             password: "rootroot", database: "persistencedb", timeoutSec: 30))
        #expect(c.datasources["WSO2_CLUSTER_DB"]?.url.database == "clusterdb")

        #expect(c.cluster.enabled && c.cluster.groupId == "si" && c.cluster.datasource == "WSO2_CLUSTER_DB")
        #expect(c.cluster.coordinationStrategyClass == "org.wso2.carbon.cluster.coordinator.rdbms.RDBMSCoordinationStrategy")
        #expect(c.cluster.heartbeatIntervalMs == 5000 && c.cluster.heartbeatMaxRetry == 5 && c.cluster.eventPollingIntervalMs == 5000)
        #expect(c.tandem.haLeaseMs == 25_000, "the lease keepalives announce: heartbeat × maxRetry")

        // The guide's table puts host/advertisedHost straight under deployment.config; they are used
        // as eventSyncServer's, with a note.
        #expect(c.deployment.mode == .ha && c.deployment.eventSyncPort == 9893)
        #expect(c.deployment.eventSyncHost == "localhost" && c.deployment.advertisedHost == "localhost")
        #expect(c.deployment.advertisedEndpoint == ("localhost", 9893))
        #expect(loaded.warnings == [
            "deployment.config.host: SI reads this as deployment.config.eventSyncServer.host; used as that",
            "deployment.config.advertisedHost: SI reads this as deployment.config.eventSyncServer.advertisedHost; used as that",
        ])
    }

    /// SI's documented `deployment.config` example (with eventSyncServer), on top of the seed.
    @Test func siDeploymentConfigExample() throws {
        let yaml = Self.seed.replacingOccurrences(of: """
            deployment.config:
              type: ha
              host: localhost
              advertisedHost: localhost
            """, with: """
            deployment.config:
              type: ha
              passiveNodeDetailsWaitTimeOutMillis: 300000
              passiveNodeDetailsRetrySleepTimeMillis: 500
              eventByteBufferQueueCapacity: 20000
              byteBufferExtractorThreadPoolSize: 5
              eventSyncServer:
                  host: 10.0.0.4
                  port: 9894
                  advertisedHost: si-1.internal
                  advertisedPort: 19894
                  bossThreads: 10
                  workerThreads: 10
              eventSyncClientPool:
                  maxActive: 10
                  maxTotal: 10
                  maxIdle: 10
                  maxWait: 60000
                  minEvictableIdleTimeMillis: 120000
            """)
        let loaded = try DeploymentConfig.parse(yaml: yaml, source: "si.yaml")
        let d = loaded.config.deployment
        #expect(d.mode == .ha && d.eventSyncHost == "10.0.0.4" && d.eventSyncPort == 9894)
        #expect(d.advertisedHost == "si-1.internal" && d.advertisedPort == 19894 && d.eventByteBufferQueueCapacity == 20_000)
        #expect(loaded.warnings == [
            "deployment.config.passiveNodeDetailsWaitTimeOutMillis: not used by Tandem (nodes find each other through cluster.config); ignored",
            "deployment.config.passiveNodeDetailsRetrySleepTimeMillis: not used by Tandem (nodes find each other through cluster.config); ignored",
            "deployment.config.byteBufferExtractorThreadPoolSize: not used by Tandem (the passive node applies synced events on each app's engine thread); ignored",
            "deployment.config.eventSyncServer.bossThreads: not used by Tandem (the sync server runs on the node's io reactor); ignored",
            "deployment.config.eventSyncServer.workerThreads: not used by Tandem (the sync server runs on the node's io reactor); ignored",
            "deployment.config.eventSyncClientPool: not used by Tandem (one connection per peer); ignored",
        ])
    }

    @Test func emptyFileGivesDefaults() throws {
        for yaml in ["", "# only a comment\n", "---\n"] {
            let loaded = try DeploymentConfig.parse(yaml: yaml, source: "empty.yaml")
            #expect(loaded.warnings.isEmpty)
            #expect(loaded.config == DeploymentConfig.defaults)
        }
    }

    @Test func defaultValues() {
        let c = DeploymentConfig.defaults
        #expect(c.nodeId == ProcessInfo.processInfo.hostName)
        #expect(c.persistence.enabled && c.persistence.intervalMs == 60_000 && c.persistence.revisionsToKeep == 2)
        #expect(c.persistence.store == .file(directory: "siddhi-app-persistence"))
        #expect(c.datasources.isEmpty)
        #expect(!c.cluster.enabled && c.cluster.groupId == "sp" && c.cluster.datasource == nil)
        #expect(c.cluster.heartbeatIntervalMs == 1000 && c.cluster.heartbeatMaxRetry == 2 && c.cluster.eventPollingIntervalMs == 1000)
        #expect(c.deployment.mode == .standalone && c.deployment.eventSyncHost == "0.0.0.0" && c.deployment.eventSyncPort == 9893)
        #expect(c.deployment.advertisedHost == nil && c.deployment.advertisedPort == nil && c.deployment.eventByteBufferQueueCapacity == 20_000)
        #expect(c.tandem.appsDirectory == "deployment/siddhi-files" && c.tandem.ioBackend == .auto)
        #expect(c.tandem.ingestRingCapacity == 1024 && c.tandem.batchSize == 1024 && c.tandem.maxFrameBytes == 16 << 20)
        #expect(c.tandem.persistenceIntervalMs == nil && c.tandem.logLevel == "info")
        #expect(c.tandem.keepaliveIntervalMs == 1000 && c.tandem.haLeaseMs == 0)
    }

    @Test func standaloneFileStoreAndTandemSection() throws {
        let c = try DeploymentConfig.parse(yaml: """
            wso2.carbon:
              id: edge-7
              name: WSO2 Streaming Integrator
              type: wso2-si
              ports:
                offset: 0
            state.persistence:
              enabled: false
              intervalInMin: 5
              revisionsToKeep: 3
              persistenceStore: org.wso2.carbon.stream.processor.core.persistence.FileSystemPersistenceStore
              config:
                location: /var/lib/tandem/snapshots
            tandem:
              appsDirectory: /srv/apps
              dataPlane:
                ioBackend: EPOLL
                ingestRingCapacity: 4096
                batchSize: 65536
                maxFrameBytes: 1048576
                keepaliveIntervalMs: 250
              log:
                level: Debug
            """, source: "t").config
        #expect(c.nodeId == "edge-7")
        #expect(!c.persistence.enabled && c.persistence.intervalMs == 300_000 && c.persistence.revisionsToKeep == 3)
        #expect(c.persistence.store == .file(directory: "/var/lib/tandem/snapshots"))
        #expect(c.tandem.appsDirectory == "/srv/apps" && c.tandem.ioBackend == .epoll && c.tandem.ingestRingCapacity == 4096)
        #expect(c.tandem.batchSize == 65_536 && c.tandem.maxFrameBytes == 1 << 20 && c.tandem.logLevel == "debug")
        #expect(c.tandem.keepaliveIntervalMs == 250)
    }

    @Test func tandemIntervalInMsOverridesIntervalInMin() throws {
        let c = try DeploymentConfig.parse(yaml: """
            state.persistence:
              intervalInMin: 3
            tandem:
              persistence:
                intervalInMs: 250
            """, source: "t").config
        #expect(c.persistence.intervalMs == 250 && c.tandem.persistenceIntervalMs == 250)
    }

    @Test func dbStoreDefaultTableAndSPClassNames() throws {
        let c = try DeploymentConfig.parse(yaml: """
            state.persistence:
              persistenceStore: org.wso2.carbon.stream.processor.core.persistence.DBPersistenceStore
              config:
                datasource: P
            wso2.datasources:
              dataSources:
                - name: P
                  definition:
                    type: RDBMS
                    configuration:
                      jdbcUrl: jdbc:mariadb://db/p
            """, source: "t").config
        #expect(c.persistence.store == .database(datasource: "P", table: "PERSISTENCE_TABLE"))
        #expect(c.datasources["P"]?.url.scheme == .mariadb)
        #expect(c.datasources["P"]?.maxPoolSize == 10 && c.datasources["P"]?.isAutoCommit == true)
    }

    @Test func shippedStandaloneFileLoadsWithoutWarnings() throws {
        let path = Self.packageRoot.appendingPathComponent("conf/deployment.yaml").path
        let loaded = try DeploymentConfig.load(path: path, environment: [:])
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        var expected = DeploymentConfig.defaults
        expected.nodeId = loaded.config.nodeId
        #expect(loaded.config == expected, "conf/deployment.yaml should spell out the defaults")
    }

    @Test func shippedHAFileLoadsWithoutWarnings() throws {
        let path = Self.packageRoot.appendingPathComponent("conf/deployment-ha.yaml").path
        let env = ["TANDEM_NODE_ID": "wso2-si-1", "TANDEM_DB_HOST": "db.internal", "TANDEM_DB_USER": "tandem",
                   "TANDEM_DB_PASSWORD": "secret", "TANDEM_ADVERTISED_HOST": "10.0.1.7"]
        let loaded = try DeploymentConfig.load(path: path, environment: env)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        let c = loaded.config
        #expect(c.nodeId == "wso2-si-1" && c.deployment.mode == .ha && c.deployment.advertisedHost == "10.0.1.7")
        #expect(c.persistence.store == .database(datasource: "PERSISTENCE_DB", table: "PERSISTENCE_TABLE"))
        #expect(c.cluster.enabled && c.cluster.datasource == "WSO2_CLUSTER_DB" && c.cluster.groupId == "si")
        #expect(c.datasources["PERSISTENCE_DB"]?.endpoint.host == "db.internal")
        #expect(c.datasources["WSO2_CLUSTER_DB"]?.username == "tandem" && c.datasources["WSO2_CLUSTER_DB"]?.password == "secret")

        // Without the environment, each missing variable is an error at its key.
        #expect(throws: ConfigError.self) { try DeploymentConfig.load(path: path, environment: [:]) }
    }

    @Test func missingFileIsAnError() {
        #expect(throws: ConfigError.self) { try DeploymentConfig.load(path: "/nonexistent/deployment.yaml", environment: [:]) }
        do {
            _ = try DeploymentConfig.load(path: "/nonexistent/deployment.yaml", environment: [:])
        } catch {
            #expect(error.description == "/nonexistent/deployment.yaml: configuration file not found")
        }
    }
}
