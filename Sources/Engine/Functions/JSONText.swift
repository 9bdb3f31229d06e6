/// A JSON scanner over UTF-8 bytes: finds values by path and copies them out without building a
/// tree (the `json:` and `map:` kernels read each event's text in place).
enum JSONText {
    /// One step of a definite JSON path: `.name`, `['name']`, `[n]` (negative: from the end).
    enum Step: Sendable, Equatable {
        case key([UInt8])
        case index(Int)
    }

    /// The steps of `$.a.b[0]`, `$['a']`, `$`; nil for paths this scanner does not handle
    /// (wildcards, deep scans, filters, slices).
    static func path(_ text: String) -> [Step]? {
        let b = Array(text.utf8)
        guard b.first == UInt8(ascii: "$") else { return nil }
        var steps: [Step] = []
        var i = 1
        while i < b.count {
            if b[i] == UInt8(ascii: ".") {
                i += 1
                let start = i
                while i < b.count, b[i] != UInt8(ascii: "."), b[i] != UInt8(ascii: "[") { i += 1 }
                guard i > start, b[start] != UInt8(ascii: "*"), b[start] != UInt8(ascii: ".") else { return nil }
                steps.append(.key(Array(b[start..<i])))
            } else if b[i] == UInt8(ascii: "[") {
                i += 1
                guard i < b.count else { return nil }
                if b[i] == UInt8(ascii: "'") || b[i] == UInt8(ascii: "\"") {
                    let quote = b[i]
                    i += 1
                    let start = i
                    while i < b.count, b[i] != quote { i += 1 }
                    guard i + 1 < b.count, b[i + 1] == UInt8(ascii: "]") else { return nil }
                    steps.append(.key(Array(b[start..<i])))
                    i += 2
                } else {
                    let start = i
                    while i < b.count, b[i] != UInt8(ascii: "]") { i += 1 }
                    guard i < b.count, let n = Int(String(decoding: b[start..<i], as: UTF8.self)) else { return nil }
                    steps.append(.index(n))
                    i += 1
                }
            } else {
                return nil
            }
        }
        return steps
    }

    @inline(__always)
    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    @inline(__always)
    static func skipSpace(_ t: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        while i < t.count, isSpace(t[i]) { i += 1 }
    }

    /// End of the value starting at `i` (after leading space); nil when the text is not JSON.
    static func valueEnd(_ t: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        var i = start
        guard i < t.count else { return nil }
        switch t[i] {
        case UInt8(ascii: "\""):
            i += 1
            while i < t.count {
                if t[i] == UInt8(ascii: "\\") { i += 2; continue }
                if t[i] == UInt8(ascii: "\"") { return i + 1 }
                i += 1
            }
            return nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = t[i] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = close == UInt8(ascii: "}")
            i += 1
            skipSpace(t, &i)
            if i < t.count, t[i] == close { return i + 1 }
            while true {
                if isObject {
                    guard i < t.count, t[i] == UInt8(ascii: "\""), let k = valueEnd(t, i) else { return nil }
                    i = k
                    skipSpace(t, &i)
                    guard i < t.count, t[i] == UInt8(ascii: ":") else { return nil }
                    i += 1
                    skipSpace(t, &i)
                }
                guard let e = valueEnd(t, i) else { return nil }
                i = e
                skipSpace(t, &i)
                guard i < t.count else { return nil }
                if t[i] == close { return i + 1 }
                guard t[i] == UInt8(ascii: ",") else { return nil }
                i += 1
                skipSpace(t, &i)
            }
        default:
            let s = i
            while i < t.count, !isSpace(t[i]), t[i] != UInt8(ascii: ","), t[i] != UInt8(ascii: "}"), t[i] != UInt8(ascii: "]"),
                  t[i] != UInt8(ascii: ":") { i += 1 }
            guard i > s else { return nil }
            let first = t[s]
            if first == UInt8(ascii: "t") { return i - s == 4 ? i : nil }
            if first == UInt8(ascii: "f") { return i - s == 5 ? i : nil }
            if first == UInt8(ascii: "n") { return i - s == 4 ? i : nil }
            guard first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39) else { return nil }
            return i
        }
    }

    /// The whole text as one JSON value (surrounding space allowed); nil when it is not JSON.
    static func root(_ t: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var i = 0
        skipSpace(t, &i)
        guard let e = valueEnd(t, i) else { return nil }
        var j = e
        skipSpace(t, &j)
        return j == t.count ? i..<e : nil
    }

    /// Members of the object at `r`: key (inside the quotes) and value ranges.
    static func members(_ t: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ body: (Range<Int>, Range<Int>) -> Bool) {
        guard t[r.lowerBound] == UInt8(ascii: "{") else { return }
        var i = r.lowerBound + 1
        skipSpace(t, &i)
        while i < r.upperBound - 1, t[i] == UInt8(ascii: "\"") {
            guard let k = valueEnd(t, i) else { return }
            let key = i + 1..<k - 1
            i = k
            skipSpace(t, &i)
            i += 1  // ':'
            skipSpace(t, &i)
            guard let e = valueEnd(t, i) else { return }
            if !body(key, i..<e) { return }
            i = e
            skipSpace(t, &i)
            if i < t.count, t[i] == UInt8(ascii: ",") { i += 1 }
            skipSpace(t, &i)
        }
    }

    /// Elements of the array at `r`.
    static func elements(_ t: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ body: (Range<Int>) -> Bool) {
        guard t[r.lowerBound] == UInt8(ascii: "[") else { return }
        var i = r.lowerBound + 1
        skipSpace(t, &i)
        while i < r.upperBound - 1 {
            guard let e = valueEnd(t, i) else { return }
            if !body(i..<e) { return }
            i = e
            skipSpace(t, &i)
            if i < t.count, t[i] == UInt8(ascii: ",") { i += 1 }
            skipSpace(t, &i)
        }
    }

    /// Whether the JSON string key at `k` (inside quotes) spells `name`.
    static func keyEquals(_ t: UnsafeBufferPointer<UInt8>, _ k: Range<Int>, _ name: UnsafeBufferPointer<UInt8>) -> Bool {
        if !t[k].contains(UInt8(ascii: "\\")) {
            return k.count == name.count && zip(t[k], name).allSatisfy { $0 == $1 }
        }
        var unescaped: [UInt8] = []
        unescape(t, k, into: &unescaped)
        return unescaped.count == name.count && zip(unescaped, name).allSatisfy { $0 == $1 }
    }

    /// The value at `steps` in document `t`; nil when the text is not JSON or the path is missing.
    static func locate(_ t: UnsafeBufferPointer<UInt8>, _ steps: [Step]) -> Range<Int>? {
        guard var r = root(t) else { return nil }
        for step in steps {
            var found: Range<Int>? = nil
            switch step {
            case .key(let name):
                name.withUnsafeBufferPointer { n in
                    members(t, r) { k, v in
                        if keyEquals(t, k, n) { found = v }  // the last duplicate wins, as in json-smart
                        return true
                    }
                }
            case .index(let index):
                var all: [Range<Int>] = []
                elements(t, r) { all.append($0); return true }
                let k = index < 0 ? all.count + index : index
                if k >= 0 && k < all.count { found = all[k] }
            }
            guard let f = found else { return nil }
            r = f
        }
        return r
    }

    /// Appends the JSON text at `r` without whitespace outside strings.
    static func appendCompact(_ t: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, into out: inout [UInt8]) {
        var inString = false
        var i = r.lowerBound
        while i < r.upperBound {
            let b = t[i]
            if inString {
                out.append(b)
                if b == UInt8(ascii: "\\") && i + 1 < r.upperBound {
                    out.append(t[i + 1])
                    i += 2
                    continue
                }
                if b == UInt8(ascii: "\"") { inString = false }
            } else if b == UInt8(ascii: "\"") {
                inString = true
                out.append(b)
            } else if !isSpace(b) {
                out.append(b)
            }
            i += 1
        }
    }

    /// Appends the unescaped content of a JSON string (range inside the quotes).
    static func unescape(_ t: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, into out: inout [UInt8]) {
        var i = r.lowerBound
        while i < r.upperBound {
            let b = t[i]
            guard b == UInt8(ascii: "\\"), i + 1 < r.upperBound else {
                out.append(b)
                i += 1
                continue
            }
            let e = t[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                var code: UInt32 = 0
                var k = 0
                while k < 4, i < r.upperBound, let d = StringKernel.hexDigit(t[i]) {
                    code = code << 4 | UInt32(d)
                    i += 1
                    k += 1
                }
                // A surrogate pair spells one scalar.
                if code >= 0xD800 && code < 0xDC00, i + 5 < r.upperBound, t[i] == UInt8(ascii: "\\"), t[i + 1] == UInt8(ascii: "u") {
                    var low: UInt32 = 0
                    var j = i + 2
                    while j < i + 6, let d = StringKernel.hexDigit(t[j]) { low = low << 4 | UInt32(d); j += 1 }
                    if low >= 0xDC00 && low < 0xE000 {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i = j
                    }
                }
                out.append(contentsOf: String(Unicode.Scalar(code).map(Character.init) ?? "\u{FFFD}").utf8)
            default: out.append(e)
            }
        }
    }

    /// Appends argument `a` of event `i` as a JSON value (objects are JSON already).
    static func appendValue(_ args: FunctionInput, _ a: Int, _ i: Int, into out: inout [UInt8]) {
        guard !args.isNull(a, i) else {
            out.append(contentsOf: FunctionInput.nullBytes)
            return
        }
        switch args.arguments[a].type {
        case .string?: SetText.quote(args.text(a, i), into: &out)
        case .float?, .double?:
            let d = args.double(a, i)
            if d.isFinite { args.appendJavaText(a, i, to: &out) } else { out.append(contentsOf: FunctionInput.nullBytes) }
        default: args.appendJavaText(a, i, to: &out)
        }
    }
}
