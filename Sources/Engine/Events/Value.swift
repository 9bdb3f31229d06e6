/// A single attribute value, for the cold paths (JSON input/output, tests, constants).
/// The hot paths never box values like this: they work on `EventBatch` columns.
public enum Value: Sendable, Hashable, CustomStringConvertible {
    case int(Int32)
    case long(Int64)
    case float(Float)
    case double(Double)
    case string(String)
    case bool(Bool)
    /// An `object` value as its JSON text (Tandem's objects are sets: `SetText`).
    case object(String)
    case null

    public var description: String {
        switch self {
        case .int(let v): String(v)
        case .long(let v): String(v)
        case .float(let v): String(v)
        case .double(let v): String(v)
        case .string(let v): v
        case .bool(let v): String(v)
        case .object(let json): json
        case .null: "null"
        }
    }
}
