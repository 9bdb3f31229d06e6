import Atomics
import Engine
import Glibc

/// The engine thread's loop: moves batches from the sources' rings through an app's runtime.
///
/// Each pass takes at most ``batchesPerRingMax`` batches from each ring in turn (no source starves
/// another), moves the runtime's clock (wall clock, or event time in playback), runs each batch and
/// hands its storage back to its source (a return ring) for reuse. Idle, it moves the clock (timers
/// fire there) and sleeps on the ``Doorbell`` the sources ring, no longer than the next timer.
/// Everything a node adds — the HA lease fence, forwarding, acks, checkpoints — goes through one
/// ``EngineLoopHook``; the loop is generic over it, so the hook costs a direct call per batch.
///
/// The runtime is confined to the thread that calls ``run(hook:)`` while it runs.
public final class EngineLoop<Hook: EngineLoopHook>: @unchecked Sendable {
    public let runtime: AppRuntime
    private let rings: [SPSCRing<IngestBatch>]
    private let returns: [SPSCRing<EventBatch>?]
    private let doorbell: Doorbell
    private let stopping: ManagedAtomic<Bool>
    /// Events run so far (any thread may read).
    public let eventsRun = ManagedAtomic<Int>(0)
    /// Batches taken from one ring before looking at the next.
    public let batchesPerRingMax = 64

    /// - Parameters:
    ///   - rings: the sources' rings, in the order they are served; `returns[i]` takes ring `i`'s
    ///     batch storage back (nil: none).
    ///   - stopping: once set (and the doorbell rung), ``run(hook:)`` returns after draining the rings.
    public init(runtime: AppRuntime, rings: [SPSCRing<IngestBatch>], returns: [SPSCRing<EventBatch>?],
                doorbell: Doorbell, stopping: ManagedAtomic<Bool>) {
        precondition(rings.count == returns.count)
        self.runtime = runtime
        self.rings = rings
        self.returns = returns
        self.doorbell = doorbell
        self.stopping = stopping
    }

    /// The wall clock in epoch milliseconds.
    public static func wallClockMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Runs until stopped: then drains the rings (or, while input may not run, returns at once).
    public func run(hook: Hook) {
        // A batch the hook held (pushed back) when input stopped being allowed: it runs first once
        // input may run again, or is dropped with the rest.
        var held: (ring: Int, item: IngestBatch)?
        var total = 0
        while true {
            hook.beginPass()
            if !hook.mayRun {
                if hook.discardQueued {
                    var dropped = held?.item.batch.count ?? 0
                    held = nil
                    for (r, ring) in rings.enumerated() {
                        while let item = ring.tryPop() {
                            dropped += item.batch.count
                            _ = returns[r]?.tryPush(item.batch)
                        }
                    }
                    if dropped > 0 { hook.notRun(events: dropped, batchesAtStop: 0) }
                }
                if stopping.load(ordering: .acquiring) {
                    let left = rings.reduce(0) { $0 + $1.count } + (held == nil ? 0 : 1)
                    if left > 0 { hook.notRun(events: 0, batchesAtStop: left) }
                    return
                }
                doorbell.wait(timeoutMs: 10) { true }
                continue
            }
            var ran = 0
            pass: for (ringIndex, ring) in rings.enumerated() {
                for _ in 0..<batchesPerRingMax {
                    let item: IngestBatch
                    var r = ringIndex
                    if let waiting = held {
                        (r, item) = waiting
                        held = nil
                    } else {
                        guard hook.mayRun, let popped = ring.tryPop() else { break }
                        item = popped
                    }
                    let clockMs = runtime.isPlayback ? 0 : EngineLoop.wallClockMs()
                    if !runtime.isPlayback { runtime.advanceTime(to: clockMs) }
                    guard hook.willRun(item, ring: r, clockMs: clockMs) else {
                        held = (r, item)
                        break pass
                    }
                    runtime.send(streamIndex: item.streamIndex, batch: item.batch)
                    hook.didRun(item, ring: r)
                    total += item.batch.count
                    _ = returns[r]?.tryPush(item.batch)  // full: the source allocates a new one instead
                    ran += 1
                }
            }
            if ran > 0 { eventsRun.store(total, ordering: .releasing) }
            hook.endPass()
            if ran > 0 || held != nil { continue }
            // Idle: move the clock (timers of later windows fire here), then sleep until a push.
            if !runtime.isPlayback {
                let now = EngineLoop.wallClockMs()
                let timerFired = runtime.nextTimerMs.map { $0 <= now } ?? false
                runtime.advanceTime(to: now)
                hook.idle(clockMs: now, timerFired: timerFired)
            }
            if stopping.load(ordering: .acquiring) && rings.allSatisfy(\.isEmpty) { return }
            // Sleep until a push, or until the next window timer is due.
            var waitMs = hook.idleWaitMs
            if !runtime.isPlayback, let due = runtime.nextTimerMs {
                waitMs = Int(max(1, min(Int64(waitMs), due - EngineLoop.wallClockMs())))
            }
            doorbell.wait(timeoutMs: waitMs) {
                rings.allSatisfy(\.isEmpty) && !stopping.load(ordering: .relaxed) && !hook.wantsWake
            }
        }
    }
}
