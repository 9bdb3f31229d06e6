import Foundation
import Metrics

/// `POST /siddhi-apps/{app}/backup` requests waiting for their snapshot to be written (control
/// thread). A request is answered by the first written snapshot of its app taken after it was made,
/// by the first failure to write one, or with 504 after ``timeoutMs``. Bounded by the mailbox: at
/// most ``ControlMailbox/capacity`` requests can wait here.
struct PendingBackups {
    static let timeoutMs = 30_000
    private var waiting: [(app: String, sinceNs: UInt64, deadlineMs: Int, reply: ControlReply)] = []

    var isEmpty: Bool { waiting.isEmpty }

    mutating func add(app: String, reply: ControlReply) {
        waiting.append((app, DispatchTime.now().uptimeNanoseconds, ActiveFence.nowMs() + PendingBackups.timeoutMs, reply))
    }

    /// Answers the requests a persistence result settles.
    mutating func settle(_ result: PersistWorker.Result) {
        waiting.removeAll { entry in
            guard entry.app == result.app, result.snapshot.takenAtNs >= entry.sinceNs else { return false }
            if let revision = result.revision {
                entry.reply.send(.success(.revision(revision.revision)))
            } else {
                entry.reply.send(.failure(ApiFailure(status: 503, message: "snapshot of '\(result.app)' not written: \(result.error ?? "unknown error")")))
            }
            return true
        }
    }

    mutating func expire() {
        let now = ActiveFence.nowMs()
        waiting.removeAll { entry in
            guard now >= entry.deadlineMs else { return false }
            entry.reply.send(.failure(ApiFailure(status: 504, message: "snapshot of '\(entry.app)' not written within \(PendingBackups.timeoutMs) ms")))
            return true
        }
    }

    mutating func failAll(_ reason: String, status: Int = 503) {
        for entry in waiting { entry.reply.send(.failure(ApiFailure(status: status, message: reason))) }
        waiting.removeAll()
    }
}

/// Snapshot results for `/metrics` and the status page.
enum SnapshotReporting {
    static func record(_ result: PersistWorker.Result, board: NodeStatusBoard) {
        guard let revision = result.revision else { return }
        let dimensions = [("app", result.app)]
        Metrics.Timer(label: "tandem_snapshot_save_seconds", dimensions: dimensions).recordNanoseconds(Int64(result.saveDurationNs))
        Recorder(label: "tandem_snapshot_bytes", dimensions: dimensions, aggregate: true).record(result.snapshot.bytes.count)
        let totalMs = Int((DispatchTime.now().uptimeNanoseconds - result.snapshot.takenAtNs) / 1_000_000)
        board.recordSnapshot(.init(app: result.app, revision: revision.revision, bytes: result.snapshot.bytes.count,
                                   durationMs: totalMs, atEpochMs: result.snapshot.epochMs))
    }
}
