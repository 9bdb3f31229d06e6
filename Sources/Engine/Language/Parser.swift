/// Recursive-descent parser for SiddhiQL. On an error it records it and skips to the next `;`,
/// so one run reports every syntax error of a file.
struct Parser {
    private let tokens: [Token]
    private var index = 0
    private var diagnostics: Diagnostics
    /// The partition whose `begin … end` is being parsed: inner streams (`#Name`) are scoped to it.
    private var partitionIndex: Int? = nil

    struct Abort: Error {}

    init(tokens: [Token], diagnostics: Diagnostics) {
        self.tokens = tokens
        self.diagnostics = diagnostics
    }

    static func parse(_ source: String, fileName: String) -> (AppNode, Diagnostics) {
        var diagnostics = Diagnostics(fileName: fileName)
        let tokens = Lexer.tokenize(source, diagnostics: &diagnostics)
        var parser = Parser(tokens: tokens, diagnostics: diagnostics)
        let app = parser.parseApp()
        return (app, parser.diagnostics)
    }

    /// Parses `text` as one expression (the string argument of `#window.expression(...)`), with
    /// positions relative to `text`.
    static func parseExpression(_ text: String, fileName: String) -> (Expression?, Diagnostics) {
        var diagnostics = Diagnostics(fileName: fileName)
        let tokens = Lexer.tokenize(text, diagnostics: &diagnostics)
        var parser = Parser(tokens: tokens, diagnostics: diagnostics)
        var expression: Expression? = nil
        do {
            let e = try parser.parseExpression()
            if !parser.atEnd { throw parser.fail("unexpected \(parser.describe(parser.current)) after the expression") }
            expression = e
        } catch {}
        return (parser.diagnostics.errors.isEmpty ? expression : nil, parser.diagnostics)
    }

    // MARK: Token helpers

    var current: Token { tokens[index] }
    var atEnd: Bool { current.kind == .end }

    mutating func advance() { if !atEnd { index += 1 } }

    mutating func fail(_ message: String, at position: SourcePosition? = nil) -> Abort {
        diagnostics.error(position ?? current.position, message)
        return Abort()
    }

    func describe(_ token: Token) -> String {
        switch token.kind {
        case .identifier(let s): return "'\(s)'"
        case .symbol(let s): return "'\(s)'"
        case .stringLiteral(let s): return "string '\(s)'"
        case .intLiteral(let v), .longLiteral(let v): return "number \(v)"
        case .floatLiteral(let v): return "number \(v)"
        case .doubleLiteral(let v): return "number \(v)"
        case .end: return "end of file"
        }
    }

    mutating func expectSymbol(_ symbol: String) throws(Abort) {
        guard current.isSymbol(symbol) else { throw fail("expected '\(symbol)' but found \(describe(current))") }
        advance()
    }

    mutating func expectKeyword(_ word: String) throws(Abort) {
        guard current.isKeyword(word) else { throw fail("expected '\(word)' but found \(describe(current))") }
        advance()
    }

    mutating func acceptSymbol(_ symbol: String) -> Bool {
        if current.isSymbol(symbol) { advance(); return true }
        return false
    }

    mutating func acceptKeyword(_ word: String) -> Bool {
        if current.isKeyword(word) { advance(); return true }
        return false
    }

    mutating func identifier(_ what: String) throws(Abort) -> (String, SourcePosition) {
        guard case .identifier(let name) = current.kind else { throw fail("expected \(what) but found \(describe(current))") }
        let position = current.position
        advance()
        return (name, position)
    }

    /// Skips past the next `;` (or to the end) after an error.
    private mutating func recover() {
        while !atEnd && !current.isSymbol(";") { advance() }
        advance()
    }

    // MARK: App

    private mutating func parseApp() -> AppNode {
        var app = AppNode()
        while !atEnd {
            if acceptSymbol(";") { continue }
            do {
                let annotations = try parseAnnotations(app: &app)
                if atEnd {
                    if !annotations.isEmpty { throw fail("annotation without a definition or query", at: annotations[0].position) }
                    break
                }
                if current.isKeyword("define") {
                    try parseDefinition(annotations: annotations, into: &app)
                } else if current.isKeyword("from") {
                    app.queries.append(try parseQuery(annotations: annotations))
                } else if current.isKeyword("partition") {
                    try parsePartition(annotations: annotations, into: &app)
                } else {
                    throw fail("expected 'define' or 'from' but found \(describe(current))")
                }
            } catch {
                recover()
            }
        }
        return app
    }

    /// Annotations before an element; `@App:...` ones go to the app.
    private mutating func parseAnnotations(app: inout AppNode) throws(Abort) -> [Annotation] {
        var annotations: [Annotation] = []
        while current.isSymbol("@") {
            let annotation = try parseAnnotation()
            if annotation.name.lowercased().hasPrefix("app:") {
                app.annotations.append(annotation)
            } else {
                annotations.append(annotation)
            }
        }
        return annotations
    }

    private mutating func parseAnnotation() throws(Abort) -> Annotation {
        let position = current.position
        try expectSymbol("@")
        var (name, _) = try identifier("an annotation name")
        if acceptSymbol(":") {
            let (sub, _) = try identifier("an annotation name after ':'")
            name += ":" + sub
        }
        var annotation = Annotation(name: name, elements: [], nested: [], position: position)
        guard acceptSymbol("(") else { return annotation }
        if acceptSymbol(")") { return annotation }
        repeat {
            if current.isSymbol("@") {
                annotation.nested.append(try parseAnnotation())
                continue
            }
            let elementPosition = current.position
            var key: String? = nil
            if case .identifier(let first) = current.kind {
                // key or dotted key: receiver.url = '...'
                var k = first
                advance()
                while acceptSymbol(".") {
                    let (part, _) = try identifier("a key part")
                    k += "." + part
                }
                try expectSymbol("=")
                key = k
            }
            let value: String
            switch current.kind {
            case .stringLiteral(let s): value = s
            case .intLiteral(let v), .longLiteral(let v): value = String(v)
            case .doubleLiteral(let v): value = String(v)
            case .floatLiteral(let v): value = String(v)
            case .identifier(let s) where ["true", "false"].contains(s.lowercased()): value = s.lowercased()
            default: throw fail("expected an annotation value but found \(describe(current))")
            }
            advance()
            annotation.elements.append(.init(key: key, value: value, position: elementPosition))
        } while acceptSymbol(",")
        try expectSymbol(")")
        return annotation
    }

    // MARK: Definitions

    private mutating func parseDefinition(annotations: [Annotation], into app: inout AppNode) throws(Abort) {
        try expectKeyword("define")
        let kindToken = current
        let (kind, kindPosition) = try identifier("'stream', 'table', 'window', 'trigger', 'aggregation' or 'function'")
        switch kind.lowercased() {
        case "stream", "table":
            let isTable = kind.lowercased() == "table"
            let (name, position) = try identifier(isTable ? "a table name" : "a stream name")
            let attributes = try parseAttributeList()
            if !atEnd { try expectSymbol(";") }
            let node = StreamDefinitionNode(name: name, attributes: attributes, annotations: annotations, position: position)
            if isTable { app.tables.append(node) } else { app.streams.append(node) }
        case "trigger":
            let (name, position) = try identifier("a trigger name")
            try expectKeyword("at")
            let when: TriggerNode.When
            if acceptKeyword("every") {
                let e = try parseExpression()
                guard case .literal(let v, _) = e else { throw fail("'at every' needs a time such as 5 sec", at: e.position) }
                switch v {
                case .int(let n) where n > 0: when = .every(Int64(n))
                case .long(let n) where n > 0: when = .every(n)
                default: throw fail("'at every' needs a positive time such as 5 sec", at: e.position)
                }
            } else if case .stringLiteral(let text) = current.kind {
                let p = current.position
                advance()
                when = text.lowercased() == "start" ? .start : .cron(text, p)
            } else {
                throw fail("expected 'start', every <time> or a cron expression after 'at'")
            }
            if !atEnd { try expectSymbol(";") }
            app.triggers.append(TriggerNode(name: name, when: when, position: position))
        case "window":
            let (name, position) = try identifier("a window name")
            let attributes = try parseAttributeList()
            let windowPosition = current.position
            var (windowName, _) = try identifier("the window's type, such as length(10) or time(1 sec)")
            var namespace: String? = "window"
            if acceptSymbol(":") || acceptSymbol(".") {
                namespace = windowName
                (windowName, _) = try identifier("a window type")
            }
            try expectSymbol("(")
            var arguments: [Expression] = []
            if !current.isSymbol(")") {
                repeat { arguments.append(try parseExpression()) } while acceptSymbol(",")
            }
            try expectSymbol(")")
            var eventType = OutputEventType.all
            if acceptKeyword("output") {
                if acceptKeyword("current") { eventType = .current } else if acceptKeyword("expired") { eventType = .expired } else {
                    try expectKeyword("all")
                }
                try expectKeyword("events")
            }
            if !atEnd { try expectSymbol(";") }
            let node = StreamDefinitionNode(name: name, attributes: attributes, annotations: annotations, position: position)
            app.windows.append(WindowDefinitionNode(definition: node,
                                                    window: .window(namespace: namespace, name: windowName, arguments: arguments, windowPosition),
                                                    outputEventType: eventType))
        case "aggregation":
            app.aggregations.append(try parseAggregationDefinition(annotations: annotations))
        case "function":
            throw fail("'define \(kind.lowercased())' is not supported yet", at: kindPosition)
        default:
            throw fail("unknown definition \(describe(kindToken))", at: kindPosition)
        }
    }

    // MARK: Queries

    private mutating func parseQuery(annotations: [Annotation]) throws(Abort) -> QueryNode {
        let position = current.position
        try expectKeyword("from")
        var patternNode: PatternNode? = nil
        if current.isKeyword("every") || current.isKeyword("not") || current.isSymbol("(") || next.isSymbol("=") {
            patternNode = try parsePattern()
        }
        let first: InputSideNode
        if let patternNode {
            first = InputSideNode(stream: patternNode.states[0].stream, position: patternNode.position, handlers: [])
        } else {
            first = try parseInputSide()
        }
        let input = first.stream, inputPosition = first.position
        var handlers = first.handlers
        var join: JoinNode? = nil
        var unidirectional: Int? = nil
        if patternNode == nil && acceptKeyword("unidirectional") { unidirectional = 0 }
        let joinPosition = current.position
        var kind: JoinKind? = nil
        if acceptKeyword("join") {
            kind = .inner
        } else if acceptKeyword("inner") {
            try expectKeyword("join")
            kind = .inner
        } else if current.isKeyword("left") || current.isKeyword("right") || current.isKeyword("full") {
            let side = current.isKeyword("left") ? JoinKind.leftOuter : current.isKeyword("right") ? .rightOuter : .fullOuter
            advance()
            try expectKeyword("outer")
            try expectKeyword("join")
            kind = side
        } else if unidirectional != nil {
            throw fail("expected 'join' after 'unidirectional'")
        }
        if let kind {
            let second = try parseInputSide()
            if acceptKeyword("unidirectional") {
                if unidirectional != nil { throw fail("only one side of a join can be unidirectional") }
                unidirectional = 1
            }
            var on: Expression? = nil
            if acceptKeyword("on") { on = try parseExpression() }
            let retrieval = try parseAggregationRetrieval()
            if patternNode != nil { throw fail("a pattern cannot be joined", at: joinPosition) }
            join = JoinNode(left: first, right: second, kind: kind, on: on, unidirectional: unidirectional, position: joinPosition,
                            retrieval: retrieval)
            handlers = []
        } else if first.alias != nil {
            throw fail("'as' names a stream only in joins and patterns", at: first.position)
        }
        var selection: [SelectItem]? = nil
        if acceptKeyword("select") {
            if !acceptSymbol("*") {
                selection = try parseSelectItems()
            }
        }
        var groupBy: [Expression] = []
        if acceptKeyword("group") {
            try expectKeyword("by")
            repeat { groupBy.append(try parseExpression()) } while acceptSymbol(",")
        }
        var having: Expression? = nil
        if acceptKeyword("having") { having = try parseExpression() }
        var orderBy: [(Expression, ascending: Bool)] = []
        if acceptKeyword("order") {
            try expectKeyword("by")
            repeat {
                let e = try parseExpression()
                var ascending = true
                if acceptKeyword("desc") { ascending = false } else { _ = acceptKeyword("asc") }
                orderBy.append((e, ascending: ascending))
            } while acceptSymbol(",")
        }
        var limit: Expression? = nil
        if acceptKeyword("limit") { limit = try parseExpression() }
        var offset: Expression? = nil
        if acceptKeyword("offset") { offset = try parseExpression() }
        var outputRate: OutputRateNode? = nil
        if current.isKeyword("output") {
            let p = current.position
            advance()
            var mode = OutputRateNode.Mode.all
            for m in [OutputRateNode.Mode.all, .first, .last, .snapshot] where acceptKeyword(m.rawValue) { mode = m }
            try expectKeyword("every")
            guard case .intLiteral(let amount) = current.kind else { throw fail("expected a number of events or a time after 'every'") }
            advance()
            if acceptKeyword("events") || acceptKeyword("event") {
                guard amount > 0 else { throw fail("output rate needs a positive number of events", at: p) }
                outputRate = OutputRateNode(mode: mode, events: Int(amount), timeMs: nil, position: p)
            } else if case .identifier(let unit) = current.kind, let ms = Parser.timeUnitMs(unit) {
                advance()
                outputRate = OutputRateNode(mode: mode, events: nil, timeMs: amount &* ms, position: p)
            } else {
                throw fail("expected 'events' or a time unit after the output rate")
            }
        }
        if current.isKeyword("delete") || current.isKeyword("update") {
            let isDelete = current.isKeyword("delete")
            advance()
            var upsert = false
            if !isDelete && acceptKeyword("or") {
                try expectKeyword("insert")
                try expectKeyword("into")
                upsert = true
            }
            let (target, targetPosition) = try identifier("a table name")
            if acceptKeyword("for") {
                // `for current events` etc.: only current events reach tables here.
                guard acceptKeyword("current") || acceptKeyword("expired") || acceptKeyword("all") else {
                    throw fail("expected 'current', 'expired' or 'all' after 'for'")
                }
                try expectKeyword("events")
            }
            var set: [(attribute: String, value: Expression, position: SourcePosition)] = []
            if !isDelete && acceptKeyword("set") {
                repeat {
                    let p = current.position
                    var (name, _) = try identifier("a table attribute")
                    if acceptSymbol(".") {
                        guard name == target else { throw fail("'set' assigns attributes of '\(target)'", at: p) }
                        name = try identifier("a table attribute").0
                    }
                    try expectSymbol("=")
                    set.append((name, try parseExpression(), p))
                } while acceptSymbol(",")
            }
            try expectKeyword("on")
            let on = try parseExpression()
            if !atEnd { try expectSymbol(";") }
            let action: OutputActionNode = isDelete ? .delete(on: on) : upsert ? .updateOrInsert(set: set, on: on) : .update(set: set, on: on)
            return QueryNode(annotations: annotations, inputStream: input, inputPosition: inputPosition, handlers: handlers,
                             join: join, pattern: patternNode, action: action, selection: selection, groupBy: groupBy, having: having,
                             orderBy: orderBy, limit: limit, offset: offset, outputRate: outputRate,
                             outputEventType: .current, target: target, targetPosition: targetPosition, position: position)
        }
        guard current.isKeyword("insert") else {
            if current.isKeyword("return") {
                throw fail("'return' output is not supported yet; use 'insert into'")
            }
            throw fail("expected 'insert', 'delete' or 'update' but found \(describe(current))")
        }
        advance()
        var eventType = OutputEventType.current
        if acceptKeyword("current") {
            try expectKeyword("events")
        } else if acceptKeyword("expired") {
            try expectKeyword("events")
            eventType = .expired
        } else if acceptKeyword("all") {
            try expectKeyword("events")
            eventType = .all
        }
        try expectKeyword("into")
        let (target, targetPosition) = try streamName("an output stream name")
        if !atEnd { try expectSymbol(";") }
        return QueryNode(annotations: annotations, inputStream: input, inputPosition: inputPosition, handlers: handlers,
                         join: join, pattern: patternNode, selection: selection, groupBy: groupBy, having: having, orderBy: orderBy, limit: limit,
                         offset: offset, outputRate: outputRate, outputEventType: eventType, target: target,
                         targetPosition: targetPosition, position: position)
    }

    private var next: Token { tokens[min(index + 1, tokens.count - 1)] }

    /// `[every] step (-> | ,) [every] step … [within T]`, where a step is a state
    /// (`e1=A[cond]`, counted `<n:m>` in patterns or `+ * ?` in sequences, or `not A[cond] [for T]`),
    /// or two states joined by `and` / `or`, optionally in parentheses; parentheses may also hold
    /// several steps, `every (e1=A -> e2=B)` making them one group that restarts as a whole.
    private mutating func parsePattern() throws(Abort) -> PatternNode {
        let position = current.position
        var chain = PatternChain()
        try parsePatternSteps(&chain, insideEvery: false)
        var withinMs: Int64? = nil
        let withinPosition = current.position
        if acceptKeyword("within") {
            let e = try parseExpression()
            guard case .literal(let v, _) = e else { throw fail("'within' needs a time constant such as 1 sec", at: e.position) }
            switch v {
            case .int(let n) where n > 0: withinMs = Int64(n)
            case .long(let n) where n > 0: withinMs = n
            default: throw fail("'within' needs a positive time constant such as 1 sec", at: e.position)
            }
            // `every (e1=A -> e2=B) within 1 sec -> e3=C`: Siddhi 5's grammar has one `within`, after the whole pattern.
            if current.isSymbol("->") || current.isSymbol(",") {
                throw fail("'within' goes at the end of the whole pattern (Siddhi 5's grammar); a part of it takes no 'within' of its own", at: withinPosition)
            }
        }
        let isSequence = chain.separator == ","
        // Siddhi's grammar: counts `<n:m>` in patterns, quantifiers `+ * ?` in sequences.
        if isSequence, let p = chain.angleCounts.first { throw fail("a sequence counts with +, * or ?; <n:m> is for patterns (->)", at: p) }
        if !isSequence, let p = chain.quantifiers.first { throw fail("+, * and ? are for sequences (,); a pattern (->) counts with <n:m>", at: p) }
        // Siddhi's sequence grammar has `every` only before the first state, not over a group.
        if isSequence, let group = chain.groups.first { throw fail("'every' over a group of steps is for patterns (->), not sequences", at: group.position) }
        return PatternNode(states: chain.states, elements: chain.elements, isSequence: isSequence, every: chain.elements[0].every,
                           withinMs: withinMs, position: position, everyGroups: chain.groups)
    }

    /// What `parsePatternSteps` collects across nested parentheses.
    private struct PatternChain {
        var states: [PatternStateNode] = []
        var elements: [PatternElementNode] = []
        var groups: [PatternGroupNode] = []
        var separator: String? = nil
        var angleCounts: [SourcePosition] = [], quantifiers: [SourcePosition] = []
    }

    /// Steps separated by `->` or `,`, up to a `)` or the end of the pattern. As in
    /// Siddhi's grammar, an `every` group holds no further `every`.
    private mutating func parsePatternSteps(_ chain: inout PatternChain, insideEvery: Bool) throws(Abort) {
        while true {
            let elementPosition = current.position
            let every = acceptKeyword("every")
            if every && insideEvery { throw fail("'every' inside an every (…) group is not supported; the group restarts as a whole", at: elementPosition) }
            if acceptSymbol("(") {
                let first = chain.elements.count
                try parsePatternSteps(&chain, insideEvery: insideEvery || every)
                if current.isKeyword("within") { throw fail("'within' goes at the end of the whole pattern, not inside parentheses (Siddhi 5's grammar)") }
                try expectSymbol(")")
                if chain.elements.count - first == 1 {
                    // `every (e1=A and e2=B)`, `(e1=A)`: one step in parentheses.
                    if every {
                        chain.elements[first].every = true
                        chain.elements[first].position = elementPosition
                    }
                } else if every {
                    chain.groups.append(PatternGroupNode(first: first, last: chain.elements.count - 1, position: elementPosition))
                }
            } else {
                var element = PatternElementNode(states: [chain.states.count], every: every, position: elementPosition)
                chain.states.append(try parsePatternState(&chain.angleCounts, &chain.quantifiers))
                if current.isKeyword("and") || current.isKeyword("or") {
                    element.logical = current.isKeyword("and") ? .and : .or
                    advance()
                    element.states.append(chain.states.count)
                    chain.states.append(try parsePatternState(&chain.angleCounts, &chain.quantifiers))
                    if current.isKeyword("and") || current.isKeyword("or") {
                        throw fail("a logical pattern step joins two states; group further ones as separate steps")
                    }
                }
                chain.elements.append(element)
            }
            let here: String
            if current.isSymbol("->") { here = "->" } else if current.isSymbol(",") { here = "," } else { break }
            if let separator = chain.separator, separator != here { throw fail("a query is either a pattern (->) or a sequence (,), not both") }
            chain.separator = here
            advance()
        }
    }

    /// `e1=Stream[cond][<n:m> | + | * | ?]` or `not Stream[cond] [for T]`.
    private mutating func parsePatternState(_ angleCounts: inout [SourcePosition],
                                            _ quantifiers: inout [SourcePosition]) throws(Abort) -> PatternStateNode {
        if current.isKeyword("every") { throw fail("'every' goes before a step, not inside a logical one") }
        if current.isKeyword("not") {
            let p = current.position
            advance()
            let (stream, _) = try streamName("a stream name after 'not'")
            var condition: Expression? = nil
            if acceptSymbol("[") {
                condition = try parseExpression()
                try expectSymbol("]")
            }
            var state = PatternStateNode(alias: "", stream: stream, condition: condition, position: p)
            state.isAbsent = true
            if acceptKeyword("for") { state.forMs = try parsePatternTime("'for'") }
            return state
        }
        let (alias, statePosition) = try identifier("a pattern event name such as e1")
        try expectSymbol("=")
        let (stream, _) = try streamName("a stream name")
        var condition: Expression? = nil
        if acceptSymbol("[") {
            condition = try parseExpression()
            try expectSymbol("]")
        }
        var state = PatternStateNode(alias: alias, stream: stream, condition: condition, position: statePosition)
        if current.isSymbol("<") {
            let countPosition = current.position
            angleCounts.append(countPosition)
            advance()
            func count() throws(Abort) -> Int? {
                guard case .intLiteral(let v) = current.kind else { return nil }
                advance()
                guard v <= Int64(Int32.max) else { throw fail("count \(v) is too large", at: countPosition) }
                return Int(v)
            }
            let low = try count()
            var high = low
            if acceptSymbol(":") { high = try count() } else if low == nil { throw fail("expected a count such as <2:5>, <2:>, <:5> or <3>") }
            try expectSymbol(">")
            let minCount = low ?? 0, maxCount = high ?? -1
            if maxCount == 0 || (maxCount >= 0 && maxCount < minCount) {
                throw fail("count <\(low.map(String.init) ?? ""):\(high.map(String.init) ?? "")> matches nothing: the maximum must be at least 1 and the minimum", at: countPosition)
            }
            state.minCount = minCount
            state.maxCount = maxCount
            state.isCounting = true
        } else if current.isSymbol("+") || current.isSymbol("*") || current.isSymbol("?") {
            state.minCount = current.isSymbol("+") ? 1 : 0
            state.maxCount = current.isSymbol("?") ? 1 : -1
            state.isCounting = true
            quantifiers.append(current.position)
            advance()
        }
        return state
    }

    /// A time constant such as `5 sec` or `100` (milliseconds), positive.
    private mutating func parsePatternTime(_ what: String) throws(Abort) -> Int64 {
        let p = current.position
        guard case .intLiteral(let amount) = current.kind else { throw fail("\(what) needs a time such as 5 sec") }
        advance()
        var ms = amount
        if case .identifier(let unit) = current.kind, let unitMs = Parser.timeUnitMs(unit) {
            advance()
            ms = amount &* unitMs
        }
        guard ms > 0 else { throw fail("\(what) needs a positive time", at: p) }
        return ms
    }

    /// `(name type, …)` of a stream, table or window definition.
    mutating func parseAttributeList() throws(Abort) -> [AttributeNode] {
        try expectSymbol("(")
        var attributes: [AttributeNode] = []
        repeat {
            let (attribute, attributePosition) = try identifier("an attribute name")
            let (typeName, typePosition) = try identifier("an attribute type")
            attributes.append(AttributeNode(name: attribute, typeName: typeName, position: attributePosition, typePosition: typePosition))
        } while acceptSymbol(",")
        try expectSymbol(")")
        return attributes
    }

    /// `expression [as alias], …` of a select.
    mutating func parseSelectItems() throws(Abort) -> [SelectItem] {
        var items: [SelectItem] = []
        repeat {
            let itemPosition = current.position
            let expression = try parseExpression()
            var alias: String? = nil
            if acceptKeyword("as") { alias = try identifier("an alias").0 }
            items.append(SelectItem(expression: expression, alias: alias, position: itemPosition))
        } while acceptSymbol(",")
        return items
    }

    // MARK: Partitions

    /// The internal name of inner stream `#name` of partition `partition`: unique across partitions.
    static func innerStreamName(_ name: String, partition: Int) -> String {
        partition == 0 ? "#" + name : "#\(name)@\(partition)"
    }

    /// A stream name, or `#Inner` inside a partition (scoped to it).
    private mutating func streamName(_ what: String) throws(Abort) -> (String, SourcePosition) {
        let position = current.position
        if acceptSymbol("#") {
            guard let partitionIndex else { throw fail("inner streams (#Name) exist only inside a partition", at: position) }
            let (name, _) = try identifier("an inner stream name after '#'")
            return (Parser.innerStreamName(name, partition: partitionIndex), position)
        }
        return try identifier(what)
    }

    /// `partition with (key of S, …) begin query; … end;` — a key is `expression of S` (value
    /// partition) or `condition as 'label' or … of S` (range partition).
    private mutating func parsePartition(annotations: [Annotation], into app: inout AppNode) throws(Abort) {
        let position = current.position
        try expectKeyword("partition")
        if partitionIndex != nil { throw fail("partitions cannot be nested", at: position) }
        try expectKeyword("with")
        try expectSymbol("(")
        var keys: [PartitionKeyNode] = []
        repeat {
            let keyPosition = current.position
            let first = try parseExpression()
            var kind: PartitionKeyNode.Kind
            if acceptKeyword("as") {
                var ranges: [(Expression, String, SourcePosition)] = []
                var condition = first
                while true {
                    let labelPosition = current.position
                    guard case .stringLiteral(let label) = current.kind else {
                        throw fail("expected a range label such as 'low' after 'as'")
                    }
                    advance()
                    ranges.append((condition, label, labelPosition))
                    guard acceptKeyword("or") else { break }
                    condition = try parseExpression()
                    try expectKeyword("as")
                }
                kind = .range(ranges)
            } else {
                kind = .value(first)
            }
            try expectKeyword("of")
            let (stream, streamPosition) = try identifier("the partitioned stream's name")
            keys.append(PartitionKeyNode(stream: stream, streamPosition: streamPosition, kind: kind, position: keyPosition))
        } while acceptSymbol(",")
        try expectSymbol(")")
        try expectKeyword("begin")
        let index = app.partitions.count
        partitionIndex = index
        defer { partitionIndex = nil }
        let firstQuery = app.queries.count
        while !atEnd && !current.isKeyword("end") {
            if acceptSymbol(";") { continue }
            do {
                let queryAnnotations = try parseAnnotations(app: &app)
                guard current.isKeyword("from") else {
                    throw fail("expected a query ('from …') or 'end' inside the partition but found \(describe(current))")
                }
                var query = try parseQuery(annotations: queryAnnotations)
                query.partition = index
                app.queries.append(query)
            } catch {
                // Skip to the next query of the partition, not past its 'end'.
                while !atEnd && !current.isSymbol(";") && !current.isKeyword("end") { advance() }
                _ = acceptSymbol(";")
            }
        }
        try expectKeyword("end")
        if !atEnd { try expectSymbol(";") }
        app.partitions.append(PartitionNode(keys: keys, queries: firstQuery..<app.queries.count, annotations: annotations,
                                            position: position))
    }

    /// `Stream[filter]#window.name(args)… [as alias]`.
    mutating func parseInputSide() throws(Abort) -> InputSideNode {
        let (stream, streamPosition) = try streamName("an input stream name")
        if current.isSymbol("->") || current.isSymbol(",") || current.isSymbol("=") {
            throw fail("patterns and sequences are not supported yet")
        }
        var handlers: [StreamHandlerNode] = []
        while true {
            if acceptSymbol("[") {
                handlers.append(.filter(try parseExpression()))
                try expectSymbol("]")
            } else if current.isSymbol("#") {
                let hashPosition = current.position
                advance()
                var (name, _) = try identifier("a window or function name")
                var namespace: String? = nil
                if acceptSymbol(":") || acceptSymbol(".") {
                    namespace = name
                    (name, _) = try identifier("a window name")
                }
                var arguments: [Expression] = []
                try expectSymbol("(")
                if !current.isSymbol(")") {
                    repeat { arguments.append(try parseExpression()) } while acceptSymbol(",")
                }
                try expectSymbol(")")
                handlers.append(.window(namespace: namespace, name: name, arguments: arguments, hashPosition))
            } else {
                break
            }
        }
        var alias: String? = nil
        if acceptKeyword("as") { alias = try identifier("a stream alias").0 }
        return InputSideNode(stream: stream, position: streamPosition, handlers: handlers, alias: alias)
    }

    // MARK: Expressions (precedence, low to high: or, and, ==/!=, relational, + -, * / %, not and unary -)
    // As in Siddhi's grammar, `not` binds tighter than every binary operator: `not a == b` is `(not a) == b`.

    mutating func parseExpression() throws(Abort) -> Expression { try parseOr() }

    private mutating func parseOr() throws(Abort) -> Expression {
        var left = try parseAnd()
        while current.isKeyword("or") {
            let p = current.position
            advance()
            left = .binary(.or, left, try parseAnd(), p)
        }
        return left
    }

    private mutating func parseAnd() throws(Abort) -> Expression {
        var left = try parseIn()
        while current.isKeyword("and") {
            let p = current.position
            advance()
            left = .binary(.and, left, try parseIn(), p)
        }
        return left
    }

    /// `condition in Table` (Siddhi's grammar: looser than `==`, tighter than `and`). Kept as a
    /// `#in` function named after the table, at the table name's position, so that every rewrite
    /// of expressions carries it through unchanged (see `TableIn.swift`).
    private mutating func parseIn() throws(Abort) -> Expression {
        var left = try parseEquality()
        while current.isKeyword("in") {
            advance()
            let (table, tablePosition) = try identifier("a table name")
            left = .function(namespace: TableInSyntax.namespace, name: table, arguments: [left], tablePosition)
        }
        return left
    }

    private mutating func parseEquality() throws(Abort) -> Expression {
        var left = try parseRelational()
        while current.isSymbol("==") || current.isSymbol("!=") {
            let p = current.position
            let op: BinaryOperator = current.isSymbol("==") ? .equal : .notEqual
            advance()
            left = .binary(op, left, try parseRelational(), p)
        }
        return left
    }

    private mutating func parseRelational() throws(Abort) -> Expression {
        var left = try parseAdditive()
        while true {
            let p = current.position
            let op: BinaryOperator
            if current.isSymbol("<") { op = .less }
            else if current.isSymbol("<=") { op = .lessOrEqual }
            else if current.isSymbol(">") { op = .greater }
            else if current.isSymbol(">=") { op = .greaterOrEqual }
            else { return left }
            advance()
            left = .binary(op, left, try parseAdditive(), p)
        }
    }

    private mutating func parseAdditive() throws(Abort) -> Expression {
        var left = try parseMultiplicative()
        while current.isSymbol("+") || current.isSymbol("-") {
            let p = current.position
            let op: BinaryOperator = current.isSymbol("+") ? .add : .subtract
            advance()
            left = .binary(op, left, try parseMultiplicative(), p)
        }
        return left
    }

    private mutating func parseMultiplicative() throws(Abort) -> Expression {
        var left = try parseUnary()
        while current.isSymbol("*") || current.isSymbol("/") || current.isSymbol("%") {
            let p = current.position
            let op: BinaryOperator = current.isSymbol("*") ? .multiply : current.isSymbol("/") ? .divide : .modulo
            advance()
            left = .binary(op, left, try parseUnary(), p)
        }
        return left
    }

    private mutating func parseUnary() throws(Abort) -> Expression {
        if current.isKeyword("not") {
            let p = current.position
            advance()
            return .not(try parseUnary(), p)
        }
        if current.isSymbol("-") {
            let p = current.position
            advance()
            // Fold a negative literal so that -2147483648 is an int, as in Java.
            switch current.kind {
            case .intLiteral(let v):
                advance()
                return try postfix(.literal(-v >= Int64(Int32.min) ? .int(Int32(-v)) : .long(-v), p))
            case .longLiteral(let v):
                advance()
                return try postfix(.literal(.long(0 &- v), p))
            default:
                return .negate(try parseUnary(), p)
            }
        }
        if current.isSymbol("+") { advance() }
        return try postfix(try parsePrimary())
    }

    private mutating func postfix(_ expression: Expression) throws(Abort) -> Expression {
        var e = expression
        while current.isKeyword("is") {
            let p = current.position
            advance()
            try expectKeyword("null")
            e = .isNull(e, p)
        }
        return e
    }

    private mutating func parsePrimary() throws(Abort) -> Expression {
        let token = current
        let p = token.position
        switch token.kind {
        case .intLiteral(let v):
            advance()
            if case .identifier(let unit) = current.kind, let ms = Parser.timeUnitMs(unit) {
                advance()
                return .literal(.long(v &* ms), p)  // `5 sec` is the long 5000, as in Siddhi
            }
            return .literal(v <= Int64(Int32.max) ? .int(Int32(v)) : .long(v), p)
        case .longLiteral(let v):
            advance()
            return .literal(.long(v), p)
        case .floatLiteral(let v):
            advance()
            return .literal(.float(v), p)
        case .doubleLiteral(let v):
            advance()
            return .literal(.double(v), p)
        case .stringLiteral(let s):
            advance()
            return .literal(.string(s), p)
        case .symbol("("):
            advance()
            let e = try parseExpression()
            try expectSymbol(")")
            return e
        case .identifier(let name):
            advance()
            switch name.lowercased() {
            case "true": return .literal(.bool(true), p)
            case "false": return .literal(.bool(false), p)
            case "null": return .literal(.null, p)
            default: break
            }
            // namespace:function(...)
            if current.isSymbol(":") {
                advance()
                let (function, _) = try identifier("a function name")
                return .function(namespace: name, name: function, arguments: try parseArguments(), p)
            }
            if current.isSymbol("(") {
                return .function(namespace: nil, name: name, arguments: try parseArguments(), p)
            }
            if current.isSymbol(".") {
                advance()
                let (attribute, _) = try identifier("an attribute name")
                return .attribute(stream: name, name: attribute, p)
            }
            if current.isSymbol("[") {
                // `e1[0].x`, `e1[last].x`, `e1[last-1].x`: an event of a counting pattern state,
                // carried as the qualifier "e1[0]" etc. and checked by the pattern compiler.
                advance()
                var index: String
                if case .intLiteral(let v) = current.kind {
                    advance()
                    index = String(v)
                } else if current.isKeyword("last") {
                    advance()
                    index = "last"
                    if acceptSymbol("-") {
                        guard case .intLiteral(let v) = current.kind else { throw fail("expected a number after 'last-'") }
                        advance()
                        index += "-\(v)"
                    }
                } else {
                    throw fail("expected an event index such as 0, last or last-1")
                }
                try expectSymbol("]")
                try expectSymbol(".")
                let (attribute, _) = try identifier("an attribute name")
                return .attribute(stream: "\(name)[\(index)]", name: attribute, p)
            }
            return .attribute(stream: nil, name: name, p)
        default:
            throw fail("expected an expression but found \(describe(token))")
        }
    }

    /// Milliseconds per SiddhiQL time unit (`sec`, `seconds`, `min`, `ms`, …), or nil.
    static func timeUnitMs(_ word: String) -> Int64? {
        switch word.lowercased() {
        case "ms", "millisec", "millisecs", "millisecond", "milliseconds": 1
        case "sec", "secs", "second", "seconds": 1000
        case "min", "mins", "minute", "minutes": 60_000
        case "hour", "hours": 3_600_000
        case "day", "days": 86_400_000
        case "week", "weeks": 604_800_000
        case "month", "months": 2_592_000_000
        case "year", "years": 31_536_000_000
        default: nil
        }
    }

    private mutating func parseArguments() throws(Abort) -> [Expression] {
        try expectSymbol("(")
        var arguments: [Expression] = []
        if !current.isSymbol(")") {
            repeat {
                if current.isSymbol("*") {  // count(*)-style
                    advance()
                    continue
                }
                arguments.append(try parseExpression())
            } while acceptSymbol(",")
        }
        try expectSymbol(")")
        return arguments
    }
}
