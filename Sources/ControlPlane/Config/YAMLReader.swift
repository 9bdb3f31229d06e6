import Yams

/// Reads typed values out of a Yams node tree, each under its dotted key path
/// (`wso2.datasources.dataSources[0].name`), substituting `${env:…}` placeholders in every scalar
/// it reads. Nothing throws: a wrong value is recorded in ``problems`` (and read as nil) so that one
/// pass reports everything wrong with a file; the caller reads sections in file order, so the
/// problems come out in file order too.
struct YAMLReader {
    /// One entry of a mapping: the key as text, its value, and its key path.
    typealias Entry = (key: String, value: Node, path: String)
    /// One item of a list and its key path (`…dataSources[2]`).
    typealias Item = (value: Node, path: String)

    let environment: [String: String]
    /// Errors found so far, in the order they were found.
    var problems: [ConfigError.Problem] = []
    /// Warnings found so far (`path: message`), in the order they were found.
    var warnings: [String] = []

    init(environment: [String: String]) {
        self.environment = environment
    }

    // MARK: Paths

    /// `parent.key`, or `key` at the top level.
    static func join(_ parent: String, _ key: String) -> String {
        parent.isEmpty ? key : "\(parent).\(key)"
    }

    // MARK: Reporting

    /// Records an error at `path`.
    mutating func problem(_ path: String, _ message: String) {
        problems.append(ConfigError.Problem(path: path, message: message))
    }

    /// Records the warning `path: message`.
    mutating func warn(_ path: String, _ message: String) {
        warnings.append("\(path): \(message)")
    }

    /// A key Tandem does not know in a section it reads.
    mutating func unknownKey(_ path: String) {
        warn(path, "unknown key; ignored")
    }

    /// An SI key that means nothing to Tandem; `why` says so in a few words.
    mutating func unusedKey(_ path: String, _ why: String? = nil) {
        warn(path, "not used by Tandem\(why.map { " (\($0))" } ?? ""); ignored")
    }

    // MARK: Structure

    /// The entries of a mapping in file order. `key:` with nothing under it reads as an empty
    /// mapping; anything else is a problem (nil).
    mutating func entries(_ node: Node, _ path: String) -> [Entry]? {
        switch node {
        case .mapping(let mapping):
            var out: [Entry] = []
            for (keyNode, value) in mapping {
                guard case .scalar(let key) = keyNode else {
                    problem(path, "expected plain keys, got a \(Self.kind(keyNode)) as a key")
                    continue
                }
                out.append((key.string, value, Self.join(path, key.string)))
            }
            return out
        case _ where Self.isNull(node):
            return []
        default:
            problem(path, "expected a mapping of keys to values, got \(Self.describe(node))")
            return nil
        }
    }

    /// The items of a list; `key:` with nothing under it reads as an empty list.
    mutating func items(_ node: Node, _ path: String) -> [Item]? {
        switch node {
        case .sequence(let sequence):
            return sequence.enumerated().map { ($0.element, "\(path)[\($0.offset)]") }
        case _ where Self.isNull(node):
            return []
        default:
            problem(path, "expected a list, got \(Self.describe(node))")
            return nil
        }
    }

    // MARK: Scalars

    private enum Scalar {
        case text(String)
        /// `key:`, `~`, `null`.
        case empty
        /// Not a scalar, or a placeholder's variable is missing (already reported).
        case invalid
    }

    /// The scalar's text after placeholder substitution. Each missing variable is a problem.
    private mutating func scalar(_ node: Node, _ path: String) -> Scalar {
        guard case .scalar(let scalar) = node else {
            problem(path, "expected a single value, got a \(Self.kind(node))")
            return .invalid
        }
        if Self.isNull(node) { return .empty }
        switch EnvSubstitution.apply(scalar.string, environment: environment) {
        case .success(let text):
            return .text(text)
        case .failure(let missing):
            for name in missing.names { problem(path, "environment variable \(name) is not set") }
            return .invalid
        }
    }

    /// Any text; a key with no value reads as "".
    mutating func string(_ node: Node, _ path: String) -> String? {
        switch scalar(node, path) {
        case .text(let s): return s
        case .empty: return ""
        case .invalid: return nil
        }
    }

    /// Text that is not empty or blank (names, hosts, class names), without surrounding blanks.
    /// A key with no value (`id:`) reads as nil and keeps its default; `id: ''` is a problem.
    mutating func nonEmptyString(_ node: Node, _ path: String) -> String? {
        switch scalar(node, path) {
        case .text(let s) where !s.trimmingWhitespace().isEmpty:
            return s.trimmingWhitespace()
        case .text:
            problem(path, "expected a non-empty value")
            return nil
        case .empty, .invalid:
            return nil
        }
    }

    /// `true`/`false` (also YAML 1.1's `yes`/`no`/`on`/`off`), any case.
    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        guard let s = typedText(node, path) else { return nil }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            problem(path, "expected true or false, got \(Self.quoted(s))")
            return nil
        }
    }

    /// A decimal integer > 0.
    mutating func positiveInt(_ node: Node, _ path: String) -> Int? {
        integer(node, path, in: 1...Int.max, expected: "a positive integer")
    }

    /// A TCP port, 1-65535.
    mutating func port(_ node: Node, _ path: String) -> Int? {
        integer(node, path, in: 1...65_535, expected: "a port number 1-65535")
    }

    /// A decimal integer in `range`.
    mutating func int(_ node: Node, _ path: String, in range: ClosedRange<Int>) -> Int? {
        integer(node, path, in: range, expected: "an integer from \(range.lowerBound) to \(range.upperBound)")
    }

    /// One of `options`, matched ignoring case; returns the option as listed.
    mutating func choice(_ node: Node, _ path: String, _ options: [String]) -> String? {
        let expected = "one of \(options.joined(separator: ", "))"
        guard let s = typedText(node, path) else { return nil }
        guard let match = options.first(where: { $0.lowercased() == s.lowercased() }) else {
            problem(path, "expected \(expected), got \(Self.quoted(s))")
            return nil
        }
        return match
    }

    private mutating func integer(_ node: Node, _ path: String, in range: ClosedRange<Int>, expected: String) -> Int? {
        guard let s = typedText(node, path) else { return nil }
        guard let n = Self.decimal(s), range.contains(n) else {
            problem(path, "expected \(expected), got \(Self.quoted(s))")
            return nil
        }
        return n
    }

    /// The text of a typed value without surrounding blanks. A key with no value (`key:`, `~`,
    /// `null`) reads as nil and keeps its default; a quoted empty value is a problem.
    private mutating func typedText(_ node: Node, _ path: String) -> String? {
        switch scalar(node, path) {
        case .text(let s): return s.trimmingWhitespace()
        case .empty, .invalid: return nil
        }
    }

    /// `[+|-]digits` and nothing else (no `1.0`, `0x10`, `1_000`, `1e3`).
    private static func decimal(_ s: String) -> Int? {
        let digits = s.hasPrefix("+") || s.hasPrefix("-") ? s.dropFirst() : Substring(s)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(s.hasPrefix("+") ? String(digits) : s)
    }

    // MARK: Descriptions

    /// A plain `~`, `null` or empty value: YAML's null, e.g. a section with nothing under it.
    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    static func kind(_ node: Node) -> String {
        switch node {
        case .scalar: return "value"
        case .mapping: return "mapping"
        case .sequence: return "list"
        case .alias: return "alias"
        }
    }

    /// `"text"` for a value, `a mapping` / `a list` otherwise.
    static func describe(_ node: Node) -> String {
        if case .scalar(let scalar) = node { return quoted(scalar.string) }
        return "a \(kind(node))"
    }

    /// The value in double quotes, as messages show it.
    static func quoted(_ s: String) -> String { "\"\(s)\"" }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
