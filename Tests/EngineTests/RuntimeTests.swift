@testable import Engine
import Testing

/// Runs `source` over events of stream S (one batch) and returns the rows of `stream`.
func run(_ source: String, _ rows: [[Value]], output stream: String = "Out") throws -> [[Value]] {
    let app = try SiddhiApp.compile(source: source, fileName: "t.siddhi")
    let runtime = AppRuntime(app: app)
    var out: [[Value]] = []
    runtime.addOutputCallback(stream: stream) { batch in
        for r in 0..<batch.count { out.append(batch.row(r)) }
    }
    var batch = EventBatch(schema: app.stream(named: "S")!)
    for (i, row) in rows.enumerated() {
        let ok = batch.append(timestamp: Int64(i), values: row)
        #expect(ok)
    }
    runtime.send(streamIndex: runtime.streamIndex("S")!, batch: batch)
    return out
}

@Suite struct RuntimeTests {
    @Test func javaIntegerSemantics() throws {
        let rows = try run("""
            define stream S (a int, b int, c long, d long);
            from S select a + b as add, a * b as mul, a / b as div, a % b as mod, c / d as ldiv, c % d as lmod, -a as neg
            insert into Out;
            """, [
                [.int(Int32.max), .int(1), .long(7), .long(2)],
                [.int(-7), .int(2), .long(-7), .long(2)],
                [.int(5), .int(0), .long(5), .long(0)],
                [.int(Int32.min), .int(-1), .long(Int64.min), .long(-1)],
            ])
        #expect(rows == [
            [.int(Int32.min), .int(Int32.max), .int(Int32.max), .int(0), .long(3), .long(1), .int(-Int32.max)],
            [.int(-5), .int(-14), .int(-3), .int(-1), .long(-3), .long(-1), .int(7)],
            [.int(5), .int(0), .null, .null, .null, .null, .int(-5)],
            [.int(Int32.max), .int(Int32.min), .int(Int32.min), .int(0), .long(Int64.min), .long(0), .int(Int32.min)],
        ])
    }

    @Test func typePromotion() throws {
        let rows = try run("""
            define stream S (i int, l long, f float, d double);
            from S select i + l as il, i + f as iF, f * 2 as f2, l + d as ld, i / 2.0 as half, f + d as fd insert into Out;
            """, [[.int(3), .long(4), .float(0.1), .double(0.25)]])
        #expect(rows == [[.long(7), .float(3.1), .float(0.2), .double(4.25), .double(1.5), .double(Double(Float(0.1)) + 0.25)]])
    }

    @Test func filtersWithNullsStringsAndBooleans() throws {
        let source = """
            define stream S (s string, p double, ok bool);
            from S[(p > 10 and s == 'IBM') or (not ok and s != "") or p is null] select s, p, ok insert into Out;
            """
        var batchRows: [[Value]] = [
            [.string("IBM"), .double(11), .bool(true)],    // p > 10 and IBM
            [.string("IBM"), .double(9), .bool(true)],     // no
            [.string("X"), .double(1), .bool(false)],      // not ok and s != ""
            [.string(""), .double(1), .bool(false)],       // no
            [.string("Y"), .null, .bool(true)],            // p is null
            [.null, .double(50), .bool(false)],            // null string: comparisons false
        ]
        let rows = try run(source, batchRows)
        #expect(rows == [batchRows[0], batchRows[2], batchRows[4]])
        batchRows = []
        #expect(try run(source, batchRows).isEmpty)
    }

    @Test func nullPropagatesThroughArithmeticAndComparisonsAreFalse() throws {
        let rows = try run("""
            define stream S (a int, b double);
            from S[a > 0 or a is null] select a + 1 as a1, b * 2 as b2 insert into Out;
            """, [[.null, .double(2)], [.int(1), .null], [.int(-1), .double(1)]])
        #expect(rows == [[.null, .double(4)], [.int(2), .null]])
    }

    @Test func chainedQueriesAndStringConstants() throws {
        let rows = try run("""
            define stream S (sym string, price double);
            from S[price > 1] select sym, price, 'tagged' as tag insert into Mid;
            from Mid[sym != 'B'] select tag, sym, price * 10 as p insert into Out;
            """, [[.string("A"), .double(2)], [.string("B"), .double(3)], [.string("C"), .double(0.5)], [.string("D"), .double(4)]])
        #expect(rows == [[.string("tagged"), .string("A"), .double(20)], [.string("tagged"), .string("D"), .double(40)]])
    }

    @Test func selectStarAndLargeBatches() throws {
        let app = try SiddhiApp.compile(source: """
            define stream S (symbol string, price double, volume long);
            from S[price > 50.0] select * insert into Out;
            """, fileName: "big.siddhi")
        let runtime = AppRuntime(app: app)
        var count = 0
        var volumes: [Int64] = []
        runtime.addOutputCallback(stream: "Out") { batch in
            count += batch.count
            for r in 0..<batch.count { volumes.append(batch.int64(2, r)) }
            #expect(batch.string(0, 0).hasPrefix("S"))
        }
        var batch = EventBatch(schema: app.streams[0], capacity: 10_000)
        for i in 0..<10_000 { batch.append(timestamp: Int64(i), values: [.string("S\(i % 10)"), .double(Double(i % 100)), .long(Int64(i))]) }
        runtime.send(streamIndex: 0, batch: batch)
        let expected = (0..<10_000).filter { $0 % 100 > 50 }.map(Int64.init)
        #expect(count == expected.count)
        #expect(volumes == expected)
    }
}

@Suite struct BatchRuntimeTests {
    /// A filter that drops most rows copies only the kept rows' strings into the output arena.
    @Test func filteredStringsAreCompactedIntoTheOutputArena() throws {
        let app = try SiddhiApp.compile(source: """
            define stream S (name string, n int);
            from S[n % 10 == 3] select name, ifThenElse(n > 50, name, 'small') as tag, n insert into Out;
            """, fileName: "c.siddhi")
        let runtime = AppRuntime(app: app)
        var seen: [[Value]] = []
        var arenaBytes = 0
        runtime.addOutputCallback(stream: "Out") { batch in
            arenaBytes = batch.stringBytes.count
            for r in 0..<batch.count { seen.append(batch.row(r)) }
        }
        var batch = EventBatch(schema: app.streams[0])
        for i in 0..<100 { batch.append(timestamp: 7, values: [.string("name-\(i)"), .int(Int32(i))]) }
        runtime.send(streamIndex: 0, batch: batch)
        let kept = (0..<100).filter { $0 % 10 == 3 }
        #expect(seen == kept.map { [.string("name-\($0)"), .string($0 > 50 ? "name-\($0)" : "small"), .int(Int32($0))] })
        // name column + the tag column (whose constant is copied once per run of equal slots).
        let expectedBytes = kept.map { "name-\($0)".utf8.count }.reduce(0, +)
            + kept.filter { $0 > 50 }.map { "name-\($0)".utf8.count }.reduce(0, +) + "small".utf8.count
        #expect(arenaBytes == expectedBytes)
    }

    /// Every query reading a stream runs in definition order; chains run depth-first, as in Siddhi.
    @Test func emissionOrderAcrossQueriesAndChains() throws {
        let app = try SiddhiApp.compile(source: """
            define stream S (a int);
            from S select a insert into A;
            from A select a * 10 as a insert into B;
            from S[a > 1] select a insert into C;
            """, fileName: "o.siddhi")
        let runtime = AppRuntime(app: app)
        var order: [String] = []
        for stream in ["A", "B", "C"] {
            runtime.addOutputCallback(stream: stream) { batch in
                for r in 0..<batch.count { order.append("\(stream)\(batch.int64(0, r))") }
            }
        }
        var batch = EventBatch(schema: app.streams[0])
        for a in [1, 2] {
            batch.removeAll()
            batch.append(timestamp: 0, values: [.int(Int32(a))])
            runtime.send(streamIndex: 0, batch: batch)
        }
        #expect(order == ["A1", "B10", "A2", "B20", "C2"])
    }

    @Test func reusedInputBatchesDoNotChangeEarlierOutput() throws {
        let app = try SiddhiApp.compile(source: "define stream S (s string);\nfrom S select s insert into Out;", fileName: "r.siddhi")
        let runtime = AppRuntime(app: app)
        var kept: [EventBatch] = []
        runtime.addOutputCallback(stream: "Out") { kept.append($0) }
        var batch = EventBatch(schema: app.streams[0])
        for word in ["one", "two"] {
            batch.removeAll()
            batch.append(timestamp: 0, values: [.string(word)])
            runtime.send(streamIndex: 0, batch: batch)
        }
        #expect(kept.map { $0.string(0, 0) } == ["one", "two"])
    }

    @Test func floatArithmeticStaysInFloatPrecision() throws {
        let rows = try run("""
            define stream S (f float, g float);
            from S select f + g as s, f * g as p, f / g as q, f % g as r insert into Out;
            """, [[.float(0.1), .float(0.2)]])
        let f: Float = 0.1, g: Float = 0.2
        #expect(rows == [[.float(f + g), .float(f * g), .float(f / g), .float(f.truncatingRemainder(dividingBy: g))]])
    }

    @Test func doubleDivisionByZeroIsInfinityNotNull() throws {
        let rows = try run("define stream S (d double, i int);\nfrom S select d / 0 as a, i / 0 as b, d % 0 as c insert into Out;",
                           [[.double(1), .int(1)]])
        #expect(rows.count == 1 && rows[0][0] == .double(.infinity) && rows[0][1] == .null)
        if case .double(let c) = rows[0][2] { #expect(c.isNaN) } else { Issue.record("\(rows)") }
    }
}

/// Windows without a shared conformance case: sort and frequent, through replay.
@Suite struct KeyedWindowTests {
    static func replay(_ app: String, _ events: [(String, Double)]) throws -> [String] {
        let compiled = try SiddhiApp.compile(source: app, fileName: "w.siddhi")
        let lines = events.enumerated().map { i, e in #"{"stream":"S","timestamp":\#(1000 + i),"data":["\#(e.0)",\#(e.1)]}"# }
        var out: [String] = []
        try Replay.run(app: compiled, lines: lines) { line in
            guard case .object(let o)? = try? JSONValue.parse(line), case .array(let data)? = o["data"] else { return }
            out.append(data.map { v -> String in
                switch v {
                case .string(let s): return s
                case .number(let d): return String(d)
                case .integer(let i): return String(i)
                default: return "?"
                }
            }.joined(separator: " "))
        }
        return out
    }

    @Test func sortKeepsTheSmallestAndExpiresTheLargest() throws {
        let out = try KeyedWindowTests.replay("""
            define stream S (sym string, price double);
            from S#window.sort(2, price, 'asc') select sym, price insert all events into Out;
            """, [("A", 5), ("B", 3), ("C", 4), ("D", 1)])
        // C pushes out A (largest), D pushes out C.
        #expect(out == ["A 5", "B 3", "C 4", "A 5", "D 1", "C 4"])
    }

    @Test func frequentKeepsTheLatestEventOfTheMostFrequentKeys() throws {
        let out = try KeyedWindowTests.replay("""
            define stream S (sym string, price double);
            from S#window.frequent(2, sym) select sym, price insert all events into Out;
            """, [("A", 1), ("B", 2), ("A", 3), ("C", 4)])
        // A's second event replaces its first (expired); C decrements every count: B leaves, C enters.
        #expect(out == ["A 1", "B 2", "A 1", "A 3", "B 2", "C 4"])
    }

    @Test func sortWithAggregatesAndRestore() throws {
        let app = try SiddhiApp.compile(source: """
            define stream S (sym string, price double);
            from S#window.sort(3, price, 'desc') select sum(price) as top3 insert into Out;
            """, fileName: "w.siddhi")
        let lines = (0..<8).map { #"{"stream":"S","timestamp":\#(1000 + $0),"data":["X",\#(Double(($0 * 7) % 10))]}"# }
        var whole: [String] = []
        try Replay.run(app: app, lines: lines) { whole.append($0) }
        // Siddhi's chunk: the arrival is added, then the pushed-out event expires after it; the row
        // emitted is the arrival's, so its sum still includes the event about to leave.
        var held: [Double] = []
        var expected: [String] = []
        for i in 0..<8 {
            let price = Double((i * 7) % 10)
            held.append(price)
            expected.append(#"{"stream":"Out","timestamp":\#(1000 + i),"data":[\#(held.reduce(0, +))]}"#)
            held.sort(by: >)
            if held.count > 3 { held.removeLast() }
        }
        #expect(whole == expected)
        for cut in 1..<lines.count {
            var resumed: [String] = []
            try Replay.run(app: app, lines: lines, snapshotAfterLine: cut) { resumed.append($0) }
            #expect(resumed == whole)
        }
    }
}
