import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A Bool shared between threads.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func store(_ v: Bool, ordering: Void = ()) { lock.lock(); value = v; lock.unlock() }
    func load(ordering: Void = ()) -> Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// A TCP relay in front of MariaDB that can be made to stop forwarding (a black hole: connections
/// stay open, nothing passes), so one node loses its database while the other keeps it.
final class BlackholeProxy: @unchecked Sendable {
    let port: Int
    private let targetPort: Int
    private let listenFd: Int32
    let blackholed = LockedFlag()
    private let stopping = LockedFlag()

    init(targetPort: Int, host: String = "127.0.0.1", port: Int? = nil) {
        self.targetPort = targetPort
        self.port = port ?? freeTCPPort()
        listenFd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listenFd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(self.port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(host)
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(listenFd, 16)
        Thread { [self] in acceptLoop() }.start()
    }

    func stop() {
        stopping.store(true)
        shutdown(listenFd, Int32(SHUT_RDWR))
        close(listenFd)
    }

    private func acceptLoop() {
        while !stopping.load() {
            let client = accept(listenFd, nil, nil)
            guard client >= 0 else { return }
            let server = connectLoopback(port: targetPort)
            guard server >= 0 else { close(client); continue }
            Thread { [self] in pump(client, server) }.start()
        }
    }

    private func pump(_ a: Int32, _ b: Int32) {
        defer { close(a); close(b) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while !stopping.load() {
            if blackholed.load() {
                usleep(10_000)  // hold the connections, pass nothing
                continue
            }
            var fds = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 2, 20) >= 0 else { return }
            for (from, to) in [(0, b), (1, a)] where fds[from].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fds[from].fd, $0.baseAddress, $0.count) }
                guard n > 0 else { return }
                var offset = 0
                while offset < n {
                    let w = buffer.withUnsafeBytes { write(to, $0.baseAddress! + offset, n - offset) }
                    guard w > 0 else { return }
                    offset += w
                }
            }
        }
    }
}

/// The passive restarting under load, and the active losing its database.
@Suite(.serialized) struct HAResilienceTests {
    static func count(_ text: String, _ needle: String) -> Int { text.components(separatedBy: needle).count - 1 }

    static func jsonNumber(_ line: String, _ key: String) -> Int? {
        guard let range = line.range(of: "\"\(key)\":") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    /// Resumes the publisher on the new active and checks the final counts against one node's.
    static func finish(_ cluster: HAFailoverTests.Cluster, on node: NodeProcess, total: Int) throws {
        let resume = try #require(HAFailoverTests.resumeSequence(node.stderr), "no resume point: \(node.stderr)")
        #expect(EndToEndTests.waitForPort(cluster.sourcePort, timeoutSec: 15))
        #expect(HAFailoverTests.publish(port: cluster.sourcePort, from: resume + 1, total: total, pauseUs: 0) == total)
        let expected = HAFailoverTests.expected(total: total)
        node.waitFor(timeoutSec: 20) { lines, _ in
            let rows = HAFailoverTests.finalRows(lines)
            return expected.allSatisfy { e in rows[e.key].map { $0 == e.value } ?? false }
        }
        let final = HAFailoverTests.finalRows(node.lines)
        for (symbol, value) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(final[symbol].map { $0 == value } == true, "\(symbol): \(String(describing: final[symbol])), one node: \(value)")
        }
    }

    @Test func passiveKilledAndRestartedUnderLoadCatchesUp() throws {
        let cluster = try HAFailoverTests.Cluster()
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let a = try cluster.start("a")
        defer { _ = a.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil })
        let b = try cluster.start("b")
        defer { _ = b.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in err.contains("in sync") })
        #expect(EndToEndTests.waitForPort(cluster.sourcePort, timeoutSec: 10))

        var restarted: NodeProcess?
        defer { _ = restarted?.terminate() }
        let total = 24_000
        _ = HAFailoverTests.publish(port: cluster.sourcePort, from: 1, total: total, pauseUs: 1_000) { sent in
            switch sent {
            case 4_000:
                kill(b.process.processIdentifier, SIGKILL)
            case 6_000:
                restarted = try? cluster.start("b")
            case 16_000:
                // The active attaches the restarted passive and checkpoints at once: in sync again.
                #expect(a.waitFor(timeoutSec: 15) { _, err in HAResilienceTests.count(err, "in sync") >= 2 }, "restarted passive never in sync: \(a.stderr)")
                kill(a.process.processIdentifier, SIGKILL)
            default:
                break
            }
        }
        let b2 = try #require(restarted)
        #expect(b2.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "restarted B did not take over: \(b2.stderr)")
        #expect(a.stderr.contains("detached passive"), "the killed passive was detached")
        #expect(!b2.stderr.contains("they are lost"), "the restarted passive had every event since its checkpoint")
        try HAResilienceTests.finish(cluster, on: b2, total: total)
    }

    @Test func activeThatLosesTheDatabaseStopsBeforeThePassiveTakesOver() throws {
        let proxy = BlackholeProxy(targetPort: HAFailoverTests.Cluster.database.port)
        defer { proxy.stop() }
        let cluster = try HAFailoverTests.Cluster()
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let a = try cluster.start("a", databasePort: proxy.port)
        defer { _ = a.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil })
        let b = try cluster.start("b")
        defer { _ = b.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in err.contains("in sync") })
        #expect(EndToEndTests.waitForPort(cluster.sourcePort, timeoutSec: 10))

        // The stream outlasts A's lease: A stops running input at its lease validity, closes its port
        // when it demotes, and the publisher resumes on B.
        let total = 30_000
        _ = HAFailoverTests.publish(port: cluster.sourcePort, from: 1, total: total, pauseUs: 2_000) { sent in
            if sent == 6_000 { proxy.blackholed.store(true) }
        }
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        #expect(a.waitFor(timeoutSec: 20) { _, err in err.contains("actedUntilEpochMs") }, "A did not demote: \(a.stderr)")
        let demoted = try #require(a.stderr.split(separator: "\n").last { $0.contains("actedUntilEpochMs") }.map(String.init))
        let promoted = try #require(HAFailoverTests.roleLine(b.stderr, role: "active"))
        let actedUntil = try #require(HAResilienceTests.jsonNumber(demoted, "actedUntilEpochMs"))
        let leaseCheck = try #require(HAResilienceTests.jsonNumber(promoted, "leaseCheckEpochMs"))
        print("HA database outage: A ran input until \(actedUntil), B's winning lease check began at \(leaseCheck) (\(leaseCheck - actedUntil) ms later); B active at \(HAResilienceTests.jsonNumber(promoted, "atEpochMs") ?? 0)")
        #expect(actedUntil < leaseCheck, "A still ran input when B took the lease: two actives")
        if ProcessInfo.processInfo.environment["TANDEM_TEST_VERBOSE"] != nil { print("A:\n\(a.stderr)\nB:\n\(b.stderr)") }
        try HAResilienceTests.finish(cluster, on: b, total: total)
    }
}
