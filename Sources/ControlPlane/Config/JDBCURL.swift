/// A MySQL/MariaDB JDBC URL as WSO2 datasources write it:
/// `jdbc:mysql://host[:port]/database[?key=value&...]`, or `jdbc:mariadb://…`.
/// IPv6 hosts are written in brackets (`jdbc:mysql://[::1]:3306/db`).
public struct JDBCURL: Sendable, Hashable {
    /// The driver family named by the URL.
    public enum Scheme: String, Sendable, Hashable {
        case mysql, mariadb
    }

    /// Host name or address (IPv6 without brackets).
    public var host: String
    /// TCP port; `defaultPort` when the URL has none.
    public var port: Int
    /// Database (schema) name.
    public var database: String
    /// Query parameters (`useSSL=false` → `["useSSL": "false"]`), as written; a later duplicate wins.
    public var parameters: [String: String]
    /// `jdbc:mysql` or `jdbc:mariadb`.
    public var scheme: Scheme

    /// MySQL's port, used when the URL gives none.
    public static let defaultPort = 3306

    public init(host: String, port: Int = JDBCURL.defaultPort, database: String, parameters: [String: String] = [:],
                scheme: Scheme = .mysql) {
        self.host = host
        self.port = port
        self.database = database
        self.parameters = parameters
        self.scheme = scheme
    }

    /// Parses a JDBC URL. The error message says what is wrong; it never repeats the query string,
    /// which may hold credentials.
    public static func parse(_ url: String) throws(JDBCURLError) -> JDBCURL {
        let lower = url.lowercased()
        let scheme: Scheme
        if lower.hasPrefix("jdbc:mysql://") {
            scheme = .mysql
        } else if lower.hasPrefix("jdbc:mariadb://") {
            scheme = .mariadb
        } else {
            throw JDBCURLError(message: "only MySQL/MariaDB JDBC URLs (jdbc:mysql://… or jdbc:mariadb://…) are supported, got \(schemeOf(url))")
        }
        var rest = Substring(url.dropFirst("jdbc:\(scheme.rawValue)://".count))

        var parameters: [String: String] = [:]
        if let question = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                parameters[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
            }
            rest = rest[..<question]
        }

        guard let slash = rest.firstIndex(of: "/") else {
            throw JDBCURLError(message: "JDBC URL has no database name (expected jdbc:\(scheme.rawValue)://host[:port]/database)")
        }
        let authority = rest[..<slash]
        let database = rest[rest.index(after: slash)...]
        guard !database.isEmpty else { throw JDBCURLError(message: "JDBC URL has an empty database name") }
        guard !database.contains("/") else { throw JDBCURLError(message: "JDBC URL database name \"\(database)\" contains \"/\"") }
        guard !authority.contains(",") else {
            throw JDBCURLError(message: "JDBC URL names several hosts; Tandem connects to one host")
        }
        guard !authority.contains("@") else {
            throw JDBCURLError(message: "JDBC URL carries credentials; give them as username and password")
        }

        let host: Substring
        var portText: Substring? = nil
        if authority.hasPrefix("[") {  // [IPv6]:port
            guard let bracket = authority.firstIndex(of: "]") else {
                throw JDBCURLError(message: "JDBC URL has an unterminated [IPv6] host")
            }
            host = authority[authority.index(after: authority.startIndex)..<bracket]
            let after = authority[authority.index(after: bracket)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw JDBCURLError(message: "JDBC URL has text after its [IPv6] host") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw JDBCURLError(message: "JDBC URL has no host") }
        var port = defaultPort
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw JDBCURLError(message: "JDBC URL port \"\(portText)\" is not a port number 1-65535")
            }
            port = p
        }
        return JDBCURL(host: String(host), port: port, database: String(database), parameters: parameters, scheme: scheme)
    }

    /// `jdbc:h2` for `jdbc:h2:./db/X`: enough to say what was given without echoing the rest.
    private static func schemeOf(_ url: String) -> String {
        let parts = url.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count >= 2, parts[0].lowercased() == "jdbc" { return "\(parts[0]):\(parts[1].prefix(while: { $0 != "/" }))" }
        return "\"\(url.prefix(while: { $0 != ":" && $0 != "?" }))\""
    }
}

/// Why a JDBC URL was rejected.
public struct JDBCURLError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
