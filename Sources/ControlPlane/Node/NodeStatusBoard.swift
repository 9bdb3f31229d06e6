import Foundation

/// What a node says about itself: the control thread publishes it after every loop turn; `/health`,
/// `/status`, `/metrics`, the status page and the passive's 503 read it without waiting for that
/// thread (which may be stuck on an unreachable database: exactly when health must answer).
struct NodeStatus: Sendable, Codable {
    /// The other HA node as the cluster tables show it.
    struct Peer: Sendable, Codable, Equatable {
        var nodeId: String
        var role: String
        /// Its event-sync endpoint (`host:port`).
        var address: String?
        var inSync: Bool?
    }

    /// One snapshot written to the store.
    struct SnapshotRecord: Sendable, Codable, Equatable {
        var app: String
        var revision: String
        var bytes: Int
        /// From the engine's snapshot to the store's commit.
        var durationMs: Int
        var atEpochMs: Int64
    }

    var nodeId: String
    /// `standalone` or `ha`.
    var mode: String
    /// `standalone`, `active`, `passive`, `starting` (HA, before the cluster database answered) or `stopped`.
    var role: String
    var term: Int64?
    /// HA: active: its passive holds every event since the last checkpoint; passive: it does.
    var inSync: Bool?
    var activeNode: String?
    /// HA: whether the last heartbeat reached the cluster database.
    var dbReachable: Bool?
    var dbError: String?
    /// HA: monotonic ms of the last heartbeat the database took (not encoded; see `lastHeartbeatAgeMs`).
    var lastHeartbeatMonoMs: Int?
    /// HA: a heartbeat older than this (the lease) means the node is not doing its job.
    var heartbeatLimitMs: Int?
    var peer: Peer?
    var apps: [AppSummary] = []
    /// Newest first, at most ``NodeStatusBoard/snapshotsKept``.
    var snapshots: [SnapshotRecord] = []
    var ioBackend: String
    var version: String
    /// Monotonic ms of the control thread's last loop turn (not encoded).
    var controlLoopMonoMs: Int = 0

    private enum CodingKeys: String, CodingKey {
        case nodeId, mode, role, term, inSync, activeNode, dbReachable, dbError, heartbeatLimitMs, peer, apps, snapshots,
             ioBackend, version
    }
}

/// The latest ``NodeStatus`` plus a short history of each app's input rate (for the status page's
/// chart). Thread-safe; bounded: ``historySamples`` samples of every app, ``snapshotsKept`` snapshots.
final class NodeStatusBoard: @unchecked Sendable {
    /// One point of the throughput chart: events/s per app over the interval that ended at `atEpochMs`.
    struct Sample: Sendable, Codable {
        var atEpochMs: Int64
        var eventsPerSecond: [String: Double]
    }

    static let sampleIntervalMs = 2_000
    /// 150 × 2 s: the last five minutes.
    static let historySamples = 150
    static let snapshotsKept = 10

    private let lock = NSLock()
    private var status: NodeStatus
    private var history: [Sample] = []
    private var lastCounts: [String: Int] = [:]
    private var lastSampleMonoMs = 0
    private var liveHosts: [AppHost] = []

    init(_ initial: NodeStatus) {
        status = initial
    }

    var current: NodeStatus {
        lock.lock(); defer { lock.unlock() }
        return status
    }

    var samples: [Sample] {
        lock.lock(); defer { lock.unlock() }
        return history
    }

    /// Changes the status (control thread), then samples the apps' input counts when a sample is due.
    func update(_ change: (inout NodeStatus) -> Void) {
        let now = ActiveFence.nowMs()
        lock.lock()
        defer { lock.unlock() }
        change(&status)
        status.controlLoopMonoMs = now
        guard now - lastSampleMonoMs >= NodeStatusBoard.sampleIntervalMs else { return }
        let seconds = Double(now - lastSampleMonoMs) / 1000
        var rates: [String: Double] = [:]
        var counts: [String: Int] = [:]
        for app in status.apps {
            counts[app.name] = app.eventsIn
            if lastSampleMonoMs != 0 {
                // A replaced app (update, restore) starts counting again: no negative rate.
                rates[app.name] = max(0, Double(app.eventsIn - (lastCounts[app.name] ?? 0))) / seconds
            }
        }
        if lastSampleMonoMs != 0 {
            history.append(Sample(atEpochMs: AppHost.wallClockMs(), eventsPerSecond: rates))
            if history.count > NodeStatusBoard.historySamples { history.removeFirst(history.count - NodeStatusBoard.historySamples) }
        }
        lastCounts = counts
        lastSampleMonoMs = now
    }

    /// The hosts that exist now, for `/metrics` to sample (rings, sink queues, backpressure).
    var hosts: [AppHost] {
        get {
            lock.lock(); defer { lock.unlock() }
            return liveHosts
        }
        set {
            lock.lock(); defer { lock.unlock() }
            liveHosts = newValue
        }
    }

    /// Notes a snapshot written to the store.
    func recordSnapshot(_ record: NodeStatus.SnapshotRecord) {
        lock.lock()
        defer { lock.unlock() }
        status.snapshots.insert(record, at: 0)
        if status.snapshots.count > NodeStatusBoard.snapshotsKept { status.snapshots.removeLast() }
    }
}
