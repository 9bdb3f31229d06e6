@testable import Engine
import Testing

/// `str:` functions against siddhi-execution-string's behaviour (Java strings: UTF-16 indexes).
@Suite struct StringExtensionTests {
    @Test func caseLengthReverseTrimAndConcat() throws {
        let rows = try run("""
            define stream S (s string, i int, d double, b bool);
            from S select str:length(s) as len, str:upper(s) as up, str:lower(s) as low, str:reverse(s) as rev,
                          str:trim(s) as tr, str:concat(s, '|', i, '|', d, '|', b) as cat
            insert into Out;
            """, [
                [.string(" Hello World "), .int(1), .double(2.5), .bool(true)],
                [.string("Ünïcødé ✓ 😀"), .int(-7), .double(1e10), .bool(false)],
                [.string(""), .null, .null, .null],
                [.null, .int(0), .double(1), .bool(true)],
            ])
        #expect(rows == [
            [.int(13), .string(" HELLO WORLD "), .string(" hello world "), .string(" dlroW olleH "), .string("Hello World"),
             .string(" Hello World |1|2.5|true")],
            [.int(12), .string("ÜNÏCØDÉ ✓ 😀"), .string("ünïcødé ✓ 😀"), .string("😀 ✓ édøcïnÜ"), .string("Ünïcødé ✓ 😀"),
             .string("Ünïcødé ✓ 😀|-7|1.0E10|false")],
            [.int(0), .string(""), .string(""), .string(""), .string(""), .string("|||")],
            // Siddhi throws on a null argument (the event is dropped); Tandem gives null. concat skips nulls.
            [.null, .null, .null, .null, .null, .string("|0|1.0|true")],
        ])
    }

    @Test func searchingAndComparing() throws {
        let rows = try run("""
            define stream S (s string, t string);
            from S select str:contains(s, t) as has, str:equalsIgnoreCase(s, t) as same, str:locate(t, s) as at,
                          str:locate(t, s, 2) as atFrom2, str:strcmp(s, t) as cmp, str:charFrequency(s, 'a') as as,
                          str:charAt(s, 1) as c1
            insert into Out;
            """, [
                [.string("banana"), .string("an")],
                [.string("ABC"), .string("abc")],
                [.string("x"), .string("xyz")],
                [.null, .string("a")],
            ])
        #expect(rows == [
            [.bool(true), .bool(false), .int(1), .int(3), .int(1), .long(3), .string("a")],
            [.bool(false), .bool(true), .int(-1), .int(-1), .int(-32), .long(0), .string("B")],
            [.bool(false), .bool(false), .int(-1), .null, .int(-2), .long(0), .null],
            // A null bool result reads as false (Siddhi core); other results are null.
            [.bool(false), .bool(false), .null, .null, .null, .null, .null],
        ])
    }

    @Test func substrForms() throws {
        let rows = try run("""
            define stream S (s string, b int, n int);
            from S select str:substr(s, b) as fromB, str:substr(s, b, n) as fromBLen, str:substr(s, '[0-9]+') as digits,
                          str:substr(s, '([a-z]+)-([0-9]+)', 2) as grp2
            insert into Out;
            """, [
                [.string("abc-123-def"), .int(4), .int(3)],
                [.string("xyz"), .int(3), .int(0)],
                [.string("no digits"), .int(3), .int(6)],
                [.string("héllo-42"), .int(1), .int(3)],
                [.string("short"), .int(9), .int(1)],
            ])
        #expect(rows == [
            [.string("123-def"), .string("123"), .string("123"), .string("123")],
            [.string(""), .string(""), .string(""), .string("")],
            [.string("digits"), .string("digits"), .string(""), .string("")],
            [.string("éllo-42"), .string("éll"), .string("42"), .string("42")],
            [.null, .null, .string(""), .string("")],  // out of range: Siddhi throws
        ])
    }

    @Test func regexFunctionsSplitAndReplace() throws {
        let rows = try run("""
            define stream S (s string);
            from S select str:regexp(s, '[a-z]+-[0-9]+') as whole, str:replaceAll(s, '([0-9])', '<$1>') as all,
                          str:replaceFirst(s, '[0-9]', '#') as first, str:split(s, '-', 1) as second,
                          str:split(s, ',', 0) as firstCsv
            insert into Out;
            """, [
                [.string("ab-12")],
                [.string("a,b,,")],
                [.null],
            ])
        #expect(rows == [
            [.bool(true), .string("ab-<1><2>"), .string("ab-#2"), .string("12"), .string("ab-12")],
            [.bool(false), .string("a,b,,"), .string("a,b,,"), .null, .string("a")],
            [.bool(false), .null, .null, .null, .null],
        ])
    }

    @Test func hexUnhexRepeatCoalesceFillTemplate() throws {
        let rows = try run("""
            define stream S (s string, t string, n int);
            from S select str:hex(s) as h, str:unhex(t) as back, str:repeat(s, n) as rep,
                          str:coalesce(s, t, 'none') as co, str:fillTemplate('{{1}} costs {{2}} ({{1}})', s, n) as filled
            insert into Out;
            """, [
                [.string("AB\n"), .string("4142"), .int(2)],
                [.null, .string("c3a9"), .int(0)],
                [.null, .null, .int(1)],
            ])
        #expect(rows == [
            // Integer.toHexString per char: '\n' is "a"; unhex reads byte pairs as chars (Latin-1).
            [.string("4142a"), .string("AB"), .string("AB\nAB\n"), .string("AB\n"), .string("AB\n costs 2 (AB\n)")],
            [.null, .string("Ã©"), .null, .string("c3a9"), .string("1 costs 0 (1)")],
            [.null, .null, .null, .string("none"), .string("1 costs 1 (1)")],
        ])
    }

    @Test func filterWithStringFunctions() throws {
        let rows = try run("""
            define stream S (code string, v int);
            from S[str:regexp(code, '[A-Z]{3}-[0-9]+') and str:length(code) < 6]
            select str:lower(code) as code, v
            insert into Out;
            """, [[.string("ABC-1"), .int(1)], [.string("abc-2"), .int(2)], [.string("XYZ-10"), .int(3)], [.null, .int(4)]])
        #expect(rows == [[.string("abc-1"), .int(1)]])
    }

    @Test func compileErrorsNameTheFunction() {
        #expect(compileErrors("""
            define stream S (s string, i int);
            from S select str:nope(s) as a, str:upper(i) as b, str:substr(s) as c, str:regexp(s, '(') as d,
                          str:coalesce(s, i) as e
            insert into T;
            """) == [
                "e.siddhi:2:15: error: unknown function 'str:nope'; docs/siddhiql.md lists the supported extension functions",
                "e.siddhi:2:33: error: str:upper(): argument 1 must be a string, got int",
                "e.siddhi:2:52: error: str:substr(): takes 2 to 3 arguments, got 1",
                "e.siddhi:2:72: error: str:regexp(): '(' is not a valid regular expression",
                "e.siddhi:3:15: error: str:coalesce(): needs arguments of one type, got int and string",
            ])
    }
}
