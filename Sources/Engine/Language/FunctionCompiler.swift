/// Type checking of Siddhi's built-in functions (`cast`, `convert`, `ifThenElse`, `coalesce`,
/// `default`, `maximum`, `minimum`, `instanceOf…`, `eventTimestamp`, `currentTimeMillis`, `UUID`). Each lowers to typed
/// expression nodes that `VectorProgram` evaluates batch-wide; there is no per-event function call.
extension Compiler {
    /// Names accepted by `cast`/`convert` as their type argument.
    private static let typeNames = "'int', 'long', 'float', 'double', 'string' or 'bool'"

    mutating func checkFunction(namespace: String?, name: String, arguments: [Expression], position: SourcePosition,
                                input: StreamSchema) -> TypedExpression? {
        if let namespace {
            return checkExtension(namespace: namespace, name: name, arguments: arguments, position: position, input: input)
        }
        // Siddhi resolves built-in function names case-sensitively; accept any case, as keywords are.
        let lower = name.lowercased()
        func arity(_ expected: ClosedRange<Int>) -> Bool {
            guard expected.contains(arguments.count) else {
                let want = expected.lowerBound == expected.upperBound ? "\(expected.lowerBound)"
                    : expected.upperBound == Int.max ? "at least \(expected.lowerBound)" : "\(expected.lowerBound)…\(expected.upperBound)"
                diagnostics.error(position, "'\(name)' takes \(want) argument\(want == "1" ? "" : "s"), got \(arguments.count)")
                return false
            }
            return true
        }
        switch lower {
        case "cast", "convert":
            guard arity(2...2) else { return nil }
            let value = check(arguments[0], input: input)
            guard let target = typeArgument(arguments[1], function: name) else { return nil }
            guard let value else { return nil }
            // Siddhi 5.1 gives false, never null, for a null converted or cast to bool.
            let nullResult: TypedExpression = .constant(target == .bool ? .bool(false) : .null, target)
            guard let from = value.type else { return nullResult }
            if (from == .object || target == .object) && from != target && !(from == .object && target == .string) {
                // An object (a set) is JSON text: it reads as a string, nothing else becomes one.
                diagnostics.error(position, "\(lower)() cannot turn \(from) into \(target); an object converts only to string")
                return nil
            }
            if lower == "cast" && from != target && !(from.isNumeric && target.isNumeric) {
                // Siddhi's cast only relabels the value's type; a string or bool never becomes something else.
                diagnostics.error(position, "cast() cannot turn \(from) into \(target); use convert()")
                return nil
            }
            let converted: TypedExpression = from == target ? value : .convert(value, from: from, to: target)
            return target == .bool ? .coalesce([converted, nullResult], .bool) : converted
        case "ifthenelse":
            guard arity(3...3) else { return nil }
            let typed = arguments.map { check($0, input: input) }
            guard let condition = typed[0], let whenTrue = typed[1], let whenFalse = typed[2] else { return nil }
            if let t = condition.type, t != .bool {
                diagnostics.error(arguments[0].position, "ifThenElse() condition must be bool, got \(t)")
                return nil
            }
            guard let (operands, type) = unify([whenTrue, whenFalse], function: name, position: position) else { return nil }
            return .ifThenElse(condition, operands[0], operands[1], type)
        case "coalesce", "default":
            guard arity(lower == "default" ? 2...2 : 1...Int.max) else { return nil }
            let typed = arguments.map { check($0, input: input) }
            let operands = typed.compactMap { $0 }
            guard operands.count == typed.count else { return nil }
            guard let (widened, type) = unify(operands, function: name, position: position) else { return nil }
            return widened.count == 1 ? widened[0] : .coalesce(widened, type)
        case "maximum", "minimum":
            guard arity(1...Int.max) else { return nil }
            let typed = arguments.map { check($0, input: input) }
            let operands = typed.compactMap { $0 }
            guard operands.count == typed.count else { return nil }
            guard let (widened, type) = unify(operands, function: name, position: position) else { return nil }
            guard type.isNumeric else {
                diagnostics.error(position, "'\(name)' needs numeric arguments, got \(type)")
                return nil
            }
            return widened.count == 1 ? widened[0] : .extremum(isMaximum: lower == "maximum", widened, type)
        case "instanceofboolean", "instanceofdouble", "instanceoffloat", "instanceofinteger", "instanceoflong",
             "instanceofstring":
            guard arity(1...1), let value = check(arguments[0], input: input) else { return nil }
            let tested: AttributeType = switch lower {
            case "instanceofboolean": .bool
            case "instanceofdouble": .double
            case "instanceoffloat": .float
            case "instanceofinteger": .int
            case "instanceoflong": .long
            default: .string
            }
            // The runtime type of a non-null value is its static type here (no `object` attributes).
            guard value.type == tested else { return .constant(.bool(false), .bool) }
            return .not(.isNull(value))
        case "eventtimestamp":
            guard arity(0...0) else { return nil }
            return .timestamp
        case "currenttimemillis":
            guard arity(0...0) else { return nil }
            return .currentTime
        case "uuid":
            guard arity(0...0) else { return nil }
            return .uuid
        case "createset":
            guard arity(1...1), let value = check(arguments[0], input: input) else { return nil }
            guard value.type != nil else {
                diagnostics.error(arguments[0].position, "createSet() needs a typed value, got null")
                return nil
            }
            return .setFunction(.create, value)
        case "sizeofset":
            guard arity(1...1), let value = check(arguments[0], input: input) else { return nil }
            guard value.type == .object || value.type == nil else {
                diagnostics.error(arguments[0].position, "sizeOfSet() takes a set (from createSet or unionSet), got \(value.type!)")
                return nil
            }
            return .setFunction(.size, value)
        case "unionset":
            diagnostics.error(position, "unionSet() is an aggregate: use it as a select item, e.g. unionSet(createSet(symbol)) as symbols")
            return nil
        default:
            diagnostics.error(position, "function '\(name)' is not supported yet")
            return nil
        }
    }

    /// The type named by a `cast`/`convert` argument, which must be a string literal.
    private mutating func typeArgument(_ expression: Expression, function: String) -> AttributeType? {
        guard case .literal(.string(let text), let position) = expression else {
            diagnostics.error(expression.position, "\(function)() needs the target type as a string: \(Compiler.typeNames)")
            return nil
        }
        guard let type = AttributeType(keyword: text) else {
            diagnostics.error(position, "\(function)() cannot convert to '\(text)'; use \(Compiler.typeNames)")
            return nil
        }
        return type
    }

    /// Brings operands that must share a type to one: equal types stay, numbers widen to the widest,
    /// `null` literals take the common type.
    private mutating func unify(_ operands: [TypedExpression], function: String,
                                position: SourcePosition) -> ([TypedExpression], AttributeType)? {
        let known = operands.compactMap(\.type)
        guard var type = known.first else {
            diagnostics.error(position, "'\(function)' cannot work out a type from null arguments only")
            return nil
        }
        for t in known.dropFirst() where t != type {
            guard t.isNumeric && type.isNumeric else {
                diagnostics.error(position, "'\(function)' needs arguments of one type, got \(type) and \(t)")
                return nil
            }
            type = Compiler.wider(type, t)
        }
        return (operands.map { Compiler.widen($0, to: type) }, type)
    }
}
