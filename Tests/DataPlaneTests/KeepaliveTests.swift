@testable import DataPlane
import Engine
import Foundation
import Glibc
import Logging
import Testing

/// A loopback TCP proxy that forwards both ways until `freeze()`; then it keeps every socket open
/// and moves no byte in either direction: a node cut off (or SIGSTOPped) as its publishers see it.
final class FreezableProxy: @unchecked Sendable {
    let port: Int
    private let listenFd: Int32
    private let target: Int
    private let frozen = ManagedFlag()
    private let stopping = ManagedFlag()

    init(target: Int) {
        self.target = target
        let (fd, boundPort) = boundLoopbackSocket()
        precondition(listen(fd, 16) == 0)
        listenFd = fd
        port = boundPort
        Thread { [self] in
            while !stopping.isSet {
                let client = accept(listenFd, nil, nil)
                guard client >= 0 else { return }
                let upstream = connectLoopbackPort(target)
                Thread { [self] in pump(client, upstream) }.start()
            }
        }.start()
    }

    func freeze() { frozen.set() }

    func stop() {
        stopping.set()
        shutdown(listenFd, Int32(SHUT_RDWR))
        close(listenFd)
    }

    private func pump(_ client: Int32, _ upstream: Int32) {
        defer { close(client); close(upstream) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)]
        while !stopping.isSet {
            if frozen.isSet {
                usleep(10_000)
                continue
            }
            guard poll(&fds, 2, 10) >= 0 else { return }
            for k in 0..<2 where fds[k].revents != 0 && !frozen.isSet {
                let n = buffer.withUnsafeMutableBytes { recv(fds[k].fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
                var sent = 0
                while sent < n {
                    let w = buffer.withUnsafeBytes { send(fds[1 - k].fd, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
                    if w <= 0 { return }
                    sent += w
                }
            }
        }
    }
}

/// Pops every batch from several listeners' rings until stopped; the volumes each one received.
final class RingCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [[Int64]]
    private let stopping = ManagedFlag()
    private let done = DispatchSemaphore(value: 0)

    init(_ listeners: [TCPSourceListener]) {
        seen = Array(repeating: [], count: listeners.count)
        Thread { [self] in
            while !stopping.isSet {
                var any = false
                for (i, listener) in listeners.enumerated() {
                    while let item = listener.ring.tryPop() {
                        any = true
                        lock.lock()
                        for r in 0..<item.batch.count { seen[i].append(item.batch.int64(2, r)) }
                        lock.unlock()
                    }
                }
                if !any { usleep(500) }
            }
            done.signal()
        }.start()
    }

    var volumes: [[Int64]] {
        lock.lock(); defer { lock.unlock() }
        return seen
    }

    /// Waits until `total` events arrived over all listeners (or the timeout), then stops.
    func stop(after total: Int, timeoutSec: Double = 10) -> [[Int64]] {
        let deadline = Date().addingTimeInterval(timeoutSec)
        while volumes.reduce(0, { $0 + $1.count }) < total && Date() < deadline { usleep(1000) }
        usleep(100_000)  // anything delivered twice would show up now
        stopping.set()
        done.wait()
        return volumes
    }
}

/// Keepalive and not-active records (docs/protocol.md, "Knowing the node is there"), and a publisher
/// moving to the next node, through real listeners on loopback, both backends.
@Suite(.serialized) struct KeepaliveTests {
    static func listener(_ backend: IOBackend, keepaliveMs: Int = 100) throws -> TCPSourceListener {
        var options = TCPSourceOptions(host: "127.0.0.1", port: 0,
                                       channels: [SourceChannel(channel: "StockStream", streamIndex: 7, schema: stockSchema)])
        options.backend = backend
        options.batchSize = 10
        options.keepaliveIntervalMs = keepaliveMs
        options.leaseMs = 1500
        let listener = TCPSourceListener(options: options, ring: SPSCRing(capacity: 256), doorbell: Doorbell(), logger: Logger(label: "test"))
        try listener.start()
        return listener
    }

    static func nowMs() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }

    /// Records read from `fd` for `ms`, each with when it arrived (ms after the call).
    static func records(_ fd: Int32, forMs ms: Int) -> [(atMs: Int, record: FrameEncoder.NodeRecord?)] {
        let start = nowMs()
        var bytes: [UInt8] = []
        var out: [(Int, FrameEncoder.NodeRecord?)] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while nowMs() - start < ms {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(max(1, ms - (nowMs() - start)))) > 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
            while bytes.count >= FrameEncoder.ackBytes {
                out.append((nowMs() - start, bytes.withUnsafeBytes { FrameEncoder.decodeRecord(UnsafeRawBufferPointer(rebasing: $0[0..<FrameEncoder.ackBytes])) }))
                bytes.removeFirst(FrameEncoder.ackBytes)
            }
        }
        return out
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func helloIsAnsweredAtOnceThenEveryInterval(backend: IOBackend) throws {
        let listener = try KeepaliveTests.listener(backend, keepaliveMs: 100)
        defer { listener.stop() }
        let client = try RawClient(port: listener.port)
        client.write(FrameEncoder.helloFrame(publisherId: 7))
        let got = KeepaliveTests.records(client.fd, forMs: 650)
        #expect(got.allSatisfy { $0.record == .keepalive(publisherId: 7, intervalMs: 100, leaseMs: 1500) }, "\(got)")
        #expect((got.first?.atMs ?? 1000) < 80, "the first keepalive answers the hello: \(got)")
        #expect((4...9).contains(got.count), "one about every 100 ms: \(got.map(\.atMs))")
        let gaps = zip(got.dropFirst(), got).map { $0.atMs - $1.atMs }
        #expect(gaps.allSatisfy { $0 <= 250 }, "gaps \(gaps)")
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func publishersWithoutTheKeepaliveHelloGetOnlyAcks(backend: IOBackend) throws {
        let listener = try KeepaliveTests.listener(backend, keepaliveMs: 50)
        defer { listener.stop() }
        let client = try RawClient(port: listener.port)
        client.write(FrameEncoder.helloFrame(publisherId: 42, flags: 0))  // a hello without the flag: acked as batch 0
        client.write(ackedFrame(stockBatch(0..<5), publisherId: 42, seq: 1))
        let got = KeepaliveTests.records(client.fd, forMs: 300)
        #expect(got.map(\.record) == [.ack(publisherId: 42, batchSeq: 0), .ack(publisherId: 42, batchSeq: 1)]
                || got.map(\.record) == [.ack(publisherId: 42, batchSeq: 1)], "only acks, as before keepalives: \(got)")
        #expect(TCPSourceListenerTests.drain(listener, count: 5) == (0..<5).map(Int64.init))
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func closingTheSourceTellsThePublisherItIsNotActive(backend: IOBackend) throws {
        let listener = try KeepaliveTests.listener(backend)
        let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port, framing: .acked, silenceTimeoutMs: 1000)
        try publisher.connect()
        let drainer = AckedIngestTests.Drainer(listener, count: 50)
        for k in 0..<5 { try publisher.send(stockBatch(k * 10..<(k + 1) * 10), channel: "StockStream") }
        try publisher.flush(timeoutMs: 5000)
        #expect(drainer.wait() == (0..<50).map(Int64.init))
        try publisher.watch(timeoutMs: 250)
        #expect(publisher.nodeSendsKeepalives && publisher.nodeKeepaliveIntervalMs == 100 && publisher.nodeLeaseMs == 1500)
        let stoppedAt = ManagedAtomicInt()
        Thread {
            usleep(100_000)
            stoppedAt.store(KeepaliveTests.nowMs())
            listener.stop()
        }.start()
        #expect(throws: SocketError.self) { try publisher.watch(timeoutMs: 5000) }
        let heardAfterMs = KeepaliveTests.nowMs() - stoppedAt.load()
        #expect(publisher.notActiveReceived == 1, "told, not left to time out")
        #expect(heardAfterMs < 500, "the publisher knew \(heardAfterMs) ms after the stop began")
        #expect(publisher.silencesDetected == 0)
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func aSilentNodeIsGivenUpWithinTheSilenceTimeout(backend: IOBackend) throws {
        let listener = try KeepaliveTests.listener(backend, keepaliveMs: 100)
        defer { listener.stop() }
        let proxy = FreezableProxy(target: listener.port)
        defer { proxy.stop() }
        let publisher = TCPPublisher(host: "127.0.0.1", port: proxy.port, framing: .acked, silenceTimeoutMs: 400)
        try publisher.connect()
        let drainer = AckedIngestTests.Drainer(listener, count: 30)
        for k in 0..<3 { try publisher.send(stockBatch(k * 10..<(k + 1) * 10), channel: "StockStream") }
        try publisher.flush(timeoutMs: 5000)
        _ = drainer.wait()
        try publisher.watch(timeoutMs: 600)  // idle, but keepalives arrive: no false alarm
        proxy.freeze()
        let frozenAt = KeepaliveTests.nowMs()
        var failure: SocketError? = nil
        do { try publisher.watch(timeoutMs: 5000) } catch { failure = error }
        let detectedMs = KeepaliveTests.nowMs() - frozenAt
        #expect(failure?.errno == EHOSTDOWN, "\(String(describing: failure))")
        #expect(publisher.silencesDetected == 1)
        // Silence counts from the last keepalive heard (≤ 100 ms before the freeze), plus a scan.
        #expect(detectedMs >= 280 && detectedMs <= 1000, "detected \(detectedMs) ms after the freeze, timeout 400 ms")
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func aNewerConnectionOfAPublisherIdClosesTheOlder(backend: IOBackend) throws {
        let listener = try KeepaliveTests.listener(backend)
        defer { listener.stop() }
        let older = TCPPublisher(host: "127.0.0.1", port: listener.port, framing: .acked, publisherId: 99, silenceTimeoutMs: 1000)
        try older.connect()
        let drainer = AckedIngestTests.Drainer(listener, count: 20)
        try older.send(stockBatch(0..<10), channel: "StockStream")
        try older.flush(timeoutMs: 5000)
        let newer = TCPPublisher(host: "127.0.0.1", port: listener.port, framing: .acked, publisherId: 99, silenceTimeoutMs: 1000)
        try newer.connect()
        var failure: SocketError? = nil
        do { try older.watch(timeoutMs: 2000) } catch { failure = error }
        #expect(failure?.errno == ESHUTDOWN && older.notActiveReceived == 1, "\(String(describing: failure))")
        #expect(listener.stats.connectionsSuperseded.load(ordering: .relaxed) == 1)
        // The newer one goes on where the id left off (its own numbering starts at 1: skipped as a duplicate).
        try newer.send(stockBatch(100..<110), channel: "StockStream")
        try newer.send(stockBatch(10..<20), channel: "StockStream")
        try newer.flush(timeoutMs: 5000)
        #expect(drainer.wait() == (0..<20).map(Int64.init), "batch 1 of the newer connection was skipped as already accepted")
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func aStoppedNodeIsLeftForTheNextTargetAndEveryBatchArrivesOnce(backend: IOBackend) throws {
        let first = try KeepaliveTests.listener(backend)
        let second = try KeepaliveTests.listener(backend)
        defer { second.stop() }
        let collector = RingCollector([first, second])
        let publisher = TCPPublisher(targets: [TCPPublisher.Target(host: "127.0.0.1", port: first.port),
                                               TCPPublisher.Target(host: "127.0.0.1", port: second.port)],
                                     framing: .acked, unackedBatchesMax: 8, reconnectTimeoutMs: 5000, silenceTimeoutMs: 1000)
        try publisher.connect()
        let batches = 100
        for k in 0..<batches {
            if k == 40 { first.stop() }  // demoted / stopped: not active, then closed
            try publisher.send(stockBatch(k * 10..<(k + 1) * 10), channel: "StockStream")
            usleep(1000)
        }
        try publisher.flush(timeoutMs: 5000)
        publisher.finish()
        let seen = collector.stop(after: batches * 10)
        #expect(publisher.targetIndex == 1 && publisher.failovers == 1)
        #expect(seen[0].count >= 300 && seen[1].count > 0, "\(seen[0].count) events on the first node")
        #expect((seen[0] + seen[1]).sorted() == (0..<batches * 10).map(Int64.init), "every event exactly once over both nodes")
        #expect(publisher.acknowledgedSeq == UInt64(batches))
    }
}

/// An Int any thread may read and write.
final class ManagedAtomicInt: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func store(_ v: Int) { lock.lock(); value = v; lock.unlock() }
    func load() -> Int { lock.lock(); defer { lock.unlock() }; return value }
}
