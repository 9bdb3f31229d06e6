import Atomics
import CShims
import Foundation
import Glibc
import Logging

/// The passive node's event-sync server: accepts the active node's connection (one at a time; a new
/// one replaces the old), reads its frames into an ``EventSyncQueue`` and applies its control messages.
///
/// One thread of its own. When the queue is full it stops reading the socket, so TCP flow control
/// pushes back on the active node. A malformed frame closes the connection (logged).
public final class EventSyncServer: @unchecked Sendable {
    /// What the server reports to its owner (called on the server thread).
    public enum Notice: Sendable {
        /// An active connected (its hello).
        case connected(nodeId: String, term: Int64)
        /// The connection closed (peer gone, or a bad frame).
        case disconnected
        /// The active released its lease: take over now.
        case released
    }

    /// The address listened on.
    public let host: String
    /// Where received events go.
    public let queue: EventSyncQueue
    /// The bound port (differs from the requested one when that was 0); valid after `start()`.
    public private(set) var port: Int
    private let logger: Logger
    private let notify: @Sendable (Notice) -> Void
    private let stopping = ManagedAtomic<Bool>(false)
    /// Milliseconds since boot until which a stopping server keeps reading an open connection.
    private let drainUntilMs = ManagedAtomic<Int>(0)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    private var listenFd: Int32 = -1
    /// Frames read (metric).
    public let framesReceived = ManagedAtomic<Int>(0)
    /// Events read (metric).
    public let eventsReceived = ManagedAtomic<Int>(0)

    static let pollMs: Int32 = 50
    static let readChunkBytes = 1 << 16

    /// - Parameters:
    ///   - host, port: where to listen (port 0: any free port, see ``port``).
    ///   - notify: told of connections, disconnections and a released lease, on the server thread.
    public init(host: String, port: Int, queue: EventSyncQueue, logger: Logger, notify: @escaping @Sendable (Notice) -> Void) {
        self.host = host
        self.port = port
        self.queue = queue
        self.logger = logger
        self.notify = notify
    }

    /// Binds and starts the server thread.
    public func start() throws(SocketError) {
        precondition(thread == nil)
        let (fd, bound) = try Socket.listen(host: host, port: port, nonBlocking: true, backlog: 8)
        listenFd = fd
        port = bound
        logger.info("event-sync server listening on \(host):\(bound)")
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "tandem-eventsync-server"
        self.thread = thread
        thread.start()
    }

    /// Stops accepting; keeps reading an open connection until the peer closes it or `drainMs`
    /// passes (so everything a dying or handing-over active sent is queued), then closes. Idempotent.
    public func stop(drainMs: Int = 0) {
        guard thread != nil else { return }
        drainUntilMs.store(EventSyncServer.nowMs() + drainMs, ordering: .relaxed)
        stopping.store(true, ordering: .releasing)
        finished.wait()
        thread = nil
    }

    static func nowMs() -> Int { Int(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

    /// Sends `bytes` unless the socket would block before the first byte (then the next ack covers
    /// it); a started frame is always finished (briefly waiting), so the stream stays framed.
    static func sendAck(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        var waitedMs = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n > 0 {
                offset += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            guard n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), offset > 0, waitedMs < 1_000 else { return }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&pfd, 1, 10)
            waitedMs += 10
        }
    }

    /// Per app, the last sequence queued since the last `received` frame went out.
    private var receivedThrough: [String: Int64] = [:]

    private func run() {
        var conn: Int32 = -1
        var buffer: [UInt8] = []
        var readOffset = 0
        defer {
            if conn >= 0 { close(conn) }
            if listenFd >= 0 { close(listenFd) }
            listenFd = -1
        }
        while true {
            let stop = stopping.load(ordering: .acquiring)
            if stop && (conn < 0 || EventSyncServer.nowMs() >= drainUntilMs.load(ordering: .relaxed)) { return }
            var fds = [pollfd(fd: stop ? -1 : listenFd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: conn, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, EventSyncServer.pollMs)
            if ready < 0 && errno != EINTR { logger.error("event-sync server: poll failed: \(String(cString: strerror(errno)))"); return }
            if ready <= 0 { continue }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let accepted = tandem_accept4(listenFd, Int32(SOCK_CLOEXEC.rawValue))
                if accepted >= 0 {
                    if conn >= 0 {
                        logger.warning("event-sync server: a new active connection from \(Socket.peerName(accepted)) replaces the one from \(Socket.peerName(conn))")
                        close(conn)
                        notify(.disconnected)
                    }
                    conn = accepted
                    buffer.removeAll(keepingCapacity: true)
                    readOffset = 0
                    logger.info("event-sync server: active connected from \(Socket.peerName(conn))")
                }
            }
            guard conn >= 0, fds[1].revents != 0 else { continue }
            // Read one chunk, then hand on every complete frame.
            if buffer.count - readOffset < EventSyncServer.readChunkBytes {
                if readOffset > 0 {
                    buffer.removeFirst(readOffset)
                    readOffset = 0
                }
            }
            let before = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: EventSyncServer.readChunkBytes))
            let n = buffer.withUnsafeMutableBytes { read(conn, $0.baseAddress! + before, EventSyncServer.readChunkBytes) }
            buffer.removeLast(EventSyncServer.readChunkBytes - max(0, n))
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if n <= 0 {
                if buffer.count > readOffset {
                    logger.warning("event-sync server: connection closed mid-frame; \(buffer.count - readOffset) bytes dropped")
                }
                logger.info("event-sync server: active disconnected")
                close(conn)
                conn = -1
                buffer.removeAll(keepingCapacity: true)
                readOffset = 0
                notify(.disconnected)
                continue
            }
            do {
                while buffer.count - readOffset >= 4 {
                    let length = buffer.withUnsafeBytes { Int($0.loadBigEndianUInt32(at: readOffset)) }
                    guard length >= 1 && length <= EventSyncProtocol.frameBytesMax else {
                        throw EventSyncError("frame length \(length) out of range")
                    }
                    guard buffer.count - readOffset - 4 >= length else { break }
                    let frame = try buffer.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(EventSyncError) in
                        try EventSyncProtocol.decode(body: UnsafeRawBufferPointer(rebasing: raw[(readOffset + 4)..<(readOffset + 4 + length)]))
                    }
                    readOffset += 4 + length
                    handle(frame)
                    if case .events(let entry) = frame { receivedThrough[entry.app] = max(receivedThrough[entry.app] ?? entry.lastSequence, entry.lastSequence) }
                }
                // Tell the active what is now held (cumulative; skipped if it would block: the
                // next one covers it).
                if !receivedThrough.isEmpty {
                    var ack: [UInt8] = []
                    for (app, last) in receivedThrough { EventSyncProtocol.appendReceived(app: app, lastSequence: last, to: &ack) }
                    receivedThrough.removeAll(keepingCapacity: true)
                    EventSyncServer.sendAck(conn, ack)
                }
            } catch {
                logger.error("event-sync server: closing connection from \(Socket.peerName(conn)): \(error)")
                close(conn)
                conn = -1
                buffer.removeAll(keepingCapacity: true)
                readOffset = 0
                notify(.disconnected)
            }
        }
    }

    private func handle(_ frame: EventSyncProtocol.Frame) {
        framesReceived.wrappingIncrement(ordering: .relaxed)
        switch frame {
        case .events(let entry):
            eventsReceived.wrappingIncrement(by: entry.eventCount, ordering: .relaxed)
            var warned = false
            // Full: wait (not reading the socket) until a control message trims it. Once stopping,
            // the remaining frames of a dying active are queued anyway (a bounded drain).
            while !queue.append(entry, timeoutMs: 100, force: stopping.load(ordering: .relaxed)) {
                if !warned {
                    logger.warning("event-sync server: queue full (\(queue.capacityEvents) events); pushing back on the active node")
                    warned = true
                }
            }
        case .persisted(let app, let revision, let last):
            queue.persisted(app: app, revision: revision, lastSequence: last)
        case .hello(let node, let term):
            queue.connectionStarted(term: term)
            notify(.connected(nodeId: node, term: term))
        case .released:
            notify(.released)
        case .delivered(let app, let watermarks):
            queue.delivered(app: app, watermarks: watermarks)
        case .received:
            break  // passive → active only
        }
    }
}
