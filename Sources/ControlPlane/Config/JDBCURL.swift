/// A MySQL/MariaDB JDBC URL as WSO2 datasources write it:
/// `jdbc:mysql://host[:port]/database[?key=value&...]` (also `jdbc:mariadb://`).
public struct JDBCURL: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var database: String
    public var parameters: [String: String]

    public static let defaultPort = 3306

    /// Parses a JDBC URL; the error message says what is wrong.
    public static func parse(_ url: String) -> Result<JDBCURL, JDBCURLError> {
        let lower = url.lowercased()
        let prefix: String
        if lower.hasPrefix("jdbc:mysql://") {
            prefix = "jdbc:mysql://"
        } else if lower.hasPrefix("jdbc:mariadb://") {
            prefix = "jdbc:mariadb://"
        } else {
            let scheme = url.split(separator: "/").first.map(String.init) ?? url
            return .failure(JDBCURLError(message: "only MySQL/MariaDB JDBC URLs (jdbc:mysql://, jdbc:mariadb://) are supported, got \(scheme)//…"))
        }
        var rest = Substring(url.dropFirst(prefix.count))
        var parameters: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                parameters[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
            }
            rest = rest[..<q]
        }
        guard let slash = rest.firstIndex(of: "/") else {
            return .failure(JDBCURLError(message: "JDBC URL \(url) has no database name (jdbc:mysql://host:port/database)"))
        }
        let authority = rest[..<slash]
        let database = String(rest[rest.index(after: slash)...])
        guard !database.isEmpty else { return .failure(JDBCURLError(message: "JDBC URL \(url) has an empty database name")) }
        guard !authority.contains(",") else {
            return .failure(JDBCURLError(message: "JDBC URL \(url): several hosts are not supported; give one host"))
        }
        var host = String(authority)
        var port = defaultPort
        if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                return .failure(JDBCURLError(message: "JDBC URL \(url) has an invalid port"))
            }
            port = p
        }
        guard !host.isEmpty else { return .failure(JDBCURLError(message: "JDBC URL \(url) has no host")) }
        return .success(JDBCURL(host: host, port: port, database: database, parameters: parameters))
    }
}

public struct JDBCURLError: Error, Sendable {
    public var message: String
}
