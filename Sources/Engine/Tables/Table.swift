/// An in-memory table (`define table`): rows in insertion order, stored by column in an
/// `EventBatch`, with a hash index per `@PrimaryKey` and per `@Index` column.
///
/// Deleted rows are marked dead and compacted away once they outnumber the live ones (indexes
/// are rebuilt then). A `@PrimaryKey` insert whose key exists is rejected (Siddhi logs it and
/// keeps the old row); the rejection is counted.
///
/// Limit: `rowsMax` live rows; inserts past it are rejected and counted, never silently dropped.
final class Table {
    let spec: TableSpec
    var schema: StreamSchema { spec.schema }
    static let rowsMax = 1 << 24
    private(set) var rows: EventBatch
    private(set) var alive: [Bool] = []
    private(set) var liveCount = 0
    /// Inserts refused: duplicate primary key, or the table full.
    private(set) var rejectedCount = 0
    private var interner = StringInterner()
    private var primary: [UInt64: Int32] = [:]
    /// Single string primary key: row per interned id (-1: none), alongside `primary`.
    private var primaryById: [Int32] = []
    private var stringPrimary: Bool { spec.primaryKey.count == 1 && schema.attributes[spec.primaryKey[0]].type.isTextual }
    private var primaryMulti: [[UInt64]: Int32] = [:]
    private var indexes: [Int: [UInt64: [Int32]]] = [:]

    /// Where the rows persist (`@store`), once the host attached one; nil: memory only.
    var store: TableStore? {
        didSet { needsLoad = store != nil }
    }
    /// The in-memory copy must be (re)loaded from the store before the next batch: after the store
    /// was attached and after a restore (a stored table's contents are the store's, not the snapshot's).
    private(set) var needsLoad = false
    /// Changes since the runtime last handed them to the store (one engine batch's).
    private(set) var pendingChanges: [TableChange] = []

    init(spec: TableSpec) {
        self.spec = spec
        rows = EventBatch(schema: spec.schema)
        for c in spec.indexes { indexes[c] = [:] }
    }

    // MARK: Keys

    /// The key word of a value: strings as interned ids (`inserting` adds unknown ones; a lookup of
    /// an unknown string is nil: no row can match), -0.0 as 0.0, null as a reserved word.
    func key(_ batch: EventBatch, _ column: Int, _ row: Int, type: AttributeType, inserting: Bool) -> UInt64? {
        if batch.isNull(column, row) { return GroupTable.nullPart }
        let slot = batch.columns[column][row]
        switch type {
        case .string, .object:
            return batch.withStringBytes(column, row) { bytes -> UInt64? in
                if inserting { return UInt64(interner.id(bytes)) }
                return interner.find(bytes).map { UInt64($0) }
            }
        case .float, .double:
            return Double(bitPattern: slot) == 0 ? 0 : slot
        default:
            return slot
        }
    }

    private lazy var probeBatches: [EventBatch] = schema.attributes.map {
        EventBatch(schema: StreamSchema(name: "probe", attributes: [Attribute(name: "k", type: $0.type)]), capacity: 1)
    }

    /// The key word of `value` looked up in `column`; `.some(nil)` when no row can hold it, nil when
    /// the value does not fit the column's type (then callers scan).
    func probeKey(_ value: Value, column: Int) -> UInt64?? {
        var batch = probeBatches[column]
        batch.removeAll()
        guard batch.append(timestamp: 0, values: [value]) else { return nil }
        let key = self.key(batch, 0, 0, type: schema.attributes[column].type, inserting: false)
        probeBatches[column] = batch
        return .some(key)
    }

    /// Keys of the first `n` results of `program` (just evaluated over `batch`, typed as `column`)
    /// for lookups: nil where no row can match. Reads the result slots directly.
    func probeKeys(_ program: VectorProgram, batch: EventBatch, count n: Int, column: Int) -> [UInt64?] {
        let type = schema.attributes[column].type
        let nulls = program.resultNulls
        let values = program.resultValues
        var out = [UInt64?](repeating: nil, count: n)
        for i in 0..<n {
            if let nulls, nulls[i] != 0 {
                out[i] = GroupTable.nullPart
                continue
            }
            switch type {
            case .string, .object:
                out[i] = program.withResultBytes(i, batch: batch) { interner.find($0) }.map { UInt64($0) }
            case .float, .double:
                out[i] = Double(bitPattern: values[i]) == 0 ? 0 : values[i]
            default:
                out[i] = values[i]
            }
        }
        return out
    }

    /// The live row holding primary key `key` (single-column keys).
    @inline(__always)
    func primaryRow(_ key: UInt64) -> Int32? {
        if stringPrimary {
            // Interned ids are dense: an array, no hashing.
            guard key < UInt64(primaryById.count) else { return nil }
            let row = primaryById[Int(key)]
            return row < 0 ? nil : row
        }
        return primary[key]
    }

    /// Whether `column` alone is the primary key.
    func isPrimaryKey(_ column: Int) -> Bool { spec.primaryKey == [column] }

    private func ownKey(_ row: Int, _ column: Int) -> UInt64 {
        key(rows, column, row, type: schema.attributes[column].type, inserting: true)!
    }

    /// Live rows whose `column` equals the key, in insertion order; nil when the column has no index.
    func rows(matching key: UInt64?, column: Int) -> [Int32]? {
        if spec.primaryKey == [column] {
            guard let key, let row = primary[key] else { return [] }
            return [row]
        }
        guard let index = indexes[column] else { return nil }
        guard let key else { return [] }
        return index[key] ?? []
    }

    /// Whether `column` has an index a probe can use.
    func isIndexed(_ column: Int) -> Bool { spec.primaryKey == [column] || indexes[column] != nil }

    // MARK: Changes

    /// Appends rows of `batch` (the table's schema); returns how many were rejected.
    @discardableResult
    func insert(_ batch: EventBatch) -> Int {
        var rejected = 0
        for r in 0..<batch.count {
            guard liveCount < Table.rowsMax else {
                rejected += 1
                continue
            }
            if !spec.primaryKey.isEmpty {
                let parts = spec.primaryKey.map { key(batch, $0, r, type: schema.attributes[$0].type, inserting: true)! }
                if parts.count == 1 ? primary[parts[0]] != nil : primaryMulti[parts] != nil {
                    rejected += 1
                    continue
                }
            }
            let row = rows.count
            rows.appendRow(from: batch, row: r)
            alive.append(true)
            liveCount += 1
            indexRow(row)
            if store != nil { pendingChanges.append(.insert(rows.row(row))) }
        }
        rejectedCount += rejected
        return rejected
    }

    private func indexRow(_ row: Int) {
        if !spec.primaryKey.isEmpty {
            let parts = spec.primaryKey.map { ownKey(row, $0) }
            if parts.count == 1 { primary[parts[0]] = Int32(row) } else { primaryMulti[parts] = Int32(row) }
            if stringPrimary, parts[0] != GroupTable.nullPart {
                let id = Int(parts[0])
                if id >= primaryById.count { primaryById.append(contentsOf: repeatElement(-1, count: id + 1 - primaryById.count)) }
                primaryById[id] = Int32(row)
            }
        }
        for c in spec.indexes { indexes[c]![ownKey(row, c), default: []].append(Int32(row)) }
    }

    func delete(_ victims: [Int32]) {
        guard !victims.isEmpty else { return }
        for row in victims where alive[Int(row)] {
            alive[Int(row)] = false
            liveCount -= 1
            if store != nil { pendingChanges.append(.delete(rows.row(Int(row)))) }
        }
        if liveCount * 2 < alive.count || liveCount == 0 { compact() } else { reindex() }
    }

    /// Sets `values[k]` into column `columns[k]` of `row`; returns false when a primary key would
    /// then appear twice (the row is left unchanged).
    func update(_ row: Int32, columns: [Int], values: [Value]) -> Bool {
        let old = rows.row(Int(row))
        for (c, v) in zip(columns, values) { rows.set(c, Int(row), v) }
        if !spec.primaryKey.isEmpty, columns.contains(where: spec.primaryKey.contains) {
            let parts = spec.primaryKey.map { ownKey(Int(row), $0) }
            let holder = parts.count == 1 ? primary[parts[0]] : primaryMulti[parts]
            if let holder, holder != row, alive[Int(holder)] {
                for (c, v) in old.enumerated() { rows.set(c, Int(row), v) }
                rejectedCount += 1
                return false
            }
        }
        if columns.contains(where: { spec.primaryKey.contains($0) || indexes[$0] != nil }) { reindex() }
        if store != nil { pendingChanges.append(.update(old: old, new: rows.row(Int(row)))) }
        return true
    }

    /// Live row numbers in insertion order.
    var liveRows: [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(liveCount)
        for (i, a) in alive.enumerated() where a { out.append(Int32(i)) }
        return out
    }

    /// Drops dead rows (and the strings only they held), keeping order; rebuilds the indexes.
    private func compact() {
        let live = liveRows
        var fresh = EventBatch(schema: schema)
        fresh.appendRows(from: rows, rows: live)
        rows = fresh
        alive = Array(repeating: true, count: live.count)
        reindex()
    }

    private func reindex() {
        primary.removeAll(keepingCapacity: true)
        primaryMulti.removeAll(keepingCapacity: true)
        primaryById.removeAll(keepingCapacity: true)
        for c in spec.indexes { indexes[c] = [:] }
        for row in 0..<rows.count where alive[row] { indexRow(row) }
    }

    /// Takes the changes to hand to the store (clears them).
    func takePendingChanges() -> [TableChange] {
        defer { pendingChanges.removeAll(keepingCapacity: true) }
        return pendingChanges
    }

    /// Replaces the rows with the store's (nothing is recorded as a change). Rows that do not fit
    /// the table's attributes, or repeat a primary key, are skipped and returned as a count.
    @discardableResult
    func loadFromStore() -> Int {
        guard let store else { return 0 }
        let fresh = Table(spec: spec)
        var batch = EventBatch(schema: schema)
        var skipped = 0
        for values in store.load() {
            if values.count != schema.attributes.count || !batch.append(timestamp: 0, values: values) { skipped += 1 }
        }
        skipped += fresh.insert(batch)
        fresh.rejectedCount = rejectedCount
        adopt(fresh)
        needsLoad = false
        pendingChanges.removeAll()
        return skipped
    }

    /// Takes the rows and indexes of `other` (a table of the same spec, from a snapshot). A stored
    /// table keeps none of them: it reloads from its store before the next batch.
    func replaceContents(with other: Table) {
        if store != nil {
            needsLoad = true
            pendingChanges.removeAll()
            return
        }
        adopt(other)
    }

    private func adopt(_ other: Table) {
        rows = other.rows
        alive = other.alive
        liveCount = other.liveCount
        rejectedCount = other.rejectedCount
        interner = other.interner
        primary = other.primary
        primaryById = other.primaryById
        primaryMulti = other.primaryMulti
        indexes = other.indexes
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        // A stored table's rows are in its store: the snapshot holds none of them.
        if store != nil {
            w.int(0)
            w.int(rejectedCount)
            return
        }
        w.int(liveCount)
        for row in 0..<rows.count where alive[row] { w.row((rows.timestamps[row], rows.row(row))) }
        w.int(rejectedCount)
    }

    /// A table holding what `write` wrote (this one is not touched).
    func decoded(from r: inout SnapshotReader) throws(SnapshotError) -> Table {
        let fresh = Table(spec: spec)
        let n = try r.int()
        guard n >= 0, n <= Table.rowsMax else { throw SnapshotError("table '\(schema.name)' row count out of range") }
        for _ in 0..<n {
            let (t, values) = try r.row()
            guard values.count == schema.attributes.count, fresh.rows.append(timestamp: t, values: values) else {
                throw SnapshotError("table '\(schema.name)' row does not match its attributes")
            }
            fresh.alive.append(true)
        }
        fresh.liveCount = n
        fresh.rejectedCount = try r.int()
        fresh.reindex()
        return fresh
    }
}
