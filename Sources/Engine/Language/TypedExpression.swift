/// A typed expression: attribute references resolved to columns, operands widened to a common type.
/// The compiler produces it; `VectorProgram` lowers it to batch-wide instructions.
indirect enum TypedExpression: Sendable {
    case column(Int, AttributeType)
    case constant(Value, AttributeType?)  // nil type: the `null` literal
    /// The event's timestamp (`eventTimestamp()`), a long.
    case timestamp
    /// The engine clock (`currentTimeMillis()`), a long: event time in playback, else wall clock.
    case currentTime
    /// A random UUID per event (`UUID()`), a string.
    case uuid
    case arithmetic(BinaryOperator, TypedExpression, TypedExpression, AttributeType)
    case widen(TypedExpression, from: AttributeType, to: AttributeType)
    case compare(BinaryOperator, TypedExpression, TypedExpression, operandType: AttributeType)
    case and(TypedExpression, TypedExpression)
    case or(TypedExpression, TypedExpression)
    case not(TypedExpression)
    case isNull(TypedExpression)
    case negate(TypedExpression, AttributeType)
    /// Siddhi's `convert(value, 'type')` (also used by `cast` between numeric types).
    case convert(TypedExpression, from: AttributeType, to: AttributeType)
    /// `ifThenElse(condition, then, else)`; a null condition takes the else branch.
    case ifThenElse(TypedExpression, TypedExpression, TypedExpression, AttributeType)
    /// The first non-null operand (`coalesce`, `default`), or null.
    case coalesce([TypedExpression], AttributeType)
    /// `maximum` / `minimum` of the non-null operands, or null when all are null.
    case extremum(isMaximum: Bool, [TypedExpression], AttributeType)
    /// The value of aggregate number N of the query (only as a whole select item).
    case aggregate(Int, AttributeType)
    /// `createSet(x)` (a set's text, `SetText`) or `sizeOfSet(set)`.
    case setFunction(SetFunction, TypedExpression)

    enum SetFunction: Sendable { case create, size }
    /// An extension function (`str:upper(s)`, …) over its typed arguments (`Functions/`).
    case extensionCall(ExtensionCall, [TypedExpression])
    /// `condition in Table`: whether some row of the table satisfies the condition (`TableIn.swift`).
    case inTable(InTableCondition)

    /// nil only for a bare `null` literal.
    var type: AttributeType? {
        switch self {
        case .column(_, let t): return t
        case .constant(_, let t): return t
        case .timestamp, .currentTime: return .long
        case .uuid: return .string
        case .arithmetic(_, _, _, let t), .negate(_, let t), .aggregate(_, let t): return t
        case .widen(_, _, let to), .convert(_, _, let to): return to
        case .ifThenElse(_, _, _, let t), .coalesce(_, let t), .extremum(_, _, let t): return t
        case .compare, .and, .or, .not, .isNull, .inTable: return .bool
        case .setFunction(.create, _): return .object
        case .setFunction(.size, _): return .int
        case .extensionCall(let call, _): return call.resultType
        }
    }
}
