/// A position in a SiddhiQL source file (1-based line and column).
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
    public var description: String { "\(line):\(column)" }
}

/// One parse or semantic error in a Siddhi app, printed as `file:line:column: error: message`.
public struct SiddhiError: Error, Sendable, Hashable, CustomStringConvertible {
    public var fileName: String
    public var position: SourcePosition
    public var message: String

    public init(fileName: String, position: SourcePosition, message: String) {
        self.fileName = fileName
        self.position = position
        self.message = message
    }

    public var description: String { "\(fileName):\(position.line):\(position.column): error: \(message)" }
}

/// Every error found while compiling one app (never just the first).
public struct SiddhiCompileErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [SiddhiError]
    public init(_ errors: [SiddhiError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Collects errors in source order for one file.
struct Diagnostics {
    let fileName: String
    private(set) var errors: [SiddhiError] = []

    init(fileName: String) { self.fileName = fileName }

    mutating func error(_ position: SourcePosition, _ message: String) {
        errors.append(SiddhiError(fileName: fileName, position: position, message: message))
    }

    var sorted: [SiddhiError] {
        errors.enumerated().sorted {
            ($0.element.position.line, $0.element.position.column, $0.offset)
                < ($1.element.position.line, $1.element.position.column, $1.offset)
        }.map(\.element)
    }
}
