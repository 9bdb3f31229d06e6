import Atomics
import CShims
import Engine
import Foundation
import Glibc
import Logging

/// The active node's end of the event-sync link: forwards every input batch (with its sequence
/// numbers) and the control messages to the passive node's ``EventSyncServer``.
///
/// Thread-safe: the control-plane thread attaches and detaches, every app's engine thread forwards
/// (one lock around the socket; each batch is one frame written with as few syscalls as the kernel
/// allows). A passive that reads nothing for `stallLimitMs` (its queue stays full) is detached,
/// logged, and the active keeps serving without it; the control plane re-attaches it later.
public final class EventSyncClient: @unchecked Sendable {
    /// This (active) node's id, sent in the hello frame.
    public let nodeId: String
    /// How long a write may make no progress before the passive is detached.
    public let stallLimitMs: Int
    private let logger: Logger
    private let lock = NSLock()
    private var fd: Int32 = -1
    private var peer = ""
    private let encoder = FrameEncoder(sessionId: "tandem-eventsync")
    /// Bumped at every attach; lets callers notice a re-attach (the passive needs a checkpoint).
    public let generation = ManagedAtomic<Int>(0)
    /// Events written to the passive (metric).
    public let eventsForwarded = ManagedAtomic<Int>(0)
    /// Times a passive was detached for an error or a stall (metric).
    public let detaches = ManagedAtomic<Int>(0)

    /// - Parameters:
    ///   - stallLimitMs: how long a write may make no progress before the passive is detached.
    ///   - logger: attach and detach events.
    public init(nodeId: String, stallLimitMs: Int, logger: Logger) {
        precondition(stallLimitMs > 0)
        self.nodeId = nodeId
        self.stallLimitMs = stallLimitMs
        self.logger = logger
    }

    /// Whether a passive is attached now.
    public var isAttached: Bool {
        lock.lock(); defer { lock.unlock() }
        return fd >= 0
    }

    /// The attached passive's address, or nil.
    public var attachedPeer: String? {
        lock.lock(); defer { lock.unlock() }
        return fd >= 0 ? peer : nil
    }

    /// Connects to a passive's event-sync server (replacing any attached one) and says hello.
    ///
    /// `committed` (app, revision, last sequence) are the snapshots committed so far: announced
    /// right after the hello, before any events, so that a passive that kept its queue across a
    /// detach trims what a revision it did not hear about covers (else a full queue would push back
    /// before the announcement could be read).
    public func attach(host: String, port: Int, term: Int64, connectTimeoutMs: Int,
                       committed: [(app: String, revision: String, lastSequence: Int64)] = []) throws(SocketError) {
        let newFd = try EventSyncClient.connect(host: host, port: port, timeoutMs: connectTimeoutMs)
        var hello: [UInt8] = []
        EventSyncProtocol.appendHello(nodeId: nodeId, term: term, to: &hello)
        for c in committed { EventSyncProtocol.appendPersisted(app: c.app, revision: c.revision, lastSequence: c.lastSequence, to: &hello) }
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 { close(fd) }
        fd = newFd
        inbound.removeAll()
        received.removeAll()
        peer = "\(host):\(port)"
        guard writeLocked(hello) else { throw SocketError(operation: "hello to \(host):\(port)", errno: ECONNRESET) }
        generation.wrappingIncrement(ordering: .releasing)
        logger.info("event-sync: attached passive \(peer)")
    }

    /// A non-blocking IPv4 socket connected to host:port within `timeoutMs`.
    static func connect(host: String, port: Int, timeoutMs: Int) throws(SocketError) -> Int32 {
        var addr = try Socket.sockaddr(host: host, port: port)
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard s >= 0 else { throw SocketError(operation: "socket", errno: errno) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let failure = Socket.awaitConnect(s, result: rc, timeoutMs: timeoutMs)
        guard failure == 0 else {
            close(s)
            throw SocketError(operation: "connect \(host):\(port)", errno: failure)
        }
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return s
    }

    /// Forwards one batch of `app`'s stream `stream` whose first event has sequence `firstSequence`.
    /// `scratch` is the caller's reusable encode buffer. Returns false when no passive is attached
    /// (or it was detached now).
    @discardableResult
    public func forward(app: String, stream: String, firstSequence: Int64, batch: EventBatch,
                        publisherId: UInt64 = 0, publisherSeq: UInt64 = 0, clockMs: Int64 = 0, scratch: inout [UInt8]) -> Bool {
        guard fdLooksAttached else { return false }
        scratch.removeAll(keepingCapacity: true)
        EventSyncProtocol.appendEvents(app: app, stream: stream, firstSequence: firstSequence, batch: batch,
                                       publisherId: publisherId, publisherSeq: publisherSeq, clockMs: clockMs,
                                       encoder: encoder, to: &scratch)
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return false }
        guard writeLocked(scratch) else { return false }
        eventsForwarded.wrappingIncrement(by: batch.count, ordering: .relaxed)
        readReceivedLocked()
        return true
    }

    /// Forwards a move of `app`'s engine clock to `clockMs` after event `afterSequence` (and the
    /// checksum of a snapshot taken there), in order with the events. False when no passive is attached.
    @discardableResult
    public func forwardClock(app: String, afterSequence: Int64, clockMs: Int64, checksum: UInt64? = nil) -> Bool {
        guard fdLooksAttached else { return false }
        var bytes: [UInt8] = []
        EventSyncProtocol.appendClock(app: app, afterSequence: afterSequence, clockMs: clockMs, checksum: checksum, to: &bytes)
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return false }
        return writeLocked(bytes)
    }

    /// Tells the passive how many outputs of each of `app`'s sinks are done with (see `delivered` frames).
    @discardableResult
    public func forwardDelivered(app: String, watermarks: [Int64]) -> Bool {
        guard fdLooksAttached else { return false }
        var bytes: [UInt8] = []
        EventSyncProtocol.appendDelivered(app: app, watermarks: watermarks, to: &bytes)
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return false }
        return writeLocked(bytes)
    }

    /// The last sequence of `app` the attached passive said it holds (its `received` frames),
    /// reading any that arrived; nil when no passive is attached.
    public func receivedThrough(app: String) -> Int64? {
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return nil }
        readReceivedLocked()
        return received[app] ?? -1
    }

    /// Bytes of `received` frames read so far (a frame may arrive in pieces); bounded by the frame size.
    private var inbound: [UInt8] = []
    private var received: [String: Int64] = [:]

    /// Reads what the passive sent back, without blocking, and applies whole `received` frames.
    private func readReceivedLocked() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                inbound.append(contentsOf: chunk[0..<n])
                continue
            }
            if n == 0 { detachLocked(reason: "the passive closed the link"); return }
            if errno == EINTR { continue }
            break
        }
        var offset = 0
        while inbound.count - offset >= 4 {
            let length = inbound.withUnsafeBytes { Int($0.loadBigEndianUInt32(at: offset)) }
            guard length >= 1, length <= 1 << 16 else {
                detachLocked(reason: "malformed frame from the passive")
                return
            }
            guard inbound.count - offset - 4 >= length else { break }
            let frame = inbound.withUnsafeBytes { raw in
                try? EventSyncProtocol.decode(body: UnsafeRawBufferPointer(rebasing: raw[(offset + 4)..<(offset + 4 + length)]))
            }
            offset += 4 + length
            if case .received(let app, let last)? = frame { received[app] = max(received[app] ?? -1, last) }
        }
        if offset > 0 { inbound.removeFirst(offset) }
    }

    /// Tells the passive that a snapshot of `app` up to `lastSequence` is committed.
    @discardableResult
    public func persisted(app: String, revision: String, lastSequence: Int64) -> Bool {
        var bytes: [UInt8] = []
        EventSyncProtocol.appendPersisted(app: app, revision: revision, lastSequence: lastSequence, to: &bytes)
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return false }
        return writeLocked(bytes)
    }

    /// Tells the passive the lease is released (graceful handover), then closes the link.
    public func released() {
        var bytes: [UInt8] = []
        EventSyncProtocol.appendReleased(to: &bytes)
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return }
        _ = writeLocked(bytes)
        shutdown(fd, Int32(SHUT_WR))
        close(fd)
        fd = -1
    }

    /// Closes the link (logged with `reason`).
    public func detach(reason: String) {
        lock.lock()
        defer { lock.unlock() }
        detachLocked(reason: reason)
    }

    /// A racy read that spares the lock when nothing is attached; `forward` re-checks under it.
    private var fdLooksAttached: Bool {
        lock.lock(); defer { lock.unlock() }
        return fd >= 0
    }

    private func detachLocked(reason: String) {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        detaches.wrappingIncrement(ordering: .relaxed)
        logger.error("event-sync: detached passive \(peer): \(reason); the passive is out of sync until re-attached and checkpointed")
    }

    /// Writes all of `bytes`; detaches on an error or when no byte goes out for `stallLimitMs`.
    private func writeLocked(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        var lastProgressMs = EventSyncServer.nowMs()
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
                lastProgressMs = EventSyncServer.nowMs()
                continue
            }
            let e = errno
            if n < 0 && e == EINTR { continue }
            if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) {
                let waited = EventSyncServer.nowMs() - lastProgressMs
                if waited >= stallLimitMs {
                    detachLocked(reason: "it read nothing for \(stallLimitMs) ms (queue full)")
                    return false
                }
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pfd, 1, Int32(min(100, stallLimitMs - waited)))
                continue
            }
            detachLocked(reason: "send failed: \(String(cString: strerror(e)))")
            return false
        }
        return true
    }
}
