import Engine
import Foundation
import Logging

/// The apps of a node, owned by its control thread: each app's source, the file that keeps it in the
/// apps folder, and its host (running; on an HA passive built but not started). The REST API's app
/// operations (deploy, update, undeploy, restore) run here, on the control thread.
final class AppTable {
    final class Slot {
        let app: SiddhiApp
        let source: String
        /// The app's file in the apps folder (nil: not written yet).
        var path: String?
        var host: AppHost?
        /// Why the app is not running, when it is not.
        var error: String?
        let deployedAtEpochMs: Int64

        init(app: SiddhiApp, source: String, path: String?, host: AppHost?, error: String? = nil) {
            self.app = app
            self.source = source
            self.path = path
            self.host = host
            self.error = error
            deployedAtEpochMs = AppHost.wallClockMs()
        }
    }

    let appsDirectory: String
    private let logger: Logger
    private var slots: [String: Slot] = [:]

    init(appsDirectory: String, logger: Logger) {
        self.appsDirectory = appsDirectory
        self.logger = logger
    }

    var names: [String] { slots.keys.sorted() }
    var hosts: [AppHost] { names.compactMap { slots[$0]?.host } }
    var apps: [SiddhiApp] { names.compactMap { slots[$0]?.app } }
    subscript(name: String) -> Slot? { slots[name] }

    func insert(_ slot: Slot) { slots[slot.app.name] = slot }

    @discardableResult
    func remove(_ name: String) -> Slot? { slots.removeValue(forKey: name) }

    /// Every app, by name; `status` names what a slot's host is doing.
    func summaries(status: (Slot) -> String) -> [AppSummary] {
        names.compactMap { slots[$0] }.map { slot in
            AppSummary(name: slot.app.name, status: status(slot), error: slot.error, deployedAtEpochMs: slot.deployedAtEpochMs,
                       eventsIn: slot.host?.counters.eventsIn.load(ordering: .relaxed) ?? 0,
                       eventsOut: slot.host?.counters.eventsOut.load(ordering: .relaxed) ?? 0)
        }
    }

    // MARK: Operations of a running node (standalone, or HA active)

    /// How a controller builds and starts hosts for its role.
    struct Launcher {
        /// A host for `app`, not started.
        var make: (SiddhiApp) throws(DeployError) -> AppHost
        /// Starts the engine and opens the ports; on failure leaves the host stopped.
        var launch: (AppHost) throws(DeployError) -> Void
        /// The state a newly deployed app starts from (the latest stored revision), if any.
        var latestState: (String) -> PendingSnapshot?
    }

    /// Deploys `app` (POST: new apps only; PUT: new or replacing). A replaced app's state carries
    /// over when it still fits (same streams and queries); else the new version starts empty. If the
    /// new version cannot start (a port taken), the old one is started again with its state.
    func deploy(_ app: SiddhiApp, source: String, mode: DeployMode, with launcher: Launcher) -> Result<NodeReply, ApiFailure> {
        let existing = slots[app.name]
        if existing != nil && mode == .create {
            return .failure(ApiFailure(status: 409, message: "a Siddhi app named '\(app.name)' is already deployed (PUT /siddhi-apps replaces it)"))
        }
        let host: AppHost
        do {
            host = try launcher.make(app)
        } catch {
            return .failure(ApiFailure(status: 400, message: error.message, details: [error.message]))
        }
        var carried: PendingSnapshot?
        if let old = existing?.host {
            old.stop()
            carried = old.snapshotStopped()
        }
        if let state = carried ?? launcher.latestState(app.name) {
            do {
                try host.restore(state.bytes, lastSequence: state.lastSequence)
            } catch {
                logger.warning("app '\(app.name)': earlier state does not fit this version (\(error)); it starts empty")
                host.continueSequence(after: state.lastSequence)
            }
        }
        do {
            try launcher.launch(host)
        } catch {
            if let existing, let carried, let back = try? launcher.make(existing.app) {
                try? back.restore(carried.bytes, lastSequence: carried.lastSequence)
                do {
                    try launcher.launch(back)
                    existing.host = back
                } catch let again {
                    existing.host = nil
                    existing.error = again.message
                }
            }
            return .failure(ApiFailure(status: 409, message: "Siddhi app '\(app.name)' cannot start: \(error.message)"
                                       + (existing == nil ? "" : "; the previous version runs on")))
        }
        let slot = Slot(app: app, source: source, path: existing?.path, host: host)
        slots[app.name] = slot
        let warning = writeFile(slot)
        logger.notice("app '\(app.name)' \(existing == nil ? "deployed" : "updated") through the REST API")
        return .success(.deployed(created: existing == nil, warning: warning))
    }

    /// Stops and removes an app and its file; `lastSnapshot` gets the stopped host (its state is kept).
    func undeploy(_ name: String, lastSnapshot: (AppHost) -> Void) -> Result<NodeReply, ApiFailure> {
        guard let slot = slots.removeValue(forKey: name) else { return .failure(.notFound(name)) }
        if let host = slot.host {
            host.stop()
            lastSnapshot(host)
        }
        if let path = slot.path { removeFile(path) }
        logger.notice("app '\(name)' undeployed through the REST API")
        return .success(.done("Siddhi app '\(name)' undeployed"))
    }

    /// Replaces a running app's state with a stored revision (the latest when `revision` is nil). The
    /// revision is checked against the app before the running app is touched. `continueSequence`
    /// (HA) keeps numbering events after the running app's last one, so the passive's queue stays in order.
    func restore(_ name: String, revision: String?, store: SnapshotStore, continueSequence: Bool,
                 with launcher: Launcher) -> Result<NodeReply, ApiFailure> {
        guard let slot = slots[name] else { return .failure(.notFound(name)) }
        let chosen: SnapshotRevision
        let bytes: [UInt8]
        let host: AppHost
        do {
            let revisions = try store.revisions(appName: name)
            if let revision {
                guard let found = revisions.first(where: { $0.revision == revision }) else {
                    return .failure(ApiFailure(status: 404, message: "no revision '\(revision)' of Siddhi app '\(name)' (stored: \(revisions.map(\.revision).joined(separator: ", ")))"))
                }
                chosen = found
            } else {
                guard let latest = revisions.last else {
                    return .failure(ApiFailure(status: 404, message: "no revisions of Siddhi app '\(name)' are stored"))
                }
                chosen = latest
            }
            bytes = try store.load(chosen)
            host = try launcher.make(slot.app)
            try host.restore(bytes, lastSequence: chosen.lastSequence)
        } catch let error as SnapshotStoreError {
            return .failure(ApiFailure(status: 503, message: "snapshot store: \(error)"))
        } catch let error as DeployError {
            return .failure(ApiFailure(status: 500, message: error.message))
        } catch {
            return .failure(ApiFailure(status: 400, message: "revision does not fit Siddhi app '\(name)': \(error)"))
        }
        if let old = slot.host {
            old.stop()
            if continueSequence { host.continueSequence(after: max(old.snapshotStopped().lastSequence, chosen.lastSequence)) }
        }
        do {
            try launcher.launch(host)
            slot.host = host
            slot.error = nil
        } catch {
            slot.host = nil
            slot.error = error.message
            return .failure(ApiFailure(status: 500, message: "Siddhi app '\(name)' restored but cannot start: \(error.message)"))
        }
        logger.notice("app '\(name)' restored revision \(chosen.revision) through the REST API")
        return .success(.revision(chosen.revision))
    }

    // MARK: The apps folder

    /// Writes the app's source to its file in the apps folder (temp file, then rename), so it is
    /// deployed again at the next start. Returns a warning when that failed (the app runs anyway).
    @discardableResult
    func writeFile(_ slot: Slot) -> String? {
        let path = slot.path ?? freePath(for: slot.app.name)
        let temp = path + ".tmp"
        do {
            try FileManager.default.createDirectory(atPath: appsDirectory, withIntermediateDirectories: true)
            try Data(slot.source.utf8).write(to: URL(fileURLWithPath: temp))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temp, toPath: path)
            slot.path = path
            return nil
        } catch {
            let warning = "app '\(slot.app.name)' runs but was not written to \(path): \(error.localizedDescription); it will not be deployed at the next start"
            logger.error("\(warning)")
            return warning
        }
    }

    func removeFile(_ path: String) {
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            logger.error("cannot remove \(path): \(error.localizedDescription); the app will be deployed again at the next start")
        }
    }

    /// `<apps>/<name>.siddhi`, or with a number when another app's file has that name.
    private func freePath(for name: String) -> String {
        let taken = Set(slots.values.compactMap(\.path))
        let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        var candidate = (appsDirectory as NSString).appendingPathComponent("\(safe).siddhi")
        var n = 2
        while taken.contains(candidate) {
            candidate = (appsDirectory as NSString).appendingPathComponent("\(safe)-\(n).siddhi")
            n += 1
        }
        return candidate
    }
}
