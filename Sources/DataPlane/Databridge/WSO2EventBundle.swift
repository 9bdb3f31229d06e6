import Engine

/// The events of one publish request, decoded and grouped by stream, before any is handed on: a
/// bundle that fails to decode is dropped whole, so a refused publish took nothing.
struct WSO2EventBundle {
    /// Batches in arrival order per stream; a stream's batch is cut at `batchEventsMax` events.
    private(set) var parts: [(stream: WSO2EventStream, batch: EventBatch)] = []
    private(set) var events = 0
    private var open: [String: Int] = [:]
    let batchEventsMax: Int

    init(batchEventsMax: Int) {
        precondition(batchEventsMax > 0 && batchEventsMax <= EventBatch.capacityMax)
        self.batchEventsMax = batchEventsMax
    }

    /// The part the next event of `stream` goes into (a new one when the last is full).
    mutating func part(for stream: WSO2EventStream) -> Int {
        if let i = open[stream.streamId], parts[i].batch.count < batchEventsMax { return i }
        parts.append((stream, EventBatch(schema: stream.schema)))
        open[stream.streamId] = parts.count - 1
        return parts.count - 1
    }

    /// Appends one event's row to part `part`; the caller sets its values (see `WSO2EventStream`).
    mutating func appendRow(part: Int, timestamp: Int64) -> Int {
        events += 1
        return parts[part].batch.appendRow(timestamp: timestamp)
    }

    /// Sets column `column` of `row` in part `part` from a value decoded off the wire.
    mutating func withBatch<R>(_ part: Int, _ body: (inout EventBatch) -> R) -> R { body(&parts[part].batch) }
}

/// Finds the stream an event names; nil for a stream id no open source takes.
typealias WSO2StreamLookup = (String) -> WSO2EventStream?
