/// The common partitioned query `from S[filter]#window.length(N) select <attributes and sum/avg/count>`
/// run for every key at once, over flat arrays indexed by partition instance id, instead of one
/// `StatefulQuery` object per key.
///
/// It produces exactly what the per-key instances produce (a test compares the two): each key's rows
/// of a batch are one chunk, so with aggregates and no group by the chunk collapses to the key's last
/// row, carrying the aggregates after all of its rows; keys go out in first-seen order. Per row, the
/// event pushed out of the key's window is subtracted before the new one is added, as in the window's
/// chunk. Only shapes it can run exactly are taken (`init?` says no to the rest).
final class KeyedLengthAggregate {
    /// Longest window the flat layout takes (memory is keys × length × aggregates × 9 bytes).
    static let lengthMax = 4096

    private enum Projection {
        case column(Int, AttributeType)
        case aggregate(Int)
    }

    private let length: Int
    private let functions: [RunningAggregate]
    /// Per aggregate: its argument column (−1 for count()) and whether it sums integers.
    private let argumentColumns: [Int]
    private let isInteger: [Bool]
    private let projections: [Projection]
    private let filter: VectorProgram?
    private var output: EventBatch
    /// Per key: the next ring position and how many events the window holds.
    private var heads: [Int32] = []
    private var filled: [Int32] = []
    /// Per key, per window position, per aggregate: the argument's slot and whether it was null.
    private var ring: [UInt64] = []
    private var ringNulls: [UInt8] = []
    /// Per key, per aggregate: running sums (integer or floating) and counts of non-null values.
    private var longSums: [Int64] = []
    private var doubleSums: [Double] = []
    private var counts: [Int64] = []
    private var keyCapacity = 0
    // Per batch scratch: each key's last row (−1: none yet) and the keys in first-seen order.
    private var lastRow: [Int32] = []
    private var touched: [Int32] = []
    private(set) var outputKeys: [Int32] = []
    private var args: [UInt64] = []
    private var outRows: [Int32] = []
    private var argNulls: [UInt8] = []

    init?(plan: QueryPlan) {
        guard case .length(let n)? = plan.window, n >= 1, n <= KeyedLengthAggregate.lengthMax,
              plan.join == nil, plan.pattern == nil, plan.postFilter == nil, plan.groupBy.isEmpty, plan.having == nil, plan.orderBy.isEmpty,
              plan.limit == nil, plan.offset == nil, plan.outputRate == nil, plan.outputEventType == .current,
              let functions = RunningAggregate.of(plan) else { return nil }
        var projections: [Projection] = []
        for p in plan.projections {
            switch p {
            case .column(let c, let t): projections.append(.column(c, t))
            case .aggregate(let i, _): projections.append(.aggregate(i))
            default: return nil
            }
        }
        length = n
        self.functions = functions
        argumentColumns = functions.map(\.column)
        isInteger = functions.map(\.integer)
        self.projections = projections
        filter = plan.filter.map(VectorProgram.init)
        output = EventBatch(schema: plan.output)
    }

    private var width: Int { functions.count }

    private func grow(to keys: Int) {
        guard keys > keyCapacity else { return }
        let capacity = max(keys, keyCapacity * 2, 16)
        let extra = capacity - keyCapacity
        heads.append(contentsOf: repeatElement(0, count: extra))
        filled.append(contentsOf: repeatElement(0, count: extra))
        lastRow.append(contentsOf: repeatElement(-1, count: extra))
        ring.append(contentsOf: repeatElement(0, count: extra * length * width))
        ringNulls.append(contentsOf: repeatElement(0, count: extra * length * width))
        longSums.append(contentsOf: repeatElement(0, count: extra * width))
        doubleSums.append(contentsOf: repeatElement(0, count: extra * width))
        counts.append(contentsOf: repeatElement(0, count: extra * width))
        keyCapacity = capacity
    }

    /// Processes a batch whose rows carry instance ids (−1: skipped). Returns one row per key seen,
    /// valid until the next call, with `outputKeys`.
    func process(_ batch: EventBatch, keys: [Int32], keyCount: Int) -> EventBatch? {
        let n = batch.count
        guard n > 0 else { return nil }
        grow(to: keyCount)
        let keep = filter?.evaluateCondition(batch)
        touched.removeAll(keepingCapacity: true)
        // Locals: the row loop reads them per event without going through `self`.
        let length = self.length, width = self.width
        let argumentColumns = self.argumentColumns, isInteger = self.isInteger
        // Arguments gathered row-major first, so the row loop below touches one flat buffer.
        if args.count < n * width {
            args = Array(repeating: 0, count: n * width)
            argNulls = Array(repeating: 0, count: n * width)
        }
        for a in 0..<width where argumentColumns[a] >= 0 {
            let c = argumentColumns[a]
            let columnNulls = batch.nulls[c]
            batch.columns[c].withUnsafeBufferPointer { values in
                for r in 0..<n {
                    args[r * width + a] = values[r]
                    argNulls[r * width + a] = columnNulls.isEmpty ? 0 : columnNulls[r]
                }
            }
        }
        heads.withUnsafeMutableBufferPointer { heads in
        filled.withUnsafeMutableBufferPointer { filled in
        ring.withUnsafeMutableBufferPointer { ring in
        ringNulls.withUnsafeMutableBufferPointer { ringNulls in
        longSums.withUnsafeMutableBufferPointer { longSums in
        doubleSums.withUnsafeMutableBufferPointer { doubleSums in
        counts.withUnsafeMutableBufferPointer { counts in
        lastRow.withUnsafeMutableBufferPointer { lastRow in
        args.withUnsafeBufferPointer { args in
        argNulls.withUnsafeBufferPointer { argNulls in
        keys.withUnsafeBufferPointer { keys in
            for r in 0..<n {
                if let keep, keep[r] & 1 == 0 { continue }
                let k = Int(keys[r])
                if k < 0 { continue }
                if lastRow[k] < 0 { touched.append(Int32(k)) }
                lastRow[k] = Int32(r)
                let full = Int(filled[k]) == length
                let cell = (k * length + Int(heads[k])) * width
                for a in 0..<width where argumentColumns[a] >= 0 {
                    let at = cell + a
                    let s = k * width + a
                    let integer = isInteger[a]
                    // The event pushed out leaves before the new one enters, as in the window's chunk.
                    if full && ringNulls[at] == 0 {
                        if integer { longSums[s] &-= Int64(bitPattern: ring[at]) } else { doubleSums[s] += -Double(bitPattern: ring[at]) }
                        counts[s] &-= 1
                    }
                    let value = args[r * width + a], isNull = argNulls[r * width + a] != 0
                    ring[at] = value
                    ringNulls[at] = isNull ? 1 : 0
                    if !isNull {
                        if integer { longSums[s] &+= Int64(bitPattern: value) } else { doubleSums[s] += Double(bitPattern: value) }
                        counts[s] &+= 1
                    }
                }
                if !full { filled[k] += 1 }
                heads[k] = heads[k] + 1 == Int32(length) ? 0 : heads[k] + 1
            }
        }}}}}}}}}}}
        guard !touched.isEmpty else { return nil }
        // One output row per key: its last row's attributes (gathered column by column, the input's
        // string arena copied once) and the key's aggregates.
        let m = touched.count
        outRows.removeAll(keepingCapacity: true)
        for key in touched {
            outRows.append(lastRow[Int(key)])
            lastRow[Int(key)] = -1
        }
        outputKeys = touched
        output.reset(count: m)
        var stringsCopied = false
        outRows.withUnsafeBufferPointer { rows in
            batch.timestamps.withUnsafeBufferPointer { src in
                output.timestamps.withUnsafeMutableBufferPointer { dst in for i in 0..<m { dst[i] = src[Int(rows[i])] } }
            }
            for (p, projection) in projections.enumerated() {
                switch projection {
                case .column(let c, let type):
                    if type.isTextual && !stringsCopied {
                        output.stringBytes.append(contentsOf: batch.stringBytes)
                        stringsCopied = true
                    }
                    batch.columns[c].withUnsafeBufferPointer { src in
                        output.columns[p].withUnsafeMutableBufferPointer { dst in for i in 0..<m { dst[i] = src[Int(rows[i])] } }
                    }
                    if !batch.nulls[c].isEmpty {
                        let srcNulls = batch.nulls[c]
                        output.nulls[p] = (0..<m).map { srcNulls[Int(rows[$0])] }
                    }
                case .aggregate(let a):
                    var anyNull = false
                    output.columns[p].withUnsafeMutableBufferPointer { dst in
                        for (i, key) in touched.enumerated() {
                            let k = Int(key), s = k * width + a
                            switch functions[a] {
                            case .count:
                                dst[i] = UInt64(filled[k])
                            case .sum(_, let integer):
                                if counts[s] == 0 { anyNull = true }
                                dst[i] = integer ? UInt64(bitPattern: longSums[s]) : doubleSums[s].bitPattern
                            case .avg(_, let integer):
                                if counts[s] == 0 { anyNull = true }
                                let total = integer ? Double(longSums[s]) : doubleSums[s]
                                dst[i] = (total / Double(counts[s])).bitPattern
                            }
                        }
                    }
                    if anyNull {
                        // Siddhi: the sum or average of no (non-null) value is null.
                        output.nulls[p] = touched.map { counts[Int($0) * width + a] == 0 ? 1 : 0 }
                    }
                }
            }
        }
        return output
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        w.int(keyCapacity)
        w.int64s(heads.map(Int64.init))
        w.int64s(filled.map(Int64.init))
        w.uint64s(ring)
        w.bytes(ringNulls)
        w.int64s(longSums)
        w.doubles(doubleSums)
        w.int64s(counts)
    }

    struct State {
        var keyCapacity: Int
        var heads: [Int32], filled: [Int32], ring: [UInt64], ringNulls: [UInt8]
        var longSums: [Int64], doubleSums: [Double], counts: [Int64]
    }

    func decode(from r: inout SnapshotReader) throws(SnapshotError) -> State {
        let capacity = try r.int()
        guard capacity >= 0 && capacity <= PartitionKeys.keysMax * 2 else { throw SnapshotError("keyed window capacity \(capacity) out of range") }
        let heads = try r.int64s(), filled = try r.int64s(), ring = try r.uint64s(), ringNulls = try r.bytes()
        let longSums = try r.int64s(), doubleSums = try r.doubles(), counts = try r.int64s()
        let cells = capacity * length * width
        guard heads.count == capacity, filled.count == capacity, ring.count == cells, ringNulls.count == cells,
              longSums.count == capacity * width, doubleSums.count == capacity * width, counts.count == capacity * width,
              heads.allSatisfy({ $0 >= 0 && $0 < length }), filled.allSatisfy({ $0 >= 0 && $0 <= length }) else {
            throw SnapshotError("keyed window state does not match the query's window and aggregates")
        }
        return State(keyCapacity: capacity, heads: heads.map { Int32($0) }, filled: filled.map { Int32($0) }, ring: ring,
                     ringNulls: ringNulls, longSums: longSums, doubleSums: doubleSums, counts: counts)
    }

    func apply(_ state: State) {
        keyCapacity = state.keyCapacity
        heads = state.heads
        filled = state.filled
        ring = state.ring
        ringNulls = state.ringNulls
        longSums = state.longSums
        doubleSums = state.doubleSums
        counts = state.counts
        lastRow = Array(repeating: -1, count: state.keyCapacity)
    }
}
