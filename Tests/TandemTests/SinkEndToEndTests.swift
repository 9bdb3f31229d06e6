import Foundation
import Testing

/// `@sink(type='tcp')` between two real nodes: node A filters and sends its output over TCP
/// (siddhi-io-tcp framing, or Tandem's acknowledged one) to node B's tcp source, whose log sink
/// must show every row, in order, exactly once.
@Suite(.serialized) struct SinkEndToEndTests {
    @Test(arguments: ["siddhi", "acked"])
    func outputFlowsFromOneNodeToAnother(framing: String) throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let portA = freeTCPPort(), portB = freeTCPPort()
        let appsA = dir.appendingPathComponent("a"), appsB = dir.appendingPathComponent("b")
        for d in [appsA, appsB] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        let appA = appsA.appendingPathComponent("a.siddhi")
        try """
            @App:name('Upstream')
            @source(type='tcp', port='\(portA)', context='StockStream', @map(type='binary'))
            define stream StockStream (symbol string, price double, volume long);
            @sink(type='tcp', url='tcp://127.0.0.1:\(portB)/Filtered', framing='\(framing)', @map(type='binary'))
            define stream Filtered (symbol string, price double, total double);
            from StockStream[price > 50.0] select symbol, price, price * volume as total insert into Filtered;
            """.write(to: appA, atomically: true, encoding: .utf8)
        try """
            @App:name('Downstream')
            @source(type='tcp', port='\(portB)', context='Filtered', @map(type='binary'))
            define stream Filtered (symbol string, price double, total double);
            @sink(type='log', prefix='OUT')
            define stream Out (symbol string, price double, total double);
            from Filtered select * insert into Out;
            """.write(to: appsB.appendingPathComponent("b.siddhi"), atomically: true, encoding: .utf8)
        let b = try NodeProcess(arguments: ["run", "--apps", appsB.path], workingDirectory: dir)
        defer { _ = b.terminate() }
        #expect(EndToEndTests.waitForPort(portB, timeoutSec: 20), "B did not open \(portB): \(b.stderr)")
        let a = try NodeProcess(arguments: ["run", "--apps", appsA.path], workingDirectory: dir)
        defer { _ = a.terminate() }
        #expect(EndToEndTests.waitForPort(portA, timeoutSec: 20), "A did not open \(portA): \(a.stderr)")

        let input = try EndToEndTests.writeInput(dir)
        let (status, _, sendErr) = try NodeProcess.runToEnd(
            ["send", "--app", appA.path, "--host", "127.0.0.1", "--input", input.path, "--batch", "16"], workingDirectory: dir)
        #expect(status == 0, "tandem send failed: \(sendErr)")
        let expected = EndToEndTests.expected
        b.waitFor(timeoutSec: 20) { lines, _ in EndToEndTests.outputRows(lines, prefix: "OUT").count >= expected.count }
        #expect(EndToEndTests.outputRows(b.lines, prefix: "OUT") == expected, "A: \(a.stderr)\nB: \(b.stderr)")
        #expect(a.terminate() == 0)
    }

    @Test func badSinkSettingsAreReported() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let app = dir.appendingPathComponent("bad.siddhi")
        try """
            @App:name('BadSink')
            @sink(type='tcp', url='http://x', @map(type='binary'))
            define stream Out (a int);
            """.write(to: app, atomically: true, encoding: .utf8)
        let node = try NodeProcess(arguments: ["run", "--apps", dir.path], workingDirectory: dir)
        defer { _ = node.terminate() }
        node.waitFor(timeoutSec: 20) { _, err in err.contains("not deployed") }
        #expect(node.stderr.contains("tcp sink needs url='tcp://host:port/context'"), "\(node.stderr)")
    }
}
