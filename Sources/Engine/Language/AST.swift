/// The syntax tree of a Siddhi app, as parsed and before any semantic check.

/// `@name(key='value', 'positional', @nested(...))`. App annotations are named `app:name` etc.
public struct Annotation: Sendable {
    public struct Element: Sendable {
        public var key: String?
        public var value: String
        public var position: SourcePosition
    }
    public var name: String
    public var elements: [Element]
    public var nested: [Annotation]
    public var position: SourcePosition

    /// The value of `key` (case-insensitive), or of the first positional element when key is nil.
    public func value(_ key: String?) -> String? {
        if let key {
            let lower = key.lowercased()
            return elements.first { $0.key?.lowercased() == lower }?.value
        }
        return elements.first { $0.key == nil }?.value
    }

    public func nested(_ name: String) -> Annotation? {
        let lower = name.lowercased()
        return nested.first { $0.name.lowercased() == lower }
    }
}

enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", modulo = "%"
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case and, or

    var isArithmetic: Bool { [.add, .subtract, .multiply, .divide, .modulo].contains(self) }
    var isComparison: Bool { [.equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual].contains(self) }
}

indirect enum Expression {
    case literal(Value, SourcePosition)
    case attribute(stream: String?, name: String, SourcePosition)
    case binary(BinaryOperator, Expression, Expression, SourcePosition)
    case negate(Expression, SourcePosition)
    case not(Expression, SourcePosition)
    case isNull(Expression, SourcePosition)
    case function(namespace: String?, name: String, arguments: [Expression], SourcePosition)

    var position: SourcePosition {
        switch self {
        case .literal(_, let p), .attribute(_, _, let p), .binary(_, _, _, let p), .negate(_, let p),
             .not(_, let p), .isNull(_, let p), .function(_, _, _, let p):
            return p
        }
    }
}

struct AttributeNode {
    var name: String
    var typeName: String
    var position: SourcePosition
    var typePosition: SourcePosition
}

struct StreamDefinitionNode {
    var name: String
    var attributes: [AttributeNode]
    var annotations: [Annotation]
    var position: SourcePosition
}

/// Which events a query inserts: Siddhi's `insert [current|expired|all] events into`.
public enum OutputEventType: Sendable {
    case current, expired, all
}

struct SelectItem {
    var expression: Expression
    var alias: String?
    var position: SourcePosition
}

/// A stream handler after the input stream: `[filter]` today; `#window.x(...)` and functions later.
enum StreamHandlerNode {
    case filter(Expression)
    case window(namespace: String?, name: String, arguments: [Expression], SourcePosition)
}

/// One input of a join: `Stream[filter]#window.x(...) as alias`.
struct InputSideNode {
    var stream: String
    var position: SourcePosition
    var handlers: [StreamHandlerNode]
    var alias: String?
}

enum JoinKind: String, Sendable {
    case inner = "join", leftOuter = "left outer join", rightOuter = "right outer join", fullOuter = "full outer join"
}

/// `from L … join R … on condition`: the query's handlers and input are replaced by two sides.
struct JoinNode {
    var left: InputSideNode
    var right: InputSideNode
    var kind: JoinKind
    var on: Expression?
    /// 0: only left arrivals trigger; 1: only right arrivals; nil: both.
    var unidirectional: Int?
    var position: SourcePosition
    /// `within a[, b] per p`: reading an aggregation (see `AggregationSyntax.swift`).
    var retrieval: AggregationRetrievalNode? = nil
}

/// `define trigger T at 'start' | at every 5 sec | at '<cron>'`.
struct TriggerNode {
    enum When { case start, every(Int64), cron(String, SourcePosition) }
    var name: String
    var when: When
    var position: SourcePosition
}

/// One state of a pattern or sequence: `alias=Stream[condition]`, optionally counted
/// (`<2:5>`, `+`, `*`, `?`), or an absence `not Stream[condition] [for T]` (alias "").
struct PatternStateNode {
    var alias: String
    var stream: String
    var condition: Expression?
    var position: SourcePosition
    /// Events the state collects: 1...1 for a plain state; `maxCount` -1 means no bound.
    var minCount = 1
    var maxCount = 1
    /// Written with a count or quantifier (then `e1[0].x`, `e1[last].x` index its events).
    var isCounting = false
    /// `not Stream[condition]`: the state is met when no such event arrives (for `forMs`).
    var isAbsent = false
    var forMs: Int64? = nil
}

/// One step of a pattern or sequence: one state, or two joined by `and` / `or`, with `every`.
/// `states` index `PatternNode.states`.
struct PatternElementNode {
    var states: [Int]
    var logical: BinaryOperator? = nil
    var every = false
    var position: SourcePosition
}

/// `from every e1=A[…] -> e2=B[…] within 5 sec` (pattern) or `from every e1=A, e2=B` (sequence).
struct PatternNode {
    /// Every state in order (a logical step contributes two).
    var states: [PatternStateNode]
    var elements: [PatternElementNode] = []
    var isSequence: Bool
    var every: Bool
    var withinMs: Int64?
    var position: SourcePosition
    /// `every (e1=A -> e2=B)`: the steps (indexes into `elements`) each `every` group spans.
    var everyGroups: [PatternGroupNode] = []
}

/// `every (step -> step …)`: elements `first...last` restart together once `last` is met.
struct PatternGroupNode {
    var first: Int
    var last: Int
    var position: SourcePosition
}

/// What a query does with its output: insert into a stream or table, or change a table.
enum OutputActionNode {
    case insert
    case delete(on: Expression)
    case update(set: [(attribute: String, value: Expression, position: SourcePosition)], on: Expression)
    case updateOrInsert(set: [(attribute: String, value: Expression, position: SourcePosition)], on: Expression)
}

struct QueryNode {
    var annotations: [Annotation]
    var inputStream: String
    var inputPosition: SourcePosition
    var handlers: [StreamHandlerNode]
    var join: JoinNode? = nil
    var pattern: PatternNode? = nil
    var action: OutputActionNode = .insert
    /// nil means `select *` (also when select is omitted).
    var selection: [SelectItem]?
    var groupBy: [Expression] = []
    var having: Expression? = nil
    var orderBy: [(Expression, ascending: Bool)] = []
    var limit: Expression? = nil
    var offset: Expression? = nil
    var outputRate: OutputRateNode? = nil
    var outputEventType: OutputEventType
    var target: String
    var targetPosition: SourcePosition
    var position: SourcePosition
    /// The index of the partition (in `AppNode.partitions`) the query belongs to.
    var partition: Int? = nil
}

/// One key of `partition with (…)`: `expression of S`, or `cond as 'label' or … of S`.
struct PartitionKeyNode {
    enum Kind {
        case value(Expression)
        case range([(Expression, String, SourcePosition)])
    }
    var stream: String
    var streamPosition: SourcePosition
    var kind: Kind
    var position: SourcePosition
}

/// `partition with (…) begin … end`: its queries are `AppNode.queries[queries]`.
struct PartitionNode {
    var keys: [PartitionKeyNode]
    var queries: Range<Int>
    var annotations: [Annotation]
    var position: SourcePosition
}

struct AppNode {
    var annotations: [Annotation] = []
    var streams: [StreamDefinitionNode] = []
    var tables: [StreamDefinitionNode] = []
    var triggers: [TriggerNode] = []
    var queries: [QueryNode] = []
    var partitions: [PartitionNode] = []
    var windows: [WindowDefinitionNode] = []
    var aggregations: [AggregationNode] = []
}

/// `define window W (attributes) length(10) [output all|current|expired events]`.
struct WindowDefinitionNode {
    var definition: StreamDefinitionNode
    /// A `.window` handler.
    var window: StreamHandlerNode
    var outputEventType: OutputEventType
}

/// `output [all|first|last] every N events` (time-based and snapshot rates are parsed to report them).
struct OutputRateNode {
    enum Mode: String { case all, first, last, snapshot }
    var mode: Mode
    var events: Int?
    var timeMs: Int64?
    var position: SourcePosition
}
