@testable import ControlPlane
import Testing

/// Warnings: SI sections Tandem ignores, unknown keys (with a guess), SI keys Tandem has no use for.
@Suite struct ConfigTestsWarnings {
    @Test func ignoredSectionsAndUnknownKeys() throws {
        let loaded = try DeploymentConfig.parse(yaml: """
            wso2.carbon:
              id: n1
              type: wso2-si
              hostnameVerificationEnabled: false
            siddhi:
              extensions: []
            wso2.transport.http:
              listenerConfigurations: []
            listenerConfigurations: []
            wso2.metrics:
              enabled: false
            databridge.config:
              workerThreads: 10
            state.persistance:
              enabled: false
            state.persistence:
              enabld: true
              config:
                colour: blue
            tandem:
              dataPlan:
                ioBackend: epoll
              dataPlane:
                batchsize: 10
            """, source: "t")
        #expect(loaded.warnings == [
            "siddhi: section not used by Tandem; ignored",
            "wso2.transport.http: section not used by Tandem; ignored",
            "listenerConfigurations: section not used by Tandem; ignored",
            "wso2.metrics: section not used by Tandem; ignored",
            // Read now (the wso2event receivers); SI's worker pool means nothing to Tandem.
            "databridge.config.workerThreads: not used by Tandem (events go straight to the app's engine ring; tandem.dataPlane.ingestRingCapacity bounds it); ignored",
            "state.persistance: unknown section (did you mean state.persistence?); ignored",
            "state.persistence.enabld: unknown key (did you mean enabled?); ignored",
            "state.persistence.config.colour: unknown key; ignored",
            "tandem.dataPlan: unknown key (did you mean dataPlane?); ignored",
            "tandem.dataPlane.batchsize: unknown key (did you mean batchSize?); ignored",
        ])
        #expect(loaded.config.persistence.enabled)
    }

    @Test func storeConfigKeysOfTheOtherStore() throws {
        let loaded = try DeploymentConfig.parse(yaml: """
            state.persistence:
              persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.FileSystemPersistenceStore
              config:
                location: snaps
                datasource: PERSISTENCE_DB
                table: PERSISTENCE_TABLE
            """, source: "t")
        #expect(loaded.config.persistence.store == .file(directory: "snaps"))
        #expect(loaded.warnings == [
            "state.persistence.config.datasource: not used by FileSystemPersistenceStore; ignored",
            "state.persistence.config.table: not used by FileSystemPersistenceStore; ignored",
        ])
    }

    @Test func haWithFileStoreWarns() throws {
        let yaml = ConfigTests.seed.replacingOccurrences(
            of: "persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore",
            with: "persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.FileSystemPersistenceStore")
        let loaded = try DeploymentConfig.parse(yaml: yaml, source: "t")
        #expect(loaded.warnings.contains("state.persistence.persistenceStore: in ha mode both nodes must read the same snapshots: FileSystemPersistenceStore needs a shared filesystem (DBPersistenceStore does not)"))
        #expect(loaded.warnings.contains("state.persistence.config.datasource: not used by FileSystemPersistenceStore; ignored"))
    }

    @Test func unusedDatasourceKeys() throws {
        let loaded = try DeploymentConfig.parse(yaml: """
            wso2.datasources:
              dataSources:
                - name: X
                  jndiConfig:
                    name: jdbc/X
                    useJndiReference: true
                  definition:
                    type: RDBMS
                    configuration:
                      jdbcUrl: jdbc:mysql://h/x
                      minIdle: 2
                      connectionTimeout: 2500
                      jdbcURL: oops
            """, source: "t")
        #expect(loaded.config.datasources["X"]?.connectionTimeoutMs == 2500)
        #expect(loaded.config.datasources["X"]?.endpoint.timeoutSec == 3)
        #expect(loaded.warnings == [
            "wso2.datasources.dataSources[0].jndiConfig.useJndiReference: not used by Tandem (no JNDI); ignored",
            "wso2.datasources.dataSources[0].definition.configuration.minIdle: not used by Tandem; ignored",
            "wso2.datasources.dataSources[0].definition.configuration.jdbcURL: unknown key (did you mean jdbcUrl?); ignored",
        ])
    }

    @Test func clusterWithoutHAWarns() throws {
        let yaml = ConfigTests.seed.replacingOccurrences(of: "  type: ha\n  host: localhost\n  advertisedHost: localhost", with: "  eventSyncServer:\n    port: 9000")
        let loaded = try DeploymentConfig.parse(yaml: yaml, source: "t")
        #expect(loaded.config.deployment.mode == .standalone && loaded.config.deployment.eventSyncPort == 9000)
        #expect(loaded.warnings == ["cluster.config.enabled: true without deployment.config type: ha; this node runs standalone"])
    }

    @Test func flatHostIsIgnoredWhenEventSyncServerSetsIt() throws {
        let yaml = ConfigTests.seed.replacingOccurrences(of: "  host: localhost\n", with: "  host: localhost\n  eventSyncServer:\n    host: 10.1.1.1\n")
        let loaded = try DeploymentConfig.parse(yaml: yaml, source: "t")
        #expect(loaded.config.deployment.eventSyncHost == "10.1.1.1" && loaded.config.deployment.advertisedHost == "localhost")
        #expect(loaded.warnings.first == "deployment.config.host: eventSyncServer.host is set; ignored")
    }
}
