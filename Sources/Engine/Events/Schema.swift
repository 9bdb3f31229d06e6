/// The attribute types of SiddhiQL stream definitions.
public enum AttributeType: UInt8, Sendable, Hashable, CustomStringConvertible {
    case int, long, float, double, string, bool
    /// Siddhi's `object`. Tandem's object values are sets (`createSet`, `unionSet`): stored like
    /// strings, as the JSON text of the value (`SetText`), and written out as that JSON.
    case object

    /// SiddhiQL keyword for the type (`int`, `long`, ...), case-insensitive on input.
    public init?(keyword: String) {
        switch keyword.lowercased() {
        case "int": self = .int
        case "long": self = .long
        case "float": self = .float
        case "double": self = .double
        case "string": self = .string
        case "bool": self = .bool
        case "object": self = .object
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .int: "int"
        case .long: "long"
        case .float: "float"
        case .double: "double"
        case .string: "string"
        case .bool: "bool"
        case .object: "object"
        }
    }

    /// Whether values are numbers (Siddhi promotes int → long → float → double).
    public var isNumeric: Bool { self == .int || self == .long || self == .float || self == .double }

    /// Whether a value is a slot into the batch's byte arena (strings, and objects as JSON text).
    public var isTextual: Bool { self == .string || self == .object }
}

/// One attribute of a stream: its name and type.
public struct Attribute: Sendable, Hashable {
    public var name: String
    public var type: AttributeType
    public init(name: String, type: AttributeType) {
        self.name = name
        self.type = type
    }
}

/// The shape of a stream. Immutable and shared by reference between batches of the stream.
public final class StreamSchema: Sendable, CustomStringConvertible {
    public let name: String
    public let attributes: [Attribute]

    public init(name: String, attributes: [Attribute]) {
        self.name = name
        self.attributes = attributes
    }

    /// Index of the attribute called `name`, or nil.
    public func index(of name: String) -> Int? {
        attributes.firstIndex { $0.name == name }
    }

    public var description: String {
        "\(name) (" + attributes.map { "\($0.name) \($0.type)" }.joined(separator: ", ") + ")"
    }
}
