import Foundation

/// `math:` (siddhi-execution-math) functions. As in the extension, numeric arguments are widened
/// to double and most results are doubles; a null argument gives null.
enum MathFunction: UInt8, CaseIterable {
    case abs, acos, asin, atan, bin, cbrt, ceil, conv, copySign, cos, cosh, e, exp, floor, getExponent, hex
    case isInfinite, isNan, ln, log, log10, log2, max, min, oct, parseDouble, parseFloat, parseInt, parseLong
    case pi, power, rand, round, signum, sin, sinh, sqrt, tan, tanh, toDegrees, toRadians

    static func check(_ name: String, _ types: [AttributeType?], _ constants: [Value?]) -> ExtensionSignature {
        guard let f = allCases.first(where: { "\($0)".lowercased() == name.lowercased() }) else {
            if name.lowercased() == "percentile" { return .error("percentile (an aggregate) is not supported yet") }
            return .unknown
        }
        typealias A = ExtensionArguments
        let n = types.count, r = f.rawValue
        func num(_ i: Int) -> String? { A.expect(types, i, A.numeric, "a number") }
        switch f {
        case .acos, .asin, .abs, .cbrt, .cos, .cosh, .exp, .floor, .ln, .log10, .log2, .sin, .sinh, .sqrt, .tan, .tanh,
             .toDegrees, .toRadians:
            return A.verdict(r, .double, A.arity(n, 1...1), num(0))
        case .ceil: return A.verdict(r, .double, A.arity(n, 1...1), A.expect(types, 0, A.real, "a float or double"))
        case .atan: return A.verdict(r, .double, A.arity(n, 1...2), num(0), n > 1 ? num(1) : nil)
        case .copySign, .log, .max, .min, .power: return A.verdict(r, .double, A.arity(n, 2...2), num(0), num(1))
        case .e, .pi: return A.verdict(r, .double, A.arity(n, 0...0))
        case .getExponent, .signum: return A.verdict(r, .int, A.arity(n, 1...1), num(0))
        case .bin, .oct, .hex:
            return A.verdict(r, .string, A.arity(n, 1...1), A.expect(types, 0, A.integer, "an int or long"))
        case .conv:
            return A.verdict(r, .string, A.arity(n, 3...3), A.expect(types, 0, A.text, "a string"),
                             A.expect(types, 1, [.int], "an int (the base)"), A.expect(types, 2, [.int], "an int (the base)"))
        case .isInfinite, .isNan:
            return A.verdict(r, .bool, A.arity(n, 1...1), A.expect(types, 0, A.real, "a float or double"))
        case .parseDouble, .parseFloat, .parseInt, .parseLong:
            let result: AttributeType = switch f {
            case .parseDouble: .double
            case .parseFloat: .float
            case .parseInt: .int
            default: .long
            }
            return A.verdict(r, result, A.arity(n, 1...1), A.expect(types, 0, A.text, "a string"))
        case .rand:
            if let e = A.arity(n, 0...1) { return .error(e) }
            if n == 1 {
                if let e = A.expect(types, 0, A.integer, "an int or long (the seed)") { return .error(e) }
                guard constants[0] != nil, constants[0] != .null else { return .error("the seed must be a constant") }
            }
            return .ok(function: r, result: .double)
        case .round:
            if let e = A.arity(n, 1...1) ?? A.expect(types, 0, A.real, "a float or double") { return .error(e) }
            return .ok(function: r, result: types[0] == .float ? .int : .long)
        }
    }
}

/// Kernel of the `math:` functions.
final class MathKernel: FunctionKernel {
    private let function: MathFunction
    private let types: [AttributeType?]
    /// `java.util.Random`'s state for `rand` (48-bit LCG), seeded or from the system generator.
    private var seed: UInt64

    init(_ call: ExtensionCall) {
        function = MathFunction(rawValue: call.function)!
        types = call.argumentTypes
        var s: Int64
        switch call.constants.first ?? nil {
        case .int(let v)?: s = Int64(v)
        case .long(let v)?: s = v
        default:
            var g = SystemRandomNumberGenerator()
            s = Int64(bitPattern: g.next())
        }
        seed = (UInt64(bitPattern: s) ^ 0x5DEECE66D) & ((1 << 48) - 1)
    }

    /// `Random.next(bits)`.
    @inline(__always)
    private func next(_ bits: Int) -> Int64 {
        seed = (seed &* 0x5DEECE66D &+ 0xB) & ((1 << 48) - 1)
        return Int64(Int32(truncatingIfNeeded: Int64(seed >> UInt64(48 - bits))))
    }

    /// Applies `f` to argument 0 widened to double; null stays null.
    @inline(__always)
    private static func unary(_ args: FunctionInput, _ result: inout FunctionOutput, _ f: (Double) -> Double) {
        for i in 0..<args.count {
            if args.isNull(0, i) { result.setNull(i) } else { result.setDouble(i, f(args.double(0, i))) }
        }
    }

    @inline(__always)
    private static func binary(_ args: FunctionInput, _ result: inout FunctionOutput, _ f: (Double, Double) -> Double) {
        for i in 0..<args.count {
            if args.anyNull(i) { result.setNull(i) } else { result.setDouble(i, f(args.double(0, i), args.double(1, i))) }
        }
    }

    func run(_ args: FunctionInput, _ result: inout FunctionOutput) {
        let n = args.count
        switch function {
        case .abs: MathKernel.unary(args, &result) { Swift.abs($0) }
        case .acos: MathKernel.unary(args, &result) { Foundation.acos($0) }
        case .asin: MathKernel.unary(args, &result) { Foundation.asin($0) }
        case .atan:
            if args.arguments.count == 2 {
                MathKernel.binary(args, &result) { Foundation.atan2($0, $1) }
            } else {
                MathKernel.unary(args, &result) { Foundation.atan($0) }
            }
        case .cbrt: MathKernel.unary(args, &result) { MathKernel.cubeRoot($0) }
        case .ceil: MathKernel.unary(args, &result) { $0.rounded(.up) }
        case .floor: MathKernel.unary(args, &result) { $0.rounded(.down) }
        case .cos: MathKernel.unary(args, &result) { Foundation.cos($0) }
        case .cosh: MathKernel.unary(args, &result) { Foundation.cosh($0) }
        case .exp: MathKernel.unary(args, &result) { Foundation.exp($0) }
        case .ln: MathKernel.unary(args, &result) { Foundation.log($0) }
        case .log10: MathKernel.unary(args, &result) { Foundation.log10($0) }
        case .log2: MathKernel.unary(args, &result) { Foundation.log($0) / Foundation.log(2.0) }
        case .sin: MathKernel.unary(args, &result) { Foundation.sin($0) }
        case .sinh: MathKernel.unary(args, &result) { Foundation.sinh($0) }
        case .sqrt: MathKernel.unary(args, &result) { $0.squareRoot() }
        case .tan: MathKernel.unary(args, &result) { Foundation.tan($0) }
        case .tanh: MathKernel.unary(args, &result) { Foundation.tanh($0) }
        case .toDegrees: MathKernel.unary(args, &result) { $0 * 57.29577951308232 }
        case .toRadians: MathKernel.unary(args, &result) { $0 * 0.017453292519943295 }
        case .copySign: MathKernel.binary(args, &result) { Double(signOf: $1, magnitudeOf: $0) }
        case .log: MathKernel.binary(args, &result) { Foundation.log($0) / Foundation.log($1) }
        case .max: MathKernel.binary(args, &result) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
        case .min: MathKernel.binary(args, &result) { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
        case .power: MathKernel.binary(args, &result) { Foundation.pow($0, $1) }
        case .e: for i in 0..<n { result.setDouble(i, M_E) }
        case .pi: for i in 0..<n { result.setDouble(i, Double.pi) }
        case .rand:
            for i in 0..<n { result.setDouble(i, Double((next(26) << 27) + next(27)) * 0x1.0p-53) }
        case .getExponent:
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                let d = args.double(0, i)
                // Math.getExponent: unbiased exponent; NaN/infinity 1024, zero/subnormal -1023.
                let biased = Int64((d.bitPattern >> 52) & 0x7FF)
                result.setInt(i, biased - 1023)
            }
        case .signum:
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                let d = args.double(0, i)
                result.setInt(i, d > 0 ? 1 : d < 0 ? -1 : 0)
            }
        case .round:
            let isFloat = types[0] == .float
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                let d = args.double(0, i)
                result.setInt(i, isFloat ? Int64(MathKernel.javaRound(Float(d))) : MathKernel.javaRound(d))
            }
        case .isInfinite, .isNan:
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setBool(i, false); continue }
                let d = args.double(0, i)
                result.setBool(i, function == .isNan ? d.isNaN : d.isInfinite)
            }
        case .bin, .oct, .hex:
            let radix = function == .bin ? 2 : function == .oct ? 8 : 16
            let is32 = types[0] == .int
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                let v = args.integer(0, i)
                // Integer/Long.toXxxString: the two's complement bits as unsigned.
                let unsigned: UInt64 = is32 ? UInt64(UInt32(truncatingIfNeeded: v)) : UInt64(bitPattern: v)
                result.setText(i, string: String(unsigned, radix: radix))
            }
        case .conv:
            for i in 0..<n {
                guard !args.anyNull(i) else { result.setNull(i); continue }
                let from = Int(args.integer(1, i)), to = Int(args.integer(2, i))
                guard (2...36).contains(from), let v = MathKernel.javaParseInt(args.string(0, i), radix: from) else {
                    result.setNull(i)
                    continue
                }
                result.setText(i, string: String(v, radix: (2...36).contains(to) ? to : 10))
            }
        case .parseInt, .parseLong:
            let bits = function == .parseInt ? 32 : 64
            for i in 0..<n {
                guard !args.isNull(0, i), let v = JavaText.parseInteger(args.text(0, i), bits: bits) else { result.setNull(i); continue }
                result.setInt(i, v)
            }
        case .parseDouble, .parseFloat:
            for i in 0..<n {
                guard !args.isNull(0, i), let t = JavaText.parseReal(args.text(0, i)) else { result.setNull(i); continue }
                if function == .parseFloat, let f = Float(t) {
                    result.setFloat(i, f)
                } else if function == .parseDouble, let d = Double(t) {
                    result.setDouble(i, d)
                } else {
                    result.setNull(i)
                }
            }
        }
    }

    /// Java `Math.cbrt`: the C library's cube root, polished by one Newton step (exact cubes come out exact).
    static func cubeRoot(_ x: Double) -> Double {
        let r = Foundation.cbrt(x)
        guard r.isFinite, r != 0 else { return r }
        let polished = r - (r * r * r - x) / (3 * r * r)
        return abs(polished * polished * polished - x) < abs(r * r * r - x) ? polished : r
    }

    /// Java `Math.round(double)`: ties toward positive infinity, NaN → 0, saturating.
    static func javaRound(_ d: Double) -> Int64 {
        if d.isNaN { return 0 }
        let f = d.rounded(.down)
        let r = d - f >= 0.5 ? f + 1 : f
        if r >= 0x1p63 { return .max }
        if r < -0x1p63 { return .min }
        return Int64(r)
    }

    /// Java `Math.round(float)` (an int).
    static func javaRound(_ x: Float) -> Int32 {
        if x.isNaN { return 0 }
        let f = x.rounded(.down)
        let r = x - f >= 0.5 ? f + 1 : f
        if r >= 0x1p31 { return .max }
        if r < -0x1p31 { return .min }
        return Int32(r)
    }

    /// Java `Integer.parseInt(s, radix)`.
    static func javaParseInt(_ s: String, radix: Int) -> Int32? {
        var body = Substring(s)
        if body.first == "+" { body = body.dropFirst() }
        guard !body.isEmpty, body.first != "+" else { return nil }
        return Int32(s.first == "+" ? String(body) : s, radix: radix)
    }
}
