/// Siddhi's sets (`createSet`, the `unionSet` aggregate, `sizeOfSet`) as Tandem carries them: a
/// string holding a JSON array of distinct scalar elements, sorted by their JSON text, so that equal
/// sets are equal strings and a set prints as readable JSON (`["IBM","WSO2"]`).
///
/// Siddhi types sets as `object` (a Java `HashSet`); Tandem has no object type, so they are strings
/// to the type checker (docs/siddhiql.md says what that changes).
enum SetText {
    /// The JSON text of one element of `type` with slot `bits` (strings are passed as `text`).
    static func element(_ type: AttributeType, bits: UInt64, text: UnsafeBufferPointer<UInt8>?, into out: inout [UInt8]) {
        switch type {
        case .string: quote(text!, into: &out)
        case .int, .long: out.append(contentsOf: String(Int64(bitPattern: bits)).utf8)
        case .float: out.append(contentsOf: JavaText.string(Float(Double(bitPattern: bits))).utf8)
        case .double: out.append(contentsOf: JavaText.string(Double(bitPattern: bits)).utf8)
        case .bool: out.append(contentsOf: (bits != 0 ? "true" : "false").utf8)
        case .object: out.append(contentsOf: text!)  // already JSON
        }
    }

    /// A JSON string literal of `bytes`.
    static func quote(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(b)
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default:
                out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The elements' JSON texts of a set's text, in order; nil when the text is not a JSON array of
    /// scalars (a string that did not come from `createSet` or `unionSet`).
    static func elements(_ text: UnsafeBufferPointer<UInt8>) -> [ArraySlice<UInt8>]? {
        var start = 0, end = text.count
        while start < end, isSpace(text[start]) { start += 1 }
        while end > start, isSpace(text[end - 1]) { end -= 1 }
        guard end - start >= 2, text[start] == UInt8(ascii: "["), text[end - 1] == UInt8(ascii: "]") else { return nil }
        var out: [ArraySlice<UInt8>] = []
        var i = start + 1
        let bytes = Array(text)
        while i < end - 1 {
            while i < end - 1, isSpace(bytes[i]) { i += 1 }
            if i == end - 1 { break }
            let begin = i
            if bytes[i] == UInt8(ascii: "\"") {
                i += 1
                while i < end - 1, bytes[i] != UInt8(ascii: "\"") { i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1 }
                guard i < end - 1 else { return nil }
                i += 1
            } else {
                while i < end - 1, bytes[i] != UInt8(ascii: ","), !isSpace(bytes[i]) { i += 1 }
                guard bytes[begin] != UInt8(ascii: "["), bytes[begin] != UInt8(ascii: "{") else { return nil }
            }
            out.append(bytes[begin..<i])
            while i < end - 1, isSpace(bytes[i]) { i += 1 }
            if i < end - 1 {
                guard bytes[i] == UInt8(ascii: ",") else { return nil }
                i += 1
            }
        }
        return out
    }

    /// The text of a set of these element texts (sorted, as every set is written).
    static func text<S: Sequence>(of elements: S) -> [UInt8] where S.Element == [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (k, e) in elements.sorted(by: { $0.lexicographicallyPrecedes($1) }).enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: e)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
}
