/// Substitutes `${env:NAME}` and `${sys:NAME}` placeholders, WSO2's syntax, in one scalar value.
///
/// - Both read the process environment: Tandem has no JVM system properties, and ECS passes
///   settings and secrets as environment variables.
/// - A placeholder may be the whole value or part of it, several per value:
///   `jdbc:mysql://${env:DB_HOST}:${env:DB_PORT}/db`.
/// - `${env:NAME:-fallback}` gives `fallback` when NAME is not set (Tandem's addition, as in POSIX
///   shells; the fallback is literal text and may not contain `}`). A variable set to the empty
///   string counts as set.
/// - Anything else in `${…}` (another prefix, no closing brace) is kept as written.
enum EnvSubstitution {
    /// The variables a value names that the environment does not have, in order, once each.
    struct MissingVariables: Error, Equatable {
        var names: [String]

        /// `environment variable A is not set`, or `environment variables A, B are not set`.
        var message: String {
            names.count == 1
                ? "environment variable \(names[0]) is not set"
                : "environment variables \(names.joined(separator: ", ")) are not set"
        }
    }

    /// The text with every placeholder replaced, or every variable that is missing.
    static func apply(_ text: String, environment: [String: String]) -> Result<String, MissingVariables> {
        guard text.contains("${") else { return .success(text) }
        var out = ""
        var missing: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.firstIndex(of: "}") else { break }  // unterminated: literal
            let inner = afterOpen[..<close]
            if let (name, fallback) = placeholder(inner) {
                if let value = environment[name] ?? fallback {
                    out += value
                } else if !missing.contains(name) {
                    missing.append(name)
                }
            } else {
                out += rest[open.lowerBound...close]
            }
            rest = afterOpen[afterOpen.index(after: close)...]
        }
        out += rest
        return missing.isEmpty ? .success(out) : .failure(MissingVariables(names: missing))
    }

    /// `env:NAME` / `sys:NAME` / `env:NAME:-fallback` → (NAME, fallback); nil for anything else.
    private static func placeholder(_ inner: Substring) -> (name: String, fallback: String?)? {
        let body: Substring
        if inner.hasPrefix("env:") || inner.hasPrefix("sys:") {
            body = inner.dropFirst(4)
        } else {
            return nil
        }
        if let dash = body.range(of: ":-") {
            let name = body[..<dash.lowerBound]
            return name.isEmpty ? nil : (String(name), String(body[dash.upperBound...]))
        }
        return body.isEmpty ? nil : (String(body), nil)
    }
}
