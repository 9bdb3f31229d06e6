import Atomics

/// A bounded single-producer/single-consumer ring that hands values (batches) between two threads
/// without locks.
///
/// Capacity is a power of two. The producer owns `tail`, the consumer owns `head`; each publishes its
/// index with release ordering and reads the other's with acquire ordering, so a slot's contents are
/// visible before its index is. Exactly one thread may push and one may pop.
public final class SPSCRing<Element>: @unchecked Sendable {
    public let capacity: Int
    private let mask: Int
    private let slots: UnsafeMutablePointer<Element?>
    // Each index is its own heap object, so producer and consumer do not write one cache line.
    private let head = ManagedAtomic<Int>(0)
    private let tail = ManagedAtomic<Int>(0)
    /// Producer's cached view of `head`, consumer's cached view of `tail`: fewer cross-core reads.
    private var cachedHead = 0
    private var cachedTail = 0

    /// - Parameter capacity: a power of two ≥ 2.
    public init(capacity: Int) {
        precondition(capacity >= 2 && capacity & (capacity - 1) == 0, "SPSCRing capacity must be a power of two ≥ 2")
        self.capacity = capacity
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: nil, count: capacity)
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    /// Producer only. Returns false (and keeps nothing) when the ring is full.
    @inline(__always)
    public func tryPush(_ element: Element) -> Bool {
        let t = tail.load(ordering: .relaxed)
        if t - cachedHead >= capacity {
            cachedHead = head.load(ordering: .acquiring)
            if t - cachedHead >= capacity { return false }
        }
        slots[t & mask] = element
        tail.store(t + 1, ordering: .releasing)
        return true
    }

    /// Consumer only. Returns nil when the ring is empty.
    @inline(__always)
    public func tryPop() -> Element? {
        let h = head.load(ordering: .relaxed)
        if h >= cachedTail {
            cachedTail = tail.load(ordering: .acquiring)
            if h >= cachedTail { return nil }
        }
        let element = slots[h & mask].take()
        head.store(h + 1, ordering: .releasing)
        return element
    }

    /// Elements in the ring now (approximate while the other side runs).
    public var count: Int { max(0, tail.load(ordering: .acquiring) - head.load(ordering: .acquiring)) }
    public var isEmpty: Bool { count == 0 }
}
