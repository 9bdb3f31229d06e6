/// Checking of joins and of table writes (`delete`, `update`, `update or insert into`).
///
/// Both run expressions over a *pair* schema: the attributes of side 0, then side 1, named `#0.x`
/// and `#1.x`. Attribute references are first resolved to a side (by alias, stream or table name,
/// or, unqualified, by the one side that has the name), then type-checked as usual.
extension Compiler {
    /// A pair schema of two sides.
    static func pairSchema(_ name: String, _ a: StreamSchema, _ b: StreamSchema) -> StreamSchema {
        StreamSchema(name: name, attributes: a.attributes.map { Attribute(name: "#0.\($0.name)", type: $0.type) }
                                             + b.attributes.map { Attribute(name: "#1.\($0.name)", type: $0.type) })
    }

    /// Rewrites attribute references to `#k`-qualified ones; nil after reporting an error.
    /// `qualifiers[k]` are the names that select side k; `fallback` picks the side of unqualified
    /// names found on both sides (nil: ambiguous is an error).
    mutating func resolveSides(_ e: Expression, _ schemas: [StreamSchema], qualifiers: [[String]], fallback: Int?) -> Expression? {
        switch e {
        case .literal: return e
        case .attribute(let stream, let name, let p):
            if let stream {
                guard let k = qualifiers.firstIndex(where: { $0.contains(stream) }) else {
                    diagnostics.error(p, "'\(stream)' is not an input of this query")
                    return nil
                }
                guard schemas[k].index(of: name) != nil else {
                    diagnostics.error(p, "'\(stream)' has no attribute '\(name)'")
                    return nil
                }
                return .attribute(stream: "#\(k)", name: name, p)
            }
            let sides = schemas.indices.filter { schemas[$0].index(of: name) != nil }
            if sides.count == 1 { return .attribute(stream: "#\(sides[0])", name: name, p) }
            if sides.isEmpty {
                diagnostics.error(p, "no input of this query has an attribute '\(name)'")
                return nil
            }
            if let fallback { return .attribute(stream: "#\(fallback)", name: name, p) }
            diagnostics.error(p, "'\(name)' is ambiguous: qualify it with the stream name or alias")
            return nil
        case .binary(let op, let a, let b, let p):
            guard let x = resolveSides(a, schemas, qualifiers: qualifiers, fallback: fallback),
                  let y = resolveSides(b, schemas, qualifiers: qualifiers, fallback: fallback) else { return nil }
            return .binary(op, x, y, p)
        case .negate(let a, let p):
            return resolveSides(a, schemas, qualifiers: qualifiers, fallback: fallback).map { .negate($0, p) }
        case .not(let a, let p):
            return resolveSides(a, schemas, qualifiers: qualifiers, fallback: fallback).map { .not($0, p) }
        case .isNull(let a, let p):
            return resolveSides(a, schemas, qualifiers: qualifiers, fallback: fallback).map { .isNull($0, p) }
        case .function(let namespace, let name, let arguments, let p):
            var resolved: [Expression] = []
            for argument in arguments {
                guard let r = resolveSides(argument, schemas, qualifiers: qualifiers, fallback: fallback) else { return nil }
                resolved.append(r)
            }
            return .function(namespace: namespace, name: name, arguments: resolved, p)
        }
    }

    /// The input columns an expression reads; nil when it holds an aggregate.
    static func columnsRead(_ e: TypedExpression) -> Set<Int>? {
        switch e {
        case .column(let c, _): return [c]
        case .constant, .timestamp, .currentTime, .uuid: return []
        case .inTable(let c):
            // The event attributes lead the condition's pair schema: those are the input's.
            let width = c.pair.attributes.prefix { $0.name.hasPrefix("#0.") }.count
            return columnsRead(c.condition).map { $0.filter { $0 < width } }
        case .aggregate: return nil
        case .arithmetic(_, let a, let b, _), .compare(_, let a, let b, _), .and(let a, let b), .or(let a, let b):
            guard let x = columnsRead(a), let y = columnsRead(b) else { return nil }
            return x.union(y)
        case .widen(let a, _, _), .convert(let a, _, _), .not(let a), .isNull(let a), .negate(let a, _), .setFunction(_, let a):
            return columnsRead(a)
        case .ifThenElse(let a, let b, let c, _):
            guard let x = columnsRead(a), let y = columnsRead(b), let z = columnsRead(c) else { return nil }
            return x.union(y).union(z)
        case .coalesce(let items, _), .extremum(_, let items, _), .extensionCall(_, let items):
            var all = Set<Int>()
            for item in items {
                guard let c = columnsRead(item) else { return nil }
                all.formUnion(c)
            }
            return all
        }
    }

    /// In `condition`, a conjunct `other.column == expression of probing columns only`: the
    /// other side's column (relative to `otherRange`) and the probe expression, for an index lookup.
    static func equalityProbe(_ condition: TypedExpression, otherRange: Range<Int>, probing: Range<Int>)
        -> (column: Int, probe: TypedExpression)? {
        switch condition {
        case .and(let a, let b):
            return equalityProbe(a, otherRange: otherRange, probing: probing) ?? equalityProbe(b, otherRange: otherRange, probing: probing)
        case .compare(.equal, let a, let b, _):
            for (column, probe) in [(a, b), (b, a)] {
                guard case .column(let c, _) = column, otherRange.contains(c),
                      let read = columnsRead(probe), read.allSatisfy({ probing.contains($0) }) else { continue }
                return (c - otherRange.lowerBound, probe)
            }
            return nil
        default:
            return nil
        }
    }

    /// A join query rewritten over its pair schema (left attributes, then right): selection, group by
    /// and `on` resolved to sides, the pair schema registered. Nil when any of them has an error
    /// (reported). Shared by stream/table joins and joins reading an aggregation.
    mutating func pairQuery(_ query: QueryNode, _ join: JoinNode, sideSchemas: [StreamSchema], index: Int)
        -> (node: QueryNode, pair: StreamSchema, on: TypedExpression?)? {
        var ok = true
        let pairName = "#join:\(index)"
        let pair = Compiler.pairSchema(pairName, sideSchemas[0], sideSchemas[1])
        let qualifiers = [[join.left.alias ?? join.left.stream], [join.right.alias ?? join.right.stream]]
        var node = query
        node.join = nil
        node.inputStream = pairName
        node.handlers = []
        if let items = query.selection {
            var resolved: [SelectItem] = []
            for item in items {
                guard let e = resolveSides(item.expression, sideSchemas, qualifiers: qualifiers, fallback: nil) else { ok = false; continue }
                resolved.append(SelectItem(expression: e, alias: item.alias, position: item.position))
            }
            node.selection = resolved
        } else {
            node.selection = sideSchemas.enumerated().flatMap { k, schema in
                schema.attributes.map { SelectItem(expression: .attribute(stream: "#\(k)", name: $0.name, join.position), alias: nil, position: join.position) }
            }
        }
        var groupBy: [Expression] = []
        for key in query.groupBy {
            guard let e = resolveSides(key, sideSchemas, qualifiers: qualifiers, fallback: nil) else { ok = false; continue }
            groupBy.append(e)
        }
        node.groupBy = groupBy
        var on: TypedExpression? = nil
        if let condition = join.on {
            if let resolved = resolveSides(condition, sideSchemas, qualifiers: qualifiers, fallback: nil),
               let typed = check(resolved, input: pair) {
                if let t = typed.type, t != .bool {
                    diagnostics.error(condition.position, "join condition must be bool, got \(t)")
                    ok = false
                }
                on = typed
            } else {
                ok = false
            }
        }
        guard ok else { return nil }
        schemas[pairName] = pair
        return (node, pair, on)
    }

    mutating func compileJoin(_ query: QueryNode, index: Int) -> QueryPlan? {
        guard let join = query.join else { return nil }
        if aggregations[join.left.stream] != nil || aggregations[join.right.stream] != nil {
            return compileAggregationJoin(query, index: index)
        }
        if let retrieval = join.retrieval {
            diagnostics.error(retrieval.withinPosition, "'within … per …' applies to joins with an aggregation (define aggregation)")
            return nil
        }
        var sides: [JoinSide] = []
        var ok = true
        for (k, node) in [join.left, join.right].enumerated() {
            let isTable = tables[node.stream] != nil
            guard let schema = tables[node.stream]?.schema ?? schemas[node.stream] else { return nil }
            var filter: TypedExpression? = nil
            var window: WindowSpec? = nil
            for handler in node.handlers {
                switch handler {
                case .filter(let expression):
                    if isTable {
                        diagnostics.error(expression.position, "a table in a join takes no filter; put the condition in 'on'")
                        ok = false
                        continue
                    }
                    guard let typed = check(expression, input: schema) else { ok = false; continue }
                    if let t = typed.type, t != .bool {
                        diagnostics.error(expression.position, "filter condition must be bool, got \(t)")
                        ok = false
                        continue
                    }
                    if window != nil {
                        // After the window it would filter what the window emits; joins apply side
                        // filters on arrival only.
                        diagnostics.error(expression.position, "a filter after a join side's window is not supported yet")
                        ok = false
                        continue
                    }
                    filter = filter.map { .and($0, typed) } ?? typed
                case .window(let namespace, let name, let arguments, let position):
                    guard !isTable, namespace?.lowercased() == "window", window == nil else {
                        diagnostics.error(position, isTable ? "a table in a join takes no window" : "a join side takes one #window")
                        ok = false
                        continue
                    }
                    guard let spec = windowSpec(name, arguments, position, input: schema) else { ok = false; continue }
                    switch spec {
                    case .length, .time, .timeLength, .externalTime:
                        window = spec
                    default:
                        diagnostics.error(position, "window '\(name)' is not supported in joins yet (length, time, timeLength, externalTime)")
                        ok = false
                    }
                }
            }
            let outer = (k == 0 && (join.kind == .leftOuter || join.kind == .fullOuter))
                || (k == 1 && (join.kind == .rightOuter || join.kind == .fullOuter))
            sides.append(JoinSide(name: node.stream, isTable: isTable, schema: schema, filter: filter, window: window,
                                  triggers: !isTable && (join.unidirectional == nil || join.unidirectional == k),
                                  keepsUnmatched: outer))
        }
        if sides[0].isTable && sides[1].isTable {
            diagnostics.error(join.position, "a join needs at least one stream")
            return nil
        }
        if query.outputEventType != .current {
            diagnostics.error(query.targetPosition, "joins emit current events only here; use 'insert into'")
            ok = false
        }
        let rewritten = pairQuery(query, join, sideSchemas: [sides[0].schema, sides[1].schema], index: index)
        guard ok, let (node, pair, on) = rewritten else { return nil }
        guard var plan = compileQuery(node, index: index) else { return nil }
        let leftRange = 0..<sides[0].schema.attributes.count
        let rightRange = leftRange.upperBound..<pair.attributes.count
        let probes: [(column: Int, probe: TypedExpression)?] = [
            sides[1].isTable ? on.flatMap { Compiler.equalityProbe($0, otherRange: rightRange, probing: leftRange) } : nil,
            sides[0].isTable ? on.flatMap { Compiler.equalityProbe($0, otherRange: leftRange, probing: rightRange) } : nil,
        ]
        plan.join = JoinPlan(left: sides[0], right: sides[1], kind: join.kind, on: on, probes: probes)
        return plan
    }

    /// `delete T on …`, `update T set … on …`, `update or insert into T set … on …`: conditions
    /// and values over (the query's output, then the table's attributes).
    mutating func compileTableWrite(_ action: OutputActionNode, table: TableSpec, event: StreamSchema)
        -> (action: TableAction, probe: (column: Int, probe: TypedExpression)?)? {
        let pair = Compiler.pairSchema("#table:\(table.schema.name)", event, table.schema)
        let schemas = [event, table.schema]
        // Unqualified names that both have mean the event's (Siddhi reads `sym` as the stream's).
        let qualifiers = [[event.name == table.schema.name ? "#event" : "#event"], [table.schema.name]]
        func condition(_ e: Expression) -> TypedExpression? {
            guard let resolved = resolveSides(e, schemas, qualifiers: qualifiers, fallback: 0),
                  let typed = check(resolved, input: pair) else { return nil }
            if let t = typed.type, t != .bool {
                diagnostics.error(e.position, "'on' condition must be bool, got \(t)")
                return nil
            }
            return typed
        }
        func assignments(_ set: [(attribute: String, value: Expression, position: SourcePosition)]) -> [(column: Int, value: TypedExpression)]? {
            var out: [(column: Int, value: TypedExpression)] = []
            var ok = true
            let items = set.isEmpty
                ? table.schema.attributes.compactMap { a in event.index(of: a.name).map { _ in (a.name, Expression.attribute(stream: nil, name: a.name, SourcePosition(line: 0, column: 0)), SourcePosition(line: 0, column: 0)) } }
                : set.map { ($0.attribute, $0.value, $0.position) }
            for (attribute, value, position) in items {
                guard let column = table.schema.index(of: attribute) else {
                    diagnostics.error(position, "table '\(table.schema.name)' has no attribute '\(attribute)'")
                    ok = false
                    continue
                }
                guard let resolved = resolveSides(value, schemas, qualifiers: qualifiers, fallback: 0),
                      let typed = check(resolved, input: pair) else { ok = false; continue }
                let want = table.schema.attributes[column].type
                if let t = typed.type, t != want && !(t.isNumeric && want.isNumeric && Compiler.wider(t, want) == want) {
                    diagnostics.error(value.position, "'\(attribute)' is \(want); the value is \(t)")
                    ok = false
                    continue
                }
                out.append((column, Compiler.widen(typed, to: want)))
            }
            return ok ? out : nil
        }
        let eventRange = 0..<event.attributes.count
        let tableRange = eventRange.upperBound..<pair.attributes.count
        switch action {
        case .insert:
            return (.insert, nil)
        case .delete(let on):
            guard let typed = condition(on) else { return nil }
            return (.delete(on: typed), Compiler.equalityProbe(typed, otherRange: tableRange, probing: eventRange))
        case .update(let set, let on), .updateOrInsert(let set, let on):
            guard let typed = condition(on), let values = assignments(set) else { return nil }
            if case .updateOrInsert = action, event.attributes.map(\.type) != table.schema.attributes.map(\.type) {
                let want = table.schema.attributes.map { $0.type.description }.joined(separator: ", ")
                let got = event.attributes.map { $0.type.description }.joined(separator: ", ")
                diagnostics.error(on.position, "update or insert into '\(table.schema.name)' inserts the query output (\(got)), which must match the table (\(want))")
                return nil
            }
            let probe = Compiler.equalityProbe(typed, otherRange: tableRange, probing: eventRange)
            if case .update = action { return (.update(set: values, on: typed), probe) }
            return (.updateOrInsert(set: values, on: typed), probe)
        }
    }
}
