/// What is wrong with a deployment.yaml: every problem found, each naming its key path
/// (`state.persistence.intervalInMin: expected a positive integer, got "x"`).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// Dotted key path (`wso2.datasources.dataSources[0].name`), or the file for syntax errors.
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    public var problems: [Problem]

    public init(_ problems: [Problem]) { self.problems = problems }
    public init(path: String, message: String) { problems = [Problem(path: path, message: message)] }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
