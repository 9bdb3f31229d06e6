import DataPlane
import Engine
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Two real `tandem run` processes on loopback (different event-sync ports, one shared source port
/// that only the active opens) coordinated through a real MariaDB (`scripts/mariadb.sh start`;
/// `TANDEM_TEST_MYSQL_*` select the server, default 127.0.0.1:13306).
///
/// The publisher streams numbered events; the app keeps a length window with a group-by count and
/// sum. After the active is killed (or stopped) mid-stream, the passive takes over; the publisher
/// resumes after the last sequence number the new active reports (what the acknowledged framing will
/// automate). The final per-symbol count and sum must equal a single node's over the whole input:
/// no event lost by the cluster, none counted twice.
@Suite(.serialized) struct HAFailoverTests {
    static let symbols = 10
    static let batchEvents = 20

    struct Cluster {
        let dir: URL
        let apps: URL
        let sourcePort: Int
        let appName: String
        let group: String
        /// The passive's `eventByteBufferQueueCapacity`.
        var queueCapacity = 200_000
        /// `tandem.persistence.intervalInMs` of the nodes.
        var persistIntervalMs = 700

        init() throws {
            dir = try makeTempDirectory()
            apps = dir.appendingPathComponent("apps")
            try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
            sourcePort = freeTCPPort()
            let tag = UUID().uuidString.prefix(8).lowercased()
            appName = "HACounts_\(tag)"
            group = "ha-test-\(tag)"
            // The window (the largest a length window takes) holds the longest test's input (a million
            // events) with room to spare: events counted twice then show in the counts. (With a window
            // just the input's length they would push as many of the oldest events out, and only the
            // sums would tell.)
            let app = """
                @App:name('\(appName)')
                @source(type='tcp', port='\(sourcePort)', context='In', @map(type='binary'))
                define stream In (symbol string, seq long);

                @sink(type='log', prefix='OUT')
                define stream Out (symbol string, n long, total long);

                from In#window.length(1048576)
                select symbol, count() as n, sum(seq) as total
                group by symbol
                insert into Out;
                """
            try app.write(to: apps.appendingPathComponent("counts.siddhi"), atomically: true, encoding: .utf8)
        }

        static var database: (host: String, port: Int, user: String, password: String) {
            let env = ProcessInfo.processInfo.environment
            return (env["TANDEM_TEST_MYSQL_HOST"] ?? "127.0.0.1", Int(env["TANDEM_TEST_MYSQL_PORT"] ?? "") ?? 13306,
                    env["TANDEM_TEST_MYSQL_USER"] ?? "tandem", env["TANDEM_TEST_MYSQL_PASSWORD"] ?? "tandem")
        }

        /// A node's deployment.yaml: the seed guide's HA sections with heartbeat 500 ms × 3.
        func config(node: String, syncPort: Int, databasePort: Int? = nil, databaseHost: String? = nil,
                    syncHost: String = "127.0.0.1", advertisedHost: String? = nil, apiPort: Int = 0) throws -> URL {
            var db = Cluster.database
            if let databasePort { db.port = databasePort }
            if let databaseHost { db.host = databaseHost }
            let yaml = """
                wso2.carbon:
                  id: \(node)
                state.persistence:
                  enabled: true
                  intervalInMin: 1
                  revisionsToKeep: 2
                  persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore
                  config:
                    datasource: PERSISTENCE_DB
                    table: PERSISTENCE_TABLE
                wso2.datasources:
                  dataSources:
                    - name: PERSISTENCE_DB
                      definition:
                        type: RDBMS
                        configuration:
                          jdbcUrl: 'jdbc:mysql://\(db.host):\(db.port)/persistencedb'
                          username: \(db.user)
                          password: \(db.password)
                    - name: WSO2_CLUSTER_DB
                      definition:
                        type: RDBMS
                        configuration:
                          jdbcUrl: 'jdbc:mysql://\(db.host):\(db.port)/clusterdb'
                          username: \(db.user)
                          password: \(db.password)
                cluster.config:
                  enabled: true
                  groupId: \(group)
                  strategyConfig:
                    datasource: WSO2_CLUSTER_DB
                    heartbeatInterval: 500
                    heartbeatMaxRetry: 3
                    eventPollingInterval: 500
                deployment.config:
                  type: ha
                  eventByteBufferQueueCapacity: \(queueCapacity)
                  eventSyncServer:
                    host: \(syncHost)
                    port: \(syncPort)\(advertisedHost.map { "\n    advertisedHost: \($0)" } ?? "")
                tandem:
                  api:
                    port: \(apiPort)
                  persistence:
                    intervalInMs: \(persistIntervalMs)
                """
            let url = dir.appendingPathComponent("\(node).yaml")
            try yaml.write(to: url, atomically: true, encoding: .utf8)
            return url
        }

        func start(_ node: String, databasePort: Int? = nil, environment: [String: String] = [:], apiPort: Int = 0) throws -> NodeProcess {
            let config = try config(node: node, syncPort: freeTCPPort(), databasePort: databasePort, apiPort: apiPort)
            return try NodeProcess(arguments: ["run", "--config", config.path, "--apps", apps.path], workingDirectory: dir,
                                   environment: environment)
        }
    }

    static let schema = StreamSchema(name: "In", attributes: [Attribute(name: "symbol", type: .string), Attribute(name: "seq", type: .long)])

    static func rows(_ range: Range<Int>) -> [(timestamp: Int64, values: [Value])] {
        range.map { i in (Int64(1_000 + i), [.string("S\(i % symbols)"), .long(Int64(i))]) }
    }

    /// Per symbol: (count, sum of seq) over events 1...total — what one node computes.
    static func expected(total: Int) -> [String: (Int64, Int64)] {
        var out: [String: (Int64, Int64)] = [:]
        for i in 1...total {
            let key = "S\(i % symbols)"
            let (n, s) = out[key] ?? (0, 0)
            out[key] = (n + 1, s + Int64(i))
        }
        return out
    }

    /// The last output row per symbol: (n, total).
    static func finalRows(_ lines: [String]) -> [String: (Int64, Int64)] {
        var out: [String: (Int64, Int64)] = [:]
        for row in EndToEndTests.outputRows(lines, prefix: "OUT") {
            let parts = row.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 3, let n = Int64(parts[1]), let s = Int64(parts[2]) else { continue }
            out[parts[0]] = (n, s)
        }
        return out
    }

    /// Waits until `node`'s final per-symbol rows equal one node's over events 1...total, then
    /// checks every symbol: nothing lost, nothing counted twice.
    /// Sends events `total + 1 ... total + symbols` (one per symbol) to `node`'s port, then expects
    /// one node's counts over all of it: the new active's outputs then show its state even when
    /// everything before was already delivered by the old active (so not emitted again).
    static func expectCountsAfterTail(_ node: NodeProcess, port: Int, total: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let publisher = TCPPublisher(host: "127.0.0.1", port: port, framing: .acked, reconnectTimeoutMs: 20_000)
        do {
            try publisher.connect()
            try publisher.send(schema: schema, rows: rows((total + 1)..<(total + 1 + symbols)), channel: "In")
            try publisher.flush(timeoutMs: 20_000)
        } catch {
            Issue.record("tail not sent to the new active: \(error)", sourceLocation: sourceLocation)
        }
        publisher.close()
        expectOneNodeCounts(node, total: total + symbols, sourceLocation: sourceLocation)
    }

    static func expectOneNodeCounts(_ node: NodeProcess, total: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = HAFailoverTests.expected(total: total)
        // Generous: under a loaded CI machine a million replayed events take a while.
        node.waitFor(timeoutSec: 90) { lines, _ in
            let rows = HAFailoverTests.finalRows(lines)
            return expected.allSatisfy { e in rows[e.key].map { $0 == e.value } ?? false }
        }
        let final = HAFailoverTests.finalRows(node.lines)
        for (symbol, value) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(final[symbol].map { $0 == value } == true,
                    "\(symbol): the node has \(String(describing: final[symbol])), one node would have \(value)",
                    sourceLocation: sourceLocation)
        }
        if let summary = differenceSummary(final, expected) {
            // The node's own account of the takeover (restored revision, replayed and skipped events).
            let story = node.stderr.split(separator: "\n").filter { $0.contains("ha:") || $0.contains("ha-role") || $0.contains("skip") }
            Issue.record(Comment(rawValue: summary + "\n" + story.suffix(40).joined(separator: "\n")), sourceLocation: sourceLocation)
        }
    }

    /// Where the events counted twice (or lost) are, when the counts differ: every event's `seq` is
    /// its place in the input, so the extra count and sum over all symbols give the number of events
    /// and the middle of their range (one publisher batch doubled: its size and its middle event).
    static func differenceSummary(_ final: [String: (Int64, Int64)], _ expected: [String: (Int64, Int64)]) -> String? {
        var extraEvents: Int64 = 0, extraSum: Int64 = 0
        var perSymbol: [String] = []
        for (symbol, want) in expected.sorted(by: { $0.key < $1.key }) {
            let have = final[symbol] ?? (0, 0)
            guard have != want else { continue }
            extraEvents += have.0 - want.0
            extraSum += have.1 - want.1
            perSymbol.append("\(symbol) \(have.0 - want.0 >= 0 ? "+" : "")\(have.0 - want.0) events, sum \(have.1 - want.1 >= 0 ? "+" : "")\(have.1 - want.1)")
        }
        guard !perSymbol.isEmpty else { return nil }
        let middle = extraEvents != 0 ? " — \(extraEvents > 0 ? "counted twice" : "lost"): \(abs(extraEvents)) events around seq \(extraSum / extraEvents)" : ""
        return "over all symbols \(extraEvents >= 0 ? "+" : "")\(extraEvents) events, sum \(extraSum >= 0 ? "+" : "")\(extraSum)\(middle); \(perSymbol.joined(separator: "; "))"
    }

    /// Sends events 1...total on `publisher` in batches of `batchEvents`, pausing `pauseUs` after each.
    static func sendAll(_ publisher: TCPPublisher, total: Int, batchEvents: Int = HAFailoverTests.batchEvents, pauseUs: UInt32 = 0) throws {
        var next = 1
        while next <= total {
            let end = min(total + 1, next + batchEvents)
            try publisher.send(schema: HAFailoverTests.schema, rows: HAFailoverTests.rows(next..<end), channel: "In")
            next = end
            if pauseUs > 0 { usleep(pauseUs) }
        }
    }

    /// Starts A and waits until it is active, then B until A reports it in sync.
    static func startInSyncPair(_ cluster: Cluster) throws -> (a: NodeProcess, b: NodeProcess) {
        let a = try cluster.start("a")
        #expect(a.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "A did not become active: \(a.stderr)")
        let b = try cluster.start("b")
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "passive") != nil }, "B did not start passive: \(b.stderr)")
        #expect(a.waitFor(timeoutSec: 20) { _, err in err.contains("in sync") }, "B never got in sync: \(a.stderr)")
        #expect(EndToEndTests.waitForPort(cluster.sourcePort, timeoutSec: 10))
        return (a, b)
    }

    static func roleLine(_ stderr: String, role: String) -> String? {
        stderr.split(separator: "\n").last { $0.contains("ha-role") && $0.contains("\"role\":\"\(role)\"") }.map(String.init)
    }

    /// "continuing after sequence N" of the node that took over.
    static func resumeSequence(_ stderr: String) -> Int? {
        guard let line = stderr.split(separator: "\n").last(where: { $0.contains("continuing after sequence") }),
              let tail = line.components(separatedBy: "continuing after sequence ").last else { return nil }
        return Int(tail.trimmingCharacters(in: .whitespaces))
    }

    /// Publishes events `from...` in batches until `total`, or until a send fails; calls `after` with
    /// the count written so far after each batch. Returns the last event written.
    static func publish(host: String = "127.0.0.1", port: Int, from first: Int, total: Int, pauseUs: UInt32,
                        after: (Int) -> Void = { _ in }) -> Int {
        let publisher = TCPPublisher(host: host, port: port, sendTimeoutMs: 5_000)
        do { try publisher.connect() } catch { return first - 1 }
        var next = first
        while next <= total {
            let end = min(total + 1, next + batchEvents)
            do {
                try publisher.send(schema: schema, rows: rows(next..<end), channel: "In")
            } catch {
                break
            }
            next = end
            after(next - 1)
            if pauseUs > 0 { usleep(pauseUs) }
        }
        if next > total { publisher.finish() } else { publisher.close() }
        return next - 1
    }

    struct Takeover {
        var ms: Int
        var resumeAfter: Int
    }

    /// Starts A (active) and B (passive, in sync), streams, stops A with `signal` mid-stream, and
    /// checks the final counts on B after the publisher resumed there.
    func run(signal: Int32, total: Int, stopAt: Int, queueCapacity: Int = 200_000, pauseUs: UInt32 = 1_000) throws
        -> (takeover: Takeover, writtenBeforeStop: Int, aStderr: String, bStderr: String) {
        var cluster = try Cluster()
        cluster.queueCapacity = queueCapacity
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let a = try cluster.start("a")
        defer { _ = a.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "A did not become active: \(a.stderr)")
        let b = try cluster.start("b")
        defer { _ = b.terminate() }
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "passive") != nil }, "B did not start passive: \(b.stderr)")
        #expect(a.waitFor(timeoutSec: 20) { _, err in err.contains("in sync") }, "B never got in sync: \(a.stderr)")
        #expect(EndToEndTests.waitForPort(cluster.sourcePort, timeoutSec: 10))

        var stoppedAtNs: UInt64 = 0
        let written = HAFailoverTests.publish(port: cluster.sourcePort, from: 1, total: total, pauseUs: pauseUs) { sent in
            if sent == stopAt {
                stoppedAtNs = DispatchTime.now().uptimeNanoseconds
                kill(a.process.processIdentifier, signal)
            }
        }
        // B takes over: its role line appears once the ports are open.
        let tookOver = b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }
        let takeoverMs = Int((DispatchTime.now().uptimeNanoseconds - stoppedAtNs) / 1_000_000)
        #expect(tookOver, "B did not take over: \(b.stderr)")
        let resume = try #require(HAFailoverTests.resumeSequence(b.stderr), "no resume point in B's log: \(b.stderr)")
        #expect(resume <= written, "the cluster cannot hold events never written")
        // Resume after what the cluster holds (acknowledged framing will make this automatic).
        let last = HAFailoverTests.publish(port: cluster.sourcePort, from: resume + 1, total: total, pauseUs: 0)
        #expect(last == total)
        HAFailoverTests.expectCountsAfterTail(b, port: cluster.sourcePort, total: total)
        print("HA \(signal == SIGKILL ? "kill -9" : "SIGTERM"): takeover \(takeoverMs) ms after the signal; B resumed after sequence \(resume); the signal came after event \(stopAt) (in flight then, not in the cluster: \(max(0, stopAt - resume))); the publisher wrote \(written - stopAt) more before its writes failed (not in the cluster: \(written - max(resume, stopAt))). \(HAFailoverTests.roleLine(b.stderr, role: "active") ?? "")")
        if ProcessInfo.processInfo.environment["TANDEM_TEST_VERBOSE"] != nil { print("A:\n\(a.stderr)\nB:\n\(b.stderr)") }
        return (Takeover(ms: takeoverMs, resumeAfter: resume), written, a.stderr, b.stderr)
    }

    /// Kill points: early (little state, most of it in the queue) and late (after several snapshots).
    @Test(arguments: [5_000, 16_000])
    func killNineActiveWhileStreamingLosesNothing(killAfterEvents: Int) throws {
        let result = try run(signal: SIGKILL, total: 30_000, stopAt: killAfterEvents)
        #expect(result.takeover.ms < 5_000, "takeover took \(result.takeover.ms) ms")
        // Hot standby: B applied what A forwarded, so its takeover restores nothing.
        #expect(result.bStderr.contains("no restore"), "B restored a revision at takeover: \(result.bStderr)")
    }

    /// A passive queue far smaller than the stream: the active checkpoints on its own and holds input
    /// (push-back) instead of overflowing it; the passive stays in sync and the failover is exact.
    @Test func smallPassiveQueuePushesBackAndStaysInSync() throws {
        let result = try run(signal: SIGKILL, total: 30_000, stopAt: 24_000, queueCapacity: 2_000, pauseUs: 0)
        #expect(!result.aStderr.contains("detached passive"), "the passive was never detached")
        #expect(!result.aStderr.contains("lapsed"), "the active kept its lease under push-back")
        #expect(!result.bStderr.contains("they are lost"))
        #expect(HAResilienceTests.count(result.bStderr, "replayed") >= 1)
    }

    /// Acknowledged framing with a passive in sync: every batch the active acknowledged is held by
    /// the passive. Publish N events, wait for every ack, kill -9 the active at once: the new active
    /// has all N without any resend.
    @Test func acknowledgedEventsSurviveKillNine() throws {
        let cluster = try Cluster()
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let (a, b) = try HAFailoverTests.startInSyncPair(cluster)
        defer { _ = a.terminate(); _ = b.terminate() }
        let total = 6_000
        let publisher = TCPPublisher(host: "127.0.0.1", port: cluster.sourcePort, framing: .acked)
        try publisher.connect()
        try HAFailoverTests.sendAll(publisher, total: total)
        try publisher.flush(timeoutMs: 20_000)  // every batch acknowledged
        kill(a.process.processIdentifier, SIGKILL)
        publisher.close()
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        HAFailoverTests.expectCountsAfterTail(b, port: cluster.sourcePort, total: total)
    }

    /// An acknowledged publisher streams through a kill -9 of the active: it reconnects to the new
    /// active (same port) and resends what was not acknowledged; the new active skips what the
    /// cluster already held (publisher sequences from the snapshot and the passive's queue). The
    /// final counts equal one node's over the input: nothing lost, nothing counted twice.
    /// (events, events per batch, kill after): small runs at two points, and a million events
    /// killed mid-stream while the active checkpoints every 100 ms (kills land during saves and
    /// right after control messages).
    @Test(arguments: [(16_000, 20, 4_000), (16_000, 20, 11_000), (1_000_000, 1_000, 600_000)])
    func acknowledgedPublisherRidesOutFailoverExactlyOnce(total: Int, batchEvents: Int, killAfterEvents: Int) throws {
        var cluster = try Cluster()
        if total > 100_000 { cluster.persistIntervalMs = 100 }
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let (a, b) = try HAFailoverTests.startInSyncPair(cluster)
        defer { _ = a.terminate(); _ = b.terminate() }
        // The takeover restores and replays up to the passive's queue (a debug build, under the whole
        // suite running in parallel): the publisher retries reconnecting for up to a minute.
        let publisher = TCPPublisher(host: "127.0.0.1", port: cluster.sourcePort, framing: .acked, reconnectTimeoutMs: 60_000)
        try publisher.connect()
        var next = 1
        let started = DispatchTime.now().uptimeNanoseconds
        while next <= total {
            let end = min(total + 1, next + batchEvents)
            try publisher.send(schema: HAFailoverTests.schema, rows: HAFailoverTests.rows(next..<end), channel: "In")
            if next <= killAfterEvents && end > killAfterEvents { kill(a.process.processIdentifier, SIGKILL) }
            next = end
            if batchEvents < 100 { usleep(200) }
        }
        try publisher.flush(timeoutMs: 30_000)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        print("HA acked publisher: \(total) events, kill -9 after \(killAfterEvents), all acknowledged in \(String(format: "%.1f", seconds)) s")
        publisher.close()
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        HAFailoverTests.expectCountsAfterTail(b, port: cluster.sourcePort, total: total)
    }

    /// The active crashes itself at exact points (`TANDEM_FAILPOINT`): while a snapshot is being
    /// written, right after a revision's control message went to the passive, and between forwarding
    /// a batch to the passive and running it. An acknowledged publisher streams through each; the new
    /// active's counts are exact.
    @Test(arguments: ["persist-before-save:3", "persist-after-control:3", "engine-mid-batch:2000"])
    func activeCrashingAtExactPointsLosesNothing(failpoint: String) throws {
        var cluster = try Cluster()
        cluster.persistIntervalMs = 100
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let a = try cluster.start("a", environment: ["TANDEM_FAILPOINT": failpoint])
        defer { _ = a.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "A did not become active: \(a.stderr)")
        let b = try cluster.start("b")
        defer { _ = b.terminate() }
        #expect(EndToEndTests.waitForPort(cluster.sourcePort, timeoutSec: 10))
        let total = 60_000
        let publisher = TCPPublisher(host: "127.0.0.1", port: cluster.sourcePort, framing: .acked, reconnectTimeoutMs: 30_000)
        try publisher.connect()
        try HAFailoverTests.sendAll(publisher, total: total, pauseUs: 100)
        try publisher.flush(timeoutMs: 30_000)
        publisher.close()
        #expect(a.waitFor(timeoutSec: 30) { _, err in err.contains("failpoint") }, "A never reached \(failpoint): \(a.stderr)")
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        HAFailoverTests.expectCountsAfterTail(b, port: cluster.sourcePort, total: total)
    }

    /// A publisher batch larger than the source's engine batch (1 024 events) fills one engine
    /// batch as soon as it is decoded. The active crashes after forwarding such a batch to the
    /// passive and before acknowledging it (`engine-mid-batch`); the publisher resends it to the new
    /// active, which must know from the passive's queue that the cluster holds it already: skipped,
    /// not counted twice.
    @Test func unacknowledgedBatchHeldByThePassiveIsNotCountedTwice() throws {
        let cluster = try Cluster()
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let a = try cluster.start("a", environment: ["TANDEM_FAILPOINT": "engine-mid-batch:10"])
        defer { _ = a.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "A did not become active: \(a.stderr)")
        let b = try cluster.start("b")
        defer { _ = b.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in err.contains("in sync") }, "B never got in sync: \(a.stderr)")
        #expect(EndToEndTests.waitForPort(cluster.sourcePort, timeoutSec: 10))
        let total = 60_000, batchEvents = 2_000
        let publisher = TCPPublisher(host: "127.0.0.1", port: cluster.sourcePort, framing: .acked, reconnectTimeoutMs: 30_000)
        try publisher.connect()
        try HAFailoverTests.sendAll(publisher, total: total, batchEvents: batchEvents)
        try publisher.flush(timeoutMs: 30_000)
        publisher.close()
        #expect(a.waitFor(timeoutSec: 30) { _, err in err.contains("failpoint") }, "A never reached the failpoint: \(a.stderr)")
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        #expect(publisher.batchesResent >= 1, "the publisher resent nothing: the test did not exercise a resend")
        HAFailoverTests.expectCountsAfterTail(b, port: cluster.sourcePort, total: total)
    }

    /// The link to the passive drops mid-stream (`forward-detach`, as when the passive stalls) and
    /// the active re-attaches it, but dies before the checkpoint that would cover what it ran while
    /// detached is committed (that save hangs). The passive then holds the events from before the
    /// detach (acknowledged on its strength: it must keep them across the re-attach), then a gap,
    /// then events from after the re-attach (never acknowledged). The new active replays up to the
    /// gap only, and the acknowledging publisher resends the gap and the rest: exact counts.
    @Test func failoverWithThePassiveOutOfSyncReplaysOnlyUpToTheGap() throws {
        var cluster = try Cluster()
        cluster.persistIntervalMs = 600_000  // no periodic saves: the only ones are the attach checkpoints
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let a = try cluster.start("a", environment: ["TANDEM_FAILPOINT": "forward-detach:100:fire,persist-before-save:1:hang"])
        defer { _ = a.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "A did not become active: \(a.stderr)")
        var clusterB = cluster
        clusterB.persistIntervalMs = 300  // alone after the takeover, B acknowledges at its checkpoints
        let b = try clusterB.start("b")
        defer { _ = b.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in err.contains("in sync") }, "B never got in sync: \(a.stderr)")
        #expect(EndToEndTests.waitForPort(cluster.sourcePort, timeoutSec: 10))
        // A window wide enough to keep sending while acks wait for the checkpoint that never commits.
        let publisher = TCPPublisher(host: "127.0.0.1", port: cluster.sourcePort, framing: .acked,
                                     unackedBatchesMax: 100_000, reconnectTimeoutMs: 30_000)
        try publisher.connect()
        let total = 40_000
        var next = 1
        func attaches() -> Int { a.stderr.components(separatedBy: "attached passive").count - 1 }
        while next <= total {
            let end = min(total + 1, next + HAFailoverTests.batchEvents)
            try publisher.send(schema: HAFailoverTests.schema, rows: HAFailoverTests.rows(next..<end), channel: "In")
            next = end
            // Past the detach, slow down until the passive is attached again (so that events run
            // while detached, and more are forwarded after the re-attach).
            usleep(attaches() >= 2 ? 200 : 1_000)
        }
        #expect(a.waitFor(timeoutSec: 10) { _, err in err.contains("failpoint persist-before-save reached") },
                "A never re-attached and hung its checkpoint: \(a.stderr)")
        #expect(attaches() >= 2, "A did not re-attach the passive: \(a.stderr)")
        usleep(300_000)  // the last batches reach the passive
        kill(a.process.processIdentifier, SIGKILL)
        #expect(b.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        try publisher.flush(timeoutMs: 30_000)
        publisher.close()
        #expect(b.stderr.contains("are in no snapshot and not queued"), "B found no gap: the test did not exercise one: \(b.stderr)")
        #expect(publisher.batchesResent >= 1, "the publisher resent nothing")
        HAFailoverTests.expectCountsAfterTail(b, port: cluster.sourcePort, total: total)
    }

    /// A takeover that takes longer than the lease (a large restore, a long replay; here the new
    /// active stalls 4 s before replaying, the lease lasts 1.5 s) keeps the lease: the control thread
    /// renews it while the takeover runs on its own thread. The node stays active and nothing it
    /// replayed is lost (before, it demoted with the replayed events in a runtime it then dropped,
    /// and took over again with an empty queue).
    @Test func takeoverLongerThanTheLeaseKeepsTheLease() throws {
        var cluster = try Cluster()
        cluster.persistIntervalMs = 600_000  // everything after the attach checkpoint is in B's queue only
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let a = try cluster.start("a")
        defer { _ = a.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "A did not become active: \(a.stderr)")
        var clusterB = cluster
        clusterB.persistIntervalMs = 300
        let b = try clusterB.start("b", environment: ["TANDEM_FAILPOINT": "takeover-replay:1:sleep=4000"])
        defer { _ = b.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in err.contains("in sync") }, "B never got in sync: \(a.stderr)")
        #expect(EndToEndTests.waitForPort(cluster.sourcePort, timeoutSec: 10))
        let total = 10_000
        let publisher = TCPPublisher(host: "127.0.0.1", port: cluster.sourcePort, framing: .acked, reconnectTimeoutMs: 30_000)
        try publisher.connect()
        try HAFailoverTests.sendAll(publisher, total: total)
        try publisher.flush(timeoutMs: 20_000)  // all acknowledged: held by B's queue
        kill(a.process.processIdentifier, SIGKILL)
        publisher.close()
        #expect(b.waitFor(timeoutSec: 30) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        HAFailoverTests.expectCountsAfterTail(b, port: cluster.sourcePort, total: total)
        #expect(b.stderr.contains("failpoint takeover-replay reached"), "the takeover did not stall: \(b.stderr)")
        #expect(!b.stderr.contains("demoting"), "B lost the lease during its takeover: \(b.stderr)")
        #expect(b.stderr.contains("no restore"), "B's standby was not hot: \(b.stderr)")
    }

    /// `tandem status` reads the cluster DB: the active node, its term and lease, and the members.
    @Test func statusReportsTheActiveAndTheMembers() throws {
        let cluster = try Cluster()
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let a = try cluster.start("a")
        defer { _ = a.terminate() }
        #expect(a.waitFor(timeoutSec: 20) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "A did not become active: \(a.stderr)")
        let configA = try cluster.config(node: "a", syncPort: freeTCPPort())
        let (status, out, err) = try NodeProcess.runToEnd(["status", "--config", configA.path], workingDirectory: cluster.dir)
        #expect(status == 0, "status failed: \(err)")
        #expect(out.contains("group \(cluster.group): active a, term "), "\(out)")
        #expect(out.contains("  a: alive, heartbeat "), "\(out)")
        let (jsonStatus, json, _) = try NodeProcess.runToEnd(["status", "--config", configA.path, "--json"], workingDirectory: cluster.dir)
        #expect(jsonStatus == 0 && json.contains("\"active\":\"a\""), "\(json)")
    }

    @Test func sigtermHandsOverWithinAHeartbeat() throws {
        let result = try run(signal: SIGTERM, total: 20_000, stopAt: 8_000)
        #expect(result.takeover.ms < 2_000, "graceful handover took \(result.takeover.ms) ms")
        // The handover checkpoint holds everything the old active ran: nothing to replay.
        #expect(result.bStderr.contains("replayed 0 queued events"))
    }
}
