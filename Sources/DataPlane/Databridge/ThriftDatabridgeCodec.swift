import Engine
import NIOCore

/// A `ThriftEventBundle` (WSO2's Data.thrift) as read off the wire: per-type value lists that the
/// events consume in order (stream id and timestamp first, then meta, correlation and payload
/// values; floats travel as doubles, a null string as `_null`).
struct ThriftEventBundle {
    var sessionId: String?
    var eventNum: Int32 = 0
    var ints: [Int32] = []
    var longs: [Int64] = []
    var doubles: [Double] = []
    var bools: [Bool] = []
    /// Slices of the request, so no String is built per value.
    var strings: [ByteBuffer] = []
}

/// One call of `ThriftSecureEventTransmissionService` or `ThriftEventTransmissionService` (WSO2's
/// IDL; the second is the first without connect/disconnect, so one dispatcher serves both).
enum ThriftDatabridgeCall {
    case connect(user: String, password: String)
    case disconnect(sessionId: String)
    case publish(ThriftEventBundle)
    case findStreamId(sessionId: String, name: String, version: String)
    case defineStream(sessionId: String, definition: String)
    case deleteStreamById(sessionId: String)
    case deleteStreamByNameVersion(sessionId: String)
    case unknown
}

/// A call with what its reply needs.
struct ThriftDatabridgeMessage {
    var name: String
    var seqId: Int32
    var oneway: Bool
    var call: ThriftDatabridgeCall
}

/// Apache Thrift's binary protocol (TBinaryProtocol, unframed, as WSO2's `TThreadPoolServer` serves
/// it) for the databridge services: just the calls and structs those services have.
enum ThriftDatabridgeCodec {
    enum ReadError: Error { case incomplete, malformed(String) }

    // Thrift type ids.
    static let tStop: UInt8 = 0, tBool: UInt8 = 2, tByte: UInt8 = 3, tDouble: UInt8 = 4, tI16: UInt8 = 6, tI32: UInt8 = 8,
               tI64: UInt8 = 10, tString: UInt8 = 11, tStruct: UInt8 = 12, tMap: UInt8 = 13, tSet: UInt8 = 14, tList: UInt8 = 15
    static let messageCall: UInt8 = 1, messageReply: UInt8 = 2, messageException: UInt8 = 3, messageOneway: UInt8 = 4
    static let versionMask: UInt32 = 0xffff_0000, version1: UInt32 = 0x8001_0000
    /// TApplicationException types.
    static let unknownMethod: Int32 = 1, internalError: Int32 = 6, protocolError: Int32 = 7
    /// Nesting deeper than this in a skipped value is refused (a hostile peer could recurse forever).
    static let depthMax = 16

    /// Reads one whole call off the front of `buffer`; nil while it is incomplete (the buffer is left
    /// as it was). Throws `.malformed` for bytes that are not a Thrift call (the connection closes:
    /// an unframed stream cannot be resynchronised). `maxMessageBytes` bounds any one string or list.
    static func nextMessage(_ buffer: inout ByteBuffer, maxMessageBytes: Int) throws(ReadError) -> ThriftDatabridgeMessage? {
        var reader = buffer
        do throws(ReadError) {
            let message = try readMessage(&reader, limit: maxMessageBytes)
            // A whole call counts against the limit too, not only each string and list in it.
            let used = buffer.readableBytes - reader.readableBytes
            guard used <= maxMessageBytes else { throw .malformed("a Thrift call of \(used) bytes is over the limit of \(maxMessageBytes) bytes") }
            buffer = reader
            return message
        } catch .incomplete {
            if buffer.readableBytes > maxMessageBytes {
                throw .malformed("a Thrift call over the limit of \(maxMessageBytes) bytes")
            }
            return nil
        }
    }

    /// The call's header: its method name, message type and sequence id.
    private static func readHeader(_ r: inout ByteBuffer, limit: Int) throws(ReadError) -> (name: String, type: UInt8, seqId: Int32) {
        let first = try int32(&r)
        let name: String, type: UInt8, seqId: Int32
        if first < 0 {
            guard UInt32(bitPattern: first) & versionMask == version1 else {
                throw .malformed("bad Thrift protocol version \(String(UInt32(bitPattern: first), radix: 16)): TBinaryProtocol expected")
            }
            type = UInt8(truncatingIfNeeded: first)
            name = try string(&r, limit: limit)
            seqId = try int32(&r)
        } else {
            // Old non-strict header: the name's length first.
            guard Int(first) <= 256 else { throw .malformed("not a Thrift call (method name of \(first) bytes)") }
            name = try fixedString(&r, length: Int(first))
            type = try byte(&r)
            seqId = try int32(&r)
        }
        guard type == messageCall || type == messageOneway else {
            throw .malformed("Thrift message type \(type) where a call (1) or oneway (4) was expected")
        }
        return (name, type, seqId)
    }

    private static func readMessage(_ r: inout ByteBuffer, limit: Int) throws(ReadError) -> ThriftDatabridgeMessage {
        // Whether the call is whole is checked first by skipping over it, which builds nothing: a
        // large call arriving in many reads is walked once per read, not decoded once per read.
        var probe = r
        _ = try readHeader(&probe, limit: limit)
        try skip(&probe, tStruct, limit: limit, depth: 0)
        let (name, type, seqId) = try readHeader(&r, limit: limit)
        let call: ThriftDatabridgeCall
        switch name {
        case "publish":
            var bundle = ThriftEventBundle()
            try readStruct(&r, limit: limit) { (r: inout ByteBuffer, id: Int16, type: UInt8) throws(ReadError) -> Bool in
                guard id == 1, type == tStruct else { return false }
                bundle = try readBundle(&r, limit: limit)
                return true
            }
            call = .publish(bundle)
        default:
            var strings: [Int16: String] = [:]
            try readStruct(&r, limit: limit) { (r: inout ByteBuffer, id: Int16, type: UInt8) throws(ReadError) -> Bool in
                guard type == tString else { return false }
                strings[id] = try string(&r, limit: limit)
                return true
            }
            let s = { (id: Int16) in strings[id] ?? "" }
            switch name {
            case "connect": call = .connect(user: s(1), password: s(2))
            case "disconnect": call = .disconnect(sessionId: s(1))
            case "findStreamId": call = .findStreamId(sessionId: s(1), name: s(2), version: s(3))
            case "defineStream": call = .defineStream(sessionId: s(1), definition: s(2))
            case "deleteStreamById": call = .deleteStreamById(sessionId: s(1))
            case "deleteStreamByNameVersion": call = .deleteStreamByNameVersion(sessionId: s(1))
            default: call = .unknown
            }
        }
        return ThriftDatabridgeMessage(name: name, seqId: seqId, oneway: type == messageOneway, call: call)
    }

    private static func readBundle(_ r: inout ByteBuffer, limit: Int) throws(ReadError) -> ThriftEventBundle {
        var b = ThriftEventBundle()
        try readStruct(&r, limit: limit) { (r: inout ByteBuffer, id: Int16, type: UInt8) throws(ReadError) -> Bool in
            switch (id, type) {
            case (1, tString): b.sessionId = try string(&r, limit: limit)
            case (2, tI32): b.eventNum = try int32(&r)
            case (3, tList): b.ints = try list(&r, tI32, limit: limit) { (r: inout ByteBuffer) throws(ReadError) in try int32(&r) }
            case (4, tList): b.longs = try list(&r, tI64, limit: limit) { (r: inout ByteBuffer) throws(ReadError) in try int64(&r) }
            case (5, tList): b.doubles = try list(&r, tDouble, limit: limit) { (r: inout ByteBuffer) throws(ReadError) in Double(bitPattern: UInt64(bitPattern: try int64(&r))) }
            case (6, tList): b.bools = try list(&r, tBool, limit: limit) { (r: inout ByteBuffer) throws(ReadError) in try byte(&r) != 0 }
            case (7, tList): b.strings = try list(&r, tString, limit: limit) { (r: inout ByteBuffer) throws(ReadError) in try stringSlice(&r, limit: limit) }
            default: return false  // arbitraryDataMapMap (8) and anything newer: skipped
            }
            return true
        }
        return b
    }

    /// Reads a struct's fields up to its stop; `field` reads the ones it knows (returns false to skip).
    private static func readStruct(_ r: inout ByteBuffer, limit: Int,
                                   _ field: (inout ByteBuffer, Int16, UInt8) throws(ReadError) -> Bool) throws(ReadError) {
        while true {
            let type = try byte(&r)
            if type == tStop { return }
            guard let id = r.readInteger(as: Int16.self) else { throw .incomplete }
            if try !field(&r, id, type) { try skip(&r, type, limit: limit, depth: 0) }
        }
    }

    private static func list<T>(_ r: inout ByteBuffer, _ elementType: UInt8, limit: Int,
                                _ element: (inout ByteBuffer) throws(ReadError) -> T) throws(ReadError) -> [T] {
        let type = try byte(&r)
        let count = try int32(&r)
        guard type == elementType else { throw .malformed("a bundle list of Thrift type \(type) where \(elementType) was expected") }
        guard count >= 0, Int(count) <= limit else { throw .malformed("a bundle list of \(count) elements") }
        // Each element takes at least a byte: a count the bytes cannot hold waits for more (bounded by the limit).
        guard Int(count) <= r.readableBytes else { throw .incomplete }
        var out: [T] = []
        out.reserveCapacity(Int(count))
        for _ in 0..<count { out.append(try element(&r)) }
        return out
    }

    private static func skip(_ r: inout ByteBuffer, _ type: UInt8, limit: Int, depth: Int) throws(ReadError) {
        guard depth < depthMax else { throw .malformed("Thrift values nested more than \(depthMax) deep") }
        func need(_ n: Int) throws(ReadError) { guard r.readableBytes >= n else { throw .incomplete }; r.moveReaderIndex(forwardBy: n) }
        switch type {
        case tBool, tByte: try need(1)
        case tI16: try need(2)
        case tI32: try need(4)
        case tDouble, tI64: try need(8)
        case tString: _ = try stringSlice(&r, limit: limit)
        case tStruct:
            while true {
                let t = try byte(&r)
                if t == tStop { return }
                try need(2)
                try skip(&r, t, limit: limit, depth: depth + 1)
            }
        case tMap:
            let k = try byte(&r), v = try byte(&r), n = try int32(&r)
            guard n >= 0, Int(n) <= limit else { throw .malformed("a Thrift map of \(n) entries") }
            for _ in 0..<n { try skip(&r, k, limit: limit, depth: depth + 1); try skip(&r, v, limit: limit, depth: depth + 1) }
        case tSet, tList:
            let e = try byte(&r), n = try int32(&r)
            guard n >= 0, Int(n) <= limit else { throw .malformed("a Thrift list of \(n) elements") }
            let width: Int? = switch e {
            case tBool, tByte: 1
            case tI16: 2
            case tI32: 4
            case tDouble, tI64: 8
            default: nil
            }
            if let width {
                try need(Int(n) * width)  // fixed-width elements: one step
            } else {
                for _ in 0..<n { try skip(&r, e, limit: limit, depth: depth + 1) }
            }
        default: throw .malformed("unknown Thrift type \(type)")
        }
    }

    private static func byte(_ r: inout ByteBuffer) throws(ReadError) -> UInt8 {
        guard let v = r.readInteger(as: UInt8.self) else { throw .incomplete }
        return v
    }
    private static func int32(_ r: inout ByteBuffer) throws(ReadError) -> Int32 {
        guard let v = r.readInteger(as: Int32.self) else { throw .incomplete }
        return v
    }
    private static func int64(_ r: inout ByteBuffer) throws(ReadError) -> Int64 {
        guard let v = r.readInteger(as: Int64.self) else { throw .incomplete }
        return v
    }
    private static func stringSlice(_ r: inout ByteBuffer, limit: Int) throws(ReadError) -> ByteBuffer {
        let n = try int32(&r)
        guard n >= 0, Int(n) <= limit else { throw .malformed("a Thrift string of \(n) bytes") }
        guard let s = r.readSlice(length: Int(n)) else { throw .incomplete }
        return s
    }
    private static func string(_ r: inout ByteBuffer, limit: Int) throws(ReadError) -> String {
        String(buffer: try stringSlice(&r, limit: limit))
    }
    private static func fixedString(_ r: inout ByteBuffer, length: Int) throws(ReadError) -> String {
        guard let s = r.readString(length: length) else { throw .incomplete }
        return s
    }

    // MARK: Events

    static let nullString = "_null"

    /// Decodes a bundle's events into `bundle` (all or nothing is the caller's: a thrown bundle is
    /// dropped). Every list must be used up exactly.
    static func decodeEvents(_ b: ThriftEventBundle, lookup: WSO2StreamLookup, into bundle: inout WSO2EventBundle) throws(DatabridgeError) {
        var i = 0, l = 0, d = 0, o = 0, s = 0
        let count = Int(b.eventNum)
        guard count >= 0 else { throw .malformed("eventNum \(count) is negative") }
        var lastId: ByteBuffer?
        var lastStream: WSO2EventStream?
        let null = ByteBuffer(string: nullString)
        for e in 0..<count {
            guard s < b.strings.count, l < b.longs.count else {
                throw .malformed("event \(e) of \(count): the bundle's lists end before its stream id and timestamp")
            }
            let id = b.strings[s]; s += 1
            let timestamp = b.longs[l]; l += 1
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
            let short: String? = bundle.withBatch(part) { batch in
                for (w, type) in stream.wireTypes.enumerated() {
                    let c = stream.wireColumns[w]
                    switch type {
                    case .int:
                        guard i < b.ints.count else { return "int" }
                        batch.setInt64(c, row, Int64(b.ints[i])); i += 1
                    case .long:
                        guard l < b.longs.count else { return "long" }
                        batch.setInt64(c, row, b.longs[l]); l += 1
                    case .float:
                        guard d < b.doubles.count else { return "double (float)" }
                        batch.setDouble(c, row, Double(Float(b.doubles[d]))); d += 1
                    case .double:
                        guard d < b.doubles.count else { return "double" }
                        batch.setDouble(c, row, b.doubles[d]); d += 1
                    case .bool:
                        guard o < b.bools.count else { return "bool" }
                        batch.setBool(c, row, b.bools[o]); o += 1
                    case .string, .object:
                        guard s < b.strings.count else { return "string" }
                        let v = b.strings[s]; s += 1
                        if v == null {
                            batch.setNull(c, row)
                        } else {
                            v.withUnsafeReadableBytes { batch.setString(c, row, utf8: $0) }
                        }
                    }
                }
                return nil
            }
            if let short {
                throw .malformed("event \(e) of \(count) for '\(stream.streamId)': the bundle's \(short) list ends before its value (expected \(stream.wireTypes.map(\.description).joined(separator: ", ")))")
            }
        }
        let left = [("int", b.ints.count - i), ("long", b.longs.count - l), ("double", b.doubles.count - d),
                    ("bool", b.bools.count - o), ("string", b.strings.count - s)].filter { $0.1 > 0 }
        guard left.isEmpty else {
            throw .malformed("the bundle's lists hold values beyond its \(count) events (" + left.map { "\($0.1) \($0.0)" }.joined(separator: ", ") + "): eventNum or the stream's attributes differ")
        }
    }

    // MARK: Replies

    private static func begin(_ out: inout ByteBuffer, _ name: String, _ type: UInt8, _ seqId: Int32) {
        out.writeInteger(Int32(bitPattern: version1 | UInt32(type)))
        out.writeInteger(Int32(name.utf8.count))
        out.writeString(name)
        out.writeInteger(seqId)
    }

    private static func fieldString(_ out: inout ByteBuffer, _ id: Int16, _ value: String) {
        out.writeInteger(tString); out.writeInteger(id)
        out.writeInteger(Int32(value.utf8.count)); out.writeString(value)
    }

    /// A successful reply: `value` is the result (nil for void).
    enum ReplyValue { case void, string(String), bool(Bool) }

    static func reply(_ m: ThriftDatabridgeMessage, _ result: ReplyValue) -> ByteBuffer {
        var out = ByteBuffer()
        begin(&out, m.name, messageReply, m.seqId)
        switch result {
        case .void: break
        case .string(let s): fieldString(&out, 0, s)
        case .bool(let v): out.writeInteger(tBool); out.writeInteger(Int16(0)); out.writeInteger(UInt8(v ? 1 : 0))
        }
        out.writeInteger(tStop)
        return out
    }

    /// A declared exception of the IDL: field `fieldId` of the result, a struct with its message.
    static func declaredException(_ m: ThriftDatabridgeMessage, fieldId: Int16, message: String) -> ByteBuffer {
        var out = ByteBuffer()
        begin(&out, m.name, messageReply, m.seqId)
        out.writeInteger(tStruct); out.writeInteger(fieldId)
        fieldString(&out, 1, message)
        out.writeInteger(tStop)
        out.writeInteger(tStop)
        return out
    }

    /// A `TApplicationException` (unknown method, a bundle that does not decode, the node busy).
    static func applicationException(name: String, seqId: Int32, type: Int32, message: String) -> ByteBuffer {
        var out = ByteBuffer()
        begin(&out, name, messageException, seqId)
        fieldString(&out, 1, message)
        out.writeInteger(tI32); out.writeInteger(Int16(2)); out.writeInteger(type)
        out.writeInteger(tStop)
        return out
    }
}
