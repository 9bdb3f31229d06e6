/// Runs one `from S[filter] select … insert into T` query over batches.
///
/// The filter is a vector program producing a selection of rows; each output attribute is either a
/// gathered input column or a vector program's result. The output batch is owned here and reused,
/// string bytes included: they are copied into its own arena, so that the input batch's storage
/// is never shared and can go straight back to its producer's pool.
final class QueryRuntime {
    private enum Projection {
        case column(Int, AttributeType)
        case constantString([UInt8])
        case program(VectorProgram)
    }

    let plan: QueryPlan
    private let filter: VectorProgram?
    private let projections: [Projection]
    /// Whether some output attribute is an input string column as is.
    private let projectsStringColumns: Bool
    private var output: EventBatch
    private var selection: [Int32] = []

    init(plan: QueryPlan) {
        self.plan = plan
        filter = plan.filter.map(VectorProgram.init)
        projections = plan.projections.map { expression in
            switch expression {
            case .column(let i, let type): return .column(i, type)
            case .constant(.string(let s), _): return .constantString(Array(s.utf8))
            default: return .program(VectorProgram(expression))
            }
        }
        projectsStringColumns = projections.contains {
            if case .column(_, .string) = $0 { return true }
            return false
        }
        output = EventBatch(schema: plan.output)
        var programs = filter.map { [$0] } ?? []
        for case .program(let p) in projections { programs.append(p) }
        clockPrograms = programs.filter(\.usesClock)
    }

    private var lastSelected = 0
    private var lastAll = true

    /// Gathers `keys` (one per input row of the last `process`) for the rows it output: carries
    /// partition instance ids through a stateless query.
    func gatherKeys(_ keys: [Int32], into out: inout [Int32]) {
        out.removeAll(keepingCapacity: true)
        if lastAll {
            out.append(contentsOf: keys.prefix(lastSelected))
        } else {
            for i in 0..<lastSelected { out.append(keys[Int(selection[i])]) }
        }
    }

    /// Programs reading `currentTimeMillis()`.
    private let clockPrograms: [VectorProgram]

    /// Processes one input batch; returns the output batch, or nil when no event passed.
    /// The returned batch is valid until the next call. `clockMs` is the wall clock
    /// `currentTimeMillis()` reads, or nil in playback (each event's timestamp).
    func process(_ input: EventBatch, clockMs: Int64? = nil) -> EventBatch? {
        let n = input.count
        guard n > 0 else { return nil }
        for p in clockPrograms { p.clockMs = clockMs }
        if selection.count < n { selection = Array(repeating: 0, count: max(n, selection.count * 2)) }

        var selected = n
        var all = true
        if let filter {
            let keep = filter.evaluateCondition(input)
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
        lastSelected = selected
        lastAll = all
        guard selected > 0 else { return nil }

        output.reset(count: selected)
        // When every row passes, one bulk copy of the input arena keeps input string slots valid as they
        // are; otherwise only the selected rows' strings are copied.
        let bulkStrings = all && projectsStringColumns
        if bulkStrings { output.stringBytes.append(contentsOf: input.stringBytes) }

        selection.withUnsafeBufferPointer { sel in
            input.timestamps.withUnsafeBufferPointer { src in
                output.timestamps.withUnsafeMutableBufferPointer { dst in
                    gather(src.baseAddress!, dst.baseAddress!, sel.baseAddress!, selected, all)
                }
            }
            for (o, projection) in projections.enumerated() {
                switch projection {
                case .column(let c, let type):
                    input.columns[c].withUnsafeBufferPointer { src in
                        output.columns[o].withUnsafeMutableBufferPointer { dst in
                            gather(src.baseAddress!, dst.baseAddress!, sel.baseAddress!, selected, all)
                        }
                    }
                    if !input.nulls[c].isEmpty {
                        output.nulls[o].append(contentsOf: repeatElement(0, count: selected))  // reuses capacity kept by reset
                        input.nulls[c].withUnsafeBufferPointer { src in
                            output.nulls[o].withUnsafeMutableBufferPointer { dst in
                                gather(src.baseAddress!, dst.baseAddress!, sel.baseAddress!, selected, all)
                            }
                        }
                    }
                    if type.isTextual && !bulkStrings { copyStrings(column: o, count: selected, input, nil, keepInputSlots: false) }
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
                        output.nulls[o].append(contentsOf: repeatElement(0, count: selected))  // reuses capacity kept by reset
                        output.nulls[o].withUnsafeMutableBufferPointer { dst in
                            gather(nulls, dst.baseAddress!, sel.baseAddress!, selected, all)
                        }
                    }
                    if program.resultType.isTextual {
                        copyStrings(column: o, count: selected, input, program, keepInputSlots: bulkStrings)
                    }
                }
            }
        }
        return output
    }

    /// Copies the strings of output column `column` into the output arena and repoints its slots.
    /// Slots point into the input batch's arena, or (with `VectorProgram.programArenaBit`) into the
    /// program's; with `keepInputSlots` the input arena was already copied whole at offset 0.
    /// A run of one slot (a constant) is copied once.
    private func copyStrings(column: Int, count: Int, _ input: EventBatch, _ program: VectorProgram?,
                             keepInputSlots: Bool) {
        // Work on the arena and column outside `output` so that appending does not overlap an access to it.
        var bytes = output.stringBytes
        output.stringBytes = []
        var slots = output.columns[column]
        output.columns[column] = []
        if let program {
            program.withArena {
                QueryRuntime.copyStrings(&slots, into: &bytes, count: count, input: input, program: $0, keepInputSlots: keepInputSlots)
            }
        } else {
            QueryRuntime.copyStrings(&slots, into: &bytes, count: count, input: input,
                                     program: UnsafeBufferPointer(start: nil, count: 0), keepInputSlots: keepInputSlots)
        }
        output.columns[column] = slots
        output.stringBytes = bytes
    }

    private static func copyStrings(_ slots: inout [UInt64], into bytes: inout [UInt8], count: Int, input: EventBatch,
                                    program programArena: UnsafeBufferPointer<UInt8>, keepInputSlots: Bool) {
        // Pass 1 sizes the copy so that pass 2 is plain memcpy into memory grown once.
        @inline(__always) func copies(_ slot: UInt64) -> Bool {
            !keepInputSlots || slot & VectorProgram.programArenaBit != 0
        }
        var total = 0
        slots.withUnsafeBufferPointer { slots in
            var previousSlot: UInt64 = .max
            for row in 0..<count {
                let slot = slots[row]
                if copies(slot) && slot != previousSlot {
                    total += Int(truncatingIfNeeded: slot & 0xFFFF_FFFF)
                    previousSlot = slot
                }
            }
        }
        let base = bytes.count
        precondition(base + total <= Int(UInt32.max), "output string arena over 4 GiB")
        bytes.append(contentsOf: repeatElement(0, count: total))
        input.stringBytes.withUnsafeBufferPointer { inputArena in
            bytes.withUnsafeMutableBufferPointer { out in
                slots.withUnsafeMutableBufferPointer { slots in
                    var previousSlot: UInt64 = .max
                    var previousOutput: UInt64 = 0
                    var end = base
                    for row in 0..<count {
                        let slot = slots[row]
                        guard copies(slot) else { continue }
                        if slot != previousSlot {
                            let offset = Int(truncatingIfNeeded: (slot >> 32) & 0x7FFF_FFFF)
                            let length = Int(truncatingIfNeeded: slot & 0xFFFF_FFFF)
                            if length > 0 {
                                let source = slot & VectorProgram.programArenaBit != 0 ? programArena : inputArena
                                precondition(offset + length <= source.count, "string slot outside its arena")
                                (out.baseAddress! + end).update(from: source.baseAddress! + offset, count: length)
                            }
                            previousSlot = slot
                            previousOutput = UInt64(end) << 32 | UInt64(length)
                            end += length
                        }
                        slots[row] = previousOutput
                    }
                    assert(end == base + total)
                }
            }
        }
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
