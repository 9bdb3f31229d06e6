import DataPlane
import Engine
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Outputs across a failover with a hot standby (docs/ha.md "Outputs"): the passive applies every
/// batch with its outputs off, keeps what it emitted until the active reports its sinks done with
/// it, and a new active sends the rest again first. Real processes: an HA pair on MariaDB whose
/// app writes every event through a `tcp` sink to a third, standalone node (the receiver), which
/// logs what arrives.
@Suite(.serialized) struct HAOutputTests {
    static func writeApp(_ cluster: HAFailoverTests.Cluster, receiverPort: Int) throws {
        try """
            @App:name('\(cluster.appName)')
            @source(type='tcp', port='\(cluster.sourcePort)', context='In', @map(type='binary'))
            define stream In (symbol string, seq long);

            @sink(type='tcp', url='tcp://127.0.0.1:\(receiverPort)/Out', @map(type='binary'))
            define stream Out (symbol string, seq long);

            from In select symbol, seq insert into Out;
            """.write(to: cluster.apps.appendingPathComponent("counts.siddhi"), atomically: true, encoding: .utf8)
    }

    /// A standalone node logging every event that reaches `port` (prefix RECV).
    static func startReceiver(port: Int, dir: URL) throws -> NodeProcess {
        let apps = dir.appendingPathComponent("receiver")
        try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
        try """
            @App:name('Receiver')
            @source(type='tcp', port='\(port)', context='Out', @map(type='binary'))
            define stream Out (symbol string, seq long);
            @sink(type='log', prefix='RECV')
            define stream Got (symbol string, seq long);
            from Out select symbol, seq insert into Got;
            """.write(to: apps.appendingPathComponent("receiver.siddhi"), atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("receiver.yaml")
        try "tandem:\n  api:\n    port: 0\n".write(to: config, atomically: true, encoding: .utf8)
        let node = try NodeProcess(arguments: ["run", "--config", config.path, "--apps", apps.path], workingDirectory: dir)
        #expect(EndToEndTests.waitForPort(port, timeoutSec: 20), "the receiver did not open \(port): \(node.stderr)")
        return node
    }

    /// Per sequence number, how often the receiver logged it.
    static func received(_ receiver: NodeProcess) -> [Int64: Int] {
        var seen: [Int64: Int] = [:]
        for row in EndToEndTests.outputRows(receiver.lines, prefix: "RECV") {
            let parts = row.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let seq = Int64(parts[1]) { seen[seq, default: 0] += 1 }
        }
        return seen
    }

    static func publish(port: Int, total: Int) throws {
        let publisher = TCPPublisher(host: "127.0.0.1", port: port, framing: .acked, reconnectTimeoutMs: 20_000)
        try publisher.connect()
        try HAFailoverTests.sendAll(publisher, total: total)
        try publisher.flush(timeoutMs: 20_000)  // acknowledged: the passive holds every batch
        publisher.close()
    }

    /// The receiver is down while the active runs the events: their outputs wait in the active's sink
    /// queue, and it dies with them. The new active sends every one of them.
    @Test func outputsTheOldActiveDidNotDeliverAreSentByTheNewOne() throws {
        let cluster = try HAFailoverTests.Cluster()
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let receiverPort = freeTCPPort()
        try HAOutputTests.writeApp(cluster, receiverPort: receiverPort)
        let (a, b) = try HAFailoverTests.startInSyncPair(cluster)
        defer { _ = a.terminate(); _ = b.terminate() }
        let total = 4_000
        try HAOutputTests.publish(port: cluster.sourcePort, total: total)
        kill(a.process.processIdentifier, SIGKILL)
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        #expect(b.stderr.contains("sent again \(total) output events"), "B did not send the undelivered outputs again: \(b.stderr)")
        let receiver = try HAOutputTests.startReceiver(port: receiverPort, dir: cluster.dir)
        defer { _ = receiver.terminate() }
        _ = receiver.waitFor(timeoutSec: 30) { _, _ in HAOutputTests.received(receiver).count >= total }
        let seen = HAOutputTests.received(receiver)
        let missing = (1...total).filter { seen[Int64($0)] == nil }
        #expect(missing.count == 0, "\(missing.count) outputs lost across the failover, first \(Array(missing.prefix(5)))")
    }

    /// The receiver is up: the active's sink delivers everything and says so; after a kill -9 the
    /// new active sends none of it again.
    @Test func outputsTheOldActiveDeliveredAreNotSentAgain() throws {
        let cluster = try HAFailoverTests.Cluster()
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let receiverPort = freeTCPPort()
        try HAOutputTests.writeApp(cluster, receiverPort: receiverPort)
        let receiver = try HAOutputTests.startReceiver(port: receiverPort, dir: cluster.dir)
        defer { _ = receiver.terminate() }
        let (a, b) = try HAFailoverTests.startInSyncPair(cluster)
        defer { _ = a.terminate(); _ = b.terminate() }
        let total = 4_000
        try HAOutputTests.publish(port: cluster.sourcePort, total: total)
        #expect(receiver.waitFor(timeoutSec: 30) { _, _ in HAOutputTests.received(receiver).count >= total })
        usleep(300_000)  // the active's report (every 2 ms) reaches the passive
        kill(a.process.processIdentifier, SIGKILL)
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        // Then more events through the new active: they arrive once, after the old ones.
        let publisher = TCPPublisher(host: "127.0.0.1", port: cluster.sourcePort, framing: .acked, reconnectTimeoutMs: 20_000)
        try publisher.connect()
        try publisher.send(schema: HAFailoverTests.schema, rows: HAFailoverTests.rows((total + 1)..<(total + 101)), channel: "In")
        try publisher.flush(timeoutMs: 20_000)
        publisher.close()
        #expect(receiver.waitFor(timeoutSec: 30) { _, _ in HAOutputTests.received(receiver).count >= total + 100 })
        let seen = HAOutputTests.received(receiver)
        #expect(seen.count == total + 100, "outputs missing: \(total + 100 - seen.count)")
        let twice = seen.filter { $0.value > 1 }.count
        #expect(twice == 0, "\(twice) outputs the old active had delivered were sent again")
        #expect(!b.stderr.contains("sent again"), "B sent outputs again: \(b.stderr)")
    }
}
