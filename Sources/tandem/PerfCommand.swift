import ArgumentParser
import Engine
import Foundation

/// `tandem perf …`: the performance suite (release builds only; see perf/README.md).
struct PerfCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perf", abstract: "Run the performance suite.", subcommands: [PerfEngineCommand.self, PerfIngestCommand.self])
}

/// `tandem perf engine`: in-process engine throughput on the fixed workload, one engine thread.
///
/// Workload (fixed so other engines can run the same): stream `S (symbol string, price double,
/// volume long)`; event i has symbol "S" + (i % 10), price uniform in 0.00–99.99, volume uniform in
/// 0–999, timestamp i ms. Events are pre-built into batches before timing; outputs are counted.
struct PerfEngineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine", abstract: "Engine throughput per scenario (events/s), in process, one engine thread.")

    @Option(name: .long, help: "Events per scenario after the warm-up.")
    var events = 10_000_000

    @Option(name: .long, help: "Events per batch.")
    var batch = 1024

    @Option(name: .long, help: "Scenarios to run (default: all).")
    var scenario: [String] = []

    @Option(name: .long, help: "Where to write the results as JSON.")
    var json = "perf-engine.json"

    static let streamDefinition = "define stream S (symbol string, price double, volume long);"

    static let scenarios: [(name: String, query: String)] = [
        ("filter", "from S[price > 50.0] select symbol, price, volume insert into Out;"),
        // The filter's shape with extension functions: a string function in the filter, string,
        // time and math functions in the projection (issue 17).
        ("functions", """
            from S[price > 50.0 and str:length(symbol) == 2]
            select str:upper(str:concat(symbol, '-', volume)) as key, time:dateFormat(eventTimestamp(), 'yyyy-MM-dd HH:mm:ss.SSS') as at,
                   math:round(price) as rounded, volume
            insert into Out;
            """),
        ("window", "from S#window.length(1000) select symbol, sum(price) as total, avg(volume) as avgVol group by symbol insert into Out;"),
        ("timewindow", "from S#window.time(1 sec) select symbol, sum(price) as total, avg(volume) as avgVol group by symbol insert into Out;"),
        ("lengthbatch", "from S#window.lengthBatch(1000) select symbol, sum(price) as total, avg(volume) as avgVol group by symbol insert into Out;"),
        ("pattern", "from every e1=S[price > 90.0] -> e2=S[symbol == e1.symbol and price < e1.price] within 1 sec select e1.symbol as symbol, e1.price as p1, e2.price as p2 insert into Out;"),
        ("join", """
            define stream Load (symbol string, limit double);
            @PrimaryKey('symbol') define table T (symbol string, limit double);
            from Load insert into T;
            from S join T on T.symbol == S.symbol select S.symbol as symbol, S.price as price, T.limit as limit insert into Out;
            """),
        // `in` over the same keyed table: a key lookup per event, batch-wide.
        ("in", """
            define stream Load (symbol string, limit double);
            @PrimaryKey('symbol') define table T (symbol string, limit double);
            from Load insert into T;
            from S[symbol in T] select symbol, price, volume insert into Out;
            """),
        // Over 1000 symbols (the other scenarios use 10): one length window and average per symbol.
        ("partition", "partition with (symbol of S) begin from S#window.length(100) select symbol, avg(price) as avgPrice insert into Out; end;"),
    ]

    /// Distinct symbols in a scenario's workload.
    static func symbols(_ name: String) -> Int { name == "partition" ? 1000 : 10 }

    /// Before timing: the join and in scenarios' table gets 10 000 rows ("S0" … "S9999").
    static func setUp(_ name: String, _ runtime: AppRuntime) {
        guard name == "join" || name == "in", let load = runtime.streamIndex("Load") else { return }
        var rows = EventBatch(schema: runtime.streams[load], capacity: 10_000)
        for i in 0..<10_000 { _ = rows.append(timestamp: 0, values: [.string("S\(i)"), .double(Double(i % 100))]) }
        runtime.send(streamIndex: load, batch: rows)
    }

    func validate() throws {
        guard events > 0 else { throw ValidationError("--events must be positive") }
        guard batch >= 1 && batch <= EventBatch.capacityMax else { throw ValidationError("--batch must be 1…\(EventBatch.capacityMax)") }
        let known = Set(PerfEngineCommand.scenarios.map(\.name) + ["snapshot"])
        for s in scenario where !known.contains(s) { throw ValidationError("unknown scenario \(s); known: \(known.sorted().joined(separator: ", "))") }
    }

    /// One cycle of pre-built batches (at most 1 M events); reused with shifted timestamps.
    static func workload(batchSize: Int, schema: StreamSchema, eventsMax: Int, symbols: Int = 10) -> [EventBatch] {
        var generator = SplitMix64(seed: 42)
        var batches: [EventBatch] = []
        var i = 0
        let cycle = min(eventsMax, 1 << 20)
        while i < cycle {
            var b = EventBatch(schema: schema, capacity: batchSize)
            for _ in 0..<min(batchSize, cycle - i) {
                let row = b.appendRow(timestamp: Int64(i))
                b.setString(0, row, "S\(i % symbols)")
                b.setDouble(1, row, Double(generator.next() % 10_000) / 100)
                b.setInt64(2, row, Int64(generator.next() % 1000))
                i += 1
            }
            batches.append(b)
        }
        return batches
    }

    func run() throws {
        var results: [[String: Any]] = []
        for (name, query) in PerfEngineCommand.scenarios where scenario.isEmpty || scenario.contains(name) {
            let app: SiddhiApp
            do {
                app = try SiddhiApp.compile(source: PerfEngineCommand.streamDefinition + "\n" + query, fileName: "perf-\(name).siddhi")
            } catch {
                print("\(name) unsupported (\(error.description.split(separator: "\n").first ?? ""))")
                results.append(["scenario": name, "supported": false])
                continue
            }
            let runtime = AppRuntime(app: app, playback: true)  // event time: timestamp i ms
            var outputs = 0
            runtime.addOutputCallback(stream: "Out") { outputs += $0.count }
            PerfEngineCommand.setUp(name, runtime)
            var batches = PerfEngineCommand.workload(batchSize: batch, schema: app.stream(named: "S")!, eventsMax: events,
                                                            symbols: PerfEngineCommand.symbols(name))
            let cycleEvents = batches.reduce(0) { $0 + $1.count }
            var clockOffset: Int64 = 0
            var k = 0
            let streamS = runtime.streamIndex("S")!

            func feed(_ count: Int) -> Int {
                var sent = 0
                while sent < count {
                    if k == batches.count {
                        k = 0
                        clockOffset += Int64(cycleEvents)
                    }
                    if clockOffset > 0 {
                        // Later cycles continue the timeline: event i keeps timestamp i ms.
                        let base = batches[k].timestamps[0] - Int64(k * batch)
                        let shift = clockOffset - base
                        batches[k].timestamps.withUnsafeMutableBufferPointer { for j in $0.indices { $0[j] += shift } }
                    }
                    runtime.send(streamIndex: streamS, batch: batches[k])
                    sent += batches[k].count
                    k += 1
                }
                return sent
            }
            _ = feed(min(events / 10, 1_000_000))  // warm-up
            outputs = 0
            let start = DispatchTime.now().uptimeNanoseconds
            let sent = feed(events)
            let elapsedNs = DispatchTime.now().uptimeNanoseconds - start
            let perSecond = Double(sent) / (Double(elapsedNs) / 1e9)
            print("\(name) \(Int(perSecond))")
            results.append(["scenario": name, "supported": true, "events": sent, "outputs": outputs,
                            "elapsedNs": elapsedNs, "eventsPerSecond": Int(perSecond), "batch": batch])
        }
        if scenario.isEmpty || scenario.contains("snapshot") {
            results.append(snapshotScenario())
        }
        let document: [String: Any] = ["suite": "engine", "date": ISO8601DateFormatter().string(from: Date()),
                                       "machine": ["cores": ProcessInfo.processInfo.activeProcessorCount], "results": results]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: json))
        FileHandle.standardError.write(Data("results written to \(json)\n".utf8))
    }
}

extension PerfEngineCommand {
    /// Snapshot and restore of a 1 M-event `length` window (the state HA persists), in ms.
    func snapshotScenario() -> [String: Any] {
        let source = PerfEngineCommand.streamDefinition
            + "\nfrom S#window.length(1000000) select symbol, sum(price) as total group by symbol insert into Out;"
        guard let app = try? SiddhiApp.compile(source: source, fileName: "perf-snapshot.siddhi") else {
            return ["scenario": "snapshot", "supported": false]
        }
        let runtime = AppRuntime(app: app, playback: true)
        for b in PerfEngineCommand.workload(batchSize: batch, schema: app.streams[0], eventsMax: 1 << 20) {
            runtime.send(streamIndex: 0, batch: b)
        }
        // Five rounds, as a node persists periodically: the first pays for fresh memory (page
        // faults), later ones reuse what the allocator kept. Both are reported.
        var snapshotMs: [Double] = [], restoreMs: [Double] = []
        var bytesCount = 0
        var restored = true
        for _ in 0..<5 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let bytes = runtime.snapshot()
            let t1 = DispatchTime.now().uptimeNanoseconds
            let fresh = AppRuntime(app: app, playback: true)
            restored = restored && (try? fresh.restore(bytes)) != nil
            let t2 = DispatchTime.now().uptimeNanoseconds
            snapshotMs.append(Double(t1 - t0) / 1e6)
            restoreMs.append(Double(t2 - t1) / 1e6)
            bytesCount = bytes.count
        }
        let median = { (v: [Double]) in v.sorted()[v.count / 2] }
        print(String(format: "snapshot-1M-window %.1f ms median of 5 (first %.1f, max %.1f; %d bytes), restore %.1f ms median (first %.1f, max %.1f)%@",
                     median(snapshotMs), snapshotMs[0], snapshotMs.max()!, bytesCount, median(restoreMs), restoreMs[0], restoreMs.max()!,
                     restored ? "" : " FAILED"))
        return ["scenario": "snapshot", "supported": true, "windowEvents": 1_000_000, "snapshotMs": median(snapshotMs),
                "snapshotMsFirst": snapshotMs[0], "snapshotMsMax": snapshotMs.max()!, "restoreMs": median(restoreMs),
                "restoreMsFirst": restoreMs[0], "restoreMsMax": restoreMs.max()!, "bytes": bytesCount, "restored": restored]
    }
}

/// Small deterministic generator so every run (and every engine) sees the same workload.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
