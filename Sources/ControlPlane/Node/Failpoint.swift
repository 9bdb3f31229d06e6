import Foundation
import Glibc

/// Fault injection for crash tests: `TANDEM_FAILPOINT=name:N` makes the process kill itself
/// (SIGKILL, as `kill -9` would) the N-th time it passes the failpoint `name`. Off (one load and a
/// compare) unless the variable is set; tests use it to crash a node at exact points:
///
/// - `persist-before-save`: a snapshot is taken and about to be written;
/// - `persist-after-control`: a revision is committed and its control message sent to the passive;
/// - `engine-mid-batch`: a batch is forwarded to the passive but not run or acknowledged yet.
enum Failpoint {
    private static let armed: (name: Substring, count: Int)? = {
        guard let text = ProcessInfo.processInfo.environment["TANDEM_FAILPOINT"] else { return nil }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let n = Int(parts[1]), n >= 1 else { return nil }
        return (parts[0], n)
    }()
    nonisolated(unsafe) private static var passes = 0
    private static let lock = NSLock()

    /// Kills the process when `name` is the armed failpoint and this is its N-th pass.
    static func pass(_ name: StaticString) {
        guard let armed, armed.name == "\(name)" else { return }
        lock.lock()
        passes += 1
        let due = passes == armed.count
        lock.unlock()
        guard due else { return }
        FileHandle.standardError.write(Data("tandem: failpoint \(name) reached (pass \(armed.count)): killing this process\n".utf8))
        raise(SIGKILL)
    }
}
