@testable import ControlPlane
import Testing

/// `tandem.api` and SI's default HTTP listener.
@Suite struct ConfigTestsApi {
    static let hash = "$2b$04$" + String(repeating: "a", count: 53)

    @Test func defaults() throws {
        let config = try DeploymentConfig.parse(yaml: "", source: "t").config
        #expect(config.api == ApiConfig(enabled: true, host: "0.0.0.0", port: 9090, authEnabled: true, users: []))
    }

    @Test func siDefaultListenerGivesThePortAndTandemApiWins() throws {
        let si = """
            wso2.transport.http:
              transportProperties:
                - name: "server.bootstrap.socket.timeout"
                  value: 60
              listenerConfigurations:
                - id: "default"
                  host: "127.0.0.1"
                  port: 9191
                - id: "msf4j-https"
                  host: "0.0.0.0"
                  port: 9443
                  scheme: https
                  keyStoreFile: "${carbon.home}/resources/security/wso2carbon.jks"
            """
        let loaded = try DeploymentConfig.parse(yaml: si, source: "t")
        #expect(loaded.config.api.port == 9191 && loaded.config.api.host == "127.0.0.1")
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        let both = try DeploymentConfig.parse(yaml: si + "\ntandem:\n  api:\n    port: 8080\n", source: "t").config
        #expect(both.api.port == 8080 && both.api.host == "127.0.0.1")
    }

    @Test func usersTlsAndEnvironment() throws {
        let loaded = try DeploymentConfig.parse(yaml: """
            tandem:
              api:
                enabled: true
                host: 127.0.0.1
                port: ${env:API_PORT:-9099}
                tls:
                  certificateFile: /etc/tandem/cert.pem
                  keyFile: /etc/tandem/key.pem
                auth:
                  enabled: true
                  users:
                    - username: ops
                      passwordHash: ${env:OPS_HASH}
            """, source: "t", environment: ["OPS_HASH": ConfigTestsApi.hash])
        let api = loaded.config.api
        #expect(api.port == 9099 && api.host == "127.0.0.1" && api.tls)
        #expect(api.users == [ApiConfig.User(username: "ops", passwordHash: ConfigTestsApi.hash)])
        #expect(HealthProbe.url(for: api) == "https://127.0.0.1:9099/health")
        #expect(HealthProbe.url(for: ApiConfig()) == "http://127.0.0.1:9090/health")
    }

    @Test func plainPasswordsAndHalfTlsAreErrors() {
        #expect {
            _ = try DeploymentConfig.parse(yaml: """
                tandem:
                  api:
                    port: 70000
                    tls:
                      certificateFile: c.pem
                    auth:
                      users:
                        - username: a
                          password: admin
                        - username: b
                          passwordHash: admin
                        - passwordHash: \(ConfigTestsApi.hash)
                """, source: "t")
        } throws: { error in
            let text = "\(error)"
            return text.contains("tandem.api.port") && text.contains("tandem.api.tls: HTTPS needs both")
                && text.contains("tandem.api.auth.users[0].password: plain-text passwords are not accepted")
                && text.contains("tandem.api.auth.users[1].passwordHash: expected a bcrypt hash")
                && text.contains("tandem.api.auth.users[2].username: missing")
        }
    }

    @Test func siAuthConfigsAreIgnoredWithAReason() throws {
        let loaded = try DeploymentConfig.parse(yaml: """
            auth.configs:
              type: 'local'
              userManager:
                adminUser: admin
            """, source: "t")
        #expect(loaded.warnings.count == 1 && loaded.warnings[0].hasPrefix("auth.configs: SI's users hold plain-text passwords"))
    }

    @Test func bcryptHashShape() {
        #expect(ApiConfig.isBcryptHash(PasswordHashing.hash("x", cost: 4)))
        #expect(PasswordHashing.verify("x", hash: PasswordHashing.hash("x", cost: 4)))
        #expect(!ApiConfig.isBcryptHash("YWRtaW4="))
        #expect(!ApiConfig.isBcryptHash("$2b$04$short"))
    }
}
