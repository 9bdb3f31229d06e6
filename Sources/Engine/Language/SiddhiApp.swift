/// An `@source` or `@sink` annotation of a stream, as the node needs it to open transports.
public struct TransportSpec: Sendable {
    /// `tcp`, `log`, `http`, ... (lowercased).
    public var type: String
    /// The annotation's key/value pairs as written (`port`, `context`, `prefix`, `receiver.url`, ...).
    public var options: [String: String]
    /// The nested `@map(type=...)`, if any: its type (lowercased) and options.
    public var mapType: String?
    public var mapOptions: [String: String]
    public var streamName: String
    public var schema: StreamSchema
    public var position: SourcePosition

    /// The nested `@map` as one value: its type (lowercased) and options; nil without `@map`.
    public var map: (type: String, options: [String: String])? {
        mapType.map { ($0, mapOptions) }
    }

    /// The option `key`, matched exactly first, then case-insensitively.
    public func option(_ key: String) -> String? {
        if let v = options[key] { return v }
        let lower = key.lowercased()
        return options.first { $0.key.lowercased() == lower }?.value
    }
}

/// A compiled, validated Siddhi app: the input to `AppRuntime`.
public final class SiddhiApp: Sendable {
    public let name: String
    public let fileName: String
    public let description: String?
    /// `@App:playback`: the clock follows event timestamps.
    public let isPlayback: Bool
    /// Every stream, defined or inferred from `insert into`, in definition order.
    public let streams: [StreamSchema]
    public let sources: [TransportSpec]
    public let sinks: [TransportSpec]
    /// Query names (`@info(name=...)`, else `query<N>`), in order.
    public let queryNames: [String]
    let queries: [QueryPlan]
    /// In-memory tables (`define table`), in definition order.
    let tables: [TableSpec]
    /// Triggers (`define trigger`), in definition order.
    let triggers: [TriggerSpec]
    /// Incremental aggregations (`define aggregation`), in definition order.
    let aggregations: [AggregationSpec]
    /// Partitions (`partition with … begin … end`); their queries carry the partition's index.
    let partitions: [PartitionSpec]
    /// Named windows (`define window`): streams their filling queries insert into; not outputs.
    public let windowNames: Set<String>

    init(name: String, fileName: String, description: String?, isPlayback: Bool, streams: [StreamSchema],
         sources: [TransportSpec], sinks: [TransportSpec], queries: [QueryPlan], tables: [TableSpec] = [],
         triggers: [TriggerSpec] = [], partitions: [PartitionSpec] = [], windowNames: Set<String> = [],
         aggregations: [AggregationSpec] = []) {
        self.partitions = partitions
        self.windowNames = windowNames
        self.tables = tables
        self.aggregations = aggregations
        self.triggers = triggers
        self.name = name
        self.fileName = fileName
        self.description = description
        self.isPlayback = isPlayback
        self.streams = streams
        self.sources = sources
        self.sinks = sinks
        self.queries = queries
        self.queryNames = queries.map(\.name)
    }

    public func stream(named name: String) -> StreamSchema? { streams.first { $0.name == name } }

    /// Parses and checks a Siddhi app, reporting every error found as `file:line:column: error: …`.
    public static func compile(source: String, fileName: String) throws(SiddhiCompileErrors) -> SiddhiApp {
        let (ast, parseDiagnostics) = Parser.parse(source, fileName: fileName)
        var compiler = Compiler(diagnostics: parseDiagnostics, fileName: fileName)
        let app = compiler.compile(ast)
        let errors = compiler.diagnostics.sorted
        if !errors.isEmpty { throw SiddhiCompileErrors(errors) }
        return app
    }
}

/// `partition with (…)`: how each partitioned stream's events map to partition keys.
struct PartitionSpec: Sendable {
    enum Keyer: Sendable {
        /// Value partition: the key is the expression's value over the stream's event.
        case value(TypedExpression)
        /// Range partition: an event goes to every label whose condition holds (none: dropped).
        case range([(condition: TypedExpression, label: Int)])
    }
    var keyers: [String: Keyer]
    /// Range labels, dense ids in first-written order (empty for value partitions).
    var labels: [String]
}

/// `define trigger`: a stream `(triggered_time long)` the engine feeds by itself.
struct TriggerSpec: Sendable {
    enum When: Sendable { case start, every(Int64), cron(CronSchedule) }
    var stream: String
    var when: When
}

/// `define table`: an in-memory table with its keys.
struct TableSpec: Sendable {
    var schema: StreamSchema
    /// `@PrimaryKey` columns (empty: none).
    var primaryKey: [Int]
    /// `@Index` columns, one index each.
    var indexes: [Int]
    /// `@store(…)`: the rows persist in that store (the table keeps a copy in memory).
    var store: TableStoreSpec? = nil
}

/// One input of a join: a stream (with filter and window) or a table.
struct JoinSide: Sendable {
    var name: String
    var isTable: Bool
    var schema: StreamSchema
    var filter: TypedExpression?
    /// Sliding windows only (length, time, timeLength, externalTime); nil holds nothing.
    var window: WindowSpec?
    /// Whether this side's arrivals join (not a table, and not the other side's unidirectional).
    var triggers: Bool
    /// Whether this side's arrivals with no match still go out, with nulls for the other side.
    var keepsUnmatched: Bool
}

/// `from L join R on …`: the selector of the owning `QueryPlan` runs over the pair schema (left
/// attributes, then right attributes).
struct JoinPlan: Sendable {
    var left: JoinSide
    var right: JoinSide
    var kind: JoinKind
    /// Over the pair schema; nil joins every pair.
    var on: TypedExpression?
    /// Per side: when the other side is a table and `on` requires `table.column == expression` of
    /// this side, that (table column, probe over the pair schema) for an index lookup.
    var probes: [(column: Int, probe: TypedExpression)?]
}

/// One state of a pattern: its stream and its condition.
struct PatternState: Sendable {
    var alias: String
    var stream: String
    var schema: StreamSchema
    /// Over the pattern schema (every state's attributes in order); nil: any event.
    var condition: TypedExpression?
    /// The condition over the stream's own schema, when it reads only the state's own event (a
    /// plain filter).
    var streamCondition: TypedExpression?
    /// Events the state collects (1...1 plain; `maxCount` -1: no bound but `PatternMachine.countMax`).
    var minCount = 1
    var maxCount = 1
    /// `not Stream[…] [for T]`.
    var isAbsent = false
    var forMs: Int64? = nil
}

/// One step of a pattern: one state or two joined by `and` / `or`; `every` restarts it after
/// each match.
struct PatternElement: Sendable, Equatable {
    var states: [Int]
    /// `.and` or `.or` for two states.
    var logical: BinaryOperator?
    var every: Bool
    /// On the last step of an `every (…)` group: the group's first step, where a copy of the
    /// partial match restarts once this step is met (the group re-arms only when it completes).
    var everyGroupFirst: Int? = nil
}

/// Which captured event of a state a group of pattern-schema columns holds.
enum PatternIndex: Sendable, Equatable, Hashable {
    /// The k-th event (`e1[0]` is the first).
    case first(Int)
    /// The k-th from the end (`e1[last]` is `.last(0)`, `e1[last-1]` `.last(1)`).
    case last(Int)
}

/// `from every e1=A -> e2=B … within T` (or `,` for a sequence): the owning `QueryPlan`'s selector
/// runs over the pattern schema: `#0.x` … for each state's attributes (a counting state's last
/// event), then one group per extra indexed view (`views`).
struct PatternPlan: Sendable {
    var states: [PatternState]
    var isSequence: Bool
    var every: Bool
    var withinMs: Int64?
    var elements: [PatternElement] = []
    /// Pattern-schema column groups after the per-state ones: (state, which of its events).
    var views: [(state: Int, index: PatternIndex)] = []

    /// A chain of at most `PatternQuery.statesMax` plain states with `every` at most on the first:
    /// the batched linear matcher (`PatternQuery`) runs it; anything else runs on `PatternMachine`.
    var isLinear: Bool {
        views.isEmpty && elements.count == states.count && states.count <= PatternQuery.statesMax
            && elements.enumerated().allSatisfy { k, e in e.logical == nil && (k == 0 || !e.every) && e.everyGroupFirst == nil }
            && states.allSatisfy { !$0.isAbsent && $0.minCount == 1 && $0.maxCount == 1 }
    }

    /// What the snapshot fingerprint records of the pattern's shape.
    var shape: String {
        let s = states.map { "\($0.alias)=\($0.stream)<\($0.minCount):\($0.maxCount)>\($0.isAbsent ? "not\(String(describing: $0.forMs))" : "")" }
        let e = elements.map { "\($0.states)\($0.logical?.rawValue ?? "")\($0.every ? "every" : "")\($0.everyGroupFirst.map { "every(\($0)…)" } ?? "")" }
        return "\(s)|\(e)|\(views.map { "\($0.state)\($0.index)" })"
    }
}

/// What a query does to the table it names.
enum TableAction: Sendable {
    case insert
    /// Conditions and values are over the pair (query output, then table attributes).
    case delete(on: TypedExpression)
    case update(set: [(column: Int, value: TypedExpression)], on: TypedExpression)
    case updateOrInsert(set: [(column: Int, value: TypedExpression)], on: TypedExpression)
}

/// One query after checking: what it reads, filters, computes and where it inserts.
struct QueryPlan: Sendable {
    var name: String
    var input: StreamSchema
    var filter: TypedExpression?
    /// A filter written after the window (`#window.length(5)[c]`, or on a named window's reader):
    /// it filters the events the window emits, current and expired, not what the window holds.
    var postFilter: TypedExpression? = nil
    /// One expression per output attribute, in output order (`.aggregate` for aggregate items).
    var projections: [TypedExpression]
    var output: StreamSchema
    var outputEventType: OutputEventType
    var window: WindowSpec? = nil
    var aggregates: [AggregatePlan] = []
    /// Input columns of `group by`.
    var groupBy: [Int] = []
    /// Condition over the output attributes.
    var having: TypedExpression? = nil
    /// Output column and ascending flag per `order by` key.
    var orderBy: [(column: Int, ascending: Bool)] = []
    var limit: Int? = nil
    var offset: Int? = nil
    var outputRate: OutputRate? = nil
    /// Set for joins: `input` is then the pair schema.
    var join: JoinPlan? = nil
    /// Set for patterns and sequences: `input` is then the pattern schema.
    var pattern: PatternPlan? = nil
    /// The partition (index into `SiddhiApp.partitions`) whose instances each run this query.
    var partition: Int? = nil
    /// Set when the query writes a table (then `output` is the select's shape, not a stream).
    var table: (name: String, action: TableAction, probe: (column: Int, probe: TypedExpression)?)? = nil
    /// Set for joins reading an aggregation (`within … per …`): `input` is then the pair schema.
    var aggregationJoin: AggregationJoinPlan? = nil
    /// Set for `from S#str:tokenize(…)`: `input` is then S's attributes plus `token`, and each
    /// batch of S is expanded to one event per token before the query runs.
    var tokenize: TokenizePlan? = nil

    /// Whether the query keeps state (window, aggregates) or shapes its output chunk.
    var isStateful: Bool {
        window != nil || !aggregates.isEmpty || !groupBy.isEmpty || having != nil || !orderBy.isEmpty || limit != nil
            || offset != nil || outputRate != nil
    }
}

/// `output all|first|last every N events`, `output all|first|last every T`, `output snapshot every T`.
struct OutputRate: Sendable, Equatable {
    enum Mode: Sendable, Equatable { case all, first, last, snapshot }
    var mode: Mode
    /// Per-event rates: the period in rows.
    var events: Int? = nil
    /// Time-based rates: the period in milliseconds.
    var periodMs: Int64? = nil
}

/// A `#window.…(…)` of a query.
enum WindowSpec: Sendable, Equatable {
    case length(Int)
    case lengthBatch(Int)
    case time(Int64)
    case timeBatch(Int64)
    /// Sliding by a long attribute (column) holding event time.
    case externalTime(column: Int, Int64)
    /// Tumbling by a long attribute; periods aligned to `start` when given.
    case externalTimeBatch(column: Int, Int64, start: Int64?)
    case timeLength(Int64, Int)
    /// Each input chunk is one batch.
    case batch
    /// Holds each event for the time, then releases it as a current event.
    case delay(Int64)
    /// Per-key sessions: a session ends `gap` after its last event and expires `latency` later.
    case session(gapMs: Int64, keyColumn: Int?, latencyMs: Int64)
    /// Lossy Counting: events of keys whose frequency is at least support − error pass.
    case lossyFrequent(support: Double, error: Double, keyColumns: [Int])
    /// Misra–Gries: the latest event of each of at most N most frequent keys.
    case frequent(Int, keyColumns: [Int])
    /// The N smallest (or largest) events by the given attributes; the one pushed out expires.
    case sort(Int, keys: [(column: Int, ascending: Bool)])
    /// Tumbling on a Quartz cron schedule: at each fire the held events go out (no RESET; the previous
    /// batch expires); fires with nothing held emit nothing.
    case cron(CronSchedule)
    /// Holds events while the condition holds; the oldest expire until it holds again.
    case expression(WindowCondition)
    /// Holds events while the condition holds; the arrival that breaks it flushes the batch. With
    /// `streamCurrent`, arrivals go out at once and only their expiry waits for the flush.
    case expressionBatch(WindowCondition, includeTriggering: Bool, streamCurrent: Bool)

    static func == (a: WindowSpec, b: WindowSpec) -> Bool { String(describing: a) == String(describing: b) }
}

/// The aggregate functions of Siddhi's select.
enum AggregateKind: String, Sendable, CaseIterable {
    case sum, count, avg, min, max, distinctCount, stdDev, minForever, maxForever, and, or, unionSet
}

/// One aggregate of a query: its function, its argument and its result type.
struct AggregatePlan: Sendable {
    var kind: AggregateKind
    var argument: TypedExpression?
    var outputType: AttributeType
}
