import Engine
import Foundation
import Logging
import Metrics

/// The rows of a `@store(type='rdbms', datasource='NAME', table.name='…')` table, in a MySQL or
/// MariaDB table of that datasource's database.
///
/// The engine keeps the whole table in memory (reads and joins never leave the engine thread) and
/// hands each batch's changes to `record`; a writer thread of this store applies them in
/// transactions of up to ``transactionChangesMax`` changes (what queued meanwhile: one transaction
/// per engine batch under light load, fewer and larger ones under heavy load).
///
/// - **Bounded queue**: at most ``queueChangesMax`` changes wait. At the limit `record` blocks the
///   engine thread until the writer catches up (backpressure up to the sources); nothing is dropped.
/// - **Only the active node writes**: `canWrite` is asked before each transaction and again before
///   its commit; while it says no (a passive or fenced node), changes wait unwritten. When the host
///   stops while not allowed to write (demotion), the waiting changes are discarded and counted in
///   the log: the new active replays those events itself.
/// - **Errors**: a lost connection is re-opened (backing off to 5 s) and the transaction retried
///   (it was rolled back, so nothing applies twice). A change the server refuses (a string longer
///   than its column, say) is retried alone and then logged and counted as failed, so that one bad
///   row cannot stall the table.
/// - **Replays are idempotent with a primary key**: an insert is an upsert, a delete or update
///   names the row by its key. Without a key, a delete or update names the row by all its values
///   (`<=>`, one row), and a replayed insert adds a duplicate row.
///
/// Types: int INT, long BIGINT, float and double DOUBLE (a float is stored as its exact double, so
/// it reads back unchanged), bool BOOLEAN, string VARCHAR(254) (`field.length='attr:n, …'`
/// overrides) in utf8mb4 with binary collation, so that keys compare as the engine compares them.
public final class MySQLTableStore: TableStore, @unchecked Sendable {
    public let table: StoredTable
    /// The database table (`table.name`, default the Siddhi table name).
    public let sqlName: String
    private let endpoint: MySQLEndpoint
    private let datasource: String
    private let canWrite: @Sendable () -> Bool
    private let logger: Logger
    private let columns: [String]
    private let keyColumns: [Int]
    private let stringLengths: [Int: Int]

    /// Changes waiting at most; past it `record` blocks (backpressure).
    public let queueChangesMax: Int
    public static let defaultQueueChangesMax = 65_536
    /// Changes per transaction at most.
    static let transactionChangesMax = 1_024

    // Writer state, under `lock`.
    private let lock = NSCondition()
    private var queue: [TableChange] = []
    private var queueHead = 0
    private var closing = false
    private var discardOnClose = false
    private var writerRunning = false
    private var writerDone = false
    /// A load given up (the host stopped while the database was down): the engine's copy is not
    /// the database's, so its changes must not be written.
    private var loadAbandoned = false
    /// The host is stopping: a load that fails gives up instead of retrying.
    private var stopRequested = false
    /// Set when the host stops: `record` waits for room no later than this, then discards (logged),
    /// so that a stop cannot hang on a database that is down.
    private var stopDeadline: Date?
    private var written = 0
    private var failed = 0
    private var transactions = 0

    /// `tandem_table_store_changes_written_total`, `…_failed_total` (refused by the server),
    /// `…_discarded_total` (not written: demoted, or stopping with the database down),
    /// `tandem_table_store_transactions_total` and the gauge `tandem_table_store_pending_changes`.
    private let writtenMetric: Counter
    private let failedMetric: Counter
    private let discardedMetric: Counter
    private let transactionsMetric: Counter
    private let pendingMetric: Gauge

    /// Opens the datasource to check it (at deploy): unreachable, or a database table whose columns
    /// differ from the Siddhi table's, is an error. Creates nothing (a passive node deploys this too).
    public init(table: StoredTable, datasource: String, endpoint: MySQLEndpoint, canWrite: @escaping @Sendable () -> Bool,
                logger: Logger, queueChangesMax: Int = MySQLTableStore.defaultQueueChangesMax,
                metricDimensions: [(String, String)] = []) throws(MySQLError) {
        let labels = metricDimensions + [("table", table.name)]
        writtenMetric = Counter(label: "tandem_table_store_changes_written_total", dimensions: labels)
        failedMetric = Counter(label: "tandem_table_store_changes_failed_total", dimensions: labels)
        discardedMetric = Counter(label: "tandem_table_store_changes_discarded_total", dimensions: labels)
        transactionsMetric = Counter(label: "tandem_table_store_transactions_total", dimensions: labels)
        pendingMetric = Gauge(label: "tandem_table_store_pending_changes", dimensions: labels)
        self.table = table
        self.datasource = datasource
        self.endpoint = endpoint
        self.canWrite = canWrite
        self.logger = logger
        self.queueChangesMax = max(1, queueChangesMax)
        sqlName = table.options["table.name"] ?? table.name
        columns = table.attributes.map(\.name)
        keyColumns = table.primaryKey.compactMap { name in table.attributes.firstIndex { $0.name == name } }
        var lengths: [Int: Int] = [:]
        for item in (table.options["field.length"] ?? "").split(separator: ",") {
            let parts = item.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let n = Int(parts[1]), n > 0, n <= 16_383,
                  let c = table.attributes.firstIndex(where: { $0.name == parts[0] && $0.type == .string }) else {
                throw MySQLError(code: 0, message: "field.length '\(item)': expected 'stringAttribute:length' (1…16383)")
            }
            lengths[c] = n
        }
        stringLengths = lengths
        let connection = try MySQLConnection(endpoint)
        do {
            _ = try connection.query("SELECT \(columnList) FROM \(quoted) LIMIT 0")
        } catch where error.code == 1146 {
            // No such table yet: the active creates it when it first loads.
        }
    }

    private var quoted: String { "`\(sqlName)`" }
    private var columnList: String { columns.map { "`\($0)`" }.joined(separator: ", ") }

    /// `CREATE TABLE IF NOT EXISTS` for this table.
    var createSQL: String {
        var parts = table.attributes.enumerated().map { c, a in "`\(a.name)` \(MySQLTableStore.sqlType(a.type, length: stringLengths[c] ?? 254))" }
        if !keyColumns.isEmpty { parts.append("PRIMARY KEY (\(keyColumns.map { "`\(columns[$0])`" }.joined(separator: ", ")))") }
        for name in table.indexes where !(table.primaryKey.count == 1 && table.primaryKey[0] == name) {
            parts.append("INDEX (`\(name)`)")
        }
        return "CREATE TABLE IF NOT EXISTS \(quoted) (\(parts.joined(separator: ", "))) ENGINE=InnoDB"
    }

    static func sqlType(_ type: AttributeType, length: Int) -> String {
        switch type {
        case .int: "INT"
        case .long: "BIGINT"
        case .float, .double: "DOUBLE"
        case .bool: "BOOLEAN"
        case .string: "VARCHAR(\(length)) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        case .object: "TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"  // the value's JSON text
        }
    }

    // MARK: TableStore (engine thread)

    /// Reads every row, creating the table first when this node may write. Retries (backing off to
    /// 5 s, logging each failure) until the database answers: the table's contents are the
    /// database's, so the engine must not run without them. Gives up only when the store closes.
    public func load() -> [[Value]] {
        var delayMs = 100
        while true {
            do {
                let connection = try MySQLConnection(endpoint)
                if canWrite() { try connection.execute(createSQL) }
                let rows: [[[UInt8]?]]
                do {
                    rows = try connection.query("SELECT \(columnList) FROM \(quoted)", [])
                } catch where error.code == 1146 {
                    return []  // not created yet (a node that may not write loads nothing)
                }
                var out: [[Value]] = []
                out.reserveCapacity(rows.count)
                for row in rows { out.append(decode(row)) }
                logger.info("table '\(table.name)': loaded \(out.count) rows from datasource '\(datasource)' table \(sqlName)")
                return out
            } catch {
                logger.error("table '\(table.name)': cannot load from datasource '\(datasource)' (\(endpoint.host):\(endpoint.port)): \(error); retrying in \(delayMs) ms")
            }
            lock.lock()
            let gaveUp = closing || stopRequested
            loadAbandoned = gaveUp
            lock.unlock()
            if gaveUp {
                logger.error("table '\(table.name)': load from datasource '\(datasource)' abandoned (stopping); this run writes nothing to it")
                return []
            }
            Thread.sleep(forTimeInterval: Double(delayMs) / 1000)
            delayMs = min(delayMs * 2, 5_000)
        }
    }

    public func record(_ changes: [TableChange]) {
        guard !changes.isEmpty else { return }
        lock.lock()
        defer { lock.unlock() }
        startWriterLocked()
        // Backpressure: wait for room (a unit larger than the whole queue goes in once it is empty).
        while !closing && pendingLocked > 0 && pendingLocked + changes.count > queueChangesMax {
            if let stopDeadline {
                guard lock.wait(until: stopDeadline) else {
                    discardedMetric.increment(by: changes.count)
                    logger.error("table '\(table.name)': \(changes.count) changes not written (stopping, and the database took none for too long)")
                    return
                }
            } else {
                lock.wait()
            }
        }
        if closing || loadAbandoned {
            discardedMetric.increment(by: changes.count)
            logger.error("table '\(table.name)': \(changes.count) changes not written (\(closing ? "the store is closed" : "the table was never loaded"))")
            return
        }
        queue.append(contentsOf: changes)
        pendingMetric.record(pendingLocked)
        lock.broadcast()
    }

    // MARK: Control

    /// Changes waiting, written, refused by the server, and transactions committed.
    public var counts: (pending: Int, written: Int, failed: Int, transactions: Int) {
        lock.lock(); defer { lock.unlock() }
        return (pendingLocked, written, failed, transactions)
    }

    /// Waits until every queued change is written (tests, graceful stop); false on timeout.
    @discardableResult
    public func waitUntilWritten(timeoutMs: Int) -> Bool {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        lock.lock(); defer { lock.unlock() }
        while pendingLocked > 0 && !writerDone {
            if !lock.wait(until: deadline) { return pendingLocked == 0 }
        }
        return pendingLocked == 0
    }

    /// The host is about to stop its engine thread, which must not hang on this store: a `load`
    /// waiting for the database gives up (changes after a load given up are not written; a table
    /// already loaded is not affected), and `record` waits for room at most `timeoutMs` more. Without
    /// `drain` (the node may no longer write) the store closes at once and `record` discards.
    public func beginStop(drain: Bool, timeoutMs: Int = 10_000) {
        lock.lock()
        stopRequested = true
        stopDeadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        if !drain {
            closing = true
            discardOnClose = true
        }
        lock.broadcast()
        lock.unlock()
    }

    /// Stops the writer: with `drain`, after it wrote what waits (up to `timeoutMs`); without,
    /// at once, discarding what waits (the node may no longer write). Either way what is not
    /// written is logged with its count.
    public func close(drain: Bool, timeoutMs: Int = 10_000) {
        lock.lock()
        closing = true
        discardOnClose = !drain
        lock.broadcast()
        let running = writerRunning
        lock.unlock()
        if running && drain { waitUntilWritten(timeoutMs: timeoutMs) }
        lock.lock()
        discardOnClose = true
        lock.broadcast()
        let left = pendingLocked
        if left > 0 {
            discardedMetric.increment(by: left)
            pendingMetric.record(0)
            logger.error("table '\(table.name)': \(left) changes not written to datasource '\(datasource)' (\(drain ? "the database did not take them in time" : "this node may no longer write; the active replays them"))")
            queue.removeAll()
            queueHead = 0
        }
        lock.unlock()
    }

    /// Removes the metric series (the app was undeployed or the host replaced).
    public func destroyMetrics() {
        writtenMetric.destroy()
        failedMetric.destroy()
        discardedMetric.destroy()
        transactionsMetric.destroy()
        pendingMetric.destroy()
    }

    private var pendingLocked: Int { queue.count - queueHead }

    private func startWriterLocked() {
        guard !writerRunning, !closing else { return }
        writerRunning = true
        let thread = Thread { [self] in runWriter() }
        thread.name = "tandem-store-\(table.name)"
        thread.start()
    }

    // MARK: Writer thread

    private func runWriter() {
        var connection: MySQLConnection?
        var delayMs = 100
        defer {
            lock.lock()
            writerDone = true
            lock.broadcast()
            lock.unlock()
        }
        while true {
            lock.lock()
            while pendingLocked == 0 && !closing { lock.wait() }
            if pendingLocked == 0 || discardOnClose {
                lock.unlock()
                return
            }
            let end = min(queue.count, queueHead + MySQLTableStore.transactionChangesMax)
            let batch = Array(queue[queueHead..<end])
            lock.unlock()

            // A passive or fenced node holds its changes and writes nothing.
            guard canWrite() else {
                Thread.sleep(forTimeInterval: 0.02)
                continue
            }
            do {
                if connection == nil { connection = try MySQLConnection(endpoint) }
                let applied = try apply(batch, on: connection!)
                delayMs = 100
                lock.lock()
                if applied {
                    queueHead = min(queueHead + batch.count, queue.count)  // close may have discarded meanwhile
                    written += batch.count
                    transactions += 1
                    writtenMetric.increment(by: batch.count)
                    transactionsMetric.increment()
                    pendingMetric.record(pendingLocked)
                    if queueHead > 4_096 && queueHead * 2 > queue.count {
                        queue.removeFirst(queueHead)
                        queueHead = 0
                    }
                    lock.broadcast()
                }
                lock.unlock()
            } catch {
                if MySQLTableStore.isConnectionError(error) {
                    logger.error("table '\(table.name)': datasource '\(datasource)' write failed: \(error); retrying in \(delayMs) ms")
                    connection = nil
                    Thread.sleep(forTimeInterval: Double(delayMs) / 1000)
                    delayMs = min(delayMs * 2, 5_000)
                    continue
                }
                // The server refused a change: find it by applying them one by one.
                var refused = 0
                for change in batch {
                    do {
                        _ = try apply([change], on: connection!)
                    } catch {
                        if MySQLTableStore.isConnectionError(error) { connection = nil; break }
                        refused += 1
                        logger.error("table '\(table.name)': datasource '\(datasource)' refused \(change): \(error)")
                    }
                }
                guard connection != nil else { continue }  // retried whole after reconnecting
                lock.lock()
                queueHead = min(queueHead + batch.count, queue.count)
                written += batch.count - refused
                failed += refused
                writtenMetric.increment(by: batch.count - refused)
                failedMetric.increment(by: refused)
                pendingMetric.record(pendingLocked)
                lock.broadcast()
                lock.unlock()
            }
        }
    }

    /// Client-side errors (2000…2999: lost connection, timeouts) and the server going away.
    static func isConnectionError(_ error: MySQLError) -> Bool {
        (2000..<3000).contains(error.code) || error.code == 1053 || error.code == 1927 || error.code == 1205
            || error.code == 1213
    }

    /// One transaction; false (rolled back) when the node lost the right to write before commit.
    private func apply(_ changes: [TableChange], on connection: MySQLConnection) throws(MySQLError) -> Bool {
        try connection.execute("START TRANSACTION")
        do {
            var i = 0
            while i < changes.count {
                // A run of inserts goes in multi-row statements (fewer round trips); sizes are
                // fixed so that the connection's prepared-statement cache holds them all.
                var run = 0
                while i + run < changes.count, run < MySQLTableStore.insertRowsMax, case .insert = changes[i + run] { run += 1 }
                if let size = MySQLTableStore.insertSizes.first(where: { $0 > 1 && $0 <= run }) {
                    var values: [MySQLValue] = []
                    values.reserveCapacity(size * columns.count)
                    for case .insert(let row) in changes[i..<i + size] { values.append(contentsOf: row.map(MySQLTableStore.parameter)) }
                    try connection.execute(upsertSQL(rows: size), values)
                    i += size
                } else {
                    try apply(changes[i], on: connection)
                    i += 1
                }
            }
            guard canWrite() else {
                try connection.execute("ROLLBACK")
                return false
            }
            try connection.execute("COMMIT")
            return true
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    private func apply(_ change: TableChange, on connection: MySQLConnection) throws(MySQLError) {
        switch change {
        case .insert(let row):
            try upsert(row, on: connection)
        case .delete(let row):
            try delete(row, on: connection)
        case .update(let old, let new):
            if !keyColumns.isEmpty {
                if keyColumns.contains(where: { old[$0] != new[$0] }) { try delete(old, on: connection) }
                try upsert(new, on: connection)
            } else {
                let set = columns.map { "`\($0)` = ?" }.joined(separator: ", ")
                let match = columns.map { "`\($0)` <=> ?" }.joined(separator: " AND ")
                try connection.execute("UPDATE \(quoted) SET \(set) WHERE \(match) LIMIT 1",
                                       new.map(MySQLTableStore.parameter) + old.map(MySQLTableStore.parameter))
            }
        }
    }

    /// Rows per multi-row insert statement, largest first (1: the single-row statement).
    static let insertSizes = [64, 8, 1]
    static var insertRowsMax: Int { insertSizes[0] }

    /// `INSERT` of `rows` rows; with a primary key an upsert (a later row of the same key wins, as
    /// in the engine's order of changes).
    private func upsertSQL(rows: Int) -> String {
        let marks = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        let tuples = Array(repeating: marks, count: rows).joined(separator: ", ")
        guard !keyColumns.isEmpty else { return "INSERT INTO \(quoted) (\(columnList)) VALUES \(tuples)" }
        let others = columns.indices.filter { !keyColumns.contains($0) }
        if others.isEmpty { return "INSERT IGNORE INTO \(quoted) (\(columnList)) VALUES \(tuples)" }
        return "INSERT INTO \(quoted) (\(columnList)) VALUES \(tuples) ON DUPLICATE KEY UPDATE "
            + others.map { "`\(columns[$0])` = VALUES(`\(columns[$0])`)" }.joined(separator: ", ")
    }

    private func upsert(_ row: [Value], on connection: MySQLConnection) throws(MySQLError) {
        try connection.execute(upsertSQL(rows: 1), row.map(MySQLTableStore.parameter))
    }

    private func delete(_ row: [Value], on connection: MySQLConnection) throws(MySQLError) {
        if !keyColumns.isEmpty {
            let match = keyColumns.map { "`\(columns[$0])` <=> ?" }.joined(separator: " AND ")
            try connection.execute("DELETE FROM \(quoted) WHERE \(match)", keyColumns.map { MySQLTableStore.parameter(row[$0]) })
        } else {
            let match = columns.map { "`\($0)` <=> ?" }.joined(separator: " AND ")
            try connection.execute("DELETE FROM \(quoted) WHERE \(match) LIMIT 1", row.map(MySQLTableStore.parameter))
        }
    }

    /// A value as a statement parameter: reals as their shortest exact text (the server parses it
    /// back to the same double), a float widened to its exact double first.
    static func parameter(_ value: Value) -> MySQLValue {
        switch value {
        case .int(let v): .int(Int64(v))
        case .long(let v): .int(v)
        case .bool(let v): .int(v ? 1 : 0)
        case .float(let v): .string(Double(v).description)
        case .double(let v): .string(v.description)
        case .string(let s), .object(let s): .string(s)
        case .null: .null
        }
    }

    /// A row read back (text from the server) as the table's values; unreadable values are null.
    private func decode(_ row: [[UInt8]?]) -> [Value] {
        table.attributes.enumerated().map { c, attribute in
            guard c < row.count, let bytes = row[c] else { return .null }
            let text = String(decoding: bytes, as: UTF8.self)
            switch attribute.type {
            case .int: return Int32(text).map(Value.int) ?? .null
            case .long: return Int64(text).map(Value.long) ?? .null
            case .float: return Double(text).map { .float(Float($0)) } ?? .null
            case .double: return Double(text).map(Value.double) ?? .null
            case .bool: return .bool(text != "0")
            case .string: return .string(text)
            case .object: return .object(text)
            }
        }
    }
}
