@testable import ControlPlane
import Foundation
import Testing

/// `ClusterStatus` reads the lease and the members as the database sees them.
@Suite(.serialized) struct ClusterStatusTests {
    @Test func showsTheActiveAndEveryMember() throws {
        let group = LeaseTests.freshGroup()
        let a = ClusterCoordinator(store: try LeaseTests.store(group), nodeId: "a", heartbeatIntervalMs: 200, heartbeatMaxRetry: 3,
                                   properties: { "{\"role\":\"active\"}" })
        let b = ClusterCoordinator(store: try LeaseTests.store(group), nodeId: "b", heartbeatIntervalMs: 200, heartbeatMaxRetry: 3,
                                   properties: { "{\"role\":\"passive\",\"inSync\":true}" })
        guard case .active(let lease) = a.tick() else { Issue.record("a should lead"); return }
        #expect(b.tick() == .passive)

        var endpoint = TestDatabase.endpoint
        endpoint.database = "clusterdb"
        let url = JDBCURL(host: endpoint.host, port: endpoint.port, database: "clusterdb")
        let config = DeploymentConfig(
            nodeId: "status", datasources: ["CLUSTER": DatasourceConfig(name: "CLUSTER", url: url, username: endpoint.user, password: endpoint.password)],
            cluster: ClusterConfig(enabled: true, groupId: group, datasource: "CLUSTER", heartbeatIntervalMs: 200, heartbeatMaxRetry: 3))
        let status = try ClusterStatus.read(config: config)
        #expect(status.leader == lease)
        #expect((status.leaseRemainingMs ?? 0) > 0 && (status.leaseRemainingMs ?? 0) <= 600)
        #expect(Set(status.members.map(\.nodeId)) == ["a", "b"])
        #expect(status.members.filter(\.isAlive).count == 2)
        let passive = status.members.first(where: { $0.nodeId == "b" })
        #expect(passive?.properties.contains("\"inSync\":true") == true)
        #expect(status.lines.first?.contains("active a, term \(lease.term)") == true)

        a.release()
        let after = try ClusterStatus.read(config: config)
        #expect(after.leader == nil, "a released lease is no live lease")
        #expect(after.lines.first?.contains("no active node") == true)
    }
}
