import AsyncHTTPClient
import Foundation
import NIOCore

/// `tandem health`: asks a node's `/health` (an ECS container `healthCheck` command). Certificates
/// are not verified: the probe talks to its own node, usually over loopback with a self-signed one.
public enum HealthProbe {
    public static let defaultURL = "http://127.0.0.1:\(ApiConfig.defaultPort)/health"

    /// The node's own `/health` URL from its configuration (loopback when it listens on every interface).
    public static func url(for api: ApiConfig) -> String {
        let host = api.host == "0.0.0.0" || api.host == "::" || api.host == "*" ? "127.0.0.1" : api.host
        let shown = host.contains(":") ? "[\(host)]" : host
        return "\(api.tls ? "https" : "http")://\(shown):\(api.port)/health"
    }

    /// GETs `url`; `ok` only on HTTP 200. `summary` is the body (or why there is none).
    public static func check(url: String, timeoutMs: Int) async -> (ok: Bool, summary: String) {
        var configuration = HTTPClient.Configuration(certificateVerification: .none)
        configuration.timeout = .init(connect: .milliseconds(Int64(timeoutMs)), read: .milliseconds(Int64(timeoutMs)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { _ = client.shutdown() }
        do {
            let request = HTTPClientRequest(url: url)
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeoutMs)))
            let body = try await response.body.collect(upTo: 1 << 20)
            return (response.status.code == 200, "\(response.status.code) \(String(buffer: body))")
        } catch {
            return (false, "\(url): \(error)")
        }
    }
}
