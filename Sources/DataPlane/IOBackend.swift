import CShims
import Glibc

/// How a reactor waits for sockets: io_uring, or epoll where io_uring is refused.
public enum IOBackend: String, Sendable, CaseIterable {
    /// io_uring when the kernel allows it, else epoll.
    case auto
    case ioUring = "io_uring"
    case epoll

    /// The backend to use here: `auto` probes io_uring once; `io_uring` falls back to epoll (with a
    /// reason) when the kernel or a seccomp profile refuses it.
    public static func resolve(_ requested: IOBackend) -> (backend: IOBackend, reason: String?) {
        if requested == .epoll { return (.epoll, nil) }
        let probe = tandem_io_uring_probe()
        if probe == 0 { return (.ioUring, nil) }
        let why = String(cString: strerror(-probe))
        return (.epoll, "io_uring_setup refused (\(why), errno \(-probe)); containers' default seccomp profiles block it — using epoll")
    }
}
