import Foundation

/// The passive node's queue of events forwarded by the active node, bounded in events
/// (`eventByteBufferQueueCapacity`), trimmed by the active's control messages and replayed at
/// failover.
///
/// Thread-safe (one lock): the event-sync server thread appends and trims, the control-plane thread
/// reads status and takes the entries at failover.
///
/// Sync tracking, per app: events arrive in sequence order. When the first event of a frame is not
/// the one after the last event received (a new active, or events the active ran while the link was
/// detached), the events before it are missing until a committed snapshot covers them: the app is
/// *out of sync* until a `persisted` message with a sequence at or above that point arrives.
public final class EventSyncQueue: @unchecked Sendable {
    /// Most events held at once (across apps). A frame that does not fit waits (push-back), except
    /// into an empty queue.
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

    /// An empty queue holding at most `capacityEvents` events (`eventByteBufferQueueCapacity`).
    public init(capacityEvents: Int) {
        precondition(capacityEvents >= 1)
        self.capacityEvents = capacityEvents
    }

    /// Adds an entry, waiting up to `timeoutMs` for room. Returns false (nothing added) on timeout
    /// or after `close()`; `force` adds even when full (bounded uses only, e.g. the final drain).
    public func append(_ entry: EventSyncEntry, timeoutMs: Int, force: Bool = false) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        while !force && !closed && heldEvents > 0 && heldEvents + entry.eventCount > capacityEvents {
            if !condition.wait(until: deadline) { return false }
        }
        if closed && !force { return false }
        if let expected = nextExpected[entry.app], expected == entry.firstSequence {
            // contiguous
        } else if gapFrom[entry.app] == nil && persisted[entry.app].map({ $0.lastSequence + 1 >= entry.firstSequence }) != true {
            gapFrom[entry.app] = entry.firstSequence
        }
        nextExpected[entry.app] = entry.lastSequence + 1
        entries[entry.app, default: []].append(entry)
        heldEvents += entry.eventCount
        return true
    }

    /// A snapshot of `app` holding every event up to `lastSequence` is committed: drops exactly those
    /// events (an entry straddling the point stays; replay skips its covered events).
    public func persisted(app: String, revision: String, lastSequence: Int64) {
        condition.lock()
        defer { condition.unlock() }
        if let previous = persisted[app], previous.lastSequence > lastSequence { return }
        persisted[app] = (revision, lastSequence)
        if let gap = gapFrom[app], lastSequence + 1 >= gap { gapFrom[app] = nil }
        if var list = entries[app] {
            let drop = list.prefix { $0.lastSequence <= lastSequence }.count
            if drop > 0 {
                heldEvents -= list[..<drop].reduce(0) { $0 + $1.eventCount }
                list.removeFirst(drop)
                entries[app] = list
                condition.broadcast()
            }
        }
    }

    /// An active connected (its hello carried its lease `term`). The same active re-attaching (same
    /// term) numbers on where it left off, so what is held stays: the active may have acknowledged
    /// those events to publishers because this queue held them, and until its connect checkpoint
    /// commits they are nowhere else. Events it ran while detached are missing, so every app waits
    /// for a covering snapshot (see `append`). A new term is another incarnation with its own
    /// numbering (restored from a snapshot): what is held is dropped.
    public func connectionStarted(term: Int64) {
        condition.lock()
        defer { condition.unlock() }
        if term != activeTerm {
            clearLocked()
            nextExpected.removeAll()
        }
        activeTerm = term
    }

    /// This node became passive: nothing held from an earlier time is valid.
    public func reset() {
        condition.lock()
        defer { condition.unlock() }
        clearLocked()
        activeTerm = nil
        nextExpected.removeAll()
        gapFrom.removeAll()
        persisted.removeAll()
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
        heldEvents += taken.reduce(0) { $0 + $1.eventCount }
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

    /// Whether `app`'s events since its last committed snapshot are all held (nil: nothing heard yet).
    public func inSync(app: String) -> Bool? {
        condition.lock()
        defer { condition.unlock() }
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
        heldEvents -= list.reduce(0) { $0 + $1.eventCount }
        condition.broadcast()
        return list
    }
}
