import ControlPlane
import Foundation
import Testing

/// A standalone `tandem run` node with an `@store(type='rdbms')` table on the test MariaDB
/// (`TANDEM_TEST_MYSQL_*`): rows already in the database are loaded at start and read by an `in`
/// filter, the events' changes reach the database, and a second run starts from them.
@Suite(.serialized) struct StoreEndToEndTests {
    /// A connection to the test MariaDB, or nil after recording that it is not reachable.
    static func adminConnection() -> MySQLConnection? {
        let db = HAFailoverTests.Cluster.database
        do {
            return try MySQLConnection(MySQLEndpoint(host: db.host, port: db.port, user: db.user, password: db.password))
        } catch {
            Issue.record("MariaDB not reachable at \(db.host):\(db.port): \(error)")
            return nil
        }
    }

    @Test func storedTableLoadsAtStartAndWritesThrough() throws {
        guard let admin = StoreEndToEndTests.adminConnection() else { return }
        let db = HAFailoverTests.Cluster.database
        let table = "e2e_stock_\(UInt32.random(in: 0...UInt32.max))"
        try admin.execute("CREATE DATABASE IF NOT EXISTS storedb")
        try admin.execute("CREATE TABLE storedb.\(table) (symbol VARCHAR(254) COLLATE utf8mb4_bin PRIMARY KEY, price DOUBLE, volume BIGINT)")
        defer { try? admin.execute("DROP TABLE IF EXISTS storedb.\(table)") }
        try admin.execute("INSERT INTO storedb.\(table) VALUES ('PRE', 1.5, 7)")

        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeTCPPort()
        let apps = dir.appendingPathComponent("apps")
        try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
        let app = apps.appendingPathComponent("stock.siddhi")
        try """
            @App:name('Stock')
            @source(type='tcp', port='\(port)', context='In', @map(type='binary'))
            define stream In (kind string, symbol string, price double, volume long);
            @sink(type='log', prefix='KNOWN')
            define stream Known (symbol string);
            @store(type='rdbms', datasource='STOCK_DB', table.name='\(table)')
            @PrimaryKey('symbol')
            define table StockTable (symbol string, price double, volume long);
            from In[kind == 'set'] select symbol, price, volume
              update or insert into StockTable set StockTable.price = price, StockTable.volume = volume on StockTable.symbol == symbol;
            from In[kind == 'del'] select symbol delete StockTable on StockTable.symbol == symbol;
            from In[kind == 'ask' and symbol in StockTable] select symbol insert into Known;
            """.write(to: app, atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("deployment.yaml")
        try """
            wso2.datasources:
              dataSources:
                - name: STOCK_DB
                  definition:
                    type: RDBMS
                    configuration:
                      jdbcUrl: 'jdbc:mysql://\(db.host):\(db.port)/storedb?useSSL=false'
                      username: \(db.user)
                      password: \(db.password)
            """.write(to: config, atomically: true, encoding: .utf8)
        func events(_ items: [(String, String, Double, Int)], _ name: String) throws -> URL {
            let url = dir.appendingPathComponent(name)
            let text = items.enumerated().map { i, e in
                "{\"stream\":\"In\",\"timestamp\":\(1000 + i),\"data\":[\"\(e.0)\",\"\(e.1)\",\(e.2),\(e.3)]}"
            }.joined(separator: "\n") + "\n"
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url
        }
        // A batch runs query by query, so questions and changes go in separate sends (batches).
        let ask1 = try events([("ask", "PRE", 0, 0), ("ask", "ORCL", 0, 0)], "ask1.jsonl")
        let changes = try events([("set", "IBM", 100.25, 1), ("set", "WSO2", 50, 2), ("set", "IBM", 101.5, 3), ("del", "PRE", 0, 0)],
                                 "changes.jsonl")
        let ask2 = try events([("ask", "PRE", 0, 0), ("ask", "IBM", 0, 0)], "ask2.jsonl")
        let ask3 = try events([("ask", "WSO2", 0, 0), ("ask", "PRE", 0, 0), ("ask", "IBM", 0, 0)], "ask3.jsonl")

        for (round, sends) in [[(ask1, ["[PRE]"]), (changes, ["[PRE]"]), (ask2, ["[PRE]", "[IBM]"])], [(ask3, ["[WSO2]", "[IBM]"])]].enumerated() {
            let node = try NodeProcess(arguments: ["run", "--config", config.path, "--apps", apps.path], workingDirectory: dir)
            defer { _ = node.terminate() }
            #expect(EndToEndTests.waitForPort(port, timeoutSec: 20), "node did not open \(port): \(node.stderr)")
            for (input, expected) in sends {
                let (status, _, err) = try NodeProcess.runToEnd(["send", "--app", app.path, "--host", "127.0.0.1", "--input", input.path],
                                                                workingDirectory: dir)
                #expect(status == 0, "send failed: \(err)")
                node.waitFor(timeoutSec: 20) { lines, _ in EndToEndTests.outputRows(lines, prefix: "KNOWN") == expected }
                #expect(EndToEndTests.outputRows(node.lines, prefix: "KNOWN") == expected, "round \(round): \(node.stderr)")
            }
            #expect(node.terminate() == 0)
            let rows = try admin.query("SELECT symbol, price, volume FROM storedb.\(table) ORDER BY symbol")
            #expect(rows == [["IBM", "101.5", "3"], ["WSO2", "50", "2"]], "round \(round)")
        }
    }

    @Test func anUnknownDatasourceFailsTheDeploy() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let apps = dir.appendingPathComponent("apps")
        try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
        try """
            @App:name('NoDs')
            define stream In (symbol string);
            @store(type='rdbms', datasource='MISSING_DB')
            define table T (symbol string);
            from In insert into T;
            """.write(to: apps.appendingPathComponent("nods.siddhi"), atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("deployment.yaml")
        try "wso2.carbon:\n  id: n1\n".write(to: config, atomically: true, encoding: .utf8)
        let node = try NodeProcess(arguments: ["run", "--config", config.path, "--apps", apps.path], workingDirectory: dir)
        defer { _ = node.terminate() }
        node.waitFor(timeoutSec: 20) { _, err in err.contains("MISSING_DB") }
        #expect(node.stderr.contains("nods.siddhi:3:1: table 'T': datasource 'MISSING_DB' is not defined in deployment.yaml"), "\(node.stderr)")
    }
}

/// An HA pair with a stored table: the active writes it, the passive (which deploys the app and
/// checks the datasource) neither loads nor writes it; after `kill -9` of the active the passive
/// loads the table from the database, replays the queued events over it (upserts by key, so the
/// events the old active had already written apply harmlessly again) and writes on.
@Suite(.serialized) struct StoreHAEndToEndTests {
    @Test func passiveTakesOverAStoredTable() throws {
        guard let admin = StoreEndToEndTests.adminConnection() else { return }
        for name in ["persistencedb", "clusterdb"] { try admin.execute("CREATE DATABASE IF NOT EXISTS \(name)") }
        let cluster = try HAFailoverTests.Cluster()
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let table = "ha_last_\(UInt32.random(in: 0...UInt32.max))"
        defer { try? admin.execute("DROP TABLE IF EXISTS persistencedb.\(table)") }
        try """
            @App:name('\(cluster.appName)')
            @source(type='tcp', port='\(cluster.sourcePort)', context='In', @map(type='binary'))
            define stream In (symbol string, seq long);
            @sink(type='log', prefix='OUT')
            define stream Out (symbol string, n long, total long);
            @store(type='rdbms', datasource='PERSISTENCE_DB', table.name='\(table)')
            @PrimaryKey('symbol')
            define table Last (symbol string, seq long);
            from In select symbol, seq update or insert into Last set Last.seq = seq on Last.symbol == symbol;
            from In#window.length(1048576) select symbol, count() as n, sum(seq) as total group by symbol insert into Out;
            """.write(to: cluster.apps.appendingPathComponent("counts.siddhi"), atomically: true, encoding: .utf8)

        let (a, b) = try HAFailoverTests.startInSyncPair(cluster)
        defer { _ = a.terminate(); _ = b.terminate() }
        let total = 12_000, stopAt = 6_000
        let written = HAFailoverTests.publish(port: cluster.sourcePort, from: 1, total: total, pauseUs: 1_000) { sent in
            if sent == stopAt { kill(a.process.processIdentifier, SIGKILL) }
        }
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        // While passive, B never loaded the table (so never created or wrote it either): its first
        // line about the table comes with the takeover (restore, then replay).
        let takeover = b.stderr.range(of: "restored revision") ?? b.stderr.range(of: "replayed")
        let beforeTakeover = takeover.map { String(b.stderr[..<$0.lowerBound]) } ?? b.stderr
        #expect(!beforeTakeover.contains("table 'Last'"), "\(b.stderr)")
        #expect(a.stderr.contains("table 'Last': loaded 0 rows"), "\(a.stderr)")
        let resume = try #require(HAFailoverTests.resumeSequence(b.stderr), "no resume point in B's log: \(b.stderr)")
        #expect(resume <= written)
        #expect(HAFailoverTests.publish(port: cluster.sourcePort, from: resume + 1, total: total, pauseUs: 0) == total)
        HAFailoverTests.expectOneNodeCounts(b, total: total)
        // The last seq per symbol, as one node would have written it.
        let expected = (0..<HAFailoverTests.symbols).map { k in ["S\(k)", "\(total - (total - k) % HAFailoverTests.symbols)"] }
            .sorted { $0[0] < $1[0] }
        var rows: [[String?]] = []
        for _ in 0..<100 {
            rows = try admin.query("SELECT symbol, seq FROM persistencedb.\(table) ORDER BY symbol")
            if rows == expected { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(rows == expected, "B: \(b.stderr)")
        #expect(b.stderr.contains("table 'Last': loaded"), "\(b.stderr)")
        #expect(!b.stderr.contains("refused") && !b.stderr.contains("not written"), "\(b.stderr)")
    }
}
