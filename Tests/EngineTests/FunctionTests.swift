@testable import Engine
import Testing

@Suite struct FunctionTests {
    @Test func convertBetweenEveryTypeLikeJava() throws {
        let rows = try run("""
            define stream S (i int, l long, f float, d double, s string, b bool);
            from S select convert(s, 'int') as si, convert(s, 'long') as sl, convert(s, 'double') as sd,
                          convert(s, 'float') as sf, convert(s, 'bool') as sb, convert(d, 'string') as ds,
                          convert(f, 'string') as fs, convert(l, 'string') as ls, convert(b, 'string') as bs,
                          convert(d, 'int') as di, convert(l, 'int') as li, convert(b, 'double') as bd,
                          convert(i, 'bool') as ib, convert(d, 'float') as df
            insert into Out;
            """, [
                [.int(1), .long(4_294_967_297), .float(0.1), .double(1e10), .string("-42"), .bool(true)],
                [.int(2), .long(-1), .float(1e-4), .double(-2.5e9), .string(" 1.5e3 "), .bool(false)],
                [.null, .null, .null, .null, .null, .null],
                [.int(0), .long(0), .float(.nan), .double(.infinity), .string("TRUE"), .bool(true)],
            ])
        #expect(rows == [
            [.int(-42), .long(-42), .double(-42), .float(-42), .bool(false), .string("1.0E10"), .string("0.1"),
             .string("4294967297"), .string("true"), .int(Int32.max), .int(1), .double(1), .bool(true), .float(1e10)],
            [.null, .null, .double(1500), .float(1500), .bool(false), .string("-2.5E9"), .string("1.0E-4"),
             .string("-1"), .string("false"), .int(Int32.min), .int(-1), .double(0), .bool(false), .float(-2.5e9)],
            [.null, .null, .null, .null, .bool(false), .null, .null, .null, .null, .null, .null, .null, .bool(false), .null],
            [.null, .null, .null, .null, .bool(true), .string("Infinity"), .string("NaN"), .string("0"), .string("true"),
             .int(Int32.max), .int(0), .double(1), .bool(false), .float(.infinity)],
        ])
    }

    @Test func castKeepsOrWidensAndRejectsTextToNumber() throws {
        let rows = try run("""
            define stream S (i int, f float, b bool);
            from S select cast(i, 'long') as il, cast(i, 'double') as id, cast(f, 'float') as ff, cast(b, 'bool') as bb
            insert into Out;
            """, [[.int(7), .float(2.5), .bool(true)], [.null, .null, .null]])
        #expect(rows == [[.long(7), .double(7), .float(2.5), .bool(true)], [.null, .null, .null, .bool(false)]])
        #expect(compileErrors("define stream S (s string);\nfrom S select cast(s, 'int') as x insert into T;")
                    == ["e.siddhi:2:15: error: cast() cannot turn string into int; use convert()"])
    }

    @Test func ifThenElseCoalesceDefaultMaximumMinimum() throws {
        let rows = try run("""
            define stream S (a int, b double, s string, t string);
            from S[coalesce(s, t, 'none') != 'skip']
            select ifThenElse(a > 2, s, t) as pick, coalesce(s, t, 'none') as first, default(a, -1) as a0,
                   maximum(a, b, 3) as mx, minimum(b, a) as mn, ifThenElse(s is null, 0, a) as z
            insert into Out;
            """, [
                [.int(5), .double(1.5), .string("x"), .string("y")],
                [.int(1), .null, .null, .string("y")],
                [.null, .null, .null, .null],
                [.int(1), .double(0), .string("skip"), .null],
            ])
        #expect(rows == [
            [.string("x"), .string("x"), .int(5), .double(5), .double(1.5), .int(5)],
            [.string("y"), .string("y"), .int(1), .double(3), .double(1), .int(0)],
            [.null, .string("none"), .int(-1), .double(3), .null, .int(0)],
        ])
    }

    @Test func instanceOfChecksTheStaticTypeAndNull() throws {
        let rows = try run("""
            define stream S (i int, l long, s string);
            from S select instanceOfInteger(i) as a, instanceOfLong(i) as b, instanceOfString(s) as c,
                          instanceOfLong(convert(s, 'long')) as d, instanceOfDouble(null) as e
            insert into Out;
            """, [[.int(1), .long(2), .string("12")], [.null, .null, .string("x")]])
        #expect(rows == [[.bool(true), .bool(false), .bool(true), .bool(true), .bool(false)],
                         [.bool(false), .bool(false), .bool(true), .bool(false), .bool(false)]])
    }

    @Test func eventTimestampAndConvertedStringsFeedFiltersAndChains() throws {
        let rows = try run("""
            define stream S (i int, sym string);
            from S[convert(i, 'string') != '2'] select eventTimestamp() as ts, convert(i, 'string') as txt, sym
            insert into Mid;
            from Mid[txt == '3' or sym == 'keep'] select txt, sym, ts * 10 as t10 insert into Out;
            """, [[.int(1), .string("keep")], [.int(2), .string("keep")], [.int(3), .string("drop")], [.int(4), .string("no")]])
        // `run` stamps row i with timestamp i.
        #expect(rows == [[.string("1"), .string("keep"), .long(0)], [.string("3"), .string("drop"), .long(20)]])
    }

    @Test func functionErrors() {
        #expect(compileErrors("""
            define stream S (a int, s string);
            from S select nope(a) as x, maht:abs(a) as y, convert(a) as z, convert(a, 'date') as w,
                          ifThenElse(a, 1, 2) as v, coalesce(a, s) as u, maximum(s) as t, convert(a, s) as r
            insert into T;
            """) == [
                "e.siddhi:2:15: error: function 'nope' is not supported yet",
                "e.siddhi:2:29: error: unknown function 'maht:abs': no extension namespace 'maht'; docs/siddhiql.md lists the supported extension functions",
                "e.siddhi:2:47: error: 'convert' takes 2 arguments, got 1",
                "e.siddhi:2:75: error: convert() cannot convert to 'date'; use 'int', 'long', 'float', 'double', 'string' or 'bool'",
                "e.siddhi:3:26: error: ifThenElse() condition must be bool, got int",
                "e.siddhi:3:41: error: 'coalesce' needs arguments of one type, got int and string",
                "e.siddhi:3:62: error: 'maximum' needs numeric arguments, got string",
                "e.siddhi:3:90: error: convert() needs the target type as a string: 'int', 'long', 'float', 'double', 'string' or 'bool'",
            ])
    }
}

@Suite struct JavaTextTests {
    @Test func doubleToStringLikeJava() {
        let cases: [(Double, String)] = [
            (5.25, "5.25"), (1e10, "1.0E10"), (0.0, "0.0"), (-0.0, "-0.0"), (100, "100.0"), (0.001, "0.001"),
            (0.0001, "1.0E-4"), (1e7, "1.0E7"), (9_999_999, "9999999.0"), (-3.7, "-3.7"), (123_456_789, "1.23456789E8"),
            (1.0 / 3, "0.3333333333333333"), (2.5e-5, "2.5E-5"), (.infinity, "Infinity"), (.nan, "NaN"),
        ]
        for (value, text) in cases { #expect(JavaText.string(value) == text, "\(value)") }
    }

    @Test func floatToStringLikeJava() {
        let cases: [(Float, String)] = [(0.1, "0.1"), (75.6, "75.6"), (1.5e10, "1.5E10"), (-3.75, "-3.75"), (1e-5, "1.0E-5")]
        for (value, text) in cases { #expect(JavaText.string(value) == text, "\(value)") }
    }

    @Test func parsingLikeJava() {
        func integer(_ s: String, _ bits: Int) -> Int64? {
            Array(s.utf8).withUnsafeBufferPointer { JavaText.parseInteger($0, bits: bits) }
        }
        func real(_ s: String) -> Double? {
            Array(s.utf8).withUnsafeBufferPointer { JavaText.parseReal($0).flatMap { Double($0) } }
        }
        #expect(integer("-2147483648", 32) == -2_147_483_648 && integer("2147483648", 32) == nil)
        #expect(integer("+12", 64) == 12 && integer("-9223372036854775808", 64) == .min && integer("9223372036854775808", 64) == nil)
        #expect(integer("", 32) == nil && integer("-", 32) == nil && integer("1.0", 32) == nil && integer(" 1", 32) == nil)
        #expect(real(" 2.5d ") == 2.5 && real("1e3") == 1000 && real("-Infinity") == -.infinity && real("1.5f") == 1.5)
        #expect(real("abc") == nil && real("inf") == nil && real("") == nil && real("nan") == nil)
    }

    @Test func currentTimeMillisReadsTheEngineClock() throws {
        let app = try SiddhiApp.compile(source: """
            define stream S (x int);
            from S select x, currentTimeMillis() as now insert into Out;
            from S#window.length(2) select x, currentTimeMillis() as now, sum(x) as total insert into Agg;
            """, fileName: "t.siddhi")
        // Live: the wall clock the engine thread last advanced to, whatever the event timestamps say.
        let live = AppRuntime(app: app, playback: false)
        var seen: [[Value]] = []
        live.addOutputCallback(stream: "Out") { b in for r in 0..<b.count { seen.append(b.row(r)) } }
        live.addOutputCallback(stream: "Agg") { b in for r in 0..<b.count { seen.append(b.row(r)) } }
        live.advanceTime(to: 1_700_000_000_123)
        var batch = EventBatch(schema: app.stream(named: "S")!)
        _ = batch.append(timestamp: 5, values: [.int(1)])
        live.send(streamIndex: 0, batch: batch)
        #expect(seen == [[.int(1), .long(1_700_000_000_123)], [.int(1), .long(1_700_000_000_123), .long(1)]])
        // Playback: the clock is event time.
        var lines: [String] = []
        try Replay.run(app: app, lines: [#"{"stream":"S","timestamp":4000,"data":[7]}"#]) { lines.append($0) }
        #expect(lines == [#"{"stream":"Out","timestamp":4000,"data":[7,4000]}"#,
                          #"{"stream":"Agg","timestamp":4000,"data":[7,4000,7]}"#])
    }

    @Test func uuidIsAFreshVersion4UUIDPerEvent() throws {
        let rows = try run("define stream S (x int);\nfrom S select UUID() as id, x insert into Out;",
                           (0..<100).map { [.int(Int32($0))] })
        var ids = Set<String>()
        for row in rows {
            guard case .string(let id) = row[0] else { Issue.record("not a string: \(row)"); continue }
            let chars = Array(id)
            #expect(chars.count == 36 && chars[8] == "-" && chars[13] == "-" && chars[18] == "-" && chars[23] == "-")
            #expect(chars[14] == "4" && "89ab".contains(chars[19]))
            #expect(id.allSatisfy { "0123456789abcdef-".contains($0) })
            ids.insert(id)
        }
        #expect(rows.count == 100 && ids.count == 100)
    }
}
