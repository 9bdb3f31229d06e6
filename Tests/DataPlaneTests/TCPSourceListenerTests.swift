import DataPlane
import Engine
import Foundation
import Logging
import Testing

/// Real listeners on loopback, both backends: publishers connect, frames decode into the ring.
@Suite(.serialized) struct TCPSourceListenerTests {
    static func listener(_ backend: IOBackend, ringCapacity: Int = 256, batchSize: Int = 1024) throws -> TCPSourceListener {
        var options = TCPSourceOptions(host: "127.0.0.1", port: 0,
                                       channels: [SourceChannel(channel: "StockStream", streamIndex: 7, schema: stockSchema)])
        options.backend = backend
        options.batchSize = batchSize
        let listener = TCPSourceListener(options: options, ring: SPSCRing(capacity: ringCapacity), doorbell: Doorbell(),
                                         logger: Logger(label: "test"))
        try listener.start()
        return listener
    }

    /// Pops until `count` events arrived or the timeout passes; returns the volumes seen in order.
    static func drain(_ listener: TCPSourceListener, count: Int, timeoutSec: Double = 10, delayUs: UInt32 = 0) -> [Int64] {
        var volumes: [Int64] = []
        let deadline = Date().addingTimeInterval(timeoutSec)
        while volumes.count < count && Date() < deadline {
            if let item = listener.ring.tryPop() {
                #expect(item.streamIndex == 7)
                for r in 0..<item.batch.count { volumes.append(item.batch.int64(2, r)) }
                if delayUs > 0 { usleep(delayUs) }
            } else {
                usleep(200)
            }
        }
        return volumes
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func publishersAreDecodedInOrder(backend: IOBackend) throws {
        let listener = try TCPSourceListenerTests.listener(backend)
        defer { listener.stop() }
        #expect(listener.backend == backend)
        #expect(listener.port > 0)
        let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port)
        try publisher.connect()
        for k in 0..<100 { try publisher.send(stockBatch(k * 10..<(k + 1) * 10), channel: "StockStream") }
        publisher.finish()
        #expect(TCPSourceListenerTests.drain(listener, count: 1000) == (0..<1000).map(Int64.init))
        #expect(listener.stats.eventsDecoded.load(ordering: .relaxed) == 1000)
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func garbageConnectionIsClosedOthersContinue(backend: IOBackend) throws {
        let listener = try TCPSourceListenerTests.listener(backend)
        defer { listener.stop() }
        let good = TCPPublisher(host: "127.0.0.1", port: listener.port)
        let bad = TCPPublisher(host: "127.0.0.1", port: listener.port)
        try good.connect()
        try bad.connect()
        try good.send(stockBatch(0..<5), channel: "StockStream")
        try bad.writeAll(Array("not a frame at all".utf8))
        try good.send(stockBatch(5..<10), channel: "StockStream")
        good.finish()
        bad.finish(timeoutMs: 5000)  // returns when the node closes its side
        #expect(TCPSourceListenerTests.drain(listener, count: 10) == (0..<10).map(Int64.init))
        let deadline = Date().addingTimeInterval(5)
        while listener.stats.framesRejected.load(ordering: .relaxed) == 0 && Date() < deadline { usleep(1000) }
        #expect(listener.stats.framesRejected.load(ordering: .relaxed) == 1)
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func connectionClosingMidFrameKeepsEarlierFrames(backend: IOBackend) throws {
        let listener = try TCPSourceListenerTests.listener(backend)
        defer { listener.stop() }
        let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port)
        try publisher.connect()
        try publisher.send(stockBatch(0..<3), channel: "StockStream")
        try publisher.writeAll(Array(frame(stockBatch(3..<6)).prefix(20)))  // half a frame, then close
        publisher.finish()
        #expect(TCPSourceListenerTests.drain(listener, count: 3) == [0, 1, 2])
        usleep(100_000)
        #expect(listener.ring.tryPop() == nil, "the partial frame produced no events")
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func fastPublisherSlowEngineLosesNothing(backend: IOBackend) throws {
        // A 2-batch ring drained slowly: the reactor must wait (backpressure), never drop or grow.
        let listener = try TCPSourceListenerTests.listener(backend, ringCapacity: 2, batchSize: 100)
        defer { listener.stop() }
        let total = 20_000
        let sender = Thread {
            let publisher = TCPPublisher(host: "127.0.0.1", port: listener.port)
            try? publisher.connect()
            for k in 0..<(total / 100) { try? publisher.send(stockBatch(k * 100..<(k + 1) * 100), channel: "StockStream") }
            publisher.finish(timeoutMs: 60_000)
        }
        sender.start()
        usleep(200_000)  // let the publisher run ahead of the engine
        let volumes = TCPSourceListenerTests.drain(listener, count: total, timeoutSec: 60, delayUs: 300)
        #expect(volumes == (0..<total).map(Int64.init))
        #expect(listener.stats.ringFullWaits.load(ordering: .relaxed) > 0, "the ring filled and the reactor waited")
        #expect(listener.ring.count <= 2)
    }

    @Test(arguments: [IOBackend.ioUring, .epoll])
    func manyConnectionsAtOnce(backend: IOBackend) throws {
        let listener = try TCPSourceListenerTests.listener(backend)
        defer { listener.stop() }
        let publishers = (0..<50).map { _ in TCPPublisher(host: "127.0.0.1", port: listener.port) }
        for (i, p) in publishers.enumerated() {
            try p.connect()
            try p.send(stockBatch(i * 20..<(i + 1) * 20), channel: "StockStream")
        }
        for p in publishers { p.finish() }
        #expect(Set(TCPSourceListenerTests.drain(listener, count: 1000)) == Set((0..<1000).map(Int64.init)))
    }

    @Test func portInUseIsAClearError() throws {
        let first = try TCPSourceListenerTests.listener(.epoll)
        defer { first.stop() }
        let options = TCPSourceOptions(host: "127.0.0.1", port: first.port,
                                       channels: [SourceChannel(channel: "StockStream", streamIndex: 0, schema: stockSchema)])
        let second = TCPSourceListener(options: options, ring: SPSCRing(capacity: 4), doorbell: Doorbell(), logger: Logger(label: "test"))
        #expect(throws: SocketError.self) { try second.start() }
    }
}
