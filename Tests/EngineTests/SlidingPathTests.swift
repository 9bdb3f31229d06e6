@testable import Engine
import Testing

/// The fused sliding path (`StatefulQuery+Sliding.swift`) against the general chunk path on the
/// same random input: each query runs twice in one app, once as written (sliding path) and once
/// with `having true`, which the sliding path does not take; the two outputs must be equal row for
/// row — through batches longer than the window, nulls, clock jumps, timer ticks and a snapshot
/// restored into a fresh runtime halfway.
@Suite struct SlidingPathTests {
    static let header = "define stream S (sym string, price double, vol int, flag bool);\n"

    @Test(arguments: [
        "from S#window.length(7) select sym, sum(price) as total, avg(vol) as av, count() as c group by sym",
        "from S#window.time(40) select sym, sum(price) as total, avg(vol) as av, count() as c group by sym",
        "from S#window.length(5) select sym, sum(vol) as sv, avg(price) as ap",
        "from S[vol > 10]#window.time(25) select flag, sym, avg(price) as ap, sum(vol) as sv group by sym, flag",
        "from S#window.length(1) select sym, count() as c, sum(price) as total group by flag",
    ])
    func slidingPathMatchesTheGeneralPath(_ query: String) throws {
        let source = SlidingPathTests.header + "\(query) insert into Fast;\n\(query) having true insert into Slow;\n"
        let app = try SiddhiApp.compile(source: source, fileName: "sliding.siddhi")
        #expect(StatefulQuery(plan: app.queries[0]).sliding != nil, "the query as written takes the sliding path")
        #expect(StatefulQuery(plan: app.queries[1]).sliding == nil, "having keeps the general path")

        var fast: [String] = [], slow: [String] = []
        func attach(_ runtime: AppRuntime) {
            func render(_ b: EventBatch, _ into: inout [String]) {
                for r in 0..<b.count { into.append("\(b.timestamps[r]): " + b.row(r).map { "\($0)" }.joined(separator: " ")) }
            }
            runtime.addOutputCallback(stream: "Fast") { render($0, &fast) }
            runtime.addOutputCallback(stream: "Slow") { render($0, &slow) }
        }
        var runtime = AppRuntime(app: app, playback: true)
        attach(runtime)
        var generator = SplitMix(seed: 11)
        var clockMs: Int64 = 0
        let schema = app.stream(named: "S")!
        for b in 0..<300 {
            if b == 150 {
                // Halfway: the state moves to a fresh runtime through a snapshot (window rows arrive
                // there without group ids; the sliding path needs them back).
                let bytes = runtime.snapshot()
                runtime = AppRuntime(app: app, playback: true)
                try runtime.restore(bytes)
                attach(runtime)
            }
            var batch = EventBatch(schema: schema)
            let rows = Int(generator.next() % 23)  // up to 22: longer than the length windows
            for _ in 0..<rows {
                clockMs += Int64(generator.next() % 4)
                if generator.next() % 97 == 0 { clockMs += 100 }  // a jump that empties the time windows
                let price: Value = generator.next() % 11 == 0 ? .null : .double(Double(generator.next() % 10_000) / 100)
                _ = batch.append(timestamp: clockMs, values: [.string("K\(generator.next() % 6)"), price,
                                                               .int(Int32(generator.next() % 30)), .bool(generator.next() % 2 == 0)])
            }
            if rows > 0 { runtime.send(streamIndex: 0, batch: batch) }
            if generator.next() % 5 == 0 {
                clockMs += Int64(generator.next() % 30)
                runtime.advanceTime(to: clockMs)  // timer expiries run the general path over the same state
            }
        }
        #expect(fast.count > 200)
        #expect(fast == slow)
    }
}
