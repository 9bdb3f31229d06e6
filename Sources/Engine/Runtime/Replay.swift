/// An input line `tandem replay` could not use, with its 1-based line number.
public struct ReplayError: Error, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "input line \(line): \(message)" }
}

/// Why `Replay.run(appSource:…)` failed: the app does not compile, or an input line is bad.
public enum ReplayFailure: Error, Sendable, CustomStringConvertible {
    case compile(SiddhiCompileErrors)
    case input(ReplayError)

    public var description: String {
        switch self {
        case .compile(let errors): errors.description
        case .input(let error): error.description
        }
    }
}

/// The `tandem replay` contract: run an app in playback over JSON-lines input and print one JSON
/// line per event a query inserts into a stream, in emission order.
public enum Replay {
    /// One parsed input line: an event for a stream, or a clock-only tick.
    public struct InputEvent: Sendable {
        public var stream: String?
        public var timestampMs: Int64
        public var values: [Value]
    }

    /// Parses `{"stream":"S","timestamp":1000,"data":[...]}` or `{"timestamp":5000}` against the app.
    public static func parseLine(_ text: String, app: SiddhiApp) throws(ReplayMessage) -> InputEvent {
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw ReplayMessage("not valid JSON") }
        guard case .object(let object) = json else { throw ReplayMessage("expected a JSON object") }
        guard case .integer(let timestamp)? = object["timestamp"] ?? object["ts"] else {
            throw ReplayMessage("missing integer \"timestamp\"")
        }
        guard let streamValue = object["stream"] else {
            if object["data"] != nil { throw ReplayMessage("\"data\" without \"stream\"") }
            return InputEvent(stream: nil, timestampMs: timestamp, values: [])
        }
        guard case .string(let stream) = streamValue else { throw ReplayMessage("\"stream\" must be a string") }
        guard let schema = app.stream(named: stream) else { throw ReplayMessage("unknown stream '\(stream)'") }
        guard case .array(let data)? = object["data"] else { throw ReplayMessage("missing \"data\" array") }
        guard data.count == schema.attributes.count else {
            throw ReplayMessage("stream '\(stream)' has \(schema.attributes.count) attributes, got \(data.count) values")
        }
        var values: [Value] = []
        for (attribute, item) in zip(schema.attributes, data) {
            guard let v = item.attributeValue(attribute.type) else {
                throw ReplayMessage("attribute '\(attribute.name)' is \(attribute.type), got \(item)")
            }
            values.append(v)
        }
        return InputEvent(stream: stream, timestampMs: timestamp, values: values)
    }

    /// A message without a line number yet.
    public struct ReplayMessage: Error, Sendable {
        public var text: String
        init(_ text: String) { self.text = text }
    }

    /// Compiles `appSource` and runs it over `inputLines` (see `run(app:lines:output:)`).
    public static func run(appSource: String, fileName: String, inputLines: some Sequence<String>,
                           snapshotAfterLine: Int? = nil, output: @escaping (String) -> Void) throws(ReplayFailure) {
        let app: SiddhiApp
        do { app = try SiddhiApp.compile(source: appSource, fileName: fileName) } catch { throw .compile(error) }
        do { try run(app: app, lines: inputLines, snapshotAfterLine: snapshotAfterLine, output: output) } catch { throw .input(error) }
    }

    /// Runs `app` over `lines`, calling `output` with each output JSON line.
    /// Each event is sent as its own batch, as Siddhi processes one arrival per chunk in playback: batching
    /// events of one timestamp would reorder the output of one stream fed by two paths (a chain and a
    /// direct query).
    ///
    /// With `snapshotAfterLine` N, after input line N the state is snapshotted and restored into a
    /// freshly built runtime that carries on: the output must equal an uninterrupted run (the
    /// contract HA failover relies on).
    public static func run(app: SiddhiApp, lines: some Sequence<String>, snapshotAfterLine: Int? = nil,
                           output: @escaping (String) -> Void) throws(ReplayError) {
        func makeRuntime() -> AppRuntime {
            let runtime = AppRuntime(app: app, playback: true)
            for stream in runtime.queryOutputStreams {
                runtime.addOutputCallback(stream: stream, queryInsertsOnly: true) { batch in
                    for row in 0..<batch.count { output(JSONWriter.eventLine(batch, row: row)) }
                }
            }
            return runtime
        }
        var runtime = makeRuntime()
        var batches: [String: EventBatch] = [:]
        for schema in app.streams { batches[schema.name] = EventBatch(schema: schema, capacity: 1) }
        var lineNumber = 0
        for line in lines {
            lineNumber += 1
            if lineNumber - 1 == snapshotAfterLine, lineNumber > 1 {
                let snapshot = runtime.snapshot()
                runtime = makeRuntime()
                do { try runtime.restore(snapshot) } catch {
                    throw ReplayError(line: lineNumber, message: "restore failed: \(error)")
                }
            }
            if line.allSatisfy(\.isWhitespace) { continue }
            let event: InputEvent
            do { event = try parseLine(line, app: app) } catch { throw ReplayError(line: lineNumber, message: error.text) }
            if event.timestampMs < runtime.currentTimeMs {
                throw ReplayError(line: lineNumber, message: "timestamp \(event.timestampMs) goes back in time (clock is at \(runtime.currentTimeMs))")
            }
            runtime.advanceTime(to: event.timestampMs)
            guard let stream = event.stream, let index = runtime.streamIndex(stream) else { continue }
            var batch = batches.removeValue(forKey: stream)!
            batch.removeAll()
            batch.append(timestamp: event.timestampMs, values: event.values)
            runtime.send(streamIndex: index, batch: batch)
            batches[stream] = batch
        }
    }
}
