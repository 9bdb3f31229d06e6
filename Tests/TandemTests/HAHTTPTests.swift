import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The http source in a two-node cluster (real processes, real MariaDB): only the active listens;
/// a 200 means the passive holds the events, so every event answered 200 survives kill -9 of the
/// active; the new active opens the same port and takes the rest.
@Suite(.serialized) struct HAHTTPTests {
    static func body(_ range: ClosedRange<Int>) -> String {
        "[" + range.map { #"{"event":{"symbol":"S\#($0 % HAFailoverTests.symbols)","seq":\#($0)}}"# }.joined(separator: ",") + "]"
    }

    /// Posts events `range` in arrays of 50; every request must be answered 200.
    static func postAll(port: Int, _ range: ClosedRange<Int>) async throws {
        var next = range.lowerBound
        while next <= range.upperBound {
            let end = min(range.upperBound, next + 49)
            let (status, text) = try await HTTPEndToEndTests.post(port, "/in", body(next...end))
            #expect(status == 200, "events \(next)...\(end): \(status) \(text)")
            next = end + 1
        }
    }

    @Test func eventsAnswered200SurviveKillNineAndTheNewActiveOpensThePort() async throws {
        let cluster = try HAFailoverTests.Cluster()
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let httpPort = freeTCPPort()
        try """
            @App:name('\(cluster.appName)')
            @source(type='tcp', port='\(cluster.sourcePort)', context='In', @map(type='binary'))
            @source(type='http', receiver.url='http://127.0.0.1:\(httpPort)/in', @map(type='json'))
            define stream In (symbol string, seq long);

            @sink(type='log', prefix='OUT')
            define stream Out (symbol string, n long, total long);

            from In#window.length(1000000)
            select symbol, count() as n, sum(seq) as total
            group by symbol
            insert into Out;
            """.write(to: cluster.apps.appendingPathComponent("counts.siddhi"), atomically: true, encoding: .utf8)
        let (a, b) = try HAFailoverTests.startInSyncPair(cluster)
        defer { _ = a.terminate(); _ = b.terminate() }
        #expect(a.stderr.contains("http source listening on 127.0.0.1:\(httpPort)"), "\(a.stderr)")
        #expect(!b.stderr.contains("http source listening"), "the passive opened its http source: \(b.stderr)")

        let total = 3_000, killAfter = 2_000
        try await Self.postAll(port: httpPort, 1...killAfter)
        kill(a.process.processIdentifier, SIGKILL)
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        #expect(EndToEndTests.waitForPort(httpPort, timeoutSec: 20), "B did not open \(httpPort): \(b.stderr)")
        #expect(b.stderr.contains("http source listening on 127.0.0.1:\(httpPort)"))
        try await Self.postAll(port: httpPort, (killAfter + 1)...total)
        HAFailoverTests.expectOneNodeCounts(b, total: total)
    }
}
