/// A leadership lease held by one node of a cluster group, as stored in MySQL.
public struct Lease: Sendable, Hashable {
    public var nodeId: String
    /// Increases at every takeover; every write an active makes carries it (fencing token).
    public var term: Int64
}

/// A lease's fencing condition as plain values: SQL (true only while the lease is live and
/// current) and its parameters. Sendable, so a writer on another thread can carry it.
public struct LeaseFence: Sendable, Hashable {
    /// An `EXISTS (…)` condition on the lease table.
    public var sql: String
    /// Its parameters: group, node id, term.
    public var parameters: [MySQLValue]
    /// The lease term the condition checks (stored with each fenced write).
    public var term: Int64
}

/// The cluster tables and the conditional statements that take, renew and release leadership.
///
/// Every time judgement uses the **database's clock** (`NOW(6)`), never a node's: two nodes with
/// skewed clocks still agree on who holds the lease. A lease is taken only when expired (or when the
/// same node id restarts), always with a new term, by a single conditional UPDATE that InnoDB
/// applies atomically, so two nodes can never both succeed.
public final class LeaseStore {
    public let groupId: String
    private let connection: MySQLConnection

    public static let leaseTable = "TANDEM_LEADER_LEASE"
    public static let membersTable = "TANDEM_CLUSTER_MEMBERS"

    public init(connection: MySQLConnection, groupId: String) {
        self.connection = connection
        self.groupId = groupId
    }

    /// Creates the tables when absent.
    public func createTables() throws(MySQLError) {
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS \(LeaseStore.leaseTable) (
              GROUP_ID VARCHAR(128) NOT NULL PRIMARY KEY,
              NODE_ID VARCHAR(128) NOT NULL,
              TERM BIGINT NOT NULL,
              LEASE_EXPIRES_AT DATETIME(6) NOT NULL
            ) ENGINE=InnoDB
            """)
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS \(LeaseStore.membersTable) (
              GROUP_ID VARCHAR(128) NOT NULL,
              NODE_ID VARCHAR(128) NOT NULL,
              PROPERTY_MAP TEXT NOT NULL,
              LAST_HEARTBEAT DATETIME(6) NOT NULL,
              PRIMARY KEY (GROUP_ID, NODE_ID)
            ) ENGINE=InnoDB
            """)
    }

    /// Tries to become the leader for `durationMs`: succeeds when the lease is expired or unheld, or
    /// held by this same node id (a restart: the old incarnation is fenced off by the new term) when
    /// `reclaimOwn`. Returns the new lease, or nil when another node holds a live lease.
    public func acquire(nodeId: String, durationMs: Int, reclaimOwn: Bool = true) throws(MySQLError) -> Lease? {
        precondition(durationMs > 0)
        // The row exists from the first attempt on; created already expired so the UPDATE below decides.
        try connection.execute(
            "INSERT IGNORE INTO \(LeaseStore.leaseTable) (GROUP_ID, NODE_ID, TERM, LEASE_EXPIRES_AT) VALUES (?, '', 0, NOW(6) - INTERVAL 1 SECOND)",
            [.string(groupId)])
        let changed = try connection.execute("""
            UPDATE \(LeaseStore.leaseTable)
               SET TERM = TERM + 1, NODE_ID = ?, LEASE_EXPIRES_AT = NOW(6) + INTERVAL ? MICROSECOND
             WHERE GROUP_ID = ? AND (LEASE_EXPIRES_AT < NOW(6) OR NODE_ID = ?)
            """, [.string(nodeId), .int(Int64(durationMs) * 1000), .string(groupId), .string(reclaimOwn ? nodeId : "")])
        guard changed == 1 else { return nil }
        guard let lease = try current(), lease.nodeId == nodeId else { return nil }
        return lease
    }

    /// Extends a live lease this node holds in `term`. False when it expired or was taken: the
    /// caller must stop acting as active.
    public func renew(_ lease: Lease, durationMs: Int) throws(MySQLError) -> Bool {
        let changed = try connection.execute("""
            UPDATE \(LeaseStore.leaseTable) SET LEASE_EXPIRES_AT = NOW(6) + INTERVAL ? MICROSECOND
             WHERE GROUP_ID = ? AND NODE_ID = ? AND TERM = ? AND LEASE_EXPIRES_AT >= NOW(6)
            """, [.int(Int64(durationMs) * 1000), .string(groupId), .string(lease.nodeId), .int(lease.term)])
        // MySQL reports 0 changed rows when the new value equals the old; with microsecond NOW(6)
        // that only happens for two renewals within the same microsecond, treated as success below.
        if changed == 1 { return true }
        return try holds(lease)
    }

    /// Ends the lease at once (graceful handover): the passive can take over without waiting.
    public func release(_ lease: Lease) throws(MySQLError) {
        try connection.execute("""
            UPDATE \(LeaseStore.leaseTable) SET LEASE_EXPIRES_AT = NOW(6) - INTERVAL 1 MICROSECOND
             WHERE GROUP_ID = ? AND NODE_ID = ? AND TERM = ?
            """, [.string(groupId), .string(lease.nodeId), .int(lease.term)])
    }

    /// Whether `lease` is still live and current, by the database's clock.
    public func holds(_ lease: Lease) throws(MySQLError) -> Bool {
        let rows = try connection.queryStrings("""
            SELECT 1 FROM \(LeaseStore.leaseTable)
             WHERE GROUP_ID = ? AND NODE_ID = ? AND TERM = ? AND LEASE_EXPIRES_AT >= NOW(6)
            """, [.string(groupId), .string(lease.nodeId), .int(lease.term)])
        return !rows.isEmpty
    }

    /// The lease row (live or not), or nil before anyone tried.
    public func current() throws(MySQLError) -> Lease? {
        let rows = try connection.queryStrings(
            "SELECT NODE_ID, TERM FROM \(LeaseStore.leaseTable) WHERE GROUP_ID = ?", [.string(groupId)])
        guard let row = rows.first, let node = row[0], let term = row[1].flatMap({ Int64($0) }) else { return nil }
        return Lease(nodeId: node, term: term)
    }

    /// The live leader and how long its lease has left (ms, by the database's clock), or nil.
    public func liveLeader() throws(MySQLError) -> (lease: Lease, remainingMs: Int)? {
        let rows = try connection.queryStrings("""
            SELECT NODE_ID, TERM, TIMESTAMPDIFF(MICROSECOND, NOW(6), LEASE_EXPIRES_AT) FROM \(LeaseStore.leaseTable)
             WHERE GROUP_ID = ? AND LEASE_EXPIRES_AT >= NOW(6)
            """, [.string(groupId)])
        guard let row = rows.first, let node = row[0], let term = row[1].flatMap({ Int64($0) }),
              let remainingUs = row[2].flatMap({ Int($0) }) else { return nil }
        return (Lease(nodeId: node, term: term), remainingUs / 1000)
    }

    /// A SQL condition, true only while a lease is live and current; put it in the WHERE of every
    /// write an active makes (with `fenceParameters`) so that a deposed active's write (stale term)
    /// changes nothing. The lease table is qualified with the cluster database, so the condition
    /// also works in statements on another database of the same server (e.g. PERSISTENCE_DB).
    public var fence: String {
        let table = connection.endpoint.database.map { "`\($0)`.\(LeaseStore.leaseTable)" } ?? LeaseStore.leaseTable
        return "EXISTS (SELECT 1 FROM \(table) L WHERE L.GROUP_ID = ? AND L.NODE_ID = ? AND L.TERM = ? AND L.LEASE_EXPIRES_AT >= NOW(6))"
    }

    public func fenceParameters(_ lease: Lease) -> [MySQLValue] {
        [.string(groupId), .string(lease.nodeId), .int(lease.term)]
    }

    /// ``fence`` and ``fenceParameters(_:)`` of `lease` as one value.
    public func fenceCondition(_ lease: Lease) -> LeaseFence {
        LeaseFence(sql: fence, parameters: fenceParameters(lease), term: lease.term)
    }

    /// Records this node's heartbeat and properties (e.g. its event-sync endpoint).
    public func heartbeat(nodeId: String, properties: String) throws(MySQLError) {
        try connection.execute("""
            INSERT INTO \(LeaseStore.membersTable) (GROUP_ID, NODE_ID, PROPERTY_MAP, LAST_HEARTBEAT) VALUES (?, ?, ?, NOW(6))
            ON DUPLICATE KEY UPDATE PROPERTY_MAP = VALUES(PROPERTY_MAP), LAST_HEARTBEAT = VALUES(LAST_HEARTBEAT)
            """, [.string(groupId), .string(nodeId), .string(properties)])
    }

    /// Every member of the group with the age of its last heartbeat (ms, database clock) and its
    /// property map, most recent first.
    public func members() throws(MySQLError) -> [(nodeId: String, heartbeatAgeMs: Int, properties: String)] {
        let rows = try connection.queryStrings("""
            SELECT NODE_ID, TIMESTAMPDIFF(MICROSECOND, LAST_HEARTBEAT, NOW(6)), PROPERTY_MAP FROM \(LeaseStore.membersTable)
             WHERE GROUP_ID = ? ORDER BY LAST_HEARTBEAT DESC
            """, [.string(groupId)])
        return rows.compactMap { row in
            guard let id = row[0], let age = row[1].flatMap({ Int($0) }) else { return nil }
            return (id, age / 1000, row[2] ?? "")
        }
    }

    /// Members whose heartbeat is younger than `freshMs` (database clock): node id → properties.
    public func liveMembers(freshMs: Int) throws(MySQLError) -> [String: String] {
        let rows = try connection.queryStrings("""
            SELECT NODE_ID, PROPERTY_MAP FROM \(LeaseStore.membersTable)
             WHERE GROUP_ID = ? AND LAST_HEARTBEAT >= NOW(6) - INTERVAL ? MICROSECOND
            """, [.string(groupId), .int(Int64(freshMs) * 1000)])
        var out: [String: String] = [:]
        for row in rows { if let id = row[0] { out[id] = row[1] ?? "" } }
        return out
    }
}
