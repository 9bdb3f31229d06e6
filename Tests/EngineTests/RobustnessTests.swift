@testable import Engine
import Testing

@Suite struct RobustnessTests {
    static let app = """
        @App:name('R')
        @source(type='tcp', port='9892', context='S', @map(type='binary'))
        define stream S (s string, i int, l long, f float, d double, b bool);
        @info(name='q1') from S[(i > 0 and d > 6.5) or s == 'ibm' or not b]
        select s, i * 2 + l as x, f / 2 as h, ifThenElse(b, convert(i, 'string'), s) as t insert into A;
        from A[x % 3 != 0] select t, coalesce(t, 'none') as u, maximum(h, 1.5f) as m insert into B;
        from S select instanceOfString(s) as k, default(d, -1.0) as dd, i / 0 as z, l % i as r insert into C;
        """

    /// Every prefix of a valid app compiles or reports errors inside the text; it never crashes.
    @Test func everyTruncationReportsErrorsWithoutCrashing() {
        let text = Array(RobustnessTests.app.unicodeScalars)
        let lineCount = RobustnessTests.app.split(separator: "\n", omittingEmptySubsequences: false).count
        for end in 0...text.count {
            var prefix = String.UnicodeScalarView()
            prefix.append(contentsOf: text[0..<end])
            do {
                _ = try SiddhiApp.compile(source: String(prefix), fileName: "t.siddhi")
            } catch {
                #expect(!error.errors.isEmpty)
                for e in error.errors {
                    #expect(e.position.line >= 1 && e.position.line <= lineCount && e.position.column >= 1, "\(e)")
                }
            }
        }
    }

    /// Random single-character damage never crashes the compiler.
    @Test func randomDamageNeverCrashes() {
        var rng = SplitMix(seed: 42)
        let alphabet = Array("()[],;.'\"@#:-*/%<>=! \nabcSdfi0123456789")
        let original = Array(RobustnessTests.app)
        for _ in 0..<500 {
            var chars = original
            for _ in 0..<3 {
                let at = Int(rng.next() % UInt64(chars.count))
                chars[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
            }
            _ = try? SiddhiApp.compile(source: String(chars), fileName: "d.siddhi")
        }
    }

    /// Processing events one per batch or all in one batch gives the same rows, nulls and strings.
    @Test func batchingDoesNotChangeResults() throws {
        let app = try SiddhiApp.compile(source: RobustnessTests.app, fileName: "r.siddhi")
        var rng = SplitMix(seed: 7)
        let words = ["ibm", "IBM", "wso2", "", "a\"b"]
        var events: [[Value]] = []
        for _ in 0..<2_000 {
            func maybe(_ v: Value) -> Value { rng.next() % 7 == 0 ? .null : v }
            let i = Int32(truncatingIfNeeded: Int64(rng.next() % 21) - 10)
            events.append([
                maybe(.string(words[Int(rng.next() % UInt64(words.count))])), maybe(.int(i == 0 ? 1 : i)),
                maybe(.long(Int64(bitPattern: rng.next()) >> 40)), maybe(.float(Float(rng.next() % 1000) / 7)),
                maybe(.double(Double(rng.next() % 2000) / 100)), maybe(.bool(rng.next() % 2 == 0)),
            ])
        }
        func collect(batchSize: Int) -> [String: [[Value]]] {
            let runtime = AppRuntime(app: app)
            var out: [String: [[Value]]] = [:]
            for stream in ["A", "B", "C"] {
                runtime.addOutputCallback(stream: stream) { batch in
                    for r in 0..<batch.count { out[stream, default: []].append(batch.row(r)) }
                }
            }
            var batch = EventBatch(schema: app.streams[0])
            for start in stride(from: 0, to: events.count, by: batchSize) {
                batch.removeAll()
                for (k, values) in events[start..<min(start + batchSize, events.count)].enumerated() {
                    batch.append(timestamp: Int64(start + k), values: values)
                }
                runtime.send(streamIndex: 0, batch: batch)
            }
            return out
        }
        let single = collect(batchSize: 1)
        #expect(single["A"]?.isEmpty == false && single["B"]?.isEmpty == false && single["C"]?.count == events.count)
        for size in [7, 256, 2_000] {
            let batched = collect(batchSize: size)
            for stream in ["A", "B", "C"] {
                let a = single[stream] ?? [], b = batched[stream] ?? []
                #expect(a.count == b.count, "\(stream) batch \(size)")
                // NaN != NaN, so compare descriptions.
                #expect(a.map { "\($0)" } == b.map { "\($0)" }, "\(stream) batch \(size)")
            }
        }
    }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
