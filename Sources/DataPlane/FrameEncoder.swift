import Engine

/// Writes siddhi-io-tcp frames with siddhi-map-binary payloads (docs/protocol.md): what Siddhi's
/// TCP sink sends, and what `tandem send` and (later) Tandem's tcp sink send.
///
/// The binary map has no null marker: a null string is sent as length 0 (which Siddhi and Tandem
/// decode back to null), a null number or bool as zero / false.
public struct FrameEncoder: Sendable {
    /// Identifies the publisher; Siddhi sends `<uuid>-<host>:<port>`. Receivers ignore it.
    public var sessionId: String

    public init(sessionId: String = "tandem") { self.sessionId = sessionId }

    /// Bytes of the frame `append(batch:rows:channel:ack:to:)` writes.
    public func frameBytes(batch: EventBatch, rows range: Range<Int>? = nil, channel: String, acked: Bool = false) -> Int {
        FrameDecoder.headerBytes + messageSize(payloadBytes: payloadBytes(batch, range ?? 0..<batch.count), channel: channel)
            + (acked ? FrameDecoder.ackedFieldsBytes : 0)
    }

    /// Bytes of an acknowledgement the node sends back: 0x41 ('A'), uint64 publisher id, uint64 batch
    /// sequence number (cumulative: every batch of that publisher up to it was accepted).
    public static let ackBytes = 17
    /// First byte of an acknowledgement.
    public static let ackByte: UInt8 = 0x41

    /// Writes an acknowledgement into `out` (at least `ackBytes` long).
    public static func encodeAck(publisherId: UInt64, batchSeq: UInt64, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= ackBytes)
        out[0] = ackByte
        out.storeBytes(of: publisherId.bigEndian, toByteOffset: 1, as: UInt64.self)
        out.storeBytes(of: batchSeq.bigEndian, toByteOffset: 9, as: UInt64.self)
    }

    /// Reads an acknowledgement from the first `ackBytes` of `bytes`; nil when it does not start with 0x41.
    public static func decodeAck(_ bytes: UnsafeRawBufferPointer) -> (publisherId: UInt64, batchSeq: UInt64)? {
        guard bytes.count >= ackBytes, bytes[0] == ackByte else { return nil }
        return (UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 1, as: UInt64.self)),
                UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 9, as: UInt64.self)))
    }

    // MARK: Keepalive (docs/protocol.md, "Knowing the node is there")

    /// First byte of a keepalive ('K'): uint64 publisher id, uint32 the node's keepalive interval in
    /// ms, uint32 the HA lease in ms (0: standalone or unknown). `ackBytes` long, like every record the
    /// node sends.
    public static let keepaliveByte: UInt8 = 0x4B
    /// First byte of a not-active notice ('N'): uint64 publisher id, uint32 reason, uint32 0. The node
    /// closes the connection after it.
    public static let notActiveByte: UInt8 = 0x4E
    /// Hello flag: the publisher reads keepalive and not-active records.
    public static let helloKeepaliveFlag: UInt32 = 1
    /// Version written in a hello's payload.
    public static let helloVersion: UInt32 = 1

    /// Why a node says it no longer serves a connection.
    public struct NotActiveReason: RawRepresentable, Sendable, Equatable, CustomStringConvertible {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// The node stopped serving the port: demoted to passive, app undeployed, node stopping.
        public static let stopping = NotActiveReason(rawValue: 1)
        /// A newer connection with the same publisher id took over.
        public static let superseded = NotActiveReason(rawValue: 2)
        public var description: String {
            switch self {
            case .stopping: "stopping"
            case .superseded: "superseded by a newer connection of this publisher id"
            default: "reason \(rawValue)"
            }
        }
    }

    /// One record a node sends on an acknowledged-framing connection; each is `ackBytes` long.
    public enum NodeRecord: Sendable, Equatable {
        /// Every batch of the publisher up to `batchSeq` was accepted.
        case ack(publisherId: UInt64, batchSeq: UInt64)
        /// The node is serving; the next record comes within `intervalMs` (hello opt-in only).
        case keepalive(publisherId: UInt64, intervalMs: UInt32, leaseMs: UInt32)
        /// The node no longer serves this connection and closes it (hello opt-in only).
        case notActive(publisherId: UInt64, reason: NotActiveReason)
    }

    /// Writes `record` into `out` (at least `ackBytes` long).
    public static func encode(_ record: NodeRecord, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= ackBytes)
        switch record {
        case .ack(let publisherId, let batchSeq):
            encodeAck(publisherId: publisherId, batchSeq: batchSeq, into: out)
        case .keepalive(let publisherId, let intervalMs, let leaseMs):
            out[0] = keepaliveByte
            out.storeBytes(of: publisherId.bigEndian, toByteOffset: 1, as: UInt64.self)
            out.storeBytes(of: intervalMs.bigEndian, toByteOffset: 9, as: UInt32.self)
            out.storeBytes(of: leaseMs.bigEndian, toByteOffset: 13, as: UInt32.self)
        case .notActive(let publisherId, let reason):
            out[0] = notActiveByte
            out.storeBytes(of: publisherId.bigEndian, toByteOffset: 1, as: UInt64.self)
            out.storeBytes(of: reason.rawValue.bigEndian, toByteOffset: 9, as: UInt32.self)
            out.storeBytes(of: UInt32(0), toByteOffset: 13, as: UInt32.self)
        }
    }

    /// Reads the record in the first `ackBytes` of `bytes`; nil for an unknown first byte.
    public static func decodeRecord(_ bytes: UnsafeRawBufferPointer) -> NodeRecord? {
        guard bytes.count >= ackBytes else { return nil }
        let publisherId = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 1, as: UInt64.self))
        let high = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 9, as: UInt32.self))
        let low = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 13, as: UInt32.self))
        switch bytes[0] {
        case ackByte: return .ack(publisherId: publisherId, batchSeq: UInt64(high) << 32 | UInt64(low))
        case keepaliveByte: return .keepalive(publisherId: publisherId, intervalMs: high, leaseMs: low)
        case notActiveByte: return .notActive(publisherId: publisherId, reason: NotActiveReason(rawValue: high))
        default: return nil
        }
    }

    /// A hello: the acknowledged frame with batchSeq 0 a publisher sends first on a connection, with
    /// empty session and channel ids and an 8-byte payload (uint32 version, uint32 flags). Nodes that
    /// predate it treat batchSeq 0 as a batch already accepted and acknowledge `(publisherId, 0)`.
    public static func helloFrame(publisherId: UInt64, flags: UInt32 = helloKeepaliveFlag) -> [UInt8] {
        var out: [UInt8] = [FrameDecoder.ackedProtocolByte]
        out.reserveCapacity(FrameDecoder.headerBytes + helloMessageBytes)
        out.appendBigEndian(UInt32(helloMessageBytes))
        out.appendBigEndian(publisherId)
        out.appendBigEndian(UInt64(0))
        out.appendBigEndian(UInt32(0))  // sessionId
        out.appendBigEndian(UInt32(0))  // channelId
        out.appendBigEndian(UInt32(8))  // payload
        out.appendBigEndian(helloVersion)
        out.appendBigEndian(flags)
        return out
    }

    /// messageSize of a hello: publisher id, batchSeq, three lengths, 8 payload bytes.
    static let helloMessageBytes = FrameDecoder.ackedFieldsBytes + 12 + 8

    /// Appends one frame holding rows `range` (default: all) of `batch` on `channel` to `out`.
    ///
    /// With `ack` the frame uses Tandem's acknowledged framing (protocol byte 0x54, then the publisher
    /// id and batch sequence number; docs/protocol.md), otherwise siddhi-io-tcp's (0x02).
    public func append(batch: EventBatch, rows range: Range<Int>? = nil, channel: String,
                       ack: (publisherId: UInt64, batchSeq: UInt64)? = nil, to out: inout [UInt8]) {
        let rows = range ?? 0..<batch.count
        precondition(rows.lowerBound >= 0 && rows.upperBound <= batch.count, "rows out of range")
        precondition(rows.count <= Int(Int32.max))
        let payload = payloadBytes(batch, rows)
        let size = messageSize(payloadBytes: payload, channel: channel) + (ack == nil ? 0 : FrameDecoder.ackedFieldsBytes)
        precondition(size <= Int(Int32.max), "frame larger than an int32 messageSize can describe; send fewer rows")
        let start = out.count
        out.reserveCapacity(start + FrameDecoder.headerBytes + size)
        out.append(ack == nil ? FrameDecoder.protocolByte : FrameDecoder.ackedProtocolByte)
        out.appendBigEndian(UInt32(size))
        if let ack {
            out.appendBigEndian(ack.publisherId)
            out.appendBigEndian(ack.batchSeq)
        }
        var session = sessionId, channel = channel
        session.withUTF8 { bytes in
            out.appendBigEndian(UInt32(bytes.count))
            out.append(contentsOf: bytes)
        }
        channel.withUTF8 { bytes in
            out.appendBigEndian(UInt32(bytes.count))
            out.append(contentsOf: bytes)
        }
        out.appendBigEndian(UInt32(payload))
        out.appendBigEndian(UInt32(rows.count))
        let types = batch.schema.attributes.map(\.type)
        for row in rows {
            out.appendBigEndian(UInt64(bitPattern: batch.timestamps[row]))
            for c in types.indices {
                let isNull = batch.isNull(c, row)
                switch types[c] {
                case .int: out.appendBigEndian(isNull ? 0 : UInt32(truncatingIfNeeded: batch.int64(c, row)))
                case .long: out.appendBigEndian(isNull ? 0 : UInt64(bitPattern: batch.int64(c, row)))
                case .float: out.appendBigEndian(isNull ? 0 : Float(batch.double(c, row)).bitPattern)
                case .double: out.appendBigEndian(isNull ? 0 : batch.double(c, row).bitPattern)
                case .bool: out.append(!isNull && batch.bool(c, row) ? 1 : 0)
                case .string, .object:
                    if isNull {
                        out.appendBigEndian(UInt32(0))
                    } else {
                        batch.withStringBytes(c, row) { bytes in
                            out.appendBigEndian(UInt32(bytes.count))
                            out.append(contentsOf: bytes)
                        }
                    }
                }
            }
        }
        assert(out.count - start == FrameDecoder.headerBytes + size, "frame size accounting is off")
    }

    /// Appends one frame of boxed rows (cold path: tests, tools). Values convert as `EventBatch.set`
    /// does; returns false (appending nothing) when a value does not fit its attribute's type.
    @discardableResult
    public func append(schema: StreamSchema, rows: [(timestamp: Int64, values: [Value])], channel: String, to out: inout [UInt8]) -> Bool {
        var batch = EventBatch(schema: schema, capacity: rows.count)
        for row in rows where !batch.append(timestamp: row.timestamp, values: row.values) { return false }
        append(batch: batch, channel: channel, to: &out)
        return true
    }

    private func messageSize(payloadBytes: Int, channel: String) -> Int {
        4 + sessionId.utf8.count + 4 + channel.utf8.count + 4 + payloadBytes
    }

    /// int32 event count, then per event an int64 timestamp and the attributes.
    private func payloadBytes(_ batch: EventBatch, _ rows: Range<Int>) -> Int {
        var fixed = 8
        var stringColumns: [Int] = []
        for (c, a) in batch.schema.attributes.enumerated() {
            switch a.type {
            case .int, .float: fixed += 4
            case .long, .double: fixed += 8
            case .bool: fixed += 1
            case .string, .object:
                fixed += 4
                stringColumns.append(c)
            }
        }
        var bytes = 4 + fixed * rows.count
        for c in stringColumns {
            for row in rows where !batch.isNull(c, row) { bytes += batch.withStringBytes(c, row) { $0.count } }
        }
        return bytes
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
