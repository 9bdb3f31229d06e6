/// The buckets of one duration of an incremental aggregation: one entry per (bucket start, group)
/// holding typed partial aggregates in a fixed number of 8-byte slots.
///
/// Limits (per duration): at most `bucketsMax` bucket starts and `entriesMax` entries. Past either,
/// the oldest bucket is evicted whole (counted in `evictedBuckets`); an event older than every
/// retained bucket when the limit is reached is not added to this duration (counted in
/// `droppedRows`), so memory stays bounded whatever the input.
///
/// Events arrive mostly in time order: the newest bucket's entries are found through an array
/// indexed by group id (no hashing); older buckets through a dictionary.
final class AggregationBuckets {
    struct Key: Hashable {
        var start: Int64
        var group: Int32
    }

    let width: Int
    let bucketsMax: Int
    let entriesMax: Int

    /// `width` slots per entry (entry e at e * width).
    private(set) var slots: [UInt64] = []
    private var entryGroup: [Int32] = []
    private var freeEntries: [Int32] = []
    private(set) var liveEntries = 0
    /// Retained bucket starts, ascending, from `head` on.
    private var starts: [Int64] = []
    private var head = 0
    /// Per bucket start, its entries in first-seen order of their groups.
    private var entriesOf: [Int64: [Int32]] = [:]
    private var index: [Key: Int32] = [:]
    /// The newest bucket's start (Int64.min when empty) and its entry per group id (-1: none).
    private var newestStart = Int64.min
    private var newestEntry: [Int32] = []
    private var newestTouched: [Int32] = []
    /// Sets of `distinctCount` values; an entry's slot holds its set's index.
    private(set) var sets: [Set<UInt64>] = []
    private var freeSets: [Int32] = []
    /// Slot offsets of the `distinctCount` aggregates (each entry gets a set for each).
    let setSlots: [Int]

    private(set) var evictedBuckets = 0
    private(set) var droppedRows = 0

    init(width: Int, setSlots: [Int], bucketsMax: Int, entriesMax: Int) {
        precondition(bucketsMax >= 1 && entriesMax >= 1)
        self.width = width
        self.setSlots = setSlots
        self.bucketsMax = bucketsMax
        self.entriesMax = entriesMax
    }

    var bucketCount: Int { starts.count - head }

    /// The entry of (`start`, `group`), created when new; -1 when the row cannot be kept (see the limits).
    @inline(__always)
    func entry(start: Int64, group: Int32) -> Int32 {
        let g = Int(group)
        if start == newestStart, g < newestEntry.count, newestEntry[g] >= 0 { return newestEntry[g] }
        return slowEntry(start: start, group: group)
    }

    private func slowEntry(start: Int64, group: Int32) -> Int32 {
        let g = Int(group)
        if start > newestStart {
            for t in newestTouched { newestEntry[Int(t)] = -1 }
            newestTouched.removeAll(keepingCapacity: true)
            guard makeRoom(forBucket: start) else { return -1 }
            starts.append(start)
            entriesOf[start] = []
            newestStart = start
        } else if start != newestStart {
            if let e = index[Key(start: start, group: group)] { return e }
            if entriesOf[start] == nil {
                guard makeRoom(forBucket: start) else { return -1 }
                // Out of order: insert among the retained starts, keeping them sorted.
                var lo = head, hi = starts.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if starts[mid] < start { lo = mid + 1 } else { hi = mid }
                }
                starts.insert(start, at: lo)
                entriesOf[start] = []
            }
        }
        if liveEntries >= entriesMax {
            guard let oldest = starts[head...].first, oldest != start else {
                droppedRows += 1
                return -1
            }
            evict(oldest)
        }
        let e = newEntry(start: start, group: group)
        if start == newestStart {
            if g >= newestEntry.count { newestEntry.append(contentsOf: repeatElement(-1, count: g + 1 - newestEntry.count)) }
            newestEntry[g] = e
            newestTouched.append(group)
        }
        return e
    }

    /// Evicts the oldest bucket if a new bucket `start` would pass `bucketsMax`; false when `start`
    /// itself is older than everything retained (it would be the one evicted).
    private func makeRoom(forBucket start: Int64) -> Bool {
        guard bucketCount >= bucketsMax else { return true }
        guard start > starts[head] else {
            droppedRows += 1
            return false
        }
        evict(starts[head])
        return true
    }

    private func newEntry(start: Int64, group: Int32) -> Int32 {
        let e: Int32
        if let reused = freeEntries.popLast() {
            e = reused
            let base = Int(e) * width
            for k in 0..<width { slots[base + k] = 0 }
            entryGroup[Int(e)] = group
        } else {
            e = Int32(entryGroup.count)
            slots.append(contentsOf: repeatElement(0, count: width))
            entryGroup.append(group)
        }
        for offset in setSlots { slots[Int(e) * width + offset] = UInt64(newSet()) }
        index[Key(start: start, group: group)] = e
        entriesOf[start]!.append(e)
        liveEntries += 1
        return e
    }

    private func newSet() -> Int32 {
        if let s = freeSets.popLast() { return s }
        sets.append([])
        return Int32(sets.count - 1)
    }

    /// Drops bucket `start` and its entries.
    private func evict(_ start: Int64) {
        guard let entries = entriesOf.removeValue(forKey: start) else { return }
        for e in entries {
            index[Key(start: start, group: entryGroup[Int(e)])] = nil
            for offset in setSlots {
                let s = Int32(truncatingIfNeeded: slots[Int(e) * width + offset])
                sets[Int(s)].removeAll()
                freeSets.append(s)
            }
            freeEntries.append(e)
        }
        liveEntries -= entries.count
        if let at = starts[head...].firstIndex(of: start) {
            if at == head { head += 1 } else { starts.remove(at: at) }
        }
        if start == newestStart {
            for t in newestTouched { newestEntry[Int(t)] = -1 }
            newestTouched.removeAll(keepingCapacity: true)
            newestStart = starts.count > head ? starts[starts.count - 1] : Int64.min
            if newestStart != Int64.min {
                for e in entriesOf[newestStart]! {
                    let g = Int(entryGroup[Int(e)])
                    if g >= newestEntry.count { newestEntry.append(contentsOf: repeatElement(-1, count: g + 1 - newestEntry.count)) }
                    newestEntry[g] = e
                    newestTouched.append(Int32(g))
                }
            }
        }
        if head > 1024 && head * 2 > starts.count {
            starts.removeFirst(head)
            head = 0
        }
        evictedBuckets += 1
    }

    /// Calls `body` with each retained bucket in [fromMs, toMs), ascending, and its entries.
    func forEachBucket(from fromMs: Int64, to toMs: Int64, _ body: (Int64, [Int32]) -> Void) {
        var lo = head, hi = starts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if starts[mid] < fromMs { lo = mid + 1 } else { hi = mid }
        }
        var i = lo
        while i < starts.count, starts[i] < toMs {
            body(starts[i], entriesOf[starts[i]]!)
            i += 1
        }
    }

    func group(of entry: Int32) -> Int32 { entryGroup[Int(entry)] }

    /// Runs `body` over the slots for in-place updates.
    @inline(__always)
    func withSlots<R>(_ body: (UnsafeMutablePointer<UInt64>) -> R) -> R {
        slots.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    @inline(__always)
    func insert(_ value: UInt64, intoSetOf entry: Int32, slot offset: Int) {
        let s = Int(truncatingIfNeeded: slots[Int(entry) * width + offset])
        sets[s].insert(value)
    }

    func setCount(_ entry: Int32, slot offset: Int) -> Int {
        sets[Int(truncatingIfNeeded: slots[Int(entry) * width + offset])].count
    }

    // MARK: Snapshot

    /// Buckets in order, each with its entries' groups, slots (set slots as sorted members).
    func write(to w: inout SnapshotWriter) {
        w.int(evictedBuckets)
        w.int(droppedRows)
        w.int(bucketCount)
        for i in head..<starts.count {
            let start = starts[i]
            let entries = entriesOf[start]!
            w.int64(start)
            w.int(entries.count)
            for e in entries {
                w.int64(Int64(entryGroup[Int(e)]))
                let base = Int(e) * width
                for k in 0..<width where !setSlots.contains(k) { w.uint64(slots[base + k]) }
                for offset in setSlots {
                    w.uint64s(sets[Int(truncatingIfNeeded: slots[base + offset])].sorted())
                }
            }
        }
    }

    /// A fresh store with the written state; `groupCount` bounds the group ids it may name.
    func decoded(from r: inout SnapshotReader, groupCount: Int) throws(SnapshotError) -> AggregationBuckets {
        let fresh = AggregationBuckets(width: width, setSlots: setSlots, bucketsMax: bucketsMax, entriesMax: entriesMax)
        fresh.evictedBuckets = try r.int()
        fresh.droppedRows = try r.int()
        let buckets = try r.int()
        guard buckets <= bucketsMax else { throw SnapshotError("aggregation holds \(buckets) buckets, over the limit \(bucketsMax)") }
        var previous = Int64.min
        for _ in 0..<buckets {
            let start = try r.int64()
            guard fresh.starts.isEmpty || start > previous else {
                throw SnapshotError("aggregation buckets out of order")
            }
            previous = start
            fresh.starts.append(start)
            fresh.entriesOf[start] = []
            let count = try r.int()
            guard fresh.liveEntries + count <= entriesMax else { throw SnapshotError("aggregation entries over the limit \(entriesMax)") }
            for _ in 0..<count {
                let g = try r.int64()
                guard g >= 0, g < Int64(groupCount) else { throw SnapshotError("aggregation entry names an unknown group") }
                let group = Int32(g)
                guard fresh.index[Key(start: start, group: group)] == nil else { throw SnapshotError("aggregation entry repeated") }
                let e = fresh.newEntry(start: start, group: group)
                let base = Int(e) * width
                for k in 0..<width where !setSlots.contains(k) { fresh.slots[base + k] = try r.uint64() }
                for offset in setSlots {
                    let s = Int(truncatingIfNeeded: fresh.slots[base + offset])
                    fresh.sets[s] = Set(try r.uint64s())
                }
            }
        }
        if let last = fresh.starts.last {
            fresh.newestStart = last
            for e in fresh.entriesOf[last]! {
                let g = Int(fresh.entryGroup[Int(e)])
                if g >= fresh.newestEntry.count { fresh.newestEntry.append(contentsOf: repeatElement(-1, count: g + 1 - fresh.newestEntry.count)) }
                fresh.newestEntry[g] = e
                fresh.newestTouched.append(Int32(g))
            }
        }
        return fresh
    }
}
