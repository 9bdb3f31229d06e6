import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Acknowledged publishing end to end through the real executable: `tandem send` (acked framing by
/// default) into `tandem run`, outputs read from the node's log sink.
@Suite(.serialized) struct AckEndToEndTests {
    static func app(port: Int) -> String {
        """
        @App:name('Acked')
        @source(type='tcp', port='\(port)', @map(type='binary'))
        define stream S (symbol string, price double, volume long);
        @sink(type='log', prefix='ACKED')
        define stream Out (volume long);
        from S select volume insert into Out;
        """
    }

    /// `count` events with volumes 0..<count, as `tandem send --input` reads them.
    static func writeInput(_ dir: URL, count: Int) throws -> URL {
        let url = dir.appendingPathComponent("events.jsonl")
        let text = (0..<count).map { "{\"timestamp\":\(1000 + $0),\"data\":[\"S\($0 % 5)\",\(Double($0) / 4),\($0)]}" }.joined(separator: "\n")
        try (text + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    static func volumes(_ lines: [String]) -> [Int] {
        EndToEndTests.outputRows(lines, prefix: "ACKED").compactMap { Int($0.dropFirst().dropLast()) }
    }

    @Test(arguments: ["acked", "siddhi"])
    func everyEventArrivesExactlyOnce(framing: String) throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeTCPPort()
        let appFile = dir.appendingPathComponent("acked.siddhi")
        try AckEndToEndTests.app(port: port).write(to: appFile, atomically: true, encoding: .utf8)
        let input = try AckEndToEndTests.writeInput(dir, count: 3000)
        let node = try NodeProcess(arguments: ["run", "--apps", dir.path], workingDirectory: dir)
        defer { _ = node.terminate() }
        #expect(EndToEndTests.waitForPort(port, timeoutSec: 20))
        let (status, _, sendErr) = try NodeProcess.runToEnd(
            ["send", "--app", appFile.path, "--input", input.path, "--batch", "70", "--framing", framing], workingDirectory: dir)
        #expect(status == 0, "\(sendErr)")
        #expect(sendErr.contains("all acknowledged") == (framing == "acked"), "\(sendErr)")
        node.waitFor(timeoutSec: 20) { lines, _ in AckEndToEndTests.volumes(lines).count >= 3000 }
        #expect(AckEndToEndTests.volumes(node.lines) == Array(0..<3000))
        #expect(node.terminate() == 0)
    }

    @Test func publisherRidesOutANodeRestartWithoutLosingEvents() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeTCPPort()
        let appFile = dir.appendingPathComponent("acked.siddhi")
        try AckEndToEndTests.app(port: port).write(to: appFile, atomically: true, encoding: .utf8)
        let total = 4000
        let input = try AckEndToEndTests.writeInput(dir, count: total)
        var first = try NodeProcess(arguments: ["run", "--apps", dir.path], workingDirectory: dir)
        #expect(EndToEndTests.waitForPort(port, timeoutSec: 20))
        // About two seconds of sending; the node is stopped and started again in the middle.
        let sender = try NodeProcess(arguments: ["send", "--app", appFile.path, "--input", input.path, "--batch", "20",
                                                 "--rate", "2000", "--reconnect-timeout-seconds", "30"], workingDirectory: dir)
        first.waitFor(timeoutSec: 20) { lines, _ in AckEndToEndTests.volumes(lines).count >= 500 }
        #expect(first.terminate() == 0)
        let beforeRestart = AckEndToEndTests.volumes(first.lines)
        first = try NodeProcess(arguments: ["run", "--apps", dir.path], workingDirectory: dir)
        defer { _ = first.terminate() }
        let deadline = Date().addingTimeInterval(60)
        while sender.process.isRunning && Date() < deadline { usleep(20_000) }
        sender.process.waitUntilExit()
        #expect(sender.process.terminationStatus == 0, "\(sender.stderr)")
        #expect(sender.stderr.contains("all acknowledged") && sender.stderr.contains("reconnect"), "\(sender.stderr)")
        first.waitFor(timeoutSec: 10) { lines, _ in Set(beforeRestart + AckEndToEndTests.volumes(lines)).count >= total }
        let afterRestart = AckEndToEndTests.volumes(first.lines)
        // Zero loss across the restart. (A batch the first node took in but could not acknowledge
        // before it stopped is sent again, so the second node may see it too: at least once.)
        #expect(Set(beforeRestart + afterRestart) == Set(0..<total))
        #expect(beforeRestart.count > 0 && afterRestart.count > 0)
        #expect(Set(beforeRestart).count == beforeRestart.count && Set(afterRestart).count == afterRestart.count,
                "no duplicates within one node")
    }

    /// `tandem send` with two targets (two standalone nodes, keepalives every 100 ms): the first node
    /// is frozen (SIGSTOP: silent, its sockets still open) or stopped gracefully (SIGTERM: it says
    /// "not active" and closes) in the middle; send moves to the second and every event arrives.
    @Test(arguments: ["SIGSTOP", "SIGTERM"])
    func sendMovesToTheSecondNodeWhenTheFirstGoesAway(how: String) throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ports = [freeTCPPort(), freeTCPPort()]
        var nodes: [NodeProcess] = []
        var appFiles: [URL] = []
        defer {
            for node in nodes {
                kill(node.process.processIdentifier, SIGCONT)
                _ = node.terminate()
            }
        }
        for (i, port) in ports.enumerated() {
            let nodeDir = dir.appendingPathComponent("node\(i)")
            let apps = nodeDir.appendingPathComponent("apps")
            try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
            let appFile = apps.appendingPathComponent("acked.siddhi")
            try AckEndToEndTests.app(port: port).write(to: appFile, atomically: true, encoding: .utf8)
            appFiles.append(appFile)
            let config = nodeDir.appendingPathComponent("deployment.yaml")
            try "tandem:\n  dataPlane:\n    keepaliveIntervalMs: 100\n".write(to: config, atomically: true, encoding: .utf8)
            nodes.append(try NodeProcess(arguments: ["run", "--config", config.path, "--apps", apps.path], workingDirectory: nodeDir))
        }
        for port in ports { #expect(EndToEndTests.waitForPort(port, timeoutSec: 30)) }
        let total = 3000
        let input = try AckEndToEndTests.writeInput(dir, count: total)
        let sender = try NodeProcess(arguments: ["send", "--app", appFiles[0].path, "--input", input.path, "--batch", "20",
                                                 "--rate", "2000", "--unacked-max", "8", "--silence-timeout-ms", "500",
                                                 "--reconnect-timeout-seconds", "20",
                                                 "--target", "127.0.0.1:\(ports[0])", "--target", "127.0.0.1:\(ports[1])"],
                                     workingDirectory: dir)
        nodes[0].waitFor(timeoutSec: 20) { lines, _ in AckEndToEndTests.volumes(lines).count >= 600 }
        kill(nodes[0].process.processIdentifier, how == "SIGSTOP" ? SIGSTOP : SIGTERM)
        let deadline = Date().addingTimeInterval(40)
        while sender.process.isRunning && Date() < deadline { usleep(20_000) }
        sender.process.waitUntilExit()
        #expect(sender.process.terminationStatus == 0, "\(sender.stderr)")
        #expect(sender.stderr.contains("all acknowledged") && sender.stderr.contains("1 to another node")
                && sender.stderr.contains("127.0.0.1:\(ports[1])"), "\(sender.stderr)")
        if how == "SIGSTOP" { kill(nodes[0].process.processIdentifier, SIGCONT) }  // it outputs what it had taken in
        nodes[1].waitFor(timeoutSec: 20) { lines, _ in
            Set(AckEndToEndTests.volumes(nodes[0].lines) + AckEndToEndTests.volumes(lines)).count >= total
        }
        usleep(300_000)
        let first = AckEndToEndTests.volumes(nodes[0].lines), second = AckEndToEndTests.volumes(nodes[1].lines)
        #expect(Set(first + second) == Set(0..<total), "no event lost")
        #expect(Set(first).count == first.count && Set(second).count == second.count, "no duplicates within a node")
        #expect(first.count >= 600 && second.count > 0)
        let both = Set(first).intersection(second)
        // A batch the node took in while it closed may run there and, its ack not read before the
        // publisher moved on, go to the second node too (two independent nodes cannot tell; an HA
        // pair skips it). Seen once under load with SIGTERM (one batch); at most the unacked window.
        #expect(both.count <= 8 * 20, "\(both.count) events delivered to both nodes")
    }
}
