import CShims
import Glibc

/// The io_uring reactor of `TCPSourceListener`: one multishot accept on the listening socket and one
/// plain `recv` in flight per connection, into that connection's receive buffer.
///
/// Seam for later: multishot recv with a provided-buffer ring (`io_uring_setup_buf_ring`) would
/// replace `armReceive` and copy each completed buffer into `SourceConnection` only when a frame
/// straddles buffers; everything after `received(_:_:)` stays as it is.
extension TCPSourceListener {
    /// Submission queue entries (the completion queue gets twice as many; the kernel keeps overflow).
    static let uringEntries: UInt32 = 256
    /// Completions handled per wake-up.
    static let completionsPerWaitMax = 128

    /// How long stopping waits for cancelled receives to complete before it gives up on their buffers.
    static let quiesceTimeoutMs = 2000

    private enum Tag: UInt64 {
        case accept = 1, receive = 2, cancel = 3
    }

    /// Operation tag in the top byte, connection id in the low 32 bits.
    private static func userData(_ tag: Tag, _ id: UInt32) -> UInt64 { tag.rawValue << 56 | UInt64(id) }

    func runIOUring() {
        guard let uring else { preconditionFailure("io_uring backend without a ring") }

        func sqe() -> UnsafeMutablePointer<io_uring_sqe> {
            if let s = io_uring_get_sqe(uring) { return s }
            io_uring_submit(uring)  // queue full: submit what is there and take a fresh entry
            guard let s = io_uring_get_sqe(uring) else { preconditionFailure("no io_uring SQE after submit") }
            return s
        }
        func armAccept() {
            let s = sqe()
            io_uring_prep_multishot_accept(s, listenFd, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            io_uring_sqe_set_data64(s, TCPSourceListener.userData(.accept, TCPSourceListener.listenerId))
        }
        func armReceive(_ connection: SourceConnection) {
            assert(!connection.receiveArmed)
            let area = connection.receiveArea
            let s = sqe()
            io_uring_prep_recv(s, connection.fd, area.baseAddress, area.count, 0)
            io_uring_sqe_set_data64(s, TCPSourceListener.userData(.receive, connection.id))
            connection.receiveArmed = true
        }

        armAccept()
        var timeout = __kernel_timespec(tv_sec: 0, tv_nsec: Int64(TCPSourceListener.pollTimeoutMs) * 1_000_000)
        var cqes = [UnsafeMutablePointer<io_uring_cqe>?](repeating: nil, count: TCPSourceListener.completionsPerWaitMax)
        while !stopping.load(ordering: .relaxed) {
            io_uring_submit(uring)
            var first: UnsafeMutablePointer<io_uring_cqe>? = nil
            let waited = io_uring_wait_cqe_timeout(uring, &first, &timeout)
            if waited == -ETIME {
                flushIdle(all: true)
                    continue
            }
            if waited < 0 && waited != -EINTR {
                logger.error("tcp source :\(port): io_uring_wait_cqe_timeout failed (\(String(cString: strerror(-waited)))); source stopped")
                return
            }
            let n = Int(io_uring_peek_batch_cqe(uring, &cqes, UInt32(cqes.count)))
            for i in 0..<n {
                guard let cqe = cqes[i] else { preconditionFailure("io_uring returned a nil CQE") }
                let data = cqe.pointee.user_data, res = cqe.pointee.res, flags = cqe.pointee.flags
                let id = UInt32(truncatingIfNeeded: data)
                switch Tag(rawValue: data >> 56) {
                case .accept:
                    if res >= 0 {
                        if let connection = accepted(res) { armReceive(connection) }
                    } else if res != -EAGAIN && res != -EINTR && res != -ECONNABORTED {
                        logger.warning("tcp source :\(port): accept failed: \(String(cString: strerror(-res)))")
                        usleep(1000)  // e.g. EMFILE: do not spin on a failing accept
                    }
                    // Multishot accept stays armed while the kernel sets F_MORE; re-arm otherwise.
                    if flags & UInt32(IORING_CQE_F_MORE) == 0 { armAccept() }
                case .receive:
                    guard let connection = connections[id] else { break }
                    connection.receiveArmed = false
                    if res > 0 {
                        // Without SOCK_NONEMPTY the socket is drained: the partial batch may go now.
                        connection.mayHaveMore = flags & UInt32(IORING_CQE_F_SOCK_NONEMPTY) != 0
                        if received(connection, Int(res)) { armReceive(connection) }
                    } else if res == 0 {
                        closed(connection, error: nil)
                    } else if res == -EINTR || res == -EAGAIN || res == -ENOBUFS {
                        armReceive(connection)
                    } else {
                        closed(connection, error: -res)
                    }
                case .cancel, nil:
                    assertionFailure("unexpected io_uring completion tag \(data >> 56)")
                }
            }
            io_uring_cq_advance(uring, UInt32(n))
            flushIdle(all: false)
        }
        quiesce(uring, sqe)
    }

    /// Stopping: every recv still in flight points into a connection buffer, and closing the socket
    /// does not stop it (io_uring holds its own file reference). Cancel them all and reap their
    /// completions before the buffers can be freed; bytes that did arrive are still decoded.
    private func quiesce(_ uring: UnsafeMutablePointer<io_uring>, _ sqe: () -> UnsafeMutablePointer<io_uring_sqe>) {
        let s = sqe()
        io_uring_prep_cancel64(s, 0, Int32(IORING_ASYNC_CANCEL_ANY))
        io_uring_sqe_set_data64(s, TCPSourceListener.userData(.cancel, TCPSourceListener.listenerId))
        io_uring_submit(uring)
        var armed = connections.values.reduce(0) { $0 + ($1.receiveArmed ? 1 : 0) }
        var timeout = __kernel_timespec(tv_sec: 0, tv_nsec: 10_000_000)
        var waitedMs = 0
        while armed > 0 && waitedMs < TCPSourceListener.quiesceTimeoutMs {
            var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
            let rc = io_uring_wait_cqe_timeout(uring, &cqe, &timeout)
            if rc == -ETIME { waitedMs += 10; continue }
            guard rc == 0, let cqe else { break }
            let data = cqe.pointee.user_data, res = cqe.pointee.res
            io_uring_cqe_seen(uring, cqe)
            let tag = Tag(rawValue: data >> 56)
            if tag == .accept && res >= 0 { close(res) }  // accepted just before the cancel: refuse it
            guard tag == .receive, let connection = connections[UInt32(truncatingIfNeeded: data)],
                  connection.receiveArmed else { continue }
            connection.receiveArmed = false
            armed -= 1
            if res > 0 { _ = received(connection, Int(res)) }
        }
        if armed > 0 {
            // Never free memory the kernel may still write: keep those connections (and buffers) for good.
            logger.error("tcp source :\(port): \(armed) receives did not complete within \(TCPSourceListener.quiesceTimeoutMs) ms of cancelling; keeping their buffers")
            for connection in connections.values where connection.receiveArmed { _ = Unmanaged.passRetained(connection) }
        }
    }
}
