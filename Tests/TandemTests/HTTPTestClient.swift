import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Real HTTP requests to a node under test (AsyncHTTPClient; certificates not verified).
enum HTTPTestClient {
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(certificateVerification: .none)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(40))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    struct Reply {
        var status: Int
        var body: String
        var headers: HTTPHeaders
        /// The body as a JSON object or array.
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
    }

    static func send(_ method: HTTPMethod, _ url: String, body: [UInt8]? = nil, user: String? = nil, password: String? = nil,
                     contentType: String = "text/plain") async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let user, let password {
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
        }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await client.execute(request, timeout: .seconds(45))
        let collected = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), body: String(buffer: collected), headers: response.headers)
    }

    static func send(_ method: HTTPMethod, _ url: String, text: String, user: String? = nil, password: String? = nil) async throws -> Reply {
        try await send(method, url, body: Array(text.utf8), user: user, password: password)
    }

    /// Polls `url` until `predicate` holds for a reply (or the deadline passes); returns the last reply.
    static func poll(_ url: String, timeoutSec: Double, user: String? = nil, password: String? = nil,
                     until predicate: (Reply) -> Bool) async -> Reply? {
        let deadline = Date().addingTimeInterval(timeoutSec)
        var last: Reply?
        while Date() < deadline {
            last = try? await send(.GET, url, user: user, password: password)
            if let last, predicate(last) { return last }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return last
    }
}
