import Foundation

/// A typed expression compiled into register instructions that each run over a whole batch.
///
/// Dispatch happens once per instruction per batch; the loops inside touch only raw `UInt64`
/// slots (`Int64` or `Double` bit patterns, as `EventBatch` stores them) and byte null masks, so
/// evaluation does no per-event allocation, ARC traffic or dynamic dispatch (the exceptions are
/// the conversions between strings and numbers, which format or parse text per event).
///
/// String registers hold `offset << 32 | length` slots like `EventBatch`. Bit 63 of a slot says
/// which bytes it points into: clear for the input batch's arena, set for this program's own arena
/// (string constants, then strings made by `convert`). Input arenas must stay below 2 GiB.
final class VectorProgram {
    enum NumericKind: UInt8 { case int32, int64, float32, float64 }
    enum ArithmeticOp: UInt8 { case add, subtract, multiply, divide, modulo }
    enum CompareOp: UInt8 { case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual }
    /// Conversions of `convert()`; identities never become instructions.
    enum ConvertOp: UInt8 {
        case integerToInt, integerToFloat, integerToDouble, integerToBool, integerToString
        case realToInt, realToLong, doubleToFloat, realToBool, floatToString, doubleToString
        case boolToInteger, boolToReal, boolToString
        case stringToInt, stringToLong, stringToFloat, stringToDouble, stringToBool
    }

    enum Instruction {
        case load(dst: Int, column: Int)
        case loadTimestamp(dst: Int)
        case loadClock(dst: Int)
        case uuid(dst: Int)
        case convert(ConvertOp, dst: Int, src: Int)
        case arithmetic(ArithmeticOp, NumericKind, dst: Int, a: Int, b: Int)
        case negate(NumericKind, dst: Int, src: Int)
        case compareInteger(CompareOp, dst: Int, a: Int, b: Int)
        case compareDouble(CompareOp, dst: Int, a: Int, b: Int)
        case compareString(equal: Bool, dst: Int, a: Int, b: Int)
        case and(dst: Int, a: Int, b: Int)
        case or(dst: Int, a: Int, b: Int)
        case not(dst: Int, src: Int)
        case isNull(dst: Int, src: Int)
        case select(dst: Int, condition: Int, a: Int, b: Int)
        case coalesce(dst: Int, a: Int, b: Int)
        case extremum(isMaximum: Bool, NumericKind, dst: Int, a: Int, b: Int)
        /// `createSet(src)`: the text of a one-element set (`SetText`), src of `type`.
        case createSet(AttributeType, dst: Int, src: Int)
        /// `sizeOfSet(src)`: elements in a set's text (null: 0, as Siddhi; not a set: null).
        case sizeOfSet(dst: Int, src: Int)
        /// `condition in Table`: `inTables[lookup]` fills the register.
        case inTable(dst: Int, lookup: Int)
        /// An extension function: `kernels[kernel]` fills dst from the argument registers.
        case call(kernel: Int, dst: Int, arguments: [Int])
    }

    /// The extension function kernels of the program, with their calls' argument types.
    private var kernels: [(kernel: FunctionKernel, types: [AttributeType?])] = []
    /// Reused buffer for the strings a kernel makes.
    private var made: [UInt8] = []

    /// The `in` conditions of the program, bound to their tables when it is built.
    private var inTables: [InTableLookup] = []

    /// Set in a string slot that points into the program's arena rather than the batch's.
    static let programArenaBit: UInt64 = 1 << 63

    private(set) var instructions: [Instruction] = []
    /// The register holding the result after `evaluate`.
    private(set) var result = 0
    let resultType: AttributeType

    // Registers: raw buffers of `capacity` slots, reused for every batch.
    private var values: [UnsafeMutablePointer<UInt64>] = []
    private var nulls: [UnsafeMutablePointer<UInt8>] = []
    /// Per batch: whether a register may hold a null (its mask is only valid when true).
    private var mayBeNull: [Bool] = []
    /// Constant registers: (register, slot bits, is null), filled whenever capacity grows.
    private var constants: [(Int, UInt64, Bool)] = []
    /// String constants, then (per batch) strings produced by conversions.
    private var arena: [UInt8] = []
    private var constantArenaCount = 0
    private var capacity = 0

    /// Whether the program reads the engine clock (`currentTimeMillis()`).
    private(set) var usesClock = false
    /// The clock `currentTimeMillis()` reads: nil reads each event's timestamp (playback, where the
    /// clock is event time), else this wall-clock time. Set by the query before `evaluate`.
    var clockMs: Int64? = nil

    init(_ expression: TypedExpression) {
        resultType = expression.type ?? .bool
        result = emit(expression)
        constantArenaCount = arena.count
    }

    deinit {
        for p in values { p.deallocate() }
        for p in nulls { p.deallocate() }
    }

    // MARK: Compilation

    private func newRegister() -> Int {
        values.append(UnsafeMutablePointer<UInt64>.allocate(capacity: 1))
        nulls.append(UnsafeMutablePointer<UInt8>.allocate(capacity: 1))
        mayBeNull.append(false)
        return values.count - 1
    }

    private static func kind(_ type: AttributeType) -> NumericKind {
        switch type {
        case .int: .int32
        case .long: .int64
        case .float: .float32
        default: .float64
        }
    }

    private static func compareOp(_ op: BinaryOperator) -> CompareOp {
        switch op {
        case .equal: .equal
        case .notEqual: .notEqual
        case .less: .less
        case .lessOrEqual: .lessOrEqual
        case .greater: .greater
        default: .greaterOrEqual
        }
    }

    /// The instruction converting `from` to `to`, or nil when the slots already mean the same.
    private static func convertOp(from: AttributeType, to: AttributeType) -> ConvertOp? {
        switch (from, to) {
        case (.long, .int): .integerToInt
        case (.int, .long), (.float, .double): nil
        case (.int, .float), (.long, .float): .integerToFloat
        case (.int, .double), (.long, .double): .integerToDouble
        case (.int, .bool), (.long, .bool): .integerToBool
        case (.int, .string), (.long, .string): .integerToString
        case (.float, .int), (.double, .int): .realToInt
        case (.float, .long), (.double, .long): .realToLong
        case (.double, .float): .doubleToFloat
        case (.float, .bool), (.double, .bool): .realToBool
        case (.float, .string): .floatToString
        case (.double, .string): .doubleToString
        case (.bool, .int), (.bool, .long): .boolToInteger
        case (.bool, .float), (.bool, .double): .boolToReal
        case (.bool, .string): .boolToString
        case (.string, .int): .stringToInt
        case (.string, .long): .stringToLong
        case (.string, .float): .stringToFloat
        case (.string, .double): .stringToDouble
        case (.string, .bool): .stringToBool
        default: nil  // same type
        }
    }

    private func constantRegister(_ value: Value) -> Int {
        var bits: UInt64 = 0
        var isNull = false
        switch value {
        case .int(let v): bits = UInt64(bitPattern: Int64(v))
        case .long(let v): bits = UInt64(bitPattern: v)
        case .float(let v): bits = Double(v).bitPattern
        case .double(let v): bits = v.bitPattern
        case .bool(let v): bits = v ? 1 : 0
        case .string(let s), .object(let s):
            precondition(arena.count < 1 << 31, "string constants over 2 GiB")
            bits = VectorProgram.programArenaBit | UInt64(arena.count) << 32 | UInt64(s.utf8.count)
            arena.append(contentsOf: s.utf8)
        case .null: isNull = true
        }
        let r = newRegister()
        constants.append((r, bits, isNull))
        return r
    }

    private func emit(_ e: TypedExpression) -> Int {
        switch e {
        case .extensionCall(let call, let operands):
            let arguments = operands.map { emit($0) }
            let r = newRegister()
            kernels.append((call.makeKernel(), call.argumentTypes))
            if call.readsClock { usesClock = true }
            instructions.append(.call(kernel: kernels.count - 1, dst: r, arguments: arguments))
            return r
        case .setFunction(let function, let inner):
            let src = emit(inner)
            let r = newRegister()
            switch function {
            case .create: instructions.append(.createSet(inner.type ?? .string, dst: r, src: src))
            case .size: instructions.append(.sizeOfSet(dst: r, src: src))
            }
            return r
        case .aggregate:
            preconditionFailure("aggregates are computed by the query's aggregators, not by vector programs")
        case .inTable(let condition):
            let r = newRegister()
            inTables.append(InTableLookup(condition))
            instructions.append(.inTable(dst: r, lookup: inTables.count - 1))
            return r
        case .column(let column, _):
            let r = newRegister()
            instructions.append(.load(dst: r, column: column))
            return r
        case .constant(let value, _):
            return constantRegister(value)
        case .timestamp:
            let r = newRegister()
            instructions.append(.loadTimestamp(dst: r))
            return r
        case .currentTime:
            let r = newRegister()
            instructions.append(.loadClock(dst: r))
            usesClock = true
            return r
        case .uuid:
            let r = newRegister()
            instructions.append(.uuid(dst: r))
            return r
        case .widen(let inner, let from, let to), .convert(let inner, let from, let to):
            let src = emit(inner)
            guard let op = VectorProgram.convertOp(from: from, to: to) else { return src }
            let r = newRegister()
            instructions.append(.convert(op, dst: r, src: src))
            return r
        case .arithmetic(let op, let l, let rr, let type):
            let a = emit(l), b = emit(rr)
            let r = newRegister()
            let arithmetic: ArithmeticOp = switch op {
            case .add: .add
            case .subtract: .subtract
            case .multiply: .multiply
            case .divide: .divide
            default: .modulo
            }
            instructions.append(.arithmetic(arithmetic, VectorProgram.kind(type), dst: r, a: a, b: b))
            return r
        case .negate(let inner, let type):
            let src = emit(inner)
            let r = newRegister()
            instructions.append(.negate(VectorProgram.kind(type), dst: r, src: src))
            return r
        case .compare(let op, let l, let rr, let type):
            let a = emit(l), b = emit(rr)
            let r = newRegister()
            switch type {
            case .int, .long, .bool: instructions.append(.compareInteger(VectorProgram.compareOp(op), dst: r, a: a, b: b))
            case .float, .double: instructions.append(.compareDouble(VectorProgram.compareOp(op), dst: r, a: a, b: b))
            case .string, .object: instructions.append(.compareString(equal: op == .equal, dst: r, a: a, b: b))
            }
            return r
        case .and(let l, let rr):
            let a = emit(l), b = emit(rr)
            let r = newRegister()
            instructions.append(.and(dst: r, a: a, b: b))
            return r
        case .or(let l, let rr):
            let a = emit(l), b = emit(rr)
            let r = newRegister()
            instructions.append(.or(dst: r, a: a, b: b))
            return r
        case .not(let inner):
            let src = emit(inner)
            let r = newRegister()
            instructions.append(.not(dst: r, src: src))
            return r
        case .isNull(let inner):
            let src = emit(inner)
            let r = newRegister()
            instructions.append(.isNull(dst: r, src: src))
            return r
        case .ifThenElse(let condition, let whenTrue, let whenFalse, _):
            let c = emit(condition), a = emit(whenTrue), b = emit(whenFalse)
            let r = newRegister()
            instructions.append(.select(dst: r, condition: c, a: a, b: b))
            return r
        case .coalesce(let operands, _):
            var acc = emit(operands[0])
            for operand in operands.dropFirst() {
                let b = emit(operand)
                let r = newRegister()
                instructions.append(.coalesce(dst: r, a: acc, b: b))
                acc = r
            }
            return acc
        case .extremum(let isMaximum, let operands, let type):
            var acc = emit(operands[0])
            for operand in operands.dropFirst() {
                let b = emit(operand)
                let r = newRegister()
                instructions.append(.extremum(isMaximum: isMaximum, VectorProgram.kind(type), dst: r, a: acc, b: b))
                acc = r
            }
            return acc
        }
    }

    // MARK: Evaluation

    private func ensureCapacity(_ n: Int) {
        guard n > capacity else { return }
        let newCapacity = max(n, 256, capacity * 2)
        for i in values.indices {
            values[i].deallocate()
            nulls[i].deallocate()
            values[i] = .allocate(capacity: newCapacity)
            nulls[i] = .allocate(capacity: newCapacity)
        }
        for (r, bits, isNull) in constants {
            values[r].update(repeating: bits, count: newCapacity)
            nulls[r].update(repeating: isNull ? 1 : 0, count: newCapacity)
        }
        capacity = newCapacity
    }

    /// Runs the program over `batch`; afterwards `resultValues`/`resultNulls` hold one slot per event.
    func evaluate(_ batch: EventBatch) {
        let n = batch.count
        guard n > 0 else { return }
        precondition(batch.stringBytes.count < 1 << 31, "batch string arena over 2 GiB")
        ensureCapacity(n)
        arena.removeLast(arena.count - constantArenaCount)
        for (r, _, isNull) in constants { mayBeNull[r] = isNull }
        for instruction in instructions {
            run(instruction, n, batch)
        }
    }

    /// Runs a bool program as a filter: the result with nulls read as false (slot 1 = keep).
    func evaluateCondition(_ batch: EventBatch) -> UnsafePointer<UInt64> {
        precondition(resultType == .bool)
        evaluate(batch)
        return UnsafePointer(truthy(batch.count, result))
    }

    var resultValues: UnsafePointer<UInt64> { UnsafePointer(values[result]) }
    /// Null mask of the result, or nil when no result slot is null.
    var resultNulls: UnsafePointer<UInt8>? { mayBeNull[result] ? UnsafePointer(nulls[result]) : nil }

    /// Calls `body` with the bytes of string result `i` of the last `evaluate(batch)`.
    func withResultBytes<R>(_ i: Int, batch: EventBatch, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let slot = resultValues[i]
        let offset = Int(truncatingIfNeeded: (slot >> 32) & 0x7FFF_FFFF), length = Int(slot & 0xFFFF_FFFF)
        if slot & VectorProgram.programArenaBit != 0 {
            return arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + length])) }
        }
        return batch.stringBytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + length])) }
    }

    /// Result `i` of the last `evaluate(batch)` as a boxed value (cold paths: table writes, probes).
    func resultValue(_ i: Int, batch: EventBatch) -> Value {
        if let n = resultNulls, n[i] != 0 { return .null }
        let slot = resultValues[i]
        switch resultType {
        case .int: return .int(Int32(truncatingIfNeeded: Int64(bitPattern: slot)))
        case .long: return .long(Int64(bitPattern: slot))
        case .float: return .float(Float(Double(bitPattern: slot)))
        case .double: return .double(Double(bitPattern: slot))
        case .bool: return .bool(slot & 1 == 1)
        case .string, .object:
            let offset = Int(truncatingIfNeeded: (slot >> 32) & 0x7FFF_FFFF), length = Int(slot & 0xFFFF_FFFF)
            let bytes = slot & VectorProgram.programArenaBit != 0 ? Array(arena[offset..<offset + length])
                : Array(batch.stringBytes[offset..<offset + length])
            let text = String(decoding: bytes, as: UTF8.self)
            return resultType == .object ? .object(text) : .string(text)
        }
    }

    /// Calls `body` with the program's arena, which string slots with `programArenaBit` point into.
    func withArena<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        arena.withUnsafeBufferPointer(body)
    }

    @inline(__always)
    private func propagateNulls(_ n: Int, dst: Int, _ a: Int, _ b: Int) {
        let na = mayBeNull[a], nb = mayBeNull[b]
        mayBeNull[dst] = na || nb
        guard na || nb else { return }
        let d = nulls[dst]
        if na && nb {
            let x = nulls[a], y = nulls[b]
            for i in 0..<n { d[i] = x[i] | y[i] }
        } else {
            d.update(from: nulls[na ? a : b], count: n)
        }
    }

    @inline(__always)
    private static func map2(_ n: Int, _ a: UnsafeMutablePointer<UInt64>, _ b: UnsafeMutablePointer<UInt64>,
                             _ d: UnsafeMutablePointer<UInt64>, _ f: (UInt64, UInt64) -> UInt64) {
        for i in 0..<n { d[i] = f(a[i], b[i]) }
    }

    @inline(__always)
    private static func map1(_ n: Int, _ s: UnsafeMutablePointer<UInt64>, _ d: UnsafeMutablePointer<UInt64>,
                             _ f: (UInt64) -> UInt64) {
        for i in 0..<n { d[i] = f(s[i]) }
    }

    private func run(_ instruction: Instruction, _ n: Int, _ batch: EventBatch) {
        switch instruction {
        case .load(let dst, let column):
            batch.columns[column].withUnsafeBufferPointer { values[dst].update(from: $0.baseAddress!, count: n) }
            let columnNulls = batch.nulls[column]
            mayBeNull[dst] = !columnNulls.isEmpty
            if !columnNulls.isEmpty {
                columnNulls.withUnsafeBufferPointer { nulls[dst].update(from: $0.baseAddress!, count: n) }
            }
        case .loadTimestamp(let dst):
            let d = values[dst]
            batch.timestamps.withUnsafeBufferPointer { t in
                for i in 0..<n { d[i] = UInt64(bitPattern: t[i]) }
            }
            mayBeNull[dst] = false
        case .loadClock(let dst):
            let d = values[dst]
            if let clockMs {
                d.update(repeating: UInt64(bitPattern: clockMs), count: n)
            } else {
                batch.timestamps.withUnsafeBufferPointer { t in
                    for i in 0..<n { d[i] = UInt64(bitPattern: t[i]) }
                }
            }
            mayBeNull[dst] = false
        case .uuid(let dst):
            // Random (version 4) UUIDs, lowercase as Java's UUID.toString(), into the program's arena.
            let d = values[dst]
            var bytes = arena
            arena = []
            var generator = SystemRandomNumberGenerator()
            let hex = Array("0123456789abcdef".utf8)
            for i in 0..<n {
                var hi = generator.next() as UInt64, lo = generator.next() as UInt64
                hi = (hi & ~0xF000) | 0x4000                           // version 4
                lo = (lo & ~(0xC000_0000_0000_0000 as UInt64)) | 0x8000_0000_0000_0000  // IETF variant
                let start = bytes.count
                for k in 0..<32 {
                    if k == 8 || k == 12 || k == 16 || k == 20 { bytes.append(UInt8(ascii: "-")) }
                    let word = k < 16 ? hi : lo
                    let shift = UInt64(60 - 4 * (k % 16))
                    bytes.append(hex[Int((word >> shift) & 0xF)])
                }
                precondition(bytes.count < 1 << 31, "generated strings over 2 GiB")
                d[i] = VectorProgram.programArenaBit | UInt64(start) << 32 | UInt64(bytes.count - start)
            }
            arena = bytes
            mayBeNull[dst] = false
        case .convert(let op, let dst, let src):
            copyNulls(n, dst: dst, src: src)
            convert(op, n, dst: dst, src: src, batch)
        case .createSet(let type, let dst, let src):
            copyNulls(n, dst: dst, src: src)
            let d = values[dst], s = values[src]
            let m: UnsafeMutablePointer<UInt8>? = mayBeNull[src] ? nulls[src] : nil
            // Sets are made per event into the program's arena (swapped out so appends stay local).
            var made: [UInt8] = []
            var slots = [UInt64](repeating: 0, count: n)
            withStringBases(batch) { batchBase, programBase in
                for i in 0..<n {
                    if let m, m[i] != 0 { continue }
                    let start = made.count
                    made.append(UInt8(ascii: "["))
                    if type.isTextual {
                        let text = UnsafeBufferPointer(start: VectorProgram.bytes(s[i], batchBase, programBase),
                                                       count: Int(truncatingIfNeeded: s[i] & 0xFFFF_FFFF))
                        SetText.element(type, bits: s[i], text: text, into: &made)
                    } else {
                        SetText.element(type, bits: s[i], text: nil, into: &made)
                    }
                    made.append(UInt8(ascii: "]"))
                    slots[i] = UInt64(start) << 32 | UInt64(made.count - start)
                }
            }
            let base = arena.count
            precondition(base + made.count < 1 << 31, "generated strings over 2 GiB")
            arena.append(contentsOf: made)
            for i in 0..<n where m == nil || m![i] == 0 { d[i] = VectorProgram.programArenaBit | (slots[i] &+ UInt64(base) << 32) }
        case .sizeOfSet(let dst, let src):
            let d = values[dst], s = values[src], dn = nulls[dst]
            let m: UnsafeMutablePointer<UInt8>? = mayBeNull[src] ? nulls[src] : nil
            var anyNull = false
            withStringBases(batch) { batchBase, programBase in
                for i in 0..<n {
                    dn[i] = 0
                    if let m, m[i] != 0 {
                        d[i] = 0
                        continue
                    }
                    let text = UnsafeBufferPointer(start: VectorProgram.bytes(s[i], batchBase, programBase),
                                                   count: Int(truncatingIfNeeded: s[i] & 0xFFFF_FFFF))
                    if let elements = SetText.elements(text) {
                        d[i] = UInt64(elements.count)
                    } else {
                        d[i] = 0
                        dn[i] = 1
                        anyNull = true
                    }
                }
            }
            mayBeNull[dst] = anyNull
        case .arithmetic(let op, let kind, let dst, let a, let b):
            propagateNulls(n, dst: dst, a, b)
            arithmetic(op, kind, n, dst: dst, a: a, b: b)
        case .negate(let kind, let dst, let src):
            let s = values[src], d = values[dst]
            switch kind {
            case .int32: VectorProgram.map1(n, s, d) { UInt64(bitPattern: Int64(0 &- Int32(truncatingIfNeeded: Int64(bitPattern: $0)))) }
            case .int64: VectorProgram.map1(n, s, d) { UInt64(bitPattern: 0 &- Int64(bitPattern: $0)) }
            case .float32, .float64: VectorProgram.map1(n, s, d) { (-Double(bitPattern: $0)).bitPattern }
            }
            copyNulls(n, dst: dst, src: src)
        case .compareInteger(let op, let dst, let a, let b):
            let x = values[a], y = values[b], d = values[dst]
            switch op {
            case .equal: VectorProgram.map2(n, x, y, d) { $0 == $1 ? 1 : 0 }
            case .notEqual: VectorProgram.map2(n, x, y, d) { $0 != $1 ? 1 : 0 }
            case .less: VectorProgram.map2(n, x, y, d) { Int64(bitPattern: $0) < Int64(bitPattern: $1) ? 1 : 0 }
            case .lessOrEqual: VectorProgram.map2(n, x, y, d) { Int64(bitPattern: $0) <= Int64(bitPattern: $1) ? 1 : 0 }
            case .greater: VectorProgram.map2(n, x, y, d) { Int64(bitPattern: $0) > Int64(bitPattern: $1) ? 1 : 0 }
            case .greaterOrEqual: VectorProgram.map2(n, x, y, d) { Int64(bitPattern: $0) >= Int64(bitPattern: $1) ? 1 : 0 }
            }
            maskComparisonNulls(n, dst: dst, a, b)
        case .compareDouble(let op, let dst, let a, let b):
            let x = values[a], y = values[b], d = values[dst]
            switch op {
            case .equal: VectorProgram.map2(n, x, y, d) { Double(bitPattern: $0) == Double(bitPattern: $1) ? 1 : 0 }
            case .notEqual: VectorProgram.map2(n, x, y, d) { Double(bitPattern: $0) != Double(bitPattern: $1) ? 1 : 0 }
            case .less: VectorProgram.map2(n, x, y, d) { Double(bitPattern: $0) < Double(bitPattern: $1) ? 1 : 0 }
            case .lessOrEqual: VectorProgram.map2(n, x, y, d) { Double(bitPattern: $0) <= Double(bitPattern: $1) ? 1 : 0 }
            case .greater: VectorProgram.map2(n, x, y, d) { Double(bitPattern: $0) > Double(bitPattern: $1) ? 1 : 0 }
            case .greaterOrEqual: VectorProgram.map2(n, x, y, d) { Double(bitPattern: $0) >= Double(bitPattern: $1) ? 1 : 0 }
            }
            maskComparisonNulls(n, dst: dst, a, b)
        case .compareString(let equal, let dst, let a, let b):
            let x = values[a], y = values[b], d = values[dst]
            withStringBases(batch) { batchBase, programBase in
                for i in 0..<n {
                    let sx = x[i], sy = y[i]
                    let lx = Int(truncatingIfNeeded: sx & 0xFFFF_FFFF), ly = Int(truncatingIfNeeded: sy & 0xFFFF_FFFF)
                    var same = lx == ly
                    if same && lx > 0 {
                        let px = VectorProgram.bytes(sx, batchBase, programBase)
                        let py = VectorProgram.bytes(sy, batchBase, programBase)
                        same = memcmp(px, py, lx) == 0
                    }
                    d[i] = same == equal ? 1 : 0
                }
            }
            maskComparisonNulls(n, dst: dst, a, b)
        case .and(let dst, let a, let b):
            let x = truthy(n, a), y = truthy(n, b), d = values[dst]
            VectorProgram.map2(n, x, y, d) { $0 & $1 }
            mayBeNull[dst] = false
        case .or(let dst, let a, let b):
            let x = truthy(n, a), y = truthy(n, b), d = values[dst]
            VectorProgram.map2(n, x, y, d) { $0 | $1 }
            mayBeNull[dst] = false
        case .not(let dst, let src):
            let x = truthy(n, src), d = values[dst]
            VectorProgram.map1(n, x, d) { $0 ^ 1 }
            mayBeNull[dst] = false
        case .isNull(let dst, let src):
            let d = values[dst]
            if mayBeNull[src] {
                let m = nulls[src]
                for i in 0..<n { d[i] = UInt64(m[i]) }
            } else {
                d.update(repeating: 0, count: n)
            }
            mayBeNull[dst] = false
        case .select(let dst, let condition, let a, let b):
            let c = truthy(n, condition), x = values[a], y = values[b], d = values[dst]
            for i in 0..<n { d[i] = c[i] != 0 ? x[i] : y[i] }
            let na = mayBeNull[a], nb = mayBeNull[b]
            mayBeNull[dst] = na || nb
            if na || nb {
                let m = nulls[dst], xm = nulls[a], ym = nulls[b]
                for i in 0..<n { m[i] = c[i] != 0 ? (na ? xm[i] : 0) : (nb ? ym[i] : 0) }
            }
        case .coalesce(let dst, let a, let b):
            let x = values[a], y = values[b], d = values[dst]
            guard mayBeNull[a] else {
                d.update(from: x, count: n)
                mayBeNull[dst] = false
                return
            }
            let xm = nulls[a], m = nulls[dst]
            for i in 0..<n { d[i] = xm[i] != 0 ? y[i] : x[i] }
            if mayBeNull[b] {
                let ym = nulls[b]
                for i in 0..<n { m[i] = xm[i] & ym[i] }
                mayBeNull[dst] = true
            } else {
                mayBeNull[dst] = false
            }
        case .inTable(let dst, let lookup):
            inTables[lookup].evaluate(batch, count: n, into: values[dst])
            mayBeNull[dst] = false
        case .call(let kernel, let dst, let arguments):
            runKernel(kernel, n, dst: dst, arguments, batch)
        case .extremum(let isMaximum, let kind, let dst, let a, let b):
            let x = values[a], y = values[b], d = values[dst]
            switch (kind, isMaximum) {
            case (.int32, true), (.int64, true):
                VectorProgram.map2(n, x, y, d) { Int64(bitPattern: $0) >= Int64(bitPattern: $1) ? $0 : $1 }
            case (.int32, false), (.int64, false):
                VectorProgram.map2(n, x, y, d) { Int64(bitPattern: $0) <= Int64(bitPattern: $1) ? $0 : $1 }
            case (_, true):
                VectorProgram.map2(n, x, y, d) { Double(bitPattern: $0) >= Double(bitPattern: $1) ? $0 : $1 }
            case (_, false):
                VectorProgram.map2(n, x, y, d) { Double(bitPattern: $0) <= Double(bitPattern: $1) ? $0 : $1 }
            }
            // Nulls are skipped: a null operand yields the other one; null only when both are.
            let na = mayBeNull[a], nb = mayBeNull[b]
            mayBeNull[dst] = na && nb
            if na || nb {
                let m = nulls[dst]
                let xm = nulls[a], ym = nulls[b]
                for i in 0..<n {
                    let xNull = na && xm[i] != 0, yNull = nb && ym[i] != 0
                    if xNull { d[i] = y[i] } else if yNull { d[i] = x[i] }
                    m[i] = xNull && yNull ? 1 : 0
                }
            }
        }
    }

    /// Runs extension kernel `k` over the batch; strings it makes go to the program's arena.
    private func runKernel(_ k: Int, _ n: Int, dst: Int, _ registers: [Int], _ batch: EventBatch) {
        let (kernel, types) = kernels[k]
        var arguments: [FunctionArgument] = []
        arguments.reserveCapacity(registers.count)
        for (a, r) in registers.enumerated() {
            arguments.append(FunctionArgument(values: values[r], nulls: mayBeNull[r] ? UnsafePointer(nulls[r]) : nil,
                                              type: types[a]))
        }
        var scratch = made
        made = []
        scratch.removeAll(keepingCapacity: true)
        let madeBase = arena.count
        let clock = clockMs
        let (bytes, resultMayBeNull): ([UInt8], Bool) = withStringBases(batch) { batchBase, programBase in
            batch.timestamps.withUnsafeBufferPointer { t in
                let input = FunctionInput(count: n, arguments: arguments, batchBase: batchBase, programBase: programBase,
                                          timestamps: t.baseAddress!, clockMs: clock)
                var output = FunctionOutput(count: n, values: values[dst], nulls: nulls[dst], made: scratch, madeBase: madeBase)
                kernel.run(input, &output)
                return (output.made, output.mayBeNull)
            }
        }
        mayBeNull[dst] = resultMayBeNull
        if !bytes.isEmpty { arena.append(contentsOf: bytes) }
        made = bytes
    }

    /// Base addresses of the batch's and the program's string arenas (never nil, even when empty).
    @inline(__always)
    private func withStringBases<R>(_ batch: EventBatch,
                                    _ body: (UnsafePointer<UInt8>, UnsafePointer<UInt8>) -> R) -> R {
        // One extra byte keeps base addresses valid for empty arenas; it is never read.
        batch.stringBytes.withUnsafeBufferPointer { b in
            arena.withUnsafeBufferPointer { p in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1) { empty in
                    body(b.baseAddress ?? UnsafePointer(empty.baseAddress!), p.baseAddress ?? UnsafePointer(empty.baseAddress!))
                }
            }
        }
    }

    /// Where the bytes of a string slot start.
    @inline(__always)
    private static func bytes(_ slot: UInt64, _ batchBase: UnsafePointer<UInt8>,
                              _ programBase: UnsafePointer<UInt8>) -> UnsafePointer<UInt8> {
        let offset = Int(truncatingIfNeeded: (slot >> 32) & 0x7FFF_FFFF)
        return (slot & programArenaBit != 0 ? programBase : batchBase) + offset
    }

    @inline(__always)
    private func copyNulls(_ n: Int, dst: Int, src: Int) {
        mayBeNull[dst] = mayBeNull[src]
        if mayBeNull[src] { nulls[dst].update(from: nulls[src], count: n) }
    }

    /// A comparison involving null is false (Siddhi's compare executors), and never null itself.
    @inline(__always)
    private func maskComparisonNulls(_ n: Int, dst: Int, _ a: Int, _ b: Int) {
        let d = values[dst]
        if mayBeNull[a] {
            let m = nulls[a]
            for i in 0..<n where m[i] != 0 { d[i] = 0 }
        }
        if mayBeNull[b] {
            let m = nulls[b]
            for i in 0..<n where m[i] != 0 { d[i] = 0 }
        }
        mayBeNull[dst] = false
    }

    /// Bool register with nulls read as false (Siddhi's and/or/not treat null as false). Normalises in place.
    @inline(__always)
    private func truthy(_ n: Int, _ r: Int) -> UnsafeMutablePointer<UInt64> {
        let v = values[r]
        if mayBeNull[r] {
            let m = nulls[r]
            for i in 0..<n where m[i] != 0 { v[i] = 0 }
            mayBeNull[r] = false
        }
        return v
    }

    private func markNull(_ dst: Int, _ i: Int, _ n: Int) {
        if !mayBeNull[dst] {
            nulls[dst].update(repeating: 0, count: n)
            mayBeNull[dst] = true
        }
        nulls[dst][i] = 1
    }

    /// Java's `(int)` / `(long)` of a double: truncation, saturation at the range ends, NaN → 0.
    @inline(__always)
    private static func javaInteger(_ d: Double, bits32: Bool) -> Int64 {
        if d.isNaN { return 0 }
        if bits32 {
            if d >= 2_147_483_647 { return Int64(Int32.max) }
            if d <= -2_147_483_648 { return Int64(Int32.min) }
        } else {
            if d >= 0x1p63 { return .max }
            if d <= -9_223_372_036_854_775_808 { return .min }
        }
        return Int64(d)
    }

    private func convert(_ op: ConvertOp, _ n: Int, dst: Int, src: Int, _ batch: EventBatch) {
        let s = values[src], d = values[dst]
        switch op {
        case .integerToInt:
            VectorProgram.map1(n, s, d) { UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: Int64(bitPattern: $0)))) }
        case .integerToFloat:
            VectorProgram.map1(n, s, d) { Double(Float(Int64(bitPattern: $0))).bitPattern }
        case .integerToDouble:
            VectorProgram.map1(n, s, d) { Double(Int64(bitPattern: $0)).bitPattern }
        case .integerToBool:
            VectorProgram.map1(n, s, d) { Int64(bitPattern: $0) == 1 ? 1 : 0 }
        case .realToInt:
            VectorProgram.map1(n, s, d) { UInt64(bitPattern: VectorProgram.javaInteger(Double(bitPattern: $0), bits32: true)) }
        case .realToLong:
            VectorProgram.map1(n, s, d) { UInt64(bitPattern: VectorProgram.javaInteger(Double(bitPattern: $0), bits32: false)) }
        case .doubleToFloat:
            VectorProgram.map1(n, s, d) { Double(Float(Double(bitPattern: $0))).bitPattern }
        case .realToBool:
            VectorProgram.map1(n, s, d) { Double(bitPattern: $0) == 1 ? 1 : 0 }
        case .boolToInteger:
            VectorProgram.map1(n, s, d) { $0 != 0 ? 1 : 0 }
        case .boolToReal:
            VectorProgram.map1(n, s, d) { ($0 != 0 ? 1.0 : 0.0).bitPattern }
        case .integerToString, .floatToString, .doubleToString, .boolToString:
            // Text is made per event into the program's arena; swap it out so appends do not go
            // through the class property.
            var bytes = arena
            arena = []
            let m: UnsafeMutablePointer<UInt8>? = mayBeNull[src] ? nulls[src] : nil
            for i in 0..<n {
                if let m, m[i] != 0 {
                    d[i] = 0
                    continue
                }
                let start = bytes.count
                switch op {
                case .integerToString: bytes.append(contentsOf: String(Int64(bitPattern: s[i])).utf8)
                case .floatToString: bytes.append(contentsOf: JavaText.string(Float(Double(bitPattern: s[i]))).utf8)
                case .doubleToString: bytes.append(contentsOf: JavaText.string(Double(bitPattern: s[i])).utf8)
                default: bytes.append(contentsOf: (s[i] != 0 ? "true" : "false").utf8)
                }
                precondition(bytes.count < 1 << 31, "converted strings over 2 GiB")
                d[i] = VectorProgram.programArenaBit | UInt64(start) << 32 | UInt64(bytes.count - start)
            }
            arena = bytes
        case .stringToInt, .stringToLong, .stringToFloat, .stringToDouble, .stringToBool:
            var failed: [Int] = []
            withStringBases(batch) { batchBase, programBase in
                for i in 0..<n {
                    let slot = s[i]
                    let text = UnsafeBufferPointer(start: VectorProgram.bytes(slot, batchBase, programBase),
                                                   count: Int(truncatingIfNeeded: slot & 0xFFFF_FFFF))
                    switch op {
                    case .stringToInt, .stringToLong:
                        if let v = JavaText.parseInteger(text, bits: op == .stringToInt ? 32 : 64) {
                            d[i] = UInt64(bitPattern: v)
                        } else {
                            d[i] = 0
                            failed.append(i)
                        }
                    case .stringToFloat:
                        if let t = JavaText.parseReal(text), let v = Float(t) {
                            d[i] = Double(v).bitPattern
                        } else {
                            d[i] = 0
                            failed.append(i)
                        }
                    case .stringToDouble:
                        if let t = JavaText.parseReal(text), let v = Double(t) {
                            d[i] = v.bitPattern
                        } else {
                            d[i] = 0
                            failed.append(i)
                        }
                    default:  // Boolean.parseBoolean: "true" in any case, anything else false
                        d[i] = text.count == 4 && (text[0] | 0x20) == UInt8(ascii: "t") && (text[1] | 0x20) == UInt8(ascii: "r")
                            && (text[2] | 0x20) == UInt8(ascii: "u") && (text[3] | 0x20) == UInt8(ascii: "e") ? 1 : 0
                    }
                }
            }
            // Unparsable text gives null (Siddhi catches the NumberFormatException).
            for i in failed where !(mayBeNull[dst] && nulls[dst][i] != 0) { markNull(dst, i, n) }
        }
    }

    private func arithmetic(_ op: ArithmeticOp, _ kind: NumericKind, _ n: Int, dst: Int, a: Int, b: Int) {
        let x = values[a], y = values[b], d = values[dst]
        @inline(__always) func i32(_ v: UInt64) -> Int32 { Int32(truncatingIfNeeded: Int64(bitPattern: v)) }
        @inline(__always) func i32bits(_ v: Int32) -> UInt64 { UInt64(bitPattern: Int64(v)) }
        @inline(__always) func f32(_ v: UInt64) -> Float { Float(Double(bitPattern: v)) }
        @inline(__always) func f32bits(_ v: Float) -> UInt64 { Double(v).bitPattern }
        @inline(__always) func f64(_ v: UInt64) -> Double { Double(bitPattern: v) }
        switch (kind, op) {
        case (.int32, .add): VectorProgram.map2(n, x, y, d) { i32bits(i32($0) &+ i32($1)) }
        case (.int32, .subtract): VectorProgram.map2(n, x, y, d) { i32bits(i32($0) &- i32($1)) }
        case (.int32, .multiply): VectorProgram.map2(n, x, y, d) { i32bits(i32($0) &* i32($1)) }
        case (.int32, .divide), (.int32, .modulo):
            // Java: truncating division, remainder takes the dividend's sign; MIN / -1 wraps; / 0 -> null here.
            for i in 0..<n {
                let p = i32(x[i]), q = i32(y[i])
                if q == 0 {
                    d[i] = 0
                    markNull(dst, i, n)
                } else {
                    d[i] = i32bits(op == .divide ? p.dividedReportingOverflow(by: q).partialValue
                                                 : p.remainderReportingOverflow(dividingBy: q).partialValue)
                }
            }
        case (.int64, .add): VectorProgram.map2(n, x, y, d) { UInt64(bitPattern: Int64(bitPattern: $0) &+ Int64(bitPattern: $1)) }
        case (.int64, .subtract): VectorProgram.map2(n, x, y, d) { UInt64(bitPattern: Int64(bitPattern: $0) &- Int64(bitPattern: $1)) }
        case (.int64, .multiply): VectorProgram.map2(n, x, y, d) { UInt64(bitPattern: Int64(bitPattern: $0) &* Int64(bitPattern: $1)) }
        case (.int64, .divide), (.int64, .modulo):
            for i in 0..<n {
                let p = Int64(bitPattern: x[i]), q = Int64(bitPattern: y[i])
                if q == 0 {
                    d[i] = 0
                    markNull(dst, i, n)
                } else {
                    d[i] = UInt64(bitPattern: op == .divide ? p.dividedReportingOverflow(by: q).partialValue
                                                            : p.remainderReportingOverflow(dividingBy: q).partialValue)
                }
            }
        case (.float32, .add): VectorProgram.map2(n, x, y, d) { f32bits(f32($0) + f32($1)) }
        case (.float32, .subtract): VectorProgram.map2(n, x, y, d) { f32bits(f32($0) - f32($1)) }
        case (.float32, .multiply): VectorProgram.map2(n, x, y, d) { f32bits(f32($0) * f32($1)) }
        case (.float32, .divide): VectorProgram.map2(n, x, y, d) { f32bits(f32($0) / f32($1)) }
        case (.float32, .modulo): VectorProgram.map2(n, x, y, d) { f32bits(f32($0).truncatingRemainder(dividingBy: f32($1))) }
        case (.float64, .add): VectorProgram.map2(n, x, y, d) { (f64($0) + f64($1)).bitPattern }
        case (.float64, .subtract): VectorProgram.map2(n, x, y, d) { (f64($0) - f64($1)).bitPattern }
        case (.float64, .multiply): VectorProgram.map2(n, x, y, d) { (f64($0) * f64($1)).bitPattern }
        case (.float64, .divide): VectorProgram.map2(n, x, y, d) { (f64($0) / f64($1)).bitPattern }
        case (.float64, .modulo): VectorProgram.map2(n, x, y, d) { f64($0).truncatingRemainder(dividingBy: f64($1)).bitPattern }
        }
    }
}
