@testable import Engine
import Testing

/// Partitions: one instance of the partition's queries per key, inner streams scoped to a key,
/// range partitions, snapshot and restore of every instance (TimeRateTests.replay restores after
/// every line), and the errors of misuse.
@Suite struct PartitionTests {
    static func event(_ t: Int, _ sym: String, _ price: Double, _ vol: Int = 1) -> String {
        #"{"stream":"S","timestamp":\#(t),"data":["\#(sym)",\#(price),\#(vol)]}"#
    }

    static let header = "define stream S (sym string, price double, vol int);\n"

    @Test func eachKeyHasItsOwnLengthWindow() throws {
        let out = try TimeRateTests.replay(PartitionTests.header + """
            partition with (sym of S) begin
              from S#window.length(2) select sym, sum(price) as total, count() as c insert into Out;
            end;
            """, [PartitionTests.event(1, "A", 1), PartitionTests.event(2, "B", 10), PartitionTests.event(3, "A", 2),
                  PartitionTests.event(4, "A", 4), PartitionTests.event(5, "B", 20), PartitionTests.event(6, "B", 40)])
        // Without the partition, one length(2) window would mix A and B.
        #expect(out == ["1: A 1 1", "2: B 10 1", "3: A 3 2", "4: A 6 2", "5: B 30 2", "6: B 60 2"])
    }

    @Test func innerStreamsStayWithTheirKey() throws {
        let out = try TimeRateTests.replay(PartitionTests.header + """
            partition with (sym of S) begin
              from S[price > 0] select sym, price, vol * 2 as dv insert into #Pos;
              from #Pos#window.length(2) select sym, sum(dv) as total insert into Out;
            end;
            """, [PartitionTests.event(1, "A", 1, 1), PartitionTests.event(2, "B", 1, 5), PartitionTests.event(3, "A", -1, 9),
                  PartitionTests.event(4, "A", 1, 2), PartitionTests.event(5, "B", 1, 1), PartitionTests.event(6, "A", 1, 3)])
        #expect(out == ["1: A 2", "2: B 10", "4: A 6", "5: B 12", "6: A 10"])
    }

    @Test func overlappingRangesProcessAnEventInEach() throws {
        let out = try TimeRateTests.replay(PartitionTests.header + """
            partition with (price < 60 as 'small' or price > 40 as 'big' of S) begin
              from S select sym, price, count() as c insert into Out;
            end;
            """, [PartitionTests.event(1, "A", 10), PartitionTests.event(2, "B", 50), PartitionTests.event(3, "C", 90),
                  PartitionTests.event(4, "D", 55)])
        #expect(out == ["1: A 10 1", "2: B 50 2", "2: B 50 1", "3: C 90 2", "4: D 55 3", "4: D 55 3"])
    }

    @Test func timeWindowsExpirePerKey() throws {
        let out = try TimeRateTests.replay(PartitionTests.header + """
            partition with (sym of S) begin
              from S#window.time(1 sec) select sym, count() as c insert all events into Out;
            end;
            """, [PartitionTests.event(1000, "A", 1), PartitionTests.event(1500, "B", 1), PartitionTests.event(1800, "A", 1),
                  // Expiries are stamped with the clock that passes them.
                  TimeRateTests.clock(2100), TimeRateTests.clock(2600), TimeRateTests.clock(3000)])
        #expect(out == ["1000: A 1", "1500: B 1", "1800: A 2", "2100: A 1", "2600: B 0", "3000: A 0"])
    }

    /// A batch interleaving keys: each key's rows are one chunk for its instance, exactly what
    /// separate runtimes fed with only that key's rows produce.
    @Test(arguments: [
        // max: run by one StatefulQuery per key.
        "from S#window.length(5) select sym, sum(price) as total, avg(vol) as av, max(price) as mx insert into Out;",
        // sum/avg/count only: run by KeyedLengthAggregate over all keys at once; must agree exactly.
        "from S[vol > 10]#window.length(5) select sym, sum(price) as total, avg(vol) as av, sum(vol) as sv insert into Out;",
    ])
    func batchesSplitByKeyMatchOneRuntimePerKey(_ query: String) throws {
        let partitioned = try SiddhiApp.compile(source: PartitionTests.header + "partition with (sym of S) begin \(query) end;",
                                                fileName: "p.siddhi")
        let plain = try SiddhiApp.compile(source: PartitionTests.header + query, fileName: "q.siddhi")
        let runtime = AppRuntime(app: partitioned, playback: true)
        var got: [String: [String]] = [:]
        runtime.addOutputCallback(stream: "Out") { b in
            for r in 0..<b.count { got[b.string(0, r), default: []].append(b.row(r).map { "\($0)" }.joined(separator: " ")) }
        }
        var perKey: [String: AppRuntime] = [:]
        var want: [String: [String]] = [:]
        var generator = SplitMix(seed: 7)
        let schema = partitioned.stream(named: "S")!
        for b in 0..<200 {
            var batch = EventBatch(schema: schema)
            var byKey: [String: EventBatch] = [:]
            var keyOrder: [String] = []
            for i in 0..<Int(generator.next() % 40 + 1) {
                let sym = "K\(generator.next() % 13)"
                let values: [Value] = [.string(sym), .double(Double(generator.next() % 10_000) / 100), .int(Int32(generator.next() % 100))]
                _ = batch.append(timestamp: Int64(b * 100 + i), values: values)
                if byKey[sym] == nil { keyOrder.append(sym) }
                _ = byKey[sym, default: EventBatch(schema: schema)].append(timestamp: Int64(b * 100 + i), values: values)
            }
            runtime.send(streamIndex: 0, batch: batch)
            for sym in keyOrder {
                let single = perKey[sym] ?? {
                    let r = AppRuntime(app: plain, playback: true)
                    r.addOutputCallback(stream: "Out") { out in
                        for row in 0..<out.count {
                            want[out.string(0, row), default: []].append(out.row(row).map { "\($0)" }.joined(separator: " "))
                        }
                    }
                    perKey[sym] = r
                    return r
                }()
                single.send(streamIndex: 0, batch: byKey[sym]!)
            }
        }
        #expect(got.count == 13)
        #expect(got == want)
    }

    @Test func snapshotsCarryEveryInstance() throws {
        let source = PartitionTests.header + """
            partition with (sym of S) begin
              from S#window.lengthBatch(2) select sym, sum(price) as total insert into Out;
            end;
            """
        let app = try SiddhiApp.compile(source: source, fileName: "p.siddhi")
        let first = AppRuntime(app: app, playback: true)
        for (t, sym) in ["A", "B", "C"].enumerated() {
            var b = EventBatch(schema: app.streams[0])
            _ = b.append(timestamp: Int64(t), values: [.string(sym), .double(Double(t + 1)), .int(1)])
            first.send(streamIndex: 0, batch: b)
        }
        let bytes = first.snapshot()
        let second = AppRuntime(app: app, playback: true)
        try second.restore(bytes)
        var out: [String] = []
        second.addOutputCallback(stream: "Out") { b in for r in 0..<b.count { out.append("\(b.string(0, r)) \(b.double(1, r))") } }
        for (t, sym) in ["C", "A", "B"].enumerated() {
            var b = EventBatch(schema: app.streams[0])
            _ = b.append(timestamp: Int64(10 + t), values: [.string(sym), .double(10), .int(1)])
            second.send(streamIndex: 0, batch: b)
        }
        #expect(out == ["C 13.0", "A 11.0", "B 12.0"])
    }

    @Test func misuseIsReportedWithPositions() {
        func errors(_ source: String) -> [String] {
            do {
                _ = try SiddhiApp.compile(source: source, fileName: "e.siddhi")
                return []
            } catch {
                return error.description.split(separator: "\n").map(String.init)
            }
        }
        let notKeyed = errors(PartitionTests.header + """
            define stream T (sym string);
            partition with (sym of S) begin
              from T select sym insert into Out;
            end;
            """)
        #expect(notKeyed.contains { $0.contains("e.siddhi:4:8") && $0.contains("stream 'T' is not partitioned here") }, "\(notKeyed)")
        let outside = errors(PartitionTests.header + "from #X select * insert into Out;")
        #expect(outside.contains { $0.contains("e.siddhi:2:6") && $0.contains("only inside a partition") }, "\(outside)")
        let badRange = errors(PartitionTests.header + "partition with (price as 'p' of S) begin from S select * insert into Out; end;")
        #expect(badRange.contains { $0.contains("must be bool") }, "\(badRange)")
        let unknown = errors(PartitionTests.header + "partition with (x of S) begin from S select * insert into Out; end;")
        #expect(unknown.contains { $0.contains("'x'") }, "\(unknown)")
    }
}
