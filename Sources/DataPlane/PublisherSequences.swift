/// The highest batch sequence number accepted per publisher id (Tandem acknowledged framing), so
/// that a batch a publisher resends after a lost ack is recognised and skipped instead of delivered
/// twice.
///
/// Bounded: at most `publishersMax` publishers are remembered; at the limit the one seen least
/// recently is forgotten (a batch it resends later would then be delivered again — at-least-once).
/// Reactor-thread only (one per listener, shared by its connections' decoders).
final class PublisherSequences {
    static let publishersMaxDefault = 4096

    /// One publisher's state; decoders keep the entry of their connection's publisher at hand, so a
    /// frame costs a compare and a store, not a table lookup.
    final class Entry {
        let publisherId: UInt64
        var highestSeq: UInt64 = 0
        var seenTick: UInt64 = 0
        /// The listener connection that last sent a frame (or hello) of this publisher (0: none): a
        /// newer connection takes the id over and the older one is closed (docs/protocol.md).
        var connectionId: UInt32 = 0
        init(publisherId: UInt64) { self.publisherId = publisherId }
    }

    let publishersMax: Int
    private var entries: [UInt64: Entry] = [:]
    private(set) var tick: UInt64 = 0
    /// Resent frames skipped because their batch was accepted before.
    var duplicatesSkipped = 0

    init(publishersMax: Int = PublisherSequences.publishersMaxDefault) {
        precondition(publishersMax >= 1)
        self.publishersMax = publishersMax
    }

    /// The entry of `publisherId`, created (forgetting the least recently seen one at the limit) if new.
    func entry(_ publisherId: UInt64) -> Entry {
        if let known = entries[publisherId] { return known }
        if entries.count >= publishersMax {
            // O(publishersMax), only when a new publisher arrives at the limit.
            if let oldest = entries.min(by: { $0.value.seenTick < $1.value.seenTick })?.key { entries[oldest] = nil }
        }
        let created = Entry(publisherId: publisherId)
        entries[publisherId] = created
        return created
    }

    /// Whether `batchSeq` of the entry's publisher was accepted already (sequence numbers only grow);
    /// if not, records it as accepted (its events will reach the engine ring).
    @inline(__always)
    func acceptIfNew(_ entry: Entry, batchSeq: UInt64) -> Bool {
        tick &+= 1
        entry.seenTick = tick
        guard batchSeq > entry.highestSeq else {
            duplicatesSkipped += 1
            return false
        }
        entry.highestSeq = batchSeq
        return true
    }

    /// Publishers remembered now (tests).
    var count: Int { entries.count }

    /// Set by a decoder just before it hands a batch on: the publisher batch every event of which
    /// has now been handed on (nil: none, or events of it are still staged). Reactor thread only.
    var handed: (publisherId: UInt64, batchSeq: UInt64)?

    /// Marks `batchSeq` of `publisherId` as accepted (a resend of it or of anything earlier is
    /// skipped): the cluster's memory after a failover, applied before the source opens.
    func seed(publisherId: UInt64, batchSeq: UInt64) {
        let e = entry(publisherId)
        e.highestSeq = max(e.highestSeq, batchSeq)
    }
}
