import CShims  // <sys/socket.h> constants (SOCK_STREAM, …), which Glibc alone does not export in release builds
import Glibc

/// A socket call that failed, with the errno it set.
public struct SocketError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var errno: Int32
    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }
    public var description: String { "\(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

enum Socket {
    /// IPv4 address for a host string: "0.0.0.0", "127.0.0.1", "localhost" or any dotted quad.
    static func ipv4(_ host: String) throws(SocketError) -> in_addr {
        var address = in_addr()
        let name = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, name, &address) == 1 else { throw SocketError(operation: "parse address '\(host)'", errno: EINVAL) }
        return address
    }

    static func sockaddr(host: String, port: Int) throws(SocketError) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        addr.sin_addr = try ipv4(host)
        return addr
    }

    /// A listening TCP socket; returns the fd and the bound port (useful with port 0).
    static func listen(host: String, port: Int, nonBlocking: Bool, backlog: Int32 = 1024) throws(SocketError) -> (Int32, Int) {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = try sockaddr(host: host, port: port)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let e = errno
            close(fd)
            throw SocketError(operation: "bind \(host):\(port)", errno: e)
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            close(fd)
            throw SocketError(operation: "listen \(host):\(port)", errno: e)
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    /// "a.b.c.d:port" of the peer of a connected socket.
    /// Completes a non-blocking `connect` that returned `result`: waits up to `timeoutMs` for it and
    /// returns 0, or the errno it failed with (ETIMEDOUT when it took too long).
    static func awaitConnect(_ s: Int32, result: Int32, timeoutMs: Int) -> Int32 {
        guard result != 0 else { return 0 }
        let failure = errno
        guard failure == EINPROGRESS else { return failure }
        var pfd = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
        var ready: Int32
        repeat { ready = poll(&pfd, 1, Int32(timeoutMs)) } while ready < 0 && errno == EINTR
        if ready == 0 { return ETIMEDOUT }
        if ready < 0 { return errno }
        var soError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(s, SOL_SOCKET, SO_ERROR, &soError, &length)
        return soError
    }

    static func peerName(_ fd: Int32) -> String {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        }
        guard rc == 0 else { return "fd \(fd)" }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &addr.sin_addr, &text, socklen_t(text.count))
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(host):\(UInt16(bigEndian: addr.sin_port))"
    }
}
