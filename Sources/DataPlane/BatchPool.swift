import Engine

/// Empty batches kept for reuse, so a steady stream of frames does not allocate a batch per hand-off
/// once the engine returns the batches it is done with (through the listener's `returns` ring).
///
/// Owned by one thread (a listener's reactor, the single consumer of `returns`); the decoders of every
/// connection on that listener share it. Reuse is always safe: `EventBatch` has value semantics, so a
/// returned batch whose storage someone still shares is copied on first write, never overwritten.
final class BatchPool {
    /// Spare batches kept per stream; more are freed.
    static let sparesPerSchemaMax = 8
    /// Returned batches taken from the ring per `take`, so one call stays short.
    static let drainPerTakeMax = 16

    private let returns: SPSCRing<EventBatch>?
    private var spares: [ObjectIdentifier: [EventBatch]] = [:]

    init(returns: SPSCRing<EventBatch>?) {
        self.returns = returns
    }

    /// An empty batch of `schema` with room for `capacity` events.
    @inline(__always)
    func take(schema: StreamSchema, capacity: Int) -> EventBatch {
        let key = ObjectIdentifier(schema)
        if let batch = spares[key]?.popLast() { return batch }
        if let returns {
            for _ in 0..<BatchPool.drainPerTakeMax {
                guard var batch = returns.tryPop() else { break }
                batch.removeAll()
                if batch.schema === schema {
                    batch.reserve(capacity)
                    return batch
                }
                give(batch)
            }
        }
        return EventBatch(schema: schema, capacity: capacity)
    }

    /// Keeps an emptied batch for a later `take` (dropped beyond the per-stream limit).
    func give(_ batch: EventBatch) {
        let key = ObjectIdentifier(batch.schema)
        guard spares[key, default: []].count < BatchPool.sparesPerSchemaMax else { return }
        var batch = batch
        batch.removeAll()
        spares[key, default: []].append(batch)
    }

    /// Spare batches held now (tests).
    var spareCount: Int { spares.values.reduce(0) { $0 + $1.count } }
}
