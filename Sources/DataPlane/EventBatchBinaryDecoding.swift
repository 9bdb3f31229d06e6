import Engine

// Decoding of siddhi-map-binary events straight into an EventBatch, for the cold path
// (event-sync replay), apart from the listener's staging columns.
extension EventBatch {
    /// Appends `eventCount` events read from `reader` in siddhi-map-binary layout.
    ///
    /// All or nothing: on error the events (and string bytes) appended by this call are removed again.
    /// Runs in place on the batch (one exclusive access for the whole frame), without allocating per
    /// event. `eventIndexBase` only numbers events in errors.
    @inline(__always)
    mutating func appendBinaryEvents(_ reader: inout BigEndianReader, eventCount: Int, types: UnsafeBufferPointer<AttributeType>,
                                     maxStringBytes: Int, eventIndexBase: Int = 0) throws(FrameDecodeError) {
        precondition(count + eventCount <= EventBatch.capacityMax, "frame chunk overflows the batch")
        let firstStringByte = stringBytes.count
        for appended in 0..<eventCount {
            var failure: FrameDecodeError? = nil
            if let timestamp = reader.int64() {
                let row = appendRow(timestamp: timestamp)
                for c in 0..<types.count {
                    switch types[c] {
                    case .int:
                        if let v = reader.int32() { setInt64(c, row, Int64(v)) } else { failure = .truncatedEvent(eventIndex: 0, eventCount: 0) }
                    case .long:
                        if let v = reader.int64() { setInt64(c, row, v) } else { failure = .truncatedEvent(eventIndex: 0, eventCount: 0) }
                    case .float:
                        if let v = reader.uint32() { setDouble(c, row, Double(Float(bitPattern: v))) } else { failure = .truncatedEvent(eventIndex: 0, eventCount: 0) }
                    case .double:
                        if let v = reader.uint64() { setDouble(c, row, Double(bitPattern: v)) } else { failure = .truncatedEvent(eventIndex: 0, eventCount: 0) }
                    case .bool:
                        // Siddhi reads `byte == 1` as true and anything else as false.
                        if let v = reader.uint8() { setBool(c, row, v == 1) } else { failure = .truncatedEvent(eventIndex: 0, eventCount: 0) }
                    case .string, .object:  // an object travels as its JSON text
                        if let n = reader.int32() {
                            let length = Int(n)
                            if length < 0 {
                                failure = .badLength(.string, length)
                            } else if length > maxStringBytes {
                                failure = .stringTooLong(lengthBytes: length, maxStringBytes: maxStringBytes)
                            } else if let bytes = reader.raw(length) {
                                // Siddhi's binary mapper has no null marker: it reads a zero length as null.
                                if length == 0 { setNull(c, row) } else { setString(c, row, utf8: bytes) }
                            } else {
                                failure = .truncatedEvent(eventIndex: 0, eventCount: 0)
                            }
                        } else {
                            failure = .truncatedEvent(eventIndex: 0, eventCount: 0)
                        }
                    }
                    if failure != nil { break }
                }
                if failure != nil { removeLast(1) }
            } else {
                failure = .truncatedEvent(eventIndex: 0, eventCount: 0)
            }
            if var failure {
                removeLast(appended)
                stringBytes.removeLast(stringBytes.count - firstStringByte)
                if case .truncatedEvent = failure {
                    failure = .truncatedEvent(eventIndex: eventIndexBase + appended, eventCount: eventIndexBase + eventCount)
                }
                throw failure
            }
        }
    }
}
