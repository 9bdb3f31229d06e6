@testable import ControlPlane
import DataPlane
import Engine
import Foundation
import Logging
import Testing

/// The event-sync link over real loopback sockets: what the active forwards is queued on the passive
/// with its sequence numbers, control messages trim exactly, a full queue pushes back, and a passive
/// stuck past the limit is detached.
@Suite struct EventSyncTests {
    static let schema = StreamSchema(name: "In", attributes: [Attribute(name: "symbol", type: .string), Attribute(name: "seq", type: .long)])
    static let logger = Logger(label: "test")

    static func batch(_ range: Range<Int>, padding: Int = 0) -> EventBatch {
        var batch = EventBatch(schema: schema, capacity: range.count)
        let pad = String(repeating: "x", count: padding)
        for i in range { _ = batch.append(timestamp: Int64(i), values: [.string("S\(i % 3)\(pad)"), .long(Int64(i))]) }
        return batch
    }

    static func waitUntil(timeoutSec: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSec)
        while Date() < deadline {
            if condition() { return true }
            usleep(5_000)
        }
        return condition()
    }

    static func seqs(_ batch: EventBatch) -> [Int64] { (0..<batch.count).map { batch.int64(1, $0) } }

    @Test func forwardedBatchesAreQueuedAndTrimmedExactly() throws {
        let queue = EventSyncQueue(capacityEvents: 1_000)
        let server = EventSyncServer(host: "127.0.0.1", port: 0, queue: queue, logger: EventSyncTests.logger) { _ in }
        try server.start()
        defer { server.stop() }
        let client = EventSyncClient(nodeId: "active", stallLimitMs: 1_000, logger: EventSyncTests.logger)
        try client.attach(host: "127.0.0.1", port: server.port, term: 7, connectTimeoutMs: 1_000)
        var scratch: [UInt8] = []
        for first in stride(from: 1, to: 31, by: 10) {
            #expect(client.forward(app: "A", stream: "In", firstSequence: Int64(first), batch: EventSyncTests.batch(first..<first + 10), scratch: &scratch))
        }
        #expect(EventSyncTests.waitUntil { queue.depth == 30 })
        #expect(queue.inSync(app: "A") == false, "events before sequence 1 were never covered by a snapshot")
        #expect(client.persisted(app: "A", revision: "r20", lastSequence: 20))
        #expect(EventSyncTests.waitUntil { queue.depth == 10 }, "events 1...20 are trimmed, 21...30 stay")
        #expect(queue.inSync(app: "A") == true)
        #expect(queue.lastPersisted(app: "A")?.revision == "r20")
        // A snapshot inside a batch: the batch stays, replay skips the covered events.
        #expect(client.persisted(app: "A", revision: "r25", lastSequence: 25))
        #expect(EventSyncTests.waitUntil { queue.lastPersisted(app: "A")?.lastSequence == 25 })
        let entries = queue.take(app: "A")
        #expect(entries.map(\.firstSequence) == [21])
        let replay = try entries[0].decode(schema: EventSyncTests.schema, after: 25)
        #expect(EventSyncTests.seqs(replay) == [26, 27, 28, 29, 30])
        #expect(replay.timestamps == [26, 27, 28, 29, 30])
        #expect(queue.depth == 0)
    }

    @Test func gapKeepsAnAppOutOfSyncUntilASnapshotCoversIt() {
        let queue = EventSyncQueue(capacityEvents: 100)
        func entry(_ first: Int64, _ count: Int) -> EventSyncEntry {
            EventSyncEntry(app: "A", stream: "In", firstSequence: first, eventCount: count, frame: [])
        }
        #expect(queue.inSync(app: "A") == nil)
        #expect(queue.append(entry(1, 10), timeoutMs: 0))
        #expect(queue.inSync(app: "A") == false)
        queue.persisted(app: "A", revision: "r0", lastSequence: 0)
        #expect(queue.inSync(app: "A") == true)
        #expect(queue.append(entry(11, 10), timeoutMs: 0))
        #expect(queue.inSync(app: "A") == true, "contiguous")
        #expect(queue.append(entry(31, 10), timeoutMs: 0))
        #expect(queue.inSync(app: "A") == false, "events 21...30 are missing")
        queue.persisted(app: "A", revision: "r25", lastSequence: 25)
        #expect(queue.inSync(app: "A") == false, "a snapshot up to 25 does not cover 26...30")
        queue.persisted(app: "A", revision: "r30", lastSequence: 30)
        #expect(queue.inSync(app: "A") == true)
        #expect(queue.depth == 10, "only 31...40 are left")
        queue.persisted(app: "A", revision: "old", lastSequence: 5)
        #expect(queue.lastPersisted(app: "A")?.revision == "r30", "an older control message changes nothing")
    }

    /// The same active re-attaching (same lease term) keeps what the passive holds: it may have
    /// acknowledged those events because the passive held them. A new term (another incarnation,
    /// its own numbering) drops them.
    @Test func reattachOfTheSameTermKeepsTheQueueANewTermClearsIt() {
        let queue = EventSyncQueue(capacityEvents: 100)
        func entry(_ first: Int64, _ count: Int) -> EventSyncEntry {
            EventSyncEntry(app: "A", stream: "In", firstSequence: first, eventCount: count, frame: [])
        }
        queue.connectionStarted(term: 3)
        queue.persisted(app: "A", revision: "r0", lastSequence: 0)
        #expect(queue.append(entry(1, 10), timeoutMs: 0))
        queue.connectionStarted(term: 3)
        #expect(queue.depth == 10, "same term: held events stay")
        #expect(queue.append(entry(11, 5), timeoutMs: 0))
        #expect(queue.inSync(app: "A") == true, "the re-attached link continued where it stopped")
        #expect(queue.append(entry(21, 5), timeoutMs: 0))
        #expect(queue.inSync(app: "A") == false, "16...20 ran while detached")
        queue.connectionStarted(term: 4)
        #expect(queue.depth == 0, "a new term drops what the old incarnation sent")
        queue.reset()
        #expect(queue.inSync(app: "A") == nil)
    }

    /// A takeover that did not last puts back what it took, ahead of what arrived since, and the
    /// app stays in sync (the node may take over again, or the other node defers to it).
    @Test func requeuedEntriesGoBackInFront() {
        let queue = EventSyncQueue(capacityEvents: 100)
        func entry(_ first: Int64, _ count: Int) -> EventSyncEntry {
            EventSyncEntry(app: "A", stream: "In", firstSequence: first, eventCount: count, frame: [])
        }
        queue.connectionStarted(term: 1)
        queue.persisted(app: "A", revision: "r0", lastSequence: 0)
        #expect(queue.append(entry(1, 10), timeoutMs: 0) && queue.append(entry(11, 10), timeoutMs: 0))
        let taken = queue.take(app: "A")
        #expect(queue.depth == 0)
        queue.requeue(app: "A", entries: taken)
        #expect(queue.depth == 20 && queue.inSync(app: "A") == true)
        #expect(queue.take(app: "A").map(\.firstSequence) == [1, 11])
    }

    /// What a new active replays: the queued entries continuing its snapshot, up to the first hole.
    @Test func promotionReplaysTheContiguousRunOnly() {
        func entry(_ first: Int64, _ count: Int) -> EventSyncEntry {
            EventSyncEntry(app: "A", stream: "In", firstSequence: first, eventCount: count, frame: [])
        }
        let queued = [entry(1, 10), entry(11, 10), entry(31, 10), entry(41, 5)]
        let fromStart = Takeover.contiguousRun(queued, after: 0)
        #expect(fromStart.entries.map(\.firstSequence) == [1, 11])
        #expect(fromStart.gap == 21...30)
        #expect(fromStart.eventsAfterGap == 15)
        let straddling = Takeover.contiguousRun(queued, after: 15)
        #expect(straddling.entries.map(\.firstSequence) == [11], "the entry holding 16 continues a snapshot through 15")
        let covered = Takeover.contiguousRun(queued, after: 30)
        #expect(covered.entries.map(\.firstSequence) == [31, 41] && covered.gap == nil)
        let behind = Takeover.contiguousRun(queued, after: 50)
        #expect(behind.entries.isEmpty && behind.gap == nil && behind.eventsAfterGap == 0)
        let holeFirst = Takeover.contiguousRun([entry(5, 5)], after: 0)
        #expect(holeFirst.entries.isEmpty && holeFirst.gap == 1...4 && holeFirst.eventsAfterGap == 5)
    }

    @Test func fullQueueRefusesUntilTrimmed() {
        let queue = EventSyncQueue(capacityEvents: 15)
        let e = { (first: Int64) in EventSyncEntry(app: "A", stream: "In", firstSequence: first, eventCount: 10, frame: []) }
        #expect(queue.append(e(1), timeoutMs: 0))
        let started = Date()
        #expect(!queue.append(e(11), timeoutMs: 100), "over capacity: waits, then refuses")
        #expect(Date().timeIntervalSince(started) >= 0.09)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { queue.persisted(app: "A", revision: "r", lastSequence: 10) }
        #expect(queue.append(e(11), timeoutMs: 2_000), "a trim makes room")
        #expect(queue.depth == 10)
    }

    @Test func passiveStuckPastTheLimitIsDetached() throws {
        // A queue that holds one big batch: the server stops reading, TCP buffers fill, the client's
        // writes make no progress and it detaches the passive after its stall limit.
        let queue = EventSyncQueue(capacityEvents: 2_000)
        let server = EventSyncServer(host: "127.0.0.1", port: 0, queue: queue, logger: EventSyncTests.logger) { _ in }
        try server.start()
        defer { server.stop() }
        let client = EventSyncClient(nodeId: "active", stallLimitMs: 300, logger: EventSyncTests.logger)
        try client.attach(host: "127.0.0.1", port: server.port, term: 1, connectTimeoutMs: 1_000)
        var scratch: [UInt8] = []
        let big = EventSyncTests.batch(0..<2_000, padding: 500)  // ~1 MB a frame
        var forwarded = 0
        let started = Date()
        while forwarded < 200, client.forward(app: "A", stream: "In", firstSequence: Int64(forwarded * 2_000 + 1), batch: big, scratch: &scratch) {
            forwarded += 1
        }
        #expect(forwarded < 200, "the link pushed back and gave up")
        #expect(client.detaches.load(ordering: .relaxed) == 1)
        #expect(!client.isAttached)
        #expect(Date().timeIntervalSince(started) >= 0.3)
        #expect(queue.depth <= 2_000, "the passive never holds more than its capacity")
    }
}
