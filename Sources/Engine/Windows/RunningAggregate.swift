/// `count()`, `sum(x)` or `avg(x)` of a plain numeric attribute: the aggregates the fused paths
/// (`KeyedLengthAggregate`, the sliding path of `StatefulQuery`) keep as running sums.
enum RunningAggregate {
    case count
    case sum(column: Int, integer: Bool)
    case avg(column: Int, integer: Bool)

    /// The query's aggregates as running ones; nil when one is of another kind or argument, or when
    /// the select holds more than attributes and aggregates.
    static func of(_ plan: QueryPlan) -> [RunningAggregate]? {
        guard !plan.aggregates.isEmpty else { return nil }
        var functions: [RunningAggregate] = []
        for aggregate in plan.aggregates {
            switch (aggregate.kind, aggregate.argument) {
            case (.count, nil): functions.append(.count)
            case (.sum, .column(let c, let t)?) where t.isNumeric: functions.append(.sum(column: c, integer: t == .int || t == .long))
            case (.avg, .column(let c, let t)?) where t.isNumeric: functions.append(.avg(column: c, integer: t == .int || t == .long))
            default: return nil
            }
        }
        for p in plan.projections {
            switch p {
            case .column, .aggregate: continue
            default: return nil
            }
        }
        return functions
    }

    /// The argument column (−1 for count).
    var column: Int {
        switch self {
        case .count: -1
        case .sum(let c, _), .avg(let c, _): c
        }
    }

    /// Whether the argument is int or long (summed exactly); count counts exactly too.
    var integer: Bool {
        switch self {
        case .count: true
        case .sum(_, let i), .avg(_, let i): i
        }
    }
}
