import Engine
import CShims  // SOCK_* constants: Glibc alone does not export them in release builds
import Glibc

/// A blocking client that publishes batches as siddhi-io-tcp frames (what `tandem send`, tests and
/// later a tcp sink use). One frame per batch, written with as few `send` calls as the kernel allows.
///
/// Blocking is the point: when the node stops reading (its engine ring is full) `send` waits, which
/// is how backpressure reaches a publisher. `sendTimeoutMs` bounds that wait. Not thread-safe: one
/// thread per publisher.
public final class TCPPublisher {
    public static let connectTimeoutMsDefault = 5_000
    public static let sendTimeoutMsDefault = 60_000

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
    public init(host: String, port: Int, sessionId: String = "tandem-send",
                connectTimeoutMs: Int = TCPPublisher.connectTimeoutMsDefault, sendTimeoutMs: Int = TCPPublisher.sendTimeoutMsDefault) {
        precondition((0...65535).contains(port), "port out of range")
        precondition(connectTimeoutMs > 0 && sendTimeoutMs >= 0)
        self.host = host
        self.port = port
        self.connectTimeoutMs = connectTimeoutMs
        self.sendTimeoutMs = sendTimeoutMs
        encoder = FrameEncoder(sessionId: sessionId)
    }

    deinit { close() }

    public var isConnected: Bool { fd >= 0 }

    /// Connects (closing any previous connection): tries each address `host` resolves to in turn.
    public func connect() throws(SocketError) {
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
        var failure: Int32 = 0
        if Glibc.connect(s, info.ai_addr, info.ai_addrlen) != 0 {
            failure = errno
            if failure == EINPROGRESS {
                var pfd = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
                var ready: Int32
                repeat { ready = poll(&pfd, 1, Int32(timeoutMs)) } while ready < 0 && errno == EINTR
                if ready == 0 {
                    failure = ETIMEDOUT
                } else if ready < 0 {
                    failure = errno
                } else {
                    var soError: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(s, SOL_SOCKET, SO_ERROR, &soError, &length)
                    failure = soError
                }
            }
        }
        guard failure == 0 else {
            Glibc.close(s)
            throw SocketError(operation: "connect", errno: failure)
        }
        // Back to blocking: sends wait for the node (backpressure), bounded by SO_SNDTIMEO.
        _ = fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK)
        return s
    }

    /// Sends the events of `batch` as one frame on `channel` (the source's context / stream name).
    public func send(_ batch: EventBatch, channel: String) throws(SocketError) {
        buffer.removeAll(keepingCapacity: true)
        encoder.append(batch: batch, channel: channel, to: &buffer)
        try writeAll(buffer)
    }

    /// Sends boxed rows as one frame; throws EINVAL when a value does not fit its attribute's type.
    public func send(schema: StreamSchema, rows: [(timestamp: Int64, values: [Value])], channel: String) throws(SocketError) {
        buffer.removeAll(keepingCapacity: true)
        guard encoder.append(schema: schema, rows: rows, channel: channel, to: &buffer) else {
            throw SocketError(operation: "encode rows for \(schema.name) (a value does not fit its attribute)", errno: EINVAL)
        }
        try writeAll(buffer)
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
