import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// `@source(type='wso2event')` through a real `tandem run` process with real WSO2 databridge
/// clients: a Thrift client generated from WSO2's IDL (Tests/Databridge/thrift_client.py, Debian's
/// thrift-compiler and python3-thrift) and a binary-transport client written from WSO2's Java agent
/// (Tests/Databridge/binary_client.py). Each gets its own error for bad credentials, a plain-text
/// login, an unknown stream, a malformed bundle, an unknown session and a dropped connection, and
/// nothing else is lost: a million events then sum per key exactly.
@Suite(.serialized) struct DatabridgeEndToEndTests {
    static let user = "publisher", password = "databridge-secret"
    static let python = "/usr/bin/python3"
    static var scripts: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Databridge")
    }

    struct Node {
        let process: NodeProcess
        let dir: URL
        let thrift: Int, thriftTLS: Int, binary: Int, binaryTLS: Int, api: Int
        var certificate: String { dir.appendingPathComponent("cert.pem").path }
    }

    /// A node with a self-signed certificate, SI's databridge.config ports and an app that sums per key.
    static func startNode() throws -> Node {
        let dir = try makeTempDirectory()
        let apps = dir.appendingPathComponent("apps")
        try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
        let (status, _, err) = try NodeProcess.runToEnd(
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", dir.appendingPathComponent("key.pem").path, "-out", dir.appendingPathComponent("cert.pem").path],
            workingDirectory: dir, executable: "/usr/bin/openssl")
        #expect(status == 0, "openssl: \(err)")
        let (thrift, thriftTLS, binary, binaryTLS, api) = (freeTCPPort(), freeTCPPort(), freeTCPPort(), freeTCPPort(), freeTCPPort())
        try """
            databridge.config:
              clientTimeoutMin: 30
              dataReceivers:
              - dataReceiver:
                  type: Thrift
                  properties:
                    tcpPort: '\(thrift)'
                    sslPort: '\(thriftTLS)'
              - dataReceiver:
                  type: Binary
                  properties:
                    tcpPort: '\(binary)'
                    sslPort: '\(binaryTLS)'
                    hostName: 127.0.0.1
            tandem:
              api:
                host: 127.0.0.1
                port: \(api)
              databridge:
                tls:
                  certificateFile: \(dir.appendingPathComponent("cert.pem").path)
                  keyFile: \(dir.appendingPathComponent("key.pem").path)
            """.write(to: dir.appendingPathComponent("deployment.yaml"), atomically: true, encoding: .utf8)
        try """
            @App:name('Bridge')
            @source(type='wso2event', wso2.stream.id='Sales:1.0.0', @map(type='wso2event'))
            define stream Sales (meta_tenant int, correlation_tx string, key string, amount long, price float, ok bool);
            @sink(type='log', prefix='TOT')
            define stream Out (key string, total long, n long);
            from Sales select key, sum(amount) as total, count() as n group by key insert into Counted;
            from Counted[n % 10000 == 0] select key, total, n insert into Out;
            """.write(to: apps.appendingPathComponent("bridge.siddhi"), atomically: true, encoding: .utf8)
        let process = try NodeProcess(arguments: ["run", "--config", dir.appendingPathComponent("deployment.yaml").path, "--apps", apps.path],
                                      workingDirectory: dir,
                                      environment: ["TANDEM_ADMIN_USER": user, "TANDEM_ADMIN_PASSWORD": password])
        for port in [thrift, thriftTLS, binary, binaryTLS] {
            #expect(EndToEndTests.waitForPort(port, timeoutSec: 30), "port \(port) not open: \(process.stderr)")
        }
        return Node(process: process, dir: dir, thrift: thrift, thriftTLS: thriftTLS, binary: binary, binaryTLS: binaryTLS, api: api)
    }

    /// Runs a client script to its end; returns its JSON lines.
    static func runClient(_ script: String, node: Node, port: Int, tlsPort: Int, _ extra: [String], timeoutSec: Double = 900) throws -> [[String: Any]] {
        let client = try NodeProcess(
            arguments: [scripts.appendingPathComponent(script).path, "--port", String(port), "--tls-port", String(tlsPort),
                        "--ca", node.certificate, "--user", user, "--password", password] + extra,
            workingDirectory: node.dir, executable: python)
        let deadline = Date().addingTimeInterval(timeoutSec)
        while client.process.isRunning && Date() < deadline { usleep(20_000) }
        let status = client.terminate()
        #expect(status == 0, "\(script) \(extra): exit \(status)\n\(client.stderr)\nnode: \(node.process.stderr.suffix(4000))")
        return client.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The node's last `TOT` row per key: (total, n).
    static func totals(_ node: Node) -> [String: (Int, Int)] {
        var out: [String: (Int, Int)] = [:]
        for row in EndToEndTests.outputRows(node.process.lines, prefix: "TOT") {
            let f = row.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 3, let total = Int(f[1]), let n = Int(f[2]) else { continue }
            out[f[0]] = (total, n)
        }
        return out
    }

    static func eventsIn(_ node: Node) async throws -> Int {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(node.api)/siddhi-apps/statistics")
        request.headers.add(name: "Authorization", value: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        let apps = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]] ?? []
        return apps.first { $0["appName"] as? String == "Bridge" }?["eventsIn"] as? Int ?? -1
    }

    func publishErrorsThenAMillion(_ script: String, plain: (Node) -> Int, tls: (Node) -> Int, checks: Set<String>) async throws {
        let node = try Self.startNode()
        defer { _ = node.process.terminate(); try? FileManager.default.removeItem(at: node.dir) }

        let errors = try Self.runClient(script, node: node, port: plain(node), tlsPort: tls(node), ["--scenario", "errors"])
        for line in errors where line["check"] != nil {
            #expect(line["ok"] as? Bool == true, "\(script) check failed: \(line)")
        }
        #expect(Set(errors.compactMap { $0["check"] as? String }) == checks, "\(errors)")
        let good = errors.last?["goodEvents"] as? Int ?? -1
        #expect(good == 10_000)

        let events = 1_000_000, keys = 10
        let load = try Self.runClient(script, node: node, port: plain(node), tlsPort: tls(node),
                                      ["--scenario", "load", "--events", String(events), "--keys", String(keys), "--bundle", "1000"])
        let summary = try #require(load.last)
        #expect(summary["events"] as? Int == events)
        print("\(script): \(events) events in \(summary["seconds"] ?? "?") s, \(summary["eventsPerSecond"] ?? "?") events/s")
        // The expected sums, computed here independently of the client: amount = i % 7 + 1, key i % 10.
        var expected: [String: Int] = [:]
        for i in 0..<events { expected["k\(i % keys)", default: 0] += i % 7 + 1 }
        node.process.waitFor(timeoutSec: 60) { _, _ in
            let t = Self.totals(node)
            return expected.allSatisfy { t[$0.key]?.1 == events / keys }
        }
        let totals = Self.totals(node)
        for (key, total) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(totals[key]?.0 == total && totals[key]?.1 == events / keys, "\(key): \(String(describing: totals[key])) expected (\(total), \(events / keys))")
        }
        #expect(totals["good"]?.0 == 2 * good && totals["good"]?.1 == good)
        // Nothing beyond the good events and the million ran: no refused, partial or dropped bundle.
        #expect(try await Self.eventsIn(node) == events + good)
        #expect(node.process.terminate() == 0)
    }

    @Test func thriftClientFromWSO2IDLPublishesExactly() async throws {
        try await publishErrorsThenAMillion("thrift_client.py", plain: \.thrift, tls: \.thriftTLS, checks: [
            "bad credentials", "plain-text login refused", "login", "findStreamId", "findStreamId unknown", "unknown stream",
            "malformed bundle", "unknown session", "dropped connection", "after disconnect",
        ])
    }

    @Test func binaryClientPublishesExactly() async throws {
        try await publishErrorsThenAMillion("binary_client.py", plain: \.binary, tls: \.binaryTLS, checks: [
            "bad credentials", "plain-text login refused", "login", "unknown stream", "malformed bundle", "wrong event count",
            "unknown session", "dropped connection", "unknown message type", "after logout",
        ])
    }
}
