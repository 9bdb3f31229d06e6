import ArgumentParser
import DataPlane
import Engine
import Foundation
import Histogram

/// `tandem send`: publish events to a node's tcp source, from a JSON-lines file or generated. Uses
/// Tandem's acknowledged framing by default (every batch kept until the node acknowledges it, resent
/// after a reconnect); `--framing siddhi` sends plain siddhi-io-tcp frames (fire and forget).
struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Publish events to a node's tcp source, from a JSON-lines file or generated.",
        discussion: """
        The stream, its attributes and the port come from the app's @source(type='tcp', …).
        --input lines look like {"stream":"StockStream","timestamp":1000,"data":["IBM",75.6,100]}
        (timestamp optional: now). Without --input, --count events are generated.

        --framing acked (default): Tandem's acknowledged framing; at most --unacked-max batches wait \
        for their ack, unacknowledged batches are resent after a reconnect, and send exits 0 only once \
        every batch is acknowledged. --framing siddhi: siddhi-io-tcp, as Siddhi's TCP sink sends.

        Several nodes (an HA pair): repeat --target host[:port]. send starts with the first that \
        accepts; when its node goes silent (no keepalive for --silence-timeout-ms), says it is not \
        active, or fails, send moves to the next and resends what is unacknowledged.
        """)

    @Option(name: .long, help: "The Siddhi app the node runs (for the stream definition and source port).")
    var app: String

    @Option(name: .long, help: "Stream to publish to (default: the app's first stream with a tcp source).")
    var stream: String?

    @Option(name: .long, help: "Node host.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port (default: the source's port).")
    var port: Int?

    @Option(name: .long, help: "A node as host[:port] (port default: --port or the source's); repeat for an HA pair, in order of preference. Replaces --host.")
    var target: [String] = []

    @Option(name: .long, help: "Acked framing: ms without a keepalive after which a node counts as gone (0: no keepalives).")
    var silenceTimeoutMs = TCPPublisher.silenceTimeoutMsDefault

    @Option(name: .long, help: "JSON-lines file of events.")
    var input: String?

    @Option(name: .long, help: "Events to generate when there is no --input.")
    var count = 100

    @Option(name: .long, help: "Events per second (0: as fast as possible).")
    var rate = 0.0

    @Option(name: .long, help: "Events per frame.")
    var batch = 100

    @Option(name: .long, help: "Framing: acked (Tandem, acknowledged, resent after reconnect) or siddhi (siddhi-io-tcp).")
    var framing = "acked"

    @Option(name: .long, help: "Acked framing: unacknowledged batches kept at most (send waits at the bound).")
    var unackedMax = TCPPublisher.unackedBatchesMaxDefault

    @Option(name: .long, help: "Acked framing: seconds to keep reconnecting to a node that went away.")
    var reconnectTimeoutSeconds = 30

    @Option(name: .long, help: "Acked framing: write events/s and per-batch ack latency (p50/p99/p999, send to ack) as JSON to this file.")
    var statsJson: String?

    func validate() throws {
        guard batch >= 1 && batch <= EventBatch.capacityMax else { throw ValidationError("--batch must be 1…\(EventBatch.capacityMax)") }
        guard count >= 0 else { throw ValidationError("--count must be ≥ 0") }
        guard rate >= 0 else { throw ValidationError("--rate must be ≥ 0") }
        guard TCPPublisher.Framing(rawValue: framing) != nil else { throw ValidationError("--framing must be acked or siddhi") }
        guard unackedMax >= 1 else { throw ValidationError("--unacked-max must be ≥ 1") }
        guard reconnectTimeoutSeconds >= 0 else { throw ValidationError("--reconnect-timeout-seconds must be ≥ 0") }
        guard statsJson == nil || framing == "acked" else { throw ValidationError("--stats-json needs --framing acked (latency is send to ack)") }
        guard silenceTimeoutMs >= 0 else { throw ValidationError("--silence-timeout-ms must be ≥ 0") }
        for t in target where SendCommand.parseTarget(t, defaultPort: 1) == nil {
            throw ValidationError("--target '\(t)' is not host or host:port (IPv6: [addr]:port)")
        }
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`; nil when malformed.
    static func parseTarget(_ text: String, defaultPort: Int) -> TCPPublisher.Target? {
        var host = Substring(text), port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()) else { return nil }
                port = p
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            guard let p = Int(text[text.index(after: colon)...]) else { return nil }
            port = p
        }
        guard !host.isEmpty, (0...65535).contains(port) else { return nil }
        return TCPPublisher.Target(host: String(host), port: port)
    }

    func run() throws {
        let compiled: SiddhiApp
        do {
            compiled = try SiddhiApp.compile(source: try String(contentsOfFile: app, encoding: .utf8), fileName: app)
        } catch let errors as SiddhiCompileErrors {
            fail(errors.description)
        }
        let tcpSources = compiled.sources.filter { $0.type == "tcp" }
        guard let source = stream.map({ name in tcpSources.first { $0.streamName == name } }) ?? tcpSources.first else {
            fail("\(app): no tcp source\(stream.map { " on stream \($0)" } ?? "") to publish to")
        }
        let schema = source.schema
        let channel = source.option("context") ?? source.streamName
        let targetPort = port ?? Int(source.option("port") ?? "9892") ?? 9892

        var events: [(Int64, [Value])] = []
        if let input {
            let text: String
            do { text = try String(contentsOfFile: input, encoding: .utf8) } catch { fail("\(input): \(error.localizedDescription)") }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.allSatisfy(\.isWhitespace) {
                do {
                    events.append(try SendCommand.parse(String(line), schema: schema, now: now))
                } catch {
                    fail("\(input):\(i + 1): \(error)")
                }
            }
        }
        let total = input == nil ? count : events.count

        let targets = target.isEmpty ? [TCPPublisher.Target(host: host, port: targetPort)]
                                     : target.map { SendCommand.parseTarget($0, defaultPort: targetPort)! }
        let publisher = TCPPublisher(targets: targets, framing: TCPPublisher.Framing(rawValue: framing)!,
                                     unackedBatchesMax: unackedMax, reconnectTimeoutMs: reconnectTimeoutSeconds * 1000,
                                     silenceTimeoutMs: silenceTimeoutMs)
        do { try publisher.connect() } catch { fail("\(error)") }
        let latencies = AckLatencies()
        if statsJson != nil { publisher.onBatchAcknowledged = { latencies.record($0) } }
        var frame = EventBatch(schema: schema, capacity: batch)
        let startEpochMs = Int64(Date().timeIntervalSince1970 * 1000)
        let start = Date()
        var sent = 0, frames = 0
        while sent < total {
            frame.removeAll()
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            for i in sent..<min(sent + batch, total) {
                if input != nil {
                    frame.append(timestamp: events[i].0, values: events[i].1)
                } else {
                    SendCommand.appendGenerated(i, timestamp: now, to: &frame)
                }
            }
            do { try publisher.send(frame, channel: channel) } catch { fail("after \(sent) events: \(error)") }
            sent += frame.count
            frames += 1
            if rate > 0 {
                let due = start.addingTimeInterval(Double(sent) / rate)
                let wait = due.timeIntervalSinceNow
                if wait > 0 { usleep(UInt32(wait * 1_000_000)) }
            }
        }
        do { try publisher.flush() } catch { fail("after \(sent) events, waiting for acks: \(error)") }
        publisher.finish()
        let seconds = Date().timeIntervalSince(start)
        let perSecond = seconds > 0 ? Int(Double(sent) / seconds) : sent
        var acked = ""
        if publisher.framing == .acked {
            acked = ", all acknowledged"
            if publisher.reconnects > 0 {
                acked += " (\(publisher.reconnects) reconnects, \(publisher.failovers) to another node, \(publisher.batchesResent) batches resent)"
            }
        }
        if let statsJson {
            let h = latencies.histogram
            let document: [String: Any] = [
                "events": sent, "batches": frames, "eventsPerBatch": batch, "unackedMax": unackedMax,
                "seconds": seconds, "eventsPerSecond": perSecond,
                "startEpochMs": startEpochMs, "endEpochMs": startEpochMs + Int64(seconds * 1000),
                "batchesAcknowledged": Int(h.totalCount),
                "ackP50Us": Double(h.valueAtPercentile(50)) / 1e3, "ackP99Us": Double(h.valueAtPercentile(99)) / 1e3,
                "ackP999Us": Double(h.valueAtPercentile(99.9)) / 1e3, "ackMaxUs": Double(h.max) / 1e3,
                "ackMeanUs": h.mean / 1e3,
                "reconnects": publisher.reconnects, "batchesResent": publisher.batchesResent,
            ]
            do {
                let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
                try data.write(to: URL(fileURLWithPath: statsJson))
            } catch { fail("\(statsJson): \(error)") }
        }
        FileHandle.standardError.write(Data("sent \(sent) events in \(frames) frames to \(publisher.targets[publisher.targetIndex]) channel '\(channel)' in \(String(format: "%.3f", seconds)) s (\(perSecond) events/s)\(acked)\n".utf8))
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("tandem send: \(message)\n".utf8))
        Foundation.exit(1)
    }

    /// Per-batch ack latency (ns) for `--stats-json`, filled by the publisher's callback (one thread).
    final class AckLatencies {
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
        func record(_ ns: UInt64) { _ = histogram.record(min(ns, histogram.highestTrackableValue)) }
    }

    struct LineError: Error, CustomStringConvertible {
        var description: String
    }

    /// `{"stream":…,"timestamp":…,"data":[…]}`; stream and timestamp optional.
    static func parse(_ line: String, schema: StreamSchema, now: Int64) throws -> (Int64, [Value]) {
        guard case .object(let object) = try JSONValue.parse(line) else { throw LineError(description: "expected a JSON object") }
        if case .string(let name)? = object["stream"], name != schema.name {
            throw LineError(description: "event for stream '\(name)', but publishing to '\(schema.name)'")
        }
        var timestamp = now
        if let t = object["timestamp"] {
            guard case .integer(let v) = t else { throw LineError(description: "timestamp must be an integer") }
            timestamp = v
        }
        guard case .array(let data)? = object["data"], data.count == schema.attributes.count else {
            throw LineError(description: "\"data\" must be an array of \(schema.attributes.count) values")
        }
        var values: [Value] = []
        for (attribute, item) in zip(schema.attributes, data) {
            guard let v = item.attributeValue(attribute.type) else {
                throw LineError(description: "attribute '\(attribute.name)' is \(attribute.type), got \(item)")
            }
            values.append(v)
        }
        return (timestamp, values)
    }

    /// Appends generated event `i` (the values of `generated`) straight into the batch's columns.
    static func appendGenerated(_ i: Int, timestamp: Int64, to batch: inout EventBatch) {
        let mixed = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15
        let row = batch.appendRow(timestamp: timestamp)
        for (c, attribute) in batch.schema.attributes.enumerated() {
            let r = (mixed >> UInt64(7 * c % 40)) ^ UInt64(c)
            switch attribute.type {
            case .int, .long: batch.setInt64(c, row, Int64(r % 1000))
            case .float: batch.setDouble(c, row, Double(Float(r % 10_000) / 100))
            case .double: batch.setDouble(c, row, Double(r % 10_000) / 100)
            case .string: batch.setString(c, row, SendCommand.symbols[i % 10])
            case .bool: batch.setBool(c, row, r & 1 == 0)
            case .object: batch.setString(c, row, "[\"\(SendCommand.symbols[i % 10])\"]")  // a one-element set
            }
        }
    }

    /// The generated string values, made once (not one String per event).
    static let symbols = (0..<10).map { "S\($0)" }

    /// Deterministic generated values: strings S0…S9, prices 0.00–99.99, volumes 0–999.
    static func generated(_ i: Int, schema: StreamSchema) -> [Value] {
        let mixed = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15
        return schema.attributes.enumerated().map { c, attribute in
            let r = (mixed >> UInt64(7 * c % 40)) ^ UInt64(c)
            switch attribute.type {
            case .int: return .int(Int32(r % 1000))
            case .long: return .long(Int64(r % 1000))
            case .float: return .float(Float(r % 10_000) / 100)
            case .double: return .double(Double(r % 10_000) / 100)
            case .string: return .string("S\(i % 10)")
            case .bool: return .bool(r & 1 == 0)
            case .object: return .object("[\"S\(i % 10)\"]")
            }
        }
    }
}
