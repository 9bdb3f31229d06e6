import CShims
import Engine
import Glibc

/// One accepted publisher connection: its receive buffer and frame decoder.
///
/// Bytes are received into `buffer[filled..<capacity]`, complete frames decoded in place, and the
/// trailing partial frame moved to the front. The buffer grows only to hold one frame of up to
/// `maxFrameBytes` and shrinks back once that frame is decoded, so memory per connection is bounded.
///
/// Reactor-thread only.
final class SourceConnection {
    static let initialBufferBytes = 64 << 10

    /// Listener-unique id (never reused while the connection lives); reactors tag their operations
    /// with it rather than with the fd, which the kernel reuses as soon as it is closed.
    let id: UInt32
    let fd: Int32
    let peer: String
    let decoder: FrameDecoder
    /// False once a receive found the socket drained: the partial batch can be handed on now.
    var mayHaveMore = false
    /// io_uring only: a recv into `buffer` is in flight, so the buffer must not move or be freed.
    var receiveArmed = false
    /// io_uring only: a multishot recv into the listener's provided buffers is armed on this socket.
    var multishotArmed = false
    private(set) var buffer: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var filled = 0

    /// The publisher id of this connection's hello when it asked for keepalives (docs/protocol.md):
    /// only then does it get keepalive and not-active records.
    var keepalivePublisher: UInt64?
    /// Set once closing has begun (superseded by a newer connection of its publisher id): bytes
    /// still arriving are ignored until the reactor sees the socket end.
    var retired = false
    /// Monotonic ms when the last record (ack or keepalive) was written completely, or the hello came.
    var lastOutputMs = 0

    init(id: UInt32, fd: Int32, decoder: FrameDecoder) {
        self.id = id
        self.fd = fd
        self.decoder = decoder
        decoder.connectionId = id
        peer = Socket.peerName(fd)
        capacity = min(SourceConnection.initialBufferBytes, decoder.maxFrameBytes)
        buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        precondition(!receiveArmed, "freeing a buffer the kernel may be writing into")
        buffer.deallocate()
    }

    /// Where the next receive writes, and how much room it has (never empty).
    var receiveArea: UnsafeMutableRawBufferPointer {
        assert(filled < capacity, "receive buffer full: the frame should have grown it")
        return UnsafeMutableRawBufferPointer(start: buffer + filled, count: capacity - filled)
    }

    /// Bytes of an incomplete frame left over (reported when a connection closes mid-frame).
    var partialBytes: Int { filled }

    /// Decodes `input` (bytes received into memory the connection does not own, e.g. an io_uring
    /// provided buffer): first completes a partial frame left in `buffer`, then decodes every complete
    /// frame in place in `input`, and copies only a trailing partial frame into `buffer`.
    func consume(_ input: UnsafeRawBufferPointer, emit: (SourceChannel, EventBatch) -> Void) throws(FrameDecodeError) {
        var rest = input
        while filled > 0 && !rest.isEmpty {
            let known = try decoder.frameLength(UnsafeRawBufferPointer(start: buffer, count: filled))
            let target = known ?? FrameDecoder.headerBytes
            if target > capacity { resize(to: target) }
            let take = min(target - filled, rest.count)
            (buffer + filled).copyMemory(from: rest.baseAddress!, byteCount: take)
            filled += take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if known != nil && filled == target {
                let consumed = try decoder.decode(UnsafeRawBufferPointer(start: buffer, count: filled), emit: emit)
                assert(consumed == filled, "a complete frame was not consumed")
                filled = 0
                if capacity > SourceConnection.initialBufferBytes { resize(to: SourceConnection.initialBufferBytes) }
            }
        }
        guard !rest.isEmpty else { return }
        let consumed = try decoder.decode(rest, emit: emit)
        let tail = UnsafeRawBufferPointer(rebasing: rest[consumed...])
        guard !tail.isEmpty else { return }
        let next = try decoder.frameLength(tail)
        let needed = max(next ?? 0, tail.count)
        if needed > capacity { resize(to: needed) }
        buffer.copyMemory(from: tail.baseAddress!, byteCount: tail.count)
        filled = tail.count
    }

    // MARK: Acknowledgements and keepalives (reactor thread; bounded: one record being written, plus
    // the newest ack and one keepalive waiting)

    private var ackOut = [UInt8](repeating: 0, count: FrameEncoder.ackBytes)
    /// A keepalive to write once nothing else is (replaced by nothing: one is enough).
    private var keepaliveWaiting: FrameEncoder.NodeRecord?
    /// Bytes of `ackOut` already written; `ackBytes` when there is nothing left to write.
    private var ackOutSent = FrameEncoder.ackBytes
    /// The newest ack not yet started (acks are cumulative: a newer one replaces an older one).
    private var ackWaiting: (publisherId: UInt64, batchSeq: UInt64)?
    /// Acks written completely.
    private(set) var acksSent = 0

    /// Acks due but not yet released (`TCPSourceOptions.AckRelease.onRelease`), oldest first, each with
    /// the ticket that must be released first. Bounded: at `acksAwaitingMax` the newest entry absorbs
    /// the next ack (acks are cumulative, so that only delays the older one).
    private var awaiting: [(ack: (publisherId: UInt64, batchSeq: UInt64), ticket: UInt64)] = []
    static let acksAwaitingMax = 64

    var hasAcksAwaitingRelease: Bool { !awaiting.isEmpty }

    /// Records an ack that may go out once `ticket` is released.
    func awaitRelease(_ ack: (publisherId: UInt64, batchSeq: UInt64), ticket: UInt64) {
        if awaiting.count >= SourceConnection.acksAwaitingMax {
            awaiting[awaiting.count - 1] = (ack, ticket)
        } else {
            awaiting.append((ack, ticket))
        }
    }

    /// Queues the newest awaiting ack whose ticket is at most `released` (older ones are covered by it).
    func releaseAcks(through released: UInt64) {
        var newest: (publisherId: UInt64, batchSeq: UInt64)? = nil
        var k = 0
        while k < awaiting.count && awaiting[k].ticket <= released {
            newest = awaiting[k].ack
            k += 1
        }
        guard let newest else { return }
        awaiting.removeFirst(k)
        sendAck(newest)
    }

    /// Queues `ack` and writes what the socket takes now without blocking; the rest goes out on a
    /// later `pumpAcks` (the reactor calls it on every wake-up).
    func sendAck(_ ack: (publisherId: UInt64, batchSeq: UInt64)) {
        ackWaiting = ack
        pumpAcks()
    }

    /// Whether an ack is still to be written.
    var hasUnsentAck: Bool { ackWaiting != nil || ackOutSent < FrameEncoder.ackBytes }

    /// Queues a keepalive (after a pending ack) and writes what the socket takes now.
    func sendKeepalive(intervalMs: UInt32, leaseMs: UInt32) {
        guard let publisherId = keepalivePublisher else { return }
        keepaliveWaiting = .keepalive(publisherId: publisherId, intervalMs: intervalMs, leaseMs: leaseMs)
        pumpAcks()
    }

    /// Writes what is pending and then a not-active record, best effort without blocking (the
    /// connection is closed next; a publisher that is not reading misses it and sees the close).
    func sendNotActive(_ reason: FrameEncoder.NotActiveReason) {
        guard let publisherId = keepalivePublisher else { return }
        keepaliveWaiting = nil
        pumpAcks()
        guard !hasUnsentAck else { return }  // the socket is full: a partial record must not be followed
        ackOut.withUnsafeMutableBytes { FrameEncoder.encode(.notActive(publisherId: publisherId, reason: reason), into: $0) }
        ackOutSent = 0
        pumpAcks()
    }

    /// Writes pending ack bytes without blocking. A failing socket is left to the receive side to report.
    func pumpAcks() {
        while true {
            if ackOutSent < FrameEncoder.ackBytes {
                let n = ackOut.withUnsafeBytes { out in
                    Glibc.send(fd, out.baseAddress! + ackOutSent, FrameEncoder.ackBytes - ackOutSent, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
                }
                if n <= 0 { return }  // EAGAIN (publisher not reading acks) or a failed socket
                ackOutSent += n
                if ackOutSent == FrameEncoder.ackBytes {
                    if ackOut[0] == FrameEncoder.ackByte { acksSent += 1 }
                    lastOutputMs = SourceConnection.nowMs()
                }
            } else if let ack = ackWaiting {
                ackWaiting = nil
                keepaliveWaiting = nil  // the ack shows the node is there just as well
                ackOut.withUnsafeMutableBytes { FrameEncoder.encodeAck(publisherId: ack.publisherId, batchSeq: ack.batchSeq, into: $0) }
                ackOutSent = 0
            } else if let keepalive = keepaliveWaiting {
                keepaliveWaiting = nil
                ackOut.withUnsafeMutableBytes { FrameEncoder.encode(keepalive, into: $0) }
                ackOutSent = 0
            } else {
                return
            }
        }
    }

    /// Monotonic milliseconds (coarse clock: keepalive timing needs no more).
    static func nowMs() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }

    /// Accounts `n` newly received bytes and decodes every complete frame.
    func received(_ n: Int, emit: (SourceChannel, EventBatch) -> Void) throws(FrameDecodeError) {
        precondition(n > 0 && filled + n <= capacity, "received more than the receive area")
        filled += n
        let consumed = try decoder.decode(UnsafeRawBufferPointer(start: buffer, count: filled), emit: emit)
        if consumed > 0 {
            filled -= consumed
            if filled > 0 { memmove(buffer, buffer + consumed, filled) }
        }
        let next = try decoder.frameLength(UnsafeRawBufferPointer(start: buffer, count: filled))
        if let next, next > capacity {
            // The next frame is larger than the buffer: make room for all of it (≤ maxFrameBytes).
            resize(to: next)
        } else if capacity > SourceConnection.initialBufferBytes && filled < SourceConnection.initialBufferBytes
                    && (next ?? 0) <= SourceConnection.initialBufferBytes {
            // A large frame is done: give its memory back.
            resize(to: SourceConnection.initialBufferBytes)
        }
        assert(filled < capacity)
    }

    private func resize(to bytes: Int) {
        precondition(!receiveArmed, "resizing a buffer the kernel may be writing into")
        precondition(bytes > filled && bytes <= decoder.maxFrameBytes || bytes == SourceConnection.initialBufferBytes)
        let newBuffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        newBuffer.copyMemory(from: buffer, byteCount: filled)
        buffer.deallocate()
        buffer = newBuffer
        capacity = bytes
    }
}
