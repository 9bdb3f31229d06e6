@testable import ControlPlane
import Testing

/// Every problem names its key path; all problems of a file are reported together.
@Suite struct ConfigTestsErrors {
    /// The problems `yaml` produces, as printed (`path: message`), or [] when it loads.
    func problems(_ yaml: String, environment: [String: String] = [:]) -> [String] {
        do {
            _ = try DeploymentConfig.parse(yaml: yaml, source: "test.yaml", environment: environment)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func intervalInMinNotANumber() {
        #expect(problems("state.persistence:\n  intervalInMin: x\n") == [#"state.persistence.intervalInMin: expected a positive integer, got "x""#])
    }

    @Test(arguments: [
        ("state.persistence:\n  enabled: maybe", #"state.persistence.enabled: expected true or false, got "maybe""#),
        ("state.persistence:\n  intervalInMin: 0", #"state.persistence.intervalInMin: expected a positive integer, got "0""#),
        ("state.persistence:\n  intervalInMin: 1.5", #"state.persistence.intervalInMin: expected a positive integer, got "1.5""#),
        ("state.persistence:\n  revisionsToKeep: -1", #"state.persistence.revisionsToKeep: expected a positive integer, got "-1""#),
        ("state.persistence:\n  revisionsToKeep: [1, 2]", "state.persistence.revisionsToKeep: expected a single value, got a list"),
        ("state.persistence:\n  persistenceStore: com.example.MyStore",
         #"state.persistence.persistenceStore: unknown persistence store "com.example.MyStore" (Tandem supports org.wso2.carbon.streaming.integrator.core.persistence.FileSystemPersistenceStore and org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore)"#),
        ("state.persistence: 5", #"state.persistence: expected a mapping of keys to values, got "5""#),
        ("wso2.carbon:\n  id: ''", "wso2.carbon.id: expected a non-empty value"),
        ("cluster.config:\n  coordinationStrategyClass: org.wso2.carbon.cluster.coordinator.zookeeper.ZookeeperCoordinationStrategy",
         #"cluster.config.coordinationStrategyClass: unsupported coordination strategy "org.wso2.carbon.cluster.coordinator.zookeeper.ZookeeperCoordinationStrategy" (Tandem coordinates through MySQL: org.wso2.carbon.cluster.coordinator.rdbms.RDBMSCoordinationStrategy)"#),
        ("cluster.config:\n  strategyConfig:\n    heartbeatInterval: 1s", #"cluster.config.strategyConfig.heartbeatInterval: expected a positive integer, got "1s""#),
        ("cluster.config:\n  strategyConfig:\n    heartbeatMaxRetry: 0", #"cluster.config.strategyConfig.heartbeatMaxRetry: expected a positive integer, got "0""#),
        ("cluster.config:\n  strategyConfig:\n    eventPollingInterval: fast", #"cluster.config.strategyConfig.eventPollingInterval: expected a positive integer, got "fast""#),
        ("deployment.config:\n  type: distributed", #"deployment.config.type: "distributed" deployment is not supported by Tandem (use ha)"#),
        ("deployment.config:\n  type: active-active", #"deployment.config.type: expected ha, got "active-active""#),
        ("deployment.config:\n  eventSyncServer:\n    port: 99999", #"deployment.config.eventSyncServer.port: expected a port number 1-65535, got "99999""#),
        ("deployment.config:\n  eventSyncServer:\n    advertisedPort: http", #"deployment.config.eventSyncServer.advertisedPort: expected a port number 1-65535, got "http""#),
        ("deployment.config:\n  eventByteBufferQueueCapacity: none", #"deployment.config.eventByteBufferQueueCapacity: expected a positive integer, got "none""#),
        ("tandem:\n  appsDirectory:\n    - a", "tandem.appsDirectory: expected a single value, got a list"),
        ("tandem:\n  dataPlane:\n    ioBackend: kqueue", #"tandem.dataPlane.ioBackend: expected one of auto, io_uring, epoll, got "kqueue""#),
        ("tandem:\n  dataPlane:\n    ingestRingCapacity: 1000", "tandem.dataPlane.ingestRingCapacity: expected a power of two (2, 4, … 1024, …), got 1000"),
        ("tandem:\n  dataPlane:\n    batchSize: 65537", #"tandem.dataPlane.batchSize: expected an integer from 1 to 65536, got "65537""#),
        ("tandem:\n  dataPlane:\n    maxFrameBytes: 16MiB", #"tandem.dataPlane.maxFrameBytes: expected an integer from 1024 to 1073741824, got "16MiB""#),
        ("tandem:\n  persistence:\n    intervalInMs: -5", #"tandem.persistence.intervalInMs: expected a positive integer, got "-5""#),
        ("tandem:\n  log:\n    level: verbose", #"tandem.log.level: expected one of trace, debug, info, notice, warning, error, critical, got "verbose""#),
    ])
    func wrongValue(yaml: String, expected: String) {
        #expect(problems(yaml) == [expected])
    }

    @Test func everyProblemIsReportedInFileOrder() {
        let all = problems("""
            state.persistence:
              enabled: maybe
              revisionsToKeep: -1
            tandem:
              dataPlane:
                ioBackend: kqueue
            deployment.config:
              type: distributed
            """)
        #expect(all == [
            #"state.persistence.enabled: expected true or false, got "maybe""#,
            #"state.persistence.revisionsToKeep: expected a positive integer, got "-1""#,
            #"tandem.dataPlane.ioBackend: expected one of auto, io_uring, epoll, got "kqueue""#,
            #"deployment.config.type: "distributed" deployment is not supported by Tandem (use ha)"#,
        ])
        do {
            _ = try DeploymentConfig.parse(yaml: "state.persistence:\n  enabled: maybe\n  revisionsToKeep: -1\n", source: "t")
            Issue.record("accepted")
        } catch {
            #expect(error.description == """
                state.persistence.enabled: expected true or false, got "maybe"
                state.persistence.revisionsToKeep: expected a positive integer, got "-1"
                """)
        }
    }

    @Test func yamlSyntaxErrorHasFileLineAndColumn() throws {
        do {
            _ = try DeploymentConfig.parse(yaml: "tandem:\n  dataPlane: [unclosed\n  log: x\n", source: "conf/deployment.yaml")
            Issue.record("accepted broken YAML")
        } catch {
            let p = try #require(error.problems.first)
            #expect(error.problems.count == 1)
            #expect(p.path == "conf/deployment.yaml" && p.line == 3 && p.column != nil)
            #expect(p.description.hasPrefix("conf/deployment.yaml:3:"), "\(p)")
            #expect(p.message.hasPrefix("YAML syntax error: "), "\(p)")
        }
        do {
            _ = try DeploymentConfig.parse(yaml: "wso2.carbon:\n  id: a\n\tname: b\n", source: "tab.yaml")
            Issue.record("accepted a tab indent")
        } catch {
            #expect(error.problems.first?.line == 3, "\(error)")
        }
    }

    @Test func duplicateKeysAreAnError() {
        do {
            _ = try DeploymentConfig.parse(yaml: "state.persistence:\n  enabled: true\nstate.persistence:\n  enabled: false\n", source: "dup.yaml")
            Issue.record("accepted duplicate keys")
        } catch {
            #expect(error.problems.first?.message.contains("state.persistence appears more than once") == true, "\(error)")
            #expect(error.problems.first?.line != nil)
        }
    }

    @Test func topLevelMustBeAMapping() {
        #expect(problems("- a\n- b\n") == ["test.yaml: expected a mapping of sections (wso2.carbon:, state.persistence:, …), got a list"])
    }

    @Test func datasourceReferencesMustExistWhenTheFeatureIsEnabled() {
        #expect(problems("""
            state.persistence:
              persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore
              config:
                datasource: NOPE
            """) == [#"state.persistence.config.datasource: no datasource named "NOPE" in wso2.datasources.dataSources"#])
        #expect(problems("""
            state.persistence:
              persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore
            """) == ["state.persistence.config.datasource: DBPersistenceStore needs a datasource (a name from wso2.datasources.dataSources)"])
        #expect(problems("""
            cluster.config:
              enabled: true
              strategyConfig:
                datasource: WSO2_CLUSTER_DB
            """) == [#"cluster.config.strategyConfig.datasource: no datasource named "WSO2_CLUSTER_DB" in wso2.datasources.dataSources"#])
        #expect(problems("cluster.config:\n  enabled: true\n") == ["cluster.config.strategyConfig.datasource: cluster.config is enabled but names no datasource"])
        // Disabled features do not need their datasources.
        #expect(problems("""
            state.persistence:
              enabled: false
              persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore
              config:
                datasource: NOPE
            cluster.config:
              enabled: false
              strategyConfig:
                datasource: ALSO_NOPE
            """) == [])
    }

    @Test func haNeedsTheCluster() {
        #expect(problems("deployment.config:\n  type: ha\n") == ["deployment.config.type: ha needs cluster.config.enabled: true (the two nodes coordinate through MySQL)"])
    }

    @Test func datasourceProblemsOfAUsedDatasource() {
        let yaml = """
            state.persistence:
              persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore
              config:
                datasource: P
            wso2.datasources:
              dataSources:
                - name: P
                  definition:
                    type: RDBMS
                    configuration:
                      jdbcUrl: 'jdbc:postgresql://db:5432/p'
                      maxPoolSize: lots
                      isAutoCommit: sometimes
                - name: P
                  definition:
                    type: JNDI
            """
        #expect(problems(yaml) == [
            "wso2.datasources.dataSources[0].definition.configuration.jdbcUrl: only MySQL/MariaDB JDBC URLs (jdbc:mysql://… or jdbc:mariadb://…) are supported, got jdbc:postgresql",
            #"wso2.datasources.dataSources[0].definition.configuration.maxPoolSize: expected a positive integer, got "lots""#,
            #"wso2.datasources.dataSources[0].definition.configuration.isAutoCommit: expected true or false, got "sometimes""#,
            #"wso2.datasources.dataSources[1].definition.type: only RDBMS datasources are supported, got "JNDI""#,
            "wso2.datasources.dataSources[1].definition.configuration.jdbcUrl: missing: the datasource has no definition.configuration",
            #"wso2.datasources.dataSources[1].name: datasource "P" is already defined at wso2.datasources.dataSources[0]"#,
        ])
        #expect(problems("wso2.datasources:\n  dataSources:\n    name: P\n") == [#"wso2.datasources.dataSources: expected a list, got a mapping"#])
    }

    /// SI's stock deployment.yaml keeps its H2 datasources (WSO2_CARBON_DB, …) next to the ones the
    /// guide adds; Tandem uses none of them, so their problems are warnings.
    @Test func unusedDatasourceProblemsAreWarnings() throws {
        let loaded = try DeploymentConfig.parse(yaml: """
            wso2.datasources:
              dataSources:
                - name: WSO2_CARBON_DB
                  description: The datasource used for registry and user manager
                  jndiConfig:
                    name: jdbc/WSO2CarbonDB
                  definition:
                    type: RDBMS
                    configuration:
                      jdbcUrl: 'jdbc:h2:${sys:carbon.home}/wso2/${sys:wso2.runtime}/database/WSO2_CARBON_DB;DB_CLOSE_ON_EXIT=FALSE;LOCK_TIMEOUT=60000'
                      username: wso2carbon
                      password: wso2carbon
                      driverClassName: org.h2.Driver
                      maxPoolSize: 10
                      idleTimeout: 60000
                      connectionTestQuery: SELECT 1
                      validationTimeout: 30000
                      isAutoCommit: false
            """, source: "t", environment: ["carbon.home": "/opt/si", "wso2.runtime": "server"])
        #expect(loaded.config.datasources.isEmpty)
        #expect(loaded.warnings == [
            "wso2.datasources.dataSources[0].definition.configuration.jdbcUrl: only MySQL/MariaDB JDBC URLs (jdbc:mysql://… or jdbc:mariadb://…) are supported, got jdbc:h2 (datasource WSO2_CARBON_DB is not used by Tandem; ignored)",
        ])
    }
}
