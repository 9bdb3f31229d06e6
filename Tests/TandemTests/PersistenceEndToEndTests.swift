import Foundation
import Testing

/// A standalone node keeps its state across a restart (`state.persistence`, file store): counts
/// over a window continue where they stopped.
@Suite(.serialized) struct PersistenceEndToEndTests {
    static func events(_ range: Range<Int>, to url: URL) throws {
        let text = range.map { i in "{\"stream\":\"In\",\"timestamp\":\(1000 + i),\"data\":[\"K\(i % 3)\",\(i)]}" }
            .joined(separator: "\n") + "\n"
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    @Test func windowStateSurvivesARestart() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeTCPPort()
        let apps = dir.appendingPathComponent("apps")
        try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
        let app = apps.appendingPathComponent("counts.siddhi")
        try """
            @App:name('Counts')
            @source(type='tcp', port='\(port)', context='In', @map(type='binary'))
            define stream In (key string, n long);
            @sink(type='log', prefix='OUT')
            define stream Out (key string, c long, total long);
            from In#window.length(100000) select key, count() as c, sum(n) as total group by key insert into Out;
            """.write(to: app, atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("deployment.yaml")
        try """
            state.persistence:
              enabled: true
              intervalInMin: 1
              revisionsToKeep: 2
              persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.FileSystemPersistenceStore
              config:
                location: \(dir.appendingPathComponent("state").path)
            """.write(to: config, atomically: true, encoding: .utf8)
        let first = dir.appendingPathComponent("first.jsonl"), second = dir.appendingPathComponent("second.jsonl")
        try PersistenceEndToEndTests.events(0..<900, to: first)
        try PersistenceEndToEndTests.events(900..<1500, to: second)

        for (round, input) in [first, second].enumerated() {
            let node = try NodeProcess(arguments: ["run", "--config", config.path, "--apps", apps.path], workingDirectory: dir)
            defer { _ = node.terminate() }
            #expect(EndToEndTests.waitForPort(port, timeoutSec: 20), "node did not open \(port): \(node.stderr)")
            let (status, _, err) = try NodeProcess.runToEnd(["send", "--app", app.path, "--host", "127.0.0.1", "--input", input.path],
                                                            workingDirectory: dir)
            #expect(status == 0, "send failed: \(err)")
            // The last row per key: counts and sums over everything sent so far, both runs.
            let sent = round == 0 ? 900 : 1500
            let expected: [String] = (0..<3).map { k in
                let values = Array(stride(from: k, to: sent, by: 3))
                return "[K\(k), \(values.count), \(values.reduce(0, +))]"
            }
            func lastPerKey(_ lines: [String]) -> [String] {
                var last: [String: String] = [:]
                for row in EndToEndTests.outputRows(lines, prefix: "OUT") { last[String(row.prefix(3))] = row }
                return (0..<3).map { last["[K\($0)"] ?? "" }
            }
            node.waitFor(timeoutSec: 20) { lines, _ in lastPerKey(lines) == expected }
            #expect(lastPerKey(node.lines) == expected, "round \(round): \(node.stderr)")
            #expect(node.terminate() == 0)
            if round == 1 { #expect(node.stderr.contains("restored revision"), "\(node.stderr)") }
        }
    }
}
