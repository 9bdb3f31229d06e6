import DataPlane
import Foundation
import Testing

@Suite struct SPSCRingTests {
    @Test func fullAndEmpty() {
        let ring = SPSCRing<Int>(capacity: 4)
        #expect(ring.tryPop() == nil)
        for i in 0..<4 { #expect(ring.tryPush(i)) }
        #expect(!ring.tryPush(99), "a full ring refuses, it never overwrites")
        #expect(ring.count == 4)
        for i in 0..<4 { #expect(ring.tryPop() == i) }
        #expect(ring.tryPop() == nil)
    }

    @Test func twoThreadsMillionItemsInOrder() async {
        let ring = SPSCRing<Int>(capacity: 64)
        let doorbell = Doorbell()
        let total = 1_000_000
        let producer = Thread {
            for i in 0..<total {
                while !ring.tryPush(i) { sched_yield() }
                doorbell.ring()
            }
        }
        producer.start()
        var expected = 0
        var outOfOrder = 0
        while expected < total {
            if let v = ring.tryPop() {
                if v != expected { outOfOrder += 1 }
                expected += 1
                #expect(ring.count <= ring.capacity)
            } else {
                doorbell.wait(timeoutMs: 10) { ring.isEmpty }
            }
        }
        #expect(outOfOrder == 0)
        #expect(ring.tryPop() == nil)
    }
}
