/// The highest batch sequence number accepted per publisher id (Tandem acknowledged framing), so
/// that a batch a publisher resends after a lost ack is recognised and skipped instead of delivered
/// twice.
///
/// Bounded: at most `publishersMax` publishers are remembered; at the limit the one seen least
/// recently is forgotten (a batch it resends later would then be delivered again — at-least-once).
/// Reactor-thread only (one per listener, shared by its connections' decoders).
final class PublisherSequences {
    static let publishersMaxDefault = 4096

    let publishersMax: Int
    private var highest: [UInt64: (batchSeq: UInt64, seenTick: UInt64)] = [:]
    private var tick: UInt64 = 0
    /// Resent frames skipped because their batch was accepted before.
    var duplicatesSkipped = 0

    init(publishersMax: Int = PublisherSequences.publishersMaxDefault) {
        precondition(publishersMax >= 1)
        self.publishersMax = publishersMax
    }

    /// Whether `batchSeq` of `publisherId` was accepted already (sequence numbers only grow).
    @inline(__always)
    func isDuplicate(publisherId: UInt64, batchSeq: UInt64) -> Bool {
        guard let known = highest[publisherId] else { return false }
        return batchSeq <= known.batchSeq
    }

    /// Records that `batchSeq` of `publisherId` was decoded (and so will reach the engine ring).
    func accepted(publisherId: UInt64, batchSeq: UInt64) {
        tick &+= 1
        if highest[publisherId] == nil && highest.count >= publishersMax {
            // O(publishersMax), only when a new publisher arrives at the limit.
            if let oldest = highest.min(by: { $0.value.seenTick < $1.value.seenTick })?.key { highest[oldest] = nil }
        }
        highest[publisherId] = (max(batchSeq, highest[publisherId]?.batchSeq ?? 0), tick)
    }

    /// Publishers remembered now (tests).
    var count: Int { highest.count }
}
