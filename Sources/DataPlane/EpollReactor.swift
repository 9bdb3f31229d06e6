import CShims
import Glibc

/// The epoll fallback reactor of `TCPSourceListener` (for kernels or seccomp profiles that refuse
/// io_uring): level-triggered readiness on non-blocking sockets, then `read` into the same
/// connection buffers, then the same shared handling as the io_uring reactor.
extension TCPSourceListener {
    /// Readiness events handled per wake-up.
    static let epollEventsMax = 128
    /// Reads per connection per wake-up, so one busy publisher cannot starve the others.
    static let readsPerWakeMax = 16
    /// Accepts per wake-up, for the same reason.
    static let acceptsPerWakeMax = 64

    func runEpoll() {
        let epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else {
            logger.error("tcp source :\(port): epoll_create1 failed (\(String(cString: strerror(errno)))); source stopped")
            return
        }
        defer { close(epfd) }
        func watch(_ fd: Int32, _ id: UInt32) -> Bool {
            var event = epoll_event()
            event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
            event.data.u64 = UInt64(id)
            return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) == 0
        }
        guard watch(listenFd, TCPSourceListener.listenerId) else {
            logger.error("tcp source :\(port): epoll_ctl on the listening socket failed (\(String(cString: strerror(errno)))); source stopped")
            return
        }
        if wakeFd >= 0 && !watch(wakeFd, TCPSourceListener.wakeId) {
            logger.warning("tcp source :\(port): epoll_ctl on the wake-up eventfd failed; released acks wait for the next wake-up")
        }
        var events = [epoll_event](repeating: epoll_event(), count: TCPSourceListener.epollEventsMax)
        while !stopping.load(ordering: .relaxed) {
            let n = epoll_wait(epfd, &events, Int32(events.count), Int32(TCPSourceListener.pollTimeoutMs))
            if n < 0 {
                if errno == EINTR { continue }
                logger.error("tcp source :\(port): epoll_wait failed (\(String(cString: strerror(errno)))); source stopped")
                return
            }
            if n == 0 {
                flushIdle(all: true)
                    continue
            }
            for i in 0..<Int(n) {
                let id = UInt32(truncatingIfNeeded: events[i].data.u64)
                if id == TCPSourceListener.listenerId {
                    acceptReady(watch)
                } else if id == TCPSourceListener.wakeId {
                    drainWake()
                } else if let connection = connections[id] {
                    readReady(connection)
                }
            }
            flushIdle(all: false)
        }
    }

    private func acceptReady(_ watch: (Int32, UInt32) -> Bool) {
        for _ in 0..<TCPSourceListener.acceptsPerWakeMax {
            let client = tandem_accept4(listenFd, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            if client < 0 {
                let e = tandem_errno()
                if e != EAGAIN && e != EWOULDBLOCK && e != EINTR && e != ECONNABORTED {
                    logger.warning("tcp source :\(port): accept failed: \(String(cString: strerror(e)))")
                    usleep(1000)  // e.g. EMFILE: level-triggered epoll would wake us again at once
                }
                return
            }
            guard let connection = accepted(client) else { continue }
            if !watch(client, connection.id) {
                closed(connection, error: tandem_errno())
            }
        }
    }

    private func readReady(_ connection: SourceConnection) {
        connection.mayHaveMore = true
        for _ in 0..<TCPSourceListener.readsPerWakeMax {
            let area = connection.receiveArea
            let got = read(connection.fd, area.baseAddress, area.count)
            if got > 0 {
                guard received(connection, got) else { return }
                if got < area.count {  // drained for now
                    connection.mayHaveMore = false
                    return
                }
            } else if got == 0 {
                closed(connection, error: nil)
                return
            } else {
                let e = tandem_errno()
                if e == EAGAIN || e == EWOULDBLOCK {
                    connection.mayHaveMore = false
                    return
                }
                if e == EINTR { continue }
                closed(connection, error: e)
                return
            }
        }
    }
}
