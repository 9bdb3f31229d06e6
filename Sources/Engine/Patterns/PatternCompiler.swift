/// Checking of patterns and sequences: each state's condition over the pattern schema (every
/// state's attributes, `#k.x`, then one group per indexed view of a counting state such as
/// `e1[0]`), where `eJ.x` names an earlier state and a bare name the state's own event; the
/// select reads `eK.x` of any state, `eK[i].x` of a counting one.
extension Compiler {
    mutating func compilePattern(_ query: QueryNode, index: Int) -> QueryPlan? {
        guard let pattern = query.pattern else { return nil }
        guard pattern.states.count <= PatternMachine.statesMax else {
            diagnostics.error(pattern.position, "a pattern has at most \(PatternMachine.statesMax) states (a logical step counts two), this one \(pattern.states.count)")
            return nil
        }
        var schemasByState: [StreamSchema] = []
        var aliases: [String] = []
        for state in pattern.states {
            guard let schema = schemas[state.stream] else { return nil }
            if !state.alias.isEmpty && aliases.contains(state.alias) {
                diagnostics.error(state.position, "pattern event name '\(state.alias)' is used twice")
                return nil
            }
            schemasByState.append(schema)
            aliases.append(state.alias)
        }
        var ok = true
        for (k, element) in pattern.elements.enumerated() where element.logical != nil {
            let a = pattern.states[element.states[0]], b = pattern.states[element.states[1]]
            if a.isCounting || b.isCounting {
                diagnostics.error(element.position, "a logical step (and, or) joins single events, not counted ones")
                ok = false
            }
            if a.isAbsent && b.isAbsent {
                // `not A[…] for T1 and not B[…] for T2`, `… or …` (Siddhi 5's grammar: both with a time).
                if let untimed = [a, b].first(where: { $0.forMs == nil }) {
                    diagnostics.error(untimed.position, "each 'not' of a step with two needs a time: not A[…] for 1 sec and not B[…] for 1 sec")
                    ok = false
                } else if element.every && k > 0 {
                    // First in a pattern, each side re-arms on its own clock (Siddhi 5's runtime); later
                    // in a chain each partial match reaching it would start clocks of its own: not worked out yet.
                    diagnostics.error(a.position, "'every' on a step of two 'not's is supported as the first step only, not yet later in a chain")
                    ok = false
                }
            }
            if element.logical == .or && (a.isAbsent || b.isAbsent) && (a.forMs == nil && b.forMs == nil) {
                diagnostics.error(element.position, "'not A or B' needs a time: not A[…] for 5 sec or e2=B[…]")
                ok = false
            }
        }
        for (k, element) in pattern.elements.enumerated() where element.logical == nil {
            let state = pattern.states[element.states[0]]
            if state.isAbsent && state.forMs == nil {
                diagnostics.error(state.position, "'not \(state.stream)' alone needs a time: not \(state.stream)[…] for 5 sec")
                ok = false
            }
            if state.isCounting && state.minCount == 0 && k == pattern.elements.count - 1 {
                diagnostics.error(state.position, "the last step cannot match zero events (it would match without any)")
                ok = false
            }
        }
        for group in pattern.everyGroups {
            // `every (not A for T -> e1=B …)` first in the pattern: Siddhi 5's runtime turns the first
            // absent state off once it has fired (only the group's last step links back to it), so the
            // group matches at most once; the machine does the same. Later in a chain, or starting with
            // a logical step with `not`, the group would re-arm its absence: not worked out yet.
            let first = pattern.elements[group.first]
            if let s = first.states.first(where: { pattern.states[$0].isAbsent }), group.first > 0 || first.states.count > 1 {
                diagnostics.error(pattern.states[s].position, group.first > 0
                    ? "an every (…) group later in a chain cannot start with 'not' yet; start it with an event"
                    : "an every (…) group cannot start with a logical step with 'not' yet; start it with an event")
                ok = false
            }
        }
        if pattern.isSequence && pattern.elements[0].every && pattern.elements[0].logical != nil,
           let s = pattern.elements[0].states.first(where: { pattern.states[$0].isAbsent }), pattern.states[s].forMs == nil {
            // `every (not S and e2=B), …` (no time): when a sequence's first logical absence restarts is not worked out yet.
            diagnostics.error(pattern.states[s].position, "a sequence cannot start with 'every' on a logical step with a 'not' without a time yet; add 'for T', drop 'every' or start with an event")
            ok = false
        }
        guard ok else { return nil }

        var context = PatternResolution(states: pattern.states, schemas: schemasByState, aliases: aliases)
        var conditions: [Expression?] = []
        for (k, node) in pattern.states.enumerated() {
            guard let condition = node.condition else { conditions.append(nil); continue }
            let resolved = resolvePatternExpression(condition, state: k, &context)
            if resolved == nil { ok = false }
            conditions.append(resolved)
        }
        var selection: [SelectItem] = []
        if let items = query.selection {
            for item in items {
                guard let e = resolvePatternExpression(item.expression, state: nil, &context) else { ok = false; continue }
                selection.append(SelectItem(expression: e, alias: item.alias, position: item.position))
            }
        } else {
            for (k, schema) in schemasByState.enumerated() where !pattern.states[k].isAbsent {
                for a in schema.attributes {
                    selection.append(SelectItem(expression: .attribute(stream: "#\(k)", name: a.name, pattern.position), alias: nil, position: pattern.position))
                }
            }
        }
        var groupBy: [Expression] = []
        for key in query.groupBy {
            guard let e = resolvePatternExpression(key, state: nil, &context) else { ok = false; continue }
            groupBy.append(e)
        }
        if query.outputEventType != .current {
            diagnostics.error(query.targetPosition, "patterns emit current events only; use 'insert into'")
            ok = false
        }
        guard ok else { return nil }

        let name = "#pattern:\(index)"
        var groups: [(Int, StreamSchema)] = schemasByState.enumerated().map { ($0, $1) }
        for (v, view) in context.views.enumerated() { groups.append((pattern.states.count + v, schemasByState[view.state])) }
        let patternSchema = StreamSchema(name: name, attributes: groups.flatMap { g, schema in
            schema.attributes.map { Attribute(name: "#\(g).\($0.name)", type: $0.type) }
        })
        var states: [PatternState] = []
        for (k, node) in pattern.states.enumerated() {
            var state = PatternState(alias: node.alias, stream: node.stream, schema: schemasByState[k], condition: nil, streamCondition: nil,
                                     minCount: node.minCount, maxCount: node.maxCount, isAbsent: node.isAbsent, forMs: node.forMs)
            if let resolved = conditions[k], let condition = node.condition {
                guard let typed = check(resolved, input: patternSchema) else { ok = false; states.append(state); continue }
                if let t = typed.type, t != .bool {
                    diagnostics.error(condition.position, "pattern condition must be bool, got \(t)")
                    ok = false
                }
                state.condition = typed
                // A condition on the state's own event only runs as a plain filter over whole batches.
                if let own = PatternResolution.ownEventOnly(resolved, state: k) { state.streamCondition = check(own, input: schemasByState[k]) }
            }
            states.append(state)
        }
        var node = query
        node.pattern = nil
        node.inputStream = name
        node.handlers = []
        node.selection = selection
        node.groupBy = groupBy
        guard ok else { return nil }
        schemas[name] = patternSchema
        guard var plan = compileQuery(node, index: index) else { return nil }
        var elements = pattern.elements.map { PatternElement(states: $0.states, logical: $0.logical, every: $0.every) }
        for group in pattern.everyGroups { elements[group.last].everyGroupFirst = group.first }
        plan.pattern = PatternPlan(states: states, isSequence: pattern.isSequence, every: pattern.every, withinMs: pattern.withinMs,
                                   elements: elements, views: context.views)
        return plan
    }

    /// Resolves `eJ.x`, `eJ[i].x` and bare names to pattern-schema groups (`#g.x`). `state`: the
    /// state whose condition this is (bare names are its own event), nil for the select.
    private mutating func resolvePatternExpression(_ e: Expression, state k: Int?, _ c: inout PatternResolution) -> Expression? {
        switch e {
        case .literal: return e
        case .attribute(let qualifier, let name, let p):
            guard let qualifier else {
                if let k {
                    guard c.schemas[k].index(of: name) != nil else {
                        diagnostics.error(p, "stream '\(c.schemas[k].name)' has no attribute '\(name)'")
                        return nil
                    }
                    return .attribute(stream: "#\(k)", name: name, p)
                }
                let candidates = c.states.indices.filter { !c.states[$0].isAbsent && c.schemas[$0].index(of: name) != nil }
                guard candidates.count == 1 else {
                    diagnostics.error(p, candidates.isEmpty ? "no event of this pattern has an attribute '\(name)'"
                                      : "'\(name)' is ambiguous: qualify it with the event name, such as \(c.aliases[candidates[0]]).\(name)")
                    return nil
                }
                if c.states[candidates[0]].isCounting {
                    diagnostics.error(p, "'\(name)' is of \(c.aliases[candidates[0]]), which collects several events: use \(c.aliases[candidates[0]])[0].\(name) or \(c.aliases[candidates[0]])[last].\(name)")
                    return nil
                }
                return .attribute(stream: "#\(candidates[0])", name: name, p)
            }
            var alias = qualifier
            var index: PatternIndex? = nil
            if let open = qualifier.firstIndex(of: "["), qualifier.hasSuffix("]") {
                alias = String(qualifier[..<open])
                let text = qualifier[qualifier.index(after: open)..<qualifier.index(before: qualifier.endIndex)]
                if text == "last" {
                    index = .last(0)
                } else if text.hasPrefix("last-"), let n = Int(text.dropFirst(5)) {
                    index = .last(n)
                } else if let n = Int(text) {
                    index = .first(n)
                }
            }
            guard let j = c.aliases.firstIndex(of: alias), !alias.isEmpty else {
                if index == nil, let k, qualifier == c.schemas[k].name, c.schemas[k].index(of: name) != nil { return .attribute(stream: "#\(k)", name: name, p) }
                diagnostics.error(p, "'\(alias)' is not an event of this pattern")
                return nil
            }
            if let k, j > k {
                diagnostics.error(p, "'\(alias)' comes later in the pattern; a condition reads only earlier events")
                return nil
            }
            guard c.schemas[j].index(of: name) != nil else {
                diagnostics.error(p, "stream '\(c.schemas[j].name)' has no attribute '\(name)'")
                return nil
            }
            let counting = c.states[j].isCounting
            if let index {
                guard counting else {
                    diagnostics.error(p, "'\(qualifier)' indexes the events of a counting state, but \(alias) matches one event (add <n:m>, or +, * or ? in a sequence); use \(alias).\(name)")
                    return nil
                }
                if index == .last(0) { return .attribute(stream: "#\(j)", name: name, p) }
                let v = c.view(state: j, index)
                return .attribute(stream: "#\(c.states.count + v)", name: name, p)
            }
            if counting && j != k {
                diagnostics.error(p, "\(alias) collects several events: use \(alias)[0].\(name), \(alias)[last].\(name) or another index")
                return nil
            }
            return .attribute(stream: "#\(j)", name: name, p)
        case .binary(let op, let a, let b, let p):
            guard let x = resolvePatternExpression(a, state: k, &c), let y = resolvePatternExpression(b, state: k, &c) else { return nil }
            return .binary(op, x, y, p)
        case .negate(let a, let p):
            return resolvePatternExpression(a, state: k, &c).map { .negate($0, p) }
        case .not(let a, let p):
            return resolvePatternExpression(a, state: k, &c).map { .not($0, p) }
        case .isNull(let a, let p):
            return resolvePatternExpression(a, state: k, &c).map { .isNull($0, p) }
        case .function(let namespace, let name, let arguments, let p):
            var resolved: [Expression] = []
            for argument in arguments {
                guard let r = resolvePatternExpression(argument, state: k, &c) else { return nil }
                resolved.append(r)
            }
            return .function(namespace: namespace, name: name, arguments: resolved, p)
        }
    }
}

/// What resolving a pattern's expressions needs, and the indexed views it found.
struct PatternResolution {
    var states: [PatternStateNode]
    var schemas: [StreamSchema]
    var aliases: [String]
    var views: [(state: Int, index: PatternIndex)] = []

    /// `e` over state `k`'s own stream (`#k.x` as `x`), when it reads nothing else.
    static func ownEventOnly(_ e: Expression, state k: Int) -> Expression? {
        switch e {
        case .literal: return e
        case .attribute(let qualifier, let name, let p):
            return qualifier == "#\(k)" ? .attribute(stream: nil, name: name, p) : nil
        case .binary(let op, let a, let b, let p):
            guard let x = ownEventOnly(a, state: k), let y = ownEventOnly(b, state: k) else { return nil }
            return .binary(op, x, y, p)
        case .negate(let a, let p): return ownEventOnly(a, state: k).map { .negate($0, p) }
        case .not(let a, let p): return ownEventOnly(a, state: k).map { .not($0, p) }
        case .isNull(let a, let p): return ownEventOnly(a, state: k).map { .isNull($0, p) }
        case .function(let namespace, let name, let arguments, let p):
            var own: [Expression] = []
            for argument in arguments {
                guard let a = ownEventOnly(argument, state: k) else { return nil }
                own.append(a)
            }
            return .function(namespace: namespace, name: name, arguments: own, p)
        }
    }

    /// The view of `index` of `state`, added on first use.
    mutating func view(state: Int, _ index: PatternIndex) -> Int {
        if let v = views.firstIndex(where: { $0.state == state && $0.index == index }) { return v }
        views.append((state, index))
        return views.count - 1
    }
}
