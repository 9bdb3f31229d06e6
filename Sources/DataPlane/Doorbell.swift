import Atomics
import Dispatch

/// Lets a consumer sleep while its rings are empty, and producers wake it after a push.
///
/// Producers pay one atomic exchange per push only while the consumer is (about to be) asleep; a
/// busy consumer never sleeps, so the hot path stays free of syscalls.
public final class Doorbell: Sendable {
    private let sleeping = ManagedAtomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)

    public init() {}

    /// Producer side: call after a successful push.
    @inline(__always)
    public func ring() {
        if sleeping.load(ordering: .relaxed), sleeping.exchange(false, ordering: .acquiringAndReleasing) {
            semaphore.signal()
        }
    }

    /// Consumer side: sleeps up to `timeoutMs` unless `isEmpty()` turns false first. Spurious
    /// wake-ups are allowed; the caller re-checks its rings.
    public func wait(timeoutMs: Int, isEmpty: () -> Bool) {
        sleeping.store(true, ordering: .sequentiallyConsistent)
        // Re-check after announcing sleep: a push that raced with us either sees `sleeping` or is seen here.
        guard isEmpty() else {
            sleeping.store(false, ordering: .relaxed)
            return
        }
        _ = semaphore.wait(timeout: .now() + .milliseconds(timeoutMs))
        sleeping.store(false, ordering: .relaxed)
    }
}
