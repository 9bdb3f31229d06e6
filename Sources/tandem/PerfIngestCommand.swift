import ArgumentParser
import Atomics
import CShims
import DataPlane
import Engine
import Foundation
import Glibc
import Histogram
import Logging

/// `tandem perf ingest`: socket-to-engine ingest throughput and ack latency over loopback.
///
/// In process: a real `TCPSourceListener` (its own reactor thread, io_uring or epoll) feeds an engine
/// thread running a filter app (`AppRuntime`, as a node's `AppHost` does: pop a batch, run it, hand
/// it back), while load-generator threads (one per connection) write pre-encoded frames in 64 KB
/// writes. Everything shares the machine's cores, as a node and its publishers on one host would.
///
/// A scenario ends when the generators stop (after `--seconds`) and the engine has run every event
/// they sent; events/s and MB/s are over that whole time. Acknowledged scenarios keep at most
/// `--ack-window-events` events unacknowledged per connection and record each batch's latency from
/// the write that carried it to the ack that covered it.
struct PerfIngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest", abstract: "Ingest throughput (events/s, MB/s) and ack latency per scenario, over loopback TCP.")

    @Option(name: .long, help: "Seconds the generators send per scenario.")
    var seconds = 3.0

    @Option(name: .long, help: "Publisher connections (one generator thread each).")
    var connections = 2

    @Option(name: .long, help: "Scenarios to run (default: all).")
    var scenario: [String] = []

    @Option(name: .long, help: "Unacknowledged events allowed per connection in ack scenarios.")
    var ackWindowEvents = 16_384

    @Option(name: .long, help: "Events per engine batch (tandem.dataPlane.batchSize).")
    var batchSize = 1024

    @Option(name: .long, help: "Engine ring capacity in batches (tandem.dataPlane.ingestRingCapacity).")
    var ringCapacity = 1024

    @Option(name: .long, help: "Runs per scenario; the line and the JSON report the median run by events/s (all runs' events/s are kept).")
    var runs = 1

    @Option(name: .long, help: "Where to write the results as JSON.")
    var json = "perf-ingest.json"

    struct Scenario {
        var name: String
        var acked: Bool
        var eventsPerFrame: Int
        var backend: IOBackend
        /// Posted as JSON arrays of `eventsPerFrame` events to an HTTP source (`PerfIngestHTTP`).
        var http = false
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "tcp-batch1000", acked: false, eventsPerFrame: 1000, backend: .ioUring),
        Scenario(name: "tcp-batch100", acked: false, eventsPerFrame: 100, backend: .ioUring),
        Scenario(name: "tcp-batch1", acked: false, eventsPerFrame: 1, backend: .ioUring),
        Scenario(name: "ack-batch1000", acked: true, eventsPerFrame: 1000, backend: .ioUring),
        Scenario(name: "ack-batch100", acked: true, eventsPerFrame: 100, backend: .ioUring),
        Scenario(name: "ack-batch1", acked: true, eventsPerFrame: 1, backend: .ioUring),
        Scenario(name: "tcp-batch1000-epoll", acked: false, eventsPerFrame: 1000, backend: .epoll),
        Scenario(name: "tcp-batch1-epoll", acked: false, eventsPerFrame: 1, backend: .epoll),
        Scenario(name: "ack-batch1000-epoll", acked: true, eventsPerFrame: 1000, backend: .epoll),
        Scenario(name: "http-batch100", acked: false, eventsPerFrame: 100, backend: .auto, http: true),
    ]

    static let appSource = """
        define stream S (symbol string, price double, volume long);
        from S[price > 50.0] select symbol, price, volume insert into Out;
        """

    /// Bytes per generator write (whole frames; at least one frame).
    static let writeBytes = 64 << 10

    func validate() throws {
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        guard (1...256).contains(connections) else { throw ValidationError("--connections must be 1…256") }
        guard runs >= 1 && runs <= 25 else { throw ValidationError("--runs must be 1…25") }
        guard ackWindowEvents >= 1 else { throw ValidationError("--ack-window-events must be positive") }
        guard batchSize >= 1 && batchSize <= EventBatch.capacityMax else { throw ValidationError("--batch-size must be 1…\(EventBatch.capacityMax)") }
        guard ringCapacity >= 2 && ringCapacity <= SPSCRing<IngestBatch>.capacityMax && ringCapacity & (ringCapacity - 1) == 0 else {
            throw ValidationError("--ring-capacity must be a power of two ≥ 2")
        }
        let known = Set(PerfIngestCommand.scenarios.map(\.name))
        for s in scenario where !known.contains(s) { throw ValidationError("unknown scenario \(s); known: \(known.sorted().joined(separator: ", "))") }
    }

    func run() throws {
        let app = try SiddhiApp.compile(source: PerfIngestCommand.appSource, fileName: "perf-ingest.siddhi")
        var results: [[String: Any]] = []
        for s in PerfIngestCommand.scenarios where scenario.isEmpty || scenario.contains(s.name) {
            var attempts: [[String: Any]] = []
            for _ in 0..<runs { attempts.append(try s.http ? runHTTPScenario(s, app: app) : runScenario(s, app: app)) }
            attempts.sort { ($0["eventsPerSecond"] as! Int) < ($1["eventsPerSecond"] as! Int) }
            var r = attempts[attempts.count / 2]
            r["runsEventsPerSecond"] = attempts.map { $0["eventsPerSecond"] as! Int }
            results.append(r)
            // `<scenario> <events/s> <MB/s>`, then name=value pairs (units last in the names).
            var line = "\(s.name) \(r["eventsPerSecond"]!) \(String(format: "%.1f", r["megabytesPerSecond"] as! Double))"
            if s.acked {
                line += String(format: " ackP50Us=%.0f ackP99Us=%.0f ackP999Us=%.0f", r["ackP50Us"] as! Double, r["ackP99Us"] as! Double,
                               r["ackP999Us"] as! Double)
            }
            let cpu = r["cpuCores"] as! [String: Double]
            line += String(format: " reactorCores=%.2f engineCores=%.2f generatorCores=%.2f totalCores=%.2f", cpu["reactor"] ?? 0, cpu["engine"] ?? 0,
                           cpu["generators"] ?? 0, cpu["total"] ?? 0)
            line += " backend=\(r["backend"]!)\(r["multishot"] as! Bool ? "+multishot" : "") ringFullWaits=\(r["ringFullWaits"]!)"
            if let m = r["mallocsPerThousandEvents"] as? Double { line += String(format: " mallocsPerThousandEvents=%.3f", m) }
            print(line)
            fflush(nil)
        }
        let document: [String: Any] = [
            "suite": "ingest", "date": ISO8601DateFormatter().string(from: Date()),
            "machine": ["cores": ProcessInfo.processInfo.activeProcessorCount],
            "loadAverage1m": PerfIngestCommand.loadAverage(),
            "settings": ["seconds": seconds, "runs": runs, "connections": connections, "ackWindowEvents": ackWindowEvents, "batchSize": batchSize,
                         "ringCapacity": ringCapacity, "writeBytes": PerfIngestCommand.writeBytes, "app": PerfIngestCommand.appSource],
            "results": results,
        ]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: json))
        FileHandle.standardError.write(Data("results written to \(json)\n".utf8))
    }

    // MARK: One scenario

    private func runScenario(_ s: Scenario, app: SiddhiApp) throws -> [String: Any] {
        var logger = Logger(label: "perf-ingest")
        logger.logLevel = .warning
        let schema = app.streams[0]
        let runtime = AppRuntime(app: app)
        let outputs = OutputCounter()
        runtime.addOutputCallback(stream: "Out") { outputs.count += $0.count }
        let ring = SPSCRing<IngestBatch>(capacity: ringCapacity)
        let returns = SPSCRing<EventBatch>(capacity: ringCapacity)
        let doorbell = Doorbell()
        var options = TCPSourceOptions(host: "127.0.0.1", port: 0,
                                       channels: [SourceChannel(channel: "S", streamIndex: 0, schema: schema)])
        options.backend = s.backend
        options.batchSize = batchSize
        let listener = TCPSourceListener(options: options, ring: ring, doorbell: doorbell, returns: returns, logger: logger)
        try listener.start()
        defer { listener.stop() }

        let engine = PerfEngine(runtime: runtime, ring: ring, returns: returns, doorbell: doorbell)
        engine.start()
        defer { engine.stop() }

        // Pre-encoded frames: one write's worth, the same events every write.
        let frame = PerfIngestCommand.frame(schema: schema, events: s.eventsPerFrame, acked: s.acked)
        let framesPerWrite = max(1, PerfIngestCommand.writeBytes / frame.count)
        let windowFrames = max(framesPerWrite, ackWindowEvents / s.eventsPerFrame)
        var generators: [Generator] = []
        for c in 0..<connections {
            generators.append(try Generator(port: listener.port, frame: frame, framesPerWrite: framesPerWrite, eventsPerFrame: s.eventsPerFrame,
                                            acked: s.acked, publisherId: UInt64(c + 1), windowFrames: windowFrames))
        }
        let allocationsBefore = PerfIngestCommand.allocations()
        let cpuBefore = ThreadCPU.sample()
        var usageBefore = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usageBefore)
        let start = DispatchTime.now().uptimeNanoseconds
        let deadline = start + UInt64(seconds * 1e9)
        for (i, g) in generators.enumerated() { g.start(index: i, deadlineNs: deadline) }
        for g in generators { g.join() }
        let sentEvents = generators.reduce(0) { $0 + $1.eventsSent }
        let sentBytes = generators.reduce(0) { $0 + $1.bytesSent }
        // Done when the engine has run every event sent (bounded wait: a lost event fails the run).
        let waitLimit = DispatchTime.now().uptimeNanoseconds + 30_000_000_000
        while engine.consumed.load(ordering: .acquiring) < sentEvents && DispatchTime.now().uptimeNanoseconds < waitLimit {
            usleep(200)
        }
        let end = DispatchTime.now().uptimeNanoseconds
        let consumed = engine.consumed.load(ordering: .acquiring)
        let cpuAfter = ThreadCPU.sample()
        let allocationsAfter = PerfIngestCommand.allocations()
        var usageAfter = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usageAfter)
        let wallSeconds = Double(end - start) / 1e9
        guard consumed == sentEvents else {
            throw ValidationError("\(s.name): the engine ran \(consumed) of \(sentEvents) events sent")
        }

        var cpu = ThreadCPU.cores(before: cpuBefore, after: cpuAfter, wallSeconds: wallSeconds)
        cpu["generators"] = generators.reduce(0) { $0 + $1.cpuSeconds } / wallSeconds
        cpu["total"] = (ThreadCPU.seconds(usageAfter) - ThreadCPU.seconds(usageBefore)) / wallSeconds
        var result: [String: Any] = [
            "scenario": s.name, "acked": s.acked, "eventsPerFrame": s.eventsPerFrame, "backend": listener.backend.rawValue,
            "multishot": listener.stats.multishotReceive.load(ordering: .relaxed),
            "connections": connections, "events": sentEvents, "bytes": sentBytes, "elapsedNs": end - start,
            "eventsPerSecond": Int(Double(sentEvents) / wallSeconds), "megabytesPerSecond": Double(sentBytes) / wallSeconds / 1e6,
            "frameBytes": frame.count, "framesPerWrite": framesPerWrite, "outputs": outputs.count,
            "ringFullWaits": listener.stats.ringFullWaits.load(ordering: .relaxed),
            "receiveBufferStalls": listener.stats.receiveBufferStalls.load(ordering: .relaxed),
            "batchesPublished": listener.stats.batchesPublished.load(ordering: .relaxed),
            "cpuCores": cpu,
        ]
        if let before = allocationsBefore, let after = allocationsAfter {
            // Whole process (reactor, engine, generators): shows the hot path allocates per batch at most.
            result["mallocs"] = after - before
            result["mallocsPerThousandEvents"] = Double(after - before) / Double(sentEvents) * 1000
        }
        if s.acked {
            var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            for g in generators { histogram.add(g.latencyNs) }
            result["ackWindowFrames"] = windowFrames
            result["acksReceived"] = generators.reduce(0) { $0 + $1.acksReceived }
            result["acksSent"] = listener.stats.acksSent.load(ordering: .relaxed)
            result["ackedBatches"] = Int(histogram.totalCount)
            result["ackP50Us"] = Double(histogram.valueAtPercentile(50)) / 1e3
            result["ackP99Us"] = Double(histogram.valueAtPercentile(99)) / 1e3
            result["ackP999Us"] = Double(histogram.valueAtPercentile(99.9)) / 1e3
            result["ackMaxUs"] = Double(histogram.max) / 1e3
        }
        return result
    }

    /// Allocations made so far by the whole process (jemalloc's small + large `nmalloc` over all
    /// arenas); nil without jemalloc.
    static func allocations() -> Int? {
        var small = 0, large = 0
        guard tandem_jemalloc_stat("stats.arenas.4096.small.nmalloc", &small) == 0,
              tandem_jemalloc_stat("stats.arenas.4096.large.nmalloc", &large) == 0 else { return nil }
        return small + large
    }

    /// The 1-minute load average (other work on the machine skews the numbers).
    static func loadAverage() -> Double {
        var loads = [Double](repeating: 0, count: 3)
        return getloadavg(&loads, 3) > 0 ? loads[0] : -1
    }

    /// One frame of `events` events of the fixed workload (symbol S0…S9, price 0.00–99.99, volume
    /// 0–999; 30 bytes per event on the wire).
    static func frame(schema: StreamSchema, events: Int, acked: Bool) -> [UInt8] {
        var generator = SplitMix64(seed: 7)
        var batch = EventBatch(schema: schema, capacity: events)
        for i in 0..<events {
            let row = batch.appendRow(timestamp: 1_700_000_000_000 + Int64(i))
            batch.setString(0, row, "S\(i % 10)")
            batch.setDouble(1, row, Double(generator.next() % 10_000) / 100)
            batch.setInt64(2, row, Int64(generator.next() % 1000))
        }
        var out: [UInt8] = []
        FrameEncoder(sessionId: "perf").append(batch: batch, channel: "S", ack: acked ? (0, 0) : nil, to: &out)
        return out
    }
}

/// Counts output events (engine thread only).
private final class OutputCounter: @unchecked Sendable {
    var count = 0
}

/// The node's engine loop (DataPlane's ``EngineLoop``, the one every app runs on) on a thread of
/// its own, with a hook that adds nothing: what ingest measures is the node's own data path.
final class PerfEngine: @unchecked Sendable {
    final class Hook: EngineLoopHook {}
    let loop: EngineLoop<Hook>
    private let doorbell: Doorbell
    private let stopping = ManagedAtomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    /// Events the engine ran.
    var consumed: ManagedAtomic<Int> { loop.eventsRun }

    init(runtime: AppRuntime, ring: SPSCRing<IngestBatch>, returns: SPSCRing<EventBatch>, doorbell: Doorbell) {
        self.doorbell = doorbell
        loop = EngineLoop(runtime: runtime, rings: [ring], returns: [returns], doorbell: doorbell, stopping: stopping)
    }

    func start() {
        let thread = Thread { [self] in
            tandem_set_thread_name("perf-engine")
            loop.run(hook: Hook())
            finished.signal()
        }
        thread.start()
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        doorbell.ring()
        finished.wait()
    }
}

/// One publisher connection writing pre-encoded frames as fast as the node takes them.
private final class Generator: @unchecked Sendable {
    let fd: Int32
    var chunk: [UInt8]
    let frameBytes: Int
    let framesPerWrite: Int
    let eventsPerFrame: Int
    let acked: Bool
    let publisherId: UInt64
    let windowFrames: Int
    private(set) var eventsSent = 0
    private(set) var bytesSent = 0
    private(set) var acksReceived = 0
    /// CPU time of the generator thread (it has exited before the scenario's CPU is sampled).
    private(set) var cpuSeconds = 0.0
    var latencyNs = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    private let finished = DispatchSemaphore(value: 0)
    /// Send time of each write with unacknowledged frames, by write number modulo the capacity (the
    /// frames of one write share it; write w carries sequence numbers w·framesPerWrite+1 …).
    private var sentAtNs: [UInt64]
    private var nextSeq: UInt64 = 1
    private var ackedSeq: UInt64 = 0
    private var ackBuffer = [UInt8](repeating: 0, count: 4096)
    private var ackFilled = 0

    init(port: Int, frame: [UInt8], framesPerWrite: Int, eventsPerFrame: Int, acked: Bool, publisherId: UInt64, windowFrames: Int) throws {
        frameBytes = frame.count
        self.framesPerWrite = framesPerWrite
        self.eventsPerFrame = eventsPerFrame
        self.acked = acked
        self.publisherId = publisherId
        self.windowFrames = windowFrames
        chunk = Array((0..<framesPerWrite).map { _ in frame }.joined())
        sentAtNs = [UInt64](repeating: 0, count: windowFrames / framesPerWrite + 2)
        if acked {
            for k in 0..<framesPerWrite { Generator.store(publisherId, in: &chunk, at: k * frame.count + FrameDecoder.headerBytes) }
        }
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw SocketError(operation: "socket", errno: errno) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(s)
            throw SocketError(operation: "connect 127.0.0.1:\(port)", errno: e)
        }
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        fd = s
    }

    deinit { close(fd) }

    private static func store(_ value: UInt64, in bytes: inout [UInt8], at offset: Int) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self) }
    }

    func start(index: Int, deadlineNs: UInt64) {
        let thread = Thread { [self] in
            tandem_set_thread_name("perf-gen-\(index)")
            run(deadlineNs: deadlineNs)
            var cpu = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu)
            cpuSeconds = Double(cpu.tv_sec) + Double(cpu.tv_nsec) / 1e9
            finished.signal()
        }
        thread.start()
    }

    func join() { finished.wait() }

    private func run(deadlineNs: UInt64) {
        while DispatchTime.now().uptimeNanoseconds < deadlineNs {
            if acked {
                // Keep the window: wait for acks while too many frames are unacknowledged.
                while Int(nextSeq - 1 - ackedSeq) + framesPerWrite > windowFrames {
                    guard readAcks(blocking: true) else { return }
                }
                for k in 0..<framesPerWrite {
                    Generator.store(nextSeq + UInt64(k), in: &chunk, at: k * frameBytes + FrameDecoder.headerBytes + 8)
                }
                let write = Int((nextSeq - 1) / UInt64(framesPerWrite))
                sentAtNs[write % sentAtNs.count] = DispatchTime.now().uptimeNanoseconds
                nextSeq += UInt64(framesPerWrite)
            }
            guard writeAll() else { return }
            eventsSent += framesPerWrite * eventsPerFrame
            bytesSent += chunk.count
            if acked { _ = readAcks(blocking: false) }
        }
        if acked {
            while ackedSeq < nextSeq - 1 { guard readAcks(blocking: true) else { return } }
        }
        // Half-close and wait for the node to close: it has then read everything.
        shutdown(fd, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 4096)
        while scratch.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) > 0 {}
    }

    private func writeAll() -> Bool {
        chunk.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    FileHandle.standardError.write(Data("perf ingest: send failed: \(String(cString: strerror(errno)))\n".utf8))
                    return false
                }
                offset += n
            }
            return true
        }
    }

    /// Reads acks (cumulative) and records the latency of every frame they cover.
    private func readAcks(blocking: Bool) -> Bool {
        let n = ackBuffer.withUnsafeMutableBytes { raw in
            recv(fd, raw.baseAddress! + ackFilled, raw.count - ackFilled, blocking ? 0 : Int32(MSG_DONTWAIT))
        }
        if n == 0 { return false }
        if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR }
        ackFilled += n
        let now = DispatchTime.now().uptimeNanoseconds
        var offset = 0
        ackBuffer.withUnsafeBytes { raw in
            while ackFilled - offset >= FrameEncoder.ackBytes {
                if let ack = FrameEncoder.decodeAck(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + FrameEncoder.ackBytes])),
                   ack.publisherId == publisherId {
                    acksReceived += 1
                    // Every frame counts once; the frames of one write share its latency.
                    while ackedSeq < ack.batchSeq {
                        let write = Int(ackedSeq / UInt64(framesPerWrite))
                        let upTo = min(UInt64(write + 1) * UInt64(framesPerWrite), ack.batchSeq)
                        _ = latencyNs.record(now - sentAtNs[write % sentAtNs.count], count: upTo - ackedSeq)
                        ackedSeq = upTo
                    }
                }
                offset += FrameEncoder.ackBytes
            }
        }
        if offset > 0 {
            ackBuffer.withUnsafeMutableBytes { raw in
                if ackFilled > offset { raw.baseAddress!.copyMemory(from: raw.baseAddress! + offset, byteCount: ackFilled - offset) }
            }
            ackFilled -= offset
        }
        return true
    }
}

/// CPU time per thread role, from /proc/self/task/*/stat (utime + stime in clock ticks).
enum ThreadCPU {
    /// Clock ticks by thread id, with the thread's name.
    static func sample() -> [Int: (name: String, ticks: Int)] {
        var out: [Int: (String, Int)] = [:]
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return [:] }
        for task in tasks {
            guard let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            let name = String(stat[stat.index(after: open)..<close])
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { continue }
            out[Int(task) ?? 0] = (name, user + system)
        }
        return out
    }

    static func role(_ name: String) -> String {
        if name.hasPrefix("tandem-tcp") { return "reactor" }
        if name.hasPrefix("perf-engine") { return "engine" }
        if name.hasPrefix("perf-gen") { return "generators" }
        return "other"
    }

    /// Cores used per role over the interval.
    static func cores(before: [Int: (name: String, ticks: Int)], after: [Int: (name: String, ticks: Int)], wallSeconds: Double) -> [String: Double] {
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        var out: [String: Double] = [:]
        for (tid, a) in after {
            let ticks = a.ticks - (before[tid]?.ticks ?? 0)
            out[role(a.name), default: 0] += Double(ticks) / hz / wallSeconds
        }
        return out
    }

    static func seconds(_ usage: rusage) -> Double {
        Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
