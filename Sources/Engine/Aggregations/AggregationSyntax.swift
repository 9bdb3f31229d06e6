/// Syntax of incremental aggregations:
///
///     define aggregation A from S[filter] select g, sum(x) as total, … group by g
///         aggregate [by tsAttribute] every sec ... year;        -- or: every sec, min, day
///
/// and of reading one in a join: `from Q join A as a on … within X[, Y] per 'unit' select …`.

/// `define aggregation …` as parsed.
struct AggregationNode {
    var name: String
    var position: SourcePosition
    var annotations: [Annotation]
    /// The input stream with its filters (a window here is a compile error).
    var input: InputSideNode
    var selection: [SelectItem]
    var selectPosition: SourcePosition
    var groupBy: [Expression]
    /// `aggregate by attr`: the event time; nil uses the event timestamp.
    var aggregateBy: Expression?
    /// The duration words as written (`sec`, `minutes`, …).
    var durations: [(word: String, position: SourcePosition)]
    /// `every a ... b` (every granularity from a to b) rather than a list.
    var isRange: Bool
}

/// `within start, end per unit` or `within 'pattern' per unit` of a join reading an aggregation.
struct AggregationRetrievalNode {
    /// One expression (a date pattern string) or two (start and end: longs or date strings).
    var within: [Expression]
    var withinPosition: SourcePosition
    var per: Expression?
    var perPosition: SourcePosition
}

extension Parser {
    /// After `define aggregation`: the rest of the definition.
    mutating func parseAggregationDefinition(annotations: [Annotation]) throws(Abort) -> AggregationNode {
        let (name, namePosition) = try identifier("an aggregation name")
        try expectKeyword("from")
        let input = try parseInputSide()
        if let alias = input.alias { throw fail("an aggregation's input takes no alias ('as \(alias)')", at: input.position) }
        let selectPosition = current.position
        try expectKeyword("select")
        if current.isSymbol("*") { throw fail("an aggregation selects its group-by attributes and aggregates by name, not '*'") }
        let items = try parseSelectItems()
        var groupBy: [Expression] = []
        if acceptKeyword("group") {
            try expectKeyword("by")
            repeat { groupBy.append(try parseExpression()) } while acceptSymbol(",")
        }
        guard acceptKeyword("aggregate") else {
            throw fail("expected 'aggregate [by attribute] every …' but found \(describe(current))")
        }
        var aggregateBy: Expression? = nil
        if acceptKeyword("by") { aggregateBy = try parseExpression() }
        try expectKeyword("every")
        var durations: [(word: String, position: SourcePosition)] = [try identifier("a duration (sec, min, hour, day, month or year)")]
        var isRange = false
        if current.isSymbol(".") {
            for _ in 0..<3 { try expectSymbol(".") }
            durations.append(try identifier("a duration (sec, min, hour, day, month or year) after '...'"))
            isRange = true
        } else {
            while acceptSymbol(",") { durations.append(try identifier("a duration (sec, min, hour, day, month or year)")) }
        }
        if !atEnd { try expectSymbol(";") }
        return AggregationNode(name: name, position: namePosition, annotations: annotations, input: input, selection: items,
                               selectPosition: selectPosition, groupBy: groupBy, aggregateBy: aggregateBy,
                               durations: durations, isRange: isRange)
    }

    /// After a join's `on` condition: `within X[, Y] per P`, or nil when neither is there.
    mutating func parseAggregationRetrieval() throws(Abort) -> AggregationRetrievalNode? {
        guard current.isKeyword("within") || current.isKeyword("per") else { return nil }
        let withinPosition = current.position
        var within: [Expression] = []
        if acceptKeyword("within") {
            within.append(try parseExpression())
            if acceptSymbol(",") { within.append(try parseExpression()) }
        }
        let perPosition = current.position
        var per: Expression? = nil
        if acceptKeyword("per") { per = try parseExpression() }
        return AggregationRetrievalNode(within: within, withinPosition: withinPosition, per: per, perPosition: perPosition)
    }
}
