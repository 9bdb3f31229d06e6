import DataPlane
import Engine
import Foundation
import Glibc
import Logging
import Testing

/// A TCP socket bound to a free port on loopback, and that port.
func boundLoopbackSocket() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &addr) { ptr in
        ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
            precondition(bind(fd, sa, len) == 0)
            precondition(getsockname(fd, sa, &len) == 0)
        }
    }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

/// A TCP port free on loopback right now (bind to 0, read it back, close).
func freeLoopbackPort() -> Int {
    let (fd, port) = boundLoopbackSocket()
    close(fd)
    return port
}

/// The tcp sink against real listeners on loopback.
@Suite(.serialized) struct TCPSinkTests {
    static func sink(port: Int, framing: TCPPublisher.Framing = .siddhi, queueCapacity: Int = 256,
                     policy: TCPSinkOptions.FullPolicy = .block(timeoutMs: 1000), stopDrainTimeoutMs: Int = 5000) -> TCPSink {
        var options = TCPSinkOptions(host: "127.0.0.1", port: port, channel: "StockStream")
        options.framing = framing
        options.queueCapacity = queueCapacity
        options.fullPolicy = policy
        options.reconnectDelayMs = 20
        options.stopDrainTimeoutMs = stopDrainTimeoutMs
        let sink = TCPSink(options: options, logger: Logger(label: "test"))
        sink.start()
        return sink
    }

    @Test(arguments: [TCPPublisher.Framing.siddhi, .acked])
    func deliversEveryBatchInOrder(framing: TCPPublisher.Framing) throws {
        let listener = try ListenerEdgeTests.listener(.auto)
        defer { listener.stop() }
        let sink = TCPSinkTests.sink(port: listener.port, framing: framing)
        let drainer = AckedIngestTests.Drainer(listener, count: 5000)
        for k in 0..<100 { sink.write(stockBatch(k * 50..<(k + 1) * 50)) }
        sink.stop()
        #expect(drainer.wait() == (0..<5000).map(Int64.init))
        #expect(sink.stats.eventsSent.load(ordering: .relaxed) == 5000)
        #expect(sink.stats.eventsDropped.load(ordering: .relaxed) == 0)
        if framing == .acked { #expect(listener.stats.acksSent.load(ordering: .relaxed) > 0) }
    }

    @Test func connectsWhenTheReceiverComesUpAndLosesNothingQueued() throws {
        let port = freeLoopbackPort()
        let sink = TCPSinkTests.sink(port: port)
        for k in 0..<20 { sink.write(stockBatch(k * 10..<(k + 1) * 10)) }  // nobody listens yet: queued
        usleep(100_000)
        var options = TCPSourceOptions(host: "127.0.0.1", port: port,
                                       channels: [SourceChannel(channel: "StockStream", streamIndex: 7, schema: stockSchema)])
        options.backend = .epoll
        let listener = TCPSourceListener(options: options, ring: SPSCRing(capacity: 256), doorbell: Doorbell(), logger: Logger(label: "test"))
        try listener.start()
        defer { listener.stop() }
        #expect(TCPSourceListenerTests.drain(listener, count: 200) == (0..<200).map(Int64.init))
        sink.stop()
        #expect(sink.stats.eventsDropped.load(ordering: .relaxed) == 0)
    }

    @Test(arguments: [TCPSinkOptions.FullPolicy.dropNewest, .block(timeoutMs: 20)])
    func fullQueueDropsAndCountsWhenNobodyReceives(policy: TCPSinkOptions.FullPolicy) {
        let port = freeLoopbackPort()  // nothing listens: every connect is refused
        let sink = TCPSinkTests.sink(port: port, queueCapacity: 2, policy: policy, stopDrainTimeoutMs: 50)
        for k in 0..<10 { sink.write(stockBatch(k * 10..<(k + 1) * 10)) }
        // Two queued, perhaps one taken by the sender thread; the rest dropped, not buffered.
        let dropped = sink.stats.eventsDropped.load(ordering: .relaxed)
        #expect(dropped >= 70 && dropped <= 80, "dropped \(dropped)")
        #expect(sink.stats.queueFullWaits.load(ordering: .relaxed) >= 7)
        sink.stop()
        #expect(sink.stats.eventsSent.load(ordering: .relaxed) == 0)
        #expect(sink.stats.eventsDropped.load(ordering: .relaxed) == 100, "what stop could not send is counted too")
    }
}
