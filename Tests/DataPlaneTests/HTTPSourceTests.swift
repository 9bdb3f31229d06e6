import AsyncHTTPClient
import Atomics
import DataPlane
import Engine
import Foundation
import Glibc
import Logging
import NIOCore
import NIOSSL
import Testing

/// Runs `body` on a plain thread (sources' `openSource`/`closeSource` block their caller; they must not hold
/// one of Swift concurrency's few pool threads while the server starts on that pool).
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// An HTTP source on loopback with real requests (AsyncHTTPClient): what is accepted reaches the
/// ring, and every refusal has its status and reason.
@Suite(.serialized) struct HTTPSourceTests {
    static let schema = StreamSchema(name: "StockStream", attributes: [
        Attribute(name: "symbol", type: .string), Attribute(name: "price", type: .double), Attribute(name: "volume", type: .long),
    ])

    static func source(ringCapacity: Int = 64, maxBodyBytes: Int = 1 << 20, ringFullTimeoutMs: Int = 1000) async throws -> HTTPSource {
        var options = HTTPSourceOptions(host: "127.0.0.1", port: 0, routes: [HTTPSourceRoute(path: "/stocks", streamIndex: 3, schema: schema)])
        options.maxBodyBytes = maxBodyBytes
        options.ringFullTimeoutMs = ringFullTimeoutMs
        // The suite runs beside long synchronous tests that hold the concurrency pool's threads.
        options.startTimeoutMs = 120_000
        let source = HTTPSource(options: options, ring: SPSCRing(capacity: ringCapacity), doorbell: Doorbell(), logger: Logger(label: "test"))
        try await onThread { try source.openSource() }
        return source
    }

    /// Status, body text, and the `Allow` and `Retry-After` headers.
    static func post(_ port: Int, path: String = "/stocks", get: Bool = false, _ body: String) async throws -> (Int, String, [String: String]) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = get ? .GET : .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        var headers: [String: String] = [:]
        for name in ["Allow", "Retry-After"] { headers[name] = response.headers[name].first }
        return (Int(response.status.code), text, headers)
    }

    /// Whether a TCP connection to loopback `port` is accepted.
    static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func drain(_ ring: SPSCRing<IngestBatch>) -> [IngestBatch] {
        var out: [IngestBatch] = []
        while let item = ring.tryPop() { out.append(item) }
        return out
    }

    @Test func goodBodiesReachTheRing() async throws {
        let source = try await Self.source()
        let port = source.port
        let (status, text, _) = try await Self.post(port, #"{"event":{"symbol":"IBM","price":75.6,"volume":100}}"#)
        #expect(status == 200, "\(text)")
        #expect(text.contains("accepted 1 events"))
        let array = (0..<100).map { #"{"event":{"symbol":"S\#($0)","price":\#($0).5,"volume":\#($0)}}"# }.joined(separator: ",")
        let (status2, _, _) = try await Self.post(port, "[\(array)]")
        #expect(status2 == 200)
        let items = Self.drain(source.ring)
        #expect(items.map(\.batch.count) == [1, 100])
        #expect(items.allSatisfy { $0.streamIndex == 3 })
        #expect(items[0].batch.row(0) == [.string("IBM"), .double(75.6), .long(100)])
        #expect(items[1].batch.row(99) == [.string("S99"), .double(99.5), .long(99)])
        #expect(source.stats.eventsAccepted.load(ordering: .relaxed) == 101)
        try await onThread { source.closeSource() }
    }

    @Test func refusalsCarryStatusAndReason() async throws {
        let source = try await Self.source(maxBodyBytes: 1000)
        let port = source.port
        let bad: [(String, String)] = [
            ("{\"event\":{\"symbol\":\"IBM\",\"price\":\"x\",\"volume\":1}}", "attribute 'price': expects a double, got a string"),
            ("[{\"event\":{\"symbol\":\"IBM\",\"price\":1.0,\"volume\":1}},{\"event\":{\"symbol\":\"IBM\",\"price\":1.0}}]", "event 1, attribute 'volume': missing"),
            ("{\"event\":{\"symbol\":\"IBM\",\"price\":1.0,\"volume\":1,\"extra\":2}}", "has no attribute 'extra'"),
            ("{\"event\":", "expected an object of attributes after \"event\""),
            ("not json", "expected {\"event\":{…}} or an array of them"),
            ("", "empty body"),
        ]
        for (body, reason) in bad {
            let (status, text, _) = try await Self.post(port, body)
            #expect(status == 400, "\(body) → \(status) \(text)")
            #expect(text.contains(reason), "\(body) → \(text)")
        }
        let (s404, t404, _) = try await Self.post(port, path: "/other", "{}")
        #expect(s404 == 404 && t404.contains("/stocks"))
        let (s405, _, h405) = try await Self.post(port, get: true, "")
        #expect(s405 == 405 && h405["Allow"] == "POST")
        let (s413, t413, _) = try await Self.post(port, String(repeating: " ", count: 2000) + "[]")
        #expect(s413 == 413 && t413.contains("1000 bytes"))
        #expect(Self.drain(source.ring).isEmpty)
        #expect(source.stats.requestsRejected.load(ordering: .relaxed) == bad.count + 3)
        try await onThread { source.closeSource() }
    }

    @Test func fullRingAnswers503WithRetryAfterThenRecovers() async throws {
        // 2 s of patience: the late request below must still be waiting when this task (which may
        // be scheduled late while the whole suite runs) makes room.
        let source = try await Self.source(ringCapacity: 2, ringFullTimeoutMs: 2000)
        let port = source.port
        let body = #"{"event":{"symbol":"IBM","price":75.6,"volume":100}}"#
        for _ in 0..<2 { #expect(try await Self.post(port, body).0 == 200) }
        let (status, text, headers) = try await Self.post(port, body)
        #expect(status == 503, "\(text)")
        #expect(headers["Retry-After"] == "1")
        #expect(text.contains("stayed full for 2000 ms"))
        #expect(source.stats.requestsUnavailable.load(ordering: .relaxed) == 1)
        // A request waiting for room is accepted once the consumer makes room within the bound.
        async let late = Self.post(port, body)
        try await Task.sleep(nanoseconds: 50_000_000)
        #expect(Self.drain(source.ring).count == 2)
        #expect(try await late.0 == 200)
        #expect(Self.drain(source.ring).count == 1)
        #expect(source.stats.ringFullWaits.load(ordering: .relaxed) >= 1)
        try await onThread { source.closeSource() }
    }

    @Test func closedSourceRefusesConnectionsAndPortIsReusable() async throws {
        let source = try await Self.source()
        let port = source.port
        try await onThread { source.closeSource() }
        #expect(!Self.canConnect(port), "the port still takes connections after close")
        // A second source can bind the same port (HA: the new active takes it over).
        var options = HTTPSourceOptions(host: "127.0.0.1", port: port, routes: [HTTPSourceRoute(path: "/stocks", streamIndex: 0, schema: Self.schema)])
        options.startTimeoutMs = 120_000
        options.ringFullTimeoutMs = 10
        let again = HTTPSource(options: options, ring: SPSCRing(capacity: 2), doorbell: Doorbell(), logger: Logger(label: "test"))
        try await onThread { try again.openSource() }
        #expect(try await Self.post(port, "[]").0 == 200)
        // And a third one on the taken port fails to open, with the reason.
        let clash = HTTPSource(options: options, ring: SPSCRing(capacity: 2), doorbell: Doorbell(), logger: Logger(label: "test"))
        let error = try await onThread { () -> String in
            do {
                try clash.openSource()
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(error.contains("cannot open http source 127.0.0.1:\(port)"), "\(error)")
        try await onThread { again.closeSource() }
    }
}

// MARK: Basic authentication and https

extension HTTPSourceTests {
    static let body = #"{"event":{"symbol":"IBM","price":75.6,"volume":100}}"#

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    /// A source whose one route needs basic auth (user alice, password s3cret), optionally https.
    static func lockedSource(tls: HTTPSourceTLS? = nil, authenticator: HTTPBasicAuthenticator? = nil) async throws -> HTTPSource {
        var options = HTTPSourceOptions(host: "127.0.0.1", port: 0, routes: [HTTPSourceRoute(path: "/stocks", streamIndex: 3, schema: schema, basicAuth: true)])
        options.startTimeoutMs = 120_000
        options.tls = tls
        options.authenticator = authenticator ?? HTTPBasicAuthenticator(hasUsers: true) { user, password in user == "alice" && password == "s3cret" }
        let source = HTTPSource(options: options, ring: SPSCRing(capacity: 64), doorbell: Doorbell(), logger: Logger(label: "test"))
        try await onThread { try source.openSource() }
        return source
    }

    /// Status, body text and `WWW-Authenticate` of a POST through `client` to `url`.
    static func send(_ client: HTTPClient, _ url: String, authorization: String?, _ body: String) async throws -> (Int, String, String?) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        return (Int(response.status.code), text, response.headers["WWW-Authenticate"].first)
    }

    @Test func basicAuthRefusesMissingOrWrongCredentialsAndTakesRightOnes() async throws {
        let source = try await Self.lockedSource()
        let url = "http://127.0.0.1:\(source.port)/stocks"
        let refused: [(String?, String)] = [
            (nil, "authentication required"),
            (Self.basic("alice", "wrong"), "wrong user name or password"),
            (Self.basic("mallory", "s3cret"), "wrong user name or password"),
            ("Bearer abc", "not 'Basic base64(user:password)'"),
        ]
        for (authorization, reason) in refused {
            let (status, text, challenge) = try await Self.send(HTTPClient.shared, url, authorization: authorization, Self.body)
            #expect(status == 401, "\(authorization ?? "none") → \(status) \(text)")
            #expect(text.contains(reason), "\(text)")
            #expect(challenge?.hasPrefix("Basic realm=") == true)
        }
        #expect(Self.drain(source.ring).isEmpty, "a refused request put events in the ring")
        #expect(source.stats.requestsUnauthorized.load(ordering: .relaxed) == refused.count)
        #expect(source.stats.eventsAccepted.load(ordering: .relaxed) == 0)

        for _ in 0..<5 {
            let (status, text, _) = try await Self.send(HTTPClient.shared, url, authorization: Self.basic("alice", "s3cret"), Self.body)
            #expect(status == 200, "\(text)")
        }
        #expect(Self.drain(source.ring).map(\.batch.count) == [1, 1, 1, 1, 1])
        #expect(source.stats.eventsAccepted.load(ordering: .relaxed) == 5)
        // One password check for the five requests (the verified credential is kept); each refused
        // well-formed credential was checked once (they are not kept).
        #expect(source.options.authenticator?.verificationsRun.load(ordering: .relaxed) == 3)
        #expect(source.options.authenticator?.cachedCount == 1)
        // Still refused after the right one was kept.
        #expect(try await Self.send(HTTPClient.shared, url, authorization: Self.basic("alice", "s3cre"), Self.body).0 == 401)
        try await onThread { source.closeSource() }
    }

    @Test func withoutUsersEveryRequestIsRefused() async throws {
        let source = try await Self.lockedSource(authenticator: HTTPBasicAuthenticator(hasUsers: false) { _, _ in true })
        let (status, text, _) = try await Self.send(HTTPClient.shared, "http://127.0.0.1:\(source.port)/stocks",
                                                  authorization: Self.basic("alice", "s3cret"), Self.body)
        #expect(status == 401 && text.contains("no user is configured"), "\(status) \(text)")
        #expect(Self.drain(source.ring).isEmpty)
        try await onThread { source.closeSource() }
    }

    /// Concurrent checks of one credential share a password check; past `verificationsMax`
    /// different credentials being checked, `check` answers busy at once; the cache is bounded.
    @Test func authenticatorCoalescesBoundsAndEvicts() async throws {
        let started = ManagedAtomic<Int>(0)
        let gate = ManagedAtomic<Bool>(false)
        let auth = HTTPBasicAuthenticator(hasUsers: true, cacheCapacity: 2, verificationsMax: 1) { _, password in
            started.wrappingIncrement(ordering: .relaxed)
            while !gate.load(ordering: .acquiring) { try? await Task.sleep(nanoseconds: 1_000_000) }
            return password == "ok"
        }
        let a = Self.basic("u", "ok")
        async let first = auth.check(authorization: a)
        while started.load(ordering: .relaxed) == 0 { try await Task.sleep(nanoseconds: 1_000_000) }
        async let second = auth.check(authorization: a)
        #expect(await auth.check(authorization: Self.basic("v", "ok")) == .busy)
        gate.store(true, ordering: .releasing)
        #expect(await first == .allowed)
        #expect(await second == .allowed)
        #expect(auth.verificationsRun.load(ordering: .relaxed) == 1)
        for user in ["v", "w", "x"] { #expect(await auth.check(authorization: Self.basic(user, "ok")) == .allowed) }
        #expect(auth.cachedCount == 2, "the cache holds more than its capacity")
        #expect(auth.verificationsRun.load(ordering: .relaxed) == 4)
        #expect(await auth.check(authorization: Self.basic("x", "ok")) == .allowed)
        #expect(auth.verificationsRun.load(ordering: .relaxed) == 4, "a kept credential was checked again")
    }

    /// A self-signed certificate for CN=localhost made with openssl in a new directory.
    static func makeCertificate() throws -> HTTPSourceTLS {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                             "-keyout", "\(dir)/k.pem", "-out", "\(dir)/c.pem"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "openssl failed")
        return HTTPSourceTLS(certificateFile: "\(dir)/c.pem", keyFile: "\(dir)/k.pem")
    }

    @Test func httpsWithBasicAuthAndPlainHttpRefused() async throws {
        let tls = try Self.makeCertificate()
        let source = try await Self.lockedSource(tls: tls)
        var clientTLS = TLSConfiguration.makeClientConfiguration()
        clientTLS.trustRoots = .file(tls.certificateFile)
        clientTLS.certificateVerification = .noHostnameVerification
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: clientTLS))
        do {
            let url = "https://127.0.0.1:\(source.port)/stocks"
            #expect(try await Self.send(client, url, authorization: nil, Self.body).0 == 401)
            #expect(try await Self.send(client, url, authorization: Self.basic("alice", "nope"), Self.body).0 == 401)
            let (status, text, _) = try await Self.send(client, url, authorization: Self.basic("alice", "s3cret"), Self.body)
            #expect(status == 200, "\(text)")
            #expect(Self.drain(source.ring).map(\.batch.count) == [1])

            // Plain http on the https port: the handshake fails, no response, nothing taken.
            await #expect(throws: (any Error).self) {
                _ = try await Self.send(HTTPClient.shared, "http://127.0.0.1:\(source.port)/stocks", authorization: Self.basic("alice", "s3cret"), Self.body)
            }
            #expect(Self.drain(source.ring).isEmpty)
            #expect(source.stats.eventsAccepted.load(ordering: .relaxed) == 1)
        } catch {
            Issue.record(error)
        }
        try await client.shutdown()
        try await onThread { source.closeSource() }
    }

    @Test func httpsWithUnreadableCertificateDoesNotOpen() async throws {
        var options = HTTPSourceOptions(host: "127.0.0.1", port: 0, routes: [HTTPSourceRoute(path: "/stocks", streamIndex: 0, schema: Self.schema)])
        options.tls = HTTPSourceTLS(certificateFile: "/nonexistent/c.pem", keyFile: "/nonexistent/k.pem")
        let source = HTTPSource(options: options, ring: SPSCRing(capacity: 2), doorbell: Doorbell(), logger: Logger(label: "test"))
        let error = try await onThread { () -> String in
            do {
                try source.openSource()
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(error.contains("cannot read the certificate /nonexistent/c.pem"), "\(error)")
    }
}
