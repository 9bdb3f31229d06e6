@testable import ControlPlane
import Foundation
import Testing

/// Leadership leases against a real MariaDB (`scripts/mariadb.sh start`).
@Suite(.serialized) struct LeaseTests {
    static func store(_ group: String) throws -> LeaseStore {
        var endpoint = TestDatabase.endpoint
        endpoint.database = "clusterdb"
        let store = LeaseStore(connection: try MySQLConnection(endpoint), groupId: group)
        try store.createTables()
        return store
    }

    static func freshGroup() -> String { "test-\(UUID().uuidString.prefix(8))" }

    @Test func firstNodeLeadsSecondWaitsUntilExpiry() throws {
        let group = LeaseTests.freshGroup()
        let a = try LeaseTests.store(group), b = try LeaseTests.store(group)
        let leaseA = try #require(try a.acquire(nodeId: "a", durationMs: 300))
        #expect(try b.acquire(nodeId: "b", durationMs: 300) == nil, "a live lease cannot be taken")
        #expect(try b.liveLeader()?.lease == leaseA)
        #expect(try a.renew(leaseA, durationMs: 300))
        usleep(450_000)  // a stops renewing; its lease lapses by the database's clock
        let leaseB = try #require(try b.acquire(nodeId: "b", durationMs: 300))
        #expect(leaseB.term == leaseA.term + 1, "every takeover raises the term")
        #expect(try !a.renew(leaseA, durationMs: 300), "a deposed active cannot renew")
        #expect(try !a.holds(leaseA) && b.holds(leaseB))
    }

    @Test func staleTermWritesAreFenced() throws {
        let group = LeaseTests.freshGroup()
        let a = try LeaseTests.store(group), b = try LeaseTests.store(group)
        let connection = try MySQLConnection({ var e = TestDatabase.endpoint; e.database = "clusterdb"; return e }())
        try connection.execute("CREATE TABLE IF NOT EXISTS fence_test (GROUP_ID VARCHAR(128) PRIMARY KEY, WRITER VARCHAR(16))")
        try connection.execute("INSERT INTO fence_test VALUES (?, 'none')", [.string(group)])
        let write = "UPDATE fence_test SET WRITER = ? WHERE GROUP_ID = ? AND \(a.fence)"
        let leaseA = try #require(try a.acquire(nodeId: "a", durationMs: 200))
        #expect(try connection.execute(write, [.string("a"), .string(group)] + a.fenceParameters(leaseA)) == 1)
        try a.release(leaseA)
        let leaseB = try #require(try b.acquire(nodeId: "b", durationMs: 5000))
        #expect(try connection.execute(write, [.string("a-late"), .string(group)] + a.fenceParameters(leaseA)) == 0,
                "a write carrying a stale term changes nothing")
        #expect(try connection.execute(write, [.string("b"), .string(group)] + b.fenceParameters(leaseB)) == 1)
        #expect(try connection.queryStrings("SELECT WRITER FROM fence_test WHERE GROUP_ID = ?", [.string(group)]) == [["b"]])
    }

    @Test func restartOfTheSameNodeTakesItsLeaseWithANewTerm() throws {
        let group = LeaseTests.freshGroup()
        let first = try LeaseTests.store(group)
        let old = try #require(try first.acquire(nodeId: "n1", durationMs: 10_000))
        let restarted = try LeaseTests.store(group)
        let new = try #require(try restarted.acquire(nodeId: "n1", durationMs: 10_000))
        #expect(new.term == old.term + 1)
        #expect(try !first.renew(old, durationMs: 10_000), "the old incarnation is fenced off")
        #expect(try restarted.acquire(nodeId: "n2", durationMs: 10_000) == nil)
    }

    @Test func concurrentTakeoversHaveExactlyOneWinner() throws {
        let group = LeaseTests.freshGroup()
        let stores = try (0..<4).map { _ in try LeaseTests.store(group) }
        for round in 0..<10 {
            let winners = LockedCounter()
            let done = DispatchSemaphore(value: 0)
            for (i, store) in stores.enumerated() {
                let box = UncheckedBox(store)
                Thread {
                    if (try? box.value.acquire(nodeId: "n\(i)", durationMs: 150)) != nil { winners.add() }
                    done.signal()
                }.start()
            }
            for _ in stores { done.wait() }
            #expect(winners.value == 1, "round \(round): \(winners.value) winners")
            usleep(200_000)  // let the lease lapse for the next round
        }
    }

    @Test func coordinatorFailsOverAndTheDeposedActiveStopsFirst() throws {
        let group = LeaseTests.freshGroup()
        let a = ClusterCoordinator(store: try LeaseTests.store(group), nodeId: "a", heartbeatIntervalMs: 100, heartbeatMaxRetry: 3)
        let b = ClusterCoordinator(store: try LeaseTests.store(group), nodeId: "b", heartbeatIntervalMs: 100, heartbeatMaxRetry: 3)
        guard case .active(let leaseA) = a.tick() else { Issue.record("first node should lead"); return }
        #expect(b.tick() == .passive)
        for _ in 0..<5 {
            usleep(100_000)
            #expect(a.tick() == .active(leaseA))
            #expect(b.tick() == .passive)
            #expect(a.mayActAsActive && !b.mayActAsActive)
        }
        // a stalls (no more ticks): it must stop acting before b can take over.
        let stalledAt = Date()
        var aStoppedAt: Date? = nil
        var bTookOverAt: Date? = nil
        while bTookOverAt == nil && Date().timeIntervalSince(stalledAt) < 3 {
            if aStoppedAt == nil && !a.mayActAsActive { aStoppedAt = Date() }
            if case .active(let leaseB) = b.tick() {
                bTookOverAt = Date()
                #expect(leaseB.term == leaseA.term + 1)
            }
            #expect(!(a.mayActAsActive && b.mayActAsActive), "two actives at once")
            usleep(20_000)
        }
        let stopped = try #require(aStoppedAt), took = try #require(bTookOverAt)
        #expect(stopped < took, "the stalled active demoted itself before the passive took over")
        #expect(took.timeIntervalSince(stalledAt) < 1.0, "takeover within the lease (300 ms) plus a heartbeat")
        #expect(a.tick() == .passive, "a learns it was deposed")
    }

    @Test func gracefulReleaseHandsOverAtTheNextHeartbeat() throws {
        let group = LeaseTests.freshGroup()
        let a = ClusterCoordinator(store: try LeaseTests.store(group), nodeId: "a", heartbeatIntervalMs: 1000, heartbeatMaxRetry: 5)
        let b = ClusterCoordinator(store: try LeaseTests.store(group), nodeId: "b", heartbeatIntervalMs: 1000, heartbeatMaxRetry: 5)
        #expect(a.tick() != .passive)
        #expect(b.tick() == .passive)
        a.release()
        #expect(b.tick() != .passive, "no need to wait out the 5 s lease")
    }
}

/// Hands a store to one other thread in a test; the test never touches it concurrently.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
