@testable import ControlPlane
import Testing

/// `${env:NAME:-fallback}` placeholders and keys written without a value.
@Suite struct ConfigTestsFallbacks {
    @Test func fallbackWhenTheVariableIsNotSet() throws {
        let yaml = """
            deployment.config:
              eventSyncServer:
                port: ${env:SYNC_PORT:-9893}
                advertisedHost: ${env:ADVERTISED_HOST:-tandem-${env:NODE:-0}.local}
            """
        let d = try DeploymentConfig.parse(yaml: yaml, source: "t", environment: [:]).config.deployment
        #expect(d.eventSyncPort == 9893)
        // The fallback is literal text up to the first `}`: no nesting.
        #expect(d.advertisedHost == "tandem-${env:NODE:-0.local}")
        let set = try DeploymentConfig.parse(yaml: yaml, source: "t", environment: ["SYNC_PORT": "9000", "ADVERTISED_HOST": "a"]).config.deployment
        #expect(set.eventSyncPort == 9000 && set.advertisedHost == "a.local}")
        #expect(EnvSubstitution.apply("[${env:E:-x}]", environment: ["E": ""]) == .success("[]"), "an empty variable counts as set")
    }

    @Test func substitution() {
        #expect(EnvSubstitution.apply("${env:A:-x}${sys:B:-}", environment: [:]) == .success("x"))
        #expect(EnvSubstitution.apply("${env:A:-x}", environment: ["A": "a"]) == .success("a"))
        #expect(EnvSubstitution.apply("${env::-x}", environment: [:]) == .success("${env::-x}"), "no name: kept as written")
    }

    @Test func keysWithoutValueKeepTheirDefaults() throws {
        let loaded = try DeploymentConfig.parse(yaml: """
            wso2.carbon:
              id:
            state.persistence:
              intervalInMin: ~
              enabled: null
            tandem:
              dataPlane:
                batchSize:
            """, source: "t")
        var expected = DeploymentConfig.defaults
        expected.nodeId = loaded.config.nodeId
        #expect(loaded.config == expected && loaded.warnings.isEmpty)
    }

    @Test func quotedEmptyValuesAreWrong() {
        do {
            _ = try DeploymentConfig.parse(yaml: "state.persistence:\n  intervalInMin: ''\n  enabled: \"\"\n", source: "t")
            Issue.record("accepted")
        } catch {
            #expect(error.problems.map(\.description) == [
                #"state.persistence.intervalInMin: expected a positive integer, got """#,
                #"state.persistence.enabled: expected true or false, got """#,
            ])
        }
    }
}
