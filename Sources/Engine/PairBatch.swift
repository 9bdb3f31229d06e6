/// Builds the batches joins and table writes evaluate their conditions over: one row per pair of
/// (a row of side 0, a row of side 1), side 0's attributes first. A pair may lack a row on one
/// side (outer joins, probes): those attributes are null.
enum PairBatch {
    /// Fills `pair` with the pairs (`leftRows[k]` of `left`, `rightRows[k]` of `right`; -1 for
    /// none) stamped `timestamps[k]`. Column by column over raw memory.
    static func build(_ pair: inout EventBatch, left: EventBatch, leftRows: [Int32], right: EventBatch,
                      rightRows: [Int32], timestamps: [Int64]) {
        let m = leftRows.count
        precondition(rightRows.count == m && timestamps.count == m, "pair lists differ in length")
        pair.reset(count: m)
        guard m > 0 else { return }
        pair.stringBytes.append(contentsOf: left.stringBytes)
        let shift = UInt64(left.stringBytes.count) << 32
        pair.stringBytes.append(contentsOf: right.stringBytes)
        timestamps.withUnsafeBufferPointer { ts in
            pair.timestamps.withUnsafeMutableBufferPointer { out in out.baseAddress!.update(from: ts.baseAddress!, count: m) }
        }
        let leftWidth = left.schema.attributes.count
        for (source, rows, offset, stringShift) in [(left, leftRows, 0, UInt64(0)), (right, rightRows, leftWidth, shift)] {
            let width = source.schema.attributes.count
            let anyMissing = rows.contains { $0 < 0 }
            rows.withUnsafeBufferPointer { ri in
                for c in 0..<width {
                    let isString = source.schema.attributes[c].type == .string
                    source.columns[c].withUnsafeBufferPointer { src in
                        pair.columns[offset + c].withUnsafeMutableBufferPointer { out in
                            for k in 0..<m where ri[k] >= 0 {
                                out[k] = isString ? src[Int(ri[k])] &+ stringShift : src[Int(ri[k])]
                            }
                        }
                    }
                    let n = source.nulls[c]
                    guard anyMissing || !n.isEmpty else { continue }
                    var mask = [UInt8](repeating: 0, count: m)
                    for k in 0..<m {
                        let r = Int(ri[k])
                        mask[k] = r < 0 ? 1 : (n.isEmpty ? 0 : n[r])
                    }
                    pair.nulls[offset + c] = mask
                }
            }
        }
    }
}
