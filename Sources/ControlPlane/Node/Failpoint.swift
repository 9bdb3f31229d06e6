import Foundation
import Glibc

/// Fault injection for crash tests: `TANDEM_FAILPOINT=name:N[:action]` fires the failpoint `name`
/// the N-th time the process passes it. Off (one load and a compare) unless the variable is set.
///
/// Actions: `kill` (the default: SIGKILL, as `kill -9` would), `hang` (the passing thread blocks
/// for good, as on a database that never answers), `sleep=MS` (it stalls that long: a slow step),
/// and for the failpoints that inject a fault other than a crash, `fire` (the call site acts, see
/// ``fires(_:)``).
///
/// A comma-separated list is a chain: each failpoint starts counting only once the one before it
/// fired (`forward-detach:50,persist-before-save:1:hang` hangs the first save after the detach).
///
/// - `persist-before-save`: a snapshot is taken and about to be written;
/// - `persist-after-control`: a revision is committed and its control message sent to the passive;
/// - `engine-mid-batch`: a batch is forwarded to the passive but not run or acknowledged yet;
/// - `forward-detach` (fires): the event-sync link drops before a batch is forwarded, as when the
///   passive stalls (the batch runs on the active only; the control plane re-attaches the passive);
/// - `takeover-replay`: a new active restored an app and is about to replay its queued events.
enum Failpoint {
    private enum Action: Equatable {
        case kill, hang, fire
        case sleep(ms: UInt32)

        init?(_ text: Substring) {
            switch text {
            case "kill": self = .kill
            case "hang": self = .hang
            case "fire": self = .fire
            default:
                guard text.hasPrefix("sleep="), let ms = UInt32(text.dropFirst("sleep=".count)) else { return nil }
                self = .sleep(ms: ms)
            }
        }
    }
    private struct Step { var name: Substring; var count: Int; var action: Action }

    private static let chain: [Step] = {
        guard let text = ProcessInfo.processInfo.environment["TANDEM_FAILPOINT"] else { return [] }
        var steps: [Step] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":")
            guard parts.count == 2 || parts.count == 3, let n = Int(parts[1]), n >= 1,
                  let action = parts.count == 3 ? Action(parts[2]) : .kill else {
                FileHandle.standardError.write(Data("tandem: TANDEM_FAILPOINT item '\(item)' ignored (want name:N[:kill|hang|fire|sleep=MS])\n".utf8))
                return []
            }
            steps.append(Step(name: parts[0], count: n, action: action))
        }
        return steps
    }()
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current = 0
    nonisolated(unsafe) private static var passes = 0

    /// Counts a pass of `name`; true when it is the armed step's N-th (the chain moves on).
    private static func due(_ name: StaticString) -> Action? {
        guard !chain.isEmpty else { return nil }
        lock.lock()
        defer { lock.unlock() }
        guard current < chain.count, chain[current].name == "\(name)" else { return nil }
        passes += 1
        guard passes == chain[current].count else { return nil }
        let action = chain[current].action
        current += 1
        passes = 0
        FileHandle.standardError.write(Data("tandem: failpoint \(name) reached (pass \(chain[current - 1].count), \(action))\n".utf8))
        return action
    }

    /// Kills the process (or blocks the thread for good) when `name` is the armed failpoint and
    /// this is its N-th pass.
    static func pass(_ name: StaticString) {
        switch due(name) {
        case .kill?: raise(SIGKILL)
        case .hang?: while true { sleep(3600) }
        case .sleep(let ms)?: usleep(ms * 1000)
        case .fire?, nil: return
        }
    }

    /// True when `name` fires now (its N-th pass, action `fire`): the caller injects the fault.
    static func fires(_ name: StaticString) -> Bool {
        switch due(name) {
        case .fire?: return true
        case .kill?: raise(SIGKILL); return false
        case .hang?: while true { sleep(3600) }
        case .sleep(let ms)?: usleep(ms * 1000); return false
        case nil: return false
        }
    }
}
