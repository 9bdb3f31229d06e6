import CShims
import Glibc

/// The io_uring reactor of `TCPSourceListener`: one multishot accept on the listening socket and, per
/// connection, one multishot receive into a registered provided-buffer ring shared by the listener.
/// Frames are decoded in place from those buffers; only a frame that straddles two buffers is copied
/// (its parts) into the connection's own buffer. Each buffer goes back to the ring as soon as its
/// bytes are decoded.
///
/// Where the kernel refuses provided-buffer rings (before 5.19), it falls back to one plain `recv`
/// in flight per connection, into that connection's buffer.
///
/// Bounds: the buffer ring holds `providedBufferCount` × `providedBufferBytes` (4 MiB) per listener.
/// While the reactor waits for engine-ring room it stops taking completions; the kernel fills the
/// free buffers, then ends the receives with ENOBUFS and leaves further bytes in the sockets, so TCP
/// flow control pushes back. The receives are re-armed once the reactor runs again.
extension TCPSourceListener {
    /// Submission queue entries (the completion queue gets twice as many; the kernel keeps overflow).
    static let uringEntries: UInt32 = 256
    /// Completions handled per wake-up.
    static let completionsPerWaitMax = 128
    /// Provided buffers (a power of two) and their size: the most received, not yet decoded bytes.
    static let providedBufferCount: UInt32 = 64
    static let providedBufferBytes = 64 << 10
    /// Buffer group id of the provided-buffer ring (one ring per io_uring instance).
    static let bufferGroupId: Int32 = 1

    /// How long stopping waits for cancelled receives to complete before it gives up on their buffers.
    static let quiesceTimeoutMs = 2000

    private enum Tag: UInt64 {
        case accept = 1, receive = 2, cancel = 3, wake = 4
    }

    /// Operation tag in the top byte, connection id in the low 32 bits.
    private static func userData(_ tag: Tag, _ id: UInt32) -> UInt64 { tag.rawValue << 56 | UInt64(id) }

    /// Registers the provided-buffer ring; false (logged) when the kernel refuses it.
    private func setUpProvidedBuffers(_ uring: UnsafeMutablePointer<io_uring>) -> Bool {
        var err: Int32 = 0
        guard let ring = tandem_setup_buf_ring(uring, TCPSourceListener.providedBufferCount, TCPSourceListener.bufferGroupId, &err) else {
            logger.info("tcp source :\(port): provided-buffer ring refused (\(String(cString: strerror(-err)))); one recv per connection instead")
            return false
        }
        let bytes = TCPSourceListener.providedBufferBytes
        let memory = UnsafeMutableRawPointer.allocate(byteCount: Int(TCPSourceListener.providedBufferCount) * bytes, alignment: 4096)
        for bid in 0..<Int(TCPSourceListener.providedBufferCount) {
            tandem_buf_ring_add(ring, memory + bid * bytes, UInt32(bytes), UInt16(bid), TCPSourceListener.providedBufferCount, Int32(bid))
        }
        tandem_buf_ring_advance(ring, Int32(TCPSourceListener.providedBufferCount))
        bufferRing = ring
        providedBuffers = memory
        logger.info("tcp source :\(port): multishot receive into \(TCPSourceListener.providedBufferCount) provided buffers of \(bytes >> 10) KiB")
        return true
    }

    /// Gives buffer `bid` back to the kernel.
    @inline(__always)
    private func recycle(_ bid: Int) {
        guard let bufferRing, let providedBuffers else { return }
        tandem_buf_ring_add(bufferRing, providedBuffers + bid * TCPSourceListener.providedBufferBytes,
                            UInt32(TCPSourceListener.providedBufferBytes), UInt16(bid), TCPSourceListener.providedBufferCount, 0)
        tandem_buf_ring_advance(bufferRing, 1)
    }

    /// Unregisters the buffer ring and frees the buffers (only once no receive can write into them).
    private func releaseProvidedBuffers(_ uring: UnsafeMutablePointer<io_uring>, safe: Bool) {
        guard let bufferRing, let providedBuffers else { return }
        if safe {
            tandem_free_buf_ring(uring, bufferRing, TCPSourceListener.providedBufferCount, TCPSourceListener.bufferGroupId)
            providedBuffers.deallocate()
        }  // else: leaked on purpose, the kernel may still write there
        self.bufferRing = nil
        self.providedBuffers = nil
    }

    func runIOUring() {
        guard let uring else { preconditionFailure("io_uring backend without a ring") }
        let multishot = setUpProvidedBuffers(uring)
        stats.multishotReceive.store(multishot, ordering: .relaxed)

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
            let s = sqe()
            if multishot {
                assert(!connection.multishotArmed)
                tandem_prep_recv_multishot(s, connection.fd, TCPSourceListener.bufferGroupId)
                connection.multishotArmed = true
            } else {
                assert(!connection.receiveArmed)
                let area = connection.receiveArea
                io_uring_prep_recv(s, connection.fd, area.baseAddress, area.count, 0)
                connection.receiveArmed = true
            }
            io_uring_sqe_set_data64(s, TCPSourceListener.userData(.receive, connection.id))
        }

        func armWake() {
            let s = sqe()
            io_uring_prep_poll_multishot(s, wakeFd, UInt32(POLLIN))
            io_uring_sqe_set_data64(s, TCPSourceListener.userData(.wake, TCPSourceListener.wakeId))
        }

        armAccept()
        if wakeFd >= 0 { armWake() }
        var timeout = __kernel_timespec(tv_sec: 0, tv_nsec: Int64(TCPSourceListener.pollTimeoutMs) * 1_000_000)
        var cqes = [UnsafeMutablePointer<io_uring_cqe>?](repeating: nil, count: TCPSourceListener.completionsPerWaitMax)
        while !stopping.load(ordering: .relaxed) {
            var first: UnsafeMutablePointer<io_uring_cqe>? = nil
            let waited = io_uring_submit_and_wait_timeout(uring, &first, 1, &timeout, nil)
            if waited == -ETIME {
                flushIdle(all: true)
                continue
            }
            if waited < 0 && waited != -EINTR {
                logger.error("tcp source :\(port): io_uring_submit_and_wait_timeout failed (\(String(cString: strerror(-waited)))); source stopped")
                break
            }
            let n = Int(io_uring_peek_batch_cqe(uring, &cqes, UInt32(cqes.count)))
            for i in 0..<n {
                guard let cqe = cqes[i] else { preconditionFailure("io_uring returned a nil CQE") }
                let data = cqe.pointee.user_data, res = cqe.pointee.res, flags = cqe.pointee.flags
                let id = UInt32(truncatingIfNeeded: data)
                let more = flags & UInt32(IORING_CQE_F_MORE) != 0
                switch Tag(rawValue: data >> 56) {
                case .accept:
                    if res >= 0 {
                        if let connection = accepted(res) { armReceive(connection) }
                    } else if res != -EAGAIN && res != -EINTR && res != -ECONNABORTED {
                        logger.warning("tcp source :\(port): accept failed: \(String(cString: strerror(-res)))")
                        usleep(1000)  // e.g. EMFILE: do not spin on a failing accept
                    }
                    // Multishot accept stays armed while the kernel sets F_MORE; re-arm otherwise.
                    if !more { armAccept() }
                case .receive where multishot:
                    let bid = flags & UInt32(IORING_CQE_F_BUFFER) != 0 ? Int(flags >> UInt32(IORING_CQE_BUFFER_SHIFT)) : nil
                    guard let connection = connections[id] else {
                        // A receive of a dropped connection: its buffer goes back, its end is counted.
                        if let bid { recycle(bid) }
                        if !more { orphanedReceives -= 1 }
                        break
                    }
                    if !more { connection.multishotArmed = false }
                    if res > 0, let bid {
                        connection.mayHaveMore = more && flags & UInt32(IORING_CQE_F_SOCK_NONEMPTY) != 0
                        let bytes = UnsafeRawBufferPointer(start: providedBuffers! + bid * TCPSourceListener.providedBufferBytes, count: Int(res))
                        let alive = received(connection, bytes: bytes)
                        recycle(bid)
                        if alive && !more { armReceive(connection) }
                    } else if res == 0 {
                        if let bid { recycle(bid) }
                        closed(connection, error: nil)
                    } else if res == -EINTR || res == -EAGAIN || res == -ENOBUFS {
                        // ENOBUFS: every buffer was taken while the reactor was busy; they are back now.
                        if res == -ENOBUFS { stats.receiveBufferStalls.wrappingIncrement(ordering: .relaxed) }
                        if !more { armReceive(connection) }
                    } else {
                        closed(connection, error: -res)
                    }
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
                case .wake:
                    drainWake()  // released acks go out in flushIdle below
                    if !more { armWake() }
                case .cancel:
                    break
                case nil:
                    assertionFailure("unexpected io_uring completion tag \(data >> 56)")
                }
            }
            io_uring_cq_advance(uring, UInt32(n))
            flushIdle(all: false)
        }
        quiesce(uring, sqe, multishot: multishot)
    }

    /// Stopping: every receive still armed points into a connection buffer or a provided buffer, and
    /// closing the socket does not stop it (io_uring holds its own file reference). Cancel them all and
    /// reap their completions before the buffers can be freed; bytes that did arrive are still decoded.
    private func quiesce(_ uring: UnsafeMutablePointer<io_uring>, _ sqe: () -> UnsafeMutablePointer<io_uring_sqe>, multishot: Bool) {
        let s = sqe()
        io_uring_prep_cancel64(s, 0, Int32(IORING_ASYNC_CANCEL_ANY))
        io_uring_sqe_set_data64(s, TCPSourceListener.userData(.cancel, TCPSourceListener.listenerId))
        io_uring_submit(uring)
        func armedCount() -> Int {
            connections.values.reduce(0) { $0 + ($1.receiveArmed || $1.multishotArmed ? 1 : 0) } + orphanedReceives
        }
        var timeout = __kernel_timespec(tv_sec: 0, tv_nsec: 10_000_000)
        var waitedMs = 0
        while armedCount() > 0 && waitedMs < TCPSourceListener.quiesceTimeoutMs {
            var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
            let rc = io_uring_wait_cqe_timeout(uring, &cqe, &timeout)
            if rc == -ETIME { waitedMs += 10; continue }
            guard rc == 0, let cqe else { break }
            let data = cqe.pointee.user_data, res = cqe.pointee.res, flags = cqe.pointee.flags
            io_uring_cqe_seen(uring, cqe)
            let tag = Tag(rawValue: data >> 56)
            let more = flags & UInt32(IORING_CQE_F_MORE) != 0
            if tag == .accept && res >= 0 { close(res) }  // accepted just before the cancel: refuse it
            guard tag == .receive else { continue }
            let bid = flags & UInt32(IORING_CQE_F_BUFFER) != 0 ? Int(flags >> UInt32(IORING_CQE_BUFFER_SHIFT)) : nil
            guard let connection = connections[UInt32(truncatingIfNeeded: data)] else {
                if let bid { recycle(bid) }
                if multishot && !more { orphanedReceives -= 1 }
                continue
            }
            if multishot {
                if !more { connection.multishotArmed = false }
                if res > 0, let bid {
                    _ = received(connection, bytes: UnsafeRawBufferPointer(start: providedBuffers! + bid * TCPSourceListener.providedBufferBytes, count: Int(res)))
                    recycle(bid)
                } else if let bid {
                    recycle(bid)
                }
            } else if connection.receiveArmed {
                connection.receiveArmed = false
                if res > 0 { _ = received(connection, Int(res)) }
            }
        }
        let armed = armedCount()
        if armed > 0 {
            // Never free memory the kernel may still write: keep those connections (and buffers) for good.
            logger.error("tcp source :\(port): \(armed) receives did not complete within \(TCPSourceListener.quiesceTimeoutMs) ms of cancelling; keeping their buffers")
            for connection in connections.values where connection.receiveArmed { _ = Unmanaged.passRetained(connection) }
        }
        releaseProvidedBuffers(uring, safe: armed == 0)
    }
}
