import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import Testing

/// `@source(type='http')` and `@sink(type='http')` through two real nodes: events posted as JSON to
/// node A's http source, filtered, posted by A's http sink to node B's http source, and printed by
/// B's log sink: every row, in order, once. Bad bodies get 400 with the reason, and nothing of them
/// runs.
@Suite(.serialized) struct HTTPEndToEndTests {
    static func post(_ port: Int, _ path: String, _ body: String) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    static func json(_ event: (String, Double, Int64)) -> String {
        #"{"event":{"symbol":"\#(event.0)","price":\#(event.1),"volume":\#(event.2)}}"#
    }

    @Test func eventsFlowThroughHTTPSourceAndSinkBetweenNodes() async throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let portA = freeTCPPort(), portB = freeTCPPort()
        let appsA = dir.appendingPathComponent("a"), appsB = dir.appendingPathComponent("b")
        for d in [appsA, appsB] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        try """
            @App:name('HttpUp')
            @source(type='http', receiver.url='http://127.0.0.1:\(portA)/in', @map(type='json'))
            define stream StockStream (symbol string, price double, volume long);
            @sink(type='http', publisher.url='http://127.0.0.1:\(portB)/stocks', method='POST', retry.interval.ms='50', @map(type='json'))
            define stream Filtered (symbol string, price double, volume long);
            from StockStream[price > 50.0] select symbol, price, volume insert into Filtered;
            """.write(to: appsA.appendingPathComponent("a.siddhi"), atomically: true, encoding: .utf8)
        try """
            @App:name('HttpDown')
            @source(type='http', receiver.url='http://127.0.0.1:\(portB)/stocks', @map(type='json'))
            define stream Filtered (symbol string, price double, volume long);
            @sink(type='log', prefix='OUT')
            define stream Out (symbol string, price double, total double);
            from Filtered select symbol, price, price * volume as total insert into Out;
            """.write(to: appsB.appendingPathComponent("b.siddhi"), atomically: true, encoding: .utf8)
        let b = try NodeProcess(arguments: ["run", "--apps", appsB.path], workingDirectory: dir)
        defer { _ = b.terminate() }
        let a = try NodeProcess(arguments: ["run", "--apps", appsA.path], workingDirectory: dir)
        defer { _ = a.terminate() }
        #expect(EndToEndTests.waitForPort(portB, timeoutSec: 20), "B did not open \(portB): \(b.stderr)")
        #expect(EndToEndTests.waitForPort(portA, timeoutSec: 20), "A did not open \(portA): \(a.stderr)")

        // Bad bodies first: refused with the reason, nothing of them runs.
        let (s1, t1) = try await Self.post(portA, "/in", #"[{"event":{"symbol":"X","price":99.0,"volume":1}},{"event":{"symbol":"X","price":"99","volume":1}}]"#)
        #expect(s1 == 400 && t1.contains("event 1, attribute 'price': expects a double, got a string"), "\(s1) \(t1)")
        let (s2, t2) = try await Self.post(portA, "/in", #"{"event":{"symbol":"X","price":99.0}}"#)
        #expect(s2 == 400 && t2.contains("attribute 'volume': missing"), "\(s2) \(t2)")
        let (s3, _) = try await Self.post(portA, "/elsewhere", "[]")
        #expect(s3 == 404)

        // One single event, then arrays of 100 (and the rest).
        let input = EndToEndTests.input
        #expect(try await Self.post(portA, "/in", Self.json(input[0])).0 == 200)
        var at = 1
        while at < input.count {
            let chunk = input[at..<min(at + 100, input.count)]
            let (status, text) = try await Self.post(portA, "/in", "[" + chunk.map(Self.json).joined(separator: ",") + "]")
            #expect(status == 200, "\(text)")
            at += chunk.count
        }
        let expected = EndToEndTests.expected
        b.waitFor(timeoutSec: 30) { lines, _ in EndToEndTests.outputRows(lines, prefix: "OUT").count >= expected.count }
        #expect(EndToEndTests.outputRows(b.lines, prefix: "OUT") == expected, "A: \(a.stderr)\nB: \(b.stderr)")
        #expect(a.terminate() == 0)
        #expect(b.terminate() == 0)
    }

    /// A clean stop logs no error. SIGTERM stops the REST API and the http source while clients
    /// keep connections to both open (as a load balancer's health checks do); a Hummingbird server
    /// cancelled rather than shut down gracefully logs `error … [HummingbirdCore] Waiting on child
    /// channel: CancellationError()`, a false alarm in CloudWatch at every deployment.
    @Test func sigtermStopsTheHTTPServersWithoutAnError() async throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sourcePort = freeTCPPort(), apiPort = freeTCPPort()
        let apps = dir.appendingPathComponent("apps")
        try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
        try """
            @App:name('HttpStop')
            @source(type='http', receiver.url='http://127.0.0.1:\(sourcePort)/in', @map(type='json'))
            define stream StockStream (symbol string, price double, volume long);
            @sink(type='log', prefix='OUT')
            define stream Out (symbol string, price double, volume long);
            from StockStream select * insert into Out;
            """.write(to: apps.appendingPathComponent("stop.siddhi"), atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("deployment.yaml")
        try "tandem:\n  api:\n    port: \(apiPort)\n    auth:\n      enabled: false\n".write(to: config, atomically: true, encoding: .utf8)
        let node = try NodeProcess(arguments: ["run", "--config", config.path, "--apps", apps.path], workingDirectory: dir)
        defer { _ = node.terminate() }
        let health = await HTTPTestClient.poll("http://127.0.0.1:\(apiPort)/health", timeoutSec: 30) { $0.status == 200 }
        #expect(health?.status == 200, "API not up: \(node.stderr)")
        #expect(EndToEndTests.waitForPort(sourcePort, timeoutSec: 20), "source not open: \(node.stderr)")
        #expect(try await Self.post(sourcePort, "/in", Self.json(("S", 60.5, 3))).0 == 200)
        #expect(node.waitFor(timeoutSec: 10) { lines, _ in lines.contains { $0.contains("OUT") } }, "event not processed: \(node.stderr)")

        #expect(node.terminate() == 0, "node did not stop cleanly on SIGTERM: \(node.stderr)")
        let errors = node.stderr.split(separator: "\n").filter { $0.contains(" error ") }
        #expect(errors.isEmpty, "a clean stop logged errors:\n\(errors.joined(separator: "\n"))")
        #expect(node.stderr.contains("http source :\(sourcePort) stopped"), "\(node.stderr)")
    }

    @Test func badHTTPSettingsAreReported() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
            @App:name('BadHttp')
            @source(type='http', receiver.url='https://0.0.0.0:8443/x', @map(type='json'))
            define stream In (a int);
            """.write(to: dir.appendingPathComponent("a.siddhi"), atomically: true, encoding: .utf8)
        try """
            @App:name('BadHttpSink')
            @sink(type='http', publisher.url='http://127.0.0.1:1/x', on.full='maybe', @map(type='json'))
            define stream Out (a int);
            """.write(to: dir.appendingPathComponent("b.siddhi"), atomically: true, encoding: .utf8)
        let node = try NodeProcess(arguments: ["run", "--apps", dir.path], workingDirectory: dir)
        defer { _ = node.terminate() }
        node.waitFor(timeoutSec: 20) { _, err in err.components(separatedBy: "not deployed").count >= 3 }
        #expect(node.stderr.contains("is https but has no certificate"), "\(node.stderr)")
        #expect(node.stderr.contains("http sink on.full 'maybe' (expected block or drop)"), "\(node.stderr)")
    }

    /// A node's locked https source: the node's user (TANDEM_ADMIN_USER) gets 200 and its events run,
    /// no or wrong credentials get 401 and nothing runs; an https source without a certificate is a
    /// deploy error naming the options.
    @Test func lockedHTTPSSourceOnANode() async throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let keygen = Process()
        keygen.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        keygen.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                            "-keyout", dir.appendingPathComponent("k.pem").path, "-out", dir.appendingPathComponent("c.pem").path]
        keygen.standardError = FileHandle.nullDevice
        try keygen.run()
        keygen.waitUntilExit()
        try #require(keygen.terminationStatus == 0)
        let port = freeTCPPort(), other = freeTCPPort()
        let apps = dir.appendingPathComponent("apps")
        try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
        try """
            @App:name('Locked')
            @source(type='http', receiver.url='https://127.0.0.1:\(port)/in', basic.auth.enabled='true',
                    tls.certificate.file='\(dir.path)/c.pem', tls.key.file='\(dir.path)/k.pem', @map(type='json'))
            define stream S (symbol string, price double, volume long);
            @sink(type='log', prefix='OUT')
            define stream T (symbol string, price double, volume long);
            from S select * insert into T;
            """.write(to: apps.appendingPathComponent("locked.siddhi"), atomically: true, encoding: .utf8)
        try """
            @App:name('NoCert')
            @source(type='http', receiver.url='https://127.0.0.1:\(other)/in', @map(type='json'))
            define stream S (a int);
            """.write(to: apps.appendingPathComponent("nocert.siddhi"), atomically: true, encoding: .utf8)
        let node = try NodeProcess(arguments: ["run", "--apps", apps.path], workingDirectory: dir,
                                   environment: ["TANDEM_ADMIN_USER": "feeder", "TANDEM_ADMIN_PASSWORD": "pa55"])
        defer { _ = node.terminate() }
        #expect(EndToEndTests.waitForPort(port, timeoutSec: 20), "no https source on \(port): \(node.stderr)")

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        func post(_ authorization: String?) async throws -> Int {
            var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)/in")
            request.method = .POST
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            request.body = .bytes(ByteBuffer(string: Self.json(("LOCK", 1.5, 7))))
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 16)
            return Int(response.status.code)
        }
        let basic = { (user: String, password: String) in "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }
        do {
            #expect(try await post(nil) == 401)
            #expect(try await post(basic("feeder", "wrong")) == 401)
            #expect(try await post(basic("feeder", "pa55")) == 200)
        } catch {
            Issue.record(error)
        }
        try await client.shutdown()
        node.waitFor(timeoutSec: 10) { lines, _ in lines.contains { $0.contains("LOCK") } }
        let all = node.lines.joined(separator: "\n") + node.stderr
        #expect(all.components(separatedBy: "LOCK").count - 1 == 1, "the accepted event ran once, the refused ones not: \(all)")
        #expect(all.contains("is https but has no certificate"), "\(all)")
    }
}
