@testable import ControlPlane
import DataPlane
import Foundation
import Testing

@Suite struct ConfigTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The sections of the seed guide (WSO2 SI minimum HA on ECS), verbatim.
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

    func problems(_ yaml: String, environment: [String: String] = [:]) -> [String] {
        do {
            _ = try DeploymentConfig.parse(yaml: yaml, source: "test.yaml", environment: environment)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func seedGuideSectionsLoadAsWritten() throws {
        // The seed puts host/advertisedHost directly under deployment.config; SI ignores them there too.
        let loaded = try DeploymentConfig.parse(yaml: ConfigTests.seed, source: "seed.yaml")
        let c = loaded.config
        #expect(c.nodeId == "wso2-si-1")
        #expect(c.persistence.store == .database(datasource: "PERSISTENCE_DB", table: "PERSISTENCE_TABLE"))
        #expect(c.persistence.intervalMs == 60_000 && c.persistence.revisionsToKeep == 2)
        let db = try #require(c.datasources["WSO2_CLUSTER_DB"])
        #expect(db.url == JDBCURL(host: "wso2db.cxtsxcdgcayr.ap-south-1.rds.amazonaws.com", port: 3306, database: "clusterdb", parameters: ["useSSL": "false"]))
        #expect(db.username == "root" && db.password == "rootroot" && db.maxPoolSize == 50)
        #expect(c.cluster.enabled && c.cluster.groupId == "si" && c.cluster.datasource == "WSO2_CLUSTER_DB")
        #expect(c.cluster.heartbeatIntervalMs == 5000 && c.cluster.heartbeatMaxRetry == 5 && c.cluster.eventPollingIntervalMs == 5000)
        #expect(c.deployment.mode == .ha && c.deployment.eventSyncPort == 9893)
        #expect(loaded.warnings == ["deployment.config.host: unknown key; ignored", "deployment.config.advertisedHost: unknown key; ignored"])
    }

    @Test func defaults() throws {
        let c = try DeploymentConfig.parse(yaml: "", source: "empty.yaml").config
        #expect(c.deployment.mode == .standalone)
        #expect(c.persistence.enabled && c.persistence.store == .file(directory: "siddhi-app-persistence"))
        #expect(c.tandem.appsDirectory == "deployment/siddhi-files")
        #expect(c.tandem.ioBackend == .auto && c.tandem.ingestRingCapacity == 1024 && c.tandem.batchSize == 1024)
        #expect(!c.cluster.enabled)
    }

    @Test func wrongValuesNameTheirKeyPath() {
        #expect(problems("state.persistence:\n  intervalInMin: x\n") == [#"state.persistence.intervalInMin: expected a positive integer, got "x""#])
        let many = problems("""
            state.persistence:
              enabled: maybe
              revisionsToKeep: -1
              persistenceStore: com.example.MyStore
            tandem:
              dataPlane:
                ioBackend: kqueue
                ingestRingCapacity: 1000
            deployment.config:
              type: distributed
              eventSyncServer:
                port: 99999
            """)
        #expect(many == [
            #"state.persistence.enabled: expected true or false, got "maybe""#,
            #"state.persistence.revisionsToKeep: expected a positive integer, got "-1""#,
            #"state.persistence.persistenceStore: unknown persistence store "com.example.MyStore" (expected …persistence.FileSystemPersistenceStore or …persistence.DBPersistenceStore)"#,
            #"tandem.dataPlane.ioBackend: expected auto, io_uring or epoll, got "kqueue""#,
            "tandem.dataPlane.ingestRingCapacity: expected a power of two ≥ 2, got 1000",
            #"deployment.config.type: "distributed" deployment is not supported by Tandem (use ha)"#,
            #"deployment.config.eventSyncServer.port: expected a port number 1-65535, got "99999""#,
        ])
    }

    @Test func environmentPlaceholders() throws {
        let yaml = """
            wso2.carbon:
              id: node-${env:SUFFIX}-${sys:ZONE}
            tandem:
              appsDirectory: ${env:APPS}
            """
        let c = try DeploymentConfig.parse(yaml: yaml, source: "t", environment: ["SUFFIX": "a", "ZONE": "z1", "APPS": "/apps"]).config
        #expect(c.nodeId == "node-a-z1" && c.tandem.appsDirectory == "/apps")
        #expect(problems(yaml, environment: ["SUFFIX": "a", "ZONE": "z"]) == ["tandem.appsDirectory: environment variable APPS is not set"])
        let password = """
            wso2.datasources:
              dataSources:
                - name: DB
                  definition:
                    type: RDBMS
                    configuration:
                      jdbcUrl: jdbc:mysql://db/x
                      password: ${env:DB_PASSWORD}
            """
        #expect(problems(password) == ["wso2.datasources.dataSources[0].definition.configuration.password: environment variable DB_PASSWORD is not set"])
    }

    @Test func unknownKeysAndSectionsWarn() throws {
        let loaded = try DeploymentConfig.parse(yaml: """
            siddhi:
              extensions: []
            wso2.transport.http:
              x: 1
            tandem:
              dataPlan:
                ioBackend: epoll
            mystery: 1
            """, source: "t")
        #expect(loaded.warnings == [
            "siddhi: section not used by Tandem; ignored",
            "wso2.transport.http: section not used by Tandem; ignored",
            "tandem.dataPlan: unknown key; ignored",
            "mystery: unknown key; ignored",
        ])
    }

    @Test func yamlSyntaxErrorHasPosition() {
        let p = problems("tandem:\n  dataPlane: [unclosed\n  log: x\n")
        #expect(p.count == 1)
        #expect(p.first?.hasPrefix("test.yaml: YAML syntax error at line") == true, "\(p)")
    }

    @Test func datasourceReferencesMustExist() {
        #expect(problems("""
            state.persistence:
              persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore
              config:
                datasource: NOPE
            """) == [#"state.persistence.config.datasource: no datasource named "NOPE" in wso2.datasources.dataSources"#])
        #expect(problems("deployment.config:\n  type: ha\n") == ["deployment.config.type: ha needs cluster.config.enabled: true (the cluster coordinates through MySQL)"])
    }

    @Test func jdbcURLs() throws {
        #expect(try JDBCURL.parse("jdbc:mysql://h/db").get() == JDBCURL(host: "h", port: 3306, database: "db", parameters: [:]))
        #expect(try JDBCURL.parse("jdbc:mariadb://10.0.0.5:3307/c?useSSL=true&x=").get()
                == JDBCURL(host: "10.0.0.5", port: 3307, database: "c", parameters: ["useSSL": "true", "x": ""]))
        for bad in ["jdbc:h2:./database/WSO2_CLUSTER_DB", "jdbc:mysql://h:0/db", "jdbc:mysql://h:3306", "jdbc:mysql://a,b/db"] {
            if case .success = JDBCURL.parse(bad) { Issue.record("accepted \(bad)") }
        }
        if case .failure(let e) = JDBCURL.parse("jdbc:h2:./database/X") { #expect(e.message.contains("only MySQL/MariaDB")) }
    }

    @Test func shippedConfigurationFilesLoad() throws {
        let standalone = try DeploymentConfig.load(path: ConfigTests.packageRoot.appendingPathComponent("conf/deployment.yaml").path, environment: [:])
        #expect(standalone.warnings.isEmpty, "\(standalone.warnings)")
        #expect(standalone.config.deployment.mode == .standalone)
        let env = ["TANDEM_NODE_ID": "node-1", "TANDEM_DB_HOST": "db.internal", "TANDEM_DB_USER": "tandem",
                   "TANDEM_DB_PASSWORD": "secret", "TANDEM_ADVERTISED_HOST": "10.0.1.7"]
        let ha = try DeploymentConfig.load(path: ConfigTests.packageRoot.appendingPathComponent("conf/deployment-ha.yaml").path, environment: env)
        #expect(ha.warnings.isEmpty, "\(ha.warnings)")
        #expect(ha.config.nodeId == "node-1" && ha.config.deployment.mode == .ha && ha.config.deployment.advertisedHost == "10.0.1.7")
        #expect(ha.config.datasources["PERSISTENCE_DB"]?.endpoint.host == "db.internal")
        #expect(ha.config.datasources["PERSISTENCE_DB"]?.password == "secret")
    }

    @Test func missingFileIsAnError() {
        #expect(throws: ConfigError.self) { try DeploymentConfig.load(path: "/nonexistent/deployment.yaml", environment: [:]) }
    }
}
