import Foundation
import Hummingbird

/// JSON responses of the API: SI's `{"type": …, "message": …}` shape for app operations.
enum ApiJSON {
    /// SI's answer to an app operation.
    struct Message: Codable {
        var type: String
        var message: String
        var errors: [String]?
        var revision: String?
        var activeNode: String?
        var warning: String?
    }

    static func encode<T: Encodable>(_ value: T) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }

    static func response<T: Encodable>(_ status: Int, _ value: T, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return Response(status: HTTPResponse.Status(code: status), headers: fields, body: .init(byteBuffer: encode(value)))
    }

    static func success(_ message: String, status: Int = 200, revision: String? = nil, warning: String? = nil) -> Response {
        response(status, Message(type: "success", message: message, revision: revision, warning: warning))
    }

    static func failure(_ failure: ApiFailure) -> Response {
        let type = failure.status == 400 ? "validation error" : "error"
        return response(failure.status, Message(type: type, message: failure.message, errors: failure.details.isEmpty ? nil : failure.details,
                                                activeNode: failure.activeNode))
    }

    static func unauthorized(_ message: String) -> Response {
        response(401, Message(type: "error", message: message), headers: [.wwwAuthenticate: "Basic realm=\"tandem\""])
    }

    static func text(_ status: Int, _ body: String, contentType: String) -> Response {
        Response(status: HTTPResponse.Status(code: status), headers: [.contentType: contentType, .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
