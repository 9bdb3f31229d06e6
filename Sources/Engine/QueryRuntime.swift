/// Runs one `from S[filter] select … insert into T` query over batches.
///
/// The filter is a vector program producing a selection of rows; each output attribute is either a
/// gathered input column or a vector program's result. The output batch is owned here and reused.
final class QueryRuntime {
    private enum Projection {
        case column(Int)
        case constantString([UInt8])
        case program(VectorProgram)
    }

    let plan: QueryPlan
    private let filter: VectorProgram?
    private let projections: [Projection]
    private var output: EventBatch
    private var selection: [Int32] = []

    init(plan: QueryPlan) {
        self.plan = plan
        filter = plan.filter.map(VectorProgram.init)
        projections = plan.projections.map { expression in
            switch expression {
            case .column(let i, _): return .column(i)
            case .constant(.string(let s), _): return .constantString(Array(s.utf8))
            default: return .program(VectorProgram(expression))
            }
        }
        output = EventBatch(schema: plan.output)
    }

    /// Processes one input batch; returns the output batch, or nil when no event passed.
    func process(_ input: EventBatch) -> EventBatch? {
        let n = input.count
        guard n > 0 else { return nil }
        if selection.count < n { selection = Array(repeating: 0, count: max(n, selection.count * 2)) }

        var selected = n
        var all = true
        if let filter {
            filter.evaluate(input)
            let keep = filter.resultValues
            selected = selection.withUnsafeMutableBufferPointer { sel in
                var k = 0
                for i in 0..<n {
                    sel[k] = Int32(truncatingIfNeeded: i)
                    k &+= Int(truncatingIfNeeded: keep[i] & 1)  // branch-free compaction
                }
                return k
            }
            all = selected == n
        }
        guard selected > 0 else { return nil }

        output.reset(count: selected)
        let usesInputStrings = plan.output.attributes.contains { $0.type == .string }
        if usesInputStrings { output.stringBytes = input.stringBytes }  // shared until written (copy-on-write)

        selection.withUnsafeBufferPointer { sel in
            input.timestamps.withUnsafeBufferPointer { src in
                output.timestamps.withUnsafeMutableBufferPointer { dst in
                    gather(src.baseAddress!, dst.baseAddress!, sel.baseAddress!, selected, all)
                }
            }
            for (o, projection) in projections.enumerated() {
                switch projection {
                case .column(let c):
                    input.columns[c].withUnsafeBufferPointer { src in
                        output.columns[o].withUnsafeMutableBufferPointer { dst in
                            gather(src.baseAddress!, dst.baseAddress!, sel.baseAddress!, selected, all)
                        }
                    }
                    if !input.nulls[c].isEmpty {
                        output.nulls[o] = Array(repeating: 0, count: selected)
                        input.nulls[c].withUnsafeBufferPointer { src in
                            output.nulls[o].withUnsafeMutableBufferPointer { dst in
                                gather(src.baseAddress!, dst.baseAddress!, sel.baseAddress!, selected, all)
                            }
                        }
                    }
                case .constantString(let bytes):
                    let slot = UInt64(output.stringBytes.count) << 32 | UInt64(bytes.count)
                    output.stringBytes.append(contentsOf: bytes)
                    output.columns[o].withUnsafeMutableBufferPointer { $0.update(repeating: slot) }
                case .program(let program):
                    program.evaluate(input)
                    output.columns[o].withUnsafeMutableBufferPointer { dst in
                        gather(program.resultValues, dst.baseAddress!, sel.baseAddress!, selected, all)
                    }
                    if let nulls = program.resultNulls {
                        output.nulls[o] = Array(repeating: 0, count: selected)
                        output.nulls[o].withUnsafeMutableBufferPointer { dst in
                            gather(nulls, dst.baseAddress!, sel.baseAddress!, selected, all)
                        }
                    }
                }
            }
        }
        return output
    }

    @inline(__always)
    private func gather<T>(_ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>, _ sel: UnsafePointer<Int32>,
                           _ count: Int, _ all: Bool) {
        if all {
            dst.update(from: src, count: count)
        } else {
            for i in 0..<count { dst[i] = src[Int(sel[i])] }
        }
    }
}
