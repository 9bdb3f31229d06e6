/// Runs one compiled Siddhi app. Batches sent into a stream flow through every query reading it,
/// and on through the streams those queries insert into.
///
/// Confined to ONE thread (the app's engine thread): it takes no locks and must not be used from two
/// threads at once. `@unchecked Sendable` only so that it can be handed to that thread.
public final class AppRuntime: @unchecked Sendable {
    public typealias OutputCallback = (EventBatch) -> Void

    /// A query of the graph: stateless (filter/projection) or with state (window, aggregates, …).
    /// Dispatched once per batch.
    private enum Query {
        case stateless(QueryRuntime)
        case stateful(StatefulQuery)
        case join(JoinQuery)
        case pattern(PatternQuery)
        /// A query of a partition: one instance per key.
        case partitioned(PartitionedQuery)
        case aggregationJoin(AggregationJoinQuery)
    }

    public let app: SiddhiApp
    /// Playback: the clock follows event timestamps (`@App:playback`, `tandem replay`).
    public let isPlayback: Bool
    private let streamIndexByName: [String: Int]
    private let queries: [Query]
    /// Per query: the `#str:tokenize` expansion of its input batches, if any.
    private let tokenizers: [Tokenizer?]
    private let statefulQueries: [StatefulQuery]
    private let joinQueries: [JoinQuery]
    private let patternQueries: [PatternQuery]
    private let partitionedQueries: [PartitionedQuery]
    /// Per partition, its keys (shared by its queries).
    private let partitionKeys: [PartitionKeys]
    /// Incremental aggregations in definition order, and per stream the ones it feeds.
    private let aggregations: [IncrementalAggregation]
    private let aggregationFeeds: [[Int]]
    private let aggregationJoins: [AggregationJoinQuery]
    /// Per stream: the queries that read it, with the join side it feeds (-1: not a join).
    private let consumers: [[(query: Int, side: Int)]]
    /// Per query: the stream index it inserts into (-1 when it writes a table).
    private let targets: [Int]
    /// In-memory tables, in definition order.
    private let tables: [Table]
    /// The tables by name, published to the thread while queries are built and run (`TableIn.swift`).
    private let registry: TableRegistry
    /// Tables with a store attached.
    private var storedTables: [Table] = []
    /// Per query: the writer of the table it changes, if any.
    private let writers: [TableWriter?]
    private var callbacks: [[OutputCallback]]
    private var insertCallbacks: [[OutputCallback]]
    /// The engine's clock (event time in playback, else wall-clock milliseconds).
    public private(set) var currentTimeMs: Int64 = 0

    /// A chain longer than this means a cycle of queries; it is cut there (see `send`).
    static let chainDepthMax = 64

    public init(app: SiddhiApp, playback: Bool? = nil) {
        self.app = app
        isPlayback = playback ?? app.isPlayback
        var byName: [String: Int] = [:]
        for (i, s) in app.streams.enumerated() { byName[s.name] = i }
        streamIndexByName = byName
        let tables = app.tables.map { Table(spec: $0) }
        var tableByName: [String: Table] = [:]
        for t in tables { tableByName[t.schema.name] = t }
        self.tables = tables
        let registry = TableRegistry(tableByName)
        self.registry = registry
        let partitionKeys = app.partitions.map { PartitionKeys(spec: $0) }
        self.partitionKeys = partitionKeys
                let aggregations = app.aggregations.map { IncrementalAggregation(spec: $0) }
        var aggregationByName: [String: IncrementalAggregation] = [:]
        var feeds = Array(repeating: [Int](), count: app.streams.count)
        for (k, a) in aggregations.enumerated() {
            aggregationByName[a.spec.name] = a
            feeds[byName[a.spec.input.name]!].append(k)
        }
        self.aggregations = aggregations
        aggregationFeeds = feeds
        // Programs with `in` conditions find their tables through the registry while being built.
        tokenizers = app.queries.map { plan in plan.tokenize.map { Tokenizer($0, expanded: plan.input) } }
        queries = registry.scope { app.queries.map { plan -> Query in
            if let p = plan.partition { return .partitioned(PartitionedQuery(plan: plan, keys: partitionKeys[p], tables: tableByName)) }
            if let read = plan.aggregationJoin {
                return .aggregationJoin(AggregationJoinQuery(plan: plan, aggregation: aggregationByName[read.aggregation]!))
            }
            if plan.join != nil { return .join(JoinQuery(plan: plan, tables: tableByName)) }
            if plan.pattern != nil { return .pattern(PatternQuery(plan: plan)) }
            return plan.isStateful ? .stateful(StatefulQuery(plan: plan)) : .stateless(QueryRuntime(plan: plan))
        } }
        statefulQueries = queries.compactMap { if case .stateful(let q) = $0 { return q } else { return nil } }
        joinQueries = queries.compactMap { if case .join(let q) = $0 { return q } else { return nil } }
        patternQueries = queries.compactMap { if case .pattern(let q) = $0 { return q } else { return nil } }
        partitionedQueries = queries.compactMap { if case .partitioned(let q) = $0 { return q } else { return nil } }
        aggregationJoins = queries.compactMap { if case .aggregationJoin(let q) = $0 { return q } else { return nil } }
        var consumers = Array(repeating: [(query: Int, side: Int)](), count: app.streams.count)
        for (q, plan) in app.queries.enumerated() {
            if let read = plan.aggregationJoin {
                consumers[byName[read.stream]!].append((q, 1 - read.aggregationSide))
            } else if let join = plan.join {
                for (side, s) in [join.left, join.right].enumerated() where !s.isTable {
                    consumers[byName[s.name]!].append((q, side))
                }
            } else if let pattern = plan.pattern {
                var seen = Set<String>()
                for state in pattern.states where seen.insert(state.stream).inserted {
                    consumers[byName[state.stream]!].append((q, byName[state.stream]!))
                }
            } else {
                consumers[byName[plan.input.name]!].append((q, -1))
            }
        }
        self.consumers = consumers
        targets = app.queries.map { $0.table == nil ? byName[$0.output.name]! : -1 }
        writers = registry.scope { app.queries.map { plan in plan.table.map { TableWriter(table: tableByName[$0.name]!, plan: plan) } } }
        callbacks = Array(repeating: [], count: app.streams.count)
        insertCallbacks = callbacks
    }

    public var streams: [StreamSchema] { app.streams }

    public func streamIndex(_ name: String) -> Int? { streamIndexByName[name] }

    /// Streams that some query inserts into (the outputs `tandem replay` prints).
    public var queryOutputStreams: [String] {
        var seen = Set<String>()
        return app.queries.filter { $0.table == nil }.map(\.output.name)
            // Inner streams stay inside their partition; a named window's input is not an output.
            .filter { !$0.hasPrefix("#") && !app.windowNames.contains($0) && seen.insert($0).inserted }
    }

    /// Calls `callback` on the engine thread with every batch that enters `stream` (sent by a source
    /// or inserted by a query), in emission order. With `queryInsertsOnly`, only batches inserted by
    /// queries (what `tandem replay` prints).
    public func addOutputCallback(stream: String, queryInsertsOnly: Bool = false, _ callback: @escaping OutputCallback) {
        guard let i = streamIndexByName[stream] else { preconditionFailure("unknown stream \(stream)") }
        if queryInsertsOnly { insertCallbacks[i].append(callback) } else { callbacks[i].append(callback) }
    }

    // MARK: Triggers

    /// Whether the app's `start` triggers fired and periodic ones were scheduled (at the first
    /// clock move or batch: the runtime's start).
    private var triggersStarted = false
    /// Per trigger, when it fires next (nil: a start trigger, or a cron with no later time).
    private var triggerDueMs: [Int64?] = []
    /// Trigger fires emitted in one clock move at most (a jump over many periods skips the rest).
    static let triggerFiresMax = 1024

    private func startTriggers(atMs: Int64) {
        guard !triggersStarted else { return }
        triggersStarted = true
        triggerDueMs = app.triggers.map { trigger in
            switch trigger.when {
            case .start: return nil
            case .every(let t): return atMs + t
            case .cron(let schedule): return schedule.next(after: atMs)
            }
        }
        for trigger in app.triggers {
            if case .start = trigger.when { fire(trigger, atMs: atMs) }
        }
    }

    private func fire(_ trigger: TriggerSpec, atMs: Int64) {
        guard let index = streamIndexByName[trigger.stream] else { return }
        var batch = EventBatch(schema: app.streams[index], capacity: 1)
        _ = batch.append(timestamp: atMs, values: [.long(atMs)])
        route(index, batch, keys: nil, depth: 0, notify: false)
    }

    /// Fires the periodic triggers due at or before `timeMs`, in time order.
    private func fireTriggers(upTo timeMs: Int64) {
        var fires = 0
        while fires < AppRuntime.triggerFiresMax,
              let k = triggerDueMs.indices.filter({ triggerDueMs[$0].map { $0 <= timeMs } ?? false }).min(by: { triggerDueMs[$0]! < triggerDueMs[$1]! }) {
            let due = triggerDueMs[k]!
            fire(app.triggers[k], atMs: due)
            fires += 1
            switch app.triggers[k].when {
            case .every(let t): triggerDueMs[k] = due + t
            case .cron(let schedule): triggerDueMs[k] = schedule.next(after: due)
            case .start: triggerDueMs[k] = nil
            }
        }
        // A clock jump past many periods: skip to the first period after it.
        for k in triggerDueMs.indices {
            guard let due = triggerDueMs[k], due <= timeMs else { continue }
            switch app.triggers[k].when {
            case .every(let t): triggerDueMs[k] = due + ((timeMs - due) / t + 1) * t
            case .cron(let schedule): triggerDueMs[k] = schedule.next(after: timeMs)
            case .start: triggerDueMs[k] = nil
            }
        }
    }

    /// Pushes a batch of events into a stream (as a source would).
    public func send(streamIndex: Int, batch: EventBatch) {
        precondition(batch.schema === app.streams[streamIndex] || batch.schema.attributes == app.streams[streamIndex].attributes,
                     "batch schema differs from stream \(app.streams[streamIndex].name)")
        guard !batch.isEmpty else { return }
        loadStores()
        registry.scope {
            if !triggersStarted { startTriggers(atMs: isPlayback ? batch.timestamps[0] : currentTimeMs) }
            route(streamIndex, batch, keys: nil, depth: 0, notify: false)
        }
        flushStores()
        if isPlayback, let last = batch.timestamps.last { currentTimeMs = max(currentTimeMs, last) }
    }

    /// The earliest time (ms) at which a window timer is due, if any: the engine thread sleeps no longer.
    public var nextTimerMs: Int64? {
        (statefulQueries.compactMap(\.nextTimerMs) + joinQueries.compactMap(\.nextTimerMs)
            + patternQueries.compactMap(\.nextTimerMs) + partitionedQueries.compactMap(\.nextTimerMs) + aggregationJoins.compactMap(\.nextTimerMs)
            + triggerDueMs.compactMap { $0 }).min()
    }

    /// Moves the clock forward; time windows expire and batch windows flush here (in playback when
    /// event time passes, otherwise when the engine thread passes wall-clock time).
    public func advanceTime(to timeMs: Int64) {
        guard timeMs >= currentTimeMs else { return }
        currentTimeMs = timeMs
        loadStores()
        registry.scope { advanceTimeInScope(to: timeMs) }
        flushStores()
    }

    // MARK: Stored tables

    /// Keeps the rows of table `name` (a `@store` table) in `store`: the table is loaded from it
    /// before the next batch, and every batch's changes go to it. Call before the runtime runs.
    public func attachStore(_ store: TableStore, table name: String) {
        guard let table = registry.tables[name] else { preconditionFailure("unknown table \(name)") }
        table.store = store
        storedTables.append(table)
    }

    /// Loads the stored tables that need it (attached or restored since): the engine thread calls
    /// it at start so the first batch does not wait for the database. Returns the rows skipped
    /// (not fitting the table's attributes, or repeating its primary key).
    @discardableResult
    public func loadStores() -> Int {
        var skipped = 0
        for table in storedTables where table.needsLoad { skipped += table.loadFromStore() }
        return skipped
    }

    /// Rows held per stored table, by name (status and tests).
    public func storedRowCounts() -> [String: Int] {
        var out: [String: Int] = [:]
        for table in storedTables { out[table.schema.name] = table.liveCount }
        return out
    }

    /// Hands each stored table's changes of the batch just run to its store (one unit per batch).
    private func flushStores() {
        for table in storedTables where !table.pendingChanges.isEmpty {
            table.store?.record(table.takePendingChanges())
        }
    }

    private func advanceTimeInScope(to timeMs: Int64) {
        if !triggersStarted { startTriggers(atMs: timeMs) }
        fireTriggers(upTo: timeMs)
        for (q, query) in queries.enumerated() {
            // A tick emits at most one chunk; keep ticking while timers are still due.
            var ticks = 0
            switch query {
            case .stateless:
                continue
            case .stateful(let stateful):
                while ticks < 1024, let due = stateful.nextTimerMs, due <= timeMs {
                    ticks += 1
                    if let out = stateful.advanceTime(to: timeMs) { emit(q, out, depth: 1) }
                }
            case .join(let join):
                while ticks < 1024, let due = join.nextTimerMs, due <= timeMs {
                    ticks += 1
                    if let out = join.advanceTime(to: timeMs) { emit(q, out, depth: 1) }
                }
            case .pattern(let pattern):
                while ticks < 1024, let due = pattern.nextTimerMs, due <= timeMs {
                    ticks += 1
                    if let out = pattern.advanceTime(to: timeMs) { emit(q, out, depth: 1) }
                }
            case .partitioned(let partitioned):
                while ticks < 1024, let due = partitioned.nextTimerMs, due <= timeMs {
                    ticks += 1
                    if let out = partitioned.advanceTime(to: timeMs) { emit(q, out, keys: partitioned.outputKeys, depth: 1) }
                }
            case .aggregationJoin(let read):
                while ticks < 1024, let due = read.nextTimerMs, due <= timeMs {
                    ticks += 1
                    if let out = read.advanceTime(to: timeMs) { emit(q, out, depth: 1) }
                }
            }
        }
    }

    /// Sends `batch` to the queries reading `stream`. `keys`: each row's partition instance id, for
    /// an inner stream of a partition (nil for other streams).
    private func route(_ stream: Int, _ batch: EventBatch, keys: [Int32]?, depth: Int, notify: Bool) {
        // A stream's subscribers see inserted events before downstream queries run (Siddhi's junction order).
        for callback in callbacks[stream] { callback(batch) }
        if notify { for callback in insertCallbacks[stream] { callback(batch) } }
        guard depth < AppRuntime.chainDepthMax else { return }
        // Aggregations subscribe before queries (Siddhi defines them first), so a query reading one
        // sees the event that just arrived.
        for k in aggregationFeeds[stream] { aggregations[k].add(batch) }
        for (q, side) in consumers[stream] {
            let out: EventBatch?
            switch queries[q] {
            case .partitioned(let query):
                let name = app.streams[stream].name
                let (input, inputKeys) = keys.map { (batch, $0) } ?? query.keys.assign(stream: name, batch)
                out = query.process(side: side, stream: name, input, keys: inputKeys, clockMs: currentTimeMs, playback: isPlayback)
                if let out { emit(q, out, keys: query.outputKeys, depth: depth + 1) }
                continue
            case .stateless(let query):
                let input = tokenizers[q]?.expand(batch, clockMs: isPlayback ? nil : currentTimeMs) ?? batch
                out = query.process(input, clockMs: isPlayback ? nil : currentTimeMs)
            case .stateful(let query):
                let input = tokenizers[q]?.expand(batch, clockMs: isPlayback ? nil : currentTimeMs) ?? batch
                out = query.process(input, clockMs: currentTimeMs, playback: isPlayback)
            case .join(let query): out = query.process(side: side, batch, clockMs: currentTimeMs, playback: isPlayback)
            case .pattern(let query):
                out = query.process(stream: app.streams[stream].name, batch, clockMs: currentTimeMs, playback: isPlayback)
            case .aggregationJoin(let query): out = query.process(batch, clockMs: currentTimeMs, playback: isPlayback)
            }
            if let out { emit(q, out, depth: depth + 1) }
        }
    }

    /// Sends a query's output on: into its stream, or into the table it writes.
    private func emit(_ q: Int, _ out: EventBatch, keys: [Int32]? = nil, depth: Int) {
        if let writer = writers[q] {
            writer.apply(out)
        } else {
            // Ids go on only into inner streams: an outer stream's readers are outside the partition.
            let target = targets[q]
            let inner = keys != nil && app.streams[target].name.hasPrefix("#")
            route(target, out, keys: inner ? keys : nil, depth: depth, notify: true)
        }
    }

    // MARK: Snapshot and restore

    static let snapshotMagic: [UInt8] = Array("TNDMSNAP".utf8)
    /// 3 added partitions and incremental aggregations; a version-2 snapshot restores into an app
    /// without either. 4 tags each pattern's state with its layout (linear chain or state
    /// machine, see `PatternQuery.write`); a version-3 snapshot holds linear chains only.
    public static let snapshotVersion: UInt64 = 4

    /// Identifies the app's shape: a snapshot restores only into the same streams and queries.
    public var fingerprint: UInt64 {
        var text = app.name + "\n"
        for s in app.streams { text += s.description + "\n" }
        for t in app.tables { text += "table \(t.schema.description)|\(t.primaryKey)|\(t.indexes)\n" }
        for t in app.triggers { text += "trigger \(t.stream)|\(String(describing: t.when))\n" }
        for p in app.partitions {
            text += "partition \(p.keyers.keys.sorted())|\(p.labels)|\(p.keyers.sorted { $0.key < $1.key }.map { String(describing: $0.value) })\n"
        }
        for q in app.queries {
            text += "\(q.name)|\(q.partition.map(String.init) ?? "-")|\(q.input.name)|\(String(describing: q.window))|\(q.aggregates.map { "\($0.kind)/\($0.outputType)" })|\(q.groupBy)|\(q.output.description)\n"
            if let pattern = q.pattern {
                text += "pattern \(pattern.states.map { "\($0.alias)=\($0.stream)" })|\(pattern.isSequence)|\(pattern.every)|\(String(describing: pattern.withinMs))\n"
                // Counting, logical and absent steps (linear patterns keep their earlier fingerprint).
                if !pattern.isLinear { text += "pattern steps \(pattern.shape)\n" }
            }
            if let join = q.join {
                text += "join \(join.left.name)|\(String(describing: join.left.window))|\(join.right.name)|\(String(describing: join.right.window))\n"
            }
            if let read = q.aggregationJoin { text += "reads \(read.aggregation)|\(read.aggregationSide)|\(read.stream)\n" }
        }
        for a in app.aggregations {
            text += "aggregation \(a.output.description)|\(a.input.name)|\(a.durations)|\(a.groupBy)|\(String(describing: a.timestampColumn))|"
                + "\(a.aggregates.map { "\($0.kind)/\(String(describing: $0.column))" })\n"
        }
        return fnv1a64(Array(text.utf8))
    }

    /// The state of every stateful query, versioned and checksummed. Call on the engine thread
    /// between batches (a batch boundary).
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter()
        for b in AppRuntime.snapshotMagic { w.uint8(b) }
        w.uint64(AppRuntime.snapshotVersion)
        w.string(app.name)
        w.uint64(fingerprint)
        w.int64(currentTimeMs)
        w.int(statefulQueries.count)
        for q in statefulQueries { q.write(to: &w) }
        w.int(tables.count)
        for t in tables { t.write(to: &w) }
        w.int(joinQueries.count)
        for j in joinQueries { j.write(to: &w) }
        w.int(patternQueries.count)
        for p in patternQueries { p.write(to: &w) }
        w.int(partitionKeys.count)
        for k in partitionKeys { k.write(to: &w) }
        w.int(partitionedQueries.count)
        for q in partitionedQueries { q.write(to: &w) }
        w.bool(triggersStarted)
        w.int(triggerDueMs.count)
        for due in triggerDueMs {
            w.bool(due != nil)
            w.int64(due ?? 0)
        }
        w.int(aggregations.count)
        for a in aggregations { a.write(to: &w) }
        w.int(aggregationJoins.count)
        for j in aggregationJoins { j.write(to: &w) }
        let sum = w.bytes.withUnsafeBytes { checksum64($0) }
        w.uint64(sum)
        return w.bytes
    }

    /// Replaces the state with a snapshot of this app. A corrupt snapshot, or one of another app or
    /// version, is rejected with the reason and nothing is changed.
    public func restore(_ bytes: [UInt8]) throws(SnapshotError) {
        guard bytes.count >= AppRuntime.snapshotMagic.count + 16 else { throw SnapshotError("too short to be a snapshot") }
        let bodyCount = bytes.count - 8
        var sum: UInt64 = 0
        for (i, b) in bytes.suffix(8).enumerated() { sum |= UInt64(b) << (8 * UInt64(i)) }
        var r = SnapshotReader(bytes, end: bodyCount)
        for b in AppRuntime.snapshotMagic where try r.uint8() != b { throw SnapshotError("not a Tandem snapshot") }
        let version = try r.uint64()
        // Version 2 lacks the partition and aggregation sections: it restores into an app without them.
        let legacy = version == 2 && aggregations.isEmpty && aggregationJoins.isEmpty && partitionKeys.isEmpty
            && partitionedQueries.isEmpty
        guard version == AppRuntime.snapshotVersion || version == 3 || legacy else {
            throw SnapshotError("snapshot format version \(version); this Tandem reads version \(AppRuntime.snapshotVersion)")
        }
        r.formatVersion = version
        guard bytes.withUnsafeBytes({ checksum64(UnsafeRawBufferPointer(rebasing: $0[0..<bodyCount])) }) == sum else {
            throw SnapshotError("checksum mismatch (corrupt snapshot)")
        }
        let name = try r.string()
        guard name == app.name else { throw SnapshotError("snapshot of app '\(name)', not '\(app.name)'") }
        guard try r.uint64() == fingerprint else {
            throw SnapshotError("app '\(name)' changed since the snapshot was taken (streams or queries differ)")
        }
        let clock = try r.int64()
        guard try r.int() == statefulQueries.count else { throw SnapshotError("stateful query count differs") }
        var states: [StatefulQuery.State] = []
        for q in statefulQueries { states.append(try q.decode(from: &r)) }
        guard try r.int() == tables.count else { throw SnapshotError("table count differs") }
        var freshTables: [Table] = []
        for t in tables { freshTables.append(try t.decoded(from: &r)) }
        guard try r.int() == joinQueries.count else { throw SnapshotError("join count differs") }
        var joinStates: [JoinQuery.State] = []
        for j in joinQueries { joinStates.append(try j.decode(from: &r)) }
        guard try r.int() == patternQueries.count else { throw SnapshotError("pattern count differs") }
        var patternStates: [PatternQuery.State] = []
        for p in patternQueries { patternStates.append(try p.decode(from: &r)) }
        var keyStates: [(GroupTable, Int)] = []
        var partitionedStates: [PartitionedQuery.State] = []
        if !legacy {
            guard try r.int() == partitionKeys.count else { throw SnapshotError("partition count differs") }
            for k in partitionKeys { keyStates.append(try k.decode(from: &r)) }
            guard try r.int() == partitionedQueries.count else { throw SnapshotError("partitioned query count differs") }
            // Decoding builds partition instances, whose programs may read tables.
            try registry.scope { () throws(SnapshotError) in
                for q in partitionedQueries { partitionedStates.append(try q.decode(from: &r)) }
            }
        }
        let started = try r.bool()
        let dueCount = try r.int()
        guard dueCount == (started ? app.triggers.count : 0) else { throw SnapshotError("trigger count differs") }
        var dues: [Int64?] = []
        for _ in 0..<dueCount {
            let has = try r.bool()
            let due = try r.int64()
            dues.append(has ? due : nil)
        }
        var aggregationStates: [IncrementalAggregation.State] = []
        var readStates: [AggregationJoinQuery.State] = []
        if !legacy {
            guard try r.int() == aggregations.count else { throw SnapshotError("aggregation count differs") }
            for a in aggregations { aggregationStates.append(try a.decode(from: &r)) }
            guard try r.int() == aggregationJoins.count else { throw SnapshotError("aggregation join count differs") }
            for j in aggregationJoins { readStates.append(try j.decode(from: &r)) }
        }
        guard r.isAtEnd else { throw SnapshotError("trailing bytes") }
        triggersStarted = started
        triggerDueMs = dues
        for (q, state) in zip(statefulQueries, states) { q.apply(state) }
        for (p, state) in zip(patternQueries, patternStates) { p.apply(state) }
        for (k, state) in zip(partitionKeys, keyStates) { k.apply(state) }
        for (q, state) in zip(partitionedQueries, partitionedStates) { q.apply(state) }
        for (j, state) in zip(joinQueries, joinStates) { j.apply(state) }
        for (a, state) in zip(aggregations, aggregationStates) { a.apply(state) }
        for (j, state) in zip(aggregationJoins, readStates) { j.apply(state) }
        // Joins and writers hold their tables: swap the contents in place, not the objects.
        for (old, fresh) in zip(tables, freshTables) { old.replaceContents(with: fresh) }
        currentTimeMs = clock
    }
}
