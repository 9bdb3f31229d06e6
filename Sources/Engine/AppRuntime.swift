/// Runs one compiled Siddhi app. Batches sent into a stream flow through every query reading it,
/// and on through the streams those queries insert into.
///
/// Confined to ONE thread (the app's engine thread): it takes no locks and must not be used from two
/// threads at once. `@unchecked Sendable` only so that it can be handed to that thread.
public final class AppRuntime: @unchecked Sendable {
    public typealias OutputCallback = (EventBatch) -> Void

    public let app: SiddhiApp
    private let streamIndexByName: [String: Int]
    private let queries: [QueryRuntime]
    /// Per stream: the queries that read it.
    private let consumers: [[Int]]
    /// Per query: the stream index it inserts into.
    private let targets: [Int]
    private var callbacks: [[OutputCallback]]
    private var insertCallbacks: [[OutputCallback]]
    /// The engine's clock (event time in playback, else wall-clock milliseconds).
    public private(set) var currentTimeMs: Int64 = 0

    /// A chain longer than this means a cycle of queries; it is cut there (see `send`).
    static let chainDepthMax = 64

    public init(app: SiddhiApp) {
        self.app = app
        var byName: [String: Int] = [:]
        for (i, s) in app.streams.enumerated() { byName[s.name] = i }
        streamIndexByName = byName
        queries = app.queries.map(QueryRuntime.init)
        var consumers = Array(repeating: [Int](), count: app.streams.count)
        for (q, plan) in app.queries.enumerated() { consumers[byName[plan.input.name]!].append(q) }
        self.consumers = consumers
        targets = app.queries.map { byName[$0.output.name]! }
        callbacks = Array(repeating: [], count: app.streams.count)
        insertCallbacks = callbacks
    }

    public var streams: [StreamSchema] { app.streams }

    public func streamIndex(_ name: String) -> Int? { streamIndexByName[name] }

    /// Streams that some query inserts into (the outputs `tandem replay` prints).
    public var queryOutputStreams: [String] {
        var seen = Set<String>()
        return app.queries.map(\.output.name).filter { seen.insert($0).inserted }
    }

    /// Calls `callback` on the engine thread with every batch that enters `stream` (sent by a source
    /// or inserted by a query), in emission order. With `queryInsertsOnly`, only batches inserted by
    /// queries (what `tandem replay` prints).
    public func addOutputCallback(stream: String, queryInsertsOnly: Bool = false, _ callback: @escaping OutputCallback) {
        guard let i = streamIndexByName[stream] else { preconditionFailure("unknown stream \(stream)") }
        if queryInsertsOnly { insertCallbacks[i].append(callback) } else { callbacks[i].append(callback) }
    }

    /// Pushes a batch of events into a stream (as a source would).
    public func send(streamIndex: Int, batch: EventBatch) {
        precondition(batch.schema === app.streams[streamIndex] || batch.schema.attributes == app.streams[streamIndex].attributes,
                     "batch schema differs from stream \(app.streams[streamIndex].name)")
        guard !batch.isEmpty else { return }
        if let last = batch.timestamps.last, app.isPlayback || currentTimeMs == 0 { currentTimeMs = max(currentTimeMs, last) }
        route(streamIndex, batch, depth: 0, notify: false)
    }

    /// Moves the clock forward; time-based operators (windows, later issues) fire here.
    public func advanceTime(to timeMs: Int64) {
        currentTimeMs = max(currentTimeMs, timeMs)
    }

    private func route(_ stream: Int, _ batch: EventBatch, depth: Int, notify: Bool) {
        // A stream's subscribers see inserted events before downstream queries run (Siddhi's junction order).
        for callback in callbacks[stream] { callback(batch) }
        if notify { for callback in insertCallbacks[stream] { callback(batch) } }
        guard depth < AppRuntime.chainDepthMax else { return }
        for q in consumers[stream] {
            if let out = queries[q].process(batch) {
                route(targets[q], out, depth: depth + 1, notify: true)
            }
        }
    }
}
