/// Type checking of extension function calls (`ns:name(…)`): the arguments are checked as any
/// expression, then the namespace's `check` picks the function and its result type.
extension Compiler {
    /// Where the list of supported extension functions is.
    static let extensionDocs = "docs/siddhiql.md lists the supported extension functions"

    mutating func checkExtension(namespace: String, name: String, arguments: [Expression], position: SourcePosition,
                                 input: StreamSchema) -> TypedExpression? {
        guard let ns = ExtensionNamespace(rawValue: namespace.lowercased()) else {
            diagnostics.error(position, "unknown function '\(namespace):\(name)': no extension namespace '\(namespace)'; \(Compiler.extensionDocs)")
            return nil
        }
        let typed = arguments.map { check($0, input: input) }
        let operands = typed.compactMap { $0 }
        guard operands.count == typed.count else { return nil }
        let types = operands.map(\.type)
        let constants: [Value?] = operands.map {
            if case .constant(let value, _) = $0 { return value }
            return nil
        }
        let signature: ExtensionSignature = switch ns {
        case .str: StringFunction.check(name, types, constants)
        case .math: MathFunction.check(name, types, constants)
        case .time: TimeFunction.check(name, types, constants)
        case .json: JSONFunction.check(name, types, constants)
        case .regex: RegexFunction.check(name, types, constants)
        case .map: MapFunction.check(name, types, constants)
        }
        switch signature {
        case .unknown:
            diagnostics.error(position, "unknown function '\(namespace):\(name)'; \(Compiler.extensionDocs)")
            return nil
        case .error(let message):
            diagnostics.error(position, "\(namespace):\(name)(): \(message)")
            return nil
        case .ok(let function, let result):
            let call = ExtensionCall(namespace: ns, function: function, argumentTypes: types, constants: constants,
                                     resultType: result)
            return .extensionCall(call, operands)
        }
    }
}

/// A namespace's verdict on a call.
enum ExtensionSignature {
    /// No such function in the namespace.
    case unknown
    /// The function exists but not with these arguments.
    case error(String)
    case ok(function: UInt8, result: AttributeType)
}

/// Helpers the namespaces' `check` functions share.
enum ExtensionArguments {
    /// "takes 2 arguments" style message unless `count` is in `range`.
    static func arity(_ count: Int, _ range: ClosedRange<Int>) -> String? {
        guard !range.contains(count) else { return nil }
        let want = range.lowerBound == range.upperBound ? "\(range.lowerBound)"
            : range.upperBound == Int.max ? "at least \(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
        return "takes \(want) argument\(want == "1" ? "" : "s"), got \(count)"
    }

    /// An error unless argument `i` has one of `allowed` types (a null literal fits any).
    static func expect(_ types: [AttributeType?], _ i: Int, _ allowed: Set<AttributeType>, _ what: String) -> String? {
        guard i < types.count, let t = types[i] else { return nil }
        return allowed.contains(t) ? nil : "argument \(i + 1) must be \(what), got \(t)"
    }

    static let numeric: Set<AttributeType> = [.int, .long, .float, .double]
    static let integer: Set<AttributeType> = [.int, .long]
    static let real: Set<AttributeType> = [.float, .double]
    static let text: Set<AttributeType> = [.string]
    static let textOrObject: Set<AttributeType> = [.string, .object]
    static let any: Set<AttributeType> = [.int, .long, .float, .double, .string, .bool, .object]

    /// The first error of `checks`, else `.ok`.
    static func verdict(_ function: UInt8, _ result: AttributeType, _ checks: String?...) -> ExtensionSignature {
        for c in checks { if let c { return .error(c) } }
        return .ok(function: function, result: result)
    }
}
