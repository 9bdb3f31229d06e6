import Engine
import Dispatch
import CShims  // SOCK_* constants: Glibc alone does not export them in release builds
import Glibc

/// A blocking client that publishes batches as frames (what `tandem send`, tests and later a tcp sink
/// use). One frame per batch, written with as few `send` calls as the kernel allows.
///
/// Two framings (docs/protocol.md):
/// - `.siddhi`: siddhi-io-tcp, fire and forget, what Siddhi's TCP sink sends;
/// - `.acked`: Tandem's acknowledged framing. Every batch carries `publisherId` and a sequence number
///   (1, 2, 3, …); the publisher keeps each batch until the node acknowledges it (at most
///   `unackedBatchesMax`: `send` waits for acks at that bound), and when the connection fails it
///   reconnects (for up to `reconnectTimeoutMs`) and resends every unacknowledged batch in order. The
///   node skips batches it had accepted already, so nothing is lost and nothing is delivered twice.
///
/// Blocking is the point: when the node stops reading (its engine ring is full) `send` waits, which
/// is how backpressure reaches a publisher. `sendTimeoutMs` bounds that wait. Not thread-safe: one
/// thread per publisher.
public final class TCPPublisher {
    public static let connectTimeoutMsDefault = 5_000
    public static let sendTimeoutMsDefault = 60_000
    public static let unackedBatchesMaxDefault = 64
    public static let reconnectTimeoutMsDefault = 30_000

    /// Which frames `send` writes.
    public enum Framing: String, Sendable {
        /// siddhi-io-tcp (protocol byte 0x02): fire and forget.
        case siddhi
        /// Tandem acknowledged framing (0x54): kept until acknowledged, resent after a reconnect.
        case acked
    }

    public let framing: Framing
    /// Identifies this publisher in acknowledged frames (random unless given); one connection at a time.
    public let publisherId: UInt64
    /// Batches sent and not yet acknowledged that `send` keeps at most (acked framing).
    public let unackedBatchesMax: Int
    /// How long a failed connection is retried before `send`/`flush` give up (acked framing).
    public let reconnectTimeoutMs: Int
    /// Times the connection was re-established and unacknowledged batches resent.
    public private(set) var reconnects = 0
    /// Batches resent after reconnecting.
    public private(set) var batchesResent = 0
    /// Sequence number of the newest acknowledged batch (0: none yet).
    public private(set) var acknowledgedSeq: UInt64 = 0
    /// Acknowledged-framing batches sent and kept until their ack: (sequence number, frame bytes,
    /// monotonic ns of its first write).
    private var unacked: [(seq: UInt64, frame: [UInt8], sentNs: UInt64)] = []
    /// Acked framing: called once per acknowledged batch with the ns from its first write to the read
    /// of the ack covering it (`tandem send --stats-json`). Acks are read between writes and while
    /// `send` waits at the window bound, so a write blocked on a node that does not read adds to it.
    public var onBatchAcknowledged: ((_ latencyNs: UInt64) -> Void)?
    private var nextSeq: UInt64 = 1
    private var ackBuffer = [UInt8](repeating: 0, count: 4096)
    private var ackFilled = 0

    /// Batches sent and not yet acknowledged (acked framing).
    public var unackedBatches: Int { unacked.count }

    public let host: String
    public let port: Int
    /// How long `connect` waits for the handshake, per resolved address.
    public let connectTimeoutMs: Int
    /// How long one `send` may block on a node that does not read; 0 waits for ever.
    public let sendTimeoutMs: Int
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private let encoder: FrameEncoder

    /// - Parameters:
    ///   - host: a name (resolved with getaddrinfo, IPv4 or IPv6) or an address.
    ///   - sessionId: sent in every frame; receivers ignore it (Siddhi sends a random id).
    ///   - framing: `.siddhi` (fire and forget) or `.acked` (see the type's documentation).
    ///   - publisherId: acked framing: this publisher's id (default: random, never 0).
    ///   - unackedBatchesMax: acked framing: unacknowledged batches kept at most.
    ///   - reconnectTimeoutMs: acked framing: how long reconnecting is retried.
    public init(host: String, port: Int, sessionId: String = "tandem-send",
                connectTimeoutMs: Int = TCPPublisher.connectTimeoutMsDefault, sendTimeoutMs: Int = TCPPublisher.sendTimeoutMsDefault,
                framing: Framing = .siddhi, publisherId: UInt64? = nil,
                unackedBatchesMax: Int = TCPPublisher.unackedBatchesMaxDefault,
                reconnectTimeoutMs: Int = TCPPublisher.reconnectTimeoutMsDefault) {
        precondition((0...65535).contains(port), "port out of range")
        precondition(connectTimeoutMs > 0 && sendTimeoutMs >= 0)
        precondition(unackedBatchesMax >= 1 && reconnectTimeoutMs >= 0)
        self.framing = framing
        self.publisherId = publisherId ?? UInt64.random(in: 1...UInt64.max)
        self.unackedBatchesMax = unackedBatchesMax
        self.reconnectTimeoutMs = reconnectTimeoutMs
        self.host = host
        self.port = port
        self.connectTimeoutMs = connectTimeoutMs
        self.sendTimeoutMs = sendTimeoutMs
        encoder = FrameEncoder(sessionId: sessionId)
    }

    deinit { close() }

    public var isConnected: Bool { fd >= 0 }

    /// Sequence number the next acked batch gets (it grows once `send` has taken a batch into its
    /// unacknowledged window, even if writing it then failed: it will be resent after a reconnect).
    public var nextBatchSeq: UInt64 { nextSeq }

    /// Connects (closing any previous connection): tries each address `host` resolves to in turn.
    /// With acked framing, then resends every unacknowledged batch in order.
    public func connect() throws(SocketError) {
        try connectSocket()
        ackFilled = 0
        if framing == .acked {
            for entry in unacked {
                try writeAll(entry.frame)
                batchesResent += 1
            }
        }
    }

    private func connectSocket() throws(SocketError) {
        close()
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            let why = rc == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(rc))
            throw SocketError(operation: "resolve '\(host)' (\(why))", errno: EHOSTUNREACH)
        }
        defer { freeaddrinfo(first) }
        var lastError = SocketError(operation: "connect \(host):\(port)", errno: EHOSTUNREACH)
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            do {
                fd = try TCPPublisher.connect(info.pointee, timeoutMs: connectTimeoutMs)
                break
            } catch {
                lastError = SocketError(operation: "connect \(host):\(port)", errno: error.errno)
            }
        }
        guard fd >= 0 else { throw lastError }
        var one: Int32 = 1
        // Frames are whole batches: send each at once rather than waiting to coalesce.
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if sendTimeoutMs > 0 {
            var timeout = timeval(tv_sec: sendTimeoutMs / 1000, tv_usec: (sendTimeoutMs % 1000) * 1000)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    /// One socket connected to one address, within `timeoutMs` (non-blocking connect + poll).
    private static func connect(_ info: addrinfo, timeoutMs: Int) throws(SocketError) -> Int32 {
        let s = socket(info.ai_family, info.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), info.ai_protocol)
        guard s >= 0 else { throw SocketError(operation: "socket", errno: errno) }
        let failure = Socket.awaitConnect(s, result: Glibc.connect(s, info.ai_addr, info.ai_addrlen), timeoutMs: timeoutMs)
        guard failure == 0 else {
            Glibc.close(s)
            throw SocketError(operation: "connect", errno: failure)
        }
        // Back to blocking: sends wait for the node (backpressure), bounded by SO_SNDTIMEO.
        _ = fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK)
        return s
    }

    /// Sends the events of `batch` as one frame on `channel` (the source's context / stream name).
    /// Acked framing: waits while `unackedBatchesMax` batches are unacknowledged, and reconnects and
    /// resends on a failed connection (throws only once `reconnectTimeoutMs` has passed).
    public func send(_ batch: EventBatch, channel: String) throws(SocketError) {
        guard framing == .acked else {
            buffer.removeAll(keepingCapacity: true)
            encoder.append(batch: batch, channel: channel, to: &buffer)
            try writeAll(buffer)
            return
        }
        var frame: [UInt8] = []
        encoder.append(batch: batch, channel: channel, ack: (publisherId, nextSeq), to: &frame)
        try sendAcked(frame)
    }

    /// Sends boxed rows as one frame; throws EINVAL when a value does not fit its attribute's type.
    public func send(schema: StreamSchema, rows: [(timestamp: Int64, values: [Value])], channel: String) throws(SocketError) {
        var batch = EventBatch(schema: schema, capacity: rows.count)
        for row in rows where !batch.append(timestamp: row.timestamp, values: row.values) {
            throw SocketError(operation: "encode rows for \(schema.name) (a value does not fit its attribute)", errno: EINVAL)
        }
        try send(batch, channel: channel)
    }

    // MARK: Acknowledged framing

    private func sendAcked(_ frame: [UInt8]) throws(SocketError) {
        try withReconnect { () throws(SocketError) in
            while unacked.count >= unackedBatchesMax { try readAcks(waitMs: sendTimeoutMs) }
        }
        unacked.append((nextSeq, frame, DispatchTime.now().uptimeNanoseconds))
        nextSeq += 1
        try withReconnect { () throws(SocketError) in
            try writeAll(frame)
            try readAcks(waitMs: nil)
        }
    }

    /// Waits until every batch sent is acknowledged (reconnecting and resending as needed); throws
    /// ETIMEDOUT after `timeoutMs`. Does nothing with siddhi framing.
    public func flush(timeoutMs: Int = TCPPublisher.sendTimeoutMsDefault) throws(SocketError) {
        guard framing == .acked else { return }
        let deadline = TCPPublisher.nowMs() + timeoutMs
        while !unacked.isEmpty {
            let left = deadline - TCPPublisher.nowMs()
            guard left > 0 else {
                throw SocketError(operation: "wait for acks from \(host):\(port) (\(unacked.count) batches unacknowledged)", errno: ETIMEDOUT)
            }
            do {
                try withReconnect { () throws(SocketError) in try readAcks(waitMs: min(200, left)) }
            } catch {
                if error.errno != ETIMEDOUT { throw error }  // no ack within 200 ms: check the deadline, wait again
            }
        }
    }

    /// Runs `body`; when the connection fails, reconnects (retrying for `reconnectTimeoutMs`),
    /// resends every unacknowledged batch in order, and runs `body` again.
    private func withReconnect(_ body: () throws(SocketError) -> Void) throws(SocketError) {
        var deadlineMs: Int? = nil
        while true {
            do {
                try body()
                return
            } catch {
                if error.errno == ETIMEDOUT { throw error }  // the node is up but not reading: report, do not resend
                let now = TCPPublisher.nowMs()
                let deadline = deadlineMs ?? now + reconnectTimeoutMs
                deadlineMs = deadline
                guard now <= deadline else { throw error }
                try? reconnectAndResend()
                if !isConnected { usleep(100_000) }
            }
        }
    }

    private static func nowMs() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }

    private func reconnectAndResend() throws(SocketError) {
        try connect()
        reconnects += 1
    }

    /// Reads the acks available (waiting up to `waitMs` for the first one when given) and drops the
    /// batches they cover. Throws on a closed or failed connection.
    private func readAcks(waitMs: Int?) throws(SocketError) {
        guard fd >= 0 else { throw SocketError(operation: "read acks from \(host):\(port)", errno: ENOTCONN) }
        if let waitMs {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, waitMs == 0 ? -1 : Int32(waitMs))
            if ready == 0 {
                throw SocketError(operation: "wait for acks from \(host):\(port) (none for \(waitMs) ms)", errno: ETIMEDOUT)
            }
        }
        let n = ackBuffer.withUnsafeMutableBytes { raw in
            recv(fd, raw.baseAddress! + ackFilled, raw.count - ackFilled, Int32(MSG_DONTWAIT))
        }
        if n == 0 { throw SocketError(operation: "read acks from \(host):\(port) (connection closed)", errno: ECONNRESET) }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
            throw SocketError(operation: "read acks from \(host):\(port)", errno: errno)
        }
        ackFilled += n
        var offset = 0
        var newest = acknowledgedSeq
        let bad: Bool = ackBuffer.withUnsafeBytes { raw in
            while ackFilled - offset >= FrameEncoder.ackBytes {
                guard let ack = FrameEncoder.decodeAck(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + FrameEncoder.ackBytes])) else {
                    return true
                }
                if ack.publisherId == publisherId { newest = max(newest, ack.batchSeq) }
                offset += FrameEncoder.ackBytes
            }
            return false
        }
        if bad { throw SocketError(operation: "read acks from \(host):\(port) (not an ack: is this a Tandem node?)", errno: EPROTO) }
        if offset > 0 {
            ackBuffer.withUnsafeMutableBytes { raw in
                if ackFilled > offset { raw.baseAddress!.copyMemory(from: raw.baseAddress! + offset, byteCount: ackFilled - offset) }
            }
            ackFilled -= offset
        }
        if newest > acknowledgedSeq {
            acknowledgedSeq = newest
            let covered = unacked.firstIndex { $0.seq > newest } ?? unacked.count
            if let onBatchAcknowledged {
                let now = DispatchTime.now().uptimeNanoseconds
                for entry in unacked[..<covered] { onBatchAcknowledged(now &- entry.sentNs) }
            }
            unacked.removeFirst(covered)
        }
    }

    /// Sends raw bytes (tests use it for malformed frames).
    public func writeAll(_ bytes: [UInt8]) throws(SocketError) {
        guard fd >= 0 else { throw SocketError(operation: "send to \(host):\(port)", errno: ENOTCONN) }
        let error = bytes.withUnsafeBytes { raw -> Int32 in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return 0
        }
        guard error == 0 else {
            if error == EAGAIN || error == EWOULDBLOCK {
                throw SocketError(operation: "send to \(host):\(port) (node not reading for \(sendTimeoutMs) ms)", errno: ETIMEDOUT)
            }
            throw SocketError(operation: "send to \(host):\(port)", errno: error)
        }
    }

    /// Closes after the peer has read everything: half-close, then wait (≤ `timeoutMs`) for its close.
    /// With acked framing, call `flush` first to wait for (and secure) every ack.
    public func finish(timeoutMs: Int32 = 5000) {
        guard fd >= 0 else { return }
        shutdown(fd, Int32(SHUT_WR))
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var scratch = [UInt8](repeating: 0, count: 256)
        while poll(&pfd, 1, timeoutMs) > 0 {
            if scratch.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) <= 0 { break }
        }
        close()
    }

    /// Closes at once (unsent kernel buffers may still go out).
    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
