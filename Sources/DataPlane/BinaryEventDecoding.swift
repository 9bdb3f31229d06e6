import Engine

/// The wire layout of one stream's events (siddhi-map-binary), computed once per channel.
struct BinaryEventLayout {
    let types: [AttributeType]
    /// The fewest bytes an event can take: timestamp, fixed-width values, string length prefixes.
    let minEventBytes: Int

    init(_ schema: StreamSchema) {
        types = schema.attributes.map(\.type)
        minEventBytes = 8 + types.reduce(0) { sum, type in
            switch type {
            case .int, .float, .string, .object: sum + 4
            case .long, .double: sum + 8
            case .bool: sum + 1
            }
        }
    }

    /// Walks `eventCount` events without storing them and requires them to fill `reader` exactly;
    /// throws what decoding would. Used before a frame that must be split across batches.
    func validate(_ reader: BigEndianReader, eventCount: Int, maxStringBytes: Int) throws(FrameDecodeError) {
        var reader = reader
        for e in 0..<eventCount {
            guard reader.skip(8) else { throw .truncatedEvent(eventIndex: e, eventCount: eventCount) }
            for type in types {
                let ok: Bool
                switch type {
                case .int, .float: ok = reader.skip(4)
                case .long, .double: ok = reader.skip(8)
                case .bool: ok = reader.skip(1)
                case .string, .object:
                    guard let n = reader.int32() else { throw .truncatedEvent(eventIndex: e, eventCount: eventCount) }
                    let length = Int(n)
                    guard length >= 0 else { throw .badLength(.string, length) }
                    guard length <= maxStringBytes else { throw .stringTooLong(lengthBytes: length, maxStringBytes: maxStringBytes) }
                    ok = reader.skip(length)
                }
                guard ok else { throw .truncatedEvent(eventIndex: e, eventCount: eventCount) }
            }
        }
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
    }
}
