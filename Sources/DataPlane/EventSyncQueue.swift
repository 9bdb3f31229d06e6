import Foundation

/// The passive node's queue of what the active node forwards: events (sequence-numbered batches)
/// and clock moves, bounded by `eventByteBufferQueueCapacity`, in the order the active ran them.
///
/// Thread-safe (one lock): the event-sync server thread appends, each app's standby engine thread
/// takes what it applies (``standbyStep(app:pristine:)``), the control-plane thread reads status and
/// takes the rest at failover.
///
/// **Hot standby.** An app whose standby runtime holds the active's state through sequence `h`
/// is *hot* (``hotThrough(app:)``): its queue holds only what it has not applied yet, and the active's
/// `persisted` messages trim nothing (every queued entry is still needed). An app that is not hot
/// (just started, its state invalid after a new active, a snapshot restore under way, or its app
/// cannot run hot) keeps every event since the last committed snapshot, as before: `persisted`
/// trims up to it, and the standby engine restores that revision and applies the rest.
///
/// Sync tracking, per app: events arrive in sequence order. When the first event of a frame is not
/// the one after the last event received (a new active, or events the active ran while the link was
/// detached), the events before it are missing until a committed snapshot covers them: the app is
/// *out of sync* until a `persisted` message with a sequence at or above that point arrives.
public final class EventSyncQueue: @unchecked Sendable {
    /// Most events held at once (across apps; a clock entry counts as one). A frame that does not
    /// fit waits (push-back), except into an empty queue.
    public let capacityEvents: Int
    private let condition = NSCondition()
    private var entries: [String: [EventSyncEntry]] = [:]
    private var heldEvents = 0
    private var nextExpected: [String: Int64] = [:]
    /// First sequence received after a discontinuity, per app; absent when the app is in sync.
    private var gapFrom: [String: Int64] = [:]
    private var persisted: [String: (revision: String, lastSequence: Int64)] = [:]
    private var closed = false
    /// Lease term of the active whose events are held (nil: none connected since the reset).
    private var activeTerm: Int64?
    /// Per app, the sequence through which its standby runtime holds the active's state.
    private var hot: [String: Int64] = [:]
    /// Bumped per app whenever its standby state stops being valid; an apply begun before is not counted.
    private var epochs: [String: Int] = [:]
    /// Apps whose standby engine is restoring a revision (nothing is trimmed meanwhile).
    private var restoring: Set<String> = []
    /// Revisions that failed to restore, per app (not tried again).
    private var failedRevisions: [String: Set<String>] = [:]
    /// Per app whose standby state differed from the active's at a checkpoint: the sequence through
    /// which it is complete all the same (a failover before the repair takes it rather than lose events).
    private var diverged: [String: Int64] = [:]
    /// Per app, the lowest sequence a revision must reach to be restored (its standby applied
    /// events through it before its state was found invalid).
    private var restoreAtLeast: [String: Int64] = [:]
    /// Told when something arrives for an app (its standby engine's doorbell).
    private var listeners: [String: @Sendable () -> Void] = [:]
    /// Per app and sink, the outputs the active's sinks are done with.
    private var deliveredOutputs: [String: [Int64]] = [:]
    /// Entries handed to a standby engine in one step at most.
    public static let entriesPerStepMax = 64

    /// An empty queue holding at most `capacityEvents` events (`eventByteBufferQueueCapacity`).
    public init(capacityEvents: Int) {
        precondition(capacityEvents >= 1)
        self.capacityEvents = capacityEvents
    }

    private static func weight(_ entry: EventSyncEntry) -> Int { max(1, entry.eventCount) }

    /// Adds an entry, waiting up to `timeoutMs` for room. Returns false (nothing added) on timeout
    /// or after `close()`; `force` adds even when full (bounded uses only, e.g. the final drain).
    public func append(_ entry: EventSyncEntry, timeoutMs: Int, force: Bool = false) -> Bool {
        condition.lock()
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        let weight = EventSyncQueue.weight(entry)
        while !force && !closed && heldEvents > 0 && heldEvents + weight > capacityEvents {
            if !condition.wait(until: deadline) {
                condition.unlock()
                return false
            }
        }
        if closed && !force {
            condition.unlock()
            return false
        }
        if let expected = nextExpected[entry.app], expected == entry.firstSequence {
            // contiguous (a clock entry names the next expected sequence too)
        } else if gapFrom[entry.app] == nil && persisted[entry.app].map({ $0.lastSequence + 1 >= entry.firstSequence }) != true {
            gapFrom[entry.app] = entry.firstSequence
        }
        nextExpected[entry.app] = entry.lastSequence + 1
        entries[entry.app, default: []].append(entry)
        heldEvents += weight
        let listener = listeners[entry.app]
        condition.unlock()
        listener?()
        return true
    }

    /// A snapshot of `app` holding every event up to `lastSequence` is committed: recorded for a
    /// standby restore; when the app is not hot, drops exactly those events (an entry straddling the
    /// point stays; replay skips its covered events).
    public func persisted(app: String, revision: String, lastSequence: Int64) {
        condition.lock()
        if let previous = persisted[app], previous.lastSequence > lastSequence {
            condition.unlock()
            return
        }
        persisted[app] = (revision, lastSequence)
        if let gap = gapFrom[app], lastSequence + 1 >= gap { gapFrom[app] = nil }
        if hot[app] == nil && !restoring.contains(app) { dropLocked(app: app, through: lastSequence) }
        let listener = listeners[app]
        condition.unlock()
        listener?()
    }

    /// Drops `app`'s entries whose events all are at or below `sequence` (clock entries before it).
    private func dropLocked(app: String, through sequence: Int64) {
        guard var list = entries[app] else { return }
        let drop = list.prefix { $0.isClock ? $0.lastSequence < sequence : $0.lastSequence <= sequence }.count
        guard drop > 0 else { return }
        heldEvents -= list[..<drop].reduce(0) { $0 + EventSyncQueue.weight($1) }
        list.removeFirst(drop)
        entries[app] = list
        condition.broadcast()
    }

    /// An active connected (its hello carried its lease `term`). The same active re-attaching (same
    /// term) numbers on where it left off, so what is held stays: the active may have acknowledged
    /// those events to publishers because this queue held them, and until its connect checkpoint
    /// commits they are nowhere else. Events it ran while detached are missing, so every app waits
    /// for a covering snapshot (see `append`). A new term is another incarnation with its own
    /// numbering (restored from a snapshot): what is held is dropped, and so is every standby
    /// state (the new active's may differ): the standby engines restore its next checkpoint.
    public func connectionStarted(term: Int64) {
        condition.lock()
        var wake: [@Sendable () -> Void] = []
        if term != activeTerm {
            clearLocked()
            nextExpected.removeAll()
            for app in hot.keys { epochs[app, default: 0] += 1 }
            hot.removeAll()
            restoreAtLeast.removeAll()
            diverged.removeAll()
            failedRevisions.removeAll()
            deliveredOutputs.removeAll()  // another numbering's
            wake = Array(listeners.values)
        }
        activeTerm = term
        condition.unlock()
        for listener in wake { listener() }
    }

    /// This node became passive: nothing held from an earlier time is valid. `hotThrough` names the
    /// apps whose runtime state is kept (a demoted active keeps its own, for its own next takeover;
    /// any other active's hello invalidates it).
    public func reset(hotThrough kept: [String: Int64] = [:]) {
        condition.lock()
        defer { condition.unlock() }
        clearLocked()
        activeTerm = nil
        deliveredOutputs.removeAll()
        nextExpected.removeAll()
        gapFrom.removeAll()
        persisted.removeAll()
        for app in Set(hot.keys).union(kept.keys) { epochs[app, default: 0] += 1 }
        hot = kept
        restoreAtLeast.removeAll()
        diverged.removeAll()
        restoring.removeAll()
        failedRevisions.removeAll()
    }

    private func clearLocked() {
        entries.removeAll()
        heldEvents = 0
        condition.broadcast()
    }

    /// Puts back entries a takeover took that did not last (the node lost the lease before a
    /// checkpoint covered them): ahead of anything held for `app`, in sequence order. May exceed the
    /// capacity for a while (appends then wait for trims).
    public func requeue(app: String, entries taken: [EventSyncEntry]) {
        guard let last = taken.last else { return }
        condition.lock()
        defer { condition.unlock() }
        entries[app] = taken + (entries[app] ?? [])
        heldEvents += taken.reduce(0) { $0 + EventSyncQueue.weight($1) }
        if nextExpected[app] == nil { nextExpected[app] = last.lastSequence + 1 }
    }

    /// Wakes every waiting `append` and refuses new ones (the node stops being passive).
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Events held now.
    public var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return heldEvents
    }

    /// Whether `app` can be taken over without losing an event: its standby state is hot with
    /// nothing missing after it, or (not hot) its queue holds every event since its last committed
    /// snapshot. Nil: nothing heard yet.
    public func inSync(app: String) -> Bool? {
        condition.lock()
        defer { condition.unlock() }
        if let h = hot[app] {
            guard let head = entries[app]?.first else { return true }
            return head.firstSequence <= h + 1
        }
        if gapFrom[app] != nil { return false }
        return nextExpected[app] != nil || persisted[app] != nil ? true : nil
    }

    /// Apps out of sync now (events missing since their last committed snapshot).
    public var appsOutOfSync: [String] {
        condition.lock()
        defer { condition.unlock() }
        return gapFrom.keys.sorted()
    }

    /// The last committed revision the active announced for `app`.
    public func lastPersisted(app: String) -> (revision: String, lastSequence: Int64)? {
        condition.lock()
        defer { condition.unlock() }
        return persisted[app]
    }

    /// Removes and returns `app`'s entries in sequence order (failover replay).
    public func take(app: String) -> [EventSyncEntry] {
        condition.lock()
        defer { condition.unlock() }
        let list = entries.removeValue(forKey: app) ?? []
        heldEvents -= list.reduce(0) { $0 + EventSyncQueue.weight($1) }
        condition.broadcast()
        return list
    }

    // MARK: Hot standby

    /// The active's sinks of `app` are done with these many outputs each (never moves back).
    public func delivered(app: String, watermarks: [Int64]) {
        condition.lock()
        defer { condition.unlock() }
        var current = deliveredOutputs[app] ?? []
        if current.count < watermarks.count { current += Array(repeating: 0, count: watermarks.count - current.count) }
        for (k, w) in watermarks.enumerated() { current[k] = max(current[k], w) }
        deliveredOutputs[app] = current
    }

    /// Per sink of `app`, the outputs the active reported done with (empty: none reported).
    public func deliveredOutputs(app: String) -> [Int64] {
        condition.lock()
        defer { condition.unlock() }
        return deliveredOutputs[app] ?? []
    }

    /// Calls `listener` (on the appending thread, outside the lock) whenever something arrives for `app`.
    public func setListener(app: String, _ listener: (@Sendable () -> Void)?) {
        condition.lock()
        defer { condition.unlock() }
        listeners[app] = listener
    }

    /// The sequence through which `app`'s standby runtime holds the active's state; nil when it does not.
    public func hotThrough(app: String) -> Int64? {
        condition.lock()
        defer { condition.unlock() }
        return hot[app]
    }

    /// Sequences the active ran that `app`'s standby has not applied yet (how far behind it is), or
    /// nil when it is not hot.
    public func standbyLag(app: String) -> Int64? {
        condition.lock()
        defer { condition.unlock() }
        guard let h = hot[app] else { return nil }
        return max(0, (nextExpected[app] ?? h + 1) - 1 - h)
    }

    /// What a standby engine does next.
    public enum StandbyStep: Sendable {
        /// Apply these entries in order (they continue the hot state), then report ``applied``.
        case apply([EventSyncEntry], epoch: Int)
        /// Restore this committed revision (through `lastSequence`), then report ``restored`` or
        /// ``restoreFailed``; nothing is trimmed meanwhile.
        case restore(revision: String, lastSequence: Int64, epoch: Int)
        /// Nothing to do now (wait for the listener).
        case wait
    }

    /// The next step of `app`'s standby engine. `pristine`: its runtime has never run an event (its
    /// empty state is the state before sequence 1). `mayRestore`: false while stopping.
    public func standbyStep(app: String, pristine: Bool, mayRestore: Bool = true) -> StandbyStep {
        condition.lock()
        defer { condition.unlock() }
        let epoch = epochs[app, default: 0]
        let head = entries[app]?.first
        if var h = hot[app] {
            dropLocked(app: app, through: h)
            guard var list = entries[app], !list.isEmpty else { return .wait }
            var taken: [EventSyncEntry] = []
            var weight = 0
            for entry in list.prefix(EventSyncQueue.entriesPerStepMax) {
                guard entry.firstSequence <= h + 1 else { break }
                taken.append(entry)
                weight += EventSyncQueue.weight(entry)
                h = max(h, entry.lastSequence)
            }
            if !taken.isEmpty {
                list.removeFirst(taken.count)
                entries[app] = list
                heldEvents -= weight
                condition.broadcast()
                return .apply(taken, epoch: epoch)
            }
            // A gap after the hot state: a committed snapshot covering it lets the standby go on.
            guard mayRestore, let p = persisted[app], p.lastSequence > h, p.lastSequence + 1 >= list[0].firstSequence,
                  failedRevisions[app]?.contains(p.revision) != true else { return .wait }
            restoring.insert(app)
            return .restore(revision: p.revision, lastSequence: p.lastSequence, epoch: epoch)
        }
        if pristine, let head, head.firstSequence == 1 {
            hot[app] = 0  // nothing ran before event 1: the empty state is the active's
            return .wait
        }
        guard mayRestore, let p = persisted[app], p.lastSequence >= restoreAtLeast[app, default: 0],
              head.map({ $0.firstSequence <= p.lastSequence + 1 }) ?? true, failedRevisions[app]?.contains(p.revision) != true else { return .wait }
        restoring.insert(app)
        return .restore(revision: p.revision, lastSequence: p.lastSequence, epoch: epoch)
    }

    /// The standby engine applied everything it took through `sequence` in `epoch`.
    public func applied(app: String, through sequence: Int64, epoch: Int) {
        condition.lock()
        defer { condition.unlock() }
        guard epochs[app, default: 0] == epoch, let h = hot[app] else { return }
        hot[app] = max(h, sequence)
    }

    /// The standby engine restored a revision through `sequence` in `epoch`: its state is hot from there.
    public func restored(app: String, through sequence: Int64, epoch: Int) {
        condition.lock()
        defer { condition.unlock() }
        restoring.remove(app)
        guard epochs[app, default: 0] == epoch else { return }
        hot[app] = sequence
        restoreAtLeast[app] = nil
        diverged[app] = nil
        if let gap = gapFrom[app], sequence + 1 >= gap { gapFrom[app] = nil }
        dropLocked(app: app, through: sequence)
    }

    /// The standby engine could not restore `revision` (not tried again; a newer one will be).
    public func restoreFailed(app: String, revision: String) {
        condition.lock()
        defer { condition.unlock() }
        restoring.remove(app)
        failedRevisions[app, default: []].insert(revision)
        if let p = persisted[app], hot[app] == nil { dropLocked(app: app, through: p.lastSequence) }
    }

    /// `app`'s standby state is no longer the active's after event `sequence`: it waits for a
    /// committed revision at or after `sequence` and restores it, then applies the queued events
    /// after it. `complete`: the state still holds every event through `sequence` (its checksum
    /// differed: a non-deterministic function), so a failover before the repair may take it.
    public func invalidate(app: String, appliedThrough sequence: Int64, complete: Bool) {
        condition.lock()
        defer { condition.unlock() }
        epochs[app, default: 0] += 1
        hot[app] = nil
        restoreAtLeast[app] = sequence
        diverged[app] = complete ? sequence : nil
    }

    /// The sequence through which `app`'s standby runtime holds every event, if it does: its state
    /// is the active's (hot), or differed at a checkpoint only by what non-deterministic functions
    /// computed. A failover takes such a state as it is.
    public func completeThrough(app: String) -> Int64? {
        condition.lock()
        defer { condition.unlock() }
        return hot[app] ?? diverged[app]
    }
}
