import Foundation

/// `regex:` (siddhi-execution-regex): `matches`, `find`, `lookingAt`, `group`.
enum RegexFunction: UInt8, CaseIterable {
    case matches, find, lookingAt, group

    static func check(_ name: String, _ types: [AttributeType?], _ constants: [Value?]) -> ExtensionSignature {
        guard let f = allCases.first(where: { "\($0)".lowercased() == name.lowercased() }) else { return .unknown }
        typealias A = ExtensionArguments
        let pattern = JavaRegex.checkConstant(constants.first ?? nil)
        switch f {
        case .matches, .lookingAt:
            return A.verdict(f.rawValue, .bool, A.arity(types.count, 2...2), A.expect(types, 0, A.text, "a string (the regex)"),
                             A.expect(types, 1, A.text, "a string"), pattern)
        case .find:
            return A.verdict(f.rawValue, .bool, A.arity(types.count, 2...3), A.expect(types, 0, A.text, "a string (the regex)"),
                             A.expect(types, 1, A.text, "a string"), A.expect(types, 2, [.int], "an int (the start index)"), pattern)
        case .group:
            return A.verdict(f.rawValue, .string, A.arity(types.count, 3...3), A.expect(types, 0, A.text, "a string (the regex)"),
                             A.expect(types, 1, A.text, "a string"), A.expect(types, 2, [.int], "an int (the group)"), pattern)
        }
    }
}

/// Java regular expressions, run by Foundation's `NSRegularExpression` (ICU, whose syntax is
/// Java's for everything Siddhi apps commonly use). Patterns are compiled once per program: a
/// constant pattern when the kernel is made, others on first use (kept in a small cache).
final class JavaRegex {
    private var cache: [String: NSRegularExpression] = [:]

    /// An error message when a constant pattern does not compile.
    static func checkConstant(_ value: Value?) -> String? {
        guard case .string(let p)? = value else { return nil }
        return (try? NSRegularExpression(pattern: p)) == nil ? "'\(p)' is not a valid regular expression" : nil
    }

    /// The compiled `pattern`, or nil when it is not a valid regex. `whole` compiles it to match
    /// only up to the end of the input (for `matches`, Java's whole-string match).
    func compiled(_ pattern: String, whole: Bool = false) -> NSRegularExpression? {
        let key = whole ? "\u{0}" + pattern : pattern
        if let r = cache[key] { return r }
        guard let r = try? NSRegularExpression(pattern: whole ? "(?:" + pattern + ")\\z" : pattern) else { return nil }
        if cache.count > 256 { cache.removeAll() }
        cache[key] = r
        return r
    }

    /// Java `Matcher.matches()` with a pattern compiled `whole`.
    static func matches(_ whole: NSRegularExpression, _ s: String) -> Bool {
        whole.firstMatch(in: s, options: [.anchored, .withoutAnchoringBounds], range: NSRange(location: 0, length: (s as NSString).length)) != nil
    }

    /// Java `Matcher.lookingAt()`: a prefix.
    static func lookingAt(_ r: NSRegularExpression, _ s: String) -> Bool {
        r.firstMatch(in: s, options: [.anchored, .withoutAnchoringBounds], range: NSRange(location: 0, length: (s as NSString).length)) != nil
    }

    /// The first match at or after UTF-16 offset `from`.
    static func firstMatch(_ r: NSRegularExpression, _ s: String, from: Int = 0) -> NSTextCheckingResult? {
        let length = (s as NSString).length
        guard from >= 0, from <= length else { return nil }
        return r.firstMatch(in: s, options: [.withoutAnchoringBounds], range: NSRange(location: from, length: length - from))
    }

    /// Text of group `g` of `match` (nil when the group did not take part).
    static func group(_ match: NSTextCheckingResult, _ g: Int, in s: String) -> String? {
        guard g <= match.numberOfRanges - 1 else { return nil }
        let range = match.range(at: g)
        guard range.location != NSNotFound else { return nil }
        return (s as NSString).substring(with: range)
    }

    /// Java `String.split(regex)`: pieces between matches; trailing empty pieces dropped, a
    /// zero-width match at the start makes no leading empty piece.
    static func split(_ r: NSRegularExpression, _ s: String) -> [String] {
        let ns = s as NSString
        var pieces: [String] = []
        var start = 0
        for m in r.matches(in: s, range: NSRange(location: 0, length: ns.length)) {
            if m.range.length == 0 && m.range.location == 0 { continue }
            if m.range.length == 0 && m.range.location >= ns.length { continue }
            pieces.append(ns.substring(with: NSRange(location: start, length: m.range.location - start)))
            start = m.range.location + m.range.length
        }
        if pieces.isEmpty { return [s] }
        pieces.append(ns.substring(from: start))
        while let last = pieces.last, last.isEmpty { pieces.removeLast() }
        return pieces
    }

    /// Java `replaceAll` / `replaceFirst` (`$n` refers to group n, `\` escapes).
    static func replace(_ r: NSRegularExpression, _ s: String, with template: String, all: Bool) -> String {
        let ns = s as NSString
        let range: NSRange
        if all {
            range = NSRange(location: 0, length: ns.length)
        } else {
            guard let m = firstMatch(r, s) else { return s }
            let replaced = r.replacementString(for: m, in: s, offset: 0, template: template)
            return ns.replacingCharacters(in: m.range, with: replaced)
        }
        return r.stringByReplacingMatches(in: s, range: range, withTemplate: template)
    }
}

/// Kernel of the `regex:` functions.
final class RegexKernel: FunctionKernel {
    private let function: RegexFunction
    private let regex: JavaRegex
    private let constant: NSRegularExpression?

    init(_ call: ExtensionCall) {
        let f = RegexFunction(rawValue: call.function)!
        let regex = JavaRegex()
        function = f
        self.regex = regex
        constant = call.constantText(0).flatMap { regex.compiled($0, whole: f == .matches) }
    }

    func run(_ args: FunctionInput, _ result: inout FunctionOutput) {
        for i in 0..<args.count {
            // A null string or regex: false (Siddhi returns false or throws; a null bool is false).
            guard !args.anyNull(i), let r = constant ?? regex.compiled(args.string(0, i), whole: function == .matches) else {
                if function == .group { result.setNull(i) } else { result.setBool(i, false) }
                continue
            }
            let s = args.string(1, i)
            switch function {
            case .matches: result.setBool(i, JavaRegex.matches(r, s))
            case .lookingAt: result.setBool(i, JavaRegex.lookingAt(r, s))
            case .find:
                let from = args.arguments.count == 3 ? Int(args.integer(2, i)) : 0
                result.setBool(i, JavaRegex.firstMatch(r, s, from: from) != nil)
            case .group:
                if let m = JavaRegex.firstMatch(r, s), let g = JavaRegex.group(m, Int(args.integer(2, i)), in: s) {
                    result.setText(i, string: g)
                } else {
                    result.setNull(i)
                }
            }
        }
    }
}
