import Glibc

/// Waiting without burning a core: spin a few rounds, then yield, then sleep with exponential backoff
/// up to `sleepMaxUs`. A producer uses it while a full ring refuses its push (backpressure).
public struct Backoff: Sendable {
    public static let spinsMax = 16
    public static let yieldsMax = 16
    public static let sleepMaxUs: UInt32 = 1000

    private var attempts = 0
    private var sleepUs: UInt32 = 1

    public init() {}

    /// Waits a little longer than the previous call did.
    public mutating func pause() {
        attempts += 1
        if attempts <= Backoff.spinsMax { return }
        if attempts <= Backoff.spinsMax + Backoff.yieldsMax {
            sched_yield()
            return
        }
        usleep(sleepUs)
        sleepUs = min(sleepUs * 2, Backoff.sleepMaxUs)
    }
}
