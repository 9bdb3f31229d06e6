import Foundation

/// `str:` (siddhi-execution-string) functions. Strings are Java strings there: lengths and indexes
/// count UTF-16 code units. Kernels work on the UTF-8 bytes directly when a string is ASCII (the
/// common case: indexes are byte offsets then) and go through Swift strings otherwise.
enum StringFunction: UInt8, CaseIterable {
    case charAt, charFrequency, coalesce, concat, contains, equalsIgnoreCase, fillTemplate, hex, length, locate
    case lower, regexp, `repeat`, replaceAll, replaceFirst, reverse, split, strcmp, substr, trim, unhex, upper

    static func check(_ name: String, _ types: [AttributeType?], _ constants: [Value?]) -> ExtensionSignature {
        guard let f = allCases.first(where: { "\($0)".lowercased() == name.lowercased() }) else {
            if name.lowercased() == "tokenize" {
                return .error("tokenize is a stream function: use it as from S#str:tokenize(s, regex)")
            }
            if name.lowercased() == "groupconcat" {
                return .error("groupConcat (an aggregate) is not supported yet")
            }
            return .unknown
        }
        typealias A = ExtensionArguments
        let n = types.count
        func s(_ i: Int, _ what: String = "a string") -> String? { A.expect(types, i, A.text, what) }
        func int(_ i: Int, _ what: String = "an int") -> String? { A.expect(types, i, [.int], what) }
        let r = f.rawValue
        switch f {
        case .charAt: return A.verdict(r, .string, A.arity(n, 2...2), s(0), int(1, "an int (the index)"))
        case .charFrequency: return A.verdict(r, .long, A.arity(n, 2...2), s(0), s(1))
        case .coalesce:
            if let e = A.arity(n, 1...Int.max) { return .error(e) }
            let known = Set(types.compactMap { $0 })
            guard known.count <= 1 else { return .error("needs arguments of one type, got \(known.map(\.description).sorted().joined(separator: " and "))") }
            guard let t = known.first else { return .error("cannot work out a type from null arguments only") }
            return .ok(function: r, result: t)
        case .concat: return A.verdict(r, .string, A.arity(n, 1...Int.max))
        case .contains, .equalsIgnoreCase: return A.verdict(r, .bool, A.arity(n, 2...2), s(0), s(1))
        case .fillTemplate:
            return A.verdict(r, .string, A.arity(n, 2...Int.max), s(0, "a string (the template)"))
        case .hex, .lower, .upper, .reverse, .trim, .unhex: return A.verdict(r, .string, A.arity(n, 1...1), s(0))
        case .length: return A.verdict(r, .int, A.arity(n, 1...1))
        case .locate:
            return A.verdict(r, .int, A.arity(n, 2...3), s(0), s(1), int(2, "an int (where to start)"))
        case .regexp:
            return A.verdict(r, .bool, A.arity(n, 2...2), s(0), s(1, "a string (the regex)"), JavaRegex.checkConstant(constants.count > 1 ? constants[1] : nil))
        case .repeat: return A.verdict(r, .string, A.arity(n, 2...2), s(0), int(1))
        case .replaceAll, .replaceFirst:
            return A.verdict(r, .string, A.arity(n, 3...3), s(0), s(1, "a string (the regex)"), s(2),
                             JavaRegex.checkConstant(constants.count > 1 ? constants[1] : nil))
        case .split:
            return A.verdict(r, .string, A.arity(n, 3...3), s(0), s(1, "a string (the regex)"), int(2),
                             JavaRegex.checkConstant(constants.count > 1 ? constants[1] : nil))
        case .strcmp: return A.verdict(r, .int, A.arity(n, 2...2), s(0), s(1))
        case .substr:
            if let e = A.arity(n, 2...3) { return .error(e) }
            if types[1] == .string {
                return A.verdict(r, .string, s(0), int(2, "an int (the group)"), JavaRegex.checkConstant(constants[1]))
            }
            return A.verdict(r, .string, s(0), int(1, "an int or a regex string"), int(2, "an int (the length)"))
        }
    }
}

/// Kernel of the `str:` functions.
final class StringKernel: FunctionKernel {
    private let function: StringFunction
    private let types: [AttributeType?]
    private let regex = JavaRegex()
    /// Pieces of a constant `fillTemplate` template (text, index, text, index, …).
    private let template: [String]?

    init(_ call: ExtensionCall) {
        function = StringFunction(rawValue: call.function)!
        types = call.argumentTypes
        template = function == .fillTemplate ? call.constantText(0).map(StringKernel.templatePieces) : nil
    }

    /// Java's `template.split("\\{\\{|}}")`: even pieces are text, odd ones placeholders.
    private static func templatePieces(_ t: String) -> [String] {
        var pieces: [String] = []
        var current: [Character] = []
        let chars = Array(t)
        var k = 0
        while k < chars.count {
            if k + 1 < chars.count, (chars[k] == "{" && chars[k + 1] == "{") || (chars[k] == "}" && chars[k + 1] == "}") {
                pieces.append(String(current))
                current = []
                k += 2
            } else {
                current.append(chars[k])
                k += 1
            }
        }
        pieces.append(String(current))
        while pieces.count > 1, pieces.last?.isEmpty == true { pieces.removeLast() }
        return pieces
    }

    func run(_ args: FunctionInput, _ result: inout FunctionOutput) {
        let n = args.count
        switch function {
        case .concat:
            for i in 0..<n {
                result.setText(i) { out in
                    for a in args.arguments.indices where !args.isNull(a, i) { args.appendJavaText(a, i, to: &out) }
                }
            }
        case .coalesce:
            for i in 0..<n {
                if let a = args.arguments.indices.first(where: { !args.isNull($0, i) }) {
                    result.setBits(i, args.bits(a, i))
                } else {
                    result.setNull(i)
                }
            }
        case .length:
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                if types[0]?.isTextual == true {
                    result.setInt(i, Int64(StringKernel.utf16Count(args.text(0, i))))
                } else {
                    var text: [UInt8] = []
                    args.appendJavaText(0, i, to: &text)
                    result.setInt(i, Int64(text.count))
                }
            }
        case .upper, .lower:
            let upper = function == .upper
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                let t = args.text(0, i)
                if isASCII(t) {
                    result.setText(i) { out in
                        let start = out.count
                        out.append(contentsOf: t)
                        out.withUnsafeMutableBufferPointer { o in
                            for k in start..<o.count {
                                let b = o[k]
                                if upper ? (b >= 0x61 && b <= 0x7A) : (b >= 0x41 && b <= 0x5A) { o[k] = b ^ 0x20 }
                            }
                        }
                    }
                } else {
                    let s = args.string(0, i)
                    result.setText(i, string: upper ? s.uppercased() : s.lowercased())
                }
            }
        case .reverse:
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                let t = args.text(0, i)
                if isASCII(t) {
                    result.setText(i) { out in out.append(contentsOf: t.reversed()) }
                } else {
                    var scalars = String.UnicodeScalarView()
                    scalars.append(contentsOf: args.string(0, i).unicodeScalars.reversed())
                    result.setText(i, string: String(scalars))
                }
            }
        case .trim:
            // Java's trim drops chars <= ' ' at both ends; UTF-8 bytes of other chars are all above.
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                let t = args.text(0, i)
                var lo = 0, hi = t.count
                while lo < hi, t[lo] <= 0x20 { lo += 1 }
                while hi > lo, t[hi - 1] <= 0x20 { hi -= 1 }
                result.setSlice(i, slot: args.bits(0, i), lo..<hi)
            }
        case .contains:
            for i in 0..<n {
                result.setBool(i, !args.anyNull(i) && StringKernel.find(args.text(1, i), in: args.text(0, i), from: 0) != nil)
            }
        case .equalsIgnoreCase:
            for i in 0..<n {
                guard !args.anyNull(i) else { result.setBool(i, false); continue }
                let a = args.text(0, i), b = args.text(1, i)
                if isASCII(a) && isASCII(b) {
                    result.setBool(i, a.count == b.count && zip(a, b).allSatisfy { ($0 | 0x20) == ($1 | 0x20) && StringKernel.sameCaseless($0, $1) })
                } else {
                    let x = Array(args.string(0, i).utf16), y = Array(args.string(1, i).utf16)
                    result.setBool(i, x.count == y.count && zip(x, y).allSatisfy { StringKernel.javaEqualsIgnoringCase($0, $1) })
                }
            }
        case .charAt:
            for i in 0..<n {
                guard !args.anyNull(i) else { result.setNull(i); continue }
                let t = args.text(0, i), k = Int(args.integer(1, i))
                if isASCII(t) {
                    if k >= 0 && k < t.count { result.setSlice(i, slot: args.bits(0, i), k..<k + 1) } else { result.setNull(i) }
                } else {
                    let u = Array(args.string(0, i).utf16)
                    if k >= 0 && k < u.count { result.setText(i, string: String(decoding: [u[k]], as: UTF16.self)) } else { result.setNull(i) }
                }
            }
        case .charFrequency:
            for i in 0..<n {
                guard !args.anyNull(i) else { result.setNull(i); continue }
                let c = Array(args.string(1, i).utf16)
                guard c.count == 1 else { result.setNull(i); continue }
                let t = args.text(0, i)
                if c[0] < 0x80 {
                    let b = UInt8(c[0])
                    result.setInt(i, Int64(t.reduce(0) { $0 + ($1 == b ? 1 : 0) }))
                } else {
                    result.setInt(i, Int64(args.string(0, i).utf16.reduce(0) { $0 + ($1 == c[0] ? 1 : 0) }))
                }
            }
        case .locate:
            for i in 0..<n {
                guard !args.anyNull(i) else { result.setNull(i); continue }
                let needle = args.text(0, i), hay = args.text(1, i)
                let from = args.arguments.count == 3 ? Int(args.integer(2, i)) : 0
                if isASCII(hay) && isASCII(needle) {
                    guard from >= 0 && from <= hay.count else { result.setNull(i); continue }
                    result.setInt(i, Int64(StringKernel.find(needle, in: hay, from: from) ?? -1))
                } else {
                    let h = Array(args.string(1, i).utf16), s = Array(args.string(0, i).utf16)
                    guard from >= 0 && from <= h.count else { result.setNull(i); continue }
                    result.setInt(i, Int64(StringKernel.find(s, in: h, from: from) ?? -1))
                }
            }
        case .strcmp:
            for i in 0..<n {
                guard !args.anyNull(i) else { result.setNull(i); continue }
                let a = args.text(0, i), b = args.text(1, i)
                if isASCII(a) && isASCII(b) {
                    result.setInt(i, Int64(StringKernel.compare(Array(a), Array(b))))
                } else {
                    result.setInt(i, Int64(StringKernel.compare(Array(args.string(0, i).utf16), Array(args.string(1, i).utf16))))
                }
            }
        case .repeat:
            for i in 0..<n {
                guard !args.anyNull(i) else { result.setNull(i); continue }
                let t = args.text(0, i), times = max(0, Int(args.integer(1, i)))
                result.setText(i) { out in for _ in 0..<times { out.append(contentsOf: t) } }
            }
        case .hex:
            let digits = Array("0123456789abcdef".utf8)
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                // Integer.toHexString of each UTF-16 char: no leading zeros.
                let units = Array(args.string(0, i).utf16)
                result.setText(i) { out in
                    for u in units {
                        var started = false
                        for shift in stride(from: 12, through: 0, by: -4) {
                            let d = Int(u >> UInt16(shift)) & 0xF
                            if d != 0 || started || shift == 0 {
                                out.append(digits[d])
                                started = true
                            }
                        }
                    }
                }
            }
        case .unhex:
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                let t = args.text(0, i)
                var scalars = String.UnicodeScalarView()
                var ok = t.count % 2 == 0
                var k = 0
                while ok && k < t.count {
                    if let hi = StringKernel.hexDigit(t[k]), let lo = StringKernel.hexDigit(t[k + 1]) {
                        scalars.append(Unicode.Scalar(UInt8(hi << 4 | lo)))
                    } else {
                        ok = false
                    }
                    k += 2
                }
                if ok { result.setText(i, string: String(scalars)) } else { result.setNull(i) }
            }
        case .substr:
            if types[1] == .string { regexSubstr(args, &result) } else { indexSubstr(args, &result) }
        case .regexp:
            for i in 0..<n {
                guard !args.anyNull(i), let r = regex.compiled(args.string(1, i), whole: true) else { result.setBool(i, false); continue }
                result.setBool(i, JavaRegex.matches(r, args.string(0, i)))
            }
        case .replaceAll, .replaceFirst:
            for i in 0..<n {
                guard !args.anyNull(i), let r = regex.compiled(args.string(1, i)) else { result.setNull(i); continue }
                result.setText(i, string: JavaRegex.replace(r, args.string(0, i), with: args.string(2, i), all: function == .replaceAll))
            }
        case .split:
            for i in 0..<n {
                guard !args.anyNull(i), let r = regex.compiled(args.string(1, i)) else { result.setNull(i); continue }
                let pieces = JavaRegex.split(r, args.string(0, i))
                let k = Int(args.integer(2, i))
                if k >= 0 && k < pieces.count { result.setText(i, string: pieces[k]) } else { result.setNull(i) }
            }
        case .fillTemplate:
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                let pieces = template ?? StringKernel.templatePieces(args.string(0, i))
                result.setText(i) { out in
                    for (k, piece) in pieces.enumerated() {
                        if k % 2 == 1, let a = Int(piece.trimmingCharacters(in: .whitespaces)), a >= 1, a < args.arguments.count,
                           !args.isNull(a, i) {
                            args.appendJavaText(a, i, to: &out)
                        } else {
                            out.append(contentsOf: piece.utf8)
                        }
                    }
                }
            }
        }
    }

    /// `substr(s, begin)` and `substr(s, begin, length)`: Java `substring` (out of range: null).
    private func indexSubstr(_ args: FunctionInput, _ result: inout FunctionOutput) {
        for i in 0..<args.count {
            guard !args.anyNull(i) else { result.setNull(i); continue }
            let t = args.text(0, i)
            let ascii = isASCII(t)
            let units = ascii ? [] : Array(args.string(0, i).utf16)
            let length = ascii ? t.count : units.count
            let begin = Int(args.integer(1, i))
            let end = args.arguments.count == 3 ? begin &+ Int(args.integer(2, i)) : length
            guard begin >= 0, end <= length, begin <= end else { result.setNull(i); continue }
            if ascii {
                result.setSlice(i, slot: args.bits(0, i), begin..<end)
            } else {
                result.setText(i, string: String(decoding: units[begin..<end], as: UTF16.self))
            }
        }
    }

    /// `substr(s, regex)` (the first match or '') and `substr(s, regex, group)`.
    private func regexSubstr(_ args: FunctionInput, _ result: inout FunctionOutput) {
        for i in 0..<args.count {
            guard !args.anyNull(i), let r = regex.compiled(args.string(1, i)) else { result.setNull(i); continue }
            let s = args.string(0, i)
            guard let m = JavaRegex.firstMatch(r, s) else { result.setText(i, bytes: EmptyCollection()); continue }
            let g = args.arguments.count == 3 ? Int(args.integer(2, i)) : 0
            guard g >= 0, g < m.numberOfRanges else { result.setNull(i); continue }
            result.setText(i, string: JavaRegex.group(m, g, in: s) ?? "")
        }
    }

    /// UTF-16 length of UTF-8 text.
    static func utf16Count(_ t: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        for b in t {
            if b & 0xC0 != 0x80 { count += 1 }
            if b >= 0xF0 { count += 1 }
        }
        return count
    }

    /// Index of the first `needle` in `hay` at or after `from`.
    static func find<C: RandomAccessCollection>(_ needle: C, in hay: C, from: Int) -> Int?
    where C.Element: Equatable, C.Index == Int {
        let n = needle.count, h = hay.count
        guard n > 0 else { return from <= h ? from : nil }
        guard h - n >= from else { return nil }
        let first = needle[needle.startIndex]
        var k = from
        while k <= h - n {
            if hay[hay.startIndex + k] == first {
                var j = 1
                while j < n && hay[hay.startIndex + k + j] == needle[needle.startIndex + j] { j += 1 }
                if j == n { return k }
            }
            k += 1
        }
        return nil
    }

    /// Java `compareTo`: the first differing unit's difference, else the length difference.
    static func compare<T: BinaryInteger>(_ a: [T], _ b: [T]) -> Int {
        for (x, y) in zip(a, b) where x != y { return Int(x) - Int(y) }
        return a.count - b.count
    }

    @inline(__always)
    private static func sameCaseless(_ a: UInt8, _ b: UInt8) -> Bool {
        a == b || ((a | 0x20) >= 0x61 && (a | 0x20) <= 0x7A)
    }

    /// Java `equalsIgnoreCase` of two UTF-16 chars.
    private static func javaEqualsIgnoringCase(_ a: UInt16, _ b: UInt16) -> Bool {
        if a == b { return true }
        let x = String(decoding: [a], as: UTF16.self), y = String(decoding: [b], as: UTF16.self)
        return x.uppercased() == y.uppercased() || x.lowercased() == y.lowercased()
    }

    static func hexDigit(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x61...0x66: b - 0x61 + 10
        case 0x41...0x46: b - 0x41 + 10
        default: nil
        }
    }
}
