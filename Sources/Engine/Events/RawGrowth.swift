extension UnsafeMutablePointer {
    /// A fresh allocation of `capacity` elements holding this one's first `count` (moved), this one
    /// deallocated: the grow step of the engine's raw column buffers.
    func movedToAllocation(capacity: Int, count: Int) -> UnsafeMutablePointer<Pointee> {
        precondition(capacity >= count)
        let fresh = UnsafeMutablePointer<Pointee>.allocate(capacity: capacity)
        fresh.moveInitialize(from: self, count: count)
        deallocate()
        return fresh
    }
}
