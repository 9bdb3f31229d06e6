import Atomics
import CShims
import Engine
import Foundation
import Glibc
import Logging

/// Settings of one TCP source listener.
public struct TCPSourceOptions: Sendable {
    public var host: String = "0.0.0.0"
    /// 0 picks a free port (see `TCPSourceListener.port`).
    public var port: Int
    public var channels: [SourceChannel]
    /// Events per batch handed to the engine.
    public var batchSize: Int = 1024
    public var maxFrameBytes: Int = FrameDecoder.maxFrameBytesDefault
    public var backend: IOBackend = .auto
    /// Connections beyond this are closed at once (logged).
    public var connectionsMax: Int = 1024

    public init(host: String = "0.0.0.0", port: Int, channels: [SourceChannel]) {
        self.host = host
        self.port = port
        self.channels = channels
    }
}

/// Counters a listener keeps (read from any thread).
public final class TCPSourceStats: Sendable {
    public let connectionsAccepted = ManagedAtomic<Int>(0)
    public let connectionsRejected = ManagedAtomic<Int>(0)
    public let framesRejected = ManagedAtomic<Int>(0)
    public let eventsDecoded = ManagedAtomic<Int>(0)
    public let batchesPublished = ManagedAtomic<Int>(0)
    /// Times the reactor found the engine ring full and stopped reading (backpressure).
    public let ringFullWaits = ManagedAtomic<Int>(0)
    public init() {}
}

/// A TCP source: accepts publishers on one port, decodes siddhi-io-tcp frames and publishes batches
/// into a bounded SPSC ring read by the app's engine thread.
///
/// Runs on its own reactor thread (io_uring or epoll). When the ring is full the reactor stops
/// reading sockets until there is room, so TCP flow control pushes back on publishers: nothing is
/// dropped and nothing is buffered without bound. A malformed or oversized frame closes only the
/// connection that sent it.
public final class TCPSourceListener: @unchecked Sendable {
    public let options: TCPSourceOptions
    public let ring: SPSCRing<IngestBatch>
    public let doorbell: Doorbell
    public let stats = TCPSourceStats()
    /// The backend actually running (after fallback).
    public private(set) var backend: IOBackend = .auto
    /// The bound port (differs from `options.port` when that was 0).
    public private(set) var port = 0

    private let logger: Logger
    private let stopping = ManagedAtomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private var listenFd: Int32 = -1
    private var thread: Thread?
    private var connections: [Int32: SourceConnection] = [:]
    static let pollTimeoutMs = 50

    public init(options: TCPSourceOptions, ring: SPSCRing<IngestBatch>, doorbell: Doorbell, logger: Logger) {
        self.options = options
        self.ring = ring
        self.doorbell = doorbell
        self.logger = logger
    }

    /// Binds the port and starts the reactor thread. Throws if the port cannot be bound.
    public func start() throws(SocketError) {
        precondition(thread == nil, "listener started twice")
        let (resolved, reason) = IOBackend.resolve(options.backend)
        if let reason { logger.warning("\(reason)") }
        backend = resolved
        let (fd, boundPort) = try Socket.listen(host: options.host, port: options.port, nonBlocking: backend == .epoll)
        listenFd = fd
        port = boundPort
        let channels = options.channels.map(\.channel).joined(separator: ", ")
        logger.info("tcp source listening on \(options.host):\(boundPort) (\(backend.rawValue)), channels: \(channels)")
        let thread = Thread { [self] in
            if backend == .ioUring { runIOUring() } else { runEpoll() }
            closeAll()
            finished.signal()
        }
        thread.name = "tandem-tcp-\(boundPort)"
        self.thread = thread
        thread.start()
    }

    /// Closes the port and every connection, flushes decoded events to the ring, joins the thread.
    public func stop() {
        guard thread != nil, !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
        thread = nil
    }

    // MARK: Shared connection handling (reactor thread only)

    private func accepted(_ fd: Int32) -> SourceConnection? {
        guard connections.count < options.connectionsMax else {
            stats.connectionsRejected.wrappingIncrement(ordering: .relaxed)
            logger.warning("tcp source :\(port): connection limit \(options.connectionsMax) reached; closing new connection")
            close(fd)
            return nil
        }
        let decoder = FrameDecoder(channels: options.channels, batchSize: options.batchSize, maxFrameBytes: options.maxFrameBytes)
        let connection = SourceConnection(fd: fd, decoder: decoder)
        connections[fd] = connection
        stats.connectionsAccepted.wrappingIncrement(ordering: .relaxed)
        logger.debug("tcp source :\(port): connection from \(connection.peer)")
        return connection
    }

    /// Handles `n` received bytes; returns false when the connection was closed for a bad frame.
    private func received(_ connection: SourceConnection, _ n: Int) -> Bool {
        do {
            try connection.received(n, emit: publish)
            return true
        } catch {
            stats.framesRejected.wrappingIncrement(ordering: .relaxed)
            logger.error("tcp source :\(port): closing connection from \(connection.peer): \(error)")
            connection.decoder.flush(emit: publish)  // events of earlier, good frames still count
            drop(connection)
            return false
        }
    }

    private func closed(_ connection: SourceConnection, error: Int32?) {
        if let error {
            logger.info("tcp source :\(port): connection from \(connection.peer) failed: \(String(cString: strerror(error)))")
        } else if connection.partialBytes > 0 {
            logger.warning("tcp source :\(port): connection from \(connection.peer) closed mid-frame; \(connection.partialBytes) bytes of an incomplete frame dropped")
        } else {
            logger.debug("tcp source :\(port): connection from \(connection.peer) closed")
        }
        connection.decoder.flush(emit: publish)
        drop(connection)
    }

    private func drop(_ connection: SourceConnection) {
        connections[connection.fd] = nil
        close(connection.fd)
    }

    /// Pushes a batch to the engine ring, waiting (and so not reading sockets) while it is full.
    private func publish(_ channel: SourceChannel, _ batch: EventBatch) {
        let item = IngestBatch(streamIndex: channel.streamIndex, batch: batch)
        var waited = false
        var backoffUs: UInt32 = 1
        while !ring.tryPush(item) {
            if !waited {
                waited = true
                stats.ringFullWaits.wrappingIncrement(ordering: .relaxed)
            }
            doorbell.ring()
            usleep(backoffUs)
            backoffUs = min(backoffUs * 2, 1000)
        }
        stats.eventsDecoded.wrappingIncrement(by: batch.count, ordering: .relaxed)
        stats.batchesPublished.wrappingIncrement(ordering: .relaxed)
        doorbell.ring()
    }

    /// After a round of completions: hand partial batches on so latency stays low when traffic is light.
    private func flushAll() {
        for connection in connections.values where connection.decoder.pendingEvents > 0 {
            connection.decoder.flush(emit: publish)
        }
    }

    private func closeAll() {
        for connection in connections.values {
            connection.decoder.flush(emit: publish)
            close(connection.fd)
        }
        connections.removeAll()
        if listenFd >= 0 { close(listenFd) }
        listenFd = -1
        logger.info("tcp source :\(port) stopped")
    }

    // MARK: io_uring reactor

    private enum Tag: UInt64 { case accept = 1, receive = 2 }

    private static func userData(_ tag: Tag, _ fd: Int32) -> UInt64 { tag.rawValue << 56 | UInt64(UInt32(bitPattern: fd)) }

    private func runIOUring() {
        var ring = io_uring()
        let rc = io_uring_queue_init(256, &ring, 0)
        guard rc == 0 else {
            logger.error("tcp source :\(port): io_uring_queue_init failed (errno \(-rc)); no events will be received")
            return
        }
        defer { io_uring_queue_exit(&ring) }

        func sqe() -> UnsafeMutablePointer<io_uring_sqe> {
            if let s = io_uring_get_sqe(&ring) { return s }
            io_uring_submit(&ring)  // queue full: submit what is there and take a fresh entry
            return io_uring_get_sqe(&ring)!
        }
        func armAccept() {
            let s = sqe()
            io_uring_prep_multishot_accept(s, listenFd, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            io_uring_sqe_set_data64(s, TCPSourceListener.userData(.accept, listenFd))
        }
        func armReceive(_ connection: SourceConnection) {
            let area = connection.receiveArea
            let s = sqe()
            io_uring_prep_recv(s, connection.fd, area.baseAddress, area.count, 0)
            io_uring_sqe_set_data64(s, TCPSourceListener.userData(.receive, connection.fd))
        }

        armAccept()
        var timeout = __kernel_timespec(tv_sec: 0, tv_nsec: Int64(TCPSourceListener.pollTimeoutMs) * 1_000_000)
        var cqes = [UnsafeMutablePointer<io_uring_cqe>?](repeating: nil, count: 128)
        while !stopping.load(ordering: .relaxed) {
            io_uring_submit(&ring)
            var first: UnsafeMutablePointer<io_uring_cqe>? = nil
            let waited = io_uring_wait_cqe_timeout(&ring, &first, &timeout)
            if waited < 0 && waited != -ETIME && waited != -EINTR {
                logger.error("tcp source :\(port): io_uring_wait_cqe_timeout failed (errno \(-waited))")
                return
            }
            let n = Int(io_uring_peek_batch_cqe(&ring, &cqes, UInt32(cqes.count)))
            for i in 0..<n {
                let cqe = cqes[i]!
                let data = cqe.pointee.user_data
                let res = cqe.pointee.res
                let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: data))
                switch Tag(rawValue: data >> 56) {
                case .accept:
                    if res >= 0, let connection = accepted(res) { armReceive(connection) }
                    if res < 0 && res != -EAGAIN && res != -EINTR {
                        logger.warning("tcp source :\(port): accept failed: \(String(cString: strerror(-res)))")
                    }
                    // Multishot accept stays armed while the kernel sets F_MORE; re-arm otherwise.
                    if cqe.pointee.flags & UInt32(IORING_CQE_F_MORE) == 0 { armAccept() }
                case .receive:
                    guard let connection = connections[fd] else { break }
                    if res > 0 {
                        if received(connection, Int(res)) { armReceive(connection) }
                    } else if res == 0 {
                        closed(connection, error: nil)
                    } else if res == -EINTR || res == -EAGAIN || res == -ENOBUFS {
                        armReceive(connection)
                    } else {
                        closed(connection, error: -res)
                    }
                case nil:
                    break
                }
            }
            io_uring_cq_advance(&ring, UInt32(n))
            flushAll()
        }
    }

    // MARK: epoll reactor

    private func runEpoll() {
        let epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else {
            logger.error("tcp source :\(port): epoll_create1 failed (errno \(errno)); no events will be received")
            return
        }
        defer { close(epfd) }
        func watch(_ fd: Int32) {
            var event = epoll_event()
            event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
            event.data.fd = fd
            epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event)
        }
        watch(listenFd)
        var events = [epoll_event](repeating: epoll_event(), count: 128)
        // Reads per connection per wake-up, so one busy publisher cannot starve the others.
        let readsPerWakeMax = 16
        while !stopping.load(ordering: .relaxed) {
            let n = epoll_wait(epfd, &events, Int32(events.count), Int32(TCPSourceListener.pollTimeoutMs))
            if n < 0 {
                if errno == EINTR { continue }
                logger.error("tcp source :\(port): epoll_wait failed (errno \(errno))")
                return
            }
            for i in 0..<Int(n) {
                let fd = events[i].data.fd
                if fd == listenFd {
                    while true {
                        let client = tandem_accept4(listenFd, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                        if client < 0 { break }
                        if accepted(client) != nil { watch(client) }
                    }
                    continue
                }
                guard let connection = connections[fd] else { continue }
                for _ in 0..<readsPerWakeMax {
                    let area = connection.receiveArea
                    let got = read(fd, area.baseAddress, area.count)
                    if got > 0 {
                        guard received(connection, got) else { break }
                        if got < area.count { break }  // drained for now
                    } else if got == 0 {
                        closed(connection, error: nil)
                        break
                    } else {
                        let e = errno
                        if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { break }
                        closed(connection, error: e)
                        break
                    }
                }
            }
            flushAll()
        }
    }
}
