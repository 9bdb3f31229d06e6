@testable import Engine
import Testing

/// `#window.expression` and `#window.expressionBatch`, through replay with restore at every line.
@Suite struct ExpressionWindowTests {
    static func events(_ prices: [Double]) -> [String] {
        prices.enumerated().map { i, p in TimeRateTests.event(1000 + 100 * i, "S\(i)", p) }
    }

    @Test func slidingCountKeepsTheLastN() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S#window.expression('count() <= 2') select sym, price insert all events into Out;
            """, ExpressionWindowTests.events([1, 2, 3, 4]))
        // The third arrival breaks the condition: the oldest expires (stamped now) before it is emitted.
        #expect(out == ["1000: S0 1", "1100: S1 2", "1200: S0 1", "1200: S2 3", "1300: S1 2", "1300: S3 4"])
    }

    @Test func slidingSumExpiresUntilTheConditionHoldsAgain() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S#window.expression('sum(price) < 10') select sum(price) as total, count() as n insert into Out;
            """, ExpressionWindowTests.events([4, 3, 2, 8, 1]))
        // 4, 7, 9, then 8 makes 17: 4, 3 and 2 leave (17 → 13 → 10 → 8); then 9.
        #expect(out == ["1000: 4 1", "1100: 7 2", "1200: 9 3", "1300: 8 1", "1400: 9 2"])
    }

    @Test func firstAndLastAndTimestamps() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S#window.expression('eventTimestamp(last) - eventTimestamp(first) < 250 and last.price >= first.price')
            select count() as n insert into Out;
            """, ExpressionWindowTests.events([1, 2, 3, 4, 0]))
        // Span under 250 ms keeps at most three events; the drop to 0 empties all but itself.
        #expect(out == ["1000: 1", "1100: 2", "1200: 3", "1300: 3", "1400: 1"])
    }

    @Test func batchFlushesWhenTheConditionBreaks() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S#window.expressionBatch('sum(price) <= 5') select sym, price insert all events into Out;
            """, ExpressionWindowTests.events([2, 3, 1, 4, 9]))
        // 2+3 = 5 holds; 1 breaks it: [2, 3] flush at 1200 and 1 starts the next batch; 1+4 = 5 holds;
        // 9 breaks it: [2, 3] expire, [1, 4] flush at 1400; 9 starts the next batch.
        #expect(out == ["1200: S0 2", "1200: S1 3", "1400: S0 2", "1400: S1 3", "1400: S2 1", "1400: S3 4"])
    }

    @Test func batchCanIncludeTheTriggeringEvent() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S#window.expressionBatch('price < 5', true) select sym, price insert into Out;
            """, ExpressionWindowTests.events([1, 2, 7, 3, 8]))
        #expect(out == ["1200: S0 1", "1200: S1 2", "1200: S2 7", "1400: S3 3", "1400: S4 8"])
    }

    @Test func streamedBatchEmitsArrivalsAtOnceAndExpiresAtTheFlush() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S#window.expressionBatch('count() <= 2', false, true) select sym, price insert all events into Out;
            """, ExpressionWindowTests.events([1, 2, 3, 4, 5]))
        // S2 breaks count() <= 2: S0 and S1 expire (stamped 1200) before S2 goes out; S2 starts the next batch.
        #expect(out == ["1000: S0 1", "1100: S1 2", "1200: S0 1", "1200: S1 2", "1200: S2 3", "1300: S3 4",
                        "1400: S2 3", "1400: S3 4", "1400: S4 5"])
    }

    @Test func badConditionsAreReportedAtTheArgument() {
        do {
            _ = try SiddhiApp.compile(source: """
                define stream S (sym string, price double);
                from S#window.expression('count() <= ') select sym insert into Out;
                from S#window.expressionBatch('sum(nope) > 1') select sym insert into Out2;
                from S#window.expression('price + 1') select sym insert into Out3;
                """, fileName: "e.siddhi")
            Issue.record("compiled")
        } catch {
            let text = error.description
            #expect(text.contains("e.siddhi:2:26: error: in window.expression condition 'count() <= '"))
            #expect(text.contains("e.siddhi:3:31: error: in window.expressionBatch condition 'sum(nope) > 1' at column 5: stream 'S' has no attribute 'nope'"))
            #expect(text.contains("e.siddhi:4:26: error: window.expression condition 'price + 1' must be bool, got double"))
        }
    }
}
