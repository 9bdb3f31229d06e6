#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `condition in Table` (Siddhi 5): true for an event when some row of the table satisfies the
/// condition, which reads the event's attributes and the table's (`Table.x`). Allowed wherever a
/// single-stream query evaluates an expression: filters, select items and `having`.
///
/// Tandem shorthand: a condition that is not bool, `symbol in StockTable`, means
/// `StockTable.symbol == symbol` (the table attribute of the same name as a bare attribute), or
/// `StockTable.<key> == expression` when the table has a single-attribute primary key.
enum TableInSyntax {
    /// The parser keeps `c in T` as `#in:T(c)`: a function form every expression rewrite carries.
    static let namespace = "#in"
}

/// A checked `in` condition: the condition over (event attributes, then table attributes) and,
/// when it has a conjunct `Table.column == expression of the event`, that probe for an index lookup.
struct InTableCondition: Sendable {
    var table: String
    /// Event attributes, then table attributes: what the condition reads.
    var pair: StreamSchema
    var condition: TypedExpression
    var probe: (column: Int, probe: TypedExpression)?
    /// The condition is the probe's equality alone, on a column whose key words compare as `==`
    /// does (not float or double: -0.0 and NaN): a found key is a match, no pair is evaluated.
    var isKeyOnly = false
}

extension Compiler {
    /// Checks `condition in table` read by a query whose expressions run over `input`.
    mutating func checkInTable(_ condition: Expression, table name: String, position: SourcePosition,
                               input: StreamSchema) -> TypedExpression? {
        guard let table = tables[name] else {
            diagnostics.error(position, "'\(name)' is not a table ('in' reads a table: condition in TableName)")
            return nil
        }
        // Pair schemas (joins, patterns, table writes, nested `in`) name attributes `#k.x`.
        guard !input.attributes.contains(where: { $0.name.hasPrefix("#") }) else {
            diagnostics.error(position, "'in \(name)' is supported in filters, select and having of single-stream queries only")
            return nil
        }
        let pair = Compiler.pairSchema("#in:\(name)", input, table.schema)
        let schemas = [input, table.schema]
        // Unqualified names both have mean the event's, as in table writes.
        let qualifiers = [[input.name], [table.schema.name]]
        func typed(_ e: Expression) -> TypedExpression? {
            guard let resolved = resolveSides(e, schemas, qualifiers: qualifiers, fallback: 0) else { return nil }
            return check(resolved, input: pair)
        }
        guard var result = typed(condition) else { return nil }
        if let type = result.type, type != .bool {
            // Shorthand: `x in T` compares x with T's attribute of that name, or with T's single key.
            var column: String? = nil
            if case .attribute(let stream, let attribute, _) = condition, stream == nil || stream == input.name,
               table.schema.index(of: attribute) != nil {
                column = attribute
            } else if table.primaryKey.count == 1 {
                column = table.schema.attributes[table.primaryKey[0]].name
            }
            guard let column else {
                diagnostics.error(condition.position, "'in \(name)' needs a bool condition over the table's rows (e.g. \(name).x == x in \(name)), got \(type)")
                return nil
            }
            let equal = Expression.binary(.equal, .attribute(stream: name, name: column, condition.position), condition, condition.position)
            guard let rewritten = typed(equal) else { return nil }
            result = rewritten
        }
        let eventRange = 0..<input.attributes.count
        let tableRange = eventRange.upperBound..<pair.attributes.count
        let probe = Compiler.equalityProbe(result, otherRange: tableRange, probing: eventRange)
        var keyOnly = false
        if let probe, case .compare(.equal, _, _, _) = result, ![.float, .double].contains(table.schema.attributes[probe.column].type) {
            keyOnly = true  // a lone equality: it is the probe
        }
        return .inTable(InTableCondition(table: name, pair: pair, condition: result, probe: probe, isKeyOnly: keyOnly))
    }
}

/// The tables of the runtime whose queries are being built or run on this thread.
///
/// Vector programs are built deep inside every kind of query (and partition instances are built
/// lazily, while a batch runs), so instead of threading the tables through every constructor, the
/// runtime publishes them for the calling thread around construction and every entry point
/// (`AppRuntime` is confined to one thread at a time, so the scope is exactly its own).
final class TableRegistry {
    let tables: [String: Table]
    init(_ tables: [String: Table]) { self.tables = tables }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    /// The registry of the runtime working on this thread, if any.
    static var current: TableRegistry? {
        pthread_getspecific(key).map { Unmanaged<TableRegistry>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `body` with this registry current on the calling thread (nesting restores the outer one).
    func scope<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let previous = pthread_getspecific(TableRegistry.key)
        pthread_setspecific(TableRegistry.key, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(TableRegistry.key, previous) }
        return try body()
    }
}

/// Evaluates one `in` condition over a whole batch: candidate (event, row) pairs are gathered for
/// every event first (an index lookup per event when the condition has `Table.key == …` on an
/// indexed column, else every live row), then the condition runs over them in chunks.
final class InTableLookup {
    let table: Table
    private let condition: VectorProgram
    private let probe: (column: Int, program: VectorProgram)?
    private let isKeyOnly: Bool
    private var pair: EventBatch
    private var left: [Int32] = []
    private var right: [Int32] = []
    private var stamps: [Int64] = []
    /// Pairs evaluated at once: bounds the scratch memory of a scan of a large table.
    static let pairChunk = 16_384

    init(_ spec: InTableCondition) {
        guard let table = TableRegistry.current?.tables[spec.table] else {
            preconditionFailure("'in \(spec.table)' built outside its runtime (AppRuntime publishes its tables)")
        }
        self.table = table
        condition = VectorProgram(spec.condition)
        probe = spec.probe.map { ($0.column, VectorProgram($0.probe)) }
        isKeyOnly = spec.isKeyOnly
        pair = EventBatch(schema: spec.pair)
    }

    /// Writes 1 into `out[i]` when event `i` of `batch` has a matching row, else 0.
    func evaluate(_ batch: EventBatch, count n: Int, into out: UnsafeMutablePointer<UInt64>) {
        out.update(repeating: 0, count: n)
        guard table.liveCount > 0 else { return }
        left.removeAll(keepingCapacity: true)
        right.removeAll(keepingCapacity: true)
        if let probe, table.isIndexed(probe.column) {
            // The probe reads event attributes only, which lead the pair: it runs over the batch itself.
            probe.program.evaluate(batch)
            let keys = table.probeKeys(probe.program, batch: batch, count: n, column: probe.column)
            if isKeyOnly {
                // Null never equals anything, so a null key (event or row) is no match.
                let isPrimary = table.isPrimaryKey(probe.column)
                for i in 0..<n {
                    guard let key = keys[i], key != GroupTable.nullPart else { continue }
                    if isPrimary {
                        if table.primaryRow(key) != nil { out[i] = 1 }
                    } else if let rows = table.rows(matching: key, column: probe.column), !rows.isEmpty {
                        out[i] = 1
                    }
                }
                return
            }
            for i in 0..<n {
                guard let rows = table.rows(matching: keys[i], column: probe.column) else { continue }
                for row in rows {
                    left.append(Int32(i))
                    right.append(row)
                    if left.count >= InTableLookup.pairChunk { flush(batch, out) }
                }
            }
        } else {
            let live = table.liveRows
            for i in 0..<n {
                for row in live {
                    left.append(Int32(i))
                    right.append(row)
                    if left.count >= InTableLookup.pairChunk { flush(batch, out) }
                }
            }
        }
        flush(batch, out)
    }

    private func flush(_ batch: EventBatch, _ out: UnsafeMutablePointer<UInt64>) {
        guard !left.isEmpty else { return }
        stamps.removeAll(keepingCapacity: true)
        for i in left { stamps.append(batch.timestamps[Int(i)]) }
        PairBatch.build(&pair, left: batch, leftRows: left, right: table.rows, rightRows: right, timestamps: stamps)
        let keep = condition.evaluateCondition(pair)
        for k in 0..<left.count where keep[k] & 1 == 1 { out[Int(left[k])] = 1 }
        left.removeAll(keepingCapacity: true)
        right.removeAll(keepingCapacity: true)
    }
}
