@testable import DataPlane
import Engine
import Testing

/// Big-endian byte helpers written independently of `FrameEncoder`, to build frames by hand.
func be32(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
func be64(_ v: Int64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
func lengthPrefixed(_ s: String) -> [UInt8] { be32(Int32(s.utf8.count)) + Array(s.utf8) }

/// A frame with the given payload; `messageSize` defaults to the true size of what follows the header.
func handFrame(session: String = "s1", channel: String = "StockStream", payload: [UInt8], messageSize: Int32? = nil,
               payloadLength: Int32? = nil) -> [UInt8] {
    let body = lengthPrefixed(session) + lengthPrefixed(channel) + be32(payloadLength ?? Int32(payload.count)) + payload
    return [0x02] + be32(messageSize ?? Int32(body.count)) + body
}

/// One stock event in siddhi-map-binary layout.
func stockEvent(_ ts: Int64, _ symbol: String, _ price: Double, _ volume: Int64) -> [UInt8] {
    be64(ts) + lengthPrefixed(symbol) + be64(Int64(bitPattern: price.bitPattern)) + be64(volume)
}

func decodeError(_ bytes: [UInt8], channels: [SourceChannel]? = nil, maxStringBytes: Int = FrameDecoder.maxStringBytesDefault) -> FrameDecodeError? {
    let decoder = FrameDecoder(channels: channels ?? [SourceChannel(channel: "StockStream", streamIndex: 0, schema: stockSchema)],
                               maxStringBytes: maxStringBytes)
    return bytes.withUnsafeBytes { raw -> FrameDecodeError? in
        do throws(FrameDecodeError) {
            _ = try decoder.decode(raw) { _, _ in }
            return nil
        } catch {
            return error
        }
    }
}

@Suite struct FrameDecoderLimitsTests {
    @Test func decodesWhatSiddhisTCPSinkWrites() throws {
        // Byte for byte what siddhi-io-tcp's MessageEncoder writes around siddhi-map-binary's payload.
        let payload = be32(1) + stockEvent(1000, "IBM", 75.6, 100)
        let bytes = handFrame(payload: payload)
        #expect(bytes.count == 5 + 60, "messageSize covers 4+2 (session) + 4+11 (channel) + 4+35 (payload)")
        #expect(Array(bytes[0..<5]) == [0x02, 0, 0, 0, 60])
        #expect(try decodeAll(bytes) == [[.long(1000), .string("IBM"), .double(75.6), .long(100)]])

        var batch = EventBatch(schema: stockSchema)
        batch.append(timestamp: 1000, values: [.string("IBM"), .double(75.6), .long(100)])
        var encoded: [UInt8] = []
        FrameEncoder(sessionId: "s1").append(batch: batch, channel: "StockStream", to: &encoded)
        #expect(encoded == bytes, "the encoder writes exactly what Siddhi's sink writes")
        #expect(FrameEncoder(sessionId: "s1").frameBytes(batch: batch, channel: "StockStream") == bytes.count)
    }

    @Test func encodesBoxedRows() throws {
        var bytes: [UInt8] = []
        let ok = FrameEncoder().append(schema: stockSchema, rows: [(1, [.string("A"), .int(2), .long(3)]), (4, [.string("B"), .double(5.5), .long(6)])],
                                       channel: "StockStream", to: &bytes)
        #expect(ok)
        #expect(try decodeAll(bytes) == [[.long(1), .string("A"), .double(2), .long(3)], [.long(4), .string("B"), .double(5.5), .long(6)]])
        var untouched: [UInt8] = []
        #expect(!FrameEncoder().append(schema: stockSchema, rows: [(1, [.int(1), .int(2), .long(3)])], channel: "StockStream", to: &untouched))
        #expect(untouched.isEmpty)
    }

    @Test func everyMalformationHasItsOwnReason() {
        let event = stockEvent(1, "X", 1, 1)
        let good = be32(1) + event
        #expect(decodeError(handFrame(payload: good)) == nil)
        #expect(decodeError([0x02] + be32(11) + [UInt8](repeating: 0, count: 11)) == .messageSizeTooSmall(11))
        #expect(decodeError([0x02] + be32(-16)) == .messageSizeTooSmall(-16))
        #expect(decodeError(handFrame(payload: good, payloadLength: Int32(good.count + 1))) == .badLength(.payload, good.count + 1))
        #expect(decodeError(handFrame(payload: good, payloadLength: Int32(good.count - 1))) == .payloadSizeMismatch(payloadBytes: good.count - 1, bytesLeft: good.count))
        // Session id length negative / past the end.
        var negativeSession = handFrame(payload: good)
        negativeSession.replaceSubrange(5..<9, with: be32(-1))
        #expect(decodeError(negativeSession) == .badLength(.sessionId, -1))
        var longSession = handFrame(payload: good)
        longSession.replaceSubrange(5..<9, with: be32(1000))
        #expect(decodeError(longSession) == .badLength(.sessionId, 1000))
        #expect(decodeError(handFrame(payload: be32(-1) + event)) == .badEventCount(-1))
        #expect(decodeError(handFrame(payload: be32(2) + event)) == .badEventCount(2))
        // Room for two events by the minimum size, but the second one is cut short.
        let cutShort = be64(2) + be32(10) + [UInt8](repeating: 0x78, count: 17)  // price needs 8 bytes, 7 are left
        #expect(decodeError(handFrame(payload: be32(2) + event + cutShort)) == .truncatedEvent(eventIndex: 1, eventCount: 2))
        #expect(decodeError(handFrame(payload: good + [0xAA])) == .trailingBytes(1))
        let negativeString = be32(1) + be64(1) + be32(-5) + [UInt8](repeating: 0, count: 16)
        #expect(decodeError(handFrame(payload: negativeString)) == .badLength(.string, -5))
        #expect(decodeError(handFrame(payload: be32(1) + stockEvent(1, "ABCDEFGHIJ", 1, 1)), maxStringBytes: 8) == .stringTooLong(lengthBytes: 10, maxStringBytes: 8))
        #expect(decodeError(handFrame(channel: "Nope", payload: good)) == .unknownChannel("Nope"))
        #expect(decodeError([0x47, 0x45, 0x54]) == .badProtocolByte(0x47), "rejected from the first byte, before a whole header")
        // Every reason prints something a log reader can act on.
        #expect(FrameDecodeError.stringTooLong(lengthBytes: 10, maxStringBytes: 8).description == "string of 10 bytes exceeds maxStringBytes 8")
    }

    @Test func boolIsTrueOnlyForOne() throws {
        let schema = StreamSchema(name: "B", attributes: [Attribute(name: "b", type: .bool)])
        let channel = SourceChannel(channel: "B", streamIndex: 0, schema: schema)
        let payload = be32(3) + be64(1) + [1] + be64(2) + [0] + be64(3) + [2]
        #expect(try decodeAll(handFrame(channel: "B", payload: payload), channels: [channel]).map { $0[1] } == [.bool(true), .bool(false), .bool(false)])
    }

    @Test func aliasesReachTheSameStream() throws {
        let channel = SourceChannel(channel: "StockStream", streamIndex: 0, schema: stockSchema, aliases: ["App/StockStream"])
        let bytes = frame(stockBatch(0..<2), channel: "App/StockStream") + frame(stockBatch(2..<3), channel: "StockStream")
        #expect(try decodeAll(bytes, channels: [channel]).map { $0[3] } == [.long(0), .long(1), .long(2)])
    }

    @Test func twoChannelsOnOneConnection() throws {
        let other = StreamSchema(name: "Other", attributes: [Attribute(name: "n", type: .int)])
        let decoder = FrameDecoder(channels: [SourceChannel(channel: "StockStream", streamIndex: 0, schema: stockSchema),
                                              SourceChannel(channel: "Other", streamIndex: 1, schema: other)], batchSize: 4)
        var otherBatch = EventBatch(schema: other)
        for i in 0..<3 { otherBatch.append(timestamp: Int64(i), values: [.int(Int32(i))]) }
        let bytes = frame(stockBatch(0..<3)) + frame(otherBatch, channel: "Other") + frame(stockBatch(3..<5))
        var seen: [(Int, Int)] = []
        _ = try bytes.withUnsafeBytes { raw throws(FrameDecodeError) in try decoder.decode(raw) { c, b in seen.append((c.streamIndex, b.count)) } }
        decoder.flush { c, b in seen.append((c.streamIndex, b.count)) }
        #expect(seen.map(\.0) == [0, 1], "stock batch cut at 5 ≥ 4 events, then the other stream's partial batch")
        #expect(seen.map(\.1) == [5, 3])
    }

    @Test func frameLargerThanOneBatchIsSplitAcrossBatches() throws {
        let schema = StreamSchema(name: "N", attributes: [Attribute(name: "n", type: .int)])
        let channel = SourceChannel(channel: "N", streamIndex: 0, schema: schema)
        let total = EventBatch.capacityMax + 100
        var payload = be32(Int32(total))
        payload.reserveCapacity(4 + total * 12)
        for i in 0..<total { payload += be64(Int64(i)) + be32(Int32(truncatingIfNeeded: i)) }
        let decoder = FrameDecoder(channels: [channel], batchSize: 1024, maxFrameBytes: 4 << 20)
        var sizes: [Int] = []
        var expected = 0, inOrder = true
        let emit: (SourceChannel, EventBatch) -> Void = { _, b in
            sizes.append(b.count)
            for r in 0..<b.count {
                if b.int64(0, r) != Int64(expected) { inOrder = false }
                expected += 1
            }
        }
        let bytes = handFrame(channel: "N", payload: payload)
        _ = try bytes.withUnsafeBytes { raw throws(FrameDecodeError) in try decoder.decode(raw, emit: emit) }
        decoder.flush(emit: emit)
        #expect(sizes == [EventBatch.capacityMax, 100])
        #expect(inOrder && expected == total)

        // The same frame with its last byte corrupted into trailing garbage adds nothing at all.
        var bad = payload
        bad.append(0)
        let rejected = FrameDecoder(channels: [channel], batchSize: 1024, maxFrameBytes: 4 << 20)
        var emitted = 0
        let badFrame = handFrame(channel: "N", payload: bad)
        let error = badFrame.withUnsafeBytes { raw -> FrameDecodeError? in
            do throws(FrameDecodeError) {
                _ = try rejected.decode(raw) { _, b in emitted += b.count }
                return nil
            } catch { return error }
        }
        #expect(error == .trailingBytes(1))
        rejected.flush { _, b in emitted += b.count }
        #expect(emitted == 0, "a frame split across batches is validated before any batch is handed on")
    }

    @Test func batchesAreReusedFromTheReturnRing() throws {
        let returns = SPSCRing<EventBatch>(capacity: 8)
        let pool = BatchPool(returns: returns)
        let channel = SourceChannel(channel: "StockStream", streamIndex: 0, schema: stockSchema)
        let decoder = FrameDecoder(channels: [channel], batchSize: 2, maxFrameBytes: 1 << 20, maxStringBytes: 1024, pool: pool)
        var handed: [EventBatch] = []
        let bytes = frame(stockBatch(0..<2))
        _ = try bytes.withUnsafeBytes { raw throws(FrameDecodeError) in try decoder.decode(raw) { _, b in handed.append(b) } }
        #expect(handed.count == 1)
        // The engine hands the batch back (keeping no reference); the next take reuses its storage.
        let columnAddress = handed[0].timestamps.withUnsafeBufferPointer { $0.baseAddress }
        #expect(returns.tryPush(handed.removeFirst()))
        let again = pool.take(schema: stockSchema, capacity: 2)
        #expect(again.isEmpty)
        #expect(again.timestamps.withUnsafeBufferPointer { $0.baseAddress } == columnAddress, "same storage, not a new allocation")
    }
}
