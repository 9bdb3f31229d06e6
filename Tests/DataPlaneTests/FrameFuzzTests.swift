@testable import DataPlane
import Engine
import Testing

/// Seeded generator (SplitMix64): every run sees the same cases; a failure names its seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A deliberately plain reading of docs/protocol.md for `stockSchema` on channel "StockStream": the
/// oracle the decoder is checked against.
enum ReferenceDecoder {
    enum Outcome: Equatable { case complete, partial, invalid }
    /// Stands for the arrival time, which a timestamp of -1 becomes (docs/protocol.md, unset timestamps).
    static let arrival = Value.string("<arrival time>")

    static func decode(_ bytes: [UInt8], maxFrameBytes: Int, maxStringBytes: Int, schema: StreamSchema = stockSchema,
                       channelId: String = "StockStream") -> (rows: [[Value]], outcome: Outcome) {
        let types = schema.attributes.map(\.type)
        let minEventBytes = 8 + types.reduce(0) { sum, type in
            switch type {
            case .int, .float, .string, .object: sum + 4
            case .long, .double: sum + 8
            case .bool: sum + 1
            }
        }
        var rows: [[Value]] = []
        var highest: [UInt64: UInt64] = [:]
        var p = 0
        func int32(_ at: Int) -> Int { Int(Int32(bitPattern: UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3]))) }
        func uint64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[at + $1]) } }
        while p < bytes.count {
            let acked: Bool
            switch bytes[p] {
            case 0x02: acked = false
            case 0x54: acked = true
            default: return (rows, .invalid)
            }
            guard bytes.count - p >= 5 else { return (rows, .partial) }
            let size = int32(p + 1)
            guard size >= (acked ? 28 : 12) else { return (rows, .invalid) }
            guard size <= maxFrameBytes - 5 else { return (rows, .invalid) }
            guard bytes.count - p >= 5 + size else { return (rows, .partial) }
            let end = p + 5 + size
            var q = p + 5
            var publisher: UInt64 = 0, seq: UInt64 = 0
            if acked {
                publisher = uint64(q)
                seq = uint64(q + 8)
                q += 16
            }
            // Length-prefixed fields inside [q, end).
            func field() -> Int? {
                guard end - q >= 4 else { return nil }
                let n = int32(q)
                q += 4
                guard n >= 0 && n <= end - q else { return nil }
                return n
            }
            let duplicate = acked && seq <= (highest[publisher] ?? 0)
            if duplicate {
                p = end
                continue
            }
            guard let session = field() else { return (rows, .invalid) }
            q += session
            guard let channel = field() else { return (rows, .invalid) }
            guard Array(bytes[q..<q + channel]) == Array(channelId.utf8) else { return (rows, .invalid) }
            q += channel
            guard let payload = field() else { return (rows, .invalid) }
            guard payload == end - q else { return (rows, .invalid) }
            guard end - q >= 4 else { return (rows, .invalid) }
            let count = int32(q)
            q += 4
            guard count >= 0 && count <= (end - q) / minEventBytes else { return (rows, .invalid) }
            var frameRows: [[Value]] = []
            for _ in 0..<count {
                guard end - q >= 8 else { return (rows, .invalid) }
                let timestamp = Int64(bitPattern: uint64(q))
                var row: [Value] = [timestamp == -1 ? ReferenceDecoder.arrival : .long(timestamp)]
                q += 8
                for type in types {
                    switch type {
                    case .int:
                        guard end - q >= 4 else { return (rows, .invalid) }
                        row.append(.int(Int32(int32(q))))
                        q += 4
                    case .long:
                        guard end - q >= 8 else { return (rows, .invalid) }
                        row.append(.long(Int64(bitPattern: uint64(q))))
                        q += 8
                    case .float:
                        guard end - q >= 4 else { return (rows, .invalid) }
                        row.append(.float(Float(bitPattern: UInt32(truncatingIfNeeded: int32(q)))))
                        q += 4
                    case .double:
                        guard end - q >= 8 else { return (rows, .invalid) }
                        row.append(.double(Double(bitPattern: uint64(q))))
                        q += 8
                    case .bool:
                        guard end - q >= 1 else { return (rows, .invalid) }
                        row.append(.bool(bytes[q] == 1))
                        q += 1
                    case .string, .object:
                        guard end - q >= 4 else { return (rows, .invalid) }
                        let length = int32(q)
                        q += 4
                        guard length >= 0 && length <= maxStringBytes && end - q >= length else { return (rows, .invalid) }
                        let text = String(decoding: bytes[q..<q + length], as: UTF8.self)
                        row.append(length == 0 ? .null : type == .object ? .object(text) : .string(text))
                        q += length
                    }
                }
                frameRows.append(FrameFuzzTests.canonical(row))
            }
            guard q == end else { return (rows, .invalid) }
            rows += frameRows
            if acked { highest[publisher] = max(seq, highest[publisher] ?? 0) }
            p = end
        }
        return (rows, .complete)
    }
}

/// Property-based tests of the frame and payload decoders against `ReferenceDecoder`: random valid
/// streams (both framings), then random damage (flipped bytes, cut streams, spliced lengths,
/// inserted garbage), fed in random chunk sizes. The decoder must never crash or hang, must reject
/// exactly the streams the reference rejects, and must hand on exactly the reference's events.
@Suite struct FrameFuzzTests {
    static let maxFrameBytes = 4096
    static let maxStringBytes = 64

    static func randomStream(_ g: inout SeededGenerator) -> [UInt8] {
        var bytes: [UInt8] = []
        let publisher = UInt64.random(in: 1...3, using: &g)
        var seq: UInt64 = 0
        for _ in 0..<Int.random(in: 1...4, using: &g) {
            var batch = EventBatch(schema: stockSchema)
            for _ in 0..<Int.random(in: 0...5, using: &g) {
                let length = Int.random(in: 0...6, using: &g)
                let symbol = String((0..<length).map { _ in Character(Unicode.Scalar(UInt8.random(in: 65...90, using: &g))) })
                batch.append(timestamp: Int64.random(in: -5...5_000, using: &g),
                             values: [.string(symbol), .double(Double(Int.random(in: -1000...1000, using: &g)) / 8),
                                      .long(Int64.random(in: Int64.min...Int64.max, using: &g))])
            }
            if Bool.random(using: &g) {
                seq += UInt64.random(in: 0...2, using: &g)  // 0: a resent batch, to be skipped
                FrameEncoder(sessionId: "fz").append(batch: batch, channel: "StockStream", ack: (publisher, seq), to: &bytes)
            } else {
                FrameEncoder(sessionId: "fz").append(batch: batch, channel: "StockStream", to: &bytes)
            }
        }
        return bytes
    }

    static func damage(_ bytes: inout [UInt8], _ g: inout SeededGenerator) {
        for _ in 0..<Int.random(in: 1...3, using: &g) {
            guard !bytes.isEmpty else { return }
            let at = Int.random(in: 0..<bytes.count, using: &g)
            switch Int.random(in: 0..<5, using: &g) {
            case 0: bytes[at] = UInt8.random(in: 0...255, using: &g)
            case 1: bytes.removeLast(Int.random(in: 0...bytes.count - at, using: &g))
            case 2:
                let value: Int32 = [-1, 0, 1, 3, 11, 12, 27, 28, 4095, 4096, Int32.max, Int32.min].randomElement(using: &g)!
                for (k, b) in withUnsafeBytes(of: value.bigEndian, Array.init).enumerated() where at + k < bytes.count { bytes[at + k] = b }
            case 3: bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }, at: at)
            default: bytes[at] ^= 1 << UInt8.random(in: 0...7, using: &g)
            }
        }
    }

    /// Doubles as their bit patterns, so that NaN payloads compare equal when they are the same bits.
    static func canonical(_ row: [Value]) -> [Value] {
        row.map {
            switch $0 {
            case .double(let d): return .long(Int64(bitPattern: d.bitPattern))
            // A float column holds Doubles: a signalling NaN comes back quieted, any NaN is NaN.
            case .float(let f): return f.isNaN ? .string("float NaN") : .long(Int64(f.bitPattern))
            default: return $0
            }
        }
    }

    static func randomChunks(_ count: Int, _ g: inout SeededGenerator) -> [Int] {
        var chunks: [Int] = []
        var left = count
        while left > 0 {
            let n = Int.random(in: 1...max(1, min(left, 64)), using: &g)
            chunks.append(n)
            left -= n
        }
        return chunks.isEmpty ? [0] : chunks
    }

    /// Decodes like a connection (chunks), returning the rows handed on and whether it threw.
    static func decode(_ bytes: [UInt8], chunks: [Int], schema: StreamSchema = stockSchema, channelId: String = "StockStream") -> (rows: [[Value]], failed: Bool) {
        let decoder = FrameDecoder(channels: [SourceChannel(channel: channelId, streamIndex: 0, schema: schema)],
                                   batchSize: 3, maxFrameBytes: maxFrameBytes, maxStringBytes: maxStringBytes)
        var rows: [[Value]] = []
        let start = LogSink.nowMs()
        let emit: (SourceChannel, EventBatch) -> Void = { _, batch in
            for r in 0..<batch.count {
                // Generated timestamps are small; one of this run's clock readings is an arrival time.
                let t = batch.timestamps[r]
                let stamp = t >= start && t <= LogSink.nowMs() ? ReferenceDecoder.arrival : .long(t)
                rows.append(FrameFuzzTests.canonical([stamp] + batch.row(r)))
            }
        }
        var pending: [UInt8] = []
        var offset = 0
        var failed = false
        for size in chunks {
            pending.append(contentsOf: bytes[offset..<min(offset + size, bytes.count)])
            offset += size
            let consumed = pending.withUnsafeBytes { raw -> Int in
                do throws(FrameDecodeError) { return try decoder.decode(raw, emit: emit) } catch {
                    failed = true
                    return 0
                }
            }
            if failed { break }
            pending.removeFirst(consumed)
            // What a connection checks between receives: a bad header is rejected before the body arrives.
            let headerBad = pending.withUnsafeBytes { raw -> Bool in
                do throws(FrameDecodeError) {
                    _ = try decoder.frameLength(raw)
                    return false
                } catch {
                    return true
                }
            }
            if headerBad {
                failed = true
                break
            }
        }
        decoder.flush(emit: emit)
        return (rows, failed)
    }

    @Test func validStreamsDecodeExactlyInAnyChunking() {
        var g = SeededGenerator(seed: 1)
        for _ in 0..<1500 {
            let bytes = FrameFuzzTests.randomStream(&g)
            let reference = ReferenceDecoder.decode(bytes, maxFrameBytes: FrameFuzzTests.maxFrameBytes, maxStringBytes: FrameFuzzTests.maxStringBytes)
            #expect(reference.outcome == .complete)
            let result = FrameFuzzTests.decode(bytes, chunks: FrameFuzzTests.randomChunks(bytes.count, &g))
            #expect(!result.failed)
            #expect(result.rows == reference.rows)
        }
    }

    @Test(arguments: [2, 3, 4, 5] as [UInt64])
    func damagedStreamsAreRejectedExactlyWhenMalformed(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        var rejected = 0
        for i in 0..<1500 {
            var bytes = FrameFuzzTests.randomStream(&g)
            FrameFuzzTests.damage(&bytes, &g)
            let reference = ReferenceDecoder.decode(bytes, maxFrameBytes: FrameFuzzTests.maxFrameBytes, maxStringBytes: FrameFuzzTests.maxStringBytes)
            let whole = FrameFuzzTests.decode(bytes, chunks: [max(bytes.count, 1)])
            let chunked = FrameFuzzTests.decode(bytes, chunks: FrameFuzzTests.randomChunks(bytes.count, &g))
            for result in [whole, chunked] {
                #expect(result.failed == (reference.outcome == .invalid), "seed \(seed) case \(i): \(bytes)")
                #expect(result.rows == reference.rows, "seed \(seed) case \(i): \(bytes)")
            }
            if reference.outcome == .invalid { rejected += 1 }
        }
        #expect(rejected > 300, "the damage should hit most streams")
    }

    /// Every attribute type, damaged: int/float/bool/string truncations and lengths included.
    @Test func allAttributeTypesDamagedAreRejectedExactlyWhenMalformed() {
        var g = SeededGenerator(seed: 11)
        var rejected = 0
        for i in 0..<3000 {
            var bytes: [UInt8] = []
            var seq: UInt64 = 0
            for _ in 0..<Int.random(in: 1...3, using: &g) {
                var batch = EventBatch(schema: allTypesSchema)
                for _ in 0..<Int.random(in: 0...4, using: &g) {
                    let length = Int.random(in: 0...5, using: &g)
                    batch.append(timestamp: Int64.random(in: 0...9_999, using: &g), values: [
                        .int(Int32.random(in: Int32.min...Int32.max, using: &g)), .long(Int64.random(in: -9...9, using: &g)),
                        .float(Float(Int.random(in: -100...100, using: &g)) / 4), .double(Double(Int.random(in: -100...100, using: &g)) / 8),
                        .string(String(repeating: "x", count: length)), .bool(Bool.random(using: &g)),
                    ])
                }
                if Bool.random(using: &g) {
                    seq += 1
                    FrameEncoder().append(batch: batch, channel: "All", ack: (5, seq), to: &bytes)
                } else {
                    FrameEncoder().append(batch: batch, channel: "All", to: &bytes)
                }
            }
            if i % 4 != 0 { FrameFuzzTests.damage(&bytes, &g) }
            let reference = ReferenceDecoder.decode(bytes, maxFrameBytes: FrameFuzzTests.maxFrameBytes, maxStringBytes: FrameFuzzTests.maxStringBytes,
                                                    schema: allTypesSchema, channelId: "All")
            let result = FrameFuzzTests.decode(bytes, chunks: FrameFuzzTests.randomChunks(bytes.count, &g), schema: allTypesSchema, channelId: "All")
            #expect(result.failed == (reference.outcome == .invalid), "case \(i): \(bytes)")
            #expect(result.rows == reference.rows, "case \(i): \(bytes)")
            if reference.outcome == .invalid { rejected += 1 }
        }
        #expect(rejected > 500)
    }

    /// A connection's reassembly (`SourceConnection.consume`, the io_uring multishot path): frames
    /// decoded in place from receive buffers of random sizes, straddling parts copied, buffers grown
    /// for frames beyond 64 KiB and shrunk after; every event exactly once, in order.
    @Test func connectionReassemblesFramesAcrossAnyBufferBoundaries() {
        var g = SeededGenerator(seed: 21)
        for _ in 0..<25 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1...12, using: &g) {
                // Mostly small frames, sometimes one larger than the connection's 64 KiB buffer.
                let events = Bool.random(using: &g) && Int.random(in: 0..<4, using: &g) == 0 ? Int.random(in: 2500...5000, using: &g)
                                                                                              : Int.random(in: 0...40, using: &g)
                let base = Int.random(in: 0...1_000_000, using: &g)
                bytes += frame(stockBatch(base..<base + events))
            }
            let reference = ReferenceDecoder.decode(bytes, maxFrameBytes: 1 << 20, maxStringBytes: 1 << 20)
            #expect(reference.outcome == .complete)
            let decoder = FrameDecoder(channels: [SourceChannel(channel: "StockStream", streamIndex: 0, schema: stockSchema)],
                                       batchSize: 1000, maxFrameBytes: 1 << 20, maxStringBytes: 1 << 20, pool: BatchPool(returns: nil))
            let connection = SourceConnection(id: 1, fd: -1, decoder: decoder)
            var rows: [[Value]] = []
            let emit: (SourceChannel, EventBatch) -> Void = { _, batch in
                for r in 0..<batch.count { rows.append(FrameFuzzTests.canonical([.long(batch.timestamps[r])] + batch.row(r))) }
            }
            var offset = 0
            while offset < bytes.count {
                let n = min(bytes.count - offset, Int.random(in: 1...(Bool.random(using: &g) ? 64 : 70_000), using: &g))
                let failure = bytes[offset..<offset + n].withUnsafeBytes { raw -> FrameDecodeError? in
                    do throws(FrameDecodeError) {
                        try connection.consume(raw, emit: emit)
                        return nil
                    } catch {
                        return error
                    }
                }
                #expect(failure == nil)
                offset += n
            }
            #expect(connection.partialBytes == 0)
            decoder.flush(emit: emit)
            #expect(rows == reference.rows)
        }
    }

    @Test func pureGarbageIsRejectedOrWaitedFor() {
        var g = SeededGenerator(seed: 9)
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 1...200, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            let reference = ReferenceDecoder.decode(bytes, maxFrameBytes: FrameFuzzTests.maxFrameBytes, maxStringBytes: FrameFuzzTests.maxStringBytes)
            let result = FrameFuzzTests.decode(bytes, chunks: FrameFuzzTests.randomChunks(bytes.count, &g))
            #expect(result.failed == (reference.outcome == .invalid))
            #expect(result.rows == reference.rows)
        }
    }
}
