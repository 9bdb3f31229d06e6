import Atomics
import Dispatch
import Glibc

/// Lets a consumer sleep while its rings are empty, and producers wake it after a push.
///
/// One doorbell may serve several rings: an engine thread that drains one ring per listener shares
/// one doorbell between all of them and passes `wait` a check over every ring.
///
/// Producers pay a fence and a load per push; they make a syscall only while the consumer is (about
/// to be) asleep, so a busy consumer costs them nothing more.
public final class Doorbell: Sendable {
    private let sleeping = ManagedAtomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)

    public init() {}

    /// Producer side: call after a successful push (from any thread).
    @inline(__always)
    public func ring() {
        // Store-load ordering (Dekker): our push (a release store of the ring's tail) must be visible
        // before we read `sleeping`, and the consumer sets `sleeping` before it re-reads the rings.
        // Without the fence both sides could miss each other and the consumer would sleep a full timeout.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if sleeping.load(ordering: .relaxed), sleeping.exchange(false, ordering: .acquiringAndReleasing) {
            semaphore.signal()
        }
    }

    /// Re-checks before sleeping: a producer in the middle of a burst usually pushes again within a
    /// few yields, and catching that saves two syscalls (sleep and wake) on each side.
    public static let yieldsBeforeSleepMax = 8

    /// Consumer side (one thread): sleeps up to `timeoutMs` unless `isEmpty()` turns false first.
    /// Spurious wake-ups are allowed; the caller re-checks its rings.
    public func wait(timeoutMs: Int, isEmpty: () -> Bool) {
        precondition(timeoutMs >= 0)
        for _ in 0..<Doorbell.yieldsBeforeSleepMax {
            guard isEmpty() else { return }
            sched_yield()
        }
        sleeping.store(true, ordering: .sequentiallyConsistent)
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // the other half of the Dekker pair in `ring`
        // Re-check after announcing sleep: a racing push either sees `sleeping` or is seen here.
        guard isEmpty() else {
            if !sleeping.exchange(false, ordering: .acquiringAndReleasing) { consumeStraySignal() }
            return
        }
        if semaphore.wait(timeout: .now() + .milliseconds(timeoutMs)) == .timedOut {
            // A producer may have claimed `sleeping` just after the timeout: it will signal, and that
            // signal must not cut the next wait short for nothing (harmless, but consume it anyway).
            if !sleeping.exchange(false, ordering: .acquiringAndReleasing) { consumeStraySignal() }
        }
    }

    /// A producer took `sleeping` and signalled (or is about to): take that signal now.
    private func consumeStraySignal() {
        semaphore.wait()
    }
}
