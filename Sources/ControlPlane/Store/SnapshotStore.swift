import Foundation

/// One persisted revision of an app's state.
public struct SnapshotRevision: Sendable, Hashable {
    /// `<epochMillis>__<appName>`, as WSO2 names revisions (sorts by time).
    public var revision: String
    public var appName: String
    /// Sequence number of the last input event the snapshot contains (HA trims the passive's queue to it).
    public var lastSequence: Int64

    public var epochMs: Int64 { Int64(revision.split(separator: "_").first ?? "") ?? 0 }

    public static func name(epochMs: Int64, appName: String) -> String { "\(epochMs)__\(appName)" }
}

/// Why a snapshot could not be saved or loaded; the message names the app and the cause.
public struct SnapshotStoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Where app snapshots live: files or MySQL's `PERSISTENCE_TABLE`. Snapshot bytes are opaque here
/// (the engine versions and checksums them). Saves are atomic: a revision is there whole or not at all.
public protocol SnapshotStore: AnyObject {
    /// Saves a revision; keeps at most `revisionsToKeep` revisions of the app, dropping the oldest.
    func save(appName: String, epochMs: Int64, lastSequence: Int64, snapshot: [UInt8], revisionsToKeep: Int) throws(SnapshotStoreError) -> SnapshotRevision
    /// The app's revisions, oldest first.
    func revisions(appName: String) throws(SnapshotStoreError) -> [SnapshotRevision]
    func load(_ revision: SnapshotRevision) throws(SnapshotStoreError) -> [UInt8]
    /// Deletes every revision of the app.
    func clear(appName: String) throws(SnapshotStoreError)
}

extension SnapshotStore {
    /// The newest revision and its bytes, or nil when the app has none.
    public func latest(appName: String) throws(SnapshotStoreError) -> (SnapshotRevision, [UInt8])? {
        guard let revision = try revisions(appName: appName).last else { return nil }
        return (revision, try load(revision))
    }
}

/// Snapshots as files: `<directory>/<app>/<epochMillis>__<app>__<lastSequence>.snapshot`.
/// Written to a temporary file, fsynced, then renamed, so a crash or a full disk never leaves a
/// half-written revision that looks complete.
public final class FileSnapshotStore: SnapshotStore {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    private func appDirectory(_ appName: String) -> String { (directory as NSString).appendingPathComponent(appName) }

    public func save(appName: String, epochMs: Int64, lastSequence: Int64, snapshot: [UInt8], revisionsToKeep: Int) throws(SnapshotStoreError) -> SnapshotRevision {
        precondition(revisionsToKeep >= 1)
        let folder = appDirectory(appName)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw SnapshotStoreError(message: "\(appName): cannot create \(folder): \(error.localizedDescription)")
        }
        let revision = SnapshotRevision(revision: SnapshotRevision.name(epochMs: epochMs, appName: appName), appName: appName, lastSequence: lastSequence)
        let final = (folder as NSString).appendingPathComponent("\(revision.revision)__\(lastSequence).snapshot")
        let temporary = final + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SnapshotStoreError(message: "\(appName): cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var offset = 0
        var failure: Int32 = 0
        snapshot.withUnsafeBytes { bytes in
            while offset < bytes.count {
                let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += n
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure != 0 {
            unlink(temporary)  // a full disk leaves no partial revision behind
            throw SnapshotStoreError(message: "\(appName): snapshot not saved (\(String(cString: strerror(failure)))); the previous revision stays current")
        }
        guard rename(temporary, final) == 0 else {
            let e = errno
            unlink(temporary)
            throw SnapshotStoreError(message: "\(appName): cannot rename snapshot into place: \(String(cString: strerror(e)))")
        }
        let dirfd = open(folder, O_RDONLY | O_DIRECTORY)
        if dirfd >= 0 {
            fsync(dirfd)  // make the rename itself durable
            close(dirfd)
        }
        let all = try revisions(appName: appName)
        for old in all.dropLast(revisionsToKeep) { unlink(path(old)) }
        return revision
    }

    private func path(_ revision: SnapshotRevision) -> String {
        (appDirectory(revision.appName) as NSString).appendingPathComponent("\(revision.revision)__\(revision.lastSequence).snapshot")
    }

    public func revisions(appName: String) throws(SnapshotStoreError) -> [SnapshotRevision] {
        let folder = appDirectory(appName)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        return names.compactMap { name -> SnapshotRevision? in
            guard name.hasSuffix(".snapshot") else { return nil }
            let parts = name.dropLast(".snapshot".count).components(separatedBy: "__")
            guard parts.count == 3, Int64(parts[0]) != nil, let sequence = Int64(parts[2]), parts[1] == appName else { return nil }
            return SnapshotRevision(revision: "\(parts[0])__\(parts[1])", appName: appName, lastSequence: sequence)
        }.sorted { ($0.epochMs, $0.lastSequence) < ($1.epochMs, $1.lastSequence) }
    }

    public func load(_ revision: SnapshotRevision) throws(SnapshotStoreError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path(revision)) else {
            throw SnapshotStoreError(message: "\(revision.appName): revision \(revision.revision) cannot be read")
        }
        return [UInt8](data)
    }

    public func clear(appName: String) throws(SnapshotStoreError) {
        for revision in try revisions(appName: appName) { unlink(path(revision)) }
    }
}

/// Snapshots in MySQL, in WSO2's `PERSISTENCE_TABLE(id, siddhiAppName, revision, snapshot)` plus the
/// sequence number and the writer's term. With a lease, a save is fenced: a deposed active's
/// snapshot is refused.
public final class DatabaseSnapshotStore: SnapshotStore {
    public let table: String
    private let connection: MySQLConnection
    /// When set, saves succeed only while this lease is live (stale-term writes fail).
    public var fence: (store: LeaseStore, lease: Lease)? {
        didSet { leaseFence = fence.map { $0.store.fenceCondition($0.lease) } }
    }
    /// The same condition as plain values (it can be handed to another thread's store).
    public var leaseFence: LeaseFence?

    public init(connection: MySQLConnection, table: String = "PERSISTENCE_TABLE") throws(SnapshotStoreError) {
        precondition(table.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }, "table name must be an identifier")
        self.connection = connection
        self.table = table
        do {
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS \(table) (
                  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                  siddhiAppName VARCHAR(128) NOT NULL,
                  revision VARCHAR(255) NOT NULL,
                  snapshot LONGBLOB NOT NULL,
                  lastSequence BIGINT NOT NULL DEFAULT 0,
                  term BIGINT NOT NULL DEFAULT 0,
                  INDEX (siddhiAppName, revision)
                ) ENGINE=InnoDB
                """)
        } catch {
            throw SnapshotStoreError(message: "cannot create \(table): \(error)")
        }
    }

    public func save(appName: String, epochMs: Int64, lastSequence: Int64, snapshot: [UInt8], revisionsToKeep: Int) throws(SnapshotStoreError) -> SnapshotRevision {
        let revision = SnapshotRevision(revision: SnapshotRevision.name(epochMs: epochMs, appName: appName), appName: appName, lastSequence: lastSequence)
        do {
            let inserted: Int
            if let fence = leaseFence {
                inserted = try connection.execute("""
                    INSERT INTO \(table) (siddhiAppName, revision, snapshot, lastSequence, term)
                    SELECT ?, ?, ?, ?, ? FROM DUAL WHERE \(fence.sql)
                    """, [.string(appName), .string(revision.revision), .bytes(snapshot), .int(lastSequence), .int(fence.term)]
                        + fence.parameters)
            } else {
                inserted = try connection.execute(
                    "INSERT INTO \(table) (siddhiAppName, revision, snapshot, lastSequence) VALUES (?, ?, ?, ?)",
                    [.string(appName), .string(revision.revision), .bytes(snapshot), .int(lastSequence)])
            }
            guard inserted == 1 else {
                throw SnapshotStoreError(message: "\(appName): snapshot refused: this node's lease (term \(leaseFence?.term ?? 0)) is no longer current")
            }
            let keep = try connection.queryStrings(
                "SELECT id FROM \(table) WHERE siddhiAppName = ? ORDER BY id DESC LIMIT ?", [.string(appName), .int(Int64(revisionsToKeep))])
            if let oldestKept = keep.last?.first.flatMap({ $0 }).flatMap({ Int64($0) }) {
                try connection.execute("DELETE FROM \(table) WHERE siddhiAppName = ? AND id < ?", [.string(appName), .int(oldestKept)])
            }
        } catch let error as SnapshotStoreError {
            throw error
        } catch {
            throw SnapshotStoreError(message: "\(appName): snapshot not saved: \(error)")
        }
        return revision
    }

    public func revisions(appName: String) throws(SnapshotStoreError) -> [SnapshotRevision] {
        do {
            return try connection.queryStrings(
                "SELECT revision, lastSequence FROM \(table) WHERE siddhiAppName = ? ORDER BY id", [.string(appName)]
            ).compactMap { row in
                guard let revision = row[0], let sequence = row[1].flatMap({ Int64($0) }) else { return nil }
                return SnapshotRevision(revision: revision, appName: appName, lastSequence: sequence)
            }
        } catch {
            throw SnapshotStoreError(message: "\(appName): cannot list revisions: \(error)")
        }
    }

    public func load(_ revision: SnapshotRevision) throws(SnapshotStoreError) -> [UInt8] {
        do {
            let rows = try connection.query(
                "SELECT snapshot FROM \(table) WHERE siddhiAppName = ? AND revision = ? ORDER BY id DESC LIMIT 1",
                [.string(revision.appName), .string(revision.revision)])
            guard let bytes = rows.first?.first ?? nil else {
                throw SnapshotStoreError(message: "\(revision.appName): revision \(revision.revision) not found")
            }
            return bytes
        } catch let error as SnapshotStoreError {
            throw error
        } catch {
            throw SnapshotStoreError(message: "\(revision.appName): cannot load \(revision.revision): \(error)")
        }
    }

    public func clear(appName: String) throws(SnapshotStoreError) {
        do {
            try connection.execute("DELETE FROM \(table) WHERE siddhiAppName = ?", [.string(appName)])
        } catch {
            throw SnapshotStoreError(message: "\(appName): cannot delete revisions: \(error)")
        }
    }
}
