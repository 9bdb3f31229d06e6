import ControlPlane
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The REST API of a real `tandem run` process over real HTTP: SI's `/siddhi-apps` paths, basic
/// authentication (configured bcrypt user and the environment's user), malformed bodies, health,
/// metrics, the status page, and `tandem health`.
@Suite(.serialized) struct RestApiTests {
    static let user = "ops", password = "s3cret-pass"
    static let adminUser = "admin", adminPassword = "from-the-env"

    /// A standalone node with the API on a free port.
    struct Node {
        let dir: URL
        let apps: URL
        let apiPort: Int
        let process: NodeProcess
        var base: String { "http://127.0.0.1:\(apiPort)" }

        /// `apiYAML`: the `tandem.api` block's inner lines (indented four spaces).
        static func start(apiYAML: String? = nil, persistenceYAML: String? = nil, environment: [String: String] = [:]) async throws -> Node {
            let dir = try makeTempDirectory()
            let apps = dir.appendingPathComponent("apps")
            try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
            let port = freeTCPPort()
            let hash = PasswordHashing.hash(RestApiTests.password, cost: 4)
            let api = apiYAML ?? """
                    auth:
                      users:
                        - username: \(RestApiTests.user)
                          passwordHash: '\(hash)'
                """
            let persistence = persistenceYAML ?? """
                state.persistence:
                  enabled: true
                  intervalInMin: 60
                  persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.FileSystemPersistenceStore
                  config:
                    location: \(dir.appendingPathComponent("state").path)
                """
            let config = dir.appendingPathComponent("deployment.yaml")
            try """
                \(persistence)
                tandem:
                  api:
                    port: \(port)
                \(api)
                """.write(to: config, atomically: true, encoding: .utf8)
            let process = try NodeProcess(arguments: ["run", "--config", config.path, "--apps", apps.path], workingDirectory: dir,
                                          environment: environment)
            let node = Node(dir: dir, apps: apps, apiPort: port, process: process)
            let health = await HTTPTestClient.poll("\(node.base)/health", timeoutSec: 30) { $0.status == 200 }
            #expect(health?.status == 200, "node API not up: \(process.stderr)")
            return node
        }

        func stop() {
            _ = process.terminate()
            try? FileManager.default.removeItem(at: dir)
        }
    }

    static func counterApp(name: String, port: Int, window: Int = 100_000) -> String {
        """
        @App:name('\(name)')
        @source(type='tcp', port='\(port)', context='In', @map(type='binary'))
        define stream In (key string, n long);
        @sink(type='log', prefix='OUT')
        define stream Out (key string, c long, total long);
        from In#window.length(\(window)) select key, count() as c, sum(n) as total group by key insert into Out;
        """
    }

    /// Sends events `range` (key K0, value i) to `app` through `tandem send`.
    static func send(_ range: Range<Int>, app source: String, in dir: URL) throws {
        let appFile = dir.appendingPathComponent("send-\(UUID().uuidString).siddhi")
        try source.write(to: appFile, atomically: true, encoding: .utf8)
        let input = dir.appendingPathComponent("events-\(UUID().uuidString).jsonl")
        try (range.map { "{\"stream\":\"In\",\"timestamp\":\(1000 + $0),\"data\":[\"K0\",\($0)]}" }.joined(separator: "\n") + "\n")
            .write(to: input, atomically: true, encoding: .utf8)
        let (status, _, err) = try NodeProcess.runToEnd(["send", "--app", appFile.path, "--host", "127.0.0.1", "--input", input.path],
                                                        workingDirectory: dir)
        #expect(status == 0, "send failed: \(err)")
    }

    /// The last `[K0, count, total]` row the node printed.
    static func lastRow(_ node: NodeProcess) -> String? {
        EndToEndTests.outputRows(node.lines, prefix: "OUT").last
    }

    @Test func appLifecycleAuthAndMalformedRequests() async throws {
        let node = try await Node.start(environment: ["TANDEM_ADMIN_USER": RestApiTests.adminUser, "TANDEM_ADMIN_PASSWORD": RestApiTests.adminPassword])
        defer { node.stop() }
        let base = node.base, u = RestApiTests.user, p = RestApiTests.password
        let sourcePort = freeTCPPort()
        let app = RestApiTests.counterApp(name: "Counter", port: sourcePort)

        // Credentials: none, wrong password, unknown user → 401 with a challenge; nothing deployed.
        let none = try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps", text: app)
        #expect(none.status == 401)
        #expect(none.headers["WWW-Authenticate"].first?.contains("Basic") == true)
        #expect(try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps", text: app, user: u, password: "wrong").status == 401)
        #expect(try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps", text: app, user: "nobody", password: p).status == 401)
        #expect(try await HTTPTestClient.send(.GET, "\(base)/siddhi-apps", user: u, password: "wrong").status == 401)
        #expect(try await HTTPTestClient.send(.DELETE, "\(base)/siddhi-apps/Counter").status == 401)

        // Deploy: 201, runs (its port opens), written to the apps folder.
        let created = try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps", text: app, user: u, password: p)
        #expect(created.status == 201, "\(created.body)")
        #expect(EndToEndTests.waitForPort(sourcePort, timeoutSec: 10))
        let written = try FileManager.default.contentsOfDirectory(atPath: node.apps.path)
        #expect(written == ["Counter.siddhi"])
        #expect(try String(contentsOf: node.apps.appendingPathComponent("Counter.siddhi"), encoding: .utf8) == app)
        // Again with POST: 409.
        #expect(try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps", text: app, user: u, password: p).status == 409)

        // An app that does not compile: 400, every error as line:column: message; the running app untouched.
        let broken = """
            @App:name('Broken')
            define stream In (key string, n long);
            from In[n > ] select key insert into Out;
            from Missing select x insert into Out2;
            """
        let rejected = try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps", text: broken, user: u, password: p)
        #expect(rejected.status == 400, "\(rejected.body)")
        let errors = rejected.object["errors"] as? [String] ?? []
        #expect(errors.count >= 2, "\(rejected.body)")
        #expect(errors.allSatisfy { $0.range(of: #"^\d+:\d+: .+"#, options: .regularExpression) != nil }, "\(errors)")
        #expect(errors.first?.hasPrefix("3:") == true, "\(errors)")
        // Malformed bodies: empty, not UTF-8.
        #expect(try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps", text: "  \n", user: u, password: p).status == 400)
        #expect(try await HTTPTestClient.send(.PUT, "\(base)/siddhi-apps", body: [0xff, 0xfe, 0x41], user: u, password: p).status == 400)
        // Same with an update of the running app: 400, still the old one.
        #expect(try await HTTPTestClient.send(.PUT, "\(base)/siddhi-apps", text: "@App:name('Counter')\ndefine stream", user: u, password: p).status == 400)
        #expect(try await HTTPTestClient.send(.GET, "\(base)/siddhi-apps/Counter/status", user: u, password: p).object["status"] as? String == "active")
        #expect(EndToEndTests.waitForPort(sourcePort, timeoutSec: 1))

        // Listing, content, status, statistics (the environment's user works too).
        let a = RestApiTests.adminUser, ap = RestApiTests.adminPassword
        #expect(try await HTTPTestClient.send(.GET, "\(base)/siddhi-apps", user: a, password: ap).json as? [String] == ["Counter"])
        #expect(try await HTTPTestClient.send(.GET, "\(base)/siddhi-apps?isActive=true", user: a, password: ap).json as? [String] == ["Counter"])
        #expect(try await HTTPTestClient.send(.GET, "\(base)/siddhi-apps?isActive=false", user: a, password: ap).json as? [String] == [])
        #expect(try await HTTPTestClient.send(.GET, "\(base)/siddhi-apps?isActive=maybe", user: a, password: ap).status == 400)
        #expect(try await HTTPTestClient.send(.GET, "\(base)/siddhi-apps/Counter", user: a, password: ap).object["content"] as? String == app)
        #expect(try await HTTPTestClient.send(.GET, "\(base)/siddhi-apps/Nope", user: a, password: ap).status == 404)
        #expect(try await HTTPTestClient.send(.GET, "\(base)/siddhi-apps/Nope/status", user: a, password: ap).status == 404)

        try RestApiTests.send(0..<30, app: app, in: node.dir)
        node.process.waitFor(timeoutSec: 20) { lines, _ in RestApiTests.lastRow(node.process) == "[K0, 30, 435]" }
        #expect(RestApiTests.lastRow(node.process) == "[K0, 30, 435]")
        let stats = try await HTTPTestClient.send(.GET, "\(base)/siddhi-apps/statistics", user: u, password: p)
        let entry = (stats.json as? [[String: Any]])?.first
        #expect(entry?["appName"] as? String == "Counter" && entry?["status"] as? String == "active", "\(stats.body)")
        // Out: the rows the query emitted (one per batch with group by and aggregates), at least one.
        let eventsOut = entry?["eventsOut"] as? Int ?? 0
        #expect(entry?["eventsIn"] as? Int == 30 && eventsOut >= 1, "\(stats.body)")

        // PUT replaces it (state carried over: same streams and queries) → 200; a new name → 201.
        let updated = try await HTTPTestClient.send(.PUT, "\(base)/siddhi-apps", text: app + "\n-- v2\n", user: u, password: p)
        #expect(updated.status == 200, "\(updated.body)")
        try RestApiTests.send(30..<31, app: app, in: node.dir)
        node.process.waitFor(timeoutSec: 20) { _, _ in RestApiTests.lastRow(node.process) == "[K0, 31, 465]" }
        #expect(RestApiTests.lastRow(node.process) == "[K0, 31, 465]", "state not carried over the update")
        let secondPort = freeTCPPort()
        #expect(try await HTTPTestClient.send(.PUT, "\(base)/siddhi-apps", text: RestApiTests.counterApp(name: "Second", port: secondPort), user: u, password: p).status == 201)
        // An app whose port is taken cannot start: 409, nothing kept.
        let clash = try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps", text: RestApiTests.counterApp(name: "Clash", port: secondPort), user: u, password: p)
        #expect(clash.status == 409, "\(clash.body)")
        #expect(try await HTTPTestClient.send(.GET, "\(base)/siddhi-apps", user: u, password: p).json as? [String] == ["Counter", "Second"])

        // Delete: 200, file gone, port closed; again: 404.
        #expect(try await HTTPTestClient.send(.DELETE, "\(base)/siddhi-apps/Second", user: u, password: p).status == 200)
        #expect(try await HTTPTestClient.send(.DELETE, "\(base)/siddhi-apps/Second", user: u, password: p).status == 404)
        #expect(try FileManager.default.contentsOfDirectory(atPath: node.apps.path) == ["Counter.siddhi"])
        #expect(connectLoopback(port: secondPort) < 0)

        // Read-only endpoints are open.
        let health = try await HTTPTestClient.send(.GET, "\(base)/health")
        #expect(health.status == 200 && health.object["role"] as? String == "standalone" && health.object["status"] as? String == "UP", "\(health.body)")
        #expect(try await HTTPTestClient.send(.GET, "\(base)/ha/is-active-node").status == 200)
        let metrics = try await HTTPTestClient.send(.GET, "\(base)/metrics")
        #expect(metrics.status == 200)
        for name in ["tandem_stream_events_in_total{app=\"Counter\",stream=\"In\"} 31", "tandem_stream_events_out_total{app=\"Counter\",stream=\"Out\"}",
                     "tandem_batch_events_bucket", "tandem_ingest_ring_batches", "tandem_source_backpressure_seconds_total",
                     "tandem_role{role=\"standalone\"} 1", "tandem_io_backend", "tandem_jemalloc_allocated_bytes"] {
            #expect(metrics.body.contains(name), "metrics lack \(name)")
        }
        let stale = metrics.body.split(separator: "\n").filter { $0.contains("app=\"Second\"") || $0.contains("app=\"Clash\"") }
        #expect(stale.isEmpty, "an undeployed app's series remain: \(stale.prefix(5))")
        let page = try await HTTPTestClient.send(.GET, "\(base)/")
        #expect(page.status == 200 && page.body.contains("<svg id=\"chart\"") && page.body.contains("\"nodeId\""))
        let status = try await HTTPTestClient.send(.GET, "\(base)/status")
        #expect((status.object["node"] as? [String: Any])?["role"] as? String == "standalone")

        // `tandem health`: 0 against the node, 1 where nothing listens.
        let (ok, out, _) = try NodeProcess.runToEnd(["health", "--url", "\(base)/health"], workingDirectory: node.dir)
        #expect(ok == 0 && out.contains("200"), "\(out)")
        let (down, _, _) = try NodeProcess.runToEnd(["health", "--url", "http://127.0.0.1:\(freeTCPPort())/health", "--timeout-ms", "1000"],
                                                    workingDirectory: node.dir)
        #expect(down == 1)
    }

    @Test func withoutAUserStateChangesAreRefused() async throws {
        let node = try await Node.start(apiYAML: "")
        defer { node.stop() }
        let app = RestApiTests.counterApp(name: "Nobody", port: freeTCPPort())
        let refused = try await HTTPTestClient.send(.POST, "\(node.base)/siddhi-apps", text: app, user: "admin", password: "admin")
        #expect(refused.status == 401)
        #expect((refused.object["message"] as? String)?.contains("TANDEM_ADMIN_USER") == true, "\(refused.body)")
        #expect(node.process.stderr.contains("no API user is configured"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: node.apps.path).isEmpty)
        #expect(try await HTTPTestClient.send(.GET, "\(node.base)/health").status == 200)
    }
}
