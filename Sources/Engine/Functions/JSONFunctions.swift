/// `json:` (siddhi-execution-json) functions over JSON text: a `string` holding JSON or an
/// `object` (Tandem's objects are JSON text). Paths are definite JSON paths (`$.a.b[0]`,
/// `$['a']`); values are found by scanning the text (`JSONText`), not by building a tree.
enum JSONFunction: UInt8, CaseIterable {
    case getBool, getDouble, getFloat, getInt, getLong, getObject, getString, isExists, setElement, toObject, toString

    static func check(_ name: String, _ types: [AttributeType?], _ constants: [Value?]) -> ExtensionSignature {
        guard let f = allCases.first(where: { "\($0)".lowercased() == name.lowercased() }) else {
            if ["group", "groupasobject"].contains(name.lowercased()) { return .error("\(name) (an aggregate) is not supported yet") }
            if ["tokenize", "tokenizeasobject"].contains(name.lowercased()) { return .error("\(name) (a stream function) is not supported yet") }
            return .unknown
        }
        typealias A = ExtensionArguments
        let n = types.count, r = f.rawValue
        let json = A.expect(types, 0, A.textOrObject, "JSON (a string or object)")
        var path: String? = nil
        if n > 1, f != .toString {
            if let e = A.expect(types, 1, A.text, "a JSON path string") { return .error(e) }
            if case .string(let p)? = constants[1], JSONText.path(p) == nil {
                path = "'\(p)' is not a JSON path Tandem supports: $ followed by .name, ['name'] or [index] steps"
            }
        }
        switch f {
        case .getBool: return A.verdict(r, .bool, A.arity(n, 2...2), json, path)
        case .getDouble: return A.verdict(r, .double, A.arity(n, 2...2), json, path)
        case .getFloat: return A.verdict(r, .float, A.arity(n, 2...2), json, path)
        case .getInt: return A.verdict(r, .int, A.arity(n, 2...2), json, path)
        case .getLong: return A.verdict(r, .long, A.arity(n, 2...2), json, path)
        case .getObject: return A.verdict(r, .object, A.arity(n, 2...2), json, path)
        case .getString: return A.verdict(r, .string, A.arity(n, 2...2), json, path)
        case .isExists: return A.verdict(r, .bool, A.arity(n, 2...2), json, path)
        case .setElement: return A.verdict(r, .object, A.arity(n, 3...4), json, path, A.expect(types, 3, A.text, "a string (the key)"))
        case .toObject: return A.verdict(r, .object, A.arity(n, 1...1), A.expect(types, 0, A.text, "a string"))
        case .toString: return A.verdict(r, .string, A.arity(n, 1...2), A.expect(types, 1, [.bool], "a bool (allowEscape)"))
        }
    }
}

/// Kernel of the `json:` functions.
final class JSONKernel: FunctionKernel {
    private let function: JSONFunction
    private let types: [AttributeType?]
    private let constantPath: [JSONText.Step]?
    private var paths: [String: [JSONText.Step]] = [:]

    init(_ call: ExtensionCall) {
        function = JSONFunction(rawValue: call.function)!
        types = call.argumentTypes
        constantPath = call.constantText(1).flatMap(JSONText.path)
    }

    private func path(_ args: FunctionInput, _ i: Int) -> [JSONText.Step]? {
        if let constantPath { return constantPath }
        let text = args.string(1, i)
        if let p = paths[text] { return p }
        guard let p = JSONText.path(text) else { return nil }
        if paths.count > 64 { paths.removeAll() }
        paths[text] = p
        return p
    }

    /// What the value at `r` reads as in Java's `toString()` of the json-smart value: a string's
    /// content, a number's or literal's text.
    private static func scalarText(_ t: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        if t[r.lowerBound] == UInt8(ascii: "\"") {
            let inner = r.lowerBound + 1..<r.upperBound - 1
            if !t[inner].contains(UInt8(ascii: "\\")) {
                body(UnsafeBufferPointer(rebasing: t[inner]))
                return
            }
            var out: [UInt8] = []
            JSONText.unescape(t, inner, into: &out)
            out.withUnsafeBufferPointer(body)
            return
        }
        body(UnsafeBufferPointer(rebasing: t[r]))
    }

    /// A one-element array stands for its element (json-path returns lists for such matches).
    private static func single(_ t: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Range<Int>? {
        guard t[r.lowerBound] == UInt8(ascii: "[") else { return r }
        var all: [Range<Int>] = []
        JSONText.elements(t, r) { all.append($0); return all.count < 2 }
        return all.count == 1 ? all[0] : nil
    }

    private static func isNullLiteral(_ t: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        t[r.lowerBound] == UInt8(ascii: "n")
    }

    func run(_ args: FunctionInput, _ result: inout FunctionOutput) {
        let n = args.count
        switch function {
        case .toObject:
            for i in 0..<n {
                guard !args.isNull(0, i) else { result.setNull(i); continue }
                let t = args.text(0, i)
                guard let r = JSONText.root(t) else { result.setNull(i); continue }
                result.setText(i) { JSONText.appendCompact(t, r, into: &$0) }
            }
            return
        case .toString:
            for i in 0..<n {
                guard !args.anyNull(i) else { result.setNull(i); continue }
                var text: [UInt8] = []
                if types[0] == .object {
                    let t = args.text(0, i)
                    if let r = JSONText.root(t) { JSONText.appendCompact(t, r, into: &text) } else { text.append(contentsOf: t) }
                } else {
                    JSONText.appendValue(args, 0, i, into: &text)
                }
                if args.arguments.count == 2 && args.bits(1, i) != 0 {
                    result.setText(i) { out in text.withUnsafeBufferPointer { SetText.quote($0, into: &out) } }
                } else {
                    result.setText(i, bytes: text)
                }
            }
            return
        default: break
        }
        for i in 0..<n {
            let isBool = function == .getBool || function == .isExists
            guard !args.isNull(0, i), !args.isNull(1, i), let steps = path(args, i) else {
                if isBool { result.setBool(i, false) } else { result.setNull(i) }
                continue
            }
            let t = args.text(0, i)
            let found = JSONText.locate(t, steps)
            switch function {
            case .isExists:
                result.setBool(i, found != nil)
            case .getString:
                guard let r = found, !JSONKernel.isNullLiteral(t, r) else { result.setNull(i); continue }
                if t[r.lowerBound] == UInt8(ascii: "\"") {
                    let inner = r.lowerBound + 1..<r.upperBound - 1
                    if !t[inner].contains(UInt8(ascii: "\\")) {
                        result.setSlice(i, slot: args.bits(0, i), inner)
                    } else {
                        result.setText(i) { JSONText.unescape(t, inner, into: &$0) }
                    }
                } else if t[r.lowerBound] == UInt8(ascii: "{") || t[r.lowerBound] == UInt8(ascii: "[") {
                    result.setText(i) { JSONText.appendCompact(t, r, into: &$0) }
                } else {
                    JSONKernel.appendNumberText(t, r, i, &result)
                }
            case .getObject:
                guard let r = found, !JSONKernel.isNullLiteral(t, r) else { result.setNull(i); continue }
                let value = JSONKernel.single(t, r) ?? r
                result.setText(i) { JSONText.appendCompact(t, value, into: &$0) }
            case .getInt, .getLong:
                guard let f = found, let r = JSONKernel.single(t, f), !JSONKernel.isNullLiteral(t, r) else { result.setNull(i); continue }
                var value: Int64? = nil
                JSONKernel.scalarText(t, r) { value = JavaText.parseInteger($0, bits: function == .getInt ? 32 : 64) }
                if let value { result.setInt(i, value) } else { result.setNull(i) }
            case .getDouble, .getFloat:
                guard let f = found, let r = JSONKernel.single(t, f), !JSONKernel.isNullLiteral(t, r) else { result.setNull(i); continue }
                var value: Double? = nil
                JSONKernel.scalarText(t, r) { text in value = JavaText.parseReal(text).flatMap { Double($0) } }
                if let value {
                    if function == .getFloat { result.setFloat(i, Float(value)) } else { result.setDouble(i, value) }
                } else {
                    result.setNull(i)
                }
            case .getBool:
                guard let f = found, let r = JSONKernel.single(t, f) else { result.setBool(i, false); continue }
                var value = false
                JSONKernel.scalarText(t, r) { text in
                    value = text.count == 4 && zip(text, "true".utf8).allSatisfy { ($0 | 0x20) == $1 }
                }
                result.setBool(i, value)
            case .setElement:
                setElement(args, t, found, i, &result)
            default: break
            }
        }
    }

    /// A JSON number's text as Java prints the json-smart value: integers as written, others as a double.
    private static func appendNumberText(_ t: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ i: Int, _ result: inout FunctionOutput) {
        let isReal = t[r].contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        if isReal, let d = Double(String(decoding: t[r], as: UTF8.self)) {
            result.setText(i, string: JavaText.string(d))
        } else {
            result.setText(i) { $0.append(contentsOf: t[r]) }
        }
    }

    /// `setElement(json, path, value[, key])`: into an array appends, with a key puts into the
    /// object at the path, else replaces the value at the path. A missing path leaves the JSON as is.
    private func setElement(_ args: FunctionInput, _ t: UnsafeBufferPointer<UInt8>, _ found: Range<Int>?, _ i: Int,
                            _ result: inout FunctionOutput) {
        guard let root = JSONText.root(t) else { result.setNull(i); return }
        var value: [UInt8] = []
        if types[2] == .string, !args.isNull(2, i), let r = JSONText.root(args.text(2, i)),
           args.text(2, i)[r.lowerBound] == UInt8(ascii: "{") || args.text(2, i)[r.lowerBound] == UInt8(ascii: "[") {
            JSONText.appendCompact(args.text(2, i), r, into: &value)  // JSON text given as a string is JSON
        } else {
            JSONText.appendValue(args, 2, i, into: &value)
        }
        guard let target = found else {
            result.setText(i) { JSONText.appendCompact(t, root, into: &$0) }
            return
        }
        var edited: [UInt8] = []
        edited.append(contentsOf: t[root.lowerBound..<target.lowerBound])
        if t[target.lowerBound] == UInt8(ascii: "[") && args.arguments.count == 3 {
            var empty = true
            JSONText.elements(t, target) { _ in empty = false; return false }
            edited.append(contentsOf: t[target.lowerBound..<target.upperBound - 1])
            if !empty { edited.append(UInt8(ascii: ",")) }
            edited.append(contentsOf: value)
            edited.append(UInt8(ascii: "]"))
        } else if args.arguments.count == 4 {
            guard t[target.lowerBound] == UInt8(ascii: "{"), !args.isNull(3, i) else {
                result.setText(i) { JSONText.appendCompact(t, root, into: &$0) }
                return
            }
            let key = args.text(3, i)
            var existing: Range<Int>? = nil
            var empty = true
            JSONText.members(t, target) { k, v in
                empty = false
                if JSONText.keyEquals(t, k, key) { existing = v }
                return true
            }
            if let existing {
                edited.append(contentsOf: t[target.lowerBound..<existing.lowerBound])
                edited.append(contentsOf: value)
                edited.append(contentsOf: t[existing.upperBound..<target.upperBound])
            } else {
                edited.append(contentsOf: t[target.lowerBound..<target.upperBound - 1])
                if !empty { edited.append(UInt8(ascii: ",")) }
                SetText.quote(key, into: &edited)
                edited.append(UInt8(ascii: ":"))
                edited.append(contentsOf: value)
                edited.append(UInt8(ascii: "}"))
            }
        } else {
            edited.append(contentsOf: value)
        }
        edited.append(contentsOf: t[target.upperBound..<root.upperBound])
        edited.withUnsafeBufferPointer { e in result.setText(i) { JSONText.appendCompact(e, 0..<e.count, into: &$0) } }
    }
}
