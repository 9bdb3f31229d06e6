@testable import Engine
import Testing

/// `regex:` and `map:` functions against siddhi-execution-regex and siddhi-execution-map.
@Suite struct RegexMapExtensionTests {
    @Test func regexFunctions() throws {
        let rows = try run("""
            define stream S (s string);
            from S select regex:matches('[a-z]+[0-9]*', s) as whole, regex:lookingAt('[a-z]+', s) as prefix,
                          regex:find('[0-9]+', s) as any, regex:find('[0-9]+', s, 4) as after4,
                          regex:group('([a-z]+)([0-9]+)', s, 2) as digits, regex:matches('a|ab', s) as alt
            insert into Out;
            """, [[.string("abc123")], [.string("ab")], [.string("123 x")], [.null]])
        #expect(rows == [
            [.bool(true), .bool(true), .bool(true), .bool(true), .string("123"), .bool(false)],
            [.bool(true), .bool(true), .bool(false), .bool(false), .null, .bool(true)],
            [.bool(false), .bool(false), .bool(true), .bool(false), .null, .bool(false)],
            [.bool(false), .bool(false), .bool(false), .bool(false), .null, .bool(false)],
        ])
    }

    @Test func mapFunctions() throws {
        let rows = try run("""
            define stream S (k1 string, v1 int, k2 string, v2 string, q string);
            from S select map:get(map:create(k1, v1, k2, v2), q) as got, map:get(map:create(k1, v1), q, -1) as orDefault,
                          map:containsKey(map:create(k1, v1, k2, v2), q) as has, map:size(map:create(k1, v1, k2, v2)) as size,
                          map:isEmpty(map:create()) as emptyNew, map:toJSON(map:put(map:create(k1, v1), 'z', true)) as json,
                          map:keys(map:remove(map:create(k1, v1, k2, v2), k1)) as keysLeft, map:values(map:create(k1, v1, k2, v2)) as vals,
                          map:containsValue(map:create(k1, v1), 1) as hasOne, map:isMap(map:createFromJSON('{"a":1}')) as isMap,
                          map:get(map:putIfAbsent(map:create(k1, v1), k1, 9), k1) as kept, map:get(map:replace(map:create(k1, v1), k1, 9), k1) as replaced,
                          map:size(map:putAll(map:create(k1, v1), map:create('p', 1, 'q', 2))) as merged, map:size(map:clear(map:create(k1, v1))) as cleared
            insert into Out;
            """, [
                [.string("a"), .int(1), .string("b"), .string("x"), .string("a")],
                [.string("a"), .int(1), .string("b"), .string("x"), .string("b")],
                [.string("x"), .int(5), .string("x"), .string("y"), .string("c")],
                [.string("a"), .null, .null, .null, .string("a")],
            ])
        #expect(rows == [
            [.object("1"), .object("1"), .bool(true), .int(2), .bool(true), .string(#"{"a":1,"z":true}"#), .object(#"["b"]"#),
             .object(#"[1,"x"]"#), .bool(true), .bool(true), .object("1"), .object("9"), .int(3), .int(0)],
            [.object(#""x""#), .object("-1"), .bool(true), .int(2), .bool(true), .string(#"{"a":1,"z":true}"#), .object(#"["b"]"#),
             .object(#"[1,"x"]"#), .bool(true), .bool(true), .object("1"), .object("9"), .int(3), .int(0)],
            // A repeated key keeps the last value.
            [.null, .object("-1"), .bool(false), .int(1), .bool(true), .string(#"{"x":5,"z":true}"#), .object("[]"),
             .object(#"["y"]"#), .bool(false), .bool(true), .object("5"), .object("9"), .int(3), .int(0)],
            // Null values are kept as JSON null; map:get of one gives null.
            [.null, .object("-1"), .bool(true), .int(2), .bool(true), .string(#"{"a":null,"z":true}"#), .object(#"["null"]"#),
             .object("[null,null]"), .bool(false), .bool(true), .null, .object("9"), .int(3), .int(0)],
        ])
    }
}
