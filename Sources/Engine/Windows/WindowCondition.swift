/// The condition of `#window.expression('…')` and `#window.expressionBatch('…')`: a bool expression
/// over the window, written as a string in Siddhi. It may use
///
/// - attributes of the event being judged (`price`), of the oldest event held (`first.price`) and of
///   the newest (`last.price`);
/// - `eventTimestamp()`, `eventTimestamp(first)`, `eventTimestamp(last)`;
/// - the aggregates `count()`, `sum(a)`, `avg(a)`, `min(a)`, `max(a)` over the events the window
///   aggregates (an attribute as the argument);
/// - every operator and built-in function of a select.
///
/// It compiles to a vector program over a one-row "state" batch whose columns are the event, the
/// first and the last event, the aggregates and the three timestamps; these windows run row by row.
struct WindowCondition: Sendable, CustomStringConvertible {
    enum AggregateFunction: String, Sendable { case count, sum, avg, min, max }

    struct Aggregate: Sendable {
        var function: AggregateFunction
        /// Input column of the argument (nil for count()).
        var column: Int?
        var type: AttributeType
        /// Whether the argument is int or long (sums stay integers).
        var integerArgument = false
    }

    var text: String
    var condition: TypedExpression
    var state: StreamSchema
    var aggregates: [Aggregate]
    var inputWidth: Int

    var description: String { "'\(text)'" }
}

extension Compiler {
    /// Compiles the string argument of an expression window; nil after reporting errors at `argument`.
    mutating func windowCondition(_ argument: Expression, window: String, input: StreamSchema) -> WindowCondition? {
        guard case .literal(.string(let text), let position) = argument else {
            diagnostics.error(argument.position, "window.\(window) needs its condition as a string constant, e.g. 'count() <= 10'")
            return nil
        }
        func report(_ errors: [SiddhiError]) {
            for e in errors {
                diagnostics.error(position, "in window.\(window) condition '\(text)' at column \(e.position.column): \(e.message)")
            }
        }
        let (parsed, parseDiagnostics) = Parser.parseExpression(text, fileName: diagnostics.fileName)
        guard let parsed else {
            report(parseDiagnostics.errors)
            return nil
        }
        var aggregates: [WindowCondition.Aggregate] = []
        var rewriteErrors: [SiddhiError] = []
        func fail(_ p: SourcePosition, _ message: String) -> Expression {
            rewriteErrors.append(SiddhiError(fileName: diagnostics.fileName, position: p, message: message))
            return .literal(.null, p)
        }
        // Rewrites references to the state batch's synthetic columns.
        func rewrite(_ e: Expression) -> Expression {
            switch e {
            case .literal: return e
            case .attribute(let stream, let name, let p):
                if let stream, stream == "first" || stream == "last" { return .attribute(stream: nil, name: "\(stream).\(name)", p) }
                return e
            case .binary(let op, let a, let b, let p): return .binary(op, rewrite(a), rewrite(b), p)
            case .negate(let a, let p): return .negate(rewrite(a), p)
            case .not(let a, let p): return .not(rewrite(a), p)
            case .isNull(let a, let p): return .isNull(rewrite(a), p)
            case .function(let namespace, let name, let arguments, let p):
                let lower = name.lowercased()
                if namespace == nil, lower == "eventtimestamp" {
                    if arguments.isEmpty { return .attribute(stream: nil, name: "#ts", p) }
                    if arguments.count == 1, case .attribute(nil, let which, _) = arguments[0], which == "first" || which == "last" {
                        return .attribute(stream: nil, name: which == "first" ? "#tsFirst" : "#tsLast", p)
                    }
                    return fail(p, "eventTimestamp takes no argument, 'first' or 'last'")
                }
                if namespace == nil, let function = WindowCondition.AggregateFunction(rawValue: lower) {
                    let k = aggregates.count
                    if function == .count {
                        guard arguments.isEmpty else { return fail(p, "count() takes no argument") }
                        aggregates.append(.init(function: .count, column: nil, type: .long))
                        return .attribute(stream: nil, name: "#agg\(k)", p)
                    }
                    guard arguments.count == 1, case .attribute(_, let attributeName, let ap) = arguments[0] else {
                        return fail(p, "\(name)() takes one attribute")
                    }
                    guard let column = input.index(of: attributeName) else {
                        return fail(ap, "stream '\(input.name)' has no attribute '\(attributeName)'")
                    }
                    let type = input.attributes[column].type
                    guard type.isNumeric else { return fail(ap, "\(name)() needs a number, got \(type)") }
                    let result: AttributeType = switch function {
                    case .sum: type == .int || type == .long ? .long : .double
                    case .avg: .double
                    default: type
                    }
                    aggregates.append(.init(function: function, column: column, type: result,
                                            integerArgument: type == .int || type == .long))
                    return .attribute(stream: nil, name: "#agg\(k)", p)
                }
                return .function(namespace: namespace, name: name, arguments: arguments.map(rewrite), p)
            }
        }
        let rewritten = rewrite(parsed)
        guard rewriteErrors.isEmpty else {
            report(rewriteErrors)
            return nil
        }
        var attributes = input.attributes
        for prefix in ["first.", "last."] {
            attributes += input.attributes.map { Attribute(name: prefix + $0.name, type: $0.type) }
        }
        for (k, a) in aggregates.enumerated() { attributes.append(Attribute(name: "#agg\(k)", type: a.type)) }
        for name in ["#ts", "#tsFirst", "#tsLast"] { attributes.append(Attribute(name: name, type: .long)) }
        let state = StreamSchema(name: input.name, attributes: attributes)
        let saved = diagnostics
        diagnostics = Diagnostics(fileName: saved.fileName)
        let typed = check(rewritten, input: state)
        let checkErrors = diagnostics.errors
        diagnostics = saved
        guard let typed, checkErrors.isEmpty else {
            report(checkErrors)
            return nil
        }
        guard typed.type == .bool || typed.type == nil else {
            diagnostics.error(position, "window.\(window) condition '\(text)' must be bool, got \(typed.type!)")
            return nil
        }
        return WindowCondition(text: text, condition: typed, state: state, aggregates: aggregates,
                               inputWidth: input.attributes.count)
    }
}

/// Evaluates a window condition for one (event, first, last) triple and the aggregated rows.
final class WindowConditionEvaluator {
    let condition: WindowCondition
    private let program: VectorProgram
    private var scratch: EventBatch
    private var values: [Value] = []

    init(_ condition: WindowCondition) {
        self.condition = condition
        program = VectorProgram(condition.condition)
        scratch = EventBatch(schema: condition.state, capacity: 1)
    }

    typealias Row = (Int64, [Value])

    /// Whether the condition holds (null reads as false).
    func holds(event: Row, first: Row, last: Row, aggregated: ArraySlice<Row>) -> Bool {
        values.removeAll(keepingCapacity: true)
        values += event.1
        values += first.1
        values += last.1
        for a in condition.aggregates { values.append(WindowConditionEvaluator.aggregate(a, aggregated)) }
        values += [.long(event.0), .long(first.0), .long(last.0)]
        scratch.removeAll()
        _ = scratch.append(timestamp: event.0, values: values)
        return program.evaluateCondition(scratch)[0] & 1 == 1
    }

    private static func aggregate(_ a: WindowCondition.Aggregate, _ rows: ArraySlice<Row>) -> Value {
        guard let c = a.column else { return .long(Int64(rows.count)) }
        var count = 0
        var integerSum: Int64 = 0
        var realSum = 0.0
        var best: Value = .null
        var bestNumber = 0.0
        for row in rows {
            let v = row.1[c]
            let number: Double
            switch v {
            case .int(let x): number = Double(x); integerSum &+= Int64(x)
            case .long(let x): number = Double(x); integerSum &+= x
            case .float(let x): number = Double(x); realSum += Double(x)
            case .double(let x): number = x; realSum += x
            default: continue
            }
            count += 1
            if case .null = best {
                best = v
                bestNumber = number
            } else if (a.function == .min && number < bestNumber) || (a.function == .max && number > bestNumber) {
                best = v
                bestNumber = number
            }
        }
        switch a.function {
        case .count: return .long(Int64(rows.count))
        case .sum:
            guard count > 0 else { return .null }
            return a.integerArgument ? .long(integerSum) : .double(realSum)
        case .avg:
            guard count > 0 else { return .null }
            return .double((a.integerArgument ? Double(integerSum) : realSum) / Double(count))
        case .min, .max: return best
        }
    }
}
