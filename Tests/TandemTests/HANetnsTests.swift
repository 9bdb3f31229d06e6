import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Whether network namespaces can be made here.
enum NetnsEnvironment {
    static let ipPath = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Root, `ip`, not turned off, and the kernel lets this process make a namespace (containers
    /// without CAP_SYS_ADMIN do not).
    static let available: Bool = {
        guard getuid() == 0, let ipPath, ProcessInfo.processInfo.environment["TANDEM_TEST_NETNS"] != "0" else { return false }
        let name = "tandem-probe-\(getpid())"
        func ip(_ arguments: [String]) -> Bool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ipPath)
            process.arguments = arguments
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return false }
            process.waitUntilExit()
            return process.terminationStatus == 0
        }
        guard ip(["netns", "add", name]) else { return false }
        return ip(["netns", "del", name])
    }()
}

/// Each node in its own network namespace (`scripts/ha-netns.sh`: veth pairs on a bridge), with its
/// own address and the same ports, as ECS tasks have; MariaDB on the host side (through a relay on
/// the bridge address). Needs root and `ip`; skipped otherwise (or with TANDEM_TEST_NETNS=0).
@Suite(.serialized, .enabled(if: NetnsEnvironment.available)) struct HANetnsTests {
    static var ipPath: String? { NetnsEnvironment.ipPath }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/ha-netns.sh").path
    }

    @discardableResult
    static func netns(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else { throw CocoaError(.fileReadUnknown, userInfo: ["ha-netns.sh": arguments]) }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs a bash script and returns its status and standard output.
    static func bash(_ script: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// Node to node is bridged, and bridged packets pass iptables' FORWARD chain (br_netfilter),
    /// whose policy Docker sets to DROP: `up` must let the bridge's own traffic through by a rule
    /// scoped to it, and `down` must leave the host's rules exactly as they were.
    @Test func bridgeCarriesNodeTrafficAndLeavesTheHostRulesAsFound() throws {
        let (hasIptables, _) = try HANetnsTests.bash("command -v iptables")
        let tag = String(UUID().uuidString.prefix(4)).lowercased()
        // This bridge's rules and FORWARD's policy only: other sessions' rules may come and go meanwhile.
        let rules = "iptables -S FORWARD | grep -e '^-P' -e 'thb\(tag) ' || true"
        let before = hasIptables == 0 ? try HANetnsTests.bash(rules).1 : ""
        try HANetnsTests.netns(["up", tag])
        defer { _ = try? HANetnsTests.netns(["down", tag]) }
        let subnet = try HANetnsTests.netns(["subnet", tag])
        if hasIptables == 0 {
            let (status, _) = try HANetnsTests.bash("iptables -C FORWARD -i thb\(tag) -o thb\(tag) -j ACCEPT")
            #expect(status == 0, "no ACCEPT rule for the bridge in FORWARD")
        }
        // A TCP connection from node a's namespace to a listener in node b's.
        let (status, out) = try HANetnsTests.bash("""
            set -euo pipefail
            ip netns exec tandem-\(tag)-b python3 -c '
            import socket; s = socket.socket(); s.bind(("0.0.0.0", 7777)); s.listen(); s.settimeout(10)
            s.accept(); print("accepted")' &
            for _ in $(seq 50); do ip netns exec tandem-\(tag)-b ss -ltn | grep -q :7777 && break; sleep 0.1; done
            ip netns exec tandem-\(tag)-a python3 -c '
            import socket; socket.create_connection(("\(subnet).12", 7777), timeout=5); print("connected")'
            wait
            """)
        // Either may print first.
        #expect(status == 0 && out.contains("connected") && out.contains("accepted"), "a cannot reach b over the bridge: \(out)")
        try HANetnsTests.netns(["down", tag])
        if hasIptables == 0 {
            #expect(try HANetnsTests.bash(rules).1 == before, "ha-netns.sh down left the host's iptables rules changed")
        }
    }

    /// A partition cuts the active off from the database and the passive: it stops input before the
    /// passive's lease check, the passive takes over on its own address with the same ports, and
    /// once the link heals the old active rejoins as passive and gets in sync.
    @Test func partitionedActiveYieldsAndRejoinsAsPassive() throws {
        let tag = String(UUID().uuidString.prefix(4)).lowercased()
        try HANetnsTests.netns(["down", tag])
        try HANetnsTests.netns(["up", tag])
        defer { _ = try? HANetnsTests.netns(["down", tag]) }
        let subnet = try HANetnsTests.netns(["subnet", tag])
        let (ipA, ipB) = ("\(subnet).11", "\(subnet).12")
        let relay = BlackholeProxy(targetPort: HAFailoverTests.Cluster.database.port, host: "\(subnet).1")
        defer { relay.stop() }

        let cluster = try HAFailoverTests.Cluster()
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        func start(_ node: String, ip: String) throws -> NodeProcess {
            let config = try cluster.config(node: node, syncPort: 9893, databasePort: relay.port, databaseHost: "\(subnet).1",
                                            syncHost: "0.0.0.0", advertisedHost: ip)
            return try NodeProcess(arguments: ["netns", "exec", "tandem-\(tag)-\(node)", NodeProcess.tandemPath,
                                               "run", "--config", config.path, "--apps", cluster.apps.path],
                                   workingDirectory: cluster.dir, executable: HANetnsTests.ipPath)
        }
        let a = try start("a", ip: ipA)
        defer { _ = a.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "A not active: \(a.stderr)")
        let b = try start("b", ip: ipB)
        defer { _ = b.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in err.contains("in sync") }, "B never in sync: \(a.stderr)")
        #expect(a.stderr.contains("attached passive \(ipB):9893"), "A learned B's advertised address from the database")

        let total = 16_000
        _ = HAFailoverTests.publish(host: ipA, port: cluster.sourcePort, from: 1, total: total, pauseUs: 1_000) { sent in
            if sent == 6_000 { _ = try? HANetnsTests.netns(["cut", tag, "a"]) }
        }
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        #expect(a.waitFor(timeoutSec: 20) { _, err in err.contains("actedUntilEpochMs") }, "A did not demote: \(a.stderr)")
        if let demoted = a.stderr.split(separator: "\n").last(where: { $0.contains("actedUntilEpochMs") }),
           let promoted = HAFailoverTests.roleLine(b.stderr, role: "active"),
           let actedUntil = HAResilienceTests.jsonNumber(String(demoted), "actedUntilEpochMs"),
           let leaseCheck = HAResilienceTests.jsonNumber(promoted, "leaseCheckEpochMs") {
            print("HA netns partition: A ran input until \(actedUntil), B's winning lease check at \(leaseCheck) (+\(leaseCheck - actedUntil) ms)")
            #expect(actedUntil < leaseCheck, "two actives at once")
        }

        // Resume on B's address (same port), after what the cluster holds.
        let resume = try #require(HAFailoverTests.resumeSequence(b.stderr))
        #expect(HAFailoverTests.publish(host: ipB, port: cluster.sourcePort, from: resume + 1, total: total, pauseUs: 0) == total)
        let expected = HAFailoverTests.expected(total: total)
        b.waitFor(timeoutSec: 20) { lines, _ in
            let rows = HAFailoverTests.finalRows(lines)
            return expected.allSatisfy { e in rows[e.key].map { $0 == e.value } ?? false }
        }
        let final = HAFailoverTests.finalRows(b.lines)
        for (symbol, value) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(final[symbol].map { $0 == value } == true, "\(symbol): \(String(describing: final[symbol])), one node: \(value)")
        }

        // Heal: A reconnects to the database as passive; B attaches it and checkpoints.
        try HANetnsTests.netns(["heal", tag, "a"])
        #expect(b.waitFor(timeoutSec: 20) { _, err in err.contains("attached passive \(ipA):9893") && err.contains("in sync") },
                "the healed node did not rejoin: \(b.stderr)\nA: \(a.stderr)")
    }
}
