import Engine
import NIOCore

/// One request of WSO2's binary databridge transport (`BinaryDataReceiver`).
///
/// Every message is `[type: u8][size: i32][size bytes]`, big-endian; strings are an i32 byte length
/// and UTF-8. Type 0 logs in (`[user length][password length][user][password]`), 1 logs out
/// (`[session length][session]`), 2 publishes (`[session length][session][event count]` then per
/// event `[event length][event]`, an event being `[timestamp: i64][stream id]`, its meta,
/// correlation and payload values in the stream's types, then arbitrary `[key][value]` string pairs
/// up to its end).
enum BinaryDatabridgeRequest {
    case login(user: String, password: String)
    case logout(sessionId: String)
    /// The events are not decoded yet: the session is checked first.
    case publish(sessionId: String, events: ByteBuffer, eventCount: Int)
}

/// Encoding and decoding of the binary databridge transport (see `BinaryDatabridgeRequest`).
enum BinaryDatabridgeCodec {
    static let typeLogin: UInt8 = 0, typeLogout: UInt8 = 1, typePublish: UInt8 = 2
    /// Reply types: 0 done, 1 error (`[class length][message length][class][message]`), 2 logged in
    /// (`[session length][session]`).
    static let replyOK: UInt8 = 0, replyError: UInt8 = 1, replyLogin: UInt8 = 2

    /// Takes one whole message off the front of `buffer`; nil while it is incomplete. Throws for a
    /// type the transport does not have or a size over `maxMessageBytes` (the connection closes: the
    /// stream can not be resynchronised).
    static func nextMessage(_ buffer: inout ByteBuffer, maxMessageBytes: Int) throws(DatabridgeError) -> BinaryDatabridgeRequest? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let size = buffer.getInteger(at: buffer.readerIndex + 1, as: Int32.self) else { return nil }
        guard type <= typePublish else { throw .malformed("binary databridge message type \(type) is unknown (0 login, 1 logout, 2 publish)") }
        guard size >= 0, Int(size) <= maxMessageBytes else {
            throw .malformed("binary databridge message of \(size) bytes is over the limit of \(maxMessageBytes) bytes")
        }
        guard buffer.readableBytes >= 5 + Int(size) else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        var body = buffer.readSlice(length: Int(size))!
        return try parse(type: type, body: &body)
    }

    private static func parse(type: UInt8, body: inout ByteBuffer) throws(DatabridgeError) -> BinaryDatabridgeRequest {
        switch type {
        case typeLogin:
            guard let userLength = body.readInteger(as: Int32.self), let passwordLength = body.readInteger(as: Int32.self),
                  userLength >= 0, passwordLength >= 0, let user = body.readString(length: Int(userLength)),
                  let password = body.readString(length: Int(passwordLength)) else {
                throw .malformed("login message is not [user length][password length][user][password]")
            }
            return .login(user: user, password: password)
        case typeLogout:
            return .logout(sessionId: try sessionId(&body, "logout"))
        default:
            let session = try sessionId(&body, "publish")
            guard let count = body.readInteger(as: Int32.self), count >= 0 else {
                throw .malformed("publish message has no event count after the session id")
            }
            return .publish(sessionId: session, events: body, eventCount: Int(count))
        }
    }

    private static func sessionId(_ body: inout ByteBuffer, _ what: String) throws(DatabridgeError) -> String {
        guard let length = body.readInteger(as: Int32.self), length >= 0, let id = body.readString(length: Int(length)) else {
            throw .malformed("\(what) message does not start with [session id length][session id]")
        }
        return id
    }

    /// Decodes a publish request's events into `bundle`. All or nothing is the caller's (a thrown
    /// bundle is dropped). The first unknown stream id or bad event throws, naming the event.
    static func decodeEvents(_ events: ByteBuffer, count: Int, lookup: WSO2StreamLookup, into bundle: inout WSO2EventBundle) throws(DatabridgeError) {
        var buffer = events
        var lastId: ByteBuffer?
        var lastStream: WSO2EventStream?
        for e in 0..<count {
            guard let size = buffer.readInteger(as: Int32.self), size >= 0, var event = buffer.readSlice(length: Int(size)) else {
                throw .malformed("event \(e) of \(count): the bundle ends before it (or its length is negative)")
            }
            guard let timestamp = event.readInteger(as: Int64.self), let idLength = event.readInteger(as: Int32.self),
                  idLength >= 0, let id = event.readSlice(length: Int(idLength)) else {
                throw .malformed("event \(e) of \(count): no [timestamp][stream id] at its start")
            }
            // Bundles usually carry one stream: compare bytes before building a String.
            let stream: WSO2EventStream
            if let lastStream, let lastId, lastId == id {
                stream = lastStream
            } else {
                let name = String(buffer: id)
                guard let found = lookup(name) else {
                    throw .undefinedStream("event \(e) of \(count): no open @source(type='wso2event') takes stream id '\(name)' on this node")
                }
                stream = found
                lastStream = found
                lastId = id
            }
            let part = bundle.part(for: stream)
            let row = bundle.appendRow(part: part, timestamp: timestamp)
            let failure: String? = bundle.withBatch(part) { batch in
                for (w, type) in stream.wireTypes.enumerated() {
                    let c = stream.wireColumns[w]
                    switch type {
                    case .int:
                        guard let v = event.readInteger(as: Int32.self) else { return "int" }
                        batch.setInt64(c, row, Int64(v))
                    case .long:
                        guard let v = event.readInteger(as: Int64.self) else { return "long" }
                        batch.setInt64(c, row, v)
                    case .float:
                        guard let v = event.readInteger(as: UInt32.self) else { return "float" }
                        batch.setDouble(c, row, Double(Float(bitPattern: v)))
                    case .double:
                        guard let v = event.readInteger(as: UInt64.self) else { return "double" }
                        batch.setDouble(c, row, Double(bitPattern: v))
                    case .bool:
                        guard let v = event.readInteger(as: UInt8.self) else { return "bool" }
                        batch.setBool(c, row, v == 1)
                    case .string, .object:
                        guard let n = event.readInteger(as: Int32.self), n >= 0, let bytes = event.readSlice(length: Int(n)) else { return "string" }
                        // WSO2's converter reads a zero length as null.
                        if n == 0 {
                            batch.setNull(c, row)
                        } else {
                            bytes.withUnsafeReadableBytes { batch.setString(c, row, utf8: $0) }
                        }
                    }
                }
                return nil
            }
            if let failure {
                throw .malformed("event \(e) of \(count) for '\(stream.streamId)': it ends before its \(failure) attribute (expected \(stream.wireTypes.map(\.description).joined(separator: ", ")))")
            }
            // The rest are arbitrary-data pairs, which Tandem does not map; they must still be whole.
            while event.readableBytes > 0 {
                guard let k = event.readInteger(as: Int32.self), k >= 0, event.readSlice(length: Int(k)) != nil,
                      let v = event.readInteger(as: Int32.self), v >= 0, event.readSlice(length: Int(v)) != nil else {
                    throw .malformed("event \(e) of \(count) for '\(stream.streamId)': \(event.readableBytes) bytes after its attributes are not [key][value] string pairs")
                }
            }
        }
        guard buffer.readableBytes == 0 else {
            throw .malformed("the bundle has \(buffer.readableBytes) bytes after its \(count) events")
        }
    }

    static func okReply() -> ByteBuffer { ByteBuffer(bytes: [replyOK]) }

    static func loginReply(sessionId: String) -> ByteBuffer {
        var out = ByteBuffer()
        out.writeInteger(replyLogin)
        out.writeInteger(Int32(sessionId.utf8.count))
        out.writeString(sessionId)
        return out
    }

    static func errorReply(_ error: DatabridgeError) -> ByteBuffer {
        var out = ByteBuffer()
        let name = error.javaClassName, message = error.description
        out.writeInteger(replyError)
        out.writeInteger(Int32(name.utf8.count))
        out.writeInteger(Int32(message.utf8.count))
        out.writeString(name)
        out.writeString(message)
        return out
    }
}
