import ArgumentParser
import AsyncHTTPClient
import Atomics
import DataPlane
import Engine
import Foundation
import Logging
import NIOCore

/// `tandem perf ingest --scenario http-batch100`: a real `HTTPSource` (Hummingbird) feeding the same
/// engine loop as the TCP scenarios, with `--connections` concurrent AsyncHTTPClient clients each
/// posting one JSON array of `eventsPerFrame` events at a time (waiting for its 200) until
/// `--seconds` pass. Events/s counts events answered 200 and run by the engine.
extension PerfIngestCommand {
    func runHTTPScenario(_ s: Scenario, app: SiddhiApp) throws -> [String: Any] {
        var logger = Logger(label: "perf-ingest")
        logger.logLevel = .warning
        let schema = app.streams[0]
        let runtime = AppRuntime(app: app)
        let ring = SPSCRing<IngestBatch>(capacity: ringCapacity)
        let doorbell = Doorbell()
        var options = HTTPSourceOptions(host: "127.0.0.1", port: 0, routes: [HTTPSourceRoute(path: "/S", streamIndex: 0, schema: schema)])
        options.requestsInFlightMax = max(256, connections)
        let source = HTTPSource(options: options, ring: ring, doorbell: doorbell, logger: logger)
        try source.openSource()
        defer { source.closeSource() }
        let engine = PerfEngine(runtime: runtime, ring: ring, returns: SPSCRing(capacity: 2), doorbell: doorbell)
        engine.start()
        defer { engine.stop() }

        let body = PerfIngestCommand.jsonBody(events: s.eventsPerFrame)
        let url = "http://127.0.0.1:\(source.port)/S"
        let accepted = ManagedAtomic<Int>(0)
        let failures = ManagedAtomic<Int>(0)
        let bytes = ManagedAtomic<Int>(0)
        let cpuBefore = ThreadCPU.sample()
        var usageBefore = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usageBefore)
        let start = DispatchTime.now().uptimeNanoseconds
        let deadline = start + UInt64(seconds * 1e9)
        let done = DispatchSemaphore(value: 0)
        let clients = connections, eventsPerRequest = s.eventsPerFrame
        Task.detached {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        while DispatchTime.now().uptimeNanoseconds < deadline {
                            var request = HTTPClientRequest(url: url)
                            request.method = .POST
                            request.body = .bytes(ByteBuffer(bytes: body))
                            do {
                                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                                _ = try await response.body.collect(upTo: 1 << 16)
                                if response.status.code == 200 {
                                    accepted.wrappingIncrement(by: eventsPerRequest, ordering: .relaxed)
                                    bytes.wrappingIncrement(by: body.count, ordering: .relaxed)
                                } else {
                                    failures.wrappingIncrement(ordering: .relaxed)
                                }
                            } catch {
                                failures.wrappingIncrement(ordering: .relaxed)
                            }
                        }
                    }
                }
            }
            done.signal()
        }
        done.wait()
        let sentEvents = accepted.load(ordering: .relaxed)
        let waitLimit = DispatchTime.now().uptimeNanoseconds + 30_000_000_000
        while engine.consumed.load(ordering: .acquiring) < sentEvents && DispatchTime.now().uptimeNanoseconds < waitLimit {
            usleep(200)
        }
        let end = DispatchTime.now().uptimeNanoseconds
        let consumed = engine.consumed.load(ordering: .acquiring)
        let cpuAfter = ThreadCPU.sample()
        var usageAfter = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usageAfter)
        guard consumed == sentEvents else {
            throw ValidationError("\(s.name): the engine ran \(consumed) of \(sentEvents) events answered 200")
        }
        let wallSeconds = Double(end - start) / 1e9
        var cpu = ThreadCPU.cores(before: cpuBefore, after: cpuAfter, wallSeconds: wallSeconds)
        cpu["total"] = (ThreadCPU.seconds(usageAfter) - ThreadCPU.seconds(usageBefore)) / wallSeconds
        return [
            "scenario": s.name, "acked": false, "eventsPerFrame": s.eventsPerFrame, "backend": "http", "multishot": false,
            "connections": connections, "events": sentEvents, "bytes": bytes.load(ordering: .relaxed), "elapsedNs": end - start,
            "eventsPerSecond": Int(Double(sentEvents) / wallSeconds),
            "megabytesPerSecond": Double(bytes.load(ordering: .relaxed)) / wallSeconds / 1e6,
            "requestBytes": body.count, "failedRequests": failures.load(ordering: .relaxed),
            "ringFullWaits": source.stats.ringFullWaits.load(ordering: .relaxed),
            "cpuCores": cpu,
        ]
    }

    /// One request body: a JSON array of `events` events of the fixed workload.
    static func jsonBody(events: Int) -> [UInt8] {
        var generator = SplitMix64(seed: 7)
        let items = (0..<events).map { i in
            #"{"event":{"symbol":"S\#(i % 10)","price":\#(Double(generator.next() % 10_000) / 100),"volume":\#(generator.next() % 1000)}}"#
        }
        return Array(("[" + items.joined(separator: ",") + "]").utf8)
    }
}
