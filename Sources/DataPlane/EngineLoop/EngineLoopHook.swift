import Engine

/// What the owner of an ``EngineLoop`` adds around the batches it runs: an HA active fences input
/// by its lease, forwards each batch to the passive, releases publishers' acks and takes snapshots
/// at batch boundaries; a standalone node or `tandem perf ingest` adds little or nothing.
///
/// Called on the loop's thread only, once per batch or per pass over the rings, never per event.
public protocol EngineLoopHook: AnyObject {
    /// Whether input may run now (HA: the lease fence is open). While false nothing runs: the rings
    /// fill and their sources push back on publishers.
    var mayRun: Bool { get }
    /// While input may not run: whether to drop what the rings hold (the node stopped being active).
    var discardQueued: Bool { get }
    /// At the top of every pass over the rings (a batch boundary).
    func beginPass()
    /// `item`, popped from ring `ring`, is about to run; the clock moved to `clockMs` (0 in
    /// playback). False holds it: the loop offers it again first, once input may run.
    func willRun(_ item: IngestBatch, ring: Int, clockMs: Int64) -> Bool
    /// `item` ran through the runtime.
    func didRun(_ item: IngestBatch, ring: Int)
    /// After every pass over the rings.
    func endPass()
    /// Idle (the rings were empty): the clock moved to `clockMs`; `timerFired` when a timer was due.
    func idle(clockMs: Int64, timerFired: Bool)
    /// The longest idle sleep now (ms); shorter when something must be polled.
    var idleWaitMs: Int { get }
    /// Whether an idle sleep should end before a push (e.g. a snapshot was requested).
    var wantsWake: Bool { get }
    /// Input could not run: `events` dropped (the owner said to discard), or `batchesNotRun` left in
    /// the rings at a stop while input may not run.
    func notRun(events: Int, batchesAtStop: Int)
}

extension EngineLoopHook {
    public var mayRun: Bool { true }
    public var discardQueued: Bool { false }
    public func beginPass() {}
    public func willRun(_ item: IngestBatch, ring: Int, clockMs: Int64) -> Bool { true }
    public func didRun(_ item: IngestBatch, ring: Int) {}
    public func endPass() {}
    public func idle(clockMs: Int64, timerFired: Bool) {}
    public var idleWaitMs: Int { 100 }
    public var wantsWake: Bool { false }
    public func notRun(events: Int, batchesAtStop: Int) {}
}
