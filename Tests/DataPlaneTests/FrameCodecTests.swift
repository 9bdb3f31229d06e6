@testable import DataPlane
import Engine
import Testing

let stockSchema = StreamSchema(name: "StockStream", attributes: [
    Attribute(name: "symbol", type: .string), Attribute(name: "price", type: .double),
    Attribute(name: "volume", type: .long),
])
let allTypesSchema = StreamSchema(name: "All", attributes: [
    Attribute(name: "i", type: .int), Attribute(name: "l", type: .long), Attribute(name: "f", type: .float),
    Attribute(name: "d", type: .double), Attribute(name: "s", type: .string), Attribute(name: "b", type: .bool),
])

func stockBatch(_ range: Range<Int>) -> EventBatch {
    var batch = EventBatch(schema: stockSchema)
    for i in range { batch.append(timestamp: Int64(1000 + i), values: [.string("S\(i % 10)"), .double(Double(i) + 0.5), .long(Int64(i))]) }
    return batch
}

func frame(_ batch: EventBatch, channel: String = "StockStream") -> [UInt8] {
    var bytes: [UInt8] = []
    FrameEncoder().append(batch: batch, channel: channel, to: &bytes)
    return bytes
}

/// Decodes `bytes` fed in the given chunk sizes, as a connection would; returns every row.
func decodeAll(_ bytes: [UInt8], chunks: [Int]? = nil, channels: [SourceChannel]? = nil, batchSize: Int = 1024,
               maxFrameBytes: Int = 1 << 20) throws(FrameDecodeError) -> [[Value]] {
    let decoder = FrameDecoder(channels: channels ?? [SourceChannel(channel: "StockStream", streamIndex: 0, schema: stockSchema)],
                               batchSize: batchSize, maxFrameBytes: maxFrameBytes)
    var rows: [[Value]] = []
    let emit: (SourceChannel, EventBatch) -> Void = { _, batch in
        for r in 0..<batch.count { rows.append([.long(batch.timestamps[r])] + batch.row(r)) }
    }
    var pending: [UInt8] = []
    var offset = 0
    for size in chunks ?? [bytes.count] {
        pending.append(contentsOf: bytes[offset..<min(offset + size, bytes.count)])
        offset += size
        var failure: FrameDecodeError? = nil
        let consumed = pending.withUnsafeBytes { raw in
            do throws(FrameDecodeError) { return try decoder.decode(raw, emit: emit) } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        pending.removeFirst(consumed)
    }
    decoder.flush(emit: emit)
    return rows
}

@Suite struct FrameCodecTests {
    @Test func roundTripsEveryAttributeType() throws {
        var batch = EventBatch(schema: allTypesSchema)
        batch.append(timestamp: -5, values: [.int(Int32.min), .long(Int64.max), .float(1.5), .double(-2.25), .string("héllo ☃"), .bool(true)])
        batch.append(timestamp: 7, values: [.int(42), .long(-1), .float(-0.0), .double(1e300), .string(""), .bool(false)])
        let rows = try decodeAll(frame(batch, channel: "All"), channels: [SourceChannel(channel: "All", streamIndex: 3, schema: allTypesSchema)])
        // siddhi-map-binary has no null marker and reads a zero-length string as null, so "" comes back null.
        #expect(rows == [
            [.long(-5), .int(Int32.min), .long(Int64.max), .float(1.5), .double(-2.25), .string("héllo ☃"), .bool(true)],
            [.long(7), .int(42), .long(-1), .float(-0.0), .double(1e300), .null, .bool(false)],
        ])
    }

    @Test func headerMatchesSiddhiTCPFraming() {
        let bytes = frame(stockBatch(0..<1))
        #expect(bytes[0] == 0x02)
        let messageSize = Int(bytes[1]) << 24 | Int(bytes[2]) << 16 | Int(bytes[3]) << 8 | Int(bytes[4])
        #expect(messageSize == bytes.count - 5, "messageSize covers everything after the 5-byte header")
    }

    @Test func manyFramesInOneBufferAndBatchCutting() throws {
        var bytes: [UInt8] = []
        for k in 0..<10 { bytes += frame(stockBatch(k * 7..<(k + 1) * 7)) }
        let rows = try decodeAll(bytes, batchSize: 16)
        #expect(rows.count == 70)
        #expect(rows.map { $0[3] } == (0..<70).map { Value.long(Int64($0)) })
    }

    @Test func frameSplitAtEveryByteBoundary() throws {
        let bytes = frame(stockBatch(0..<3)) + frame(stockBatch(3..<5))
        let whole = try decodeAll(bytes)
        #expect(whole.count == 5)
        for split in 1..<bytes.count {
            #expect(try decodeAll(bytes, chunks: [split, bytes.count - split]) == whole, "split at \(split)")
        }
        #expect(try decodeAll(bytes, chunks: Array(repeating: 1, count: bytes.count)) == whole)
    }

    @Test func truncatedStreamKeepsWaiting() throws {
        let bytes = frame(stockBatch(0..<3))
        // Fewer bytes than the frame: nothing decoded, nothing consumed, no error.
        #expect(try decodeAll(Array(bytes.dropLast(1))).isEmpty)
    }

    @Test func truncatedPayloadInsideCompleteFrameIsRejected() {
        var bytes = frame(stockBatch(0..<2))
        // Claim 3 events while carrying 2.
        let countOffset = bytes.count - frameBodyBytes(stockBatch(0..<2)) - 4
        bytes[countOffset + 3] = 3
        #expect(throws: FrameDecodeError.self) { try decodeAll(bytes) }
    }

    @Test func oversizedFrameIsRejectedFromItsHeader() {
        let header: [UInt8] = [0x02, 0x7F, 0xFF, 0xFF, 0xFF]
        #expect(throws: FrameDecodeError.frameTooLarge(sizeBytes: Int(Int32.max) + 5, maxFrameBytes: 1 << 20)) { try decodeAll(header) }
    }

    @Test func garbageAndWrongProtocolByte() {
        #expect(throws: FrameDecodeError.badProtocolByte(0x47)) { try decodeAll(Array("GET / HTTP/1.1\r\n".utf8)) }
        var bytes = frame(stockBatch(0..<1))
        bytes[0] = 0x03
        #expect(throws: FrameDecodeError.badProtocolByte(0x03)) { try decodeAll(bytes) }
        // Negative message size.
        #expect(throws: FrameDecodeError.self) { try decodeAll([0x02, 0xFF, 0xFF, 0xFF, 0xF0]) }
    }

    /// A frame laid out byte by byte as siddhi-io-tcp 3.0.5 and siddhi-map-binary 2.0.5 write it
    /// (MessageEncoder, BinaryEventConverter): ids with their character counts (ASCII here, so equal to
    /// bytes), each string value with its UTF-8 byte length. Non-ASCII values, including characters
    /// outside the BMP (two UTF-16 units, four bytes), arrive intact.
    @Test func decodesNonASCIIStringValuesAsSiddhiWritesThem() throws {
        func int32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: Int32(v).bigEndian, Array.init) }
        func int64(_ v: Int64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
        let symbols = ["héllo ☃", "日本語", "😀 emoji", "Ünïcödé ∑ 𝄞"]
        var payload = int32(symbols.count)
        for (i, symbol) in symbols.enumerated() {
            let bytes = Array(symbol.utf8)
            #expect(bytes.count != symbol.utf16.count, "a value whose byte and character counts differ")
            payload += int64(1_700_000_000_000 + Int64(i)) + int32(bytes.count) + bytes
            payload += withUnsafeBytes(of: (75.5 + Double(i)).bitPattern.bigEndian, Array.init) + int64(Int64(i))
        }
        let session = Array("3f0c1d2e-58aa-4c1b-9d7e-0a1b2c3d4e5f".utf8)
        let channel = Array("StockStream".utf8)
        let message = int32(session.count) + session + int32(channel.count) + channel + int32(payload.count) + payload
        let frame = [UInt8(0x02)] + int32(message.count) + message
        let rows = try decodeAll(frame)
        #expect(rows == symbols.indices.map { i in
            [.long(1_700_000_000_000 + Int64(i)), .string(symbols[i]), .double(75.5 + Double(i)), .long(Int64(i))]
        })
    }

    @Test func unknownChannelIsRejected() {
        #expect(throws: FrameDecodeError.unknownChannel("Other")) { try decodeAll(frame(stockBatch(0..<1), channel: "Other")) }
    }

    @Test func badFrameKeepsEventsOfEarlierFrames() throws {
        let good = frame(stockBatch(0..<4))
        var bad = frame(stockBatch(4..<6))
        bad.append(0xAA)
        bad[4] &+= 1  // message size +1 to include the extra byte
        let decoder = FrameDecoder(channels: [SourceChannel(channel: "StockStream", streamIndex: 0, schema: stockSchema)])
        var rows = 0
        let bytes = good + bad
        var failure: FrameDecodeError? = nil
        bytes.withUnsafeBytes { raw in
            do throws(FrameDecodeError) { _ = try decoder.decode(raw) { _, b in rows += b.count } } catch { failure = error }
        }
        #expect(failure != nil)
        decoder.flush { _, b in rows += b.count }
        #expect(rows == 4, "the good frame's events survive, the bad frame's do not")
    }

    @Test func randomGarbageNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var bytes = frame(stockBatch(0..<3))
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? decodeAll(bytes, chunks: [Int.random(in: 1...bytes.count, using: &generator), bytes.count])
        }
    }
}

/// Payload bytes after the event count, for locating fields in tests.
func frameBodyBytes(_ batch: EventBatch) -> Int {
    var n = 0
    for r in 0..<batch.count { n += 8 + 4 + batch.string(0, r).utf8.count + 8 + 8 }
    return n
}
