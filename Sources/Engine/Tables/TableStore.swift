/// A change to a table's rows, as a store applies it. Rows are the table's values in attribute order.
public enum TableChange: Sendable, Equatable {
    /// A new row (with a primary key: an upsert, so that replaying it is harmless).
    case insert([Value])
    /// A row removed, as it was.
    case delete([Value])
    /// A row changed in place.
    case update(old: [Value], new: [Value])
}

/// Where the rows of a `@store(type='…')` table persist.
///
/// The engine keeps a full copy of the table in memory, so reads and joins never leave the engine
/// thread; it loads that copy through `load` and hands over what each batch changed through
/// `record`. Both run on the engine thread (or the thread that owns a stopped runtime).
public protocol TableStore: AnyObject {
    /// Every row of the table. Called before the first batch that touches the runtime after the
    /// store was attached or the runtime restored; may block (it reads a database).
    func load() -> [[Value]]
    /// The changes of one engine batch, in order. Must not drop them: a store whose queue is full
    /// blocks here (backpressure on the engine) until it has room.
    func record(_ changes: [TableChange])
}

/// `@store(type='rdbms', datasource='NAME', table.name='…')` on a table, as compiled.
struct TableStoreSpec: Sendable {
    /// The store type, lowercased (only `rdbms`).
    var type: String
    /// The annotation's options, keys lowercased (`datasource`, `table.name`, …).
    var options: [String: String]
    var position: SourcePosition
}

/// A table whose rows live in a store, described for whoever provides the store (the control plane).
public struct StoredTable: Sendable {
    /// The Siddhi table name.
    public let name: String
    public let attributes: [Attribute]
    /// `@PrimaryKey` attribute names (empty: none).
    public let primaryKey: [String]
    /// `@Index` attribute names.
    public let indexes: [String]
    /// The store type, lowercased (`rdbms`).
    public let type: String
    /// The `@store` options, keys lowercased.
    public let options: [String: String]
    /// Where the `@store` annotation is.
    public let position: SourcePosition
}

extension SiddhiApp {
    /// The tables with a `@store` annotation, in definition order.
    public var storedTables: [StoredTable] {
        tables.compactMap { t in
            guard let store = t.store else { return nil }
            let names = t.schema.attributes.map(\.name)
            return StoredTable(name: t.schema.name, attributes: t.schema.attributes, primaryKey: t.primaryKey.map { names[$0] },
                               indexes: t.indexes.map { names[$0] }, type: store.type, options: store.options, position: store.position)
        }
    }
}

extension Compiler {
    /// `@store(type='rdbms', datasource='NAME'[, table.name='…'])`; nil after reporting an error.
    mutating func storeSpec(_ annotation: Annotation, table: String) -> TableStoreSpec? {
        var options: [String: String] = [:]
        for element in annotation.elements {
            guard let key = element.key else {
                diagnostics.error(element.position, "@store takes key='value' options only")
                return nil
            }
            options[key.lowercased()] = element.value
        }
        guard let type = options["type"]?.lowercased() else {
            diagnostics.error(annotation.position, "@store needs a type: @store(type='rdbms', datasource='NAME')")
            return nil
        }
        guard type == "rdbms" else {
            diagnostics.error(annotation.position, "@store(type='\(type)') is not supported (supported: rdbms)")
            return nil
        }
        if options["jdbc.url"] != nil {
            diagnostics.error(annotation.position, "@store(type='rdbms') on '\(table)': give datasource='NAME' (a wso2.datasources entry of deployment.yaml), not jdbc.url")
            return nil
        }
        guard let datasource = options["datasource"], !datasource.isEmpty else {
            diagnostics.error(annotation.position, "@store(type='rdbms') on '\(table)' needs datasource='NAME' (a wso2.datasources entry of deployment.yaml)")
            return nil
        }
        if let name = options["table.name"], name.isEmpty || name.contains("`") || name.utf8.count > 64 {
            diagnostics.error(annotation.position, "@store table.name '\(name)' is not a usable table name (1…64 characters, no backquote)")
            return nil
        }
        return TableStoreSpec(type: type, options: options, position: annotation.position)
    }
}
