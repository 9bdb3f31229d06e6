import Foundation

/// A cluster group as the database sees it: who holds the lease (and for how long), and every
/// member with its heartbeat and the properties it publishes (role, event-sync endpoint, whether its
/// queue is in sync, queue depth). What `tandem status` prints; read-only.
public struct ClusterStatus: Sendable {
    /// One node of the group.
    public struct Member: Sendable {
        /// `wso2.carbon.id`.
        public var nodeId: String
        /// Milliseconds since its last heartbeat (database clock).
        public var heartbeatAgeMs: Int
        /// Whether its heartbeat is younger than the lease (it counts as alive).
        public var isAlive: Bool
        /// Its property map (JSON as published).
        public var properties: String
    }

    /// `cluster.config.groupId`.
    public var groupId: String
    /// The lease holder and term, when the lease is live.
    public var leader: Lease?
    /// How long the live lease has left (ms, database clock).
    public var leaseRemainingMs: Int?
    /// Every member, most recent heartbeat first.
    public var members: [Member]

    /// Reads the group of `config` (its cluster datasource must be set).
    public static func read(config: DeploymentConfig) throws -> ClusterStatus {
        guard let datasource = config.clusterDatasource else {
            throw ConfigError(path: "cluster.config", message: "clustering is not enabled or has no usable datasource")
        }
        let store = LeaseStore(connection: try MySQLConnection(datasource.endpoint), groupId: config.cluster.groupId)
        try store.createTables()
        let freshMs = config.cluster.heartbeatIntervalMs * max(2, config.cluster.heartbeatMaxRetry)
        let live = try store.liveLeader()
        let members = try store.members().map {
            Member(nodeId: $0.nodeId, heartbeatAgeMs: $0.heartbeatAgeMs, isAlive: $0.heartbeatAgeMs <= freshMs, properties: $0.properties)
        }
        return ClusterStatus(groupId: config.cluster.groupId, leader: live?.lease, leaseRemainingMs: live?.remainingMs, members: members)
    }

    /// One line for the group, then one per member.
    public var lines: [String] {
        var out = ["group \(groupId): " + (leader.map { "active \($0.nodeId), term \($0.term), lease \(leaseRemainingMs ?? 0) ms left" } ?? "no active node (lease expired or never taken)")]
        for m in members {
            out.append("  \(m.nodeId): \(m.isAlive ? "alive" : "gone"), heartbeat \(m.heartbeatAgeMs) ms ago, \(m.properties)")
        }
        return out
    }
}
