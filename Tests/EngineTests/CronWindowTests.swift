@testable import Engine
import Testing

@Suite struct CronWindowTests {
    /// 2026-11-26 (a Thursday) 00:00:00 UTC, in ms.
    static let thursdayMs: Int64 = CronSchedule.days(year: 2026, month: 11, day: 26) * 86_400_000

    @Test func calendarRoundTrips() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let (y, m, d) = CronSchedule.civil(fromDays: days)
            #expect(CronSchedule.days(year: y, month: m, day: d) == days)
        }
        #expect(CronSchedule.days(year: 2000, month: 3, day: 1) == 11_017)
    }

    @Test func nextFireTimes() throws {
        let every5s = try CronSchedule("*/5 * * * * ?")
        #expect(every5s.next(after: 0) == 5000)
        #expect(every5s.next(after: 4999) == 5000)
        #expect(every5s.next(after: 5000) == 10_000)
        let noonMondays = try CronSchedule("0 0 12 ? * MON")
        // From Thursday: Monday 2026-11-30 12:00.
        #expect(noonMondays.next(after: CronWindowTests.thursdayMs) == CronWindowTests.thursdayMs + (4 * 24 + 12) * 3_600_000)
        let lastDays = try CronSchedule("30 15 10 28-31 FEB ? 2028")
        // 2028 is a leap year: 28 and 29 February.
        let feb28 = CronSchedule.days(year: 2028, month: 2, day: 28) * 86_400_000 + (10 * 3600 + 15 * 60 + 30) * 1000
        #expect(lastDays.next(after: CronWindowTests.thursdayMs) == feb28)
        #expect(lastDays.next(after: feb28) == feb28 + 86_400_000)
        #expect(lastDays.next(after: feb28 + 86_400_000) == nil)
        let list = try CronSchedule("0 0,30 9-17/4 * * ?")
        #expect(list.next(after: CronWindowTests.thursdayMs) == CronWindowTests.thursdayMs + 9 * 3_600_000)
        #expect(list.next(after: CronWindowTests.thursdayMs + 9 * 3_600_000) == CronWindowTests.thursdayMs + 9 * 3_600_000 + 1_800_000)
        #expect(list.next(after: CronWindowTests.thursdayMs + 9 * 3_600_000 + 1_800_000) == CronWindowTests.thursdayMs + 13 * 3_600_000)
    }

    @Test func badExpressionsSayWhy() {
        for (text, message) in [("* * *", "6 or 7 fields"), ("61 * * * * ?", "seconds field: '61'"),
                                ("0 0 0 L * ?", "L, W or #"), ("0 0 5-2 * * ?", "runs backwards"),
                                ("0 */0 * * * ?", "positive")] {
            do {
                _ = try CronSchedule(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.message.contains(message), "\(text): \(error.message)")
            }
        }
    }

    @Test func windowFlushesAtEachFire() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S#window.cron('*/5 * * * * ?') select sym, price insert all events into Out;
            """, [TimeRateTests.event(1000, "A", 1), TimeRateTests.event(2000, "B", 2), TimeRateTests.event(6000, "C", 3),
                  TimeRateTests.clock(11_000), TimeRateTests.clock(16_000), TimeRateTests.event(17_000, "D", 4),
                  TimeRateTests.clock(20_000)])
        // 5 s: A and B go out as they came. 10 s: they expire (stamped with the fire), C goes out.
        // 15 s: nothing held, nothing emitted (C stays the batch to expire). 20 s: C expires, D goes out.
        #expect(out == ["1000: A 1", "2000: B 2", "10000: A 1", "10000: B 2", "6000: C 3", "20000: C 3", "17000: D 4"])
    }

    @Test func windowAggregatesPerFire() throws {
        let out = try TimeRateTests.replay("""
            define stream S (sym string, price double);
            from S#window.cron('*/5 * * * * ?') select sym, sum(price) as total group by sym insert into Out;
            """, [TimeRateTests.event(1000, "A", 1), TimeRateTests.event(2000, "B", 2), TimeRateTests.event(3000, "A", 3),
                  TimeRateTests.event(6000, "A", 10), TimeRateTests.clock(10_000)])
        // Per fire, the last row of each group; the previous batch is subtracted (no RESET).
        #expect(out == ["3000: A 4", "2000: B 2", "6000: A 10"])
    }
}

/// Batch windows aggregated on arrival: feeding the same events in large batches or one at a time
/// gives the same rows (each flush collapses on its own, as Siddhi emits one chunk per flush).
@Suite struct EagerBatchTests {
    static func rows(_ source: String, batchSize: Int, snapshotEvery: Int? = nil) throws -> [String] {
        let app = try SiddhiApp.compile(source: source, fileName: "b.siddhi")
        var runtime = AppRuntime(app: app, playback: true)
        var out: [String] = []
        func attach(_ r: AppRuntime) {
            r.addOutputCallback(stream: "Out") { b in for i in 0..<b.count { out.append("\(b.timestamps[i]) \(b.row(i))") } }
        }
        attach(runtime)
        let schema = app.stream(named: "S")!
        var i = 0
        var sent = 0
        while i < 5000 {
            var batch = EventBatch(schema: schema)
            for k in i..<min(5000, i + batchSize) {
                _ = batch.append(timestamp: Int64(k * 7), values: [.string("K\(k % 7)"), .double(Double(k % 13)), .long(Int64(k % 5))])
            }
            runtime.advanceTime(to: batch.timestamps[0])
            runtime.send(streamIndex: 0, batch: batch)
            i += batchSize
            sent += 1
            if let every = snapshotEvery, sent % every == 0 {
                let bytes = runtime.snapshot()
                runtime = AppRuntime(app: app, playback: true)
                attach(runtime)
                try runtime.restore(bytes)
            }
        }
        runtime.advanceTime(to: 1_000_000)
        return out
    }

    @Test(arguments: ["lengthBatch(100)", "lengthBatch(1000)", "timeBatch(250)", "timeBatch(1 sec)"])
    func batchesOfAnySizeAgree(window: String) throws {
        let source = """
            define stream S (sym string, price double, volume long);
            from S#window.\(window) select sym, sum(price) as total, avg(volume) as v, count() as n, max(price) as top
            group by sym having n > 0 insert into Out;
            """
        let single = try EagerBatchTests.rows(source, batchSize: 1)
        #expect(!single.isEmpty)
        for size in [7, 64, 1024] {
            #expect(try EagerBatchTests.rows(source, batchSize: size) == single, "batches of \(size)")
        }
        #expect(try EagerBatchTests.rows(source, batchSize: 64, snapshotEvery: 3) == single, "with restores")
    }
}
