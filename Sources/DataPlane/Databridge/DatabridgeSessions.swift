import Dispatch
import Foundation

/// Databridge sessions: a login with user name and password gives a session id that later
/// publishes name. Shared by every databridge port of the node, as in WSO2 (the Thrift agent logs
/// in on the TLS port and publishes on the plain one).
///
/// Bounded: at most `sessionsMax` sessions; a login at the limit first drops expired ones, then the
/// least recently used (its publisher gets a session-expired error and logs in again, as WSO2's
/// agents do). A session unused for `timeoutMs` expires.
public final class DatabridgeSessions: @unchecked Sendable {
    /// Checks a user's password (the node's REST API users, bcrypt); runs off the event loops.
    public typealias Authenticate = @Sendable (_ user: String, _ password: String) async -> Bool

    private let authenticate: Authenticate
    let timeoutMs: Int
    let sessionsMax: Int
    private let lock = NSLock()
    /// Session id → (user, last use in monotonic ms). Under `lock`.
    private var sessions: [String: (user: String, usedMs: Int)] = [:]

    public init(timeoutMs: Int, sessionsMax: Int, authenticate: @escaping Authenticate) {
        precondition(timeoutMs > 0 && sessionsMax > 0)
        self.timeoutMs = timeoutMs
        self.sessionsMax = sessionsMax
        self.authenticate = authenticate
    }

    static func nowMs() -> Int { Int(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

    /// A new session for `user`, or `.authentication` for a wrong user name or password.
    public func login(user: String, password: String) async throws(DatabridgeError) -> String {
        guard await authenticate(user, password) else {
            throw .authentication("wrong user name or password for '\(user)'")
        }
        let id = UUID().uuidString
        let now = DatabridgeSessions.nowMs()
        lock.withLock {
            if sessions.count >= sessionsMax {
                sessions = sessions.filter { now - $0.value.usedMs < timeoutMs }
            }
            if sessions.count >= sessionsMax, let oldest = sessions.min(by: { $0.value.usedMs < $1.value.usedMs }) {
                sessions[oldest.key] = nil
            }
            sessions[id] = (user, now)
        }
        return id
    }

    /// Checks that `id` is a live session and marks it used.
    public func check(_ id: String) throws(DatabridgeError) {
        let now = DatabridgeSessions.nowMs()
        let live: Bool = lock.withLock {
            guard let session = sessions[id] else { return false }
            guard now - session.usedMs < timeoutMs else {
                sessions[id] = nil
                return false
            }
            sessions[id] = (session.user, now)
            return true
        }
        guard live else { throw .sessionExpired("session '\(id)' is unknown or expired: log in again") }
    }

    /// Ends a session (unknown ids are ignored, as WSO2 does).
    public func logout(_ id: String) {
        _ = lock.withLock { sessions.removeValue(forKey: id) }
    }

    /// Sessions held now.
    public var count: Int { lock.withLock { sessions.count } }
}
