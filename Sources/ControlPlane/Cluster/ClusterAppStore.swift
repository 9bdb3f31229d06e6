/// One change of the cluster's apps: a new body of an app, or its removal (`source` nil).
public struct ClusterAppChange: Sendable, Equatable {
    public var name: String
    public var version: Int64
    public var source: String?
}

/// The Siddhi apps deployed through the REST API of an HA cluster, in the cluster database (table
/// `TANDEM_SIDDHI_APPS`: group, app name, version, body; a removed app keeps its row with no body).
/// The active writes a change as the group's next version, fenced by its lease; each node reads the
/// changes after the last version it applied on its control thread, so the passive, and a node that
/// restarts, runs what the active was given.
public final class ClusterAppStore {
    public static let table = "TANDEM_SIDDHI_APPS"
    public let groupId: String
    private let connection: MySQLConnection

    public init(connection: MySQLConnection, groupId: String) {
        self.connection = connection
        self.groupId = groupId
    }

    /// Creates the table when absent.
    public func createTable() throws(MySQLError) {
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS \(ClusterAppStore.table) (
              GROUP_ID VARCHAR(128) NOT NULL,
              APP_NAME VARCHAR(255) NOT NULL,
              VERSION BIGINT NOT NULL,
              SOURCE MEDIUMTEXT NULL,
              UPDATED_BY VARCHAR(128) NOT NULL,
              UPDATED_AT DATETIME(6) NOT NULL,
              PRIMARY KEY (GROUP_ID, APP_NAME),
              INDEX (GROUP_ID, VERSION)
            ) ENGINE=InnoDB
            """)
    }

    /// Changes with a version above `version`, oldest first.
    public func changes(after version: Int64) throws(MySQLError) -> [ClusterAppChange] {
        try connection.queryStrings(
            "SELECT APP_NAME, VERSION, SOURCE FROM \(ClusterAppStore.table) WHERE GROUP_ID = ? AND VERSION > ? ORDER BY VERSION",
            [.string(groupId), .int(version)]
        ).compactMap { row in
            guard let name = row[0], let v = row[1].flatMap({ Int64($0) }) else { return nil }
            return ClusterAppChange(name: name, version: v, source: row[2])
        }
    }

    /// Records `source` (nil: removed) as the app's body at the group's next version. Written only
    /// while `fence` holds (the writer is the current active); returns the version, or nil when the
    /// fence refused.
    public func put(name: String, source: String?, nodeId: String, fence: LeaseFence?) throws(MySQLError) -> Int64? {
        let rows = try connection.queryStrings(
            "SELECT COALESCE(MAX(VERSION), 0) FROM \(ClusterAppStore.table) WHERE GROUP_ID = ?", [.string(groupId)])
        let version = (rows.first?.first.flatMap { $0 }.flatMap { Int64($0) } ?? 0) + 1
        let body: MySQLValue = source.map { .string($0) } ?? .null
        let values: [MySQLValue] = [.string(groupId), .string(name), .int(version), body, .string(nodeId)]
        let changed = try connection.execute("""
            INSERT INTO \(ClusterAppStore.table) (GROUP_ID, APP_NAME, VERSION, SOURCE, UPDATED_BY, UPDATED_AT)
            SELECT ?, ?, ?, ?, ?, NOW(6) FROM DUAL WHERE \(fence?.sql ?? "TRUE")
            ON DUPLICATE KEY UPDATE VERSION = VALUES(VERSION), SOURCE = VALUES(SOURCE), UPDATED_BY = VALUES(UPDATED_BY), UPDATED_AT = VALUES(UPDATED_AT)
            """, values + (fence?.parameters ?? []))
        return changed == 0 ? nil : version
    }
}
