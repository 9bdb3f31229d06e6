@testable import DataPlane
import Engine
import Foundation
import Glibc
import Testing

/// Siddhi's default `Event()` carries timestamp -1; Siddhi's sources (`InputEventHandler`) replace
/// exactly that value with the arrival time, and so must Tandem's decoders (docs/protocol.md).
@Suite(.serialized) struct UnsetTimestampTests {
    /// Rows with timestamps -1, -2, 5, -1 (volumes 0...3).
    static func mixedBatch() -> EventBatch {
        var batch = EventBatch(schema: stockSchema)
        for (i, ts) in [Int64(-1), -2, 5, -1].enumerated() {
            batch.append(timestamp: ts, values: [.string("IBM"), .double(75.6), .long(Int64(i))])
        }
        return batch
    }

    /// The four rows' timestamps, checked against the clock read around the decoding.
    static func expectArrival(_ timestamps: [Int64], from before: Int64, to after: Int64) {
        #expect(timestamps.count == 4)
        guard timestamps.count == 4 else { return }
        #expect(timestamps[0] >= before && timestamps[0] <= after, "-1 becomes the arrival time")
        #expect(timestamps[3] == timestamps[0], "one frame, one arrival time")
        #expect(timestamps[1] == -2, "only -1 means unset, as in Siddhi")
        #expect(timestamps[2] == 5)
    }

    @Test func siddhiFramingGetsArrivalTime() throws {
        let before = LogSink.nowMs()
        let rows = try decodeAll(frame(UnsetTimestampTests.mixedBatch()))
        UnsetTimestampTests.expectArrival(rows.map { if case .long(let t) = $0[0] { t } else { 0 } }, from: before, to: LogSink.nowMs())
    }

    @Test func ackedFramingGetsArrivalTime() throws {
        let before = LogSink.nowMs()
        let rows = try decodeAll(ackedFrame(UnsetTimestampTests.mixedBatch(), publisherId: 9, seq: 1))
        UnsetTimestampTests.expectArrival(rows.map { if case .long(let t) = $0[0] { t } else { 0 } }, from: before, to: LogSink.nowMs())
    }

    /// A frame larger than one batch is decoded in chunks: all of them share the frame's time.
    @Test func frameSplitAcrossBatchesSharesOneArrivalTime() throws {
        var batch = EventBatch(schema: stockSchema)
        let n = EventBatch.capacityMax + 10
        for i in 0..<n { batch.append(timestamp: -1, values: [.string("S"), .double(1), .long(Int64(i))]) }
        let before = LogSink.nowMs()
        let rows = try decodeAll(frame(batch), maxFrameBytes: 4 << 20)
        let after = LogSink.nowMs()
        #expect(rows.count == n)
        let stamps = Set(rows.map { $0[0] })
        #expect(stamps.count == 1)
        if case .long(let t)? = stamps.first { #expect(t >= before && t <= after) } else { Issue.record("no timestamp") }
    }

    /// Through a real listener on loopback: the ring gets arrival times, not 1969.
    @Test(arguments: [IOBackend.ioUring, .epoll])
    func listenerHandsOnArrivalTime(backend: IOBackend) throws {
        let listener = try TCPSourceListenerTests.listener(backend)
        defer { listener.stop() }
        let fd = connectLoopbackPort(listener.port)
        defer { close(fd) }
        let before = LogSink.nowMs()
        let bytes = frame(UnsetTimestampTests.mixedBatch())
        #expect(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count)
        var timestamps: [Int64] = []
        let deadline = Date().addingTimeInterval(10)
        while timestamps.count < 4 && Date() < deadline {
            if let item = listener.ring.tryPop() {
                timestamps += item.batch.timestamps.prefix(item.batch.count)
            } else {
                usleep(200)
            }
        }
        UnsetTimestampTests.expectArrival(timestamps, from: before, to: LogSink.nowMs())
    }
}
