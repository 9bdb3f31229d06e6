import ArgumentParser
import DataPlane
import Engine
import Foundation

/// `tandem send`: publish events to a node's tcp source (siddhi-io-tcp framing), from a JSON-lines
/// file or generated.
struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Publish events to a node's tcp source, from a JSON-lines file or generated.",
        discussion: """
        The stream, its attributes and the port come from the app's @source(type='tcp', …).
        --input lines look like {"stream":"StockStream","timestamp":1000,"data":["IBM",75.6,100]}
        (timestamp optional: now). Without --input, --count events are generated.
        """)

    @Option(name: .long, help: "The Siddhi app the node runs (for the stream definition and source port).")
    var app: String

    @Option(name: .long, help: "Stream to publish to (default: the app's first stream with a tcp source).")
    var stream: String?

    @Option(name: .long, help: "Node host.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port (default: the source's port).")
    var port: Int?

    @Option(name: .long, help: "JSON-lines file of events.")
    var input: String?

    @Option(name: .long, help: "Events to generate when there is no --input.")
    var count = 100

    @Option(name: .long, help: "Events per second (0: as fast as possible).")
    var rate = 0.0

    @Option(name: .long, help: "Events per frame.")
    var batch = 100

    func validate() throws {
        guard batch >= 1 && batch <= EventBatch.capacityMax else { throw ValidationError("--batch must be 1…\(EventBatch.capacityMax)") }
        guard count >= 0 else { throw ValidationError("--count must be ≥ 0") }
        guard rate >= 0 else { throw ValidationError("--rate must be ≥ 0") }
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

        let publisher = TCPPublisher(host: host, port: targetPort)
        do { try publisher.connect() } catch { fail("\(error)") }
        var frame = EventBatch(schema: schema, capacity: batch)
        let start = Date()
        var sent = 0, frames = 0
        while sent < total {
            frame.removeAll()
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            for i in sent..<min(sent + batch, total) {
                if input != nil {
                    frame.append(timestamp: events[i].0, values: events[i].1)
                } else {
                    frame.append(timestamp: now, values: SendCommand.generated(i, schema: schema))
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
        publisher.finish()
        let seconds = Date().timeIntervalSince(start)
        let perSecond = seconds > 0 ? Int(Double(sent) / seconds) : sent
        FileHandle.standardError.write(Data("sent \(sent) events in \(frames) frames to \(host):\(targetPort) channel '\(channel)' in \(String(format: "%.3f", seconds)) s (\(perSecond) events/s)\n".utf8))
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("tandem send: \(message)\n".utf8))
        Foundation.exit(1)
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
            }
        }
    }
}
