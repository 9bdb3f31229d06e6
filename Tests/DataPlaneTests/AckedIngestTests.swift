@testable import DataPlane
import Engine
import Foundation
import Glibc
import Logging
import Testing

/// A loopback TCP proxy that cuts its first connection after forwarding `cutAfterBytes` bytes from the
/// client (closing both sides mid-frame), and forwards every later connection untouched: a network
/// failure in the middle of a publisher's stream.
final class CuttingProxy: @unchecked Sendable {
    let port: Int
    private let listenFd: Int32
    private let target: Int
    private let cutAfterBytes: Int
    private let stopping = ManagedFlag()
    private var threads: [Thread] = []
    private let lock = NSLock()
    private(set) var connectionsSeen = 0

    init(target: Int, cutAfterBytes: Int) {
        self.target = target
        self.cutAfterBytes = cutAfterBytes
        let (fd, boundPort) = boundLoopbackSocket()
        precondition(listen(fd, 16) == 0)
        listenFd = fd
        port = boundPort
        let acceptor = Thread { [self] in acceptLoop() }
        acceptor.start()
    }

    func stop() {
        stopping.set()
        shutdown(listenFd, Int32(SHUT_RDWR))
        close(listenFd)
    }

    private func acceptLoop() {
        var first = true
        while !stopping.isSet {
            let client = accept(listenFd, nil, nil)
            guard client >= 0 else { return }
            let upstream = connectLoopbackPort(target)
            let limit = first ? cutAfterBytes : Int.max
            first = false
            lock.lock(); connectionsSeen += 1; lock.unlock()
            Thread { CuttingProxy.pump(client: client, upstream: upstream, limit: limit) }.start()
        }
    }

    /// Forwards both ways until either side closes, or (client to upstream) `limit` bytes went through.
    private static func pump(client: Int32, upstream: Int32, limit: Int) {
        defer {
            shutdown(client, Int32(SHUT_RDWR)); close(client)
            shutdown(upstream, Int32(SHUT_RDWR)); close(upstream)
        }
        var forwarded = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)]
        while poll(&fds, 2, 10_000) > 0 {
            for k in 0..<2 where fds[k].revents != 0 {
                let from = fds[k].fd, to = fds[1 - k].fd
                var want = buffer.count
                if k == 0 { want = min(want, limit - forwarded) }
                let n = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, want, 0) }
                if n <= 0 { return }
                var sent = 0
                while sent < n {
                    let w = buffer.withUnsafeBytes { send(to, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
                    if w <= 0 { return }
                    sent += w
                }
                if k == 0 {
                    forwarded += n
                    if forwarded >= limit { return }  // the cut: both sides closed mid-stream
                }
            }
        }
    }
}

/// A flag set once, read from any thread.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

func connectLoopbackPort(_ port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    precondition(rc == 0, "connect to 127.0.0.1:\(port) failed")
    return fd
}

func ackedFrame(_ batch: EventBatch, publisherId: UInt64, seq: UInt64) -> [UInt8] {
    var bytes: [UInt8] = []
    FrameEncoder().append(batch: batch, channel: "StockStream", ack: (publisherId, seq), to: &bytes)
    return bytes
}

/// Tandem's acknowledged framing through real listeners on loopback, both backends.
@Suite(.serialized) struct AckedIngestTests {
    /// Pops on a background thread until `count` events arrived (or the timeout), slowly if asked.
    final class Drainer: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [Int64] = []
        private let done = DispatchSemaphore(value: 0)
        init(_ listener: TCPSourceListener, count: Int, delayUs: UInt32 = 0, timeoutSec: Double = 30) {
            Thread { [self] in
                let volumes = TCPSourceListenerTests.drain(listener, count: count, timeoutSec: timeoutSec, delayUs: delayUs)
                lock.lock(); seen = volumes; lock.unlock()
                done.signal()
            }.start()
        }
        func wait() -> [Int64] {
            done.wait()
            lock.lock(); defer { lock.unlock() }
            return seen
        }
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func everyBatchIsAcknowledgedAfterItReachedTheRing(backend: IOBackend) throws {
        let listener = try ListenerEdgeTests.listener(backend, batchSize: 100)
        defer { listener.stop() }
        let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port, framing: .acked, unackedBatchesMax: 8)
        try publisher.connect()
        let drainer = Drainer(listener, count: 2000)
        for k in 0..<100 {
            try publisher.send(stockBatch(k * 20..<(k + 1) * 20), channel: "StockStream")
            #expect(publisher.unackedBatches <= 8, "the unacknowledged window is bounded")
        }
        try publisher.flush(timeoutMs: 10_000)
        #expect(publisher.unackedBatches == 0)
        #expect(publisher.acknowledgedSeq == 100)
        publisher.finish()
        #expect(drainer.wait() == (0..<2000).map(Int64.init))
        #expect(listener.stats.acksSent.load(ordering: .relaxed) >= 1)
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func noAckBeforeTheRingAcceptsTheBatch(backend: IOBackend) throws {
        // Ring of 2 batches that nobody drains: batches beyond it cannot be acknowledged.
        let listener = try ListenerEdgeTests.listener(backend, ringCapacity: 2, batchSize: 10, stopDrainTimeoutMs: 100)
        defer { listener.stop() }
        let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port, framing: .acked, unackedBatchesMax: 64)
        try publisher.connect()
        for k in 0..<10 { try publisher.send(stockBatch(k * 10..<(k + 1) * 10), channel: "StockStream") }
        #expect(throws: SocketError.self) { try publisher.flush(timeoutMs: 300) }
        #expect(publisher.acknowledgedSeq <= 2, "acked \(publisher.acknowledgedSeq) batches with room for 2 in the ring")
        // Room in the ring: the rest is accepted and acknowledged.
        let drainer = Drainer(listener, count: 100)
        try publisher.flush(timeoutMs: 10_000)
        #expect(publisher.acknowledgedSeq == 10)
        #expect(drainer.wait() == (0..<100).map(Int64.init))
        publisher.finish()
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func acksWaitForTheConsumersRelease(backend: IOBackend) throws {
        // HA hook: acks go out only once the consumer released the batches' tickets.
        var options = TCPSourceOptions(host: "127.0.0.1", port: 0,
                                       channels: [SourceChannel(channel: "StockStream", streamIndex: 7, schema: stockSchema)])
        options.backend = backend
        options.batchSize = 10
        options.ackRelease = .onRelease
        let listener = TCPSourceListener(options: options, ring: SPSCRing(capacity: 64), doorbell: Doorbell(), logger: Logger(label: "test"))
        try listener.start()
        defer { listener.stop() }
        let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port, framing: .acked)
        try publisher.connect()
        for k in 0..<6 { try publisher.send(stockBatch(k * 10..<(k + 1) * 10), channel: "StockStream") }
        var tickets: [UInt64] = []
        var volumes: [Int64] = []
        let deadline = Date().addingTimeInterval(10)
        while volumes.count < 60 && Date() < deadline {
            guard let item = listener.ring.tryPop() else { usleep(200); continue }
            tickets.append(item.ackTicket)
            for r in 0..<item.batch.count { volumes.append(item.batch.int64(2, r)) }
        }
        #expect(volumes == (0..<60).map(Int64.init))
        #expect(tickets == (1...6).map(UInt64.init), "tickets number the pushes")
        #expect(throws: SocketError.self) { try publisher.flush(timeoutMs: 300) }
        #expect(publisher.acknowledgedSeq == 0, "nothing released, nothing acknowledged")
        listener.releaseAcks(through: 3)
        try? publisher.flush(timeoutMs: 300)
        // Acks are cumulative per receive: batches that arrived with later ones wait for the later ticket.
        #expect(publisher.acknowledgedSeq <= 3, "released up to ticket 3: at most batches 1–3")
        listener.releaseAcks(through: 6)
        try publisher.flush(timeoutMs: 10_000)
        #expect(publisher.acknowledgedSeq == 6)
        publisher.finish()
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func resentBatchIsSkippedAndAcknowledgedAgain(backend: IOBackend) throws {
        let listener = try ListenerEdgeTests.listener(backend)
        defer { listener.stop() }
        let client = try RawClient(port: listener.port)
        client.write(ackedFrame(stockBatch(0..<5), publisherId: 42, seq: 1))
        client.write(ackedFrame(stockBatch(0..<5), publisherId: 42, seq: 1))  // resent: the ack was "lost"
        client.write(ackedFrame(stockBatch(5..<8), publisherId: 42, seq: 2))
        // A second connection of the same publisher (after a reconnect) resends batch 2 and adds 3.
        let again = try RawClient(port: listener.port)
        usleep(100_000)
        again.write(ackedFrame(stockBatch(5..<8), publisherId: 42, seq: 2))
        again.write(ackedFrame(stockBatch(8..<9), publisherId: 42, seq: 3))
        shutdown(client.fd, Int32(SHUT_WR))
        shutdown(again.fd, Int32(SHUT_WR))
        #expect(TCPSourceListenerTests.drain(listener, count: 9) == (0..<9).map(Int64.init))
        usleep(100_000)
        #expect(listener.ring.tryPop() == nil, "nothing delivered twice")
        #expect(listener.stats.duplicateBatchesSkipped.load(ordering: .relaxed) == 2)
        #expect(AckedIngestTests.lastAck(client.fd) == 2)
        #expect(AckedIngestTests.lastAck(again.fd) == 3)
    }

    /// Every batch handed to the engine names the newest publisher batch whose events it completes
    /// (`IngestBatch.publisherSeq`): the cluster keeps it in snapshots and the passive's queue, and a
    /// new active skips resends up to it. The claim must be exact: one too low and a publisher batch
    /// resent after a failover runs twice; one too high and it is lost. Publisher batches smaller than
    /// an engine batch (merged until one fills mid-frame), larger (each fills one at once) and equal.
    @Test(arguments: [IOBackend.ioUring, .epoll])
    func handedBatchesClaimExactlyThePublisherBatchesTheyComplete(backend: IOBackend) throws {
        let listener = try ListenerEdgeTests.listener(backend, batchSize: 10)
        defer { listener.stop() }
        let sizes = [4, 4, 4, 15, 3, 10, 7, 7, 7, 25, 2]
        var ends: [Int] = []  // ends[k]: events up to the end of publisher batch k + 1
        var bytes: [UInt8] = []
        for (k, size) in sizes.enumerated() {
            let start = ends.last ?? 0
            ends.append(start + size)
            bytes += ackedFrame(stockBatch(start..<start + size), publisherId: 42, seq: UInt64(k + 1))
        }
        let client = try RawClient(port: listener.port)
        client.write(bytes)  // one write: the listener decodes the frames together, as under load
        var handed: [Int64] = []
        let deadline = Date().addingTimeInterval(10)
        while handed.count < ends.last! && Date() < deadline {
            guard let item = listener.ring.tryPop() else { usleep(200); continue }
            for r in 0..<item.batch.count { handed.append(item.batch.int64(2, r)) }
            let complete = ends.prefix { $0 <= handed.count }.count
            #expect(item.publisherSeq == UInt64(complete),
                    "a batch ending at event \(handed.count) claims publisher batch \(item.publisherSeq); batches 1...\(complete) are complete")
            #expect(item.publisherId == (complete > 0 ? 42 : 0))
        }
        #expect(handed == (0..<ends.last!).map(Int64.init))
    }

    /// Reads acks until EOF; returns the newest batch sequence number acknowledged (0: none).
    static func lastAck(_ fd: Int32) -> UInt64 {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while poll(&pfd, 1, 5000) > 0 {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        var newest: UInt64 = 0
        var offset = 0
        while bytes.count - offset >= FrameEncoder.ackBytes {
            let ack = bytes.withUnsafeBytes { FrameEncoder.decodeAck(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + FrameEncoder.ackBytes])) }
            #expect(ack?.publisherId == 42)
            newest = max(newest, ack?.batchSeq ?? 0)
            offset += FrameEncoder.ackBytes
        }
        #expect(offset == bytes.count, "only whole acks")
        return newest
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func connectionCutMidFrameLosesNothingAndDuplicatesNothing(backend: IOBackend) throws {
        let listener = try ListenerEdgeTests.listener(backend, batchSize: 50)
        defer { listener.stop() }
        // Cut after 3.5 frames' worth of bytes: the node sees half a frame, then the connection close.
        let frameBytes = ackedFrame(stockBatch(0..<50), publisherId: 1, seq: 1).count
        let proxy = CuttingProxy(target: listener.port, cutAfterBytes: frameBytes * 7 / 2)
        defer { proxy.stop() }
        let publisher = TCPPublisher(host: "127.0.0.1", port: proxy.port, framing: .acked, unackedBatchesMax: 16, reconnectTimeoutMs: 10_000)
        try publisher.connect()
        let total = 5000
        let drainer = Drainer(listener, count: total)
        for k in 0..<(total / 50) { try publisher.send(stockBatch(k * 50..<(k + 1) * 50), channel: "StockStream") }
        try publisher.flush(timeoutMs: 10_000)
        publisher.finish()
        #expect(publisher.reconnects >= 1, "the cut forced a reconnect")
        #expect(publisher.batchesResent >= 1)
        #expect(drainer.wait() == (0..<total).map(Int64.init), "every event exactly once, in order")
        usleep(100_000)
        #expect(listener.ring.tryPop() == nil, "nothing delivered twice")
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func fastAckedPublisherSlowEngineLosesNothing(backend: IOBackend) throws {
        // Backpressure with acks: a 2-batch ring drained slowly; the publisher's window stays bounded.
        let listener = try ListenerEdgeTests.listener(backend, ringCapacity: 2, batchSize: 100)
        defer { listener.stop() }
        let total = 20_000
        // 2 ms per batch: slow enough that the publisher's 16-batch window overfills the ring even
        // when a loaded machine starves the publisher's thread.
        let drainer = Drainer(listener, count: total, delayUs: 2_000, timeoutSec: 60)
        let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port, framing: .acked, unackedBatchesMax: 16)
        try publisher.connect()
        for k in 0..<(total / 100) {
            try publisher.send(stockBatch(k * 100..<(k + 1) * 100), channel: "StockStream")
            #expect(publisher.unackedBatches <= 16)
        }
        try publisher.flush(timeoutMs: 60_000)
        publisher.finish()
        #expect(drainer.wait() == (0..<total).map(Int64.init))
        #expect(listener.stats.ringFullWaits.load(ordering: .relaxed) > 0, "the ring filled and the reactor waited")
        #expect(listener.ring.count <= 2)
    }

    @Test func receiveBuffersRunningOutLosesNothing() throws {
        // io_uring: 16 publishers push ~15 MB at a 2-batch ring drained slowly, far more than the
        // 4 MiB of provided buffers: receives pause (ENOBUFS) and are re-armed; every event arrives once.
        let listener = try ListenerEdgeTests.listener(.ioUring, ringCapacity: 2, batchSize: 1000)
        defer { listener.stop() }
        let connections = 16, perConnection = 30_000
        let drainer = Drainer(listener, count: connections * perConnection, delayUs: 3000, timeoutSec: 60)
        let done = DispatchGroup()
        for c in 0..<connections {
            done.enter()
            Thread {
                let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port)
                try? publisher.connect()
                var bytes: [UInt8] = []
                for k in 0..<(perConnection / 1000) {
                    let base = c * perConnection + k * 1000
                    bytes += frame(stockBatch(base..<base + 1000))
                }
                try? publisher.writeAll(bytes)
                publisher.finish(timeoutMs: 60_000)
                done.leave()
            }.start()
        }
        let volumes = drainer.wait()
        done.wait()
        #expect(volumes.count == connections * perConnection)
        #expect(Set(volumes) == Set((0..<connections * perConnection).map(Int64.init)))
        let multishot = listener.stats.multishotReceive.load(ordering: .relaxed)
        #expect(multishot)
        let stalls = listener.stats.receiveBufferStalls.load(ordering: .relaxed)
        #expect(stalls > 0, "more bytes in flight than provided buffers: the kernel paused receives")
        #expect(listener.stats.ringFullWaits.load(ordering: .relaxed) > 0)
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func manyAckedPublishersAtOnce(backend: IOBackend) throws {
        let listener = try ListenerEdgeTests.listener(backend)
        defer { listener.stop() }
        let drainer = Drainer(listener, count: 3000)
        let publishers = (0..<60).map { _ in TCPPublisher(host: "127.0.0.1", port: listener.port, framing: .acked) }
        for p in publishers { try p.connect() }
        for round in 0..<5 {
            for (i, p) in publishers.enumerated() {
                let base = (round * 60 + i) * 10
                try p.send(stockBatch(base..<base + 10), channel: "StockStream")
            }
        }
        for p in publishers {
            try p.flush(timeoutMs: 10_000)
            p.finish()
        }
        #expect(Set(drainer.wait()) == Set((0..<3000).map(Int64.init)))
        #expect(listener.stats.connectionsAccepted.load(ordering: .relaxed) == 60)
    }
}
