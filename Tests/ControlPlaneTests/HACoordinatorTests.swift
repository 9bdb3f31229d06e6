@testable import ControlPlane
import Foundation
import Testing

/// The role rules the HA node adds on top of the lease, against a real MariaDB.
@Suite(.serialized) struct HACoordinatorTests {
    static func coordinator(_ group: String, _ node: String) throws -> ClusterCoordinator {
        ClusterCoordinator(store: try LeaseTests.store(group), nodeId: node, heartbeatIntervalMs: 100, heartbeatMaxRetry: 3)
    }

    @Test func restartedNodeLeavesItsLeaseToALivePeer() throws {
        let group = LeaseTests.freshGroup()
        let a = try HACoordinatorTests.coordinator(group, "a")
        guard case .active(let first) = a.tick() else { Issue.record("a should lead"); return }
        let b = try HACoordinatorTests.coordinator(group, "b")
        #expect(b.tick() == .passive)
        // a restarts (a new process, same node id) while its lease is live and b is alive: b holds the
        // events a lost, so a does not take its own lease back.
        let restarted = try HACoordinatorTests.coordinator(group, "a")
        #expect(restarted.tick() == .passive)
        #expect(restarted.otherMembers.keys.contains("b"))
        #expect(restarted.observedLeader?.lease == first)
        usleep(350_000)  // the old lease lapses; b takes over
        guard case .active(let second) = b.tick() else { Issue.record("b should take over"); return }
        #expect(second.term == first.term + 1)
    }

    @Test func aloneARestartedNodeTakesItsLeaseBackAtOnce() throws {
        let group = LeaseTests.freshGroup()
        let a = try HACoordinatorTests.coordinator(group, "a")
        guard case .active(let first) = a.tick() else { Issue.record("a should lead"); return }
        let restarted = try HACoordinatorTests.coordinator(group, "a")
        guard case .active(let second) = restarted.tick() else { Issue.record("a alone should lead again at once"); return }
        #expect(second.term == first.term + 1, "the old incarnation is fenced off")
        #expect(a.tick() == .passive, "the old incarnation cannot renew")
    }

    @Test func aNodeThatDefersLeavesTheLeaseToItsPeer() throws {
        let group = LeaseTests.freshGroup()
        let a = try HACoordinatorTests.coordinator(group, "a")
        guard case .active = a.tick() else { Issue.record("a should lead"); return }
        let fresh = try HACoordinatorTests.coordinator(group, "fresh")
        fresh.defersTo = { others in others.keys.contains("synced") }
        let synced = try HACoordinatorTests.coordinator(group, "synced")
        // a stops; both passives keep ticking (fresh first each round): only 'synced' takes the lease.
        var syncedLeads = false
        for _ in 0..<8 {
            #expect(fresh.tick() == .passive, "it holds no events while 'synced' does: it waits")
            if case .active = synced.tick() { syncedLeads = true; break }
            usleep(80_000)
        }
        #expect(syncedLeads, "the synced passive should take over")
    }
}
