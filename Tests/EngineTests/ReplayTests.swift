import Engine
import Foundation
import Testing

@Suite struct ReplayTests {
    @Test func formatsOutputAsJSONLines() throws {
        let app = try SiddhiApp.compile(source: """
            define stream S (s string, i int, l long, f float, d double, b bool);
            from S select s, i, l, f, d, b insert into Out;
            """, fileName: "r.siddhi")
        var out: [String] = []
        try Replay.run(app: app, lines: [
            #"{"stream":"S","timestamp":1000,"data":["a\"b",1,2,75.6,0.1,true]}"#,
            #"{"timestamp":2000}"#,
            #"{"stream":"S","timestamp":3000,"data":[null,null,null,null,null,false]}"#,
        ]) { out.append($0) }
        #expect(out == [
            #"{"stream":"Out","timestamp":1000,"data":["a\"b",1,2,75.6,0.1,true]}"#,
            #"{"stream":"Out","timestamp":3000,"data":[null,null,null,null,null,false]}"#,
        ])
    }

    @Test func badInputLinesNameTheirLine() throws {
        let app = try SiddhiApp.compile(source: "define stream S (a int);\nfrom S select a insert into Out;", fileName: "r.siddhi")
        for (line, message) in [
            ("not json", "not valid JSON"),
            (#"{"stream":"X","timestamp":1,"data":[1]}"#, "unknown stream 'X'"),
            (#"{"stream":"S","timestamp":1,"data":[1,2]}"#, "has 1 attributes, got 2 values"),
            (#"{"stream":"S","timestamp":1,"data":["x"]}"#, "attribute 'a' is int"),
        ] {
            do {
                try Replay.run(app: app, lines: [#"{"stream":"S","timestamp":0,"data":[1]}"#, line]) { _ in }
                Issue.record("accepted \(line)")
            } catch {
                #expect(error.line == 2)
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
    }
}

/// The shared Siddhi conformance cases the engine implements so far, compared like check.py does.
@Suite struct ConformanceTests {
    static let casesDirectory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/conformance/cases")

    static func cases(prefixes: [String]) -> [String] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: casesDirectory.path)) ?? []
        return all.filter { name in prefixes.contains { name.hasPrefix($0) } }.sorted()
    }

    static func valuesEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        func number(_ v: JSONValue) -> Double? {
            switch v {
            case .integer(let i): return Double(i)
            case .number(let d): return d
            default: return nil
            }
        }
        if let x = number(a), let y = number(b) {
            return x == y || abs(x - y) <= max(1e-9, 1e-6 * max(abs(x), abs(y)))
        }
        return a == b
    }

    static func rowsByStream(_ text: String) throws -> [String: [[JSONValue]]] {
        var out: [String: [[JSONValue]]] = [:]
        for line in text.split(separator: "\n") where !line.isEmpty {
            guard case .object(let object) = try JSONValue.parse(String(line)),
                  case .string(let stream)? = object["stream"], case .array(let data)? = object["data"] else {
                throw CocoaError(.coderReadCorrupt)
            }
            out[stream, default: []].append(data)
        }
        return out
    }

    @Test func casesDirectoryIsPresent() {
        #expect(!ConformanceTests.cases(prefixes: ["01-"]).isEmpty,
                "conformance cases not found at \(ConformanceTests.casesDirectory.path) (../shared/conformance beside the checkout)")
    }

    @Test(arguments: ConformanceTests.cases(prefixes: ["01-"]))
    func conformanceCase(_ name: String) throws {
        let dir = ConformanceTests.casesDirectory.appendingPathComponent(name)
        let source = try String(contentsOf: dir.appendingPathComponent("app.siddhi"), encoding: .utf8)
        let input = try String(contentsOf: dir.appendingPathComponent("input.jsonl"), encoding: .utf8)
        let expected = try ConformanceTests.rowsByStream(String(contentsOf: dir.appendingPathComponent("expected.jsonl"), encoding: .utf8))
        let app = try SiddhiApp.compile(source: source, fileName: name)
        var lines: [String] = []
        try Replay.run(app: app, lines: input.split(separator: "\n").map(String.init)) { lines.append($0) }
        let actual = try ConformanceTests.rowsByStream(lines.joined(separator: "\n"))
        #expect(Set(actual.keys) == Set(expected.keys))
        for (stream, rows) in expected {
            let got = actual[stream] ?? []
            #expect(got.count == rows.count, "\(stream): \(got.count) rows, expected \(rows.count)")
            for (g, e) in zip(got, rows) {
                #expect(g.count == e.count && zip(g, e).allSatisfy { ConformanceTests.valuesEqual($0, $1) }, "\(stream): got \(g), expected \(e)")
            }
        }
    }
}
