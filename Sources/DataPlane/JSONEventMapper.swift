import Engine
import Glibc

/// Maps JSON bodies in Siddhi's default JSON format (siddhi-map-json, default mapping) onto the
/// events of one stream:
///
///     {"event":{"symbol":"IBM","price":75.6,"volume":100}}
///     [{"event":{"symbol":"IBM","price":75.6,"volume":100}}, {"event":{…}}]
///
/// As in Siddhi, the `"event"` wrapper is optional (`{"symbol":"IBM",…}` is one event too),
/// attributes are matched by name in any order, an attribute the stream does not have rejects the
/// message, and a missing attribute rejects it unless `failOnMissingAttribute` is false (then it is
/// null). `null` is accepted for every type.
///
/// Types are checked: `int`/`long` take integer numbers in range, `float`/`double` any number (Siddhi
/// refuses `100` for a double; Tandem takes it), `bool` takes `true`/`false`, `string` takes strings
/// (Siddhi also turns numbers and booleans into text; Tandem rejects them, so a wrong field is found).
///
/// Unlike Siddhi, which logs and drops a bad message (or a bad element of an array), a body is all
/// or nothing: the first problem rejects it with a `JSONMapError` naming the event index, the
/// attribute and the byte offset. A hand-written scanner (this is the HTTP source's hot path):
/// values go straight into the batch's columns, with no intermediate JSON tree.
public struct JSONEventMapper: Sendable {
    public let schema: StreamSchema
    public let failOnMissingAttribute: Bool
    /// Events one body may hold (one engine batch).
    public static let eventsMax = EventBatch.capacityMax
    /// Longer number tokens are rejected (no valid int, long or double needs more).
    static let numberBytesMax = 400

    private let names: [[UInt8]]
    private let types: [AttributeType]

    public init(schema: StreamSchema, failOnMissingAttribute: Bool = true) {
        self.schema = schema
        self.failOnMissingAttribute = failOnMissingAttribute
        names = schema.attributes.map { Array($0.name.utf8) }
        types = schema.attributes.map(\.type)
    }

    /// Appends the events of `body` to `batch` (of this mapper's schema), each with `timestamp`;
    /// returns how many. On error the batch holds a partial result and must be discarded.
    public func map(_ body: UnsafeRawBufferPointer, timestamp: Int64, into batch: inout EventBatch) throws(JSONMapError) -> Int {
        precondition(batch.schema.attributes == schema.attributes, "batch of another schema")
        var scanner = Scanner(body: body, mapper: self)
        return try scanner.run(timestamp: timestamp, batch: &batch)
    }

    /// `map` over an array of bytes (tests, cold paths).
    public func map(_ bytes: [UInt8], timestamp: Int64, into batch: inout EventBatch) throws(JSONMapError) -> Int {
        var result: Result<Int, JSONMapError> = .success(0)
        bytes.withUnsafeBytes { body in
            do throws(JSONMapError) {
                result = .success(try map(body, timestamp: timestamp, into: &batch))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    // MARK: Scanner

    private enum ScannedString {
        /// The string's bytes are `body[range]` as they are (no escapes).
        case raw(Range<Int>)
        /// The string had escapes: its bytes are in `scratch`.
        case unescaped
    }

    private struct Scanner {
        let body: UnsafeRawBufferPointer
        let mapper: JSONEventMapper
        var at = 0
        var eventIndex: Int?
        var seen: [Bool]
        var scratch: [UInt8] = []
        var attributesRead = 0

        init(body: UnsafeRawBufferPointer, mapper: JSONEventMapper) {
            self.body = body
            self.mapper = mapper
            seen = Array(repeating: false, count: mapper.types.count)
        }

        func fail(_ message: String, attribute: String? = nil) -> JSONMapError {
            JSONMapError(eventIndex: eventIndex, attribute: attribute, message: message, byteOffset: at)
        }

        @inline(__always)
        mutating func skipSpace() {
            while at < body.count {
                let c = body[at]
                guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
                at += 1
            }
        }

        @inline(__always)
        func peek() -> UInt8? { at < body.count ? body[at] : nil }

        /// What the value starting at `at` is, for messages.
        func kindHere() -> String {
            guard let c = peek() else { return "the end of the body" }
            switch c {
            case UInt8(ascii: "\""): return "a string"
            case UInt8(ascii: "{"): return "an object"
            case UInt8(ascii: "["): return "an array"
            case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
            case UInt8(ascii: "n"): return "null"
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return "a number"
            default: return "invalid JSON ('\(Character(Unicode.Scalar(c)))')"
            }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(JSONMapError) {
            guard peek() == byte else { throw fail("expected \(what), got \(kindHere())") }
            at += 1
        }

        mutating func run(timestamp: Int64, batch: inout EventBatch) throws(JSONMapError) -> Int {
            if body.count >= 3 && body[0] == 0xEF && body[1] == 0xBB && body[2] == 0xBF { at = 3 }  // UTF-8 byte order mark
            skipSpace()
            var events = 0
            switch peek() {
            case UInt8(ascii: "[")?:
                at += 1
                skipSpace()
                if peek() == UInt8(ascii: "]") {
                    at += 1
                    break
                }
                while true {
                    guard events < JSONEventMapper.eventsMax else {
                        throw fail("more than \(JSONEventMapper.eventsMax) events in one body")
                    }
                    eventIndex = events
                    try event(timestamp: timestamp, batch: &batch)
                    events += 1
                    skipSpace()
                    if peek() == UInt8(ascii: ",") {
                        at += 1
                        skipSpace()
                        continue
                    }
                    eventIndex = nil
                    try expect(UInt8(ascii: "]"), "',' or ']' after an event")
                    break
                }
            case UInt8(ascii: "{")?:
                try event(timestamp: timestamp, batch: &batch)
                events = 1
            case nil:
                throw fail("empty body: expected {\"event\":{…}} or an array of them")
            default:
                throw fail("expected {\"event\":{…}} or an array of them, got \(kindHere())")
            }
            eventIndex = nil
            skipSpace()
            guard at == body.count else { throw fail("unexpected \(kindHere()) after the JSON value") }
            return events
        }

        /// One element: `{"event":{…}}` or the attributes object itself.
        mutating func event(timestamp: Int64, batch: inout EventBatch) throws(JSONMapError) {
            guard peek() == UInt8(ascii: "{") else {
                throw fail("expected an object {\"event\":{…}}, got \(kindHere())")
            }
            at += 1
            skipSpace()
            if peek() == UInt8(ascii: "}") {
                at += 1
                try attributes(firstKey: nil, closed: true, timestamp: timestamp, batch: &batch)
                return
            }
            let key = try readKey()
            skipSpace()
            try expect(UInt8(ascii: ":"), "':' after a key")
            skipSpace()
            if isEventKey(key), peek() == UInt8(ascii: "{") || !mapper.names.contains(where: { keyEquals(key, $0) }) {
                guard peek() == UInt8(ascii: "{") else {
                    throw fail("expected an object of attributes after \"event\", got \(kindHere())")
                }
                at += 1
                try attributes(firstKey: nil, closed: false, timestamp: timestamp, batch: &batch)
                skipSpace()
                guard peek() == UInt8(ascii: "}") else {
                    if peek() == UInt8(ascii: ",") { throw fail("unexpected member next to \"event\" (its attributes go inside it)") }
                    throw fail("expected '}' after the event, got \(kindHere())")
                }
                at += 1
            } else {
                // Siddhi's default mapping also takes the attributes without the "event" wrapper.
                try attributes(firstKey: key, closed: false, timestamp: timestamp, batch: &batch)
            }
        }

        /// The members of an attributes object (its `{` consumed), up to and including its `}`.
        /// `firstKey`: its first key and `:` were read already. `closed`: the `}` was read already.
        mutating func attributes(firstKey: ScannedString?, closed: Bool, timestamp: Int64, batch: inout EventBatch) throws(JSONMapError) {
            let row = batch.appendRow(timestamp: timestamp)
            for i in seen.indices { seen[i] = false }
            attributesRead = 0
            if !closed {
                var key: ScannedString
                if let firstKey {
                    key = firstKey
                } else {
                    skipSpace()
                    if peek() == UInt8(ascii: "}") {
                        at += 1
                        try finish(row: row, batch: &batch)
                        return
                    }
                    key = try readKey()
                    skipSpace()
                    try expect(UInt8(ascii: ":"), "':' after a key")
                    skipSpace()
                }
                while true {
                    let column = try lookup(key)
                    try value(column: column, row: row, batch: &batch)
                    skipSpace()
                    guard peek() == UInt8(ascii: ",") || peek() == UInt8(ascii: "}") else {
                        throw fail("expected ',' or '}' after the value, got \(kindHere())", attribute: name(column))
                    }
                    if peek() == UInt8(ascii: ",") {
                        at += 1
                        skipSpace()
                        key = try readKey()
                        skipSpace()
                        try expect(UInt8(ascii: ":"), "':' after a key")
                        skipSpace()
                        continue
                    }
                    try expect(UInt8(ascii: "}"), "',' or '}' after an attribute")
                    break
                }
            }
            try finish(row: row, batch: &batch)
        }

        /// Missing attributes: rejected, or null.
        mutating func finish(row: Int, batch: inout EventBatch) throws(JSONMapError) {
            guard attributesRead < seen.count else { return }
            for (c, given) in seen.enumerated() where !given {
                if mapper.failOnMissingAttribute {
                    throw fail("missing (the stream \(mapper.schema.name) has \(mapper.schema.attributes.map(\.name).joined(separator: ", ")))",
                               attribute: mapper.schema.attributes[c].name)
                }
                batch.setNull(c, row)
            }
        }

        /// The column named `key` (not given before in this event).
        mutating func lookup(_ key: ScannedString) throws(JSONMapError) -> Int {
            let names = mapper.names
            // Publishers usually send attributes in definition order: try the next one first.
            var column = -1
            if attributesRead < names.count && keyEquals(key, names[attributesRead]) {
                column = attributesRead
            } else if let found = names.firstIndex(where: { keyEquals(key, $0) }) {
                column = found
            }
            guard column >= 0 else {
                throw fail("the stream \(mapper.schema.name) has no attribute '\(keyText(key))' (it has \(mapper.schema.attributes.map(\.name).joined(separator: ", ")))")
            }
            guard !seen[column] else { throw fail("given twice", attribute: name(column)) }
            seen[column] = true
            attributesRead += 1
            return column
        }

        func keyEquals(_ key: ScannedString, _ name: [UInt8]) -> Bool {
            switch key {
            case .raw(let range):
                guard range.count == name.count else { return false }
                guard range.count > 0 else { return true }
                return name.withUnsafeBytes { memcmp($0.baseAddress!, body.baseAddress! + range.lowerBound, range.count) == 0 }
            case .unescaped:
                return scratch == name
            }
        }

        func keyText(_ key: ScannedString) -> String {
            switch key {
            case .raw(let range): text(range)
            case .unescaped: String(decoding: scratch, as: UTF8.self)
            }
        }

        /// Whether a key is Siddhi's event identifier (`event`, any case).
        func isEventKey(_ key: ScannedString) -> Bool {
            let bytes: [UInt8]
            switch key {
            case .raw(let range):
                guard range.count == 5 else { return false }
                bytes = Array(UnsafeRawBufferPointer(rebasing: body[range]))
            case .unescaped: bytes = scratch
            }
            return bytes.count == 5 && zip(bytes, "event".utf8).allSatisfy { $0 | 0x20 == $1 }
        }

        mutating func readKey() throws(JSONMapError) -> ScannedString {
            guard peek() == UInt8(ascii: "\"") else { throw fail("expected an attribute name in quotes, got \(kindHere())") }
            return try readString()
        }

        /// One attribute value into `batch[column, row]`.
        mutating func value(column: Int, row: Int, batch: inout EventBatch) throws(JSONMapError) {
            let type = mapper.types[column]
            guard let c = peek() else { throw fail("unexpected end of the body", attribute: name(column)) }
            if c == UInt8(ascii: "n") {
                try literal("null", column)
                batch.setNull(column, row)
                return
            }
            switch type {
            case .int, .long:
                guard c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) else { throw wrongKind(column) }
                let start = at
                let isInteger = try number(column)
                guard isInteger else { throw fail("expects an integer (\(type)), got \(text(start..<at))", attribute: name(column)) }
                guard let v = integer(start..<at), type == .long || Int32(exactly: v) != nil else {
                    throw fail("\(text(start..<at)) is out of range for \(type)", attribute: name(column))
                }
                batch.setInt64(column, row, v)
            case .float, .double:
                guard c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) else { throw wrongKind(column) }
                let start = at
                _ = try number(column)
                var d = double(start..<at)
                if type == .float { d = Double(Float(d)) }
                guard d.isFinite else { throw fail("\(text(start..<at)) is out of range for \(type)", attribute: name(column)) }
                batch.setDouble(column, row, d)
            case .bool:
                if c == UInt8(ascii: "t") {
                    try literal("true", column)
                    batch.setBool(column, row, true)
                } else if c == UInt8(ascii: "f") {
                    try literal("false", column)
                    batch.setBool(column, row, false)
                } else {
                    throw wrongKind(column)
                }
            case .string:
                guard c == UInt8(ascii: "\"") else { throw wrongKind(column) }
                switch try readString(column) {
                case .raw(let range): batch.setString(column, row, utf8: UnsafeRawBufferPointer(rebasing: body[range]))
                case .unescaped: scratch.withUnsafeBytes { batch.setString(column, row, utf8: $0) }
                }
            case .object:
                // Any JSON value; the attribute holds its text as sent.
                let start = at
                try skipValue(column, depth: 0)
                batch.setString(column, row, utf8: UnsafeRawBufferPointer(rebasing: body[start..<at]))
            }
        }

        /// Deepest nesting an `object` attribute's JSON may have.
        static let objectDepthMax = 64

        /// Moves past one JSON value (for `object` attributes), checking its syntax.
        mutating func skipValue(_ column: Int, depth: Int) throws(JSONMapError) {
            guard depth < Self.objectDepthMax else { throw fail("nested deeper than \(Self.objectDepthMax)", attribute: name(column)) }
            skipSpace()
            guard let c = peek() else { throw fail("unexpected end of the body", attribute: name(column)) }
            switch c {
            case UInt8(ascii: "\""): _ = try readString(column)
            case UInt8(ascii: "t"): try literal("true", column)
            case UInt8(ascii: "f"): try literal("false", column)
            case UInt8(ascii: "n"): try literal("null", column)
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                let isArray = c == UInt8(ascii: "[")
                let close = isArray ? UInt8(ascii: "]") : UInt8(ascii: "}")
                at += 1
                skipSpace()
                if peek() == close { at += 1; return }
                while true {
                    if !isArray {
                        skipSpace()
                        guard peek() == UInt8(ascii: "\"") else { throw fail("expects a key in the object", attribute: name(column)) }
                        _ = try readString(column)
                        skipSpace()
                        try expect(UInt8(ascii: ":"), "':'")
                    }
                    try skipValue(column, depth: depth + 1)
                    skipSpace()
                    if peek() == UInt8(ascii: ",") { at += 1; continue }
                    try expect(close, isArray ? "']'" : "'}'")
                    return
                }
            default:
                _ = try number(column)
            }
        }

        func name(_ column: Int) -> String { mapper.schema.attributes[column].name }

        func wrongKind(_ column: Int) -> JSONMapError {
            let expected: String
            switch mapper.types[column] {
            case .int: expected = "an int"
            case .long: expected = "a long"
            case .float: expected = "a float"
            case .double: expected = "a double"
            case .bool: expected = "a bool (true or false)"
            case .string: expected = "a string"
            case .object: expected = "a JSON value"
            }
            return fail("expects \(expected), got \(kindHere())", attribute: name(column))
        }

        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: body[range]), as: UTF8.self) }

        mutating func literal(_ word: StaticString, _ column: Int) throws(JSONMapError) {
            let n = word.utf8CodeUnitCount
            let start = word.utf8Start
            guard at + n <= body.count, (0..<n).allSatisfy({ body[at + $0] == start[$0] }) else {
                throw fail("invalid JSON literal", attribute: name(column))
            }
            at += n
        }

        /// Scans a JSON number; returns whether it is an integer (no fraction, no exponent).
        mutating func number(_ column: Int) throws(JSONMapError) -> Bool {
            let start = at
            func digit() -> Bool { at < body.count && body[at] >= UInt8(ascii: "0") && body[at] <= UInt8(ascii: "9") }
            if peek() == UInt8(ascii: "-") { at += 1 }
            guard digit() else { throw fail("invalid number", attribute: name(column)) }
            if body[at] == UInt8(ascii: "0") { at += 1 } else { while digit() { at += 1 } }
            var isInteger = true
            if peek() == UInt8(ascii: ".") {
                at += 1
                guard digit() else { throw fail("invalid number (no digit after '.')", attribute: name(column)) }
                while digit() { at += 1 }
                isInteger = false
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                at += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { at += 1 }
                guard digit() else { throw fail("invalid number (no digit in the exponent)", attribute: name(column)) }
                while digit() { at += 1 }
                isInteger = false
            }
            guard at - start <= JSONEventMapper.numberBytesMax else { throw fail("number too long", attribute: name(column)) }
            return isInteger
        }

        /// The value of a scanned integer token; nil when it overflows Int64.
        func integer(_ range: Range<Int>) -> Int64? {
            var i = range.lowerBound
            let negative = body[i] == UInt8(ascii: "-")
            if negative { i += 1 }
            var v: Int64 = 0
            while i < range.upperBound {
                let d = Int64(body[i] - UInt8(ascii: "0"))
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (s, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
                if o1 || o2 { return nil }
                v = s
                i += 1
            }
            return v
        }

        /// The value of a scanned number token (correctly rounded, by the C library).
        func double(_ range: Range<Int>) -> Double {
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: range.count + 1) { buffer in
                for k in 0..<range.count { buffer[k] = CChar(bitPattern: body[range.lowerBound + k]) }
                buffer[range.count] = 0
                return strtod(buffer.baseAddress!, nil)
            }
        }

        /// Scans a string at `at` (its opening quote); escapes are decoded into `scratch`.
        mutating func readString(_ column: Int? = nil) throws(JSONMapError) -> ScannedString {
            let attribute = column.map(name)
            at += 1
            let start = at
            while at < body.count {
                let c = body[at]
                if c == UInt8(ascii: "\"") {
                    at += 1
                    return .raw(start..<at - 1)
                }
                if c == UInt8(ascii: "\\") { break }
                guard c >= 0x20 else { throw fail("control character in a string (escape it)", attribute: attribute) }
                at += 1
            }
            guard at < body.count else { throw fail("unterminated string", attribute: attribute) }
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[start..<at]))
            while at < body.count {
                let c = body[at]
                if c == UInt8(ascii: "\"") {
                    at += 1
                    return .unescaped
                }
                guard c >= 0x20 else { throw fail("control character in a string (escape it)", attribute: attribute) }
                if c != UInt8(ascii: "\\") {
                    scratch.append(c)
                    at += 1
                    continue
                }
                at += 1
                guard let e = peek() else { break }
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(e)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4(attribute)
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard at + 1 < body.count, body[at] == UInt8(ascii: "\\"), body[at + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate \\u\(String(scalar, radix: 16)) in a string", attribute: attribute)
                        }
                        at += 2
                        let low = try hex4(attribute)
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw fail("unpaired surrogate \\u\(String(scalar, radix: 16)) in a string", attribute: attribute)
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("unpaired surrogate \\u\(String(scalar, radix: 16)) in a string", attribute: attribute)
                    }
                    scratch.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                default:
                    throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))' in a string", attribute: attribute)
                }
            }
            throw fail("unterminated string", attribute: attribute)
        }

        mutating func hex4(_ attribute: String?) throws(JSONMapError) -> UInt32 {
            guard at + 4 <= body.count else { throw fail("truncated \\u escape", attribute: attribute) }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = body[at]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw fail("invalid \\u escape", attribute: attribute)
                }
                v = v << 4 | d
                at += 1
            }
            return v
        }
    }
}
