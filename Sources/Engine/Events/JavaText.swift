/// Java's text forms of numbers, which Siddhi's `convert(x, 'string')` produces and parses
/// (`Double.toString`, `Float.toString`, `Integer.parseInt`, `Double.parseDouble`, ...).
enum JavaText {
    /// `Double.toString`: shortest round-trip digits; plain notation for 1e-3 <= |v| < 1e7
    /// (always with a fraction digit: `5.0`), else `d.dddE±n` (`1.0E10`, `1.0E-4`).
    static func string(_ value: Double) -> String {
        format(isNaN: value.isNaN, isInfinite: value.isInfinite, isZero: value == 0, isNegative: value.sign == .minus,
               magnitude: value.magnitude, shortest: value.magnitude.description)
    }

    /// `Float.toString`: as `string(Double)` with the shortest digits of the Float value.
    static func string(_ value: Float) -> String {
        format(isNaN: value.isNaN, isInfinite: value.isInfinite, isZero: value == 0, isNegative: value.sign == .minus,
               magnitude: Double(value.magnitude), shortest: value.magnitude.description)
    }

    private static func format(isNaN: Bool, isInfinite: Bool, isZero: Bool, isNegative: Bool, magnitude: Double,
                               shortest: String) -> String {
        if isNaN { return "NaN" }
        if isInfinite { return isNegative ? "-Infinity" : "Infinity" }
        if isZero { return isNegative ? "-0.0" : "0.0" }
        // Swift's description has the shortest digits in either `123.45` or `1.2345e-05` form; take the
        // digits and the decimal point position out of it: value = 0.<digits> × 10^point.
        let parts = shortest.split(separator: "e", maxSplits: 1)
        let exponent = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
        let mantissa = parts[0].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let integerPart = mantissa[0]
        var digits = Array(integerPart.utf8) + (mantissa.count == 2 ? Array(mantissa[1].utf8) : [])
        var point = integerPart.utf8.count + exponent
        while digits.first == UInt8(ascii: "0") {
            digits.removeFirst()
            point -= 1
        }
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        if digits.isEmpty { return isNegative ? "-0.0" : "0.0" }

        var out: [UInt8] = isNegative ? [UInt8(ascii: "-")] : []
        if magnitude >= 1e-3 && magnitude < 1e7 {
            if point <= 0 {
                out += Array("0.".utf8) + Array(repeating: UInt8(ascii: "0"), count: -point) + digits
            } else if point >= digits.count {
                out += digits + Array(repeating: UInt8(ascii: "0"), count: point - digits.count) + Array(".0".utf8)
            } else {
                out += digits[..<point] + [UInt8(ascii: ".")] + digits[point...]
            }
        } else {
            out.append(digits[0])
            out.append(UInt8(ascii: "."))
            out += digits.count > 1 ? Array(digits[1...]) : [UInt8(ascii: "0")]
            out += Array("E\(point - 1)".utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `Long.parseLong` (and `Integer.parseInt` with `bits: 32`): optional sign and decimal digits
    /// only; nil when malformed or out of range.
    static func parseInteger(_ bytes: UnsafeBufferPointer<UInt8>, bits: Int) -> Int64? {
        var i = 0
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            i = 1
        }
        guard i < bytes.count else { return nil }
        // Accumulate negatively so that the minimum value parses without overflow.
        var value: Int64 = 0
        while i < bytes.count {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d <= 9 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.subtractingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            value = s
            i += 1
        }
        if !negative {
            guard value != .min else { return nil }
            value = -value
        }
        if bits == 32 && Int32(exactly: value) == nil { return nil }
        return value
    }

    /// `Double.parseDouble` / `Float.parseFloat`: surrounding whitespace ignored, optional `f`/`d`
    /// suffix, `NaN` and `Infinity` spelled as Java does; nil when malformed.
    static func parseReal(_ bytes: UnsafeBufferPointer<UInt8>) -> Substring? {
        var lo = 0, hi = bytes.count
        while lo < hi && bytes[lo] <= 0x20 { lo += 1 }
        while hi > lo && bytes[hi - 1] <= 0x20 { hi -= 1 }
        guard lo < hi else { return nil }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[lo..<hi]), as: UTF8.self)
        var body = Substring(text)
        if let c = body.first, c == "+" || c == "-" { body = body.dropFirst() }
        if body == "NaN" || body == "Infinity" { return Substring(text) }
        if let last = body.last, "fFdD".contains(last) { body = body.dropLast() }
        // Only plain decimal notation (Swift would also take "inf", "nan" and hex, Java's spellings differ).
        guard !body.isEmpty, body.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "e" || $0 == "E" || $0 == "+" || $0 == "-") }),
              body.contains(where: \.isNumber) else { return nil }
        let sign = text.first == "-" ? "-" : ""
        return Substring(sign + body)
    }
}
