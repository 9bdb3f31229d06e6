@testable import Engine
import Foundation
import Testing

/// Epoch ms of a UTC date `yyyy-MM-ddTHH:mm:ssZ`, computed by Foundation (independently of the
/// engine's own calendar arithmetic).
private func utc(_ text: String) -> Int64 {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return Int64(formatter.date(from: text)!.timeIntervalSince1970 * 1000)
}

/// Replays `lines` through `source` and returns the `data` arrays of the output, as JSON text.
private func replay(_ source: String, _ lines: [String], snapshotAfterLine: Int? = nil) throws -> [String] {
    let app = try SiddhiApp.compile(source: source, fileName: "agg.siddhi")
    var out: [String] = []
    try Replay.run(app: app, lines: lines, snapshotAfterLine: snapshotAfterLine) { out.append($0) }
    return out
}

private func event(_ stream: String, _ t: Int64, _ data: String) -> String {
    #"{"stream":"\#(stream)","timestamp":\#(t),"data":[\#(data)]}"#
}

private func out(_ t: Int64, _ data: String) -> String {
    #"{"stream":"Out","timestamp":\#(t),"data":[\#(data)]}"#
}

@Suite struct IncrementalAggregationTests {
    /// Trades over seconds, minutes, hours, days, months and years, by event-time attribute.
    static let rollupApp = """
        @App:name('Rollup')
        define stream Trades (sym string, price double, qty int, ts long);
        define stream Q (sym string, startT long, endT long, unit string);
        @purge(enable='false', interval='10 sec', @retentionPeriod(sec='120 sec'))
        define aggregation TradeAgg
        from Trades[qty > 0]
        select sym, sum(price) as total, count() as c, min(qty) as mn, max(price) as mx, avg(price) as ap
        group by sym
        aggregate by ts every sec ... year;
        from Q join TradeAgg as a on a.sym == Q.sym
          within Q.startT, Q.endT per Q.unit
        select Q.unit as unit, a.AGG_TIMESTAMP as bucket, a.total as total, a.c as c, a.mn as mn, a.mx as mx, a.ap as ap
        insert into Out;
        """

    static let t0 = utc("2026-03-14T10:00:00Z")
    static let rollupTrades: [(String, Double, Int, Int64)] = [
        ("A", 10, 1, t0 + 500),
        ("A", 20, 2, t0 + 800),
        ("B", 5, 3, t0 + 1000),
        ("A", 30, 4, t0 + 59_999),
        ("A", 40, 5, t0 + 60_000),
        ("A", 99, 0, t0 + 60_001),  // filtered out (qty > 0)
        ("A", 1, 6, utc("2026-03-14T11:30:00Z")),
        ("A", 2, 7, utc("2026-03-15T00:00:00Z")),
        ("A", 3, 8, utc("2026-04-01T00:00:00Z")),
        ("A", 4, 9, utc("2027-01-01T00:00:00Z")),
    ]

    static var rollupLines: [String] {
        var lines: [String] = []
        for (i, trade) in rollupTrades.enumerated() {
            lines.append(event("Trades", Int64(i + 1) * 10, #""\#(trade.0)",\#(trade.1),\#(trade.2),\#(trade.3)"#))
        }
        for (i, unit) in ["seconds", "min", "hours", "day", "months", "years"].enumerated() {
            lines.append(event("Q", 1000 + Int64(i), #""A",0,\#(utc("2100-01-01T00:00:00Z")),"\#(unit)""#))
        }
        lines.append(event("Q", 2000, #""B",0,\#(utc("2100-01-01T00:00:00Z")),"sec""#))
        return lines
    }

    @Test func everyGranularityHoldsTheEventsOfItsBuckets() throws {
        let t0 = IncrementalAggregationTests.t0
        let rows = try replay(IncrementalAggregationTests.rollupApp, IncrementalAggregationTests.rollupLines)
        let day15 = utc("2026-03-15T00:00:00Z"), april = utc("2026-04-01T00:00:00Z"), y2027 = utc("2027-01-01T00:00:00Z")
        #expect(rows == [
            out(1000, #""seconds",\#(t0),30.0,2,1,20.0,15.0"#),
            out(1000, #""seconds",\#(t0 + 59_000),30.0,1,4,30.0,30.0"#),
            out(1000, #""seconds",\#(t0 + 60_000),40.0,1,5,40.0,40.0"#),
            out(1000, #""seconds",\#(utc("2026-03-14T11:30:00Z")),1.0,1,6,1.0,1.0"#),
            out(1000, #""seconds",\#(day15),2.0,1,7,2.0,2.0"#),
            out(1000, #""seconds",\#(april),3.0,1,8,3.0,3.0"#),
            out(1000, #""seconds",\#(y2027),4.0,1,9,4.0,4.0"#),
            out(1001, #""min",\#(t0),60.0,3,1,30.0,20.0"#),
            out(1001, #""min",\#(t0 + 60_000),40.0,1,5,40.0,40.0"#),
            out(1001, #""min",\#(utc("2026-03-14T11:30:00Z")),1.0,1,6,1.0,1.0"#),
            out(1001, #""min",\#(day15),2.0,1,7,2.0,2.0"#),
            out(1001, #""min",\#(april),3.0,1,8,3.0,3.0"#),
            out(1001, #""min",\#(y2027),4.0,1,9,4.0,4.0"#),
            out(1002, #""hours",\#(t0),100.0,4,1,40.0,25.0"#),
            out(1002, #""hours",\#(utc("2026-03-14T11:00:00Z")),1.0,1,6,1.0,1.0"#),
            out(1002, #""hours",\#(day15),2.0,1,7,2.0,2.0"#),
            out(1002, #""hours",\#(april),3.0,1,8,3.0,3.0"#),
            out(1002, #""hours",\#(y2027),4.0,1,9,4.0,4.0"#),
            out(1003, #""day",\#(utc("2026-03-14T00:00:00Z")),101.0,5,1,40.0,20.2"#),
            out(1003, #""day",\#(day15),2.0,1,7,2.0,2.0"#),
            out(1003, #""day",\#(april),3.0,1,8,3.0,3.0"#),
            out(1003, #""day",\#(y2027),4.0,1,9,4.0,4.0"#),
            out(1004, #""months",\#(utc("2026-03-01T00:00:00Z")),103.0,6,1,40.0,17.166666666666668"#),
            out(1004, #""months",\#(april),3.0,1,8,3.0,3.0"#),
            out(1004, #""months",\#(y2027),4.0,1,9,4.0,4.0"#),
            out(1005, #""years",\#(utc("2026-01-01T00:00:00Z")),106.0,7,1,40.0,15.142857142857142"#),
            out(1005, #""years",\#(y2027),4.0,1,9,4.0,4.0"#),
            out(2000, #""sec",\#(t0 + 1000),5.0,1,3,5.0,5.0"#),
        ])
    }

    @Test func snapshotAfterEveryLineRestoresToTheSameOutput() throws {
        let lines = IncrementalAggregationTests.rollupLines
        let whole = try replay(IncrementalAggregationTests.rollupApp, lines)
        #expect(whole.count == 28)
        for cut in 1..<lines.count {
            #expect(try replay(IncrementalAggregationTests.rollupApp, lines, snapshotAfterLine: cut) == whole, "snapshot after line \(cut)")
        }
    }

    /// Event-timestamp aggregation read with date strings: patterns, start/end strings, offsets.
    @Test func withinDateStringsAndPatterns() throws {
        let t0 = IncrementalAggregationTests.t0
        func app(_ within: String, _ per: String) -> String {
            """
            define stream S (v long);
            define stream Q (k int);
            define aggregation Agg from S select sum(v) as total, count() as n aggregate every sec ... year;
            from Q join Agg within \(within) per '\(per)' select AGG_TIMESTAMP as bucket, total, n insert into Out;
            """
        }
        let lines = [
            event("S", t0 - 1, "1"),             // 2026-03-14 09:59:59.999
            event("S", t0, "10"),                // 10:00:00
            event("S", t0 + 61_000, "100"),      // 10:01:01
            event("S", utc("2026-03-20T00:00:00Z"), "1000"),
            event("S", utc("2026-05-01T00:00:00Z"), "10000"),
            event("Q", utc("2026-06-01T00:00:00Z"), "1"),
        ]
        let q = utc("2026-06-01T00:00:00Z")
        #expect(try replay(app("'2026-**-** **:**:**'", "months"), lines) == [
            out(q, #"\#(utc("2026-03-01T00:00:00Z")),1111,4"#), out(q, #"\#(utc("2026-05-01T00:00:00Z")),10000,1"#),
        ])
        #expect(try replay(app("'2026-03-** **:**:**'", "days"), lines) == [
            out(q, #"\#(utc("2026-03-14T00:00:00Z")),111,3"#), out(q, #"\#(utc("2026-03-20T00:00:00Z")),1000,1"#),
        ])
        #expect(try replay(app("'2026-03-14 10:**:**'", "minutes"), lines) == [
            out(q, #"\#(t0),10,1"#), out(q, #"\#(t0 + 60_000),100,1"#),
        ])
        #expect(try replay(app("'2026-03-14 10:01:**'", "seconds"), lines) == [out(q, #"\#(t0 + 61_000),100,1"#)])
        // 15:** at +05:30 is 09:30–10:30 UTC.
        #expect(try replay(app("'2026-03-14 15:**:** +05:30'", "minutes"), lines) == [
            out(q, #"\#(t0 - 60_000),1,1"#), out(q, #"\#(t0),10,1"#), out(q, #"\#(t0 + 60_000),100,1"#),
        ])
        // 15:30 at +05:30 is 10:00 UTC.
        #expect(try replay(app("'2026-03-14 15:30:00 +05:30', '2026-03-14 16:30:00 +05:30'", "hours"), lines) == [
            out(q, #"\#(t0),110,2"#),
        ])
        #expect(try replay(app("'2026-03-14 00:00:00', '2026-03-15 00:00:00'", "hours"), lines) == [
            out(q, #"\#(t0 - 3_600_000),1,1"#), out(q, #"\#(t0),110,2"#),
        ])
        // Longs: [start, end) on the bucket start of the per granularity.
        #expect(try replay(app("\(t0 + 60_000)L, \(t0 + 120_000)L", "minutes"), lines) == [out(q, #"\#(t0 + 60_000),100,1"#)])
        #expect(try replay(app("\(t0 + 60_001)L, \(t0 + 120_000)L", "minutes"), lines).isEmpty)
    }

    @Test func groupByOnConditionAndOuterJoin() throws {
        let source = """
            define stream S (sym string, region string, v int);
            define stream Q (sym string);
            define aggregation Agg from S select sym, region, sum(v) as total, distinctCount(v) as kinds
              group by sym, region aggregate every min, hour;
            from Q left outer join Agg as a on a.sym == Q.sym within 0L, 4102444800000L per 'hour'
            select Q.sym as q, a.region as region, a.total as total, a.kinds as kinds insert into Out;
            """
        let rows = try replay(source, [
            event("S", 1000, #""A","eu",1"#),
            event("S", 2000, #""A","us",2"#),
            event("S", 3000, #""A","eu",1"#),
            event("S", 4000, #""B","eu",5"#),
            event("S", 5000, #""A",null,7"#),
            event("S", 6000, #""A","eu",3"#),
            event("Q", 7000, #""A""#),
            event("Q", 8000, #""C""#),
        ])
        #expect(rows == [
            out(7000, #""A","eu",5,2"#),
            out(7000, #""A","us",2,1"#),
            out(7000, #""A",null,7,1"#),
            out(8000, #""C",null,null,null"#),
        ])
    }

    @Test func avgOfIntegersTruncatesAsSiddhiDoes() throws {
        // Siddhi 5.1.33 divides its long sum by its long count.
        let rows = try replay("""
            define stream S (v int);
            define stream Q (k int);
            define aggregation Agg from S select avg(v) as a, sum(v) as s aggregate every sec;
            from Q join Agg within 0L, 100000L per 'sec' select a, s insert into Out;
            """, [event("S", 1, "1"), event("S", 2, "2"), event("Q", 3, "0")])
        #expect(rows == [out(3, "1.0,3")])
    }

    @Test func outOfOrderEventTimesLandInTheirOwnBuckets() throws {
        let rows = try replay("""
            define stream S (v long, ts long);
            define stream Q (k int);
            define aggregation Agg from S select sum(v) as s aggregate by ts every sec, min;
            from Q join Agg within 0L, 1000000L per 'sec' select AGG_TIMESTAMP as b, s insert into Out;
            """, [event("S", 1, "1,5000"), event("S", 2, "2,1000"), event("S", 3, "4,5500"), event("S", 4, "8,1999"),
                  event("S", 5, "16,null"), event("Q", 6, "0")])
        #expect(rows == [out(6, "1000,10"), out(6, "5000,5")])
    }

    @Test func perAndWithinValuesThatCannotBeUsedReadNothing() throws {
        let source = """
            define stream S (v long);
            define stream Q (unit string, a long, b long);
            define aggregation Agg from S select sum(v) as s aggregate every sec ... min;
            from Q join Agg within Q.a, Q.b per Q.unit select s insert into Out;
            """
        let app = try SiddhiApp.compile(source: source, fileName: "bad.siddhi")
        let runtime = AppRuntime(app: app, playback: true)
        var outRows = 0
        runtime.addOutputCallback(stream: "Out") { outRows += $0.count }
        func send(_ stream: String, _ values: [Value]) {
            var batch = EventBatch(schema: app.stream(named: stream)!)
            batch.append(timestamp: 10, values: values)
            runtime.send(streamIndex: runtime.streamIndex(stream)!, batch: batch)
        }
        send("S", [.long(1)])
        send("Q", [.string("hours"), .long(0), .long(100_000)])   // the aggregation has no hours
        send("Q", [.string("weeks"), .long(0), .long(100_000)])   // not a granularity
        send("Q", [.string("sec"), .long(5), .long(5)])           // start not before end
        send("Q", [.string("sec"), .null, .long(5)])
        #expect(outRows == 0)
        send("Q", [.string("seconds"), .long(0), .long(100_000)])
        #expect(outRows == 1)
    }

    @Test func oldestBucketsAreEvictedAtTheLimit() throws {
        let app = try SiddhiApp.compile(source: """
            define stream S (g string, v long, ts long);
            define aggregation Agg from S select g, sum(v) as s group by g aggregate by ts every sec;
            """, fileName: "limit.siddhi")
        let aggregation = IncrementalAggregation(spec: app.aggregations[0], bucketsMax: 3, entriesMax: 4)
        var batch = EventBatch(schema: app.streams[0])
        for (g, t) in [("a", 0), ("a", 1000), ("b", 1000), ("a", 2000), ("a", 3000)] as [(String, Int64)] {
            batch.append(timestamp: 0, values: [.string(g), .long(1), .long(t)])
        }
        aggregation.add(batch)
        var rows = EventBatch(schema: app.aggregations[0].output)
        aggregation.appendRows(durationIndex: 0, from: 0, to: 10_000, into: &rows)
        #expect((0..<rows.count).map { rows.int64(0, $0) } == [1000, 1000, 2000, 3000])
        #expect(aggregation.evictedBuckets == 1)
        // Older than every retained bucket at the limit: not kept.
        batch.removeAll()
        batch.append(timestamp: 0, values: [.string("a"), .long(1), .long(500)])
        aggregation.add(batch)
        #expect(aggregation.droppedRows == 1)
        // Entry limit (4): a fifth group evicts the oldest bucket.
        batch.removeAll()
        batch.append(timestamp: 0, values: [.string("c"), .long(1), .long(3000)])
        aggregation.add(batch)
        rows.removeAll()
        aggregation.appendRows(durationIndex: 0, from: 0, to: 10_000, into: &rows)
        #expect((0..<rows.count).map { rows.int64(0, $0) } == [2000, 3000, 3000])
        #expect(aggregation.evictedBuckets == 2)
    }

    @Test func badAggregationsAreCompileErrorsWithPositions() {
        let errors = compileErrors("""
            define stream S (sym string, price double, n int);
            define stream Q (k int);
            define aggregation A from S#window.length(2) select sym, sum(price) as t group by sym aggregate every sec;
            define aggregation B from S select price, sum(price * 2) as t, avg(sym) as x aggregate every week;
            define aggregation C from S select sum(price) as t aggregate by price every hour ... sec;
            define aggregation D from S select sum(price) as AGG_TIMESTAMP aggregate every sec, sec;
            define aggregation E from S select count() as c aggregate every sec ... min;
            from Q join E within 0L, 10L per 'hours' select c insert into O1;
            from Q join E within 10L, 0L per 'sec' select c insert into O2;
            from Q join E per 'sec' select c insert into O3;
            from Q join E within '2026-13-** **:**:**' per 'sec' select c insert into O4;
            from E select c insert into O5;
            from Q#window.length(1) full outer join E within 0L, 1L per 'sec' select c insert into O6;
            from Q join S within 0L, 1L per 'sec' select k insert into O7;
            define aggregation F from S select sum(price) as t aggregate every;
            """)
        let expected = [
            "e.siddhi:3:28: error: an aggregation's input takes no window",
            "e.siddhi:4:36: error: 'price' is not grouped by",
            "e.siddhi:4:53: error: the argument of sum in an aggregation must be an attribute",
            "e.siddhi:4:68: error: avg needs a numeric attribute; 'sym' is string",
            "e.siddhi:4:94: error: 'week' is not an aggregation duration",
            "e.siddhi:5:65: error: 'aggregate by' needs a long",
            "e.siddhi:5:77: error: 'every hour ... sec' runs backwards",
            "e.siddhi:6:36: error: AGG_TIMESTAMP is the aggregation's own bucket start",
            "e.siddhi:6:85: error: duration 'sec' is listed twice",
            "e.siddhi:8:34: error: aggregation 'E' has no 'hours' granularity (it has: seconds, minutes)",
            "e.siddhi:9:22: error: 'within' start (10) must be before its end (0)",
            "e.siddhi:10:15: error: reading aggregation 'E' needs 'within start, end'",
            "e.siddhi:11:22: error: '2026-13-** **:**:**' is not a within pattern",
            "e.siddhi:12:6: error: aggregation 'E' can only be read in a join",
            "e.siddhi:13:7: error: a stream joined with an aggregation takes no window",
            "e.siddhi:13:25: error: only the stream side of a join with an aggregation can be outer",
            "e.siddhi:14:15: error: 'within … per …' applies to joins with an aggregation",
            "e.siddhi:15:67: error: expected a duration",
        ]
        #expect(errors.count == expected.count, "\(errors.joined(separator: "\n"))")
        for (got, want) in zip(errors, expected) {
            #expect(got.hasPrefix(want), "got: \(got)\nwant prefix: \(want)")
        }
    }

    @Test func calendarBucketsAreUTCAligned() throws {
        for text in ["1969-12-31T23:59:59Z", "2000-02-29T12:00:00Z", "2024-12-31T23:59:59Z", "2026-03-14T10:00:00Z"] {
            let t = utc(text) + 123
            let parts = text.prefix(10).split(separator: "-").map { Int64($0)! }
            #expect(AggregationDuration.months.bucketStart(t) == utc("\(text.prefix(7))-01T00:00:00Z"))
            #expect(AggregationDuration.years.bucketStart(t) == utc("\(text.prefix(4))-01-01T00:00:00Z"))
            #expect(AggregationDuration.days.bucketStart(t) == utc("\(text.prefix(10))T00:00:00Z"))
            #expect(AggregationDuration.civil(fromDays: AggregationDuration.floorDiv(t, 86_400_000)) == (parts[0], parts[1], parts[2]))
        }
        #expect(AggregationDuration.months.nextStart(utc("2026-12-01T00:00:00Z")) == utc("2027-01-01T00:00:00Z"))
        #expect(AggregationDuration.seconds.bucketStart(-1) == -1000)
        #expect(try AggregationDate.patternRange("2024-02-** **:**:**") == (utc("2024-02-01T00:00:00Z"), utc("2024-03-01T00:00:00Z")))
        #expect(try AggregationDate.timestampMs("2017-06-01 04:05:50 +05:00") == utc("2017-05-31T23:05:50Z"))
        #expect(throws: AggregationTimeError.self) { try AggregationDate.timestampMs("2017-02-30 00:00:00") }
        #expect(throws: AggregationTimeError.self) { try AggregationDate.patternRange("2017-**-01 **:**:**") }
    }

    /// A version-2 snapshot (before aggregations) still restores into an app without any, and is
    /// refused clearly by an app with one.
    @Test func version2SnapshotsRestoreOnlyWithoutAggregations() throws {
        let plain = try SiddhiApp.compile(source: SnapshotRestoreTests.windowApp, fileName: "snap.siddhi")
        let source = AppRuntime(app: plain, playback: true)
        SnapshotRestoreTests.fed(source, [1, 2, 3])
        let v3 = source.snapshot()
        // Version 2 = version 3 without the two empty partition counts (before the trigger flag and
        // count, 17 bytes here) and the two empty aggregation counts, under version 2.
        let tail = v3.count - 8 - 16
        var v2 = Array(v3[0..<(tail - 17 - 16)]) + Array(v3[(tail - 17)..<tail])
        let versionAt = AppRuntime.snapshotMagic.count
        for i in 0..<8 { v2[versionAt + i] = i == 0 ? 2 : 0 }
        let sum = v2.withUnsafeBytes { checksum64($0) }
        withUnsafeBytes(of: sum.littleEndian) { v2.append(contentsOf: $0) }
        let target = AppRuntime(app: plain, playback: true)
        try target.restore(v2)
        #expect(target.snapshot() == v3)

        let withAggregation = try SiddhiApp.compile(source: SnapshotRestoreTests.windowApp + """

            define aggregation A from S select sum(price) as t aggregate every sec;
            """, fileName: "snap.siddhi")
        #expect {
            try AppRuntime(app: withAggregation, playback: true).restore(v2)
        } throws: { error in
            (error as? SnapshotError)?.message.contains("version 2") ?? false
        }
    }
}
