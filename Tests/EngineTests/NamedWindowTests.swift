@testable import Engine
import Testing

/// Named windows (`define window`): filled by queries, read by aggregating queries and joins, with a
/// snapshot and restore after every line (TimeRateTests.replay).
@Suite struct NamedWindowTests {
    static func line(_ stream: String, _ t: Int, _ data: String) -> String {
        #"{"stream":"\#(stream)","timestamp":\#(t),"data":[\#(data)]}"#
    }

    @Test func readersSeeTheWindowsExpiries() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            define window W (sym string, price double) length(2);
            from S[price > 0] select sym, price insert into W;
            from W select sum(price) as total, count() as c insert into Out;
            """, [NamedWindowTests.line("S", 1, #""A",1.0"#), NamedWindowTests.line("S", 2, #""B",-5.0"#),
                  NamedWindowTests.line("S", 3, #""C",2.0"#), NamedWindowTests.line("S", 4, #""D",4.0"#)])
        // W holds the last two events that passed the filter; the reader's sums follow it, and W's
        // own events are not printed as an output stream.
        #expect(out == ["1: 1 1", "3: 3 2", "4: 6 2"])
    }

    @Test func currentEventsOnlyWindowsFeedReadersLikeAStream() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            define window W (sym string, price double) length(1) output current events;
            from S insert into W;
            from W select sum(price) as total insert into Out;
            """, [NamedWindowTests.line("S", 1, #""A",1.0"#), NamedWindowTests.line("S", 2, #""B",2.0"#)])
        #expect(out == ["1: 1", "2: 3"])
    }

    @Test func streamsJoinANamedWindow() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            define stream Q (sym string);
            define window W (sym string, price double) time(1 sec);
            from S insert into W;
            from Q join W on W.sym == Q.sym select Q.sym as sym, W.price as price insert into Out;
            """, [NamedWindowTests.line("S", 1000, #""A",1.0"#), NamedWindowTests.line("S", 1500, #""A",2.0"#),
                  NamedWindowTests.line("Q", 1800, #""A""#), NamedWindowTests.line("Q", 2200, #""A""#),
                  NamedWindowTests.line("Q", 2600, #""A""#)])
        #expect(out == ["1800: A 1", "1800: A 2", "2200: A 2"])
    }

    /// `from W[c]` filters what W emits (current and expired), not what W holds: W keeps the last
    /// two events of every price, and each reader sees only its side of them.
    @Test func readerFiltersApplyToWhatTheWindowEmits() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            define window W (sym string, price double) length(2) output all events;
            from S insert into W;
            from W[price > 10.0] select sym, price insert all events into Hi;
            from W[price < 10.0] select sym, sum(price) as total insert into Lo;
            """, [NamedWindowTests.line("S", 1, #""A",15.0"#), NamedWindowTests.line("S", 2, #""B",5.0"#),
                  NamedWindowTests.line("S", 3, #""C",20.0"#), NamedWindowTests.line("S", 4, #""D",1.0"#)])
        // t3: A leaves W (an expired event, price 15: Hi sees it); t4: B leaves (Lo subtracts it).
        #expect(out == ["1: A 15", "2: B 5", "3: A 15", "3: C 20", "4: D 1"])
    }

    /// A filter written after a window filters its output; one written before filters its input.
    @Test func filtersAfterAWindowFilterItsOutput() throws {
        let events = [NamedWindowTests.line("S", 1, #""A",15.0"#), NamedWindowTests.line("S", 2, #""B",5.0"#),
                      NamedWindowTests.line("S", 3, #""C",20.0"#), NamedWindowTests.line("S", 4, #""D",1.0"#)]
        let after = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S#window.length(2)[price > 10.0] select sym, sum(price) as total insert all events into Out;
            """, events)
        // The window holds every event: at t3 C pushes A out, A is subtracted and C added (the
        // chunk collapses to its last row: 20); with the filter first, A stays and the sum is 35.
        #expect(after == ["1: A 15", "3: C 20"])
        let before = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S[price > 10.0]#window.length(2) select sym, sum(price) as total insert all events into Out;
            """, events)
        #expect(before == ["1: A 15", "3: C 35"])
    }

    @Test func misuseIsReported() {
        func errors(_ source: String) -> String {
            do {
                _ = try SiddhiApp.compile(source: source, fileName: "w.siddhi")
                return ""
            } catch {
                return error.description
            }
        }
        let own = errors("""
            define stream S (sym string);
            define window W (sym string) length(2);
            from S insert into W;
            from W#window.length(3) select count() as c insert into Out;
            """)
        #expect(own.contains("w.siddhi:4:7") && own.contains("cannot add a window"), "\(own)")
        let badArgs = errors("define window W (sym string) length('x');")
        #expect(badArgs.contains("w.siddhi:1:37") && badArgs.contains("window.length"), "\(badArgs)")
        let joined = errors("""
            define stream S (sym string);
            define window W (sym string) length(2);
            from S insert into W;
            from S join W[sym == 'A'] on W.sym == S.sym select S.sym as s insert into Out;
            """)
        #expect(joined.contains("w.siddhi:4:19") && joined.contains("after a join side's window"), "\(joined)")
        let twice = errors("define stream W (a int);\ndefine window W (a int) length(1);")
        #expect(twice.contains("already defined"), "\(twice)")
    }
}
