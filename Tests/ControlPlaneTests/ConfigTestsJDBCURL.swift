@testable import ControlPlane
import Testing

@Suite struct ConfigTestsJDBCURL {
    func message(_ url: String) -> String? {
        do {
            _ = try JDBCURL.parse(url)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func withoutPortUsesMySQLDefault() throws {
        #expect(try JDBCURL.parse("jdbc:mysql://db.internal/persistencedb") == JDBCURL(host: "db.internal", port: 3306, database: "persistencedb"))
    }

    @Test func portAndParameters() throws {
        let url = try JDBCURL.parse("jdbc:mysql://wso2db.example.com:3307/clusterdb?useSSL=false&serverTimezone=UTC&flag")
        #expect(url == JDBCURL(host: "wso2db.example.com", port: 3307, database: "clusterdb",
                               parameters: ["useSSL": "false", "serverTimezone": "UTC", "flag": ""], scheme: .mysql))
    }

    @Test func mariadbAndCaseInsensitiveScheme() throws {
        #expect(try JDBCURL.parse("jdbc:mariadb://10.0.0.5:3306/c").scheme == .mariadb)
        #expect(try JDBCURL.parse("JDBC:MySQL://h/db").host == "h")
    }

    @Test func ipv6Host() throws {
        #expect(try JDBCURL.parse("jdbc:mysql://[::1]:3310/db") == JDBCURL(host: "::1", port: 3310, database: "db"))
        #expect(try JDBCURL.parse("jdbc:mysql://[fe80::1]/db").port == 3306)
    }

    @Test func otherSchemesSayOnlyMySQLAndMariaDB() {
        let expected = "only MySQL/MariaDB JDBC URLs (jdbc:mysql://… or jdbc:mariadb://…) are supported, got "
        #expect(message("jdbc:h2:./database/WSO2_CLUSTER_DB;AUTO_SERVER=TRUE") == expected + "jdbc:h2")
        #expect(message("jdbc:postgresql://db:5432/x?password=secret") == expected + "jdbc:postgresql")
        #expect(message("jdbc:oracle:thin:@db:1521:orcl") == expected + "jdbc:oracle")
        #expect(message("mysql://db/x") == expected + "\"mysql\"")
    }

    @Test func malformed() {
        #expect(message("jdbc:mysql://h:3306") == "JDBC URL has no database name (expected jdbc:mysql://host[:port]/database)")
        #expect(message("jdbc:mysql://h:3306/") == "JDBC URL has an empty database name")
        #expect(message("jdbc:mysql://h:0/db") == #"JDBC URL port "0" is not a port number 1-65535"#)
        #expect(message("jdbc:mysql://h:abc/db") == #"JDBC URL port "abc" is not a port number 1-65535"#)
        #expect(message("jdbc:mysql://:3306/db") == "JDBC URL has no host")
        #expect(message("jdbc:mysql://a,b/db") == "JDBC URL names several hosts; Tandem connects to one host")
        #expect(message("jdbc:mysql://u:p@h/db") == "JDBC URL carries credentials; give them as username and password")
        #expect(message("jdbc:mysql://h/db/x") == #"JDBC URL database name "db/x" contains "/""#)
        #expect(message("jdbc:mysql://[::1/db") == "JDBC URL has an unterminated [IPv6] host")
    }
}
