import Foundation

/// A typed expression compiled into register instructions that each run over a whole batch.
///
/// Dispatch happens once per instruction per batch; the loops inside touch only raw `UInt64`
/// slots (`Int64` or `Double` bit patterns, as `EventBatch` stores them) and byte null masks, so
/// evaluation does no per-event allocation, ARC traffic or dynamic dispatch.
final class VectorProgram {
    enum NumericKind: UInt8 { case int32, int64, float32, float64 }
    enum ArithmeticOp: UInt8 { case add, subtract, multiply, divide, modulo }
    enum CompareOp: UInt8 { case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual }
    /// Where the bytes of a string register's slots live.
    enum StringArena { case batch, constants }

    enum Instruction {
        case load(dst: Int, column: Int)
        case widenIntegerToFloat(dst: Int, src: Int)    // int/long -> float (rounded to Float)
        case widenIntegerToDouble(dst: Int, src: Int)   // int/long -> double
        case arithmetic(ArithmeticOp, NumericKind, dst: Int, a: Int, b: Int)
        case negate(NumericKind, dst: Int, src: Int)
        case compareInteger(CompareOp, dst: Int, a: Int, b: Int)
        case compareDouble(CompareOp, dst: Int, a: Int, b: Int)
        case compareString(equal: Bool, dst: Int, a: Int, b: Int)
        case and(dst: Int, a: Int, b: Int)
        case or(dst: Int, a: Int, b: Int)
        case not(dst: Int, src: Int)
        case isNull(dst: Int, src: Int)
    }

    private(set) var instructions: [Instruction] = []
    /// The register holding the result after `evaluate`.
    private(set) var result = 0
    let resultType: AttributeType

    // Registers: raw buffers of `capacity` slots, reused for every batch.
    private var values: [UnsafeMutablePointer<UInt64>] = []
    private var nulls: [UnsafeMutablePointer<UInt8>] = []
    /// Per batch: whether a register may hold a null (its mask is only valid when true).
    private var mayBeNull: [Bool] = []
    private var arenas: [StringArena] = []
    /// Constant registers: (register, slot bits, is null), filled whenever capacity grows.
    private var constants: [(Int, UInt64, Bool)] = []
    private var constantBytes: [UInt8] = []
    private var capacity = 0

    init(_ expression: TypedExpression) {
        resultType = expression.type ?? .bool
        result = emit(expression)
    }

    deinit {
        for p in values { p.deallocate() }
        for p in nulls { p.deallocate() }
    }

    // MARK: Compilation

    private func newRegister(_ arena: StringArena = .batch) -> Int {
        values.append(UnsafeMutablePointer<UInt64>.allocate(capacity: 1))
        nulls.append(UnsafeMutablePointer<UInt8>.allocate(capacity: 1))
        mayBeNull.append(false)
        arenas.append(arena)
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

    private func emit(_ e: TypedExpression) -> Int {
        switch e {
        case .aggregate:
            preconditionFailure("aggregates are computed by the query's aggregators, not by vector programs")
        case .column(let column, _):
            let r = newRegister()
            instructions.append(.load(dst: r, column: column))
            return r
        case .constant(let value, _):
            var bits: UInt64 = 0
            var isNull = false
            var arena = StringArena.batch
            switch value {
            case .int(let v): bits = UInt64(bitPattern: Int64(v))
            case .long(let v): bits = UInt64(bitPattern: v)
            case .float(let v): bits = Double(v).bitPattern
            case .double(let v): bits = v.bitPattern
            case .bool(let v): bits = v ? 1 : 0
            case .string(let s):
                arena = .constants
                bits = UInt64(constantBytes.count) << 32 | UInt64(s.utf8.count)
                constantBytes.append(contentsOf: s.utf8)
            case .null: isNull = true
            }
            let r = newRegister(arena)
            constants.append((r, bits, isNull))
            return r
        case .widen(let inner, let from, let to):
            let src = emit(inner)
            let fromInteger = from == .int || from == .long
            if !fromInteger || to == .long { return src }  // int->long and float->double keep their bits
            let r = newRegister()
            instructions.append(to == .float ? .widenIntegerToFloat(dst: r, src: src) : .widenIntegerToDouble(dst: r, src: src))
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
            case .string: instructions.append(.compareString(equal: op == .equal, dst: r, a: a, b: b))
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
        ensureCapacity(n)
        for (r, _, isNull) in constants { mayBeNull[r] = isNull }
        batch.stringBytes.withUnsafeBufferPointer { batchBytes in
            constantBytes.withUnsafeBufferPointer { constBytes in
                for instruction in instructions {
                    run(instruction, n, batch, batchBytes, constBytes)
                }
            }
        }
    }

    var resultValues: UnsafePointer<UInt64> { UnsafePointer(values[result]) }
    /// Null mask of the result, or nil when no result slot is null.
    var resultNulls: UnsafePointer<UInt8>? { mayBeNull[result] ? UnsafePointer(nulls[result]) : nil }

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

    private func run(_ instruction: Instruction, _ n: Int, _ batch: EventBatch,
                     _ batchBytes: UnsafeBufferPointer<UInt8>, _ constBytes: UnsafeBufferPointer<UInt8>) {
        switch instruction {
        case .load(let dst, let column):
            batch.columns[column].withUnsafeBufferPointer { values[dst].update(from: $0.baseAddress!, count: n) }
            let columnNulls = batch.nulls[column]
            mayBeNull[dst] = !columnNulls.isEmpty
            if !columnNulls.isEmpty {
                columnNulls.withUnsafeBufferPointer { nulls[dst].update(from: $0.baseAddress!, count: n) }
            }
        case .widenIntegerToFloat(let dst, let src):
            let s = values[src], d = values[dst]
            for i in 0..<n { d[i] = Double(Float(Int64(bitPattern: s[i]))).bitPattern }
            copyNulls(n, dst: dst, src: src)
        case .widenIntegerToDouble(let dst, let src):
            let s = values[src], d = values[dst]
            for i in 0..<n { d[i] = Double(Int64(bitPattern: s[i])).bitPattern }
            copyNulls(n, dst: dst, src: src)
        case .arithmetic(let op, let kind, let dst, let a, let b):
            propagateNulls(n, dst: dst, a, b)
            arithmetic(op, kind, n, dst: dst, a: a, b: b)
        case .negate(let kind, let dst, let src):
            let s = values[src], d = values[dst]
            switch kind {
            case .int32: for i in 0..<n { d[i] = UInt64(bitPattern: Int64(0 &- Int32(truncatingIfNeeded: Int64(bitPattern: s[i])))) }
            case .int64: for i in 0..<n { d[i] = UInt64(bitPattern: 0 &- Int64(bitPattern: s[i])) }
            case .float32, .float64: for i in 0..<n { d[i] = (-Double(bitPattern: s[i])).bitPattern }
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
            let xb = arenas[a] == .constants ? constBytes : batchBytes
            let yb = arenas[b] == .constants ? constBytes : batchBytes
            for i in 0..<n {
                let sx = x[i], sy = y[i]
                let lx = Int(sx & 0xFFFF_FFFF), ly = Int(sy & 0xFFFF_FFFF)
                var same = lx == ly
                if same && lx > 0 {
                    same = memcmp(xb.baseAddress! + Int(sx >> 32), yb.baseAddress! + Int(sy >> 32), lx) == 0
                }
                d[i] = same == equal ? 1 : 0
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
            for i in 0..<n { d[i] = x[i] ^ 1 }
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
        }
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
        for r in [a, b] where mayBeNull[r] {
            let m = nulls[r]
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
