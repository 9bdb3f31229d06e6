import Atomics
import Dispatch
import Foundation

/// HTTP basic authentication for an `HTTPSource`, without a password hash per request on the hot path.
///
/// Checking a password against a node user's bcrypt hash costs tens of milliseconds of CPU. So:
/// - a credential (the whole `Authorization` header value) once verified is kept, at most
///   `cacheCapacity` of them (the oldest is dropped first) for `cacheTtlMs`; a request carrying a
///   kept credential passes with one dictionary lookup;
/// - requests carrying the same credential while it is being verified wait for that one check;
/// - at most `verificationsMax` different credentials are verified at once: beyond, `check`
///   answers `.busy` (the source answers 503 with `Retry-After`), so wrong passwords sent in a loop
///   cost at most that many cores.
///
/// Refused credentials are not kept (a user who fixes a password is not locked out).
public final class HTTPBasicAuthenticator: @unchecked Sendable {
    /// Whether `password` is `user`'s (may be slow: it runs off the server's event loops).
    public typealias Verify = @Sendable (_ user: String, _ password: String) async -> Bool

    /// The outcome of `check`.
    public enum Outcome: Sendable, Equatable {
        case allowed
        /// No or malformed credentials, unknown user or wrong password (the reason is for the client).
        case denied(String)
        /// Too many credentials being verified at once.
        case busy
    }

    public let cacheCapacity: Int
    public let cacheTtlMs: Int
    public let verificationsMax: Int
    /// Whether any user is configured (without one every request is denied).
    public let hasUsers: Bool
    /// Password checks run (for tests and metrics: stays at one per distinct credential while cached).
    public let verificationsRun = ManagedAtomic<Int>(0)

    private let verify: Verify
    private let lock = NSLock()
    /// Verified credentials and when they expire (uptime ns).
    private var cache: [String: UInt64] = [:]
    /// Insertion order of `cache`'s keys (FIFO eviction); holds at most `cacheCapacity` live keys.
    private var order: [String] = []
    private var orderHead = 0
    private var pending: [String: Task<Bool, Never>] = [:]

    /// - Parameters:
    ///   - hasUsers: false when no user is configured: every request is denied with a reason saying so.
    ///   - verify: the password check (the node's: bcrypt against `tandem.api.auth.users`).
    public init(hasUsers: Bool, cacheCapacity: Int = 1024, cacheTtlMs: Int = 300_000, verificationsMax: Int = 4, verify: @escaping Verify) {
        precondition(cacheCapacity > 0 && cacheTtlMs >= 0 && verificationsMax > 0)
        self.hasUsers = hasUsers
        self.cacheCapacity = cacheCapacity
        self.cacheTtlMs = cacheTtlMs
        self.verificationsMax = verificationsMax
        self.verify = verify
    }

    /// Checks an `Authorization` header value (nil when the request has none).
    public func check(authorization header: String?) async -> Outcome {
        guard hasUsers else {
            return .denied("no user is configured on this node (tandem.api.auth.users or TANDEM_ADMIN_USER/TANDEM_ADMIN_PASSWORD): every request is refused")
        }
        guard let header, !header.isEmpty else { return .denied("authentication required (HTTP basic)") }
        let now = DispatchTime.now().uptimeNanoseconds
        enum Step { case allowed, wait(Task<Bool, Never>), busy, start }
        let step: Step = lock.withLock {
            if let expiry = cache[header] {
                if expiry > now { return .allowed }
                cache[header] = nil
            }
            if let task = pending[header] { return .wait(task) }
            return pending.count >= verificationsMax ? .busy : .start
        }
        switch step {
        case .allowed: return .allowed
        case .busy: return .busy
        case .wait(let task): return await task.value ? .allowed : .denied("wrong user name or password")
        case .start: break
        }
        guard let (user, password) = Self.basicCredentials(header) else {
            return .denied("the Authorization header is not 'Basic base64(user:password)'")
        }
        let verify = self.verify
        let counter = verificationsRun
        let started: Task<Bool, Never>? = lock.withLock {
            // Another request may have started the same check (or others filled the slots) between the two locks.
            if let task = pending[header] { return task }
            guard pending.count < verificationsMax else { return nil }
            let task = Task<Bool, Never> {
                counter.wrappingIncrement(ordering: .relaxed)
                return await verify(user, password)
            }
            pending[header] = task
            return task
        }
        guard let task = started else { return .busy }
        let ok = await task.value
        lock.withLock {
            pending[header] = nil
            if ok { remember(header, now: DispatchTime.now().uptimeNanoseconds) }
        }
        return ok ? .allowed : .denied("wrong user name or password")
    }

    /// Credentials kept now (expired ones included until they are looked up or evicted).
    public var cachedCount: Int { lock.withLock { cache.count } }

    /// Keeps a verified credential (lock held).
    private func remember(_ header: String, now: UInt64) {
        if cache[header] == nil {
            while cache.count >= cacheCapacity, orderHead < order.count {
                cache[order[orderHead]] = nil
                orderHead += 1
            }
            order.append(header)
        }
        cache[header] = now + UInt64(cacheTtlMs) * 1_000_000
        // Keys dropped on lookup (expired) leave stale entries in `order`: compact when it doubles.
        if order.count - orderHead > 2 * cacheCapacity || orderHead > cacheCapacity {
            var seen = Set<String>()
            order = order[orderHead...].filter { cache[$0] != nil && seen.insert($0).inserted }
            orderHead = 0
        }
    }

    /// The user and password of an `Authorization: Basic …` header value, or nil when it is not one.
    public static func basicCredentials(_ header: String) -> (user: String, password: String)? {
        guard header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
        guard let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
