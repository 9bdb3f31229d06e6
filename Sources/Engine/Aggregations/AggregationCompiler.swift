/// Checking of `define aggregation` and of joins that read an aggregation (`within … per …`).

/// One aggregate of an incremental aggregation: Siddhi's incremental `sum`, `count`, `avg`, `min`,
/// `max` and `distinctCount` of an input attribute.
struct IncrementalAggregateSpec: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        case sum, count, avg, min, max, distinctCount
    }
    var kind: Kind
    /// The input column aggregated (nil for `count()`).
    var column: Int?
    var argumentType: AttributeType?
    var outputType: AttributeType
}

/// What one selected attribute of an aggregation is.
enum AggregationItem: Sendable {
    /// Group-by attribute number k.
    case groupKey(Int)
    /// Aggregate number k.
    case aggregate(Int)
}

/// `define aggregation`, checked: what it reads, how it buckets and what each row holds.
struct AggregationSpec: Sendable {
    var name: String
    var input: StreamSchema
    var filter: TypedExpression?
    /// `aggregate by` column (long ms, or a date string); nil: the event timestamp.
    var timestampColumn: Int?
    /// Ascending, without repeats.
    var durations: [AggregationDuration]
    /// Input columns of `group by`.
    var groupBy: [Int]
    var aggregates: [IncrementalAggregateSpec]
    /// One per selected attribute, in order.
    var items: [AggregationItem]
    /// `AGG_TIMESTAMP long`, then the selected attributes: what a join reads.
    var output: StreamSchema
}

/// A join reading an aggregation: the query's selector runs over the pair schema (side 0's
/// attributes, then side 1's), one side being the aggregation's `output`.
struct AggregationJoinPlan: Sendable {
    var aggregation: String
    /// 0 or 1: where the aggregation's attributes sit in the pair.
    var aggregationSide: Int
    var stream: String
    var streamSchema: StreamSchema
    /// Over the stream's schema.
    var filter: TypedExpression?
    /// `left outer join` with the stream on the left (or `right outer` with it on the right):
    /// a stream event without a matching row goes out with nulls.
    var keepsUnmatched: Bool
    /// Over the stream's schema: one string pattern, or start and end (long ms or date strings).
    var within: [TypedExpression]
    /// Over the stream's schema: a string naming the granularity.
    var per: TypedExpression
    /// Over the pair schema; nil joins every row within the range.
    var on: TypedExpression?
}

extension Compiler {
    /// Defines an aggregation whose input stream is known; errors are reported with positions.
    mutating func defineAggregation(_ node: AggregationNode) {
        if schemas[node.name] != nil || tables[node.name] != nil || aggregations[node.name] != nil {
            diagnostics.error(node.position, "'\(node.name)' is already defined")
            return
        }
        guard let input = schemas[node.input.stream] else { return }
        var ok = true
        for annotation in node.annotations {
            switch annotation.name.lowercased() {
            case "purge":
                break  // Retention is Tandem's bucket limit (docs/siddhiql.md); Siddhi's purge settings are accepted and ignored.
            case "store":
                diagnostics.error(annotation.position, "@store aggregations (RDBMS) are not supported; aggregations are in memory")
                ok = false
            case "partitionbyid":
                diagnostics.error(annotation.position, "@PartitionById (distributed aggregation) is not supported")
                ok = false
            case "primarykey", "index":
                diagnostics.error(annotation.position, "an aggregation's key is its group-by attributes and bucket; @\(annotation.name) does not apply")
                ok = false
            default:
                break
            }
        }
        var filter: TypedExpression? = nil
        for handler in node.input.handlers {
            switch handler {
            case .filter(let expression):
                guard let typed = check(expression, input: input) else { ok = false; continue }
                if let t = typed.type, t != .bool {
                    diagnostics.error(expression.position, "filter condition must be bool, got \(t)")
                    ok = false
                    continue
                }
                filter = filter.map { .and($0, typed) } ?? typed
            case .window(_, _, _, let position):
                diagnostics.error(position, "an aggregation's input takes no window: the aggregation buckets by time itself")
                ok = false
            }
        }
        /// The input column of a plain attribute reference, after reporting anything else.
        func column(_ e: Expression, _ what: String) -> Int? {
            guard case .attribute(let stream, let name, let p) = e else {
                diagnostics.error(e.position, "\(what) must be an attribute of '\(input.name)'")
                return nil
            }
            if let stream, stream != input.name {
                diagnostics.error(p, "'\(stream)' is not the input stream of aggregation '\(node.name)' ('\(input.name)')")
                return nil
            }
            guard let index = input.index(of: name) else {
                diagnostics.error(p, "stream '\(input.name)' has no attribute '\(name)'")
                return nil
            }
            return index
        }
        var groupBy: [Int] = []
        for key in node.groupBy {
            guard let c = column(key, "a group-by key of an aggregation") else { ok = false; continue }
            if groupBy.contains(c) {
                diagnostics.error(key.position, "'\(input.attributes[c].name)' is grouped by twice")
                ok = false
                continue
            }
            groupBy.append(c)
        }
        if groupBy.count > 63 {
            diagnostics.error(node.groupBy[63].position, "an aggregation groups by at most 63 attributes")
            ok = false
        }
        var timestampColumn: Int? = nil
        if let by = node.aggregateBy {
            if let c = column(by, "'aggregate by' time") {
                let type = input.attributes[c].type
                if type == .long || type == .string {
                    timestampColumn = c
                } else {
                    diagnostics.error(by.position, "'aggregate by' needs a long (ms since the epoch) or a date string attribute; '\(input.attributes[c].name)' is \(type)")
                    ok = false
                }
            } else {
                ok = false
            }
        }
        var durations: [AggregationDuration] = []
        for (word, p) in node.durations {
            guard let d = AggregationDuration(word: word) else {
                diagnostics.error(p, "'\(word)' is not an aggregation duration (sec, min, hour, day, month or year)")
                ok = false
                continue
            }
            if durations.contains(d) {
                diagnostics.error(p, "duration '\(word)' is listed twice")
                ok = false
                continue
            }
            durations.append(d)
        }
        if node.isRange, durations.count == 2 {
            guard durations[0] <= durations[1] else {
                diagnostics.error(node.durations[0].position, "'every \(node.durations[0].word) ... \(node.durations[1].word)' runs backwards; write the shorter duration first")
                return
            }
            durations = AggregationDuration.allCases.filter { $0 >= durations[0] && $0 <= durations[1] }
        }
        durations.sort()

        var aggregates: [IncrementalAggregateSpec] = []
        var items: [AggregationItem] = []
        var attributes = [Attribute(name: "AGG_TIMESTAMP", type: .long)]
        for item in node.selection {
            var outputName = item.alias
            var type: AttributeType
            switch item.expression {
            case .function(nil, let fname, let arguments, let fp)
                where IncrementalAggregateSpec.Kind.allCases.contains { $0.rawValue.lowercased() == fname.lowercased() }:
                let kind = IncrementalAggregateSpec.Kind.allCases.first { $0.rawValue.lowercased() == fname.lowercased() }!
                var argument: Int? = nil
                if kind == .count {
                    guard arguments.count <= 1 else {
                        diagnostics.error(fp, "count takes at most one attribute")
                        ok = false
                        continue
                    }
                } else {
                    guard arguments.count == 1 else {
                        diagnostics.error(fp, "\(kind.rawValue) in an aggregation takes one attribute, got \(arguments.count) arguments")
                        ok = false
                        continue
                    }
                    guard let c = column(arguments[0], "the argument of \(kind.rawValue) in an aggregation") else { ok = false; continue }
                    argument = c
                }
                let argumentType = argument.map { input.attributes[$0].type }
                switch kind {
                case .count, .distinctCount: type = .long
                case .sum, .avg, .min, .max:
                    guard let t = argumentType, t.isNumeric else {
                        diagnostics.error(arguments[0].position, "\(kind.rawValue) needs a numeric attribute; '\(input.attributes[argument!].name)' is \(argumentType!)")
                        ok = false
                        continue
                    }
                    switch kind {
                    case .sum: type = t == .int || t == .long ? .long : .double
                    case .avg: type = .double
                    default: type = t
                    }
                }
                aggregates.append(IncrementalAggregateSpec(kind: kind, column: argument, argumentType: argumentType, outputType: type))
                items.append(.aggregate(aggregates.count - 1))
                if outputName == nil { outputName = fname }
            case .attribute(_, let name, _):
                guard let c = column(item.expression, "a selected attribute") else { ok = false; continue }
                guard let k = groupBy.firstIndex(of: c) else {
                    diagnostics.error(item.position, "'\(name)' is not grouped by: an aggregation selects its group-by attributes and aggregates (sum, count, avg, min, max, distinctCount)")
                    ok = false
                    continue
                }
                items.append(.groupKey(k))
                type = input.attributes[c].type
                if outputName == nil { outputName = name }
            default:
                diagnostics.error(item.position, "an aggregation selects group-by attributes and aggregates (sum, count, avg, min, max, distinctCount) of attributes, not other expressions")
                ok = false
                continue
            }
            let name = outputName!
            if attributes.contains(where: { $0.name == name }) {
                diagnostics.error(item.position, name == "AGG_TIMESTAMP"
                    ? "AGG_TIMESTAMP is the aggregation's own bucket start; choose another name"
                    : "output attribute '\(name)' is selected twice")
                ok = false
                continue
            }
            attributes.append(Attribute(name: name, type: type))
        }
        guard ok, !durations.isEmpty else { return }
        aggregations[node.name] = AggregationSpec(
            name: node.name, input: input, filter: filter, timestampColumn: timestampColumn, durations: durations,
            groupBy: groupBy, aggregates: aggregates, items: items,
            output: StreamSchema(name: node.name, attributes: attributes))
        aggregationOrder.append(node.name)
    }

    /// A join of a stream with an aggregation: `from Q join A as a [on …] within … per … select …`.
    mutating func compileAggregationJoin(_ query: QueryNode, index: Int) -> QueryPlan? {
        guard let join = query.join else { return nil }
        let nodes = [join.left, join.right]
        let aggregationSides = nodes.indices.filter { aggregations[nodes[$0].stream] != nil }
        guard aggregationSides.count == 1 else {
            diagnostics.error(join.position, "a join reads one aggregation with one stream, not two aggregations")
            return nil
        }
        let a = aggregationSides[0], s = 1 - a
        let spec = aggregations[nodes[a].stream]!
        if tables[nodes[s].stream] != nil {
            diagnostics.error(nodes[s].position, "aggregation '\(spec.name)' joins a stream, not table '\(nodes[s].stream)'")
            return nil
        }
        guard let streamSchema = schemas[nodes[s].stream] else { return nil }
        var ok = true
        for handler in nodes[a].handlers {
            let p: SourcePosition
            switch handler {
            case .filter(let e): p = e.position
            case .window(_, _, _, let wp): p = wp
            }
            diagnostics.error(p, "an aggregation in a join takes no filter or window; put conditions in 'on'")
            ok = false
        }
        var filter: TypedExpression? = nil
        for handler in nodes[s].handlers {
            switch handler {
            case .filter(let expression):
                guard let typed = check(expression, input: streamSchema) else { ok = false; continue }
                if let t = typed.type, t != .bool {
                    diagnostics.error(expression.position, "filter condition must be bool, got \(t)")
                    ok = false
                    continue
                }
                filter = filter.map { .and($0, typed) } ?? typed
            case .window(_, _, _, let p):
                diagnostics.error(p, "a stream joined with an aggregation takes no window: each event reads the aggregation as it arrives")
                ok = false
            }
        }
        let keepsUnmatched = join.kind != .inner
        if (join.kind == .leftOuter && s != 0) || (join.kind == .rightOuter && s != 1) || join.kind == .fullOuter {
            diagnostics.error(join.position, "only the stream side of a join with an aggregation can be outer (\(join.kind.rawValue) is not supported here)")
            return nil
        }
        if query.outputEventType != .current {
            diagnostics.error(query.targetPosition, "joins emit current events only here; use 'insert into'")
            ok = false
        }
        guard let retrieval = join.retrieval, !retrieval.within.isEmpty else {
            diagnostics.error(join.retrieval?.withinPosition ?? join.position,
                              "reading aggregation '\(spec.name)' needs 'within start, end' (or 'within \"yyyy-**-** **:**:**\"') and 'per \"<granularity>\"'")
            return nil
        }
        guard let perExpression = retrieval.per else {
            diagnostics.error(retrieval.perPosition, "reading aggregation '\(spec.name)' needs 'per \"<granularity>\"' after 'within' (one of: \(spec.durations.map(\.description).joined(separator: ", ")))")
            return nil
        }

        // `within` and `per` read the stream event only.
        let streamQualifiers = [[nodes[s].alias ?? nodes[s].stream]]
        let streamOnly = StreamSchema(name: "#stream", attributes: streamSchema.attributes.map { Attribute(name: "#0.\($0.name)", type: $0.type) })
        func streamExpression(_ e: Expression) -> TypedExpression? {
            guard let resolved = resolveSides(e, [streamSchema], qualifiers: streamQualifiers, fallback: nil) else { return nil }
            return check(resolved, input: streamOnly)
        }
        var within: [TypedExpression] = []
        for e in retrieval.within {
            guard let typed = streamExpression(e) else { ok = false; continue }
            let single = retrieval.within.count == 1
            let isInteger = typed.type == .int || typed.type == .long
            switch typed.type {
            case _ where isInteger && !single:
                within.append(Compiler.widen(typed, to: .long))
            case .string?:
                if case .constant(.string(let text), _) = typed {
                    do {
                        if single { _ = try AggregationDate.patternRange(text) } else { _ = try AggregationDate.timestampMs(text) }
                    } catch {
                        diagnostics.error(e.position, error.message)
                        ok = false
                        continue
                    }
                }
                within.append(typed)
            default:
                diagnostics.error(e.position, single
                    ? "'within' with one value needs a date pattern string such as '2026-**-** **:**:**'"
                    : "'within' start and end must be longs (ms since the epoch) or date strings, got \(typed.type.map(\.description) ?? "null")")
                ok = false
            }
        }
        if ok, within.count == 2, case .constant(let x, _) = within[0], case .constant(let y, _) = within[1] {
            func ms(_ v: Value) -> Int64? {
                switch v {
                case .int(let i): return Int64(i)
                case .long(let l): return l
                case .string(let text): return try? AggregationDate.timestampMs(text)
                default: return nil
                }
            }
            if let start = ms(x), let end = ms(y), start >= end {
                diagnostics.error(retrieval.within[0].position, "'within' start (\(start)) must be before its end (\(end))")
                ok = false
            }
        }
        var per: TypedExpression? = nil
        if let typed = streamExpression(perExpression) {
            if typed.type != .string {
                diagnostics.error(perExpression.position, "'per' needs a string naming a granularity, such as 'minutes'")
                ok = false
            } else if case .constant(.string(let word), _) = typed {
                if let d = AggregationDuration(word: word), spec.durations.contains(d) {
                    per = typed
                } else {
                    diagnostics.error(perExpression.position, "aggregation '\(spec.name)' has no '\(word)' granularity (it has: \(spec.durations.map(\.description).joined(separator: ", ")))")
                    ok = false
                }
            } else {
                per = typed
            }
        } else {
            ok = false
        }

        let sideSchemas = a == 0 ? [spec.output, streamSchema] : [streamSchema, spec.output]
        let rewritten = pairQuery(query, join, sideSchemas: sideSchemas, index: index)
        guard ok, let per, let (node, _, on) = rewritten else { return nil }
        guard var plan = compileQuery(node, index: index) else { return nil }
        plan.aggregationJoin = AggregationJoinPlan(
            aggregation: spec.name, aggregationSide: a, stream: streamSchema.name, streamSchema: streamSchema, filter: filter,
            keepsUnmatched: keepsUnmatched, within: within, per: per, on: on)
        return plan
    }
}
