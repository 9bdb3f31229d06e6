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
/// Keepalive (acked framing, `silenceTimeoutMs` > 0): each connection starts with a hello asking the
/// node for keepalives; a node that sends them is considered gone after `silenceTimeoutMs` (at least
/// 3 × the interval it announces) without a record, and one that says it is not active closes the
/// connection. Either way the publisher moves to the next of its `targets` (the other node of an HA
/// pair) and resends what is unacknowledged. A node that predates keepalives answers the hello with
/// an ack of batch 0; the publisher then relies on the connection failing, as before.
///
/// Blocking is the point: when the node stops reading (its engine ring is full) `send` waits, which
/// is how backpressure reaches a publisher. `sendTimeoutMs` bounds that wait. Not thread-safe: one
/// thread per publisher.
public final class TCPPublisher {
    public static let connectTimeoutMsDefault = 5_000
    public static let sendTimeoutMsDefault = 60_000
    public static let unackedBatchesMaxDefault = 64
    public static let reconnectTimeoutMsDefault = 30_000
    /// 3 × the node's default keepalive interval (`TCPSourceOptions.keepaliveIntervalMsDefault`).
    public static let silenceTimeoutMsDefault = 3_000

    /// One node address to publish to.
    public struct Target: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

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
    /// Times a reconnect went to a different target than the one that failed.
    public private(set) var failovers = 0
    /// Connections given up because the node went silent (no record for the silence timeout).
    public private(set) var silencesDetected = 0
    /// Connections the node closed with a not-active record.
    public private(set) var notActiveReceived = 0
    /// Acked framing: how long a node that sends keepalives may stay silent before the connection is
    /// given up (0: no hello, no keepalives).
    public let silenceTimeoutMs: Int
    /// Whether the node of the current connection answered the hello with a keepalive.
    public private(set) var nodeSendsKeepalives = false
    /// What that node announced: its keepalive interval and HA lease (ms; lease 0: standalone).
    public private(set) var nodeKeepaliveIntervalMs = 0
    public private(set) var nodeLeaseMs = 0
    /// The hello was sent and not answered yet: silence counts from it too (a node that supports
    /// keepalives answers at once).
    private var helloUnanswered = false
    /// Monotonic ms when the node last sent anything on this connection (or the connection began).
    private var lastHeardMs = 0
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

    /// The nodes to publish to, in order of preference; a failed or silent one is left for the next.
    public let targets: [Target]
    /// Index in `targets` of the current (or last tried) node.
    public private(set) var targetIndex = 0
    public var host: String { targets[targetIndex].host }
    public var port: Int { targets[targetIndex].port }
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
    ///   - silenceTimeoutMs: acked framing: silence after which a node that sends keepalives is
    ///     considered gone (0: do not ask for keepalives).
    public convenience init(host: String, port: Int, sessionId: String = "tandem-send",
                            connectTimeoutMs: Int = TCPPublisher.connectTimeoutMsDefault, sendTimeoutMs: Int = TCPPublisher.sendTimeoutMsDefault,
                            framing: Framing = .siddhi, publisherId: UInt64? = nil,
                            unackedBatchesMax: Int = TCPPublisher.unackedBatchesMaxDefault,
                            reconnectTimeoutMs: Int = TCPPublisher.reconnectTimeoutMsDefault,
                            silenceTimeoutMs: Int = TCPPublisher.silenceTimeoutMsDefault) {
        self.init(targets: [Target(host: host, port: port)], sessionId: sessionId, connectTimeoutMs: connectTimeoutMs,
                  sendTimeoutMs: sendTimeoutMs, framing: framing, publisherId: publisherId, unackedBatchesMax: unackedBatchesMax,
                  reconnectTimeoutMs: reconnectTimeoutMs, silenceTimeoutMs: silenceTimeoutMs)
    }

    /// A publisher to several nodes (an HA pair's active and passive): it connects to the first that
    /// accepts and, when that one fails, goes silent or says it is not active, moves to the next.
    public init(targets: [Target], sessionId: String = "tandem-send",
                connectTimeoutMs: Int = TCPPublisher.connectTimeoutMsDefault, sendTimeoutMs: Int = TCPPublisher.sendTimeoutMsDefault,
                framing: Framing = .siddhi, publisherId: UInt64? = nil,
                unackedBatchesMax: Int = TCPPublisher.unackedBatchesMaxDefault,
                reconnectTimeoutMs: Int = TCPPublisher.reconnectTimeoutMsDefault,
                silenceTimeoutMs: Int = TCPPublisher.silenceTimeoutMsDefault) {
        precondition(!targets.isEmpty && targets.allSatisfy { (0...65535).contains($0.port) }, "port out of range")
        precondition(connectTimeoutMs > 0 && sendTimeoutMs >= 0)
        precondition(unackedBatchesMax >= 1 && reconnectTimeoutMs >= 0 && silenceTimeoutMs >= 0)
        self.framing = framing
        self.publisherId = publisherId ?? UInt64.random(in: 1...UInt64.max)
        self.unackedBatchesMax = unackedBatchesMax
        self.reconnectTimeoutMs = reconnectTimeoutMs
        self.silenceTimeoutMs = framing == .acked ? silenceTimeoutMs : 0
        self.targets = targets
        self.connectTimeoutMs = connectTimeoutMs
        self.sendTimeoutMs = sendTimeoutMs
        encoder = FrameEncoder(sessionId: sessionId)
    }

    deinit { close() }

    public var isConnected: Bool { fd >= 0 }

    /// Sequence number the next acked batch gets (it grows once `send` has taken a batch into its
    /// unacknowledged window, even if writing it then failed: it will be resent after a reconnect).
    public var nextBatchSeq: UInt64 { nextSeq }

    /// Connects (closing any previous connection) to the current target or, failing that, the next
    /// ones in turn (each address a host resolves to is tried). With acked framing, then sends the
    /// hello (when `silenceTimeoutMs` > 0) and resends every unacknowledged batch in order.
    public func connect() throws(SocketError) {
        try connect(startingAt: 0)
    }

    /// Tries the targets from `targetIndex + offset` on, wrapping around, once each.
    private func connect(startingAt offset: Int) throws(SocketError) {
        let failed = targetIndex
        var lastError = SocketError(operation: "connect", errno: EHOSTUNREACH)
        for k in 0..<targets.count {
            targetIndex = (failed + offset + k) % targets.count
            do {
                try connectSocket()
            } catch {
                lastError = error
                continue
            }
            if targetIndex != failed { failovers += 1 }
            try startConnection()
            return
        }
        targetIndex = failed
        throw lastError
    }

    private func startConnection() throws(SocketError) {
        ackFilled = 0
        nodeSendsKeepalives = false
        helloUnanswered = false
        lastHeardMs = TCPPublisher.nowMs()
        guard framing == .acked else { return }
        if silenceTimeoutMs > 0 {
            try writeAll(FrameEncoder.helloFrame(publisherId: publisherId))
            helloUnanswered = true
        }
        for entry in unacked {
            try writeAll(entry.frame)
            batchesResent += 1
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
        // With keepalives a blocked send wakes every `writeSliceMs` to check that the node is still there.
        let slice = silenceTimeoutMs > 0 ? (sendTimeoutMs > 0 ? min(sendTimeoutMs, TCPPublisher.writeSliceMs) : TCPPublisher.writeSliceMs)
                                         : sendTimeoutMs
        if slice > 0 {
            var timeout = timeval(tv_sec: slice / 1000, tv_usec: (slice % 1000) * 1000)
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

    /// Listens to the current node for `timeoutMs` without sending (an idle publisher checking on
    /// it): applies acks and keepalives, and throws as soon as the connection fails, the node says it
    /// is not active (ESHUTDOWN) or goes silent (EHOSTDOWN). Does not reconnect.
    public func watch(timeoutMs: Int) throws(SocketError) {
        let deadline = TCPPublisher.nowMs() + timeoutMs
        while true {
            let left = deadline - TCPPublisher.nowMs()
            if left <= 0 { return }
            do {
                try readAcks(waitMs: left)
            } catch {
                if error.errno != ETIMEDOUT { throw error }
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
                salvageRecords()
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

    /// A failed connection may still hold records the node sent before it closed (its last acks,
    /// typically, when a write failed first): applying them spares resending those batches elsewhere.
    private func salvageRecords() {
        guard fd >= 0 else { return }
        try? receiveRecords()
    }

    /// After a failure: the next target first (the failed node is tried last), resending what is
    /// unacknowledged.
    private func reconnectAndResend() throws(SocketError) {
        try connect(startingAt: 1)
        reconnects += 1
    }

    /// How long a blocked send waits before it checks on the node (keepalives only).
    static let writeSliceMs = 100

    /// The silence after which the current node counts as gone: the configured timeout, but at least
    /// 3 keepalive intervals of the node (so a node configured slower is not given up on wrongly).
    private var effectiveSilenceMs: Int { max(silenceTimeoutMs, 3 * nodeKeepaliveIntervalMs) }

    /// Whether silence on this connection means the node is gone: it sends keepalives, or it has not
    /// answered the hello yet.
    private var silenceWatched: Bool { silenceTimeoutMs > 0 && (nodeSendsKeepalives || helloUnanswered) }

    /// Throws (EHOSTDOWN) when the node has been silent past the timeout.
    private func checkSilence(now: Int) throws(SocketError) {
        guard silenceWatched, now - lastHeardMs > effectiveSilenceMs else { return }
        silencesDetected += 1
        let what = helloUnanswered ? "no answer to the hello" : "no keepalive"
        throw SocketError(operation: "hear from \(host):\(port) (\(what) for \(now - lastHeardMs) ms: node silent)", errno: EHOSTDOWN)
    }

    /// Reads what the node sent (waiting up to `waitMs`, 0 for ever, for a new ack when given): acks
    /// drop the batches they cover, keepalives show the node is there. Throws on a closed or failed
    /// connection, a not-active record (ESHUTDOWN), silence (EHOSTDOWN), or no ack within `waitMs`
    /// (ETIMEDOUT).
    private func readAcks(waitMs: Int?) throws(SocketError) {
        guard fd >= 0 else { throw SocketError(operation: "read acks from \(host):\(port)", errno: ENOTCONN) }
        let start = TCPPublisher.nowMs()
        let before = acknowledgedSeq
        while true {
            try receiveRecords()
            let now = TCPPublisher.nowMs()
            try checkSilence(now: now)
            guard let waitMs, acknowledgedSeq == before else { return }
            var left = waitMs == 0 ? Int(Int32.max) : start + waitMs - now
            if left <= 0 {
                throw SocketError(operation: "wait for acks from \(host):\(port) (none for \(waitMs) ms)", errno: ETIMEDOUT)
            }
            if silenceWatched { left = min(left, lastHeardMs + effectiveSilenceMs - now + 1) }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, Int32(clamping: max(1, left)))
        }
    }

    /// Reads every record available without waiting and applies them in order.
    private func receiveRecords() throws(SocketError) {
        while true {
            let n = ackBuffer.withUnsafeMutableBytes { raw in
                recv(fd, raw.baseAddress! + ackFilled, raw.count - ackFilled, Int32(MSG_DONTWAIT))
            }
            if n == 0 { throw SocketError(operation: "read acks from \(host):\(port) (connection closed)", errno: ECONNRESET) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                throw SocketError(operation: "read acks from \(host):\(port)", errno: errno)
            }
            ackFilled += n
            lastHeardMs = TCPPublisher.nowMs()
            try applyRecords()
        }
    }

    private func applyRecords() throws(SocketError) {
        var offset = 0
        var newest = acknowledgedSeq
        var failure: SocketError? = nil
        ackBuffer.withUnsafeBytes { raw in
            while failure == nil && ackFilled - offset >= FrameEncoder.ackBytes {
                let record = FrameEncoder.decodeRecord(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + FrameEncoder.ackBytes]))
                offset += FrameEncoder.ackBytes
                switch record {
                case .ack(let id, let seq)?:
                    guard id == publisherId else { break }
                    newest = max(newest, seq)
                    // An ack of batch 0 answers the hello: a node without keepalives.
                    if seq == 0 && helloUnanswered { helloUnanswered = false }
                case .keepalive(let id, let intervalMs, let leaseMs)?:
                    guard id == publisherId else { break }
                    helloUnanswered = false
                    nodeSendsKeepalives = true
                    nodeKeepaliveIntervalMs = Int(intervalMs)
                    nodeLeaseMs = Int(leaseMs)
                case .notActive(let id, let reason)?:
                    guard id == publisherId else { break }
                    notActiveReceived += 1
                    failure = SocketError(operation: "publish to \(host):\(port) (node not active: \(reason))", errno: ESHUTDOWN)
                case nil:
                    failure = SocketError(operation: "read acks from \(host):\(port) (not an ack: is this a Tandem node?)", errno: EPROTO)
                }
            }
        }
        if offset > 0 {
            ackBuffer.withUnsafeMutableBytes { raw in
                if ackFilled > offset { raw.baseAddress!.copyMemory(from: raw.baseAddress! + offset, byteCount: ackFilled - offset) }
            }
            ackFilled -= offset
        }
        // Acks read before a not-active record still count: those batches are safe on that node.
        if newest > acknowledgedSeq {
            acknowledgedSeq = newest
            let covered = unacked.firstIndex { $0.seq > newest } ?? unacked.count
            if let onBatchAcknowledged {
                let now = DispatchTime.now().uptimeNanoseconds
                for entry in unacked[..<covered] { onBatchAcknowledged(now &- entry.sentNs) }
            }
            unacked.removeFirst(covered)
        }
        if let failure {
            close()
            throw failure
        }
    }

    /// Sends raw bytes (tests use it for malformed frames).
    public func writeAll(_ bytes: [UInt8]) throws(SocketError) {
        guard fd >= 0 else { throw SocketError(operation: "send to \(host):\(port)", errno: ENOTCONN) }
        let start = TCPPublisher.nowMs()
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL)) }
            if n >= 0 {
                offset += n
                continue
            }
            let error = errno
            if error == EINTR { continue }
            guard error == EAGAIN || error == EWOULDBLOCK else { throw SocketError(operation: "send to \(host):\(port)", errno: error) }
            // The node is not reading. With keepalives: still there (records arrive), or silent?
            if silenceTimeoutMs > 0 {
                try receiveRecords()
                let now = TCPPublisher.nowMs()
                try checkSilence(now: now)
                if sendTimeoutMs == 0 || now - start < sendTimeoutMs { continue }
            }
            throw SocketError(operation: "send to \(host):\(port) (node not reading for \(sendTimeoutMs) ms)", errno: ETIMEDOUT)
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
