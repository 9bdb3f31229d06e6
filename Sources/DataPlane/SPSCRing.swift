import Atomics

/// A bounded single-producer/single-consumer ring that hands values (batches) between two threads
/// without locks.
///
/// Capacity is a power of two. The producer owns `tail`, the consumer owns `head`; each publishes its
/// index with release ordering and reads the other's with acquire ordering, so a slot's contents are
/// visible before its index is. Exactly one thread may push and one may pop.
///
/// `@unchecked Sendable` because the compiler cannot see the SPSC discipline: slots are only written
/// by the producer before it releases `tail` and only read by the consumer after it acquired `tail`
/// (and vice versa for `head`), and each cached index is touched by one side only.
///
/// A full ring refuses (`tryPush` returns false); it never overwrites and never grows. Waiting is the
/// caller's choice: the consumer uses a `Doorbell`, a producer backs off (see `TCPSourceListener`).
public final class SPSCRing<Element>: @unchecked Sendable {
    /// Slots in the ring (a power of two).
    public let capacity: Int
    /// The largest capacity accepted: rings hold batches, not events, so this is generous.
    public static var capacityMax: Int { 1 << 20 }

    private let mask: Int
    private let slots: UnsafeMutablePointer<Element?>
    /// Four cache lines (128 bytes each, to also defeat adjacent-line prefetch): `head`, `tail`, the
    /// producer's cached head and the consumer's cached tail. Separate lines so that the producer's
    /// and the consumer's writes never share one.
    private let lines: UnsafeMutableRawPointer
    private let head: UnsafeAtomic<Int>
    private let tail: UnsafeAtomic<Int>
    /// Producer's last view of `head` / consumer's last view of `tail`: fewer cross-core reads.
    private let cachedHead: UnsafeMutablePointer<Int>
    private let cachedTail: UnsafeMutablePointer<Int>
    private static var lineBytes: Int { 128 }

    /// - Parameter capacity: a power of two in 2...`capacityMax`.
    public init(capacity: Int) {
        precondition(capacity >= 2 && capacity <= SPSCRing.capacityMax && capacity & (capacity - 1) == 0,
                     "SPSCRing capacity must be a power of two in 2...\(SPSCRing.capacityMax), got \(capacity)")
        self.capacity = capacity
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: nil, count: capacity)
        let line = SPSCRing.lineBytes
        lines = .allocate(byteCount: 4 * line, alignment: line)
        let headStorage = lines.bindMemory(to: UnsafeAtomic<Int>.Storage.self, capacity: 1)
        headStorage.initialize(to: UnsafeAtomic<Int>.Storage(0))
        let tailStorage = (lines + line).bindMemory(to: UnsafeAtomic<Int>.Storage.self, capacity: 1)
        tailStorage.initialize(to: UnsafeAtomic<Int>.Storage(0))
        head = UnsafeAtomic(at: headStorage)
        tail = UnsafeAtomic(at: tailStorage)
        cachedHead = (lines + 2 * line).bindMemory(to: Int.self, capacity: 1)
        cachedHead.initialize(to: 0)
        cachedTail = (lines + 3 * line).bindMemory(to: Int.self, capacity: 1)
        cachedTail.initialize(to: 0)
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
        lines.deallocate()
    }

    /// Producer only. Returns false (and keeps nothing) when the ring is full.
    @inline(__always)
    public func tryPush(_ element: Element) -> Bool {
        let t = tail.load(ordering: .relaxed)
        if t - cachedHead.pointee >= capacity {
            cachedHead.pointee = head.load(ordering: .acquiring)
            if t - cachedHead.pointee >= capacity { return false }
        }
        assert(slots[t & mask] == nil, "SPSCRing: pushing into an occupied slot")
        slots[t & mask] = element
        tail.store(t + 1, ordering: .releasing)
        return true
    }

    /// Consumer only. Returns nil when the ring is empty.
    @inline(__always)
    public func tryPop() -> Element? {
        let h = head.load(ordering: .relaxed)
        if h >= cachedTail.pointee {
            cachedTail.pointee = tail.load(ordering: .acquiring)
            if h >= cachedTail.pointee { return nil }
        }
        let element = slots[h & mask].take()
        assert(element != nil, "SPSCRing: popped an empty slot")
        head.store(h + 1, ordering: .releasing)
        return element
    }

    /// Elements in the ring now (approximate while the other side runs; always in 0...capacity).
    public var count: Int {
        // Read head first: tail only grows, so tail - head can overshoot only by pushes made in
        // between, which the clamp bounds.
        let h = head.load(ordering: .acquiring)
        let t = tail.load(ordering: .acquiring)
        return min(max(0, t - h), capacity)
    }

    /// Whether the ring looks empty (exact for the consumer: only the producer can make it non-empty).
    public var isEmpty: Bool { count == 0 }
}
