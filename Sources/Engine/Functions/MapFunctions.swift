/// `map:` (siddhi-execution-map) functions on Tandem's `object` type. A map is carried as the
/// JSON text of an object, `{"key":value,…}`: keys are the keys' text (Java `String.valueOf`, so
/// `1` and `'1'` are one key), values keep their JSON type, entries keep insertion order (Siddhi's
/// `HashMap` has none). Every function makes a new map; none changes its argument in place.
enum MapFunction: UInt8, CaseIterable {
    case clear, containsKey, containsValue, create, createFromJSON, get, isEmpty, isMap, keys, put, putAll
    case putIfAbsent, remove, replace, size, toJSON, values

    static func check(_ name: String, _ types: [AttributeType?], _ constants: [Value?]) -> ExtensionSignature {
        guard let f = allCases.first(where: { "\($0)".lowercased() == name.lowercased() }) else {
            if ["collect", "merge"].contains(name.lowercased()) { return .error("\(name) (an aggregate) is not supported yet") }
            if ["createfromxml", "toxml", "replaceall", "combinebykey", "clone"].contains(name.lowercased()) {
                return .error("\(name) is not supported yet")
            }
            return .unknown
        }
        typealias A = ExtensionArguments
        let n = types.count, r = f.rawValue
        let map = A.expect(types, 0, [.object], "a map (object)")
        switch f {
        case .create:
            return n % 2 == 0 ? .ok(function: r, result: .object) : .error("takes keys and values in pairs, got \(n) arguments")
        case .createFromJSON: return A.verdict(r, .object, A.arity(n, 1...1), A.expect(types, 0, A.text, "a JSON string"))
        case .clear: return A.verdict(r, .object, A.arity(n, 1...1), map)
        case .containsKey, .containsValue: return A.verdict(r, .bool, A.arity(n, 2...2), map)
        case .get: return A.verdict(r, .object, A.arity(n, 2...3), map)
        case .isEmpty: return A.verdict(r, .bool, A.arity(n, 1...1), map)
        case .isMap: return A.verdict(r, .bool, A.arity(n, 1...1))
        case .keys, .values: return A.verdict(r, .object, A.arity(n, 1...1), map)
        case .put, .putIfAbsent, .replace: return A.verdict(r, .object, A.arity(n, 3...3), map)
        case .putAll: return A.verdict(r, .object, A.arity(n, 2...2), map, A.expect(types, 1, [.object], "a map (object)"))
        case .remove: return A.verdict(r, .object, A.arity(n, 2...Int.max), map)
        case .size: return A.verdict(r, .int, A.arity(n, 1...1), map)
        case .toJSON: return A.verdict(r, .string, A.arity(n, 1...1), map)
        }
    }
}

/// Kernel of the `map:` functions.
final class MapKernel: FunctionKernel {
    private let function: MapFunction

    init(_ call: ExtensionCall) {
        function = MapFunction(rawValue: call.function)!
    }

    /// A map's entries: key text (unescaped) and value JSON text.
    private typealias Entries = [(key: [UInt8], value: [UInt8])]

    /// The entries of the map in argument `a`; nil when it is not a JSON object.
    private static func entries(_ args: FunctionInput, _ a: Int, _ i: Int) -> Entries? {
        guard !args.isNull(a, i) else { return nil }
        let t = args.text(a, i)
        guard let r = JSONText.root(t), t[r.lowerBound] == UInt8(ascii: "{") else { return nil }
        var out: Entries = []
        JSONText.members(t, r) { k, v in
            var key: [UInt8] = []
            JSONText.unescape(t, k, into: &key)
            var value: [UInt8] = []
            JSONText.appendCompact(t, v, into: &value)
            set(&out, key, value)
            return true
        }
        return out
    }

    private static func set(_ entries: inout Entries, _ key: [UInt8], _ value: [UInt8]) {
        if let k = entries.firstIndex(where: { $0.key == key }) { entries[k].value = value } else { entries.append((key, value)) }
    }

    private static func key(_ args: FunctionInput, _ a: Int, _ i: Int) -> [UInt8] {
        var k: [UInt8] = []
        if args.isNull(a, i) { k.append(contentsOf: FunctionInput.nullBytes) } else { args.appendJavaText(a, i, to: &k) }
        return k
    }

    private static func value(_ args: FunctionInput, _ a: Int, _ i: Int) -> [UInt8] {
        var v: [UInt8] = []
        JSONText.appendValue(args, a, i, into: &v)
        return v
    }

    private static func write(_ entries: Entries, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (k, e) in entries.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            e.key.withUnsafeBufferPointer { SetText.quote($0, into: &out) }
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: e.value)
        }
        out.append(UInt8(ascii: "}"))
    }

    func run(_ args: FunctionInput, _ result: inout FunctionOutput) {
        let isBool = function == .containsKey || function == .containsValue || function == .isEmpty || function == .isMap
        for i in 0..<args.count {
            if function == .create {
                var entries: Entries = []
                for a in stride(from: 0, to: args.arguments.count, by: 2) {
                    MapKernel.set(&entries, MapKernel.key(args, a, i), MapKernel.value(args, a + 1, i))
                }
                result.setText(i) { MapKernel.write(entries, into: &$0) }
                continue
            }
            if function == .isMap {
                result.setBool(i, MapKernel.entries(args, 0, i) != nil)
                continue
            }
            if function == .createFromJSON {
                if let entries = MapKernel.entries(args, 0, i) {
                    result.setText(i) { MapKernel.write(entries, into: &$0) }
                } else {
                    result.setNull(i)
                }
                continue
            }
            guard var entries = MapKernel.entries(args, 0, i) else {
                if isBool { result.setBool(i, false) } else { result.setNull(i) }
                continue
            }
            switch function {
            case .get:
                let key = MapKernel.key(args, 1, i)
                if let e = entries.first(where: { $0.key == key }), e.value != FunctionInput.nullBytes {
                    result.setText(i, bytes: e.value)
                } else if args.arguments.count == 3, !args.isNull(2, i) {
                    result.setText(i, bytes: MapKernel.value(args, 2, i))
                } else {
                    result.setNull(i)
                }
                continue
            case .containsKey:
                let key = MapKernel.key(args, 1, i)
                result.setBool(i, entries.contains { $0.key == key })
                continue
            case .containsValue:
                let value = MapKernel.value(args, 1, i)
                result.setBool(i, entries.contains { $0.value == value })
                continue
            case .isEmpty:
                result.setBool(i, entries.isEmpty)
                continue
            case .size:
                result.setInt(i, Int64(entries.count))
                continue
            case .keys, .values:
                let keys = function == .keys
                result.setText(i) { out in
                    out.append(UInt8(ascii: "["))
                    for (k, e) in entries.enumerated() {
                        if k > 0 { out.append(UInt8(ascii: ",")) }
                        if keys { e.key.withUnsafeBufferPointer { SetText.quote($0, into: &out) } } else { out.append(contentsOf: e.value) }
                    }
                    out.append(UInt8(ascii: "]"))
                }
                continue
            case .clear: entries = []
            case .put: MapKernel.set(&entries, MapKernel.key(args, 1, i), MapKernel.value(args, 2, i))
            case .putIfAbsent:
                let key = MapKernel.key(args, 1, i)
                if !entries.contains(where: { $0.key == key }) { entries.append((key, MapKernel.value(args, 2, i))) }
            case .replace:
                let key = MapKernel.key(args, 1, i)
                if let k = entries.firstIndex(where: { $0.key == key }) { entries[k].value = MapKernel.value(args, 2, i) }
            case .putAll:
                for e in MapKernel.entries(args, 1, i) ?? [] { MapKernel.set(&entries, e.key, e.value) }
            case .remove:
                for a in 1..<args.arguments.count {
                    let key = MapKernel.key(args, a, i)
                    entries.removeAll { $0.key == key }
                }
            default: break
            }
            result.setText(i) { MapKernel.write(entries, into: &$0) }
        }
    }
}
