/// Everything wrong with a deployment.yaml: every problem found, each naming its key path,
/// e.g. `state.persistence.intervalInMin: expected a positive integer, got "x"`.
///
/// The loader reports all value problems of a file at once; `description` joins them one per line.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// One problem at one key path (or, for YAML syntax errors and unreadable files, in one file).
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// Dotted key path (`wso2.datasources.dataSources[0].name`), or the file name for syntax
        /// errors and unreadable files.
        public var path: String
        /// What is wrong, without the path.
        public var message: String
        /// 1-based line of a YAML syntax error; nil for value problems.
        public var line: Int?
        /// 1-based column of a YAML syntax error; nil for value problems.
        public var column: Int?

        public init(path: String, message: String, line: Int? = nil, column: Int? = nil) {
            self.path = path
            self.message = message
            self.line = line
            self.column = column
        }

        /// `path: message`, or `file:line:column: message` for syntax errors.
        public var description: String {
            if let line, let column { return "\(path):\(line):\(column): \(message)" }
            return "\(path): \(message)"
        }
    }

    /// Every problem found, in file order.
    public var problems: [Problem]

    public init(_ problems: [Problem]) { self.problems = problems }
    public init(path: String, message: String, line: Int? = nil, column: Int? = nil) {
        problems = [Problem(path: path, message: message, line: line, column: column)]
    }

    /// The problems, one per line.
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
