import Engine

/// Writes events in Siddhi's default JSON format (what siddhi-map-json's sink mapper writes and its
/// source mapper reads): one event as `{"event":{"symbol":"IBM","price":75.6}}`, several as an array
/// of those. Attributes in definition order; `int`/`long` as integers, `float`/`double` as numbers
/// (NaN and infinities, which JSON cannot hold, as null), nulls as `null`.
public enum JSONEventWriter {
    /// Appends the events of `batches` (as one JSON value) to `out`.
    public static func append(_ batches: [EventBatch], to out: inout [UInt8]) {
        let total = batches.reduce(0) { $0 + $1.count }
        if total != 1 { out.append(UInt8(ascii: "[")) }
        var first = true
        for batch in batches {
            let names = batch.schema.attributes.map { name -> [UInt8] in
                var quoted: [UInt8] = []
                appendString(name.name, to: &quoted)
                quoted.append(UInt8(ascii: ":"))
                return quoted
            }
            for row in 0..<batch.count {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                appendEvent(batch, row: row, names: names, to: &out)
            }
        }
        if total != 1 { out.append(UInt8(ascii: "]")) }
    }

    /// The JSON of `batches` (tests, cold paths).
    public static func json(_ batches: [EventBatch]) -> String {
        var out: [UInt8] = []
        append(batches, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendEvent(_ batch: EventBatch, row: Int, names: [[UInt8]], to out: inout [UInt8]) {
        out.append(contentsOf: #"{"event":{"#.utf8)
        for (c, attribute) in batch.schema.attributes.enumerated() {
            if c > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: names[c])
            if batch.isNull(c, row) {
                out.append(contentsOf: "null".utf8)
                continue
            }
            switch attribute.type {
            case .int, .long: out.append(contentsOf: String(batch.int64(c, row)).utf8)
            case .float:
                let v = Float(batch.double(c, row))
                out.append(contentsOf: (v.isFinite ? v.description : "null").utf8)
            case .double:
                let v = batch.double(c, row)
                out.append(contentsOf: (v.isFinite ? v.description : "null").utf8)
            case .bool: out.append(contentsOf: (batch.bool(c, row) ? "true" : "false").utf8)
            case .string: batch.withStringBytes(c, row) { appendString($0, to: &out) }
            case .object: batch.withStringBytes(c, row) { out.append(contentsOf: $0) }  // JSON text already
            }
        }
        out.append(contentsOf: "}}".utf8)
    }

    static func appendString(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }

    /// A JSON string literal of UTF-8 `bytes`: quotes, backslashes and control characters escaped.
    static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
