/// Checking of patterns and sequences: each state's condition over the pattern schema (every
/// state's attributes, `#k.x`), where `eJ.x` names an earlier state and a bare name the state's own
/// event; the select reads `eK.x` of any state.
extension Compiler {
    mutating func compilePattern(_ query: QueryNode, index: Int) -> QueryPlan? {
        guard let pattern = query.pattern else { return nil }
        guard pattern.states.count <= PatternQuery.statesMax else {
            diagnostics.error(pattern.position, "a pattern has at most \(PatternQuery.statesMax) events, this one \(pattern.states.count)")
            return nil
        }
        var schemasByState: [StreamSchema] = []
        var aliases: [String] = []
        for state in pattern.states {
            guard let schema = schemas[state.stream] else { return nil }
            if aliases.contains(state.alias) {
                diagnostics.error(state.position, "pattern event name '\(state.alias)' is used twice")
                return nil
            }
            schemasByState.append(schema)
            aliases.append(state.alias)
        }
        let name = "#pattern:\(index)"
        let patternSchema = StreamSchema(name: name, attributes: schemasByState.enumerated().flatMap { k, schema in
            schema.attributes.map { Attribute(name: "#\(k).\($0.name)", type: $0.type) }
        })
        let qualifiers = aliases.map { [$0] }
        var ok = true
        var states: [PatternState] = []
        for (k, node) in pattern.states.enumerated() {
            var state = PatternState(alias: node.alias, stream: node.stream, schema: schemasByState[k], condition: nil, streamCondition: nil)
            if let condition = node.condition {
                // A bare name is the state's own event; `eJ.x` an earlier state (not a later one).
                guard let resolved = resolvePatternCondition(condition, state: k, schemas: schemasByState, aliases: aliases),
                      let typed = check(resolved, input: patternSchema) else { ok = false; states.append(state); continue }
                if let t = typed.type, t != .bool {
                    diagnostics.error(condition.position, "pattern condition must be bool, got \(t)")
                    ok = false
                }
                state.condition = typed
                if k == 0 { state.streamCondition = check(condition, input: schemasByState[0]) }
            }
            states.append(state)
        }
        var node = query
        node.pattern = nil
        node.inputStream = name
        node.handlers = []
        if let items = query.selection {
            var resolved: [SelectItem] = []
            for item in items {
                guard let e = resolveSides(item.expression, schemasByState, qualifiers: qualifiers, fallback: nil) else { ok = false; continue }
                resolved.append(SelectItem(expression: e, alias: item.alias, position: item.position))
            }
            node.selection = resolved
        } else {
            node.selection = schemasByState.enumerated().flatMap { k, schema in
                schema.attributes.map { SelectItem(expression: .attribute(stream: "#\(k)", name: $0.name, pattern.position), alias: nil, position: pattern.position) }
            }
        }
        var groupBy: [Expression] = []
        for key in query.groupBy {
            guard let e = resolveSides(key, schemasByState, qualifiers: qualifiers, fallback: nil) else { ok = false; continue }
            groupBy.append(e)
        }
        node.groupBy = groupBy
        if query.outputEventType != .current {
            diagnostics.error(query.targetPosition, "patterns emit current events only; use 'insert into'")
            ok = false
        }
        guard ok else { return nil }
        schemas[name] = patternSchema
        guard var plan = compileQuery(node, index: index) else { return nil }
        plan.pattern = PatternPlan(states: states, isSequence: pattern.isSequence, every: pattern.every, withinMs: pattern.withinMs)
        return plan
    }

    private mutating func resolvePatternCondition(_ e: Expression, state k: Int, schemas: [StreamSchema], aliases: [String]) -> Expression? {
        switch e {
        case .literal: return e
        case .attribute(let stream, let name, let p):
            var side = k
            if let stream {
                guard let j = aliases.firstIndex(of: stream) else {
                    if stream == schemas[k].name, schemas[k].index(of: name) != nil { return .attribute(stream: "#\(k)", name: name, p) }
                    diagnostics.error(p, "'\(stream)' is not an event of this pattern")
                    return nil
                }
                guard j <= k else {
                    diagnostics.error(p, "'\(stream)' comes later in the pattern; a condition reads only earlier events")
                    return nil
                }
                side = j
            }
            guard schemas[side].index(of: name) != nil else {
                diagnostics.error(p, "stream '\(schemas[side].name)' has no attribute '\(name)'")
                return nil
            }
            return .attribute(stream: "#\(side)", name: name, p)
        case .binary(let op, let a, let b, let p):
            guard let x = resolvePatternCondition(a, state: k, schemas: schemas, aliases: aliases),
                  let y = resolvePatternCondition(b, state: k, schemas: schemas, aliases: aliases) else { return nil }
            return .binary(op, x, y, p)
        case .negate(let a, let p):
            return resolvePatternCondition(a, state: k, schemas: schemas, aliases: aliases).map { .negate($0, p) }
        case .not(let a, let p):
            return resolvePatternCondition(a, state: k, schemas: schemas, aliases: aliases).map { .not($0, p) }
        case .isNull(let a, let p):
            return resolvePatternCondition(a, state: k, schemas: schemas, aliases: aliases).map { .isNull($0, p) }
        case .function(let namespace, let name, let arguments, let p):
            var resolved: [Expression] = []
            for argument in arguments {
                guard let r = resolvePatternCondition(argument, state: k, schemas: schemas, aliases: aliases) else { return nil }
                resolved.append(r)
            }
            return .function(namespace: namespace, name: name, arguments: resolved, p)
        }
    }
}
