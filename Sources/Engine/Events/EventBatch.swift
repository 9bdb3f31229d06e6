/// A batch of events of one stream, stored column by column so that hot loops touch plain memory.
///
/// Every attribute is one column of 8-byte slots:
/// - `int`, `long`: the value as `Int64` bit pattern (an `int` column holds values in Int32 range);
/// - `float`, `double`: the value as `Double` bit pattern (a `float` column holds values exactly
///   representable as `Float`);
/// - `bool`: 0 or 1;
/// - `string`: `offset << 32 | length` into `stringBytes`, the batch's UTF-8 arena.
/// A column's `nulls` array is empty while the column has no null; once one null is written it holds
/// one byte per row (1 = null).
///
/// Batches are reused: `removeAll()` keeps capacity, so steady-state appends do not allocate.
public struct EventBatch: Sendable {
    /// The most events a batch may hold; producers cut batches at this size.
    public static let capacityMax = 65_536
    /// Hard bound on any batch the engine builds internally: a window chunk (e.g. a timeBatch period
    /// at a high rate) may exceed `capacityMax`, never this.
    public static let rowsMax = 1 << 24

    public let schema: StreamSchema
    public private(set) var count: Int = 0
    public var timestamps: [Int64] = []
    public var columns: [[UInt64]]
    public var nulls: [[UInt8]]
    /// UTF-8 bytes of the string values of this batch.
    public var stringBytes: [UInt8] = []

    public init(schema: StreamSchema, capacity: Int = 0) {
        self.schema = schema
        let width = schema.attributes.count
        columns = Array(repeating: [], count: width)
        nulls = Array(repeating: [], count: width)
        if capacity > 0 { reserve(capacity) }
    }

    public var isEmpty: Bool { count == 0 }

    /// Reserves room for `capacity` events without reallocating.
    public mutating func reserve(_ capacity: Int) {
        timestamps.reserveCapacity(capacity)
        for i in columns.indices { columns[i].reserveCapacity(capacity) }
    }

    /// Drops every event, keeping storage for reuse.
    public mutating func removeAll() {
        count = 0
        timestamps.removeAll(keepingCapacity: true)
        for i in columns.indices {
            columns[i].removeAll(keepingCapacity: true)
            if !nulls[i].isEmpty { nulls[i].removeAll(keepingCapacity: true) }
        }
        stringBytes.removeAll(keepingCapacity: true)
    }

    /// Sets the batch to `newCount` events whose slots are all zero and non-null, keeping capacity;
    /// operators then fill columns in place through `withUnsafeMutableBufferPointer`.
    /// String bytes are dropped.
    public mutating func reset(count newCount: Int) {
        precondition(newCount >= 0 && newCount <= EventBatch.rowsMax, "EventBatch over rowsMax")
        removeAll()
        count = newCount
        timestamps.append(contentsOf: repeatElement(0, count: newCount))
        for i in columns.indices { columns[i].append(contentsOf: repeatElement(0, count: newCount)) }
    }

    /// Becomes rows `rows` of `source`, in that order, copied column by column over raw memory.
    /// String slots keep their offsets: the source's arena is shared (copy-on-write), not copied.
    public mutating func gather(_ rows: UnsafeBufferPointer<Int32>, from source: EventBatch) {
        precondition(source.schema.attributes == schema.attributes, "gather between different schemas")
        reset(count: rows.count)
        stringBytes = source.stringBytes
        source.timestamps.withUnsafeBufferPointer { src in
            timestamps.withUnsafeMutableBufferPointer { dst in for (k, r) in rows.enumerated() { dst[k] = src[Int(r)] } }
        }
        for c in columns.indices {
            source.columns[c].withUnsafeBufferPointer { src in
                columns[c].withUnsafeMutableBufferPointer { dst in for (k, r) in rows.enumerated() { dst[k] = src[Int(r)] } }
            }
            if !source.nulls[c].isEmpty {
                let srcNulls = source.nulls[c]
                nulls[c] = rows.map { srcNulls[Int($0)] }
            }
        }
    }

    /// The same events as a batch of `schema`, whose attribute types must be these (e.g. the stream of
    /// another app fed by an in-memory topic). Storage is shared (copy-on-write), not copied.
    public func rebound(to schema: StreamSchema) -> EventBatch {
        precondition(schema.attributes.map(\.type) == self.schema.attributes.map(\.type), "rebinding to another shape")
        var out = EventBatch(schema: schema)
        out.count = count
        out.timestamps = timestamps
        out.columns = columns
        out.nulls = nulls
        out.stringBytes = stringBytes
        return out
    }

    /// Appends one event with every attribute zero/non-null; returns its row. Set values with the
    /// `set…` methods afterwards.
    @discardableResult
    public mutating func appendRow(timestamp: Int64) -> Int {
        precondition(count < EventBatch.rowsMax, "EventBatch over rowsMax")
        timestamps.append(timestamp)
        for i in columns.indices {
            columns[i].append(0)
            if !nulls[i].isEmpty { nulls[i].append(0) }
        }
        count += 1
        return count - 1
    }

    /// Appends a copy of row `row` of `source` (same attribute types), strings copied into this
    /// batch's arena; returns the new row. No boxing.
    @discardableResult
    public mutating func appendRow(from source: EventBatch, row: Int) -> Int {
        let r = appendRow(timestamp: source.timestamps[row])
        for c in columns.indices {
            if source.isNull(c, row) {
                setNull(c, r)
            } else if schema.attributes[c].type.isTextual {
                source.withStringBytes(c, row) { setString(c, r, utf8: $0) }
            } else {
                columns[c][r] = source.columns[c][row]
            }
        }
        return r
    }

    /// Appends copies of `rows` of `source` (same attribute types) column by column, strings
    /// copied into this batch's arena. No boxing, one pass per column.
    public mutating func appendRows(from source: EventBatch, rows: [Int32]) {
        rows.withUnsafeBufferPointer { appendRows(from: source, rows: $0) }
    }

    /// Appends every row of `source` (same attribute types).
    public mutating func appendAll(from source: EventBatch) {
        guard !source.isEmpty else { return }
        if count == 0 && stringBytes.isEmpty {
            // Whole copy: the arena and slots carry over unchanged.
            timestamps.append(contentsOf: source.timestamps)
            for c in columns.indices {
                columns[c].append(contentsOf: source.columns[c])
                if !source.nulls[c].isEmpty { nulls[c].append(contentsOf: source.nulls[c]) }
            }
            stringBytes.append(contentsOf: source.stringBytes)
            count = source.count
            return
        }
        let rows = (0..<Int32(source.count)).map { $0 }
        appendRows(from: source, rows: rows)
    }

    /// Appends copies of `rows` of `source`; see `appendRows(from:rows:)`.
    public mutating func appendRows(from source: EventBatch, rows: UnsafeBufferPointer<Int32>) {
        guard !rows.isEmpty else { return }
        precondition(count + rows.count <= EventBatch.rowsMax, "EventBatch over rowsMax")
        let start = count
        for r in rows { timestamps.append(source.timestamps[Int(r)]) }
        for c in columns.indices {
            let isString = schema.attributes[c].type.isTextual
            let sourceNulls = source.nulls[c]
            if isString {
                source.columns[c].withUnsafeBufferPointer { src in
                    for r in rows {
                        let slot = src[Int(r)]
                        let offset = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
                        let at = stringBytes.count
                        if sourceNulls.isEmpty || sourceNulls[Int(r)] == 0 {
                            stringBytes.append(contentsOf: source.stringBytes[offset..<offset + length])
                        }
                        columns[c].append(UInt64(at) << 32 | UInt64(length))
                    }
                }
            } else {
                source.columns[c].withUnsafeBufferPointer { src in
                    for r in rows { columns[c].append(src[Int(r)]) }
                }
            }
            if !sourceNulls.isEmpty || !nulls[c].isEmpty {
                if nulls[c].isEmpty { nulls[c] = [UInt8](repeating: 0, count: start) }
                for r in rows { nulls[c].append(sourceNulls.isEmpty ? 0 : sourceNulls[Int(r)]) }
            }
        }
        count += rows.count
    }

    /// Removes the last `n` rows (used by decoders that must undo a partly decoded event).
    /// String bytes of the removed rows stay in the arena until `removeAll()`.
    public mutating func removeLast(_ n: Int) {
        precondition(n >= 0 && n <= count)
        guard n > 0 else { return }
        count -= n
        timestamps.removeLast(n)
        for i in columns.indices {
            columns[i].removeLast(n)
            if !nulls[i].isEmpty { nulls[i].removeLast(n) }
        }
    }

    // MARK: Writing values

    @inline(__always)
    public mutating func setInt64(_ column: Int, _ row: Int, _ value: Int64) {
        columns[column][row] = UInt64(bitPattern: value)
    }

    @inline(__always)
    public mutating func setDouble(_ column: Int, _ row: Int, _ value: Double) {
        columns[column][row] = value.bitPattern
    }

    @inline(__always)
    public mutating func setBool(_ column: Int, _ row: Int, _ value: Bool) {
        columns[column][row] = value ? 1 : 0
    }

    /// Stores a string value by copying its UTF-8 bytes into the batch's arena.
    public mutating func setString(_ column: Int, _ row: Int, utf8 bytes: UnsafeRawBufferPointer) {
        let offset = stringBytes.count
        precondition(offset <= Int(UInt32.max) && bytes.count <= Int(UInt32.max))
        stringBytes.append(contentsOf: bytes)
        columns[column][row] = UInt64(offset) << 32 | UInt64(bytes.count)
    }

    public mutating func setString(_ column: Int, _ row: Int, _ value: String) {
        var value = value
        value.withUTF8 { setString(column, row, utf8: UnsafeRawBufferPointer($0)) }
    }

    public mutating func setNull(_ column: Int, _ row: Int, _ isNull: Bool = true) {
        if nulls[column].isEmpty {
            guard isNull else { return }
            nulls[column] = Array(repeating: 0, count: count)
        }
        nulls[column][row] = isNull ? 1 : 0
        if isNull { columns[column][row] = 0 }
    }

    /// Sets an attribute from a boxed `Value`, converting numbers to the column's type.
    /// Returns false when the value cannot be stored in that type (e.g. a string into a double).
    @discardableResult
    public mutating func set(_ column: Int, _ row: Int, _ value: Value) -> Bool {
        let type = schema.attributes[column].type
        switch (type, value) {
        case (_, .null): setNull(column, row)
        case (.int, .int(let v)): setInt64(column, row, Int64(v))
        case (.long, .int(let v)): setInt64(column, row, Int64(v))
        case (.long, .long(let v)): setInt64(column, row, v)
        case (.float, .float(let v)): setDouble(column, row, Double(v))
        case (.float, .int(let v)): setDouble(column, row, Double(Float(v)))
        case (.float, .long(let v)): setDouble(column, row, Double(Float(v)))
        case (.float, .double(let v)): setDouble(column, row, Double(Float(v)))
        case (.double, .int(let v)): setDouble(column, row, Double(v))
        case (.double, .long(let v)): setDouble(column, row, Double(v))
        case (.double, .float(let v)): setDouble(column, row, Double(v))
        case (.double, .double(let v)): setDouble(column, row, v)
        case (.string, .string(let v)): setString(column, row, v)
        case (.bool, .bool(let v)): setBool(column, row, v)
        case (.object, .object(let json)): setString(column, row, json)
        default: return false
        }
        return true
    }

    /// Appends one event from boxed values (cold path: JSON, tests).
    @discardableResult
    public mutating func append(timestamp: Int64, values: [Value]) -> Bool {
        precondition(values.count == schema.attributes.count, "value count differs from schema")
        let row = appendRow(timestamp: timestamp)
        for (i, v) in values.enumerated() where !set(i, row, v) {
            removeLast(1)
            return false
        }
        return true
    }

    // MARK: Reading values

    @inline(__always)
    public func isNull(_ column: Int, _ row: Int) -> Bool {
        !nulls[column].isEmpty && nulls[column][row] != 0
    }

    @inline(__always)
    public func int64(_ column: Int, _ row: Int) -> Int64 { Int64(bitPattern: columns[column][row]) }

    @inline(__always)
    public func double(_ column: Int, _ row: Int) -> Double { Double(bitPattern: columns[column][row]) }

    @inline(__always)
    public func bool(_ column: Int, _ row: Int) -> Bool { columns[column][row] != 0 }

    /// Calls `body` with the UTF-8 bytes of a string value, without copying.
    @inline(__always)
    public func withStringBytes<R>(_ column: Int, _ row: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let slot = columns[column][row]
        let offset = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
        return try stringBytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + length])) }
    }

    public func string(_ column: Int, _ row: Int) -> String {
        withStringBytes(column, row) { String(decoding: $0, as: UTF8.self) }
    }

    /// The boxed value of one attribute (cold path).
    public func value(_ column: Int, _ row: Int) -> Value {
        if isNull(column, row) { return .null }
        switch schema.attributes[column].type {
        case .int: return .int(Int32(truncatingIfNeeded: int64(column, row)))
        case .long: return .long(int64(column, row))
        case .float: return .float(Float(double(column, row)))
        case .double: return .double(double(column, row))
        case .string: return .string(string(column, row))
        case .bool: return .bool(bool(column, row))
        case .object: return .object(string(column, row))
        }
    }

    /// All values of one row (cold path).
    public func row(_ row: Int) -> [Value] {
        (0..<schema.attributes.count).map { value($0, row) }
    }
}
