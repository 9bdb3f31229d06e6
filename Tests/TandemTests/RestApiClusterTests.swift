import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The REST API against MariaDB (`scripts/mariadb.sh start`): a deploy–backup–restore round trip
/// with the database snapshot store, and an HA pair where the passive refuses app requests (503
/// naming the active), picks up an app deployed on the active through the cluster database, and
/// runs it after a failover.
@Suite(.serialized) struct RestApiClusterTests {
    static let env = ["TANDEM_ADMIN_USER": "admin", "TANDEM_ADMIN_PASSWORD": "cluster-secret"]
    static let u = "admin", p = "cluster-secret"

    @Test func deployBackupRestoreRoundTripOnMariaDB() async throws {
        let db = HAFailoverTests.Cluster.database
        let persistence = """
            state.persistence:
              enabled: true
              intervalInMin: 60
              revisionsToKeep: 3
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
                      password: ${env:TEST_DB_PASSWORD}
            """
        let node = try await RestApiTests.Node.start(apiYAML: "", persistenceYAML: persistence,
                                                     environment: RestApiClusterTests.env.merging(["TEST_DB_PASSWORD": db.password]) { a, _ in a })
        defer { node.stop() }
        let base = node.base, u = RestApiClusterTests.u, p = RestApiClusterTests.p
        let name = "RoundTrip_\(UUID().uuidString.prefix(8).lowercased())"
        let app = RestApiTests.counterApp(name: name, port: freeTCPPort())
        let node1 = node.process

        #expect(try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps", text: app, user: u, password: p).status == 201)
        #expect(try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps/\(name)/backup").status == 401)
        try RestApiTests.send(0..<30, app: app, in: node.dir)
        node1.waitFor(timeoutSec: 20) { _, _ in RestApiTests.lastRow(node1) == "[K0, 30, 435]" }
        let first = try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps/\(name)/backup", user: u, password: p)
        #expect(first.status == 201, "\(first.body)")
        let r1 = try #require(first.object["revision"] as? String)

        try RestApiTests.send(30..<40, app: app, in: node.dir)
        node1.waitFor(timeoutSec: 20) { _, _ in RestApiTests.lastRow(node1) == "[K0, 40, 780]" }
        let second = try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps/\(name)/backup", user: u, password: p)
        let r2 = try #require(second.object["revision"] as? String)
        #expect(r1 != r2)

        // Back to the first revision: 30 events, total 435; the next event counts from there.
        let restored = try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps/\(name)/restore?revision=\(r1)", user: u, password: p)
        #expect(restored.status == 200 && restored.object["revision"] as? String == r1, "\(restored.body)")
        try RestApiTests.send(40..<41, app: app, in: node.dir)
        node1.waitFor(timeoutSec: 20) { _, _ in RestApiTests.lastRow(node1) == "[K0, 31, 475]" }
        #expect(RestApiTests.lastRow(node1) == "[K0, 31, 475]", "not restored to \(r1)")

        // Without a revision: the latest (r2).
        let latest = try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps/\(name)/restore", user: u, password: p)
        #expect(latest.object["revision"] as? String == r2, "\(latest.body)")
        try RestApiTests.send(41..<42, app: app, in: node.dir)
        node1.waitFor(timeoutSec: 20) { _, _ in RestApiTests.lastRow(node1) == "[K0, 41, 821]" }
        #expect(RestApiTests.lastRow(node1) == "[K0, 41, 821]")

        #expect(try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps/\(name)/restore?revision=nope", user: u, password: p).status == 404)
        #expect(try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps/Nope/backup", user: u, password: p).status == 404)
        // Delete the revisions: a restore has nothing left.
        #expect(try await HTTPTestClient.send(.DELETE, "\(base)/siddhi-apps/\(name)/revisions", user: u, password: p).status == 200)
        #expect(try await HTTPTestClient.send(.POST, "\(base)/siddhi-apps/\(name)/restore", user: u, password: p).status == 404)
        let page = try await HTTPTestClient.send(.GET, "\(base)/status")
        let snapshots = (page.object["node"] as? [String: Any])?["snapshots"] as? [[String: Any]] ?? []
        #expect(snapshots.contains { $0["revision"] as? String == r2 }, "\(page.body)")
    }

    @Test func passiveRefusesPicksUpAppsAndRunsThemAfterFailover() async throws {
        let cluster = try HAFailoverTests.Cluster()
        defer { try? FileManager.default.removeItem(at: cluster.dir) }
        let portA = freeTCPPort(), portB = freeTCPPort()
        let a = try cluster.start("a", environment: RestApiClusterTests.env, apiPort: portA)
        defer { _ = a.terminate() }
        #expect(a.waitFor(timeoutSec: 30) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "A not active: \(a.stderr)")
        let b = try cluster.start("b", environment: RestApiClusterTests.env, apiPort: portB)
        defer { _ = b.terminate() }
        #expect(b.waitFor(timeoutSec: 30) { _, err in HAFailoverTests.roleLine(err, role: "passive") != nil }, "B not passive: \(b.stderr)")
        let baseA = "http://127.0.0.1:\(portA)", baseB = "http://127.0.0.1:\(portB)"
        let u = RestApiClusterTests.u, p = RestApiClusterTests.p

        // Health on both roles; is-active-node tells them apart.
        let healthB = await HTTPTestClient.poll("\(baseB)/health", timeoutSec: 20) { $0.status == 200 }
        #expect(healthB?.object["role"] as? String == "passive", "\(healthB?.body ?? "")")
        #expect(healthB?.object["dbReachable"] as? Bool == true)
        let healthA = try await HTTPTestClient.send(.GET, "\(baseA)/health")
        #expect(healthA.status == 200 && healthA.object["role"] as? String == "active" && healthA.object["term"] as? Int != nil, "\(healthA.body)")
        #expect(try await HTTPTestClient.send(.GET, "\(baseA)/ha/is-active-node").status == 200)
        #expect(try await HTTPTestClient.send(.GET, "\(baseB)/ha/is-active-node").status == 503)

        // The passive refuses app management, naming the active.
        let extraName = "Extra_\(UUID().uuidString.prefix(8).lowercased())"
        let extraPort = freeTCPPort()
        let extra = RestApiTests.counterApp(name: extraName, port: extraPort)
        let refused = try await HTTPTestClient.send(.POST, "\(baseB)/siddhi-apps", text: extra, user: u, password: p)
        #expect(refused.status == 503 && refused.object["activeNode"] as? String == "a", "\(refused.body)")
        #expect(try await HTTPTestClient.send(.GET, "\(baseB)/siddhi-apps", user: u, password: p).status == 503)

        // Deployed on the active: runs there; the passive holds it ready (from the cluster database).
        let created = try await HTTPTestClient.send(.POST, "\(baseA)/siddhi-apps", text: extra, user: u, password: p)
        #expect(created.status == 201, "\(created.body)")
        #expect(EndToEndTests.waitForPort(extraPort, timeoutSec: 10))
        let seen = await HTTPTestClient.poll("\(baseB)/status", timeoutSec: 20) { reply in
            ((reply.object["node"] as? [String: Any])?["apps"] as? [[String: Any]] ?? []).contains { $0["name"] as? String == extraName && $0["status"] as? String == "passive" }
        }
        #expect(seen != nil && seen!.body.contains(extraName), "passive never got \(extraName): \(b.stderr)")
        try RestApiTests.send(0..<20, app: extra, in: cluster.dir)
        a.waitFor(timeoutSec: 20) { _, _ in RestApiTests.lastRow(a) == "[K0, 20, 190]" }
        #expect(RestApiTests.lastRow(a) == "[K0, 20, 190]")

        // Kill the active: the passive takes over and runs the REST-deployed app, state included.
        kill(a.process.processIdentifier, SIGKILL)
        #expect(b.waitFor(timeoutSec: 30) { _, err in HAFailoverTests.roleLine(err, role: "active") != nil }, "B did not take over: \(b.stderr)")
        let status = await HTTPTestClient.poll("\(baseB)/siddhi-apps/\(extraName)/status", timeoutSec: 20, user: u, password: p) {
            $0.object["status"] as? String == "active"
        }
        #expect(status?.object["status"] as? String == "active", "\(status?.body ?? "")")
        #expect(EndToEndTests.waitForPort(extraPort, timeoutSec: 20))
        try RestApiTests.send(20..<21, app: extra, in: cluster.dir)
        b.waitFor(timeoutSec: 20) { _, _ in RestApiTests.lastRow(b) == "[K0, 21, 210]" }
        #expect(RestApiTests.lastRow(b) == "[K0, 21, 210]", "B lost the app's state: \(b.stderr)")
        #expect(try await HTTPTestClient.send(.GET, "\(baseB)/ha/is-active-node").status == 200)
    }
}
