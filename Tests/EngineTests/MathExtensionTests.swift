@testable import Engine
import Testing

/// `math:` functions against siddhi-execution-math's behaviour (Java `Math`).
@Suite struct MathExtensionTests {
    @Test func roundingFollowsJava() throws {
        let rows = try run("""
            define stream S (d double, f float);
            from S select math:round(d) as rd, math:round(f) as rf, math:floor(d) as fl, math:ceil(d) as ce,
                          math:abs(f) as ab, math:signum(d) as sg
            insert into Out;
            """, [
                [.double(2.5), .float(2.5)],
                [.double(-2.5), .float(-2.5)],
                [.double(-3.7), .float(1e10)],
                [.null, .null],
            ])
        #expect(rows == [
            [.long(3), .int(3), .double(2), .double(3), .double(2.5), .int(1)],
            [.long(-2), .int(-2), .double(-3), .double(-2), .double(2.5), .int(-1)],
            [.long(-4), .int(Int32.max), .double(-4), .double(-3), .double(1e10), .int(-1)],
            [.null, .null, .null, .null, .null, .null],
        ])
    }

    @Test func arithmeticFunctionsReturnDoubles() throws {
        let rows = try run("""
            define stream S (i int, l long, d double);
            from S select math:max(i, d) as mx, math:min(l, i) as mn, math:power(i, 2) as sq, math:sqrt(d) as rt,
                          math:log(l, 10) as lg, math:ln(math:e()) as one, math:log10(l) as l10, math:log2(8) as l2,
                          math:copySign(i, d) as cs, math:toDegrees(math:pi()) as deg, math:cbrt(27) as cb
            insert into Out;
            """, [
                [.int(3), .long(100), .double(16)],
                [.int(-2), .long(1000), .double(-1)],
                [.null, .long(10), .double(4)],
            ])
        #expect(rows.count == 3)
        #expect(rows[0] == [.double(16), .double(3), .double(9), .double(4), .double(2), .double(1), .double(2), .double(3),
                            .double(3), .double(180), .double(3)])
        #expect(rows[1][0] == .double(-1) && rows[1][1] == .double(-2) && rows[1][2] == .double(4) && rows[1][8] == .double(-2))
        if case .double(let nan) = rows[1][3] { #expect(nan.isNaN) } else { Issue.record("sqrt(-1) is NaN") }
        #expect(rows[2][0] == .null && rows[2][1] == .null && rows[2][2] == .null && rows[2][8] == .null)
    }

    @Test func trigonometry() throws {
        let rows = try run("""
            define stream S (d double);
            from S select math:sin(d) as s, math:cos(d) as c, math:tan(d) as t, math:asin(d) as as, math:acos(d) as ac,
                          math:atan(d) as at, math:atan(d, 1.0) as at2, math:sinh(d) as sh, math:cosh(d) as ch,
                          math:tanh(d) as th, math:toRadians(180.0) as rad, math:exp(d) as ex
            insert into Out;
            """, [[.double(0)]])
        #expect(rows == [[.double(0), .double(1), .double(0), .double(0), .double(Double.pi / 2), .double(0), .double(0),
                          .double(0), .double(1), .double(0), .double(Double.pi), .double(1)]])
    }

    @Test func parsingAndRadixText() throws {
        let rows = try run("""
            define stream S (s string, i int, l long, f float);
            from S select math:parseInt(s) as pi, math:parseLong(s) as pl, math:parseDouble(s) as pd, math:parseFloat(s) as pf,
                          math:bin(i) as b, math:oct(l) as o, math:hex(i) as h, math:conv('ff', 16, 2) as cv,
                          math:isNan(f) as nan, math:isInfinite(f) as inf, math:getExponent(l) as ex
            insert into Out;
            """, [
                [.string("+42"), .int(5), .long(8), .float(.nan)],
                [.string("1e3"), .int(-1), .long(-1), .float(.infinity)],
                [.string("oops"), .null, .null, .null],
            ])
        #expect(rows.count == 3)
        #expect(rows[0] == [.int(42), .long(42), .double(42), .float(42), .string("101"), .string("10"), .string("5"),
                            .string("11111111"), .bool(true), .bool(false), .int(3)])
        #expect(rows[1] == [.null, .null, .double(1000), .float(1000), .string("11111111111111111111111111111111"),
                            .string("1777777777777777777777"), .string("ffffffff"), .string("11111111"), .bool(false),
                            .bool(true), .int(0)])
        // Unparsable text: Siddhi throws (event dropped); Tandem gives null. A null bool is false.
        #expect(rows[2] == [.null, .null, .null, .null, .null, .null, .null, .string("11111111"), .bool(false), .bool(false), .null])
    }

    @Test func seededRandIsJavaRandom() throws {
        let rows = try run("""
            define stream S (i int);
            from S select math:rand(42) as r, math:rand() as u insert into Out;
            """, [[.int(1)], [.int(2)], [.int(3)]])
        // new java.util.Random(42).nextDouble() three times.
        #expect(rows.map { $0[0] } == [.double(0.7275636800328681), .double(0.6832234717598454), .double(0.30871945533265976)])
        for row in rows {
            guard case .double(let u) = row[1] else { Issue.record("rand() is a double"); continue }
            #expect(u >= 0 && u < 1)
        }
    }

    @Test func compileErrorsNameTheProblem() {
        #expect(compileErrors("""
            define stream S (s string, d double, i int);
            from S select math:sqrt(s) as a, math:round(i) as b, math:rand(i) as c, math:percentile(d, 50.0) as e
            insert into T;
            """) == [
                "e.siddhi:2:15: error: math:sqrt(): argument 1 must be a number, got string",
                "e.siddhi:2:34: error: math:round(): argument 1 must be a float or double, got int",
                "e.siddhi:2:54: error: math:rand(): the seed must be a constant",
                "e.siddhi:2:73: error: math:percentile(): percentile (an aggregate) is not supported yet",
            ])
    }
}
