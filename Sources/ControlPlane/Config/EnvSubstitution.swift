/// Substitutes `${env:NAME}` and `${sys:NAME}` placeholders (WSO2's syntax; both read the process
/// environment here, as ECS passes secrets and settings through it).
enum EnvSubstitution {
    /// The substituted text, or the name of the first variable that is not set.
    static func apply(_ text: String, environment: [String: String]) -> Result<String, MissingVariable> {
        guard text.contains("${") else { return .success(text) }
        var out = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            let afterStart = rest[start.upperBound...]
            guard let end = afterStart.firstIndex(of: "}") else {
                out += rest[start.lowerBound...]
                return .success(out)
            }
            let inner = afterStart[..<end]
            let parts = inner.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0] == "env" || parts[0] == "sys" {
                let name = String(parts[1])
                guard let value = environment[name] else { return .failure(MissingVariable(name: name)) }
                out += value
            } else {
                out += rest[start.lowerBound...end]  // not ours: keep as written
            }
            rest = afterStart[afterStart.index(after: end)...]
        }
        out += rest
        return .success(out)
    }

    struct MissingVariable: Error {
        var name: String
    }
}
