import Foundation

/// A JSON value as `tandem replay` and `tandem send` read it: numbers keep whether they were
/// written as integers, so that `100` can fill a long and `75.6` cannot.
public enum JSONValue: Decodable, Sendable, Equatable {
    case null, bool(Bool), integer(Int64), number(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int64.self) {
            // JSONDecoder also reads -0.0 (and -0) as the integer 0, which would lose the sign a
            // float or double keeps (the binary wire carries it): keep such a zero a number.
            if i == 0, let d = try? c.decode(Double.self), d.sign == .minus {
                self = .number(d)
                return
            }
            self = .integer(i)
            return
        }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    public static func parse(_ line: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
    }

    /// Compact JSON text of the value (object keys sorted): how an `object` attribute holds it.
    public var jsonText: String {
        var out = ""
        appendJSON(to: &out)
        return out
    }

    private func appendJSON(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .number(let d): out += d.isFinite ? d.description : "null"
        case .string(let s): JSONWriter.appendString(s, to: &out)
        case .array(let items):
            out += "["
            for (k, item) in items.enumerated() {
                if k > 0 { out += "," }
                item.appendJSON(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (k, key) in fields.keys.sorted().enumerated() {
                if k > 0 { out += "," }
                JSONWriter.appendString(key, to: &out)
                out += ":"
                fields[key]!.appendJSON(to: &out)
            }
            out += "}"
        }
    }

    /// Converts to an attribute value of `type`; nil when it does not fit.
    public func attributeValue(_ type: AttributeType) -> Value? {
        switch (self, type) {
        case (.null, _): return .null
        case (_, .object): return .object(jsonText)
        case (.integer(let i), .int): return Int32(exactly: i).map(Value.int)
        case (.integer(let i), .long): return .long(i)
        case (.integer(let i), .float): return .float(Float(i))
        case (.integer(let i), .double): return .double(Double(i))
        case (.number(let d), .float): return .float(Float(d))
        case (.number(let d), .double): return .double(d)
        case (.number(let d), .int): return d == d.rounded() ? Int32(exactly: d).map(Value.int) : nil
        case (.number(let d), .long): return d == d.rounded() ? Int64(exactly: d).map(Value.long) : nil
        case (.string(let s), .string): return .string(s)
        case (.bool(let b), .bool): return .bool(b)
        default: return nil
        }
    }
}

/// Writes attribute values as JSON (int/long as integers, float/double as shortest numbers,
/// NaN and infinities as null since JSON has no such numbers).
public enum JSONWriter {
    public static func append(_ value: Value, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .int(let v): out += String(v)
        case .long(let v): out += String(v)
        case .float(let v): out += v.isFinite ? v.description : "null"
        case .double(let v): out += v.isFinite ? v.description : "null"
        case .bool(let v): out += v ? "true" : "false"
        case .string(let s): appendString(s, to: &out)
        case .object(let json): out += json  // JSON text already
        }
    }

    public static func appendString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// `{"stream":"S","timestamp":1000,"data":[...]}` for one row of a batch.
    public static func eventLine(_ batch: EventBatch, row: Int) -> String {
        var line = "{\"stream\":"
        appendString(batch.schema.name, to: &line)
        line += ",\"timestamp\":\(batch.timestamps[row]),\"data\":["
        for c in 0..<batch.schema.attributes.count {
            if c > 0 { line += "," }
            append(batch.value(c, row), to: &line)
        }
        line += "]}"
        return line
    }
}
