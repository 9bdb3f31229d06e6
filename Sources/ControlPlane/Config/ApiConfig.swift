/// The node's HTTP endpoint: the REST API (`/siddhi-apps`, `/ha/is-active-node`), `/health`,
/// `/metrics` and the status page `/`. See docs/rest.md.
///
/// Read from `tandem.api` and, for the port, from SI's `wso2.transport.http.listenerConfigurations`
/// entry with `id: default` (SI's HTTP listener, port 9090); `tandem.api` wins where both are set.
public struct ApiConfig: Sendable, Equatable {
    /// One user allowed to call the authenticated endpoints.
    public struct User: Sendable, Equatable {
        /// `username`.
        public var username: String
        /// `passwordHash`: a bcrypt hash (`$2a$`, `$2b$` or `$2y$`), as `tandem hash-password` prints.
        public var passwordHash: String

        public init(username: String, passwordHash: String) {
            self.username = username
            self.passwordHash = passwordHash
        }
    }

    /// `enabled`: serve HTTP at all. Default true.
    public var enabled: Bool
    /// `host`: address to listen on. Default `0.0.0.0` (SI's default listener).
    public var host: String
    /// `port`. Default 9090 (SI's default HTTP listener). 0 picks a free port (logged).
    public var port: Int
    /// `tls.certificateFile`: PEM certificate chain; with ``keyFile`` the endpoint serves HTTPS only.
    public var certificateFile: String?
    /// `tls.keyFile`: PEM private key of the certificate.
    public var keyFile: String?
    /// `auth.enabled`: basic authentication on the API. Default true.
    public var authEnabled: Bool
    /// `auth.users`. Besides these, `TANDEM_ADMIN_USER` / `TANDEM_ADMIN_PASSWORD` in the environment
    /// define one more user (see ``ApiServer``).
    public var users: [User]

    /// SI's default HTTP listener port.
    public static let defaultPort = 9090

    public init(enabled: Bool = true, host: String = "0.0.0.0", port: Int = ApiConfig.defaultPort,
                certificateFile: String? = nil, keyFile: String? = nil, authEnabled: Bool = true, users: [User] = []) {
        self.enabled = enabled
        self.host = host
        self.port = port
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.authEnabled = authEnabled
        self.users = users
    }

    /// Whether the endpoint serves HTTPS (a certificate and a key are configured).
    public var tls: Bool { certificateFile != nil && keyFile != nil }

    /// Whether `text` looks like a bcrypt hash (`$2a$`/`$2b$`/`$2y$`, cost, 53 characters of salt and hash).
    public static func isBcryptHash(_ text: String) -> Bool {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, ["2a", "2b", "2y"].contains(parts[1]),
              let cost = Int(parts[2]), (4...31).contains(cost), parts[3].count == 53 else { return false }
        return true
    }
}
