/// What a row of a window chunk does to the aggregates.
enum ChunkRowKind: UInt8 {
    case current = 0
    case expired = 1
    /// Batch windows: every aggregate starts over (Siddhi's RESET event).
    case reset = 2
}

/// The state of one aggregate for every group, stored by group id in plain arrays.
///
/// `update` runs one tight loop over a chunk per aggregate: the kind is switched once per chunk,
/// not per event. Values arrive as slots (Int64 or Double bits as `EventBatch` stores them).
final class Aggregator {
    let kind: AggregateKind
    let argumentType: AttributeType?
    let outputType: AttributeType
    private var longs = GroupColumn<Int64>()      // sum (int/long), count of values, true counts
    private var doubles = GroupColumn<Double>()   // sum (float/double)
    private var counts = GroupColumn<Int64>()     // non-null values per group
    private var extra = GroupColumn<Int64>()      // false counts (and/or)
    private var best = GroupColumn<UInt64>()      // min/max forever, sums of squares
    private var hasBest = GroupColumn<Bool>()
    /// min/max over a FIFO window: a monotonic deque of value bits per group.
    private var deques: [[UInt64]] = []
    private var dequeHeads: [Int] = []
    private var distinct: [[UInt64: Int64]] = []
    /// unionSet: per group, each element's JSON text and how many of the sets held hold it.
    private var setCounts: [[[UInt8]: Int64]] = []
    /// unionSet values made for the chunk being finished: `value` slots point here until `beginChunk`.
    private(set) var textArena: [UInt8] = []

    init(_ plan: AggregatePlan) {
        kind = plan.kind
        argumentType = plan.argument?.type
        outputType = plan.outputType
    }

    private var isIntegerArgument: Bool { argumentType == .int || argumentType == .long }

    private func ensure(_ groups: Int) {
        guard longs.count < groups else { return }
        let n = groups - longs.count
        longs.grow(to: groups, 0)
        doubles.grow(to: groups, 0)
        counts.grow(to: groups, 0)
        extra.grow(to: groups, 0)
        best.grow(to: groups, 0)
        hasBest.grow(to: groups, false)
        if kind == .min || kind == .max {
            deques.append(contentsOf: repeatElement([], count: n))
            dequeHeads.append(contentsOf: repeatElement(0, count: n))
        }
        if kind == .distinctCount { distinct.append(contentsOf: repeatElement([:], count: n)) }
        if kind == .unionSet { setCounts.append(contentsOf: repeatElement([:], count: n)) }
    }

    /// Forgets the set texts `value` made for the previous chunk.
    func beginChunk() { textArena.removeAll(keepingCapacity: true) }

    /// unionSet over `rows` of a chunk: `text(i)` is row i's set text (nil: null, adds nothing).
    /// Elements are counted, so a set leaving the window removes only what no other set holds.
    func updateSets(rows: Int, kinds: UnsafePointer<UInt8>, groups: UnsafePointer<Int32>, groupCount: Int,
                    text: (Int) -> [ArraySlice<UInt8>]?, captureRow: UnsafePointer<Int32>, record: (Int, Int32) -> Void) {
        precondition(kind == .unionSet)
        ensure(groupCount)
        for i in 0..<rows {
            if kinds[i] == ChunkRowKind.reset.rawValue {
                reset()
                continue
            }
            let g = Int(groups[i])
            let adding = kinds[i] == ChunkRowKind.current.rawValue
            for element in text(i) ?? [] {
                let key = Array(element)
                let n = (setCounts[g][key] ?? 0) + (adding ? 1 : -1)
                setCounts[g][key] = n > 0 ? n : nil
            }
            if captureRow[g] == Int32(truncatingIfNeeded: i) { record(i, Int32(truncatingIfNeeded: g)) }
        }
    }

    func reset() {
        let forever = kind == .minForever || kind == .maxForever
        for g in 0..<longs.count {
            longs[g] = 0
            doubles[g] = 0
            counts[g] = 0
            extra[g] = 0
            if !forever {
                hasBest[g] = false
            }
        }
        for g in deques.indices {
            deques[g].removeAll(keepingCapacity: true)
            dequeHeads[g] = 0
        }
        for g in distinct.indices { distinct[g].removeAll() }
        for g in setCounts.indices { setCounts[g].removeAll() }
    }

    /// `a` is better than `b` for min/max over this argument type.
    @inline(__always)
    private func better(_ a: UInt64, _ b: UInt64) -> Bool {
        let wantsMax = kind == .max || kind == .maxForever
        if isIntegerArgument {
            let x = Int64(bitPattern: a), y = Int64(bitPattern: b)
            return wantsMax ? x > y : x < y
        }
        let x = Double(bitPattern: a), y = Double(bitPattern: b)
        return wantsMax ? x > y : x < y
    }

    /// Applies `rows` of a chunk in order. `values`/`nulls` hold the argument per row (nil for count);
    /// `capture(row, group)` is asked after each row whether to record the value, and `record` gets it.
    func update(rows: Int, kinds: UnsafePointer<UInt8>, groups: UnsafePointer<Int32>, groupCount: Int,
                values: UnsafePointer<UInt64>?, nulls: UnsafePointer<UInt8>?,
                captureRow: UnsafePointer<Int32>, record: (Int, Int32) -> Void) {
        ensure(groupCount)
        // Raw pointers for the loop: no retain, uniqueness or bounds check per event.
        let longs = self.longs.base, doubles = self.doubles.base, counts = self.counts.base
        let extra = self.extra.base, best = self.best.base, hasBest = self.hasBest.base
        // The common aggregates get their own tight loops (no per-row switch on the kind).
        if kind == .count || ((kind == .sum || kind == .avg) && nulls == nil) {
            let integer = isIntegerArgument
            for i in 0..<rows {
                let kindRaw = kinds[i]
                if kindRaw == ChunkRowKind.reset.rawValue {
                    reset()
                    continue
                }
                let g = Int(groups[i])
                let adding = kindRaw == ChunkRowKind.current.rawValue
                if kind == .count {
                    longs[g] &+= adding ? 1 : -1
                } else if integer {
                    let v = Int64(bitPattern: values![i])
                    longs[g] &+= adding ? v : 0 &- v
                    counts[g] &+= adding ? 1 : -1
                } else {
                    let v = Double(bitPattern: values![i])
                    doubles[g] += adding ? v : -v
                    counts[g] &+= adding ? 1 : -1
                }
                if captureRow[g] == Int32(truncatingIfNeeded: i) { record(i, Int32(truncatingIfNeeded: g)) }
            }
            return
        }
        for i in 0..<rows {
            let kindRaw = kinds[i]
            if kindRaw == ChunkRowKind.reset.rawValue {
                reset()
                continue
            }
            let g = Int(groups[i])
            let adding = kindRaw == ChunkRowKind.current.rawValue
            let isNull = nulls.map { $0[i] != 0 } ?? false
            if kind == .count {
                longs[g] &+= adding ? 1 : -1
            } else if !isNull, let values {
                let v = values[i]
                switch kind {
                case .sum, .avg:
                    if isIntegerArgument {
                        longs[g] &+= adding ? Int64(bitPattern: v) : 0 &- Int64(bitPattern: v)
                    } else {
                        doubles[g] += adding ? Double(bitPattern: v) : -Double(bitPattern: v)
                    }
                    counts[g] += adding ? 1 : -1
                case .stdDev:
                    let x = isIntegerArgument ? Double(Int64(bitPattern: v)) : Double(bitPattern: v)
                    doubles[g] += adding ? x : -x
                    best[g] = (Double(bitPattern: best[g]) + (adding ? x * x : -x * x)).bitPattern
                    counts[g] += adding ? 1 : -1
                case .min, .max:
                    // FIFO windows expire values in arrival order: a monotonic deque answers in O(1).
                    if adding {
                        while deques[g].count > dequeHeads[g], better(v, deques[g][deques[g].count - 1]) { deques[g].removeLast() }
                        deques[g].append(v)
                    } else if deques[g].count > dequeHeads[g], deques[g][dequeHeads[g]] == v {
                        dequeHeads[g] += 1
                        if dequeHeads[g] > 64 && dequeHeads[g] * 2 > deques[g].count {
                            deques[g].removeFirst(dequeHeads[g])
                            dequeHeads[g] = 0
                        }
                    }
                    counts[g] += adding ? 1 : -1
                case .minForever, .maxForever:
                    if adding && (!hasBest[g] || better(v, best[g])) {
                        best[g] = v
                        hasBest[g] = true
                    }
                case .distinctCount:
                    let n = (distinct[g][v] ?? 0) + (adding ? 1 : -1)
                    distinct[g][v] = n > 0 ? n : nil
                case .and, .or:
                    if v != 0 { longs[g] += adding ? 1 : -1 } else { extra[g] += adding ? 1 : -1 }
                case .count:
                    break
                case .unionSet:
                    preconditionFailure("unionSet takes set texts: updateSets")
                }
            }
            if captureRow[g] == Int32(i) { record(i, Int32(g)) }
        }
    }

    /// Adds `rows` current rows (no expiry, no capture: a batch window filling up). Count, sum and
    /// avg without nulls take a loop of their own; the rest go through `update`.
    func add(rows: Int, groups: UnsafePointer<Int32>, groupCount: Int, values: UnsafePointer<UInt64>?,
             nulls: UnsafePointer<UInt8>?, currentKinds: UnsafePointer<UInt8>, noCapture: UnsafePointer<Int32>) {
        guard kind == .count || ((kind == .sum || kind == .avg) && nulls == nil && values != nil) else {
            update(rows: rows, kinds: currentKinds, groups: groups, groupCount: groupCount, values: values, nulls: nulls,
                   captureRow: noCapture, record: { _, _ in })
            return
        }
        ensure(groupCount)
        let longs = self.longs.base, doubles = self.doubles.base, counts = self.counts.base
        if kind == .count {
            for i in 0..<rows { longs[Int(groups[i])] &+= 1 }
        } else if isIntegerArgument {
            let values = values!
            for i in 0..<rows {
                let g = Int(groups[i])
                longs[g] &+= Int64(bitPattern: values[i])
                counts[g] &+= 1
            }
        } else {
            let values = values!
            for i in 0..<rows {
                let g = Int(groups[i])
                doubles[g] += Double(bitPattern: values[i])
                counts[g] &+= 1
            }
        }
    }

    /// The running state of count, sum and avg for `groupCount` groups in raw memory, for a loop
    /// that adds and removes rows itself (the fused sliding-window path). Valid until groups grow.
    func runningSums(groupCount: Int) -> (longs: UnsafeMutablePointer<Int64>, doubles: UnsafeMutablePointer<Double>,
                                          counts: UnsafeMutablePointer<Int64>) {
        precondition(kind == .count || kind == .sum || kind == .avg, "running sums are count, sum and avg only")
        ensure(groupCount)
        return (longs.base, doubles.base, counts.base)
    }

    /// The aggregate's value for group `g` as (slot bits, is null) in `outputType`.
    func value(_ g: Int) -> (UInt64, Bool) {
        switch kind {
        case .count: return (UInt64(bitPattern: longs[g]), false)
        case .sum:
            guard counts[g] > 0 else { return (0, true) }  // Siddhi: the sum of nothing is null
            return isIntegerArgument ? (UInt64(bitPattern: longs[g]), false) : (doubles[g].bitPattern, false)
        case .avg:
            guard counts[g] > 0 else { return (0, true) }
            let total = isIntegerArgument ? Double(longs[g]) : doubles[g]
            return ((total / Double(counts[g])).bitPattern, false)
        case .stdDev:
            guard counts[g] > 0 else { return (0, true) }
            let n = Double(counts[g])
            let mean = doubles[g] / n
            let variance = max(0, Double(bitPattern: best[g]) / n - mean * mean)
            return (variance.squareRoot().bitPattern, false)
        case .min, .max:
            guard deques[g].count > dequeHeads[g] else { return (0, true) }
            return (deques[g][dequeHeads[g]], false)
        case .minForever, .maxForever:
            return hasBest[g] ? (best[g], false) : (0, true)
        case .distinctCount: return (UInt64(distinct[g].count), false)
        case .and:
            guard longs[g] + extra[g] > 0 else { return (0, true) }
            return (extra[g] == 0 ? 1 : 0, false)
        case .or:
            guard longs[g] + extra[g] > 0 else { return (0, true) }
            return (longs[g] > 0 ? 1 : 0, false)
        case .unionSet:
            // Siddhi: the union of no set is an empty set, not null.
            let text = SetText.text(of: setCounts[g].keys)
            let slot = UInt64(textArena.count) << 32 | UInt64(text.count)
            textArena.append(contentsOf: text)
            return (slot, false)
        }
    }

    func write(to w: inout SnapshotWriter) {
        w.int64s(longs.array)
        w.doubles(doubles.array)
        w.int64s(counts.array)
        w.int64s(extra.array)
        w.uint64s(best.array)
        w.int(hasBest.count)
        for b in hasBest.array { w.bool(b) }
        if kind == .unionSet {
            // Only unionSet writes this section: snapshots of the other aggregates are unchanged.
            w.int(setCounts.count)
            for counts in setCounts {
                w.int(counts.count)
                for (element, n) in counts.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                    w.bytes(element)
                    w.int64(n)
                }
            }
        }
        w.int(deques.count)
        for (g, d) in deques.enumerated() { w.uint64s(Array(d[dequeHeads[g]...])) }
        w.int(distinct.count)
        for d in distinct {
            w.int(d.count)
            for (k, v) in d.sorted(by: { $0.key < $1.key }) {
                w.uint64(k)
                w.int64(v)
            }
        }
    }

    func read(from r: inout SnapshotReader) throws(SnapshotError) {
        longs = GroupColumn(try r.int64s())
        doubles = GroupColumn(try r.doubles())
        counts = GroupColumn(try r.int64s())
        extra = GroupColumn(try r.int64s())
        best = GroupColumn(try r.uint64s())
        let nb = try r.int()
        var flags: [Bool] = []
        for _ in 0..<nb { flags.append(try r.bool()) }
        hasBest = GroupColumn(flags)
        setCounts = []
        if kind == .unionSet {
            for _ in 0..<(try r.int()) {
                var counts: [[UInt8]: Int64] = [:]
                for _ in 0..<(try r.int()) {
                    let element = try r.bytes()
                    let n = try r.int64()
                    guard n > 0 else { throw SnapshotError("set element count \(n)") }
                    counts[element] = n
                }
                setCounts.append(counts)
            }
        }
        let nd = try r.int()
        deques = []
        for _ in 0..<nd { deques.append(try r.uint64s()) }
        dequeHeads = Array(repeating: 0, count: nd)
        let nx = try r.int()
        distinct = []
        for _ in 0..<nx {
            var d: [UInt64: Int64] = [:]
            for _ in 0..<(try r.int()) {
                let k = try r.uint64()
                d[k] = try r.int64()
            }
            distinct.append(d)
        }
        let n = longs.count
        guard doubles.count == n, counts.count == n, extra.count == n, best.count == n, hasBest.count == n,
              nd == 0 || nd == n, nx == 0 || nx == n, kind != .unionSet || setCounts.count == n else {
            throw SnapshotError("aggregate state is inconsistent")
        }
    }
}

/// Per-group values in raw memory: indexing in the aggregate loops does no uniqueness check or
/// retain. Owned by one aggregator on one thread.
struct GroupColumn<T> {
    private(set) var base: UnsafeMutablePointer<T> = .allocate(capacity: 1)
    private(set) var count = 0
    private var capacity = 0
    private let owner = Deallocator()

    init() { owner.release = { [base] in base.deallocate() } }

    init(_ values: [T]) {
        self.init()
        if let first = values.first { grow(to: values.count, first) }
        for (i, v) in values.enumerated() { base[i] = v }
    }

    @inline(__always)
    subscript(_ i: Int) -> T {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }

    mutating func grow(to n: Int, _ zero: T) {
        guard n > count else { return }
        if n > capacity {
            let newCapacity = max(16, max(n, capacity * 2))
            let fresh = base.movedToAllocation(capacity: newCapacity, count: count)
            base = fresh
            capacity = newCapacity
            owner.release = { [fresh] in fresh.deallocate() }
        }
        (base + count).initialize(repeating: zero, count: n - count)
        count = n
    }

    var array: [T] { Array(UnsafeBufferPointer(start: base, count: count)) }
}

/// Frees a `GroupColumn`'s memory when the last copy of it goes away.
final class Deallocator {
    var release: () -> Void = {}
    deinit { release() }
}
