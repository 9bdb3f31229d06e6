/// Semantic analysis: resolves streams and attributes, checks and widens types, infers the
/// schemas of streams that are only defined by `insert into`, and collects every error.
struct Compiler {
    /// Longest length/lengthBatch window: a bound on a query's memory and on a batch window's chunk
    /// (previous batch, RESET, new batch).
    static let windowLengthMax = 1 << 20

    var diagnostics: Diagnostics
    let fileName: String
    var schemas: [String: StreamSchema] = [:]
    private var order: [String] = []
    var tables: [String: TableSpec] = [:]
    private var tableOrder: [String] = []
    /// `define aggregation`s, by name and in definition order (see `AggregationCompiler.swift`).
    var aggregations: [String: AggregationSpec] = [:]
    var aggregationOrder: [String] = []

    init(diagnostics: Diagnostics, fileName: String) {
        self.diagnostics = diagnostics
        self.fileName = fileName
    }

    mutating func compile(_ ast: AppNode) -> SiddhiApp {
        var appName: String? = nil
        var description: String? = nil
        var playback = false
        for annotation in ast.annotations {
            switch annotation.name.lowercased() {
            case "app:name":
                appName = annotation.value(nil) ?? annotation.value("name")
                if appName?.isEmpty ?? true { diagnostics.error(annotation.position, "@App:name needs a non-empty name") }
            case "app:description": description = annotation.value(nil)
            case "app:playback": playback = true
            case "app:statistics", "app:async", "app:enablestatistics": break
            default: diagnostics.error(annotation.position, "unknown app annotation @\(annotation.name)")
            }
        }

        var sources: [TransportSpec] = []
        var sinks: [TransportSpec] = []
        for definition in ast.streams {
            guard let schema = defineStream(definition) else { continue }
            for annotation in definition.annotations {
                switch annotation.name.lowercased() {
                case "source", "sink":
                    guard let spec = transport(annotation, schema: schema) else { continue }
                    if annotation.name.lowercased() == "source" { sources.append(spec) } else { sinks.append(spec) }
                default: break  // other element annotations (@PrimaryKey, @async, ...) belong to later features
                }
            }
        }

        for definition in ast.tables { defineTable(definition) }
        let ast = compileWindows(ast)
        var triggers: [TriggerSpec] = []
        for trigger in ast.triggers {
            if schemas[trigger.name] != nil || tables[trigger.name] != nil {
                diagnostics.error(trigger.position, "'\(trigger.name)' is already defined")
                continue
            }
            let when: TriggerSpec.When
            switch trigger.when {
            case .start: when = .start
            case .every(let ms): when = .every(ms)
            case .cron(let text, let p):
                do { when = .cron(try CronSchedule(text)) } catch {
                    diagnostics.error(p, "trigger '\(trigger.name)' at '\(text)': \(error.message)")
                    continue
                }
            }
            schemas[trigger.name] = StreamSchema(name: trigger.name, attributes: [Attribute(name: "triggered_time", type: .long)])
            order.append(trigger.name)
            triggers.append(TriggerSpec(stream: trigger.name, when: when))
        }

        // Queries may read streams that a later query defines by `insert into`: resolve until no progress.
        var pending = Array(ast.queries.enumerated())
        var plans: [(Int, QueryPlan)] = []
        var pendingAggregations = ast.aggregations
        func known(_ name: String) -> Bool { schemas[name] != nil || tables[name] != nil || aggregations[name] != nil }
        while true {
            let before = pending.count + pendingAggregations.count
            // An aggregation is defined once its input stream is (it may be a query's output).
            pendingAggregations = pendingAggregations.filter { node in
                guard schemas[node.input.stream] != nil else { return true }
                defineAggregation(node)
                return false
            }
            pending = pending.filter { index, query in
                if let join = query.join {
                    guard known(join.left.stream), known(join.right.stream) else { return true }
                } else if let pattern = query.pattern {
                    guard pattern.states.allSatisfy({ schemas[$0.stream] != nil }) else { return true }
                } else {
                    guard schemas[query.inputStream] != nil else { return true }
                }
                if let plan = compileQuery(query, index: index) { plans.append((index, plan)) }
                return false
            }
            if (pending.isEmpty && pendingAggregations.isEmpty) || pending.count + pendingAggregations.count == before { break }
        }
        for node in pendingAggregations {
            diagnostics.error(node.input.position, "stream '\(node.input.stream)' is not defined")
        }
        for (_, query) in pending {
            let sides = query.join.map { [$0.left, $0.right] }
                ?? query.pattern.map { $0.states.map { InputSideNode(stream: $0.stream, position: $0.position, handlers: []) } }
                ?? [InputSideNode(stream: query.inputStream, position: query.inputPosition, handlers: [])]
            for side in sides where !known(side.stream) || (query.join == nil && aggregations[side.stream] != nil) {
                diagnostics.error(side.position, tables[query.inputStream] != nil && query.join == nil
                    ? "table '\(side.stream)' can only be read in a join"
                    : aggregations[side.stream] != nil
                    ? "aggregation '\(side.stream)' can only be read in a join: from S join \(side.stream) within … per … select …"
                    : "stream '\(side.stream)' is not defined")
            }
        }
        plans.sort { $0.0 < $1.0 }
        let partitions = compilePartitions(ast, plans: &plans)
        var queryNames: [String: SourcePosition] = [:]
        for (index, plan) in plans {
            let query = ast.queries[index]
            let position = query.annotations.first { $0.name.lowercased() == "info" }?.position ?? query.position
            if queryNames[plan.name] != nil {
                diagnostics.error(position, "query name '\(plan.name)' is already used")
            }
            queryNames[plan.name] = position
        }

        let base = fileName.split(separator: "/").last.map(String.init) ?? fileName
        let defaultName = base.hasSuffix(".siddhi") ? String(base.dropLast(7)) : base
        return SiddhiApp(name: appName ?? defaultName, fileName: fileName, description: description, isPlayback: playback,
                         streams: order.compactMap { schemas[$0] }, sources: sources, sinks: sinks,
                         queries: plans.map(\.1), tables: tableOrder.compactMap { tables[$0] }, triggers: triggers,
                         partitions: partitions, windowNames: Set(ast.windows.map(\.definition.name)),
                         aggregations: aggregationOrder.compactMap { aggregations[$0] })
    }

    /// Named windows (`define window W (…) length(3)`): W is a stream the filling queries insert into,
    /// and each query reading W gets W's window as its own first handler. A window holds only what was
    /// inserted into W, so every reader's copy holds the same events as the one window Siddhi keeps and
    /// emits the same current and expired events to the reader.
    private mutating func compileWindows(_ ast: AppNode) -> AppNode {
        var ast = ast
        var windows: [String: WindowDefinitionNode] = [:]
        for window in ast.windows {
            if tables[window.definition.name] != nil {
                diagnostics.error(window.definition.position, "'\(window.definition.name)' is already defined")
                continue
            }
            guard let schema = defineStream(window.definition) else { continue }
            guard case .window(let namespace, let name, let arguments, let position) = window.window else { continue }
            if namespace?.lowercased() != "window" {
                diagnostics.error(position, "unknown window type '\(namespace ?? ""):\(name)'")
                continue
            }
            guard windowSpec(name, arguments, position, input: schema) != nil else { continue }
            if window.outputEventType == .expired {
                diagnostics.error(window.definition.position, "'output expired events' on a named window is not supported yet")
                continue
            }
            windows[window.definition.name] = window
        }
        func reader(_ handlers: [StreamHandlerNode], _ window: WindowDefinitionNode, at position: SourcePosition) -> [StreamHandlerNode] {
            // `output current events`: readers see arrivals only, as from a stream.
            guard window.outputEventType == .all else { return handlers }
            var filters: [StreamHandlerNode] = []
            for handler in handlers {
                switch handler {
                case .window(_, _, _, let p):
                    diagnostics.error(p, "a query reading named window '\(window.definition.name)' cannot add a window of its own")
                case .filter:
                    // `from W[c]` filters what the window emits: a filter after the injected window.
                    filters.append(handler)
                }
            }
            return [window.window] + filters
        }
        for k in ast.queries.indices {
            var query = ast.queries[k]
            if var join = query.join {
                if let w = windows[join.left.stream] { join.left.handlers = reader(join.left.handlers, w, at: join.left.position) }
                if let w = windows[join.right.stream] { join.right.handlers = reader(join.right.handlers, w, at: join.right.position) }
                query.join = join
            } else if query.pattern == nil, let w = windows[query.inputStream] {
                query.handlers = reader(query.handlers, w, at: query.inputPosition)
            }
            ast.queries[k] = query
        }
        return ast
    }

    /// Checks each partition's keys and marks its queries; a query in a partition may read only
    /// inner streams, tables and the streams the partition is keyed by.
    private mutating func compilePartitions(_ ast: AppNode, plans: inout [(Int, QueryPlan)]) -> [PartitionSpec] {
        var specs: [PartitionSpec] = []
        for (p, node) in ast.partitions.enumerated() {
            var spec = PartitionSpec(keyers: [:], labels: [])
            for key in node.keys {
                guard let schema = schemas[key.stream] else {
                    diagnostics.error(key.streamPosition, "stream '\(key.stream)' is not defined")
                    continue
                }
                if spec.keyers[key.stream] != nil {
                    diagnostics.error(key.streamPosition, "stream '\(key.stream)' is partitioned twice")
                    continue
                }
                switch key.kind {
                case .value(let expression):
                    guard let typed = check(expression, input: schema) else { continue }
                    if typed.type == nil {
                        diagnostics.error(expression.position, "a partition key cannot be null")
                        continue
                    }
                    spec.keyers[key.stream] = .value(typed)
                case .range(let ranges):
                    var typedRanges: [(condition: TypedExpression, label: Int)] = []
                    for (condition, label, _) in ranges {
                        guard let typed = check(condition, input: schema) else { continue }
                        guard typed.type == .bool else {
                            diagnostics.error(condition.position, "a range partition condition must be bool, got \(typed.type.map { "\($0)" } ?? "null")")
                            continue
                        }
                        let id: Int
                        if let existing = spec.labels.firstIndex(of: label) { id = existing } else {
                            id = spec.labels.count
                            spec.labels.append(label)
                        }
                        typedRanges.append((typed, id))
                    }
                    spec.keyers[key.stream] = .range(typedRanges)
                }
            }
            let hasValueKeys = spec.keyers.values.contains { if case .value = $0 { return true } else { return false } }
            let hasRangeKeys = spec.keyers.values.contains { if case .range = $0 { return true } else { return false } }
            if hasValueKeys && hasRangeKeys {
                diagnostics.error(node.position, "a partition is keyed either by values or by ranges, not both")
            }
            for k in plans.indices where node.queries.contains(plans[k].0) {
                plans[k].1.partition = p
                if plans[k].1.tokenize != nil {
                    diagnostics.error(ast.queries[plans[k].0].inputPosition, "#str:tokenize inside a partition is not supported yet")
                }
                let query = ast.queries[plans[k].0]
                let reads = query.join.map { [($0.left.stream, $0.left.position), ($0.right.stream, $0.right.position)] }
                    ?? query.pattern.map { $0.states.map { ($0.stream, $0.position) } }
                    ?? [(query.inputStream, query.inputPosition)]
                for (stream, position) in reads where !stream.hasPrefix("#") && tables[stream] == nil && spec.keyers[stream] == nil {
                    diagnostics.error(position, "stream '\(stream)' is not partitioned here: add a key such as 'attribute of \(stream)' to the partition's 'with'")
                }
            }
            specs.append(spec)
        }
        return specs
    }

    private mutating func defineTable(_ node: StreamDefinitionNode) {
        if schemas[node.name] != nil || tables[node.name] != nil {
            diagnostics.error(node.position, "'\(node.name)' is already defined")
            return
        }
        var attributes: [Attribute] = []
        for attribute in node.attributes {
            guard let type = AttributeType(keyword: attribute.typeName) else {
                diagnostics.error(attribute.typePosition, "unknown attribute type '\(attribute.typeName)' (expected int, long, float, double, string or bool)")
                return
            }
            if attributes.contains(where: { $0.name == attribute.name }) {
                diagnostics.error(attribute.position, "attribute '\(attribute.name)' is defined twice in table '\(node.name)'")
                return
            }
            attributes.append(Attribute(name: attribute.name, type: type))
        }
        let schema = StreamSchema(name: node.name, attributes: attributes)
        var primaryKey: [Int] = []
        var indexes: [Int] = []
        var store: TableStoreSpec? = nil
        for annotation in node.annotations {
            let lower = annotation.name.lowercased()
            guard lower == "primarykey" || lower == "index" else {
                if lower == "store" { store = storeSpec(annotation, table: node.name) }
                continue
            }
            for element in annotation.elements {
                guard element.key == nil, let column = schema.index(of: element.value) else {
                    diagnostics.error(element.position, "@\(annotation.name) names attributes of '\(node.name)'; '\(element.value)' is not one")
                    continue
                }
                if lower == "primarykey" { primaryKey.append(column) } else { indexes.append(column) }
            }
        }
        tables[node.name] = TableSpec(schema: schema, primaryKey: primaryKey, indexes: indexes, store: store)
        tableOrder.append(node.name)
    }

    private mutating func defineStream(_ node: StreamDefinitionNode) -> StreamSchema? {
        if schemas[node.name] != nil {
            diagnostics.error(node.position, "stream '\(node.name)' is already defined")
            return nil
        }
        var attributes: [Attribute] = []
        var ok = true
        for attribute in node.attributes {
            guard let type = AttributeType(keyword: attribute.typeName) else {
                diagnostics.error(attribute.typePosition,
                                  "unknown attribute type '\(attribute.typeName)' (expected int, long, float, double, string, bool or object)")
                ok = false
                continue
            }
            if attributes.contains(where: { $0.name == attribute.name }) {
                diagnostics.error(attribute.position, "attribute '\(attribute.name)' is defined twice in stream '\(node.name)'")
                ok = false
                continue
            }
            attributes.append(Attribute(name: attribute.name, type: type))
        }
        guard ok else { return nil }
        let schema = StreamSchema(name: node.name, attributes: attributes)
        schemas[node.name] = schema
        order.append(node.name)
        return schema
    }

    private mutating func transport(_ annotation: Annotation, schema: StreamSchema) -> TransportSpec? {
        guard let type = annotation.value("type") else {
            diagnostics.error(annotation.position, "@\(annotation.name) needs a type, e.g. type='tcp'")
            return nil
        }
        var options: [String: String] = [:]
        for element in annotation.elements {
            guard let key = element.key else {
                diagnostics.error(element.position, "@\(annotation.name) takes key='value' options only")
                continue
            }
            options[key] = element.value
        }
        let map = annotation.nested("map")
        if let map, map.value("type") == nil {
            diagnostics.error(map.position, "@map needs a type, e.g. type='binary'")
            return nil
        }
        var mapOptions: [String: String] = [:]
        for element in map?.elements ?? [] { if let key = element.key { mapOptions[key] = element.value } }
        return TransportSpec(type: type.lowercased(), options: options, mapType: map?.value("type")?.lowercased(),
                             mapOptions: mapOptions, streamName: schema.name, schema: schema,
                             position: annotation.position)
    }

    mutating func compileQuery(_ query: QueryNode, index: Int) -> QueryPlan? {
        if query.join != nil { return compileJoin(query, index: index) }
        if query.pattern != nil { return compilePattern(query, index: index) }
        guard var input = schemas[query.inputStream] else { return nil }
        var name = "query\(index + 1)"
        for annotation in query.annotations where annotation.name.lowercased() == "info" {
            if let n = annotation.value("name") { name = n }
        }
        var ok = true
        var filter: TypedExpression? = nil
        var postFilter: TypedExpression? = nil
        var window: WindowSpec? = nil
        var aggregates: [AggregatePlan] = []
        var tokenize: TokenizePlan? = nil
        for handler in query.handlers {
            switch handler {
            case .filter(let expression):
                guard let typed = check(expression, input: input) else { ok = false; continue }
                if typed.type != .bool && typed.type != nil {
                    diagnostics.error(expression.position, "filter condition must be bool, got \(typed.type!)")
                    ok = false
                    continue
                }
                if let window {
                    // After the window: it filters what the window emits (Siddhi's processor chain).
                    switch window {
                    case .session, .frequent, .lossyFrequent, .sort, .expression, .expressionBatch:
                        diagnostics.error(expression.position, "a filter after this window is not supported yet")
                        ok = false
                    default:
                        postFilter = postFilter.map { .and($0, typed) } ?? typed
                    }
                    continue
                }
                filter = filter.map { .and($0, typed) } ?? typed
            case .window(let namespace, let windowName, let arguments, let position):
                if namespace?.lowercased() == "str" && windowName.lowercased() == "tokenize" {
                    if filter != nil || window != nil || tokenize != nil {
                        diagnostics.error(position, "#str:tokenize must be the query's first stream handler (before filters and windows)")
                        ok = false
                    } else if let plan = checkTokenize(arguments, position, input: input) {
                        tokenize = plan
                    } else {
                        ok = false
                    }
                    // The rest of the query reads `token` (also after an error, to report no follow-on errors).
                    if input.index(of: TokenizePlan.attribute) == nil {
                        input = StreamSchema(name: input.name, attributes: input.attributes + [Attribute(name: TokenizePlan.attribute, type: .string)])
                    }
                    continue
                }
                guard namespace?.lowercased() == "window" else {
                    diagnostics.error(position, "stream function '\(namespace.map { "\($0):" } ?? "")\(windowName)' is not supported yet")
                    ok = false
                    continue
                }
                guard window == nil else {
                    diagnostics.error(position, "a query can have only one window")
                    ok = false
                    continue
                }
                if let spec = windowSpec(windowName, arguments, position, input: input) { window = spec } else { ok = false }
            }
        }

        var projections: [TypedExpression] = []
        var outputAttributes: [Attribute] = []
        if let items = query.selection {
            for item in items {
                var typedItem: TypedExpression?
                if case .function(nil, let fname, let arguments, let fposition) = item.expression,
                   let kind = AggregateKind.allCases.first(where: { $0.rawValue.lowercased() == fname.lowercased() }) {
                    if let aggregate = aggregatePlan(kind, arguments, fposition, input: input) {
                        aggregates.append(aggregate)
                        typedItem = .aggregate(aggregates.count - 1, aggregate.outputType)
                    }
                } else {
                    typedItem = check(item.expression, input: input)
                }
                guard let typed = typedItem else { ok = false; continue }
                guard let type = typed.type else {
                    diagnostics.error(item.position, "cannot select a bare null: its type is unknown")
                    ok = false
                    continue
                }
                var outputName = item.alias
                if outputName == nil, case .attribute(_, let attributeName, _) = item.expression { outputName = attributeName }
                if outputName == nil, case .function(_, let fname, _, _) = item.expression, aggregates.count > 0,
                   case .aggregate = typed { outputName = fname }
                guard let outputName else {
                    diagnostics.error(item.position, "select expression needs a name: add 'as <name>'")
                    ok = false
                    continue
                }
                if outputAttributes.contains(where: { $0.name == outputName }) {
                    diagnostics.error(item.position, "output attribute '\(outputName)' is selected twice")
                    ok = false
                    continue
                }
                projections.append(typed)
                outputAttributes.append(Attribute(name: outputName, type: type))
            }
        } else {
            for (i, attribute) in input.attributes.enumerated() {
                projections.append(.column(i, attribute.type))
                outputAttributes.append(attribute)
            }
        }
        var groupBy: [Int] = []
        for key in query.groupBy {
            guard case .attribute(let stream, let name, let position) = key else {
                diagnostics.error(key.position, "group by takes attributes of the input stream")
                ok = false
                continue
            }
            if let stream, !stream.hasPrefix("#"), stream != input.name {
                diagnostics.error(position, "'\(stream)' is not the input stream of this query ('\(input.name)')")
                ok = false
            } else if let index = input.index(of: stream.map { $0.hasPrefix("#") ? "\($0).\(name)" : name } ?? name) {
                groupBy.append(index)
            } else {
                diagnostics.error(position, "stream '\(input.name)' has no attribute '\(name)'")
                ok = false
            }
        }
        guard ok else { return nil }
        let outputShape = StreamSchema(name: query.target, attributes: outputAttributes)
        var having: TypedExpression? = nil
        if let condition = query.having {
            guard let typed = check(condition, input: outputShape) else { return nil }
            if let t = typed.type, t != .bool {
                diagnostics.error(condition.position, "having condition must be bool, got \(t)")
                return nil
            }
            having = typed
        }
        var orderBy: [(column: Int, ascending: Bool)] = []
        for (key, ascending) in query.orderBy {
            guard case .attribute(_, let name, let position) = key, let index = outputShape.index(of: name) else {
                diagnostics.error(key.position, "order by takes attributes of the select output")
                return nil
            }
            _ = position
            orderBy.append((index, ascending))
        }
        var outputRate: OutputRate? = nil
        if let rate = query.outputRate {
            if rate.mode == .snapshot && rate.timeMs == nil {
                diagnostics.error(rate.position, "output snapshot needs a time period (output snapshot every 5 sec)")
                return nil
            }
            if let ms = rate.timeMs, ms <= 0 {
                diagnostics.error(rate.position, "output rate needs a positive time period")
                return nil
            }
            let mode: OutputRate.Mode = switch rate.mode {
            case .first: .first
            case .last: .last
            case .snapshot: .snapshot
            case .all: .all
            }
            outputRate = OutputRate(mode: mode, events: rate.events, periodMs: rate.timeMs)
        }
        let limit = query.limit.flatMap { countConstant($0, "limit") }
        let offset = query.offset.flatMap { countConstant($0, "offset") }
        if (query.limit != nil && limit == nil) || (query.offset != nil && offset == nil) { return nil }

        var tableWrite: (name: String, action: TableAction, probe: (column: Int, probe: TypedExpression)?)? = nil
        if case .insert = query.action {} else {
            guard let table = tables[query.target] else {
                diagnostics.error(query.targetPosition, "'\(query.target)' is not a table (delete and update change tables)")
                return nil
            }
            let event = StreamSchema(name: query.target, attributes: outputAttributes)
            guard let write = compileTableWrite(query.action, table: table, event: event) else { return nil }
            var plan = QueryPlan(name: name, input: input, filter: filter, projections: projections, output: event,
                                 outputEventType: .current, window: window, aggregates: aggregates,
                                 groupBy: groupBy, having: having, orderBy: orderBy, limit: limit, offset: offset,
                                 outputRate: outputRate, table: (query.target, write.action, write.probe))
            plan.postFilter = postFilter
            plan.tokenize = tokenize
            return plan
        }
        if let table = tables[query.target] {
            guard table.schema.attributes.map(\.type) == outputAttributes.map(\.type) else {
                let want = table.schema.attributes.map { $0.type.description }.joined(separator: ", ")
                let got = outputAttributes.map { $0.type.description }.joined(separator: ", ")
                diagnostics.error(query.targetPosition, "query output (\(got)) does not match table '\(query.target)' (\(want))")
                return nil
            }
            tableWrite = (query.target, .insert, nil)
        }
        let output: StreamSchema
        if let table = tableWrite.flatMap({ tables[$0.name] }) {
            output = table.schema
        } else if let existing = schemas[query.target] {
            guard existing.attributes.map(\.type) == outputAttributes.map(\.type) else {
                let want = existing.attributes.map { $0.type.description }.joined(separator: ", ")
                let got = outputAttributes.map { $0.type.description }.joined(separator: ", ")
                diagnostics.error(query.targetPosition, "query output (\(got)) does not match stream '\(query.target)' (\(want))")
                return nil
            }
            output = existing
        } else {
            output = StreamSchema(name: query.target, attributes: outputAttributes)
            schemas[query.target] = output
            order.append(query.target)
        }
        var plan = QueryPlan(name: name, input: input, filter: filter, projections: projections, output: output,
                             outputEventType: query.outputEventType, window: window, aggregates: aggregates,
                             groupBy: groupBy, having: having, orderBy: orderBy, limit: limit, offset: offset,
                             outputRate: outputRate, table: tableWrite)
        plan.postFilter = postFilter
        plan.tokenize = tokenize
        return plan
    }

    /// A non-negative int constant (limit, offset, window lengths).
    private mutating func countConstant(_ e: Expression, _ what: String) -> Int? {
        if case .literal(let v, _) = e {
            switch v {
            case .int(let n) where n >= 0: return Int(n)
            case .long(let n) where n >= 0 && n <= Int64(Int32.max): return Int(n)
            default: break
            }
        }
        diagnostics.error(e.position, "\(what) needs a non-negative integer constant")
        return nil
    }

    /// A time constant in ms: `5 sec`, `500 millisec`, or a plain int/long of milliseconds.
    mutating func timeConstant(_ e: Expression, _ what: String) -> Int64? {
        if case .literal(let v, _) = e {
            switch v {
            case .int(let n) where n > 0: return Int64(n)
            case .long(let n) where n > 0: return n
            default: break
            }
        }
        diagnostics.error(e.position, "\(what) needs a positive time constant such as 1 sec or 500 ms")
        return nil
    }

    mutating func windowSpec(_ name: String, _ arguments: [Expression], _ position: SourcePosition,
                                     input: StreamSchema) -> WindowSpec? {
        func arity(_ allowed: ClosedRange<Int>) -> Bool {
            guard allowed.contains(arguments.count) else {
                let expected = allowed.lowerBound == allowed.upperBound ? "\(allowed.lowerBound)" : "\(allowed.lowerBound) to \(allowed.upperBound)"
                diagnostics.error(position, "window '\(name)' takes \(expected) arguments, got \(arguments.count)")
                return false
            }
            return true
        }
        func timeAttribute(_ e: Expression) -> Int? {
            guard case .attribute(_, let attributeName, let p) = e, let index = input.index(of: attributeName) else {
                diagnostics.error(e.position, "window '\(name)' needs a long attribute of '\(input.name)' holding the event time")
                return nil
            }
            guard input.attributes[index].type == .long else {
                diagnostics.error(p, "window '\(name)': attribute '\(attributeName)' is \(input.attributes[index].type), expected long")
                return nil
            }
            return index
        }
        func one() -> Expression? {
            guard arguments.count == 1 else {
                diagnostics.error(position, "window '\(name)' takes 1 argument, got \(arguments.count)")
                return nil
            }
            return arguments[0]
        }
        switch name.lowercased() {
        case "length", "lengthbatch":
            guard let a = one(), let n = countConstant(a, "window.\(name)") else { return nil }
            // A batch window's chunk holds two batches: keep it within one EventBatch.
            guard n > 0 && n <= Compiler.windowLengthMax else {
                diagnostics.error(a.position, "window.\(name) length must be 1…\(Compiler.windowLengthMax), got \(n)")
                return nil
            }
            return name.lowercased() == "length" ? .length(n) : .lengthBatch(n)
        case "time":
            guard let a = one(), let t = timeConstant(a, "window.time") else { return nil }
            return .time(t)
        case "timebatch":
            guard let a = one(), let t = timeConstant(a, "window.timeBatch") else { return nil }
            return .timeBatch(t)
        case "externaltime":
            guard arity(2...2), let c = timeAttribute(arguments[0]), let t = timeConstant(arguments[1], "window.externalTime") else { return nil }
            return .externalTime(column: c, t)
        case "externaltimebatch":
            guard arity(2...3), let c = timeAttribute(arguments[0]), let t = timeConstant(arguments[1], "window.externalTimeBatch") else { return nil }
            var start: Int64? = nil
            if arguments.count == 3 {
                guard let s = timeConstant(arguments[2], "window.externalTimeBatch start") else { return nil }
                start = s
            }
            return .externalTimeBatch(column: c, t, start: start)
        case "timelength":
            guard arity(2...2), let t = timeConstant(arguments[0], "window.timeLength"),
                  let n = countConstant(arguments[1], "window.timeLength"), n > 0, n <= Compiler.windowLengthMax else { return nil }
            return .timeLength(t, n)
        case "batch":
            guard arity(0...0) else { return nil }
            return .batch
        case "lossyfrequent", "frequent":
            let isLossy = name.lowercased() == "lossyfrequent"
            var numbers: [Double] = []
            var keys: [Int] = []
            for argument in arguments {
                if case .attribute(_, let attributeName, let p) = argument {
                    guard let index = input.index(of: attributeName) else {
                        diagnostics.error(p, "stream '\(input.name)' has no attribute '\(attributeName)'")
                        return nil
                    }
                    keys.append(index)
                } else if case .literal(let v, _) = argument, keys.isEmpty {
                    switch v {
                    case .int(let x): numbers.append(Double(x))
                    case .long(let x): numbers.append(Double(x))
                    case .float(let x): numbers.append(Double(x))
                    case .double(let x): numbers.append(x)
                    default: break
                    }
                }
            }
            if keys.isEmpty { keys = Array(input.attributes.indices) }
            if isLossy {
                guard (1...2).contains(numbers.count), numbers[0] > 0, numbers[0] < 1 else {
                    diagnostics.error(position, "window.lossyFrequent(support, [error], attributes…) needs 0 < support < 1")
                    return nil
                }
                let error = numbers.count == 2 ? numbers[1] : numbers[0] / 10
                guard error > 0, error < numbers[0] else {
                    diagnostics.error(position, "window.lossyFrequent needs 0 < error < support")
                    return nil
                }
                return .lossyFrequent(support: numbers[0], error: error, keyColumns: keys)
            }
            guard numbers.count == 1, numbers[0] >= 1, numbers[0] <= Double(Compiler.windowLengthMax) else {
                diagnostics.error(position, "window.frequent(count, attributes…) needs a count of 1…\(Compiler.windowLengthMax)")
                return nil
            }
            return .frequent(Int(numbers[0]), keyColumns: keys)
        case "sort":
            guard arguments.count >= 2, let n = countConstant(arguments[0], "window.sort"), n > 0, n <= Compiler.windowLengthMax else {
                if arguments.count < 2 { diagnostics.error(position, "window.sort(length, attribute, ['asc'|'desc'], …) needs an attribute") }
                return nil
            }
            var keys: [(column: Int, ascending: Bool)] = []
            for argument in arguments.dropFirst() {
                switch argument {
                case .attribute(_, let attributeName, let p):
                    guard let index = input.index(of: attributeName) else {
                        diagnostics.error(p, "stream '\(input.name)' has no attribute '\(attributeName)'")
                        return nil
                    }
                    keys.append((index, true))
                case .literal(.string(let order), let p):
                    guard !keys.isEmpty, ["asc", "desc"].contains(order.lowercased()) else {
                        diagnostics.error(p, "window.sort: expected 'asc' or 'desc' after an attribute")
                        return nil
                    }
                    keys[keys.count - 1].ascending = order.lowercased() == "asc"
                default:
                    diagnostics.error(argument.position, "window.sort takes attributes and 'asc'/'desc'")
                    return nil
                }
            }
            return .sort(n, keys: keys)
        case "session":
            guard arity(1...3), let gap = timeConstant(arguments[0], "window.session gap") else { return nil }
            var key: Int? = nil
            var latency: Int64 = 0
            for argument in arguments.dropFirst() {
                if case .attribute(_, let attributeName, let p) = argument {
                    guard let index = input.index(of: attributeName) else {
                        diagnostics.error(p, "stream '\(input.name)' has no attribute '\(attributeName)'")
                        return nil
                    }
                    key = index
                } else {
                    guard let l = timeConstant(argument, "window.session allowed latency") else { return nil }
                    latency = l
                }
            }
            return .session(gapMs: gap, keyColumn: key, latencyMs: latency)
        case "delay":
            guard arity(1...1), let t = timeConstant(arguments[0], "window.delay") else { return nil }
            return .delay(t)
        case "cron":
            guard arity(1...1) else { return nil }
            guard case .literal(.string(let text), let p) = arguments[0] else {
                diagnostics.error(arguments[0].position, "window.cron needs a cron expression string, e.g. '*/5 * * * * ?'")
                return nil
            }
            do { return .cron(try CronSchedule(text)) } catch {
                diagnostics.error(p, "window.cron '\(text)': \(error.message)")
                return nil
            }
        case "expression":
            guard arity(1...1), let condition = windowCondition(arguments[0], window: name, input: input) else { return nil }
            return .expression(condition)
        case "expressionbatch":
            guard arity(1...3), let condition = windowCondition(arguments[0], window: name, input: input) else { return nil }
            var flags: [Bool] = []
            for argument in arguments.dropFirst() {
                guard case .literal(.bool(let flag), _) = argument else {
                    diagnostics.error(argument.position, "window.expressionBatch takes true or false here")
                    return nil
                }
                flags.append(flag)
            }
            return .expressionBatch(condition, includeTriggering: flags.first ?? false,
                                    streamCurrent: flags.count == 2 && flags[1])
        default:
            diagnostics.error(position, "window '\(name)' is not supported yet (supported: length, lengthBatch, time, timeBatch, timeLength, externalTime, externalTimeBatch, batch, delay, session, sort, frequent, lossyFrequent, expression, expressionBatch, cron)")
            return nil
        }
    }

    private mutating func aggregatePlan(_ kind: AggregateKind, _ arguments: [Expression], _ position: SourcePosition,
                                        input: StreamSchema) -> AggregatePlan? {
        if kind == .count {
            guard arguments.count <= 1 else {
                diagnostics.error(position, "count takes no argument")
                return nil
            }
            return AggregatePlan(kind: .count, argument: nil, outputType: .long)
        }
        guard arguments.count == 1 else {
            diagnostics.error(position, "\(kind.rawValue) takes 1 argument, got \(arguments.count)")
            return nil
        }
        guard let argument = check(arguments[0], input: input), let type = argument.type else { return nil }
        let outputType: AttributeType
        switch kind {
        case .sum:
            guard type.isNumeric else { break }
            outputType = type == .int || type == .long ? .long : .double
            return AggregatePlan(kind: kind, argument: argument, outputType: outputType)
        case .avg, .stdDev:
            guard type.isNumeric else { break }
            return AggregatePlan(kind: kind, argument: argument, outputType: .double)
        case .min, .max, .minForever, .maxForever:
            guard type.isNumeric else { break }
            return AggregatePlan(kind: kind, argument: argument, outputType: type)
        case .distinctCount:
            return AggregatePlan(kind: kind, argument: argument, outputType: .long)
        case .and, .or:
            guard type == .bool else { break }
            return AggregatePlan(kind: kind, argument: argument, outputType: .bool)
        case .unionSet:
            // Sets are objects holding a JSON array (SetText): the union of the sets seen.
            guard type == .object else { break }
            return AggregatePlan(kind: kind, argument: argument, outputType: .object)
        case .count:
            break
        }
        diagnostics.error(arguments[0].position, "\(kind.rawValue) cannot take a \(type) argument")
        return nil
    }

    // MARK: Expressions

    static func wider(_ a: AttributeType, _ b: AttributeType) -> AttributeType {
        let rank: [AttributeType: Int] = [.int: 0, .long: 1, .float: 2, .double: 3]
        return rank[a]! >= rank[b]! ? a : b
    }

    static func widen(_ e: TypedExpression, to type: AttributeType) -> TypedExpression {
        guard let from = e.type, from != type else {
            if case .constant(.null, nil) = e { return .constant(.null, type) }
            return e
        }
        return .widen(e, from: from, to: type)
    }

    /// Type-checks an expression against the input stream; nil after reporting an error.
    mutating func check(_ expression: Expression, input: StreamSchema) -> TypedExpression? {
        switch expression {
        case .literal(let value, _):
            switch value {
            case .int: return .constant(value, .int)
            case .long: return .constant(value, .long)
            case .float: return .constant(value, .float)
            case .double: return .constant(value, .double)
            case .string: return .constant(value, .string)
            case .bool: return .constant(value, .bool)
            case .object: return .constant(value, .object)
            case .null: return .constant(.null, nil)
            }
        case .attribute(let stream, let name, let position):
            // Joins and table conditions resolve names to sides first: `#0.x` is side 0's x.
            if let stream, stream.hasPrefix("#") {
                guard let index = input.index(of: "\(stream).\(name)") else {
                    diagnostics.error(position, "no attribute '\(name)' on that side")
                    return nil
                }
                return .column(index, input.attributes[index].type)
            }
            if let stream, stream != input.name {
                diagnostics.error(position, "'\(stream)' is not the input stream of this query ('\(input.name)')")
                return nil
            }
            guard let index = input.index(of: name) else {
                diagnostics.error(position, "stream '\(input.name)' has no attribute '\(name)'")
                return nil
            }
            return .column(index, input.attributes[index].type)
        case .negate(let operand, let position):
            guard let typed = check(operand, input: input) else { return nil }
            guard let type = typed.type else { return .constant(.null, nil) }
            guard type.isNumeric else {
                diagnostics.error(position, "'-' needs a number, got \(type)")
                return nil
            }
            return .negate(typed, type)
        case .not(let operand, let position):
            guard let typed = check(operand, input: input) else { return nil }
            if let type = typed.type, type != .bool {
                diagnostics.error(position, "'not' needs a bool, got \(type)")
                return nil
            }
            return .not(typed)
        case .isNull(let operand, _):
            guard let typed = check(operand, input: input) else { return nil }
            return .isNull(typed)
        case .function(TableInSyntax.namespace, let name, let arguments, let position) where arguments.count == 1:
            return checkInTable(arguments[0], table: name, position: position, input: input)
        case .function(let namespace, let name, let arguments, let position):
            return checkFunction(namespace: namespace, name: name, arguments: arguments, position: position, input: input)
        case .binary(let op, let lhs, let rhs, let position):
            let l = check(lhs, input: input)
            let r = check(rhs, input: input)
            guard let l, let r else { return nil }
            return checkBinary(op, l, r, position)
        }
    }

    private mutating func checkBinary(_ op: BinaryOperator, _ l: TypedExpression, _ r: TypedExpression,
                                      _ position: SourcePosition) -> TypedExpression? {
        let lt = l.type, rt = r.type
        if op == .and || op == .or {
            for t in [lt, rt] where t != nil && t != .bool {
                diagnostics.error(position, "'\(op.rawValue)' needs bool operands, got \(t!)")
                return nil
            }
            return op == .and ? .and(l, r) : .or(l, r)
        }
        if op.isArithmetic {
            for t in [lt, rt] where t != nil && !t!.isNumeric {
                diagnostics.error(position, "'\(op.rawValue)' needs numeric operands, got \(t!)")
                return nil
            }
            let known = [lt, rt].compactMap { $0 }
            guard var type = known.first else { return .constant(.null, nil) }
            for t in known.dropFirst() { type = Compiler.wider(type, t) }
            return .arithmetic(op, Compiler.widen(l, to: type), Compiler.widen(r, to: type), type)
        }
        // Comparisons.
        switch (lt, rt) {
        case (nil, _), (_, nil):
            let type = lt ?? rt ?? .bool
            return .compare(op, Compiler.widen(l, to: type), Compiler.widen(r, to: type), operandType: type)
        case (let a?, let b?) where a.isNumeric && b.isNumeric:
            let type = Compiler.wider(a, b)
            return .compare(op, Compiler.widen(l, to: type), Compiler.widen(r, to: type), operandType: type)
        case (let a?, let b?) where a == b && (op == .equal || op == .notEqual):
            return .compare(op, l, r, operandType: a)
        case (let a?, let b?) where a == b:
            diagnostics.error(position, "'\(op.rawValue)' cannot compare \(a) values; only == and != apply to \(a)")
            return nil
        case (let a?, let b?):
            diagnostics.error(position, "cannot compare \(a) with \(b)")
            return nil
        }
    }
}
