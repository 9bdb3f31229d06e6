@testable import ControlPlane
import Foundation
import Testing

@Suite struct SnapshotStoreTests {
    static func bytes(_ n: Int, _ seed: UInt8) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0) &+ seed } }

    static func exercise(_ store: SnapshotStore, app: String) throws {
        #expect(try store.latest(appName: app) == nil)
        for k in 0..<4 {
            _ = try store.save(appName: app, epochMs: 1_000 + Int64(k), lastSequence: Int64(k * 10), snapshot: bytes(5000 + k, UInt8(k)), revisionsToKeep: 2)
        }
        let revisions = try store.revisions(appName: app)
        #expect(revisions.map(\.revision) == ["1002__\(app)", "1003__\(app)"], "only the newest two are kept")
        #expect(revisions.map(\.lastSequence) == [20, 30])
        let (latest, data) = try #require(try store.latest(appName: app))
        #expect(latest.lastSequence == 30 && data == bytes(5003, 3))
        #expect(try store.load(revisions[0]) == bytes(5002, 2))
        try store.clear(appName: app)
        #expect(try store.revisions(appName: app).isEmpty)
    }

    @Test func fileStore() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SnapshotStoreTests.exercise(FileSnapshotStore(directory: dir), app: "App1")
    }

    @Test func fullDiskLeavesThePreviousRevisionCurrent() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = FileSnapshotStore(directory: dir)
        _ = try store.save(appName: "A", epochMs: 1, lastSequence: 5, snapshot: [1, 2, 3], revisionsToKeep: 2)
        // The next save's temporary file is a link to /dev/full: every write fails with ENOSPC.
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/A/2__A__9.snapshot.tmp", withDestinationPath: "/dev/full")
        do {
            _ = try store.save(appName: "A", epochMs: 2, lastSequence: 9, snapshot: [4, 5, 6], revisionsToKeep: 2)
            Issue.record("a save onto a full disk succeeded")
        } catch {
            #expect(error.message.contains("No space left on device"), "\(error)")
        }
        #expect(try store.revisions(appName: "A").map(\.lastSequence) == [5])
        #expect(try store.latest(appName: "A")?.1 == [1, 2, 3])
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/A/2__A__9.snapshot.tmp"))
    }

    static func databaseStore() throws -> DatabaseSnapshotStore {
        var endpoint = TestDatabase.endpoint
        endpoint.database = "persistencedb"
        return try DatabaseSnapshotStore(connection: try MySQLConnection(endpoint), table: "PERSISTENCE_TABLE")
    }

    @Test func databaseStore() throws {
        try SnapshotStoreTests.exercise(SnapshotStoreTests.databaseStore(), app: "App-\(UUID().uuidString.prefix(6))")
    }

    @Test func databaseSavesAreFencedByTheLease() throws {
        let store = try SnapshotStoreTests.databaseStore()
        let group = "snap-\(UUID().uuidString.prefix(8))"
        let leases = try LeaseTests.store(group)
        let old = try #require(try leases.acquire(nodeId: "a", durationMs: 10_000))
        store.fence = (leases, old)
        let app = "Fenced-\(UUID().uuidString.prefix(6))"
        _ = try store.save(appName: app, epochMs: 1, lastSequence: 1, snapshot: [1], revisionsToKeep: 3)
        _ = try LeaseTests.store(group).acquire(nodeId: "a", durationMs: 10_000)  // same id restarts: new term
        #expect(throws: SnapshotStoreError.self) {
            try store.save(appName: app, epochMs: 2, lastSequence: 2, snapshot: [2], revisionsToKeep: 3)
        }
        #expect(try store.revisions(appName: app).map(\.lastSequence) == [1], "the deposed writer's snapshot is refused")
    }
}
