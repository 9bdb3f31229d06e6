import CShims

/// A parameter of a prepared statement.
public enum MySQLValue: Sendable, Hashable {
    case int(Int64)
    case string(String)
    case bytes([UInt8])
    case null
}

extension MySQLConnection {
    /// Runs a prepared statement (cached per SQL text) and returns the number of affected rows.
    /// Parameters travel in binary, never spliced into SQL.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [MySQLValue]) throws(MySQLError) -> Int {
        let statement = try prepared(sql)
        try statement.run(parameters)
        return statement.affectedRows
    }

    /// Runs a prepared query and returns its rows, every value as bytes (NULL as nil).
    public func query(_ sql: String, _ parameters: [MySQLValue]) throws(MySQLError) -> [[[UInt8]?]] {
        let statement = try prepared(sql)
        try statement.run(parameters)
        return try statement.fetchAll()
    }

    /// Like `query(_:_:)` with values decoded as UTF-8 strings.
    public func queryStrings(_ sql: String, _ parameters: [MySQLValue]) throws(MySQLError) -> [[String?]] {
        try query(sql, parameters).map { $0.map { $0.map { String(decoding: $0, as: UTF8.self) } } }
    }
}

/// One prepared statement of a connection (owned by the connection's thread).
final class MySQLStatement {
    private let handle: UnsafeMutablePointer<MYSQL_STMT>
    let parameterCount: Int

    init(connection: UnsafeMutablePointer<MYSQL>, sql: String) throws(MySQLError) {
        guard let handle = mysql_stmt_init(connection) else {
            throw MySQLError(code: mysql_errno(connection), message: String(cString: mysql_error(connection)))
        }
        self.handle = handle
        if mysql_stmt_prepare(handle, sql, UInt(sql.utf8.count)) != 0 {
            let error = MySQLStatement.error(handle)
            mysql_stmt_close(handle)
            throw error
        }
        parameterCount = Int(mysql_stmt_param_count(handle))
        var update: my_bool = 1
        mysql_stmt_attr_set(handle, STMT_ATTR_UPDATE_MAX_LENGTH, &update)
    }

    deinit { mysql_stmt_close(handle) }

    var affectedRows: Int { Int(truncatingIfNeeded: mysql_stmt_affected_rows(handle)) }

    private static func error(_ handle: UnsafeMutablePointer<MYSQL_STMT>) -> MySQLError {
        MySQLError(code: mysql_stmt_errno(handle), message: String(cString: mysql_stmt_error(handle)))
    }

    func run(_ parameters: [MySQLValue]) throws(MySQLError) {
        guard parameters.count == parameterCount else {
            throw MySQLError(code: 0, message: "statement takes \(parameterCount) parameters, got \(parameters.count)")
        }
        // Buffers live until execute returns; this is the control plane, so plain allocations are fine.
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: max(1, parameters.count))
        var storage: [UnsafeMutableRawPointer] = []
        defer { for p in storage { p.deallocate() } }
        let lengths = UnsafeMutablePointer<UInt>.allocate(capacity: max(1, parameters.count))
        defer { lengths.deallocate() }
        for (i, value) in parameters.enumerated() {
            switch value {
            case .null:
                binds[i].buffer_type = MYSQL_TYPE_NULL
            case .int(let v):
                let p = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
                p.storeBytes(of: v, as: Int64.self)
                storage.append(p)
                binds[i].buffer_type = MYSQL_TYPE_LONGLONG
                binds[i].buffer = p
            case .string(let s):
                bindBytes(Array(s.utf8), type: MYSQL_TYPE_STRING, &binds[i], &storage, lengths + i)
            case .bytes(let b):
                bindBytes(b, type: MYSQL_TYPE_BLOB, &binds[i], &storage, lengths + i)
            }
        }
        if parameterCount > 0 && mysql_stmt_bind_param(handle, &binds) != 0 { throw MySQLStatement.error(handle) }
        if mysql_stmt_execute(handle) != 0 { throw MySQLStatement.error(handle) }
    }

    private func bindBytes(_ bytes: [UInt8], type: enum_field_types, _ bind: inout MYSQL_BIND,
                           _ storage: inout [UnsafeMutableRawPointer], _ length: UnsafeMutablePointer<UInt>) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
        bytes.withUnsafeBytes { if $0.count > 0 { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        storage.append(p)
        length.pointee = UInt(bytes.count)
        bind.buffer_type = type
        bind.buffer = p
        bind.buffer_length = UInt(bytes.count)
        bind.length = length
    }

    /// Every row of the last execution, each value as bytes (the server converts to text).
    func fetchAll() throws(MySQLError) -> [[[UInt8]?]] {
        guard let meta = mysql_stmt_result_metadata(handle) else { return [] }
        defer { mysql_free_result(meta) }
        if mysql_stmt_store_result(handle) != 0 { throw MySQLStatement.error(handle) }
        defer { mysql_stmt_free_result(handle) }
        let width = Int(mysql_num_fields(meta))
        let fields = mysql_fetch_fields(meta)!
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: width)
        let lengths = UnsafeMutablePointer<UInt>.allocate(capacity: width)
        let nulls = UnsafeMutablePointer<my_bool>.allocate(capacity: width)
        var buffers: [UnsafeMutableRawPointer] = []
        defer {
            lengths.deallocate()
            nulls.deallocate()
            for b in buffers { b.deallocate() }
        }
        for i in 0..<width {
            let size = Int(fields[i].max_length) + 1
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            buffers.append(buffer)
            binds[i].buffer_type = MYSQL_TYPE_BLOB  // raw bytes; numbers and dates arrive as text
            binds[i].buffer = buffer
            binds[i].buffer_length = UInt(size)
            binds[i].length = lengths + i
            binds[i].is_null = nulls + i
        }
        if mysql_stmt_bind_result(handle, &binds) != 0 { throw MySQLStatement.error(handle) }
        var rows: [[[UInt8]?]] = []
        while true {
            let rc = mysql_stmt_fetch(handle)
            if rc == MYSQL_NO_DATA { break }
            if rc == 1 { throw MySQLStatement.error(handle) }
            var row: [[UInt8]?] = []
            for i in 0..<width {
                if nulls[i] != 0 {
                    row.append(nil)
                } else {
                    row.append(Array(UnsafeRawBufferPointer(start: buffers[i], count: Int(lengths[i]))))
                }
            }
            rows.append(row)
        }
        return rows
    }
}
