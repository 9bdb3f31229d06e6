import CShims

/// Where a MySQL/MariaDB server is and how to log in.
public struct MySQLEndpoint: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var database: String?
    /// Connect, read and write timeout; a stalled DB must not stall the control plane for longer.
    public var timeoutSec: UInt32

    public init(host: String, port: Int = 3306, user: String, password: String, database: String? = nil, timeoutSec: UInt32 = 5) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.timeoutSec = timeoutSec
    }
}

/// An error from libmysqlclient, with its error number and message.
public struct MySQLError: Error, CustomStringConvertible, Sendable {
    public var code: UInt32
    public var message: String
    public var description: String { "MySQL error \(code): \(message)" }
}

/// One blocking libmysqlclient connection. Owned by one thread at a time (the control plane's);
/// it is deliberately not Sendable.
public final class MySQLConnection {
    private let handle: UnsafeMutablePointer<MYSQL>
    /// The endpoint this connection was opened with (its `database` qualifies cross-database SQL).
    public let endpoint: MySQLEndpoint
    /// Prepared statements by SQL text; bounded because callers use a fixed set of statements.
    private var statements: [String: MySQLStatement] = [:]
    static let statementsMax = 64

    /// The largest statement or value the client sends (snapshots are one LONGBLOB).
    public static let packetBytesMax: UInt = 1 << 30

    /// Connects, failing within `endpoint.timeoutSec` when the server is unreachable.
    public init(_ endpoint: MySQLEndpoint) throws(MySQLError) {
        _ = MySQLConnection.libraryInitialised
        guard let handle = mysql_init(nil) else {
            throw MySQLError(code: 0, message: "mysql_init failed (out of memory)")
        }
        self.handle = handle
        self.endpoint = endpoint
        var timeout = endpoint.timeoutSec
        mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &timeout)
        mysql_options(handle, MYSQL_OPT_READ_TIMEOUT, &timeout)
        mysql_options(handle, MYSQL_OPT_WRITE_TIMEOUT, &timeout)
        // Snapshots are single LONGBLOBs: let the client send up to 1 GiB (the server's
        // max_allowed_packet must allow the snapshot size too; docs/ha.md).
        var packetBytes: UInt = MySQLConnection.packetBytesMax
        mysql_options(handle, MYSQL_OPT_MAX_ALLOWED_PACKET, &packetBytes)
        let connected = mysql_real_connect(
            handle, endpoint.host, endpoint.user, endpoint.password, endpoint.database,
            UInt32(endpoint.port), nil, 0)
        // On failure deinit closes the handle (a class whose stored properties are all set runs
        // deinit when its init throws), so no mysql_close here.
        if connected == nil { throw MySQLConnection.lastError(handle) }
    }

    deinit {
        statements.removeAll()  // close statements before their connection
        mysql_close(handle)
    }

    func prepared(_ sql: String) throws(MySQLError) -> MySQLStatement {
        if let statement = statements[sql] { return statement }
        if statements.count >= MySQLConnection.statementsMax { statements.removeAll() }
        let statement = try MySQLStatement(connection: handle, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Rows changed by the last text statement.
    public var affectedRows: Int { Int(truncatingIfNeeded: mysql_affected_rows(handle)) }

    /// `mysql_library_init` is not thread-safe and `mysql_init` calls it implicitly, so it runs once
    /// here, guarded by Swift's once-only global initialisation, before any connection is made.
    private static let libraryInitialised: Bool = mysql_server_init(0, nil, nil) == 0

    /// Runs a statement that returns no rows.
    public func execute(_ sql: String) throws(MySQLError) {
        if mysql_real_query(handle, sql, UInt(sql.utf8.count)) != 0 { throw MySQLConnection.lastError(handle) }
        // Drain any result so the connection stays usable.
        if let result = mysql_store_result(handle) { mysql_free_result(result) }
    }

    /// Runs a query and returns its rows as strings (NULL as nil). For small control-plane reads only.
    public func query(_ sql: String) throws(MySQLError) -> [[String?]] {
        if mysql_real_query(handle, sql, UInt(sql.utf8.count)) != 0 { throw MySQLConnection.lastError(handle) }
        guard let result = mysql_store_result(handle) else {
            if mysql_field_count(handle) == 0 { return [] }
            throw MySQLConnection.lastError(handle)
        }
        defer { mysql_free_result(result) }
        let width = Int(mysql_num_fields(result))
        var rows: [[String?]] = []
        while let row = mysql_fetch_row(result) {
            let lengths = mysql_fetch_lengths(result)
            var values: [String?] = []
            values.reserveCapacity(width)
            for i in 0..<width {
                if let cell = row[i], let lengths {
                    let bytes = UnsafeRawBufferPointer(start: cell, count: Int(lengths[i]))
                    values.append(String(decoding: bytes, as: UTF8.self))
                } else {
                    values.append(nil)
                }
            }
            rows.append(values)
        }
        return rows
    }

    /// The server's version string.
    public var serverVersion: String { String(cString: mysql_get_server_info(handle)) }

    private static func lastError(_ handle: UnsafeMutablePointer<MYSQL>) -> MySQLError {
        MySQLError(code: mysql_errno(handle), message: String(cString: mysql_error(handle)))
    }
}
