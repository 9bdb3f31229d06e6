@testable import Engine
import Testing

/// `json:` functions against siddhi-execution-json's behaviour (json-path over json-smart values).
@Suite struct JSONExtensionTests {
    static let doc = #"{"name":"IBM","price":75.5,"qty":100,"ok":true,"tags":["a","b"],"addr":{"city":"Colombo","zip":"00300"},"esc":"a\"b\u00e9","n":null}"#

    @Test func gettersByPath() throws {
        let rows = try run("""
            define stream S (j string);
            from S select json:getString(j, '$.name') as name, json:getString(j, '$.addr') as addr, json:getString(j, '$.price') as priceText,
                          json:getString(j, '$.esc') as esc, json:getInt(j, '$.qty') as qty, json:getInt(j, '$.price') as priceInt,
                          json:getLong(j, "$['qty']") as qtyLong, json:getDouble(j, '$.price') as price, json:getFloat(j, '$.qty') as qtyFloat,
                          json:getBool(j, '$.ok') as ok, json:getBool(j, '$.name') as nameBool, json:getString(j, '$.tags[-1]') as lastTag,
                          json:getString(j, '$.n') as n, json:isExists(j, '$.n') as hasN, json:isExists(j, '$.tags[5]') as has5
            insert into Out;
            """, [[.string(JSONExtensionTests.doc)], [.string("not json")], [.null]])
        #expect(rows == [
            [.string("IBM"), .string(#"{"city":"Colombo","zip":"00300"}"#), .string("75.5"), .string("a\"bé"), .int(100), .null,
             .long(100), .double(75.5), .float(100), .bool(true), .bool(false), .string("b"), .null, .bool(true), .bool(false)],
            // Invalid JSON: Siddhi throws (event dropped); Tandem gives null (false for bools).
            [.null, .null, .null, .null, .null, .null, .null, .null, .null, .bool(false), .bool(false), .null, .null, .bool(false), .bool(false)],
            [.null, .null, .null, .null, .null, .null, .null, .null, .null, .bool(false), .bool(false), .null, .null, .bool(false), .bool(false)],
        ])
    }

    @Test func objectsSetElementAndToString() throws {
        let rows = try run("""
            define stream S (j string);
            from S select json:getObject(j, '$.addr') as addr, json:toObject(j) as obj,
                          json:setElement(j, '$.addr', 'Kandy', 'city') as moved, json:setElement(j, '$.tags', 'c') as tagged,
                          json:setElement(j, '$.qty', 7) as replaced, json:toString(json:getObject(j, '$.tags')) as tagsText,
                          json:getString(json:toObject(j), '$.addr.zip') as zip
            insert into Out;
            """, [[.string(#"{"addr": {"city": "Colombo", "zip": "00300"}, "tags": ["a"], "qty": 1}"#)]])
        #expect(rows == [[
            .object(#"{"city":"Colombo","zip":"00300"}"#),
            .object(#"{"addr":{"city":"Colombo","zip":"00300"},"tags":["a"],"qty":1}"#),
            .object(#"{"addr":{"city":"Kandy","zip":"00300"},"tags":["a"],"qty":1}"#),
            .object(#"{"addr":{"city":"Colombo","zip":"00300"},"tags":["a","c"],"qty":1}"#),
            .object(#"{"addr":{"city":"Colombo","zip":"00300"},"tags":["a"],"qty":7}"#),
            .string(#""a""#),  // getObject unwraps a one-element array (json-path's list), toString quotes a string
            .string("00300"),
        ]])
    }

    @Test func filterOnJSON() throws {
        let rows = try run("""
            define stream S (j string);
            from S[json:isExists(j, '$.addr') and json:getDouble(j, '$.price') > 50.0]
            select json:getString(j, '$.name') as name insert into Out;
            """, [[.string(JSONExtensionTests.doc)], [.string(#"{"name":"X","price":10}"#)], [.string(#"{"name":"Y","price":99,"addr":{}}"#)]])
        #expect(rows == [[.string("IBM")], [.string("Y")]])
    }

    @Test func unsupportedPathsAreCompileErrors() {
        #expect(compileErrors("""
            define stream S (j string);
            from S select json:getString(j, '$..name') as a, json:getInt(j) as b insert into T;
            """) == [
                "e.siddhi:2:15: error: json:getString(): '$..name' is not a JSON path Tandem supports: $ followed by .name, ['name'] or [index] steps",
                "e.siddhi:2:50: error: json:getInt(): takes 2 arguments, got 1",
            ])
    }
}
