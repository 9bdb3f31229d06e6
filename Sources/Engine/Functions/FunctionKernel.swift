/// Extension functions (`str:`, `math:`, `time:`, `json:`, `regex:`, `map:`) as batch-wide kernels.
///
/// The compiler turns a call into an `ExtensionCall` (a Sendable description: which function, the
/// argument types, the values of constant arguments). Each `VectorProgram` that evaluates the call
/// makes its own kernel from it (kernels keep per-program caches, e.g. compiled patterns), and runs
/// it once per batch over the argument registers: one dynamic call per batch, plain loops inside.

/// Which extension namespace a call belongs to.
enum ExtensionNamespace: String, Sendable, CaseIterable {
    case str, math, time, json, regex, map
}

/// A type-checked call of an extension function.
struct ExtensionCall: Sendable {
    let namespace: ExtensionNamespace
    /// The function's index in its namespace's function enum (`StringFunction`, …).
    let function: UInt8
    /// Static types of the arguments (nil: a `null` literal).
    let argumentTypes: [AttributeType?]
    /// The values of constant arguments (nil where the argument is not a constant).
    let constants: [Value?]
    let resultType: AttributeType

    /// A new kernel for one program.
    func makeKernel() -> FunctionKernel {
        switch namespace {
        case .str: StringKernel(self)
        case .math: MathKernel(self)
        case .time: TimeKernel(self)
        case .json: JSONKernel(self)
        case .regex: RegexKernel(self)
        case .map: MapKernel(self)
        }
    }

    /// The constant string argument `i`, if it is one.
    func constantText(_ i: Int) -> String? {
        guard i < constants.count, case .string(let s)? = constants[i] else { return nil }
        return s
    }
}

/// A batch-wide implementation of one extension function call.
protocol FunctionKernel: AnyObject {
    /// Fills `result` for every event of the batch from `args`.
    func run(_ args: FunctionInput, _ result: inout FunctionOutput)
}

/// One argument register of a kernel.
struct FunctionArgument {
    let values: UnsafePointer<UInt64>
    /// nil when no slot of the register is null.
    let nulls: UnsafePointer<UInt8>?
    /// nil for a `null` literal (every slot null).
    let type: AttributeType?
}

/// What a kernel reads for one batch: the argument registers and the string arenas they point into.
struct FunctionInput {
    let count: Int
    let arguments: [FunctionArgument]
    let batchBase: UnsafePointer<UInt8>
    let programBase: UnsafePointer<UInt8>
    /// Event timestamps of the batch.
    let timestamps: UnsafePointer<Int64>
    /// The engine clock for `now`-style functions: nil reads each event's timestamp (playback).
    let clockMs: Int64?

    @inline(__always)
    func isNull(_ a: Int, _ i: Int) -> Bool {
        let argument = arguments[a]
        guard argument.type != nil else { return true }
        if let m = argument.nulls { return m[i] != 0 }
        return false
    }

    /// Whether any of the arguments is null at event `i`.
    @inline(__always)
    func anyNull(_ i: Int) -> Bool {
        for a in arguments.indices where isNull(a, i) { return true }
        return false
    }

    @inline(__always)
    func bits(_ a: Int, _ i: Int) -> UInt64 { arguments[a].values[i] }

    /// The UTF-8 bytes of string (or object) argument `a` at event `i`.
    @inline(__always)
    func text(_ a: Int, _ i: Int) -> UnsafeBufferPointer<UInt8> {
        let slot = arguments[a].values[i]
        let offset = Int(truncatingIfNeeded: (slot >> 32) & 0x7FFF_FFFF)
        let base = slot & VectorProgram.programArenaBit != 0 ? programBase : batchBase
        return UnsafeBufferPointer(start: base + offset, count: Int(truncatingIfNeeded: slot & 0xFFFF_FFFF))
    }

    /// String argument `a` at event `i` as a Swift string (cold paths: regexes, Unicode case mapping).
    func string(_ a: Int, _ i: Int) -> String { String(decoding: text(a, i), as: UTF8.self) }

    /// Numeric argument `a` at event `i` as a double (Java's widening).
    @inline(__always)
    func double(_ a: Int, _ i: Int) -> Double {
        let b = arguments[a].values[i]
        switch arguments[a].type {
        case .int?, .long?: return Double(Int64(bitPattern: b))
        default: return Double(bitPattern: b)
        }
    }

    /// Integer argument `a` at event `i`.
    @inline(__always)
    func integer(_ a: Int, _ i: Int) -> Int64 { Int64(bitPattern: arguments[a].values[i]) }

    /// The clock reading for event `i` (see `clockMs`).
    @inline(__always)
    func now(_ i: Int) -> Int64 { clockMs ?? timestamps[i] }

    /// Any argument as the text Java's `String.valueOf` gives (for `str:concat` and map keys).
    func appendJavaText(_ a: Int, _ i: Int, to out: inout [UInt8]) {
        let b = arguments[a].values[i]
        switch arguments[a].type {
        case .int?, .long?: appendDecimal(Int64(bitPattern: b), to: &out)
        case .float?: out.append(contentsOf: JavaText.string(Float(Double(bitPattern: b))).utf8)
        case .double?: out.append(contentsOf: JavaText.string(Double(bitPattern: b)).utf8)
        case .bool?: out.append(contentsOf: b != 0 ? Self.trueBytes : Self.falseBytes)
        case .string?, .object?: out.append(contentsOf: text(a, i))
        case nil: out.append(contentsOf: Self.nullBytes)
        }
    }

    static let trueBytes: [UInt8] = Array("true".utf8)
    static let falseBytes: [UInt8] = Array("false".utf8)
    static let nullBytes: [UInt8] = Array("null".utf8)
}

/// What a kernel writes for one batch: the result register and the bytes of new strings (appended
/// to the program's arena, at `madeBase`, after the kernel ran).
struct FunctionOutput {
    let count: Int
    let values: UnsafeMutablePointer<UInt64>
    let nulls: UnsafeMutablePointer<UInt8>
    /// Set once a result slot is null (the mask is zeroed then).
    private(set) var mayBeNull = false
    var made: [UInt8]
    let madeBase: Int

    init(count: Int, values: UnsafeMutablePointer<UInt64>, nulls: UnsafeMutablePointer<UInt8>, made: [UInt8], madeBase: Int) {
        self.count = count
        self.values = values
        self.nulls = nulls
        self.made = made
        self.madeBase = madeBase
    }

    @inline(__always)
    mutating func setNull(_ i: Int) {
        if !mayBeNull {
            nulls.update(repeating: 0, count: count)
            mayBeNull = true
        }
        nulls[i] = 1
        values[i] = 0
    }

    @inline(__always)
    func setBits(_ i: Int, _ bits: UInt64) { values[i] = bits }
    @inline(__always)
    func setInt(_ i: Int, _ v: Int64) { values[i] = UInt64(bitPattern: v) }
    @inline(__always)
    func setDouble(_ i: Int, _ v: Double) { values[i] = v.bitPattern }
    @inline(__always)
    func setFloat(_ i: Int, _ v: Float) { values[i] = Double(v).bitPattern }
    @inline(__always)
    func setBool(_ i: Int, _ v: Bool) { values[i] = v ? 1 : 0 }

    /// Result `i` is the bytes `range` of the string in `slot` (no copy).
    @inline(__always)
    func setSlice(_ i: Int, slot: UInt64, _ range: Range<Int>) {
        let offset = (slot >> 32) & 0x7FFF_FFFF
        values[i] = (slot & VectorProgram.programArenaBit) | (offset + UInt64(range.lowerBound)) << 32 | UInt64(range.count)
    }

    /// The string result of event `i` is what `body` appends to `made`.
    @inline(__always)
    mutating func setText(_ i: Int, _ body: (inout [UInt8]) -> Void) {
        let start = made.count
        body(&made)
        precondition(madeBase + made.count < 1 << 31, "generated strings over 2 GiB")
        values[i] = VectorProgram.programArenaBit | UInt64(madeBase + start) << 32 | UInt64(made.count - start)
    }

    /// String result `i` is `bytes`.
    mutating func setText<C: Collection>(_ i: Int, bytes: C) where C.Element == UInt8 {
        setText(i) { $0.append(contentsOf: bytes) }
    }

    /// String result `i` is `s`.
    mutating func setText(_ i: Int, string s: String) {
        var s = s
        s.withUTF8 { u in setText(i) { $0.append(contentsOf: u) } }
    }
}

/// Decimal text of an integer without making a `String` (digits made in a stack buffer).
func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
    var magnitude = value.magnitude
    var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)
    withUnsafeMutableBytes(of: &buffer) { b in
        var k = 24
        repeat {
            k -= 1
            b[k] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if value < 0 {
            k -= 1
            b[k] = UInt8(ascii: "-")
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[k..<24]))
    }
}

/// Decimal text of `value` padded with zeros to at least `width` digits.
func appendPadded(_ value: Int, width: Int, to out: inout [UInt8]) {
    var v = value
    if v < 0 {
        out.append(UInt8(ascii: "-"))
        v = -v
    }
    var digits = 1, p = 10
    while p <= v { digits += 1; p *= 10 }
    if width > digits { for _ in 0..<(width - digits) { out.append(UInt8(ascii: "0")) } }
    appendDecimal(Int64(v), to: &out)
}

/// Whether every byte is ASCII (then UTF-16 indexes are byte indexes).
@inline(__always)
func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    for b in bytes where b >= 0x80 { return false }
    return true
}

extension ExtensionCall {
    /// Whether the function reads the engine clock (then the query supplies it).
    var readsClock: Bool { namespace == .time && TimeFunction.readsClock(function, argumentCount: argumentTypes.count) }
}
