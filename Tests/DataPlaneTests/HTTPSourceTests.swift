import AsyncHTTPClient
import DataPlane
import Engine
import Foundation
import Glibc
import Logging
import NIOCore
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
