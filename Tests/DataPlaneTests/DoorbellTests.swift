import Atomics
import DataPlane
import Foundation
import Testing

/// The consumer side of several rings: one engine thread, one doorbell, a producer per ring.
@Suite struct DoorbellTests {
    @Test func oneConsumerDrainsSeveralRingsThroughOneDoorbell() {
        let rings = (0..<3).map { _ in SPSCRing<Int>(capacity: 8) }
        let doorbell = Doorbell()
        let perRing = 200_000
        for (k, ring) in rings.enumerated() {
            Thread {
                for i in 0..<perRing {
                    var backoffUs: UInt32 = 1
                    while !ring.tryPush(k * perRing + i) {
                        usleep(backoffUs)  // full: wait for the consumer, never drop
                        backoffUs = min(backoffUs * 2, 256)
                    }
                    doorbell.ring()
                }
            }.start()
        }
        var next = rings.indices.map { $0 * perRing }
        var received = 0, outOfOrder = 0, sleeps = 0
        let deadline = Date().addingTimeInterval(60)
        while received < 3 * perRing && Date() < deadline {
            var drained = 0
            for (k, ring) in rings.enumerated() {
                while let v = ring.tryPop() {
                    if v != next[k] { outOfOrder += 1 }
                    next[k] = v + 1
                    drained += 1
                }
            }
            received += drained
            if drained == 0 {
                sleeps += 1
                doorbell.wait(timeoutMs: 1000) { rings.allSatisfy(\.isEmpty) }
            }
        }
        #expect(received == 3 * perRing)
        #expect(outOfOrder == 0)
    }

    @Test func waitReturnsPromptlyWhenRungAndTimesOutWhenNot() {
        let ring = SPSCRing<Int>(capacity: 2)
        let doorbell = Doorbell()
        // Nobody rings: the wait lasts about its timeout.
        var start = Date()
        doorbell.wait(timeoutMs: 100) { ring.isEmpty }
        let idle = Date().timeIntervalSince(start)
        #expect(idle >= 0.09 && idle < 2)
        // A push from another thread 50 ms in wakes the consumer long before a 10 s timeout.
        start = Date()
        Thread {
            usleep(50_000)
            _ = ring.tryPush(1)
            doorbell.ring()
        }.start()
        doorbell.wait(timeoutMs: 10_000) { ring.isEmpty }
        let woken = Date().timeIntervalSince(start)
        #expect(woken < 5, "woken by the ring, not the timeout (\(woken) s)")
        #expect(ring.tryPop() == 1)
        // Non-empty at the call: no sleep at all.
        _ = ring.tryPush(2)
        start = Date()
        doorbell.wait(timeoutMs: 10_000) { ring.isEmpty }
        #expect(Date().timeIntervalSince(start) < 1)
    }

    @Test func ringsOfReferenceTypesReleaseWhatTheyHold() {
        final class Token {
            let live: ManagedAtomic<Int>
            init(_ live: ManagedAtomic<Int>) { self.live = live; live.wrappingIncrement(ordering: .relaxed) }
            deinit { live.wrappingDecrement(ordering: .relaxed) }
        }
        let live = ManagedAtomic<Int>(0)
        do {
            let ring = SPSCRing<Token>(capacity: 4)
            for _ in 0..<3 { #expect(ring.tryPush(Token(live))) }
            _ = ring.tryPop()
            #expect(live.load(ordering: .relaxed) == 2, "a popped element is not kept by the ring")
        }
        #expect(live.load(ordering: .relaxed) == 0, "elements left in a dropped ring are released")
    }
}
