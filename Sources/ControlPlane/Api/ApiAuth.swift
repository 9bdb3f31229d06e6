import Foundation
import Hummingbird
import HummingbirdBcrypt

/// Who may call the authenticated endpoints: `tandem.api.auth.users` (bcrypt hashes) plus the user
/// `TANDEM_ADMIN_USER` / `TANDEM_ADMIN_PASSWORD` from the environment (the way ECS passes a
/// secret), whose password is hashed at start and not kept.
struct ApiUsers: Sendable {
    /// Cost of the hash made for the environment's user (about 60 ms per check on one core).
    static let environmentHashCost: UInt8 = 10
    let hashes: [String: String]

    init(config: ApiConfig, environment: [String: String]) {
        var hashes: [String: String] = [:]
        for user in config.users { hashes[user.username] = user.passwordHash }
        if let name = environment["TANDEM_ADMIN_USER"], !name.isEmpty,
           let password = environment["TANDEM_ADMIN_PASSWORD"], !password.isEmpty {
            hashes[name] = Bcrypt.hash(password, cost: ApiUsers.environmentHashCost)
        }
        self.hashes = hashes
    }

    var isEmpty: Bool { hashes.isEmpty }

    /// Whether `password` is `user`'s (bcrypt runs on a dispatch queue, off the server's event loops).
    func verify(user: String, password: String) async -> Bool {
        guard let hash = hashes[user] else { return false }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Bcrypt.verify(password, hash: hash)) }
        }
    }

    /// The user and password of an `Authorization: Basic …` header, or nil when it is not one.
    static func basicCredentials(_ header: String?) -> (user: String, password: String)? {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
        guard let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}

/// Basic authentication in front of the app-management API. Without a configured user every
/// request is refused (401) with a message saying how to define one; with `auth.enabled: false`
/// everything passes.
struct BasicAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let users: ApiUsers
    let enabled: Bool

    static var noUserMessage: String {
        "no API user is configured: set TANDEM_ADMIN_USER and TANDEM_ADMIN_PASSWORD in the environment, or tandem.api.auth.users in deployment.yaml (docs/rest.md)"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard enabled else { return try await next(request, context) }
        guard !users.isEmpty else { return ApiJSON.unauthorized(BasicAuthMiddleware.noUserMessage) }
        guard let (user, password) = ApiUsers.basicCredentials(request.headers[.authorization]) else {
            return ApiJSON.unauthorized("authentication required (HTTP basic)")
        }
        guard await users.verify(user: user, password: password) else {
            return ApiJSON.unauthorized("wrong user name or password")
        }
        return try await next(request, context)
    }
}

/// `tandem hash-password`: the bcrypt hashes `tandem.api.auth.users[].passwordHash` takes.
public enum PasswordHashing {
    public static let defaultCost: UInt8 = 12

    /// A bcrypt hash of `password` (cost 4…31).
    public static func hash(_ password: String, cost: UInt8 = defaultCost) -> String {
        Bcrypt.hash(password, cost: cost)
    }

    public static func verify(_ password: String, hash: String) -> Bool {
        Bcrypt.verify(password, hash: hash)
    }
}
