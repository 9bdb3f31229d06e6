/// Floating-point text as Java's `Double.toString` / `Float.toString` write it, so log lines match
/// Siddhi's: plain decimals for magnitudes in [10⁻³, 10⁷) (`75.6`, `100.0`, `0.001`), computerized
/// scientific notation outside (`1.0E7`, `1.5E-4`), `NaN`, `Infinity`, `-0.0`.
///
/// The digits are the shortest that round-trip (what Swift's `description` produces, and what Java
/// prints since JDK 19); older JDKs occasionally print one more digit.
enum JavaNumberText {
    static func double(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        return format(value.magnitude.description, negative: value.sign == .minus)
    }

    static func float(_ value: Float) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        return format(value.magnitude.description, negative: value.sign == .minus)
    }

    /// Rewrites Swift's shortest text of a finite, non-negative value (`123.45`, `1e-05`,
    /// `1.2345e+16`, `0.0`) in Java's layout.
    private static func format(_ swift: String, negative: Bool) -> String {
        let utf8 = Array(swift.utf8)
        let e = utf8.firstIndex(of: UInt8(ascii: "e")) ?? utf8.count
        var exponent = 0
        if e < utf8.count { exponent = Int(String(decoding: utf8[(e + 1)...], as: UTF8.self)) ?? 0 }
        var digits: [UInt8] = []
        var pointAt: Int? = nil
        for byte in utf8[..<e] {
            if byte == UInt8(ascii: ".") { pointAt = digits.count } else { digits.append(byte) }
        }
        // value = 0.d₁d₂… × 10^(pointAt + exponent); normalise to d₁.d₂… × 10^scientific.
        var scientific = (pointAt ?? digits.count) + exponent - 1
        while let first = digits.first, first == UInt8(ascii: "0") {
            digits.removeFirst()
            scientific -= 1
        }
        while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
        var out = negative ? "-" : ""
        if digits.isEmpty { return out + "0.0" }
        let text = String(decoding: digits, as: UTF8.self)
        if scientific >= -3 && scientific < 7 {
            if scientific >= 0 {
                let whole = scientific + 1
                if digits.count <= whole {
                    out += text + String(repeating: "0", count: whole - digits.count) + ".0"
                } else {
                    out += String(text.prefix(whole)) + "." + String(text.dropFirst(whole))
                }
            } else {
                out += "0." + String(repeating: "0", count: -scientific - 1) + text
            }
        } else {
            out += String(text.prefix(1)) + "." + (digits.count > 1 ? String(text.dropFirst()) : "0") + "E\(scientific)"
        }
        return out
    }
}
