/// Applies a query's output to a table: `insert into`, `delete … on`, `update … set … on`,
/// `update or insert into … set … on`. Conditions and values run over pairs of (output event,
/// table row); `table.key == …` in the condition becomes an index lookup when the column is indexed.
final class TableWriter {
    let table: Table
    let action: TableAction
    private let probe: (column: Int, program: VectorProgram)?
    private let onProgram: VectorProgram?
    private let setColumns: [Int]
    private let setPrograms: [VectorProgram]
    private var pair: EventBatch

    init(table: Table, plan: QueryPlan) {
        self.table = table
        let write = plan.table!
        action = write.action
        probe = write.probe.map { ($0.column, VectorProgram($0.probe)) }
        pair = EventBatch(schema: Compiler.pairSchema("#table", plan.output, table.schema))
        switch write.action {
        case .insert:
            onProgram = nil
            setColumns = []
            setPrograms = []
        case .delete(let on):
            onProgram = VectorProgram(on)
            setColumns = []
            setPrograms = []
        case .update(let set, let on), .updateOrInsert(let set, let on):
            onProgram = VectorProgram(on)
            setColumns = set.map(\.column)
            setPrograms = set.map { VectorProgram($0.value) }
        }
    }

    /// Applies each event of `events` in order (each sees the table as the previous left it).
    func apply(_ events: EventBatch) {
        if case .insert = action {
            table.insert(events)
            return
        }
        for e in 0..<events.count {
            let candidates = self.candidates(events, e)
            var matches: [Int32] = []
            if !candidates.isEmpty {
                PairBatch.build(&pair, left: events, leftRows: Array(repeating: Int32(e), count: candidates.count),
                                right: table.rows, rightRows: candidates,
                                timestamps: Array(repeating: events.timestamps[e], count: candidates.count))
                let keep = onProgram!.evaluateCondition(pair)
                for (k, row) in candidates.enumerated() where keep[k] & 1 == 1 { matches.append(row) }
            }
            switch action {
            case .insert:
                break
            case .delete:
                table.delete(matches)
            case .update, .updateOrInsert:
                if matches.isEmpty {
                    if case .updateOrInsert = action {
                        var one = EventBatch(schema: table.schema)
                        one.appendRow(from: events, row: e)
                        table.insert(one)
                    }
                    continue
                }
                // Values are computed against each matched row as it was before this event.
                PairBatch.build(&pair, left: events, leftRows: Array(repeating: Int32(e), count: matches.count),
                                right: table.rows, rightRows: matches,
                                timestamps: Array(repeating: events.timestamps[e], count: matches.count))
                var values = Array(repeating: [Value](), count: matches.count)
                for program in setPrograms {
                    program.evaluate(pair)
                    for k in 0..<matches.count { values[k].append(program.resultValue(k, batch: pair)) }
                }
                for (k, row) in matches.enumerated() { _ = table.update(row, columns: setColumns, values: values[k]) }
            }
        }
    }

    /// Rows that may match event `e`: an index lookup when possible, else every live row.
    private func candidates(_ events: EventBatch, _ e: Int) -> [Int32] {
        guard let probe, table.isIndexed(probe.column) else { return table.liveRows }
        PairBatch.build(&pair, left: events, leftRows: [Int32(e)], right: table.rows, rightRows: [-1],
                        timestamps: [events.timestamps[e]])
        probe.program.evaluate(pair)
        guard let key = table.probeKey(probe.program.resultValue(0, batch: pair), column: probe.column) else { return table.liveRows }
        return table.rows(matching: key, column: probe.column) ?? table.liveRows
    }
}
