@testable import Engine
import Testing

/// Time-based and snapshot output rates, through replay (event time), with restore at every line.
@Suite struct TimeRateTests {
    /// Replays `lines` (JSONL) and returns "timestamp: values" per output event; also checks that a
    /// snapshot and restore after any line changes nothing.
    static func replay(_ source: String, _ lines: [String]) throws -> [String] {
        try replayLines(SiddhiApp.compile(source: source, fileName: "r.siddhi"), lines).map(TimeRateTests.short)
    }

    /// The output lines of `app` over `lines`; expects the same lines with a snapshot taken after
    /// any line and restored into a fresh runtime.
    static func replayLines(_ app: SiddhiApp, _ lines: [String]) throws -> [String] {
        var out: [String] = []
        try Replay.run(app: app, lines: lines) { out.append($0) }
        for cut in 1..<lines.count {
            var resumed: [String] = []
            try Replay.run(app: app, lines: lines, snapshotAfterLine: cut) { resumed.append($0) }
            #expect(resumed == out, "restore after line \(cut) changed the output")
        }
        return out
    }

    static func short(_ line: String) -> String {
        guard case .object(let o)? = try? JSONValue.parse(line), case .array(let data)? = o["data"],
              case .integer(let t)? = o["timestamp"] else { return "?" }
        let values = data.map { v -> String in
            switch v {
            case .string(let s): return s
            case .number(let d): return String(d)
            case .integer(let i): return String(i)
            case .null: return "null"
            default: return "?"
            }
        }
        return "\(t): " + values.joined(separator: " ")
    }

    static func event(_ t: Int, _ sym: String, _ price: Double) -> String {
        #"{"stream":"S","timestamp":\#(t),"data":["\#(sym)",\#(price)]}"#
    }

    static func clock(_ t: Int) -> String { #"{"timestamp":\#(t)}"# }

    @Test func allEveryPeriodReleasesWhatArrivedInIt() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S select sym, price output all every 1 sec insert into Out;
            """, [TimeRateTests.event(1000, "A", 1), TimeRateTests.event(1500, "B", 2), TimeRateTests.event(2000, "C", 3),
                  TimeRateTests.event(2100, "D", 4), TimeRateTests.clock(5000), TimeRateTests.event(5200, "E", 5),
                  TimeRateTests.clock(6200)])
        // Periods start at the first row (1000): [1000, 2000) ends at 2000 before C is processed.
        // Nothing arrives in [3000, 5000); E falls in [5000, 6000).
        #expect(out == ["1000: A 1", "1500: B 2", "2000: C 3", "2100: D 4", "5200: E 5"])
    }

    @Test func lastEveryPeriodPerGroup() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S select sym, sum(price) as total group by sym output last every 1 sec insert into Out;
            """, [TimeRateTests.event(1000, "A", 1), TimeRateTests.event(1200, "B", 2), TimeRateTests.event(1400, "A", 3),
                  TimeRateTests.event(2500, "B", 4), TimeRateTests.clock(3000)])
        #expect(out == ["1400: A 4", "1200: B 2", "2500: B 6"])
    }

    @Test func firstEveryPeriod() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S select sym, price output first every 1 sec insert into Out;
            """, [TimeRateTests.event(1000, "A", 1), TimeRateTests.event(1500, "B", 2), TimeRateTests.event(2000, "C", 3),
                  TimeRateTests.event(2999, "D", 4), TimeRateTests.event(3100, "E", 5)])
        #expect(out == ["1000: A 1", "2000: C 3", "3100: E 5"])
    }

    @Test func firstEveryPeriodPerGroup() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S select sym, price group by sym output first every 1 sec insert into Out;
            """, [TimeRateTests.event(1000, "A", 1), TimeRateTests.event(1100, "B", 2), TimeRateTests.event(1200, "A", 3),
                  TimeRateTests.event(2000, "A", 4), TimeRateTests.event(2100, "A", 5)])
        #expect(out == ["1000: A 1", "1100: B 2", "2000: A 4"])
    }

    @Test func snapshotOfAggregatesRepeatsEveryPeriod() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S#window.length(2) select sym, sum(price) as total group by sym output snapshot every 1 sec insert into Out;
            """, [TimeRateTests.event(1000, "A", 1), TimeRateTests.event(1500, "B", 2), TimeRateTests.event(1600, "A", 5),
                  TimeRateTests.clock(3000)])
        // length(2) holds B 2 and A 5 after 1600 (A 1 expired): each period emits every group's latest row.
        #expect(out == ["1600: A 5", "1500: B 2", "1600: A 5", "1500: B 2"])
    }

    @Test func snapshotOfAWindowEmitsItsRows() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S#window.length(2) select sym, price output snapshot every 1 sec insert into Out;
            """, [TimeRateTests.event(1000, "A", 1), TimeRateTests.event(1500, "B", 2), TimeRateTests.event(1600, "C", 3),
                  TimeRateTests.event(2500, "D", 4), TimeRateTests.clock(3000)])
        #expect(out == ["1500: B 2", "1600: C 3", "1600: C 3", "2500: D 4"])
    }

    @Test func snapshotNeedsATimePeriod() {
        #expect(throws: SiddhiCompileErrors.self) {
            try SiddhiApp.compile(source: """
                define stream S (sym string, price double);
                from S select sym output snapshot every 5 events insert into Out;
                """, fileName: "r.siddhi")
        }
    }
}
