import DataPlane
import Engine
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Testing

/// A real Hummingbird server on loopback that records what is posted to it: answers 500 to the
/// first `failFirst` requests, and holds each request `delayMs` (a slow receiver).
final class RecordingServer: @unchecked Sendable {
    private let lock = NSLock()
    private var bodies: [String] = []
    private var requests = 0
    let failFirst: Int
    let delayMs: Int
    private(set) var port = 0
    private var group: ServiceGroup?
    private var task: Task<Void, any Error>?

    init(failFirst: Int = 0, delayMs: Int = 0) {
        self.failFirst = failFirst
        self.delayMs = delayMs
    }

    var received: [String] { lock.withLock { bodies } }
    var requestCount: Int { lock.withLock { requests } }

    func start() async throws {
        let router = Router()
        router.post("/in") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 16 << 20))
            let n = self.lock.withLock { () -> Int in
                self.requests += 1
                return self.requests
            }
            if self.delayMs > 0 { try await Task.sleep(nanoseconds: UInt64(self.delayMs) * 1_000_000) }
            if n <= self.failFirst { return Response(status: .internalServerError) }
            self.lock.withLock { self.bodies.append(body) }
            return Response(status: .ok)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "test-server"))
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "test-server")))
        self.group = group
        task = Task { try await group.run() }
        for await p in stream {
            port = p
            break
        }
    }

    func stop() async {
        await group?.triggerGracefulShutdown()
        _ = try? await task?.value
    }
}

/// The http sink against a real HTTP server: Siddhi's JSON shape, retries after failures, the
/// drop policy with a slow receiver.
@Suite(.serialized) struct HTTPSinkTests {
    static let schema = StreamSchema(name: "Out", attributes: [Attribute(name: "symbol", type: .string), Attribute(name: "volume", type: .long)])

    static func batch(_ range: Range<Int>) -> EventBatch {
        var batch = EventBatch(schema: schema)
        for i in range { _ = batch.append(timestamp: Int64(i), values: [.string("S\(i)"), .long(Int64(i))]) }
        return batch
    }

    static func volumes(_ bodies: [String]) throws -> [Int64] {
        var out: [Int64] = []
        for body in bodies {
            var batch = EventBatch(schema: schema)
            _ = try JSONEventMapper(schema: schema).map(Array(body.utf8), timestamp: 0, into: &batch)
            out += (0..<batch.count).map { batch.int64(1, $0) }
        }
        return out
    }

    static func waitUntil(timeoutSec: Double = 30, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeoutSec)
        while !condition() && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
    }

    @Test func postsSiddhiJSONAndRetriesAfterServerErrors() async throws {
        let server = RecordingServer(failFirst: 3)
        try await server.start()
        var options = HTTPSinkOptions(url: "http://127.0.0.1:\(server.port)/in")
        options.retryBackoffMs = 10
        // Under the whole suite on 2 cores the in-process server can answer after the default 10 s;
        // a timed-out request that did arrive is sent again (at least once), which this test does
        // not count: it is about the retries after the 500s.
        options.requestTimeoutMs = 120_000
        let sink = HTTPSink(options: options, logger: Logger(label: "test"))
        sink.start()
        sink.write(Self.batch(0..<1))
        try await Self.waitUntil { server.received.count == 1 }
        #expect(server.received == [#"{"event":{"symbol":"S0","volume":0}}"#])
        #expect(sink.retries.load(ordering: .relaxed) == 3)
        for k in 0..<20 { sink.write(Self.batch((1 + 10 * k)..<(11 + 10 * k))) }
        try await Self.waitUntil { sink.eventsSent.load(ordering: .relaxed) == 201 }
        #expect(try Self.volumes(server.received) == (0..<201).map(Int64.init))
        #expect(server.received.dropFirst().allSatisfy { $0.hasPrefix("[{\"event\":") })
        #expect(sink.queue.eventsDropped.load(ordering: .relaxed) == 0)
        sink.stop()
        await server.stop()
    }

    @Test func givesUpAfterTheLastRetryAndCountsTheDrop() async throws {
        let server = RecordingServer(failFirst: 1000)
        try await server.start()
        var options = HTTPSinkOptions(url: "http://127.0.0.1:\(server.port)/in")
        options.retriesMax = 2
        options.retryBackoffMs = 5
        let sink = HTTPSink(options: options, logger: Logger(label: "test"))
        sink.start()
        sink.write(Self.batch(0..<7))
        try await Self.waitUntil { sink.queue.eventsDropped.load(ordering: .relaxed) == 7 }
        #expect(sink.queue.eventsDropped.load(ordering: .relaxed) == 7)
        #expect(server.requestCount == 3)  // the first try and two retries
        sink.stop()
        await server.stop()
    }

    @Test func dropPolicyCountsDropsWhileTheReceiverIsSlow() async throws {
        let server = RecordingServer(delayMs: 300)
        try await server.start()
        var options = HTTPSinkOptions(url: "http://127.0.0.1:\(server.port)/in")
        options.queueCapacity = 2
        options.fullPolicy = .dropNewest
        options.requestEventsMax = 1
        let sink = HTTPSink(options: options, logger: Logger(label: "test"))
        sink.start()
        let started = Date()
        for i in 0..<50 { sink.write(Self.batch(i..<(i + 1))) }
        #expect(Date().timeIntervalSince(started) < 2, "drop must not wait")
        let dropped = sink.queue.eventsDropped.load(ordering: .relaxed)
        #expect(dropped >= 40, "dropped \(dropped)")
        try await Self.waitUntil { sink.eventsSent.load(ordering: .relaxed) + dropped == 50 }
        #expect(sink.eventsSent.load(ordering: .relaxed) + dropped == 50)
        sink.stop()
        await server.stop()
    }

    @Test func unreachableReceiverUnderBlockPolicyIsBounded() async throws {
        var options = HTTPSinkOptions(url: "http://127.0.0.1:\(freeLoopbackPort())/in")
        options.queueCapacity = 2
        options.fullPolicy = .block(timeoutMs: 50)
        options.retryBackoffMs = 1000
        options.connectTimeoutMs = 500
        options.requestEventsMax = 1
        options.stopDrainTimeoutMs = 200
        let sink = HTTPSink(options: options, logger: Logger(label: "test"))
        sink.start()
        let started = Date()
        for i in 0..<10 { sink.write(Self.batch(i..<(i + 1))) }
        // At most 2 queued and 1 in the sender: the rest waited 50 ms each and were dropped.
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(sink.queue.eventsDropped.load(ordering: .relaxed) >= 7)
        let stopping = Date()
        sink.stop()
        #expect(Date().timeIntervalSince(stopping) < 5, "stop is bounded")
        #expect(sink.queue.eventsDropped.load(ordering: .relaxed) == 10)
    }
}
