import Foundation
import Testing

/// `@sink(type='inMemory')` and `@source(type='inMemory')` between apps of one real node: the
/// producer's filtered output reaches the consumer (attributes by position, types kept), and an app
/// whose stream has another shape is refused at deploy with the reason.
@Suite(.serialized) struct InMemoryEndToEndTests {
    @Test func topicCarriesEventsBetweenAppsOfOneNode() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeTCPPort()
        let apps = dir.appendingPathComponent("apps")
        try FileManager.default.createDirectory(at: apps, withIntermediateDirectories: true)
        let producer = apps.appendingPathComponent("a_producer.siddhi")
        try """
            @App:name('Producer')
            @source(type='tcp', port='\(port)', context='StockStream', @map(type='binary'))
            define stream StockStream (symbol string, price double, volume long);
            @sink(type='inMemory', topic='Filtered', on.full='block', block.timeout.ms='5000')
            define stream Filtered (symbol string, price double, volume long);
            from StockStream[price > 50.0] select * insert into Filtered;
            """.write(to: producer, atomically: true, encoding: .utf8)
        try """
            @App:name('Consumer')
            @source(type='inMemory', topic='Filtered', @map(type='passThrough'))
            define stream In (sym string, p double, v long);
            @sink(type='log', prefix='OUT')
            define stream Out (symbol string, price double, total double);
            from In select sym as symbol, p as price, p * v as total insert into Out;
            """.write(to: apps.appendingPathComponent("b_consumer.siddhi"), atomically: true, encoding: .utf8)
        try """
            @App:name('Mismatch')
            @source(type='inMemory', topic='Filtered')
            define stream Bad (sym string, p int, v long);
            """.write(to: apps.appendingPathComponent("c_mismatch.siddhi"), atomically: true, encoding: .utf8)
        let node = try NodeProcess(arguments: ["run", "--apps", apps.path], workingDirectory: dir)
        defer { _ = node.terminate() }
        #expect(EndToEndTests.waitForPort(port, timeoutSec: 20), "no port: \(node.stderr)")
        node.waitFor(timeoutSec: 20) { _, err in err.contains("running 2 of 3 apps") }
        #expect(node.stderr.contains("inMemory topic 'Filtered' carries (string, double, long) (set by app 'Producer' stream 'Filtered'); app 'Mismatch' stream 'Bad' has (string, int, long)"), "\(node.stderr)")

        let input = try EndToEndTests.writeInput(dir)
        let (status, _, sendErr) = try NodeProcess.runToEnd(
            ["send", "--app", producer.path, "--host", "127.0.0.1", "--input", input.path, "--batch", "16"], workingDirectory: dir)
        #expect(status == 0, "tandem send failed: \(sendErr)")
        let expected = EndToEndTests.expected
        node.waitFor(timeoutSec: 20) { lines, _ in EndToEndTests.outputRows(lines, prefix: "OUT").count >= expected.count }
        #expect(EndToEndTests.outputRows(node.lines, prefix: "OUT") == expected, "\(node.stderr)")
        #expect(node.terminate() == 0)
    }
}
