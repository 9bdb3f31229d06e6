/// Builds the batches joins and table writes evaluate their conditions over: one row per pair of
/// (a row of side 0, a row of side 1), side 0's attributes first. A pair may lack a row on one
/// side (outer joins, probes): those attributes are null.
enum PairBatch {
    /// Fills `pair` with the pairs (`leftRows[k]` of `left`, `rightRows[k]` of `right`; -1 for
    /// none) stamped `timestamps[k]`. Column by column over raw memory.
    static func build(_ pair: inout EventBatch, left: EventBatch, leftRows: UnsafeBufferPointer<Int32>, right: EventBatch,
                      rightRows: UnsafeBufferPointer<Int32>, timestamps: UnsafeBufferPointer<Int64>) {
        let m = leftRows.count
        precondition(rightRows.count == m && timestamps.count == m, "pair lists differ in length")
        pair.reset(count: m)
        guard m > 0 else { return }
        pair.timestamps.withUnsafeMutableBufferPointer { out in out.baseAddress!.update(from: timestamps.baseAddress!, count: m) }
        fill(&pair, source: left, rows: leftRows, offset: 0)
        fill(&pair, source: right, rows: rightRows, offset: left.schema.attributes.count)
    }

    /// Pattern rows: source k's attributes at the k-th place (rows -1: null).
    static func build(_ out: inout EventBatch, sources: [(EventBatch, [Int32])], timestamps: [Int64]) {
        let m = timestamps.count
        out.reset(count: m)
        guard m > 0 else { return }
        timestamps.withUnsafeBufferPointer { ts in
            out.timestamps.withUnsafeMutableBufferPointer { o in o.baseAddress!.update(from: ts.baseAddress!, count: m) }
        }
        var offset = 0
        for (source, rows) in sources {
            precondition(rows.count == m, "pattern row lists differ in length")
            rows.withUnsafeBufferPointer { fill(&out, source: source, rows: $0, offset: offset) }
            offset += source.schema.attributes.count
        }
    }

    /// Copies `rows` of `source` into `pair`'s columns from `offset` on (row -1: nulls).
    private static func fill(_ pair: inout EventBatch, source: EventBatch, rows: UnsafeBufferPointer<Int32>, offset: Int) {
        let m = rows.count
        do {
            let width = source.schema.attributes.count
            var anyMissing = false
            for k in 0..<m where rows[k] < 0 { anyMissing = true; break }
            let stringColumns = (0..<width).filter { source.schema.attributes[$0].type.isTextual }
            // A large arena (a table's) is not copied whole: only the strings the pairs use.
            let copyArena = !stringColumns.isEmpty && source.stringBytes.count <= 64 * m * stringColumns.count
            let shift = UInt64(pair.stringBytes.count) << 32
            if copyArena { pair.stringBytes.append(contentsOf: source.stringBytes) }
            for c in 0..<width {
                let isString = source.schema.attributes[c].type.isTextual
                let n = source.nulls[c]
                source.columns[c].withUnsafeBufferPointer { src in
                    if isString && !copyArena {
                        source.stringBytes.withUnsafeBufferPointer { arena in
                            for k in 0..<m where rows[k] >= 0 {
                                let r = Int(rows[k])
                                guard n.isEmpty || n[r] == 0 else { continue }
                                let slot = src[r]
                                let start = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
                                let at = pair.stringBytes.count
                                pair.stringBytes.append(contentsOf: UnsafeBufferPointer(rebasing: arena[start..<start + length]))
                                pair.columns[offset + c][k] = UInt64(at) << 32 | UInt64(length)
                            }
                        }
                        return
                    }
                    pair.columns[offset + c].withUnsafeMutableBufferPointer { out in
                        for k in 0..<m where rows[k] >= 0 {
                            out[k] = isString ? src[Int(rows[k])] &+ shift : src[Int(rows[k])]
                        }
                    }
                }
                guard anyMissing || !n.isEmpty else { continue }
                var mask = [UInt8](repeating: 0, count: m)
                for k in 0..<m {
                    let r = Int(rows[k])
                    mask[k] = r < 0 ? 1 : (n.isEmpty ? 0 : n[r])
                }
                pair.nulls[offset + c] = mask
            }
        }
    }

    /// `build` over arrays (cold paths).
    static func build(_ pair: inout EventBatch, left: EventBatch, leftRows: [Int32], right: EventBatch,
                      rightRows: [Int32], timestamps: [Int64]) {
        leftRows.withUnsafeBufferPointer { l in
            rightRows.withUnsafeBufferPointer { r in
                timestamps.withUnsafeBufferPointer { t in
                    build(&pair, left: left, leftRows: l, right: right, rightRows: r, timestamps: t)
                }
            }
        }
    }
}
