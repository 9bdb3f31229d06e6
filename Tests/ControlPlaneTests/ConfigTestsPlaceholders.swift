@testable import ControlPlane
import Testing

/// `${env:NAME}` / `${sys:NAME}` placeholders.
@Suite struct ConfigTestsPlaceholders {
    @Test func substitutedAnywhereInAValue() throws {
        let yaml = """
            wso2.carbon:
              id: node-${env:SUFFIX}-${sys:ZONE}
            tandem:
              appsDirectory: ${env:APPS}
              dataPlane:
                batchSize: ${env:BATCH}
            """
        let c = try DeploymentConfig.parse(yaml: yaml, source: "t", environment: ["SUFFIX": "a", "ZONE": "z1", "APPS": "/apps", "BATCH": "512"]).config
        #expect(c.nodeId == "node-a-z1" && c.tandem.appsDirectory == "/apps" && c.tandem.batchSize == 512)
    }

    @Test func seedWithSecretsFromTheEnvironment() throws {
        let yaml = ConfigTests.seed
            .replacingOccurrences(of: "id: wso2-si-1", with: "id: ${env:NODE_ID}")
            .replacingOccurrences(of: "wso2db.cxtsxcdgcayr.ap-south-1.rds.amazonaws.com", with: "${env:DB_HOST}")
            .replacingOccurrences(of: "password: rootroot", with: "password: ${env:DB_PASSWORD}")
        let env = ["NODE_ID": "wso2-si-2", "DB_HOST": "mysql.local", "DB_PASSWORD": "p@ss:${word}"]
        let c = try DeploymentConfig.parse(yaml: yaml, source: "t", environment: env).config
        #expect(c.nodeId == "wso2-si-2")
        #expect(c.datasources["PERSISTENCE_DB"]?.url.host == "mysql.local")
        #expect(c.datasources["WSO2_CLUSTER_DB"]?.password == "p@ss:${word}", "substituted values are not substituted again")
    }

    @Test func missingVariableNamesKeyAndVariable() {
        let yaml = """
            state.persistence:
              persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore
              config:
                datasource: DB
            wso2.datasources:
              dataSources:
                - name: DB
                  definition:
                    type: RDBMS
                    configuration:
                      jdbcUrl: jdbc:mysql://${env:DB_HOST}:${env:DB_PORT}/x
                      password: ${env:DB_PASSWORD}
            tandem:
              appsDirectory: ${env:APPS}
            """
        do {
            _ = try DeploymentConfig.parse(yaml: yaml, source: "t", environment: [:])
            Issue.record("accepted")
        } catch {
            #expect(error.problems.map(\.description) == [
                "wso2.datasources.dataSources[0].definition.configuration.jdbcUrl: environment variable DB_HOST is not set",
                "wso2.datasources.dataSources[0].definition.configuration.jdbcUrl: environment variable DB_PORT is not set",
                "wso2.datasources.dataSources[0].definition.configuration.password: environment variable DB_PASSWORD is not set",
                "tandem.appsDirectory: environment variable APPS is not set",
            ])
        }
    }

    @Test func otherDollarBracesAreKept() throws {
        #expect(try EnvSubstitution.apply("a${b}c${env:X}${", environment: ["X": "1"]).get() == "a${b}c1${")
        #expect(try EnvSubstitution.apply("${env:X}${env:X}", environment: ["X": "ab"]).get() == "abab")
        #expect(try EnvSubstitution.apply("plain", environment: [:]).get() == "plain")
        if case .failure(let missing) = EnvSubstitution.apply("${env:A}${sys:B}${env:A}", environment: [:]) {
            #expect(missing.names == ["A", "B"])
        } else {
            Issue.record("no failure")
        }
    }

    @Test func ignoredSectionsAreNotSubstituted() throws {
        let loaded = try DeploymentConfig.parse(yaml: """
            wso2.transport.http:
              transportProperties:
                - name: "server.bootstrap.socket.timeout"
                  value: ${sys:carbon.home}
            """, source: "t", environment: [:])
        #expect(loaded.warnings == ["wso2.transport.http: section not used by Tandem; ignored"])
    }
}
