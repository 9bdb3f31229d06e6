import Engine
import Glibc

/// A blocking client that publishes batches as siddhi-io-tcp frames (what `tandem send` uses).
/// One frame per batch, written with as few `write` calls as the kernel allows.
public final class TCPPublisher {
    public let host: String
    public let port: Int
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private let encoder: FrameEncoder

    public init(host: String, port: Int, sessionId: String = "tandem-send") {
        self.host = host
        self.port = port
        encoder = FrameEncoder(sessionId: sessionId)
    }

    deinit { close() }

    public var isConnected: Bool { fd >= 0 }

    public func connect() throws(SocketError) {
        close()
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw SocketError(operation: "socket", errno: errno) }
        var addr = try Socket.sockaddr(host: host, port: port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(s)
            throw SocketError(operation: "connect \(host):\(port)", errno: e)
        }
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        fd = s
    }

    /// Sends the events of `batch` as one frame on `channel` (the source's context / stream name).
    public func send(_ batch: EventBatch, channel: String) throws(SocketError) {
        buffer.removeAll(keepingCapacity: true)
        encoder.append(batch: batch, channel: channel, to: &buffer)
        try writeAll(buffer)
    }

    /// Sends raw bytes (tests use it for malformed frames).
    public func writeAll(_ bytes: [UInt8]) throws(SocketError) {
        guard fd >= 0 else { throw SocketError(operation: "send", errno: ENOTCONN) }
        var failure: SocketError? = nil
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = SocketError(operation: "send to \(host):\(port)", errno: errno)
                    return
                }
                offset += n
            }
        }
        if let failure { throw failure }
    }

    /// Closes the connection after the peer has read everything (half-close, then wait for its close).
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

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
