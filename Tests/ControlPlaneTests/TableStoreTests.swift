@testable import ControlPlane
import Engine
import Foundation
import Logging
import Testing

/// `@store(type='rdbms')` tables against the real MariaDB (`scripts/mariadb.sh start`): the rows the
/// database holds after each kind of change, loads at start and after a restore, joins and `in`
/// conditions reading the store, a node that may not write, and deploy errors.
@Suite(.serialized) struct TableStoreTests {
    static let database = "tandem_store_test"
    static let logger = Logger(label: "table-store-test")

    static var datasource: DatasourceConfig {
        let e = TestDatabase.endpoint
        return DatasourceConfig(name: "STORE_DB", url: JDBCURL(host: e.host, port: e.port, database: database),
                                username: e.user, password: e.password, connectionTimeoutMs: 3_000)
    }

    /// A connection to the test database (created if missing); nil (recorded) when MariaDB is down.
    static func connect() -> MySQLConnection? {
        do {
            let admin = try MySQLConnection(TestDatabase.endpoint)
            try admin.execute("CREATE DATABASE IF NOT EXISTS \(database)")
            return try MySQLConnection(datasource.endpoint)
        } catch {
            Issue.record("MariaDB not reachable at \(TestDatabase.endpoint.host):\(TestDatabase.endpoint.port) (\(error)); start it with `scripts/mariadb.sh start`")
            return nil
        }
    }

    static func uniqueName(_ prefix: String) -> String { "\(prefix)_\(UInt32.random(in: 0...UInt32.max))" }

    static func app(table: String, key: String = "@PrimaryKey('symbol')") throws -> SiddhiApp {
        try SiddhiApp.compile(source: """
            define stream Ins (symbol string, price double, volume long);
            define stream Up (symbol string, price double);
            define stream Ups (symbol string, price double, volume long);
            define stream Del (symbol string);
            define stream Q (symbol string);
            @store(type='rdbms', datasource='STORE_DB', table.name='\(table)')
            \(key)
            define table StockTable (symbol string, price double, volume long);
            from Ins insert into StockTable;
            from Up update StockTable set StockTable.price = price on StockTable.symbol == symbol;
            from Ups update or insert into StockTable set StockTable.price = price, StockTable.volume = volume on StockTable.symbol == symbol;
            from Del delete StockTable on StockTable.symbol == symbol;
            from Q join StockTable as t on t.symbol == Q.symbol select t.symbol as symbol, t.price as price, t.volume as volume insert into Seen;
            from Q[symbol in StockTable] select symbol insert into Known;
            """, fileName: "store.siddhi")
    }

    /// Sends one event (values in the stream's attribute order).
    static func send(_ runtime: AppRuntime, _ stream: String, _ values: [Value], at t: Int64 = 1) {
        let index = runtime.streamIndex(stream)!
        var batch = EventBatch(schema: runtime.streams[index])
        let appended = batch.append(timestamp: t, values: values)
        #expect(appended)
        runtime.send(streamIndex: index, batch: batch)
    }

    static func rows(_ c: MySQLConnection, _ table: String) throws -> [[String?]] {
        try c.query("SELECT symbol, price, volume FROM `\(table)` ORDER BY symbol, price")
    }

    static func store(_ app: SiddhiApp, canWrite: @escaping @Sendable () -> Bool = { true }, queue: Int = MySQLTableStore.defaultQueueChangesMax) throws -> MySQLTableStore {
        try MySQLTableStore(table: app.storedTables[0], datasource: "STORE_DB", endpoint: datasource.endpoint, canWrite: canWrite,
                            logger: logger, queueChangesMax: queue)
    }

    /// A runtime of `app` with its stored table attached to a fresh store.
    static func attached(_ app: SiddhiApp, canWrite: @escaping @Sendable () -> Bool = { true },
                         queue: Int = MySQLTableStore.defaultQueueChangesMax) throws -> (AppRuntime, MySQLTableStore) {
        let runtime = AppRuntime(app: app)
        let store = try store(app, canWrite: canWrite, queue: queue)
        runtime.attachStore(store, table: "StockTable")
        return (runtime, store)
    }

    @Test func insertsUpdatesDeletesAndUpsertsReachTheDatabase() throws {
        guard let db = TableStoreTests.connect() else { return }
        let name = TableStoreTests.uniqueName("stock")
        defer { try? db.execute("DROP TABLE IF EXISTS `\(name)`") }
        let app = try TableStoreTests.app(table: name)
        let (runtime, store) = try TableStoreTests.attached(app)
        #expect(runtime.loadStores() == 0)  // creates the table

        TableStoreTests.send(runtime, "Ins", [.string("IBM"), .double(100.5), .long(10)])
        TableStoreTests.send(runtime, "Ins", [.string("WSO2"), .double(50), .long(20)])
        TableStoreTests.send(runtime, "Ins", [.string("ibm"), .double(1), .long(1)])  // keys compare case-sensitively
        TableStoreTests.send(runtime, "Up", [.string("IBM"), .double(101.25)])
        TableStoreTests.send(runtime, "Ups", [.string("ORCL"), .double(30), .long(3)])     // inserts
        TableStoreTests.send(runtime, "Ups", [.string("WSO2"), .double(55), .long(22)])    // updates
        TableStoreTests.send(runtime, "Del", [.string("ibm")])
        #expect(store.waitUntilWritten(timeoutMs: 10_000))
        #expect(try TableStoreTests.rows(db, name) == [["IBM", "101.25", "10"], ["ORCL", "30", "3"], ["WSO2", "55", "22"]])
        let counts = store.counts
        #expect(counts.written == 7 && counts.failed == 0 && counts.pending == 0 && counts.transactions >= 1)
        // The created table: the key, binary collation.
        let create = try db.query("SHOW CREATE TABLE `\(name)`")[0][1] ?? ""
        #expect(create.contains("PRIMARY KEY (`symbol`)") && create.contains("utf8mb4_bin") && create.contains("`price` double"))
        store.close(drain: true)
    }

    @Test func loadAtStartFeedsJoinsAndInConditionsAndRestoreReloads() throws {
        guard let db = TableStoreTests.connect() else { return }
        let name = TableStoreTests.uniqueName("stock")
        defer { try? db.execute("DROP TABLE IF EXISTS `\(name)`") }
        let app = try TableStoreTests.app(table: name)
        // A first node writes a row and takes a snapshot.
        let first = AppRuntime(app: app)
        let firstStore = try TableStoreTests.store(app)
        first.attachStore(firstStore, table: "StockTable")
        TableStoreTests.send(first, "Ins", [.string("IBM"), .double(7.5), .long(1)])
        #expect(firstStore.waitUntilWritten(timeoutMs: 10_000))
        let snapshot = first.snapshot()
        firstStore.close(drain: true)
        // Rows added in the database since (another writer, or events after the snapshot).
        try db.execute("INSERT INTO `\(name)` VALUES ('WSO2', 1.25, 2), ('ORCL', NULL, 3)")

        let second = AppRuntime(app: app)
        let store = try TableStoreTests.store(app)
        second.attachStore(store, table: "StockTable")
        try second.restore(snapshot)
        var seen: [[Value]] = [], known: [String] = []
        second.addOutputCallback(stream: "Seen") { b in for r in 0..<b.count { seen.append(b.row(r)) } }
        second.addOutputCallback(stream: "Known") { b in for r in 0..<b.count { known.append(b.row(r)[0].description) } }
        TableStoreTests.send(second, "Q", [.string("WSO2")])
        TableStoreTests.send(second, "Q", [.string("ORCL")])
        TableStoreTests.send(second, "Q", [.string("IBM")])
        TableStoreTests.send(second, "Q", [.string("NONE")])
        #expect(seen == [[.string("WSO2"), .double(1.25), .long(2)], [.string("ORCL"), .null, .long(3)], [.string("IBM"), .double(7.5), .long(1)]])
        #expect(known == ["WSO2", "ORCL", "IBM"])
        #expect(second.storedRowCounts() == ["StockTable": 3])
        // The snapshot holds no rows of a stored table.
        #expect(snapshot.count < 2_000)
        store.close(drain: true)
    }

    @Test func aNodeThatMayNotWriteWritesNothingAndHoldsItsChanges() throws {
        guard let db = TableStoreTests.connect() else { return }
        let name = TableStoreTests.uniqueName("stock")
        defer { try? db.execute("DROP TABLE IF EXISTS `\(name)`") }
        let app = try TableStoreTests.app(table: name)
        let active = Shared(false)
        let (runtime, store) = try TableStoreTests.attached(app, canWrite: { active.value })
        TableStoreTests.send(runtime, "Ins", [.string("IBM"), .double(1), .long(1)])
        TableStoreTests.send(runtime, "Ins", [.string("WSO2"), .double(2), .long(2)])
        Thread.sleep(forTimeInterval: 0.3)
        // Passive: not even the table was created; the changes wait.
        #expect(try db.query("SHOW TABLES LIKE '\(name)'").isEmpty)
        #expect(store.counts.pending == 2 && store.counts.written == 0)
        // Becoming active: the held changes are written.
        // The table first: a writer let go before it exists has its changes refused (seen once under load).
        try db.execute("CREATE TABLE `\(name)` (symbol VARCHAR(254) PRIMARY KEY, price DOUBLE, volume BIGINT)")
        active.value = true
        #expect(store.waitUntilWritten(timeoutMs: 10_000))
        #expect(try TableStoreTests.rows(db, name).count == 2)
        // Demoted: what waits is discarded at close, never written.
        active.value = false
        TableStoreTests.send(runtime, "Del", [.string("IBM")])
        store.close(drain: false)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(try TableStoreTests.rows(db, name).count == 2)
    }

    @Test func aFullQueueBlocksTheEngineUntilTheDatabaseTakesIt() throws {
        guard let db = TableStoreTests.connect() else { return }
        let name = TableStoreTests.uniqueName("stock")
        defer { try? db.execute("DROP TABLE IF EXISTS `\(name)`") }
        let app = try TableStoreTests.app(table: name)
        let active = Shared(true)
        let (runtime, store) = try TableStoreTests.attached(app, canWrite: { active.value }, queue: 4)
        runtime.loadStores()
        active.value = false
        let done = Shared(0)
        let engine = Thread {
            for i in 0..<10 {
                TableStoreTests.send(runtime, "Ins", [.string("S\(i)"), .double(Double(i)), .long(Int64(i))])
                done.value += 1
            }
        }
        engine.start()
        Thread.sleep(forTimeInterval: 0.3)
        #expect(done.value == 4)  // blocked on the fifth change
        active.value = true
        for _ in 0..<100 where done.value < 10 { Thread.sleep(forTimeInterval: 0.05) }
        #expect(done.value == 10)
        #expect(store.waitUntilWritten(timeoutMs: 10_000))
        #expect(try db.query("SELECT COUNT(*) FROM `\(name)`") == [["10"]])
        store.close(drain: true)
    }

    @Test func aStopUnblocksAnEngineWaitingOnAFullQueue() throws {
        guard let db = TableStoreTests.connect() else { return }
        let name = TableStoreTests.uniqueName("stock")
        defer { try? db.execute("DROP TABLE IF EXISTS `\(name)`") }
        let app = try TableStoreTests.app(table: name)
        // A node that lost the right to write (lease lapsed) with a full queue: the engine waits…
        let (runtime, store) = try TableStoreTests.attached(app, canWrite: { false }, queue: 2)
        let done = Shared(0)
        let engine = Thread {
            for i in 0..<5 {
                TableStoreTests.send(runtime, "Ins", [.string("S\(i)"), .double(1), .long(1)])
                done.value += 1
            }
        }
        engine.start()
        Thread.sleep(forTimeInterval: 0.3)
        #expect(done.value == 2)
        // …until the host stops it (demoted: discard), which must not hang.
        store.beginStop(drain: false)
        for _ in 0..<100 where done.value < 5 { Thread.sleep(forTimeInterval: 0.02) }
        #expect(done.value == 5)
        store.close(drain: false)
        #expect(try db.query("SHOW TABLES LIKE '\(name)'").isEmpty)
    }

    @Test func tablesWithoutAKeyDeleteAndUpdateOneMatchingRow() throws {
        guard let db = TableStoreTests.connect() else { return }
        let name = TableStoreTests.uniqueName("stock")
        defer { try? db.execute("DROP TABLE IF EXISTS `\(name)`") }
        let app = try TableStoreTests.app(table: name, key: "@Index('symbol')")
        let (runtime, store) = try TableStoreTests.attached(app)
        for (s, p) in [("A", 1.0), ("A", 1.0), ("B", 0.1), ("C", 3.0)] {
            TableStoreTests.send(runtime, "Ins", [.string(s), .double(p), .long(5)])
        }
        TableStoreTests.send(runtime, "Up", [.string("B"), .double(0.7)])
        TableStoreTests.send(runtime, "Del", [.string("C")])
        #expect(store.waitUntilWritten(timeoutMs: 10_000))
        #expect(try TableStoreTests.rows(db, name) == [["A", "1", "5"], ["A", "1", "5"], ["B", "0.7", "5"]])
        let create = try db.query("SHOW CREATE TABLE `\(name)`")[0][1] ?? ""
        #expect(create.contains("KEY `symbol`") && !create.contains("PRIMARY"))
        store.close(drain: true)
    }

    @Test func aKilledConnectionIsReopenedAndTheTransactionRetried() throws {
        guard let db = TableStoreTests.connect() else { return }
        let name = TableStoreTests.uniqueName("stock")
        defer { try? db.execute("DROP TABLE IF EXISTS `\(name)`") }
        let app = try TableStoreTests.app(table: name)
        let (runtime, store) = try TableStoreTests.attached(app)
        TableStoreTests.send(runtime, "Ins", [.string("A"), .double(1), .long(1)])
        #expect(store.waitUntilWritten(timeoutMs: 10_000))
        // Kill every other connection to the test database (the writer's among them).
        let mine = try db.query("SELECT CONNECTION_ID()")[0][0] ?? ""
        for row in try db.query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '\(TableStoreTests.database)' AND ID <> \(mine)") {
            try? db.execute("KILL CONNECTION \(row[0] ?? "0")")
        }
        for i in 0..<50 { TableStoreTests.send(runtime, "Ins", [.string("K\(i)"), .double(Double(i)), .long(Int64(i))]) }
        #expect(store.waitUntilWritten(timeoutMs: 15_000))
        #expect(try db.query("SELECT COUNT(*) FROM `\(name)`") == [["51"]])
        #expect(store.counts.failed == 0)
        store.close(drain: true)
    }

    /// Throughput of the writer against the local MariaDB (debug build; printed, loosely bounded).
    @Test func writeThroughput() throws {
        guard let db = TableStoreTests.connect() else { return }
        let name = TableStoreTests.uniqueName("stock")
        defer { try? db.execute("DROP TABLE IF EXISTS `\(name)`") }
        let app = try TableStoreTests.app(table: name)
        let (runtime, store) = try TableStoreTests.attached(app)
        runtime.loadStores()
        let index = runtime.streamIndex("Ins")!
        let rows = 20_000, perBatch = 500
        let start = ContinuousClock.now
        for b in 0..<(rows / perBatch) {
            var batch = EventBatch(schema: runtime.streams[index])
            for i in 0..<perBatch {
                let k = b * perBatch + i
                _ = batch.append(timestamp: Int64(k), values: [.string("S\(k)"), .double(Double(k)), .long(Int64(k))])
            }
            runtime.send(streamIndex: index, batch: batch)
        }
        let queued = ContinuousClock.now - start
        #expect(store.waitUntilWritten(timeoutMs: 120_000))
        let total = ContinuousClock.now - start
        let seconds = Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18
        print("table-store write throughput: \(rows) upserts in \(total) (engine side \(queued)): \(Int(Double(rows) / seconds)) rows/s, \(store.counts.transactions) transactions")
        #expect(try db.query("SELECT COUNT(*) FROM `\(name)`") == [["\(rows)"]])
        store.close(drain: true)
    }

    @Test func deployErrorsNameTheDatasourceAndWhere() throws {
        let app = try TableStoreTests.app(table: "never_created")
        do {
            _ = try AppHost.tableStores(app, datasources: [:], logger: TableStoreTests.logger) { true }
            Issue.record("unknown datasource accepted")
        } catch {
            #expect(error.description.contains("store.siddhi:6:1: table 'StockTable': datasource 'STORE_DB' is not defined in deployment.yaml"), "\(error)")
        }
        var unreachable = TableStoreTests.datasource
        unreachable.url.port = 1
        do {
            _ = try AppHost.tableStores(app, datasources: ["STORE_DB": unreachable], logger: TableStoreTests.logger) { true }
            Issue.record("unreachable database accepted")
        } catch {
            #expect(error.description.contains("datasource 'STORE_DB' (127.0.0.1:1/tandem_store_test): MySQL error"), "\(error)")
        }
        // A database table whose columns differ.
        guard let db = TableStoreTests.connect() else { return }
        let name = TableStoreTests.uniqueName("other")
        try db.execute("CREATE TABLE `\(name)` (symbol VARCHAR(10), cost DOUBLE)")
        defer { try? db.execute("DROP TABLE IF EXISTS `\(name)`") }
        do {
            _ = try AppHost.tableStores(try TableStoreTests.app(table: name), datasources: ["STORE_DB": TableStoreTests.datasource],
                                        logger: TableStoreTests.logger) { true }
            Issue.record("mismatched table accepted")
        } catch {
            #expect("\(error)".contains("Unknown column"), "\(error)")
        }
    }

    @Test func storeAnnotationsAreChecked() {
        do {
            _ = try SiddhiApp.compile(source: """
                @store(type='mongodb', datasource='X')
                define table A (a int);
                @store(type='rdbms')
                define table B (a int);
                @store(type='rdbms', jdbc.url='jdbc:mysql://h/d')
                define table C (a int);
                """, fileName: "s.siddhi")
            Issue.record("compiled")
        } catch {
            let text = error.description
            #expect(text.contains("s.siddhi:1:1: error: @store(type='mongodb') is not supported"), "\(text)")
            #expect(text.contains("s.siddhi:3:1: error: @store(type='rdbms') on 'B' needs datasource='NAME'"), "\(text)")
            #expect(text.contains("s.siddhi:5:1: error: @store(type='rdbms') on 'C': give datasource='NAME'"), "\(text)")
        }
    }
}

/// A value shared between the test's threads (under a lock).
final class Shared<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
