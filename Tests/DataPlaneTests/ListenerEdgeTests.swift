import DataPlane
import Engine
import Foundation
import Glibc
import Logging
import Testing

/// A plain blocking client socket, to drive the listener without `TCPPublisher`.
final class RawClient {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw SocketError(operation: "connect", errno: errno)
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }  // the node closed us; the test checks that separately
            offset += n
        }
    }

    /// Whether the node closed the connection within `timeoutMs` (read sees EOF or a reset).
    func closedByPeer(timeoutMs: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMs) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) <= 0
    }
}

@Suite(.serialized) struct ListenerEdgeTests {
    @Test func backendResolution() {
        // This machine allows io_uring (see /work/shared/README.md); epoll is always honoured as asked.
        #expect(IOBackend.resolve(.auto).backend == .ioUring)
        #expect(IOBackend.resolve(.ioUring).backend == .ioUring)
        #expect(IOBackend.resolve(.epoll) == (.epoll, nil))
        #expect(IOBackend(rawValue: "io_uring") == .ioUring, "deployment.yaml spelling")
    }

    @Test func autoBackendRunsAndReportsWhatItChose() throws {
        let listener = try ListenerEdgeTests.listener(.auto)
        defer { listener.stop() }
        #expect(listener.backend == .ioUring || listener.backend == .epoll)
        let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port)
        try publisher.connect()
        try publisher.send(stockBatch(0..<5), channel: "StockStream")
        publisher.finish()
        #expect(TCPSourceListenerTests.drain(listener, count: 5) == [0, 1, 2, 3, 4])
    }

    static func listener(_ backend: IOBackend, ringCapacity: Int = 256, batchSize: Int = 1024, maxFrameBytes: Int = 1 << 20,
                         stopDrainTimeoutMs: Int = 5000, returns: SPSCRing<EventBatch>? = nil) throws -> TCPSourceListener {
        var options = TCPSourceOptions(host: "127.0.0.1", port: 0,
                                       channels: [SourceChannel(channel: "StockStream", streamIndex: 7, schema: stockSchema)])
        options.backend = backend
        options.batchSize = batchSize
        options.maxFrameBytes = maxFrameBytes
        options.stopDrainTimeoutMs = stopDrainTimeoutMs
        let listener = TCPSourceListener(options: options, ring: SPSCRing(capacity: ringCapacity), doorbell: Doorbell(),
                                         returns: returns, logger: Logger(label: "test"))
        try listener.start()
        return listener
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func rawSocketOneByteAtATime(backend: IOBackend) throws {
        let listener = try ListenerEdgeTests.listener(backend)
        defer { listener.stop() }
        let client = try RawClient(port: listener.port)
        let bytes = frame(stockBatch(0..<3)) + frame(stockBatch(3..<4))
        for b in bytes { client.write([b]) }
        #expect(TCPSourceListenerTests.drain(listener, count: 4) == [0, 1, 2, 3])
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func partialBatchArrivesWithoutClosing(backend: IOBackend) throws {
        // Latency: 3 events on an open connection must not wait for a full batch of 1024.
        let listener = try ListenerEdgeTests.listener(backend)
        defer { listener.stop() }
        let client = try RawClient(port: listener.port)
        client.write(frame(stockBatch(0..<3)))
        let start = Date()
        #expect(TCPSourceListenerTests.drain(listener, count: 3, timeoutSec: 2) == [0, 1, 2])
        #expect(Date().timeIntervalSince(start) < 0.5)
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func oversizedAndUnknownChannelCloseOnlyTheirConnections(backend: IOBackend) throws {
        let listener = try ListenerEdgeTests.listener(backend, maxFrameBytes: 4096)
        defer { listener.stop() }
        let good = try RawClient(port: listener.port)
        let huge = try RawClient(port: listener.port)
        let stranger = try RawClient(port: listener.port)
        good.write(frame(stockBatch(0..<2)))
        huge.write([0x02, 0x00, 0x10, 0x00, 0x00])  // announces 1 MiB > maxFrameBytes 4096
        stranger.write(frame(stockBatch(0..<2), channel: "Elsewhere"))
        #expect(huge.closedByPeer(timeoutMs: 5000))
        #expect(stranger.closedByPeer(timeoutMs: 5000))
        good.write(frame(stockBatch(2..<4)))
        #expect(TCPSourceListenerTests.drain(listener, count: 4) == [0, 1, 2, 3])
        #expect(!good.closedByPeer(timeoutMs: 50), "the good connection stays open")
        #expect(listener.stats.framesRejected.load(ordering: .relaxed) == 2)
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func frameLargerThanTheReceiveBuffer(backend: IOBackend) throws {
        // ~1.2 MB in one frame: the connection buffer grows to the frame, then shrinks back.
        let listener = try ListenerEdgeTests.listener(backend, maxFrameBytes: 4 << 20)
        defer { listener.stop() }
        let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port)
        try publisher.connect()
        try publisher.send(stockBatch(0..<40_000), channel: "StockStream")
        try publisher.send(stockBatch(40_000..<40_010), channel: "StockStream")
        #expect(TCPSourceListenerTests.drain(listener, count: 40_010) == (0..<40_010).map(Int64.init))
        publisher.finish()
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func stopDoesNotHangWhenNobodyDrainsTheRing(backend: IOBackend) throws {
        let listener = try ListenerEdgeTests.listener(backend, ringCapacity: 2, batchSize: 10, stopDrainTimeoutMs: 200)
        let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port)
        try publisher.connect()
        for k in 0..<10 { try publisher.send(stockBatch(k * 10..<(k + 1) * 10), channel: "StockStream") }
        let deadline = Date().addingTimeInterval(5)
        while listener.stats.ringFullWaits.load(ordering: .relaxed) == 0 && Date() < deadline { usleep(1000) }
        let start = Date()
        listener.stop()
        #expect(Date().timeIntervalSince(start) < 3, "stop waits at most stopDrainTimeoutMs per batch still to hand on")
        #expect(listener.ring.count == 2)
        let published = listener.stats.eventsDecoded.load(ordering: .relaxed)
        let dropped = listener.stats.eventsDroppedAtStop.load(ordering: .relaxed)
        #expect(published == 20 && dropped > 0)
        publisher.close()
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func usedBatchesComeBackThroughTheReturnRing(backend: IOBackend) throws {
        let returns = SPSCRing<EventBatch>(capacity: 64)
        let listener = try ListenerEdgeTests.listener(backend, batchSize: 100, returns: returns)
        defer { listener.stop() }
        let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port)
        try publisher.connect()
        var volumes: [Int64] = []
        let deadline = Date().addingTimeInterval(10)
        var sent = 0
        while volumes.count < 5000 && Date() < deadline {
            if sent < 5000 {
                try publisher.send(stockBatch(sent..<sent + 100), channel: "StockStream")
                sent += 100
            }
            while let item = listener.ring.tryPop() {
                for r in 0..<item.batch.count { volumes.append(item.batch.int64(2, r)) }
                _ = returns.tryPush(item.batch)  // hand the batch back for reuse
            }
            usleep(100)
        }
        publisher.finish()
        #expect(volumes == (0..<5000).map(Int64.init))
        #expect(returns.count < 64, "the reactor takes returned batches back")
    }
}
