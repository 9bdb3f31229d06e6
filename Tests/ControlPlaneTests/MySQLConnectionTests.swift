import ControlPlane
import Foundation
import Testing

/// The MariaDB the tests use: `scripts/mariadb.sh start` (run by `make test` and `.ci/run`).
enum TestDatabase {
    static var endpoint: MySQLEndpoint {
        let env = ProcessInfo.processInfo.environment
        return MySQLEndpoint(
            host: env["TANDEM_TEST_MYSQL_HOST"] ?? "127.0.0.1",
            port: Int(env["TANDEM_TEST_MYSQL_PORT"] ?? "") ?? 13306,
            user: env["TANDEM_TEST_MYSQL_USER"] ?? "tandem",
            password: env["TANDEM_TEST_MYSQL_PASSWORD"] ?? "tandem",
            timeoutSec: 3)
    }
}

@Suite struct MySQLConnectionTests {
    @Test func roundTripThroughRealMariaDB() throws {
        let connection: MySQLConnection
        do {
            connection = try MySQLConnection(TestDatabase.endpoint)
        } catch {
            Issue.record("MariaDB not reachable at \(TestDatabase.endpoint.host):\(TestDatabase.endpoint.port) (\(error)); start it with `scripts/mariadb.sh start`")
            return
        }
        #expect(connection.serverVersion.contains("MariaDB") || connection.serverVersion.first?.isNumber == true)
        let table = "tandem_test_\(UInt32.random(in: 0...UInt32.max))"
        try connection.execute("CREATE DATABASE IF NOT EXISTS tandem_test")
        try connection.execute("CREATE TABLE tandem_test.\(table) (id INT PRIMARY KEY, name VARCHAR(32) NULL)")
        defer { try? connection.execute("DROP TABLE tandem_test.\(table)") }
        try connection.execute("INSERT INTO tandem_test.\(table) VALUES (1, 'alpha'), (2, NULL)")
        let rows = try connection.query("SELECT id, name FROM tandem_test.\(table) ORDER BY id")
        #expect(rows == [["1", "alpha"], ["2", nil]])
    }

    @Test func unreachableServerFailsFastWithClearError() {
        var endpoint = TestDatabase.endpoint
        endpoint.port = 1  // nothing listens on port 1
        endpoint.timeoutSec = 2
        let start = ContinuousClock.now
        #expect(throws: MySQLError.self) { _ = try MySQLConnection(endpoint) }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func badSQLReportsServerError() throws {
        let connection = try MySQLConnection(TestDatabase.endpoint)
        do {
            try connection.execute("SELEC 1")
            Issue.record("bad SQL was accepted")
        } catch {
            #expect(error.code == 1064)
            #expect(error.description.contains("SQL syntax"))
        }
    }
}
