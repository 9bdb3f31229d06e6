import Foundation
import Testing

/// `promtool check metrics` (Prometheus's own linter: help text, base units, suffixes) over the
/// `/metrics` of a real node whose apps use every source and sink kind. Needs `promtool` (Debian's
/// `prometheus` package; scripts/install-deps.sh installs just that binary); skipped without it.
enum Promtool {
    static let path: String? = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let found = (dirs + ["/usr/local/bin", "/usr/bin"]).map { $0 + "/promtool" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        if found == nil { print("RestApiMetricsLintTests skipped: promtool not found (apt-get install prometheus, or scripts/install-deps.sh)") }
        return found
    }()

    /// Runs `promtool check metrics` on `text`; its exit status and everything it printed.
    static func checkMetrics(_ text: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path!)
        process.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: printed, as: UTF8.self))
    }
}

@Suite(.serialized, .enabled(if: Promtool.path != nil, "promtool not installed")) struct RestApiMetricsLintTests {
    /// The linter itself reports what the node must not do, so a clean result means something.
    @Test func promtoolReportsMissingHelpAndNonBaseUnits() throws {
        let bad = "# TYPE x_wait_nanoseconds_total counter\nx_wait_nanoseconds_total 5\n"
        let (status, output) = try Promtool.checkMetrics(bad)
        #expect(status != 0)
        #expect(output.contains("no help text") && output.contains("base unit"), "\(output)")
    }

    @Test func metricsEndpointIsLintClean() async throws {
        let node = try await RestApiTests.Node.start()
        defer { node.stop() }
        let base = node.base, u = RestApiTests.user, p = RestApiTests.password
        let tcpIn = freeTCPPort(), tcpRelay = freeTCPPort(), httpIn = freeTCPPort()
        // Downstream first: its tcp and http sources and its inMemory subscription are what the
        // upstream app's sinks reach.
        let downstream = """
            @App:name('LintDown')
            @source(type='inMemory', topic='LintTopic', @map(type='passThrough'))
            define stream FromMem (key string, n long);
            @source(type='tcp', port='\(tcpRelay)', context='Relay', @map(type='binary'))
            define stream FromTcp (key string, n long);
            @source(type='http', receiver.url='http://127.0.0.1:\(httpIn)/lint', @map(type='json'))
            define stream FromHttp (key string, n long);
            @sink(type='log', prefix='OUT')
            define stream Out (src string, key string, n long);
            from FromMem select 'mem' as src, key, n insert into Out;
            from FromTcp select 'tcp' as src, key, n insert into Out;
            from FromHttp select 'http' as src, key, n insert into Out;
            """
        let upstream = """
            @App:name('LintUp')
            @source(type='tcp', port='\(tcpIn)', context='In', @map(type='binary'))
            define stream In (key string, n long);
            @sink(type='inMemory', topic='LintTopic')
            define stream ToMem (key string, n long);
            @sink(type='tcp', url='tcp://127.0.0.1:\(tcpRelay)/Relay', @map(type='binary'))
            define stream ToTcp (key string, n long);
            @sink(type='http', publisher.url='http://127.0.0.1:\(httpIn)/lint', method='POST', @map(type='json'))
            define stream ToHttp (key string, n long);
            from In select key, n insert into ToMem;
            from In select key, n insert into ToTcp;
            from In select key, n insert into ToHttp;
            """
        for app in [downstream, upstream] {
            let reply = try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps", text: app, user: u, password: p)
            #expect(reply.status == 201, "\(reply.body)")
        }
        try RestApiTests.send(0..<5, app: upstream, in: node.dir)
        node.process.waitFor(timeoutSec: 20) { lines, _ in EndToEndTests.outputRows(lines, prefix: "OUT").count >= 15 }
        #expect(EndToEndTests.outputRows(node.process.lines, prefix: "OUT").count == 15, "\(node.process.stderr)")
        // A snapshot, for the snapshot histograms.
        let backup = try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps/LintUp/backup", user: u, password: p)
        #expect(backup.status == 201, "\(backup.body)")

        let metrics = try await HTTPTestClient.send(.GET, "\(base)/metrics")
        #expect(metrics.status == 200)
        // Every kind of series is there to be checked.
        for name in ["tandem_source_events_total{source=\"tcp\"", "tandem_source_events_total{source=\"http\"",
                     "tandem_source_events_total{source=\"inMemory\"", "tandem_source_backpressure_wait_seconds_total",
                     "tandem_http_source_requests_total", "tandem_sink_events_sent_total{sink=\"tcp\"",
                     "tandem_sink_events_sent_total{sink=\"http\"", "tandem_sink_events_sent_total{sink=\"inMemory\"",
                     "tandem_snapshot_save_seconds_bucket", "tandem_snapshot_bytes_bucket", "tandem_batch_events_bucket",
                     "tandem_stream_events_in_total", "tandem_ingest_ring_batches", "tandem_role"] {
            #expect(metrics.body.contains(name), "metrics lack \(name)")
        }
        #expect(!metrics.body.contains("nanoseconds"))
        let (status, output) = try Promtool.checkMetrics(metrics.body)
        #expect(status == 0 && output.isEmpty, "promtool check metrics:\n\(output)")
    }
}
