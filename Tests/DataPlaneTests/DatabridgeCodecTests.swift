@testable import DataPlane
import Engine
import NIOCore
import Testing

/// The databridge codecs on hand-built messages: a message cut anywhere waits for the rest, a
/// whole one decodes into the stream's columns in SI's wire order (meta, correlation, payload).
@Suite struct DatabridgeCodecTests {
    static let schema = StreamSchema(name: "S", attributes: [
        Attribute(name: "key", type: .string), Attribute(name: "meta_tenant", type: .int),
        Attribute(name: "amount", type: .long), Attribute(name: "correlation_tx", type: .string),
    ])
    static let stream = try! WSO2EventStream(streamId: "S:1.0.0", streamIndex: 3, schema: schema)

    /// A strict TBinaryProtocol `publish` call of one event: S:1.0.0, tenant 7, tx "t", key "k", amount 42.
    static func thriftPublish() -> ByteBuffer {
        var b = ByteBuffer()
        func string(_ s: String) { b.writeInteger(Int32(s.utf8.count)); b.writeString(s) }
        func field(_ type: UInt8, _ id: Int16) { b.writeInteger(type); b.writeInteger(id) }
        b.writeInteger(Int32(bitPattern: 0x8001_0001)); string("publish"); b.writeInteger(Int32(9))
        field(12, 1)
        field(11, 1); string("session")
        field(8, 2); b.writeInteger(Int32(1))
        field(15, 3); b.writeInteger(UInt8(8)); b.writeInteger(Int32(1)); b.writeInteger(Int32(7))
        field(15, 4); b.writeInteger(UInt8(10)); b.writeInteger(Int32(2)); b.writeInteger(Int64(1_000)); b.writeInteger(Int64(42))
        field(15, 7); b.writeInteger(UInt8(11)); b.writeInteger(Int32(3)); string("S:1.0.0"); string("t"); string("k")
        field(13, 8); b.writeInteger(UInt8(8)); b.writeInteger(UInt8(13)); b.writeInteger(Int32(0))  // an empty arbitrary map, skipped
        b.writeInteger(UInt8(0))
        b.writeInteger(UInt8(0))
        return b
    }

    @Test func thriftCallCutAnywhereWaitsThenDecodesInWireOrder() throws {
        let whole = Self.thriftPublish()
        for cut in 0..<whole.readableBytes {
            var part = whole.getSlice(at: 0, length: cut)!
            #expect(try ThriftDatabridgeCodec.nextMessage(&part, maxMessageBytes: 1 << 20) == nil, "cut at \(cut)")
            #expect(part.readableBytes == cut)
        }
        var buffer = whole
        let message = try #require(try ThriftDatabridgeCodec.nextMessage(&buffer, maxMessageBytes: 1 << 20))
        #expect(message.name == "publish" && message.seqId == 9 && buffer.readableBytes == 0)
        guard case .publish(let bundle) = message.call else { Issue.record("not a publish"); return }
        #expect(bundle.sessionId == "session")
        var out = WSO2EventBundle(batchEventsMax: 16)
        try ThriftDatabridgeCodec.decodeEvents(bundle, lookup: { $0 == "S:1.0.0" ? Self.stream : nil }, into: &out)
        let batch = try #require(out.parts.first?.batch)
        #expect(out.events == 1 && batch.count == 1 && batch.timestamps[0] == 1_000)
        #expect(batch.value(0, 0) == .string("k") && batch.value(1, 0) == .int(7) && batch.value(2, 0) == .long(42) && batch.value(3, 0) == .string("t"))
    }

    @Test func aThriftBundleWithValuesLeftOverIsRefusedWhole() throws {
        var bundle = ThriftEventBundle()
        bundle.eventNum = 1
        bundle.ints = [7, 8]
        bundle.longs = [1, 42]
        bundle.strings = ["S:1.0.0", "t", "k"].map { ByteBuffer(string: $0) }
        var out = WSO2EventBundle(batchEventsMax: 16)
        #expect(throws: DatabridgeError.malformed("the bundle's lists hold values beyond its 1 events (1 int): eventNum or the stream's attributes differ")) {
            try ThriftDatabridgeCodec.decodeEvents(bundle, lookup: { _ in Self.stream }, into: &out)
        }
    }

    @Test func notThriftAndOversizedCallsAreRefused() {
        var http = ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n")
        #expect(throws: ThriftDatabridgeCodec.ReadError.self) { try ThriftDatabridgeCodec.nextMessage(&http, maxMessageBytes: 1 << 20) }
        var big = Self.thriftPublish()
        #expect(throws: ThriftDatabridgeCodec.ReadError.self) { try ThriftDatabridgeCodec.nextMessage(&big, maxMessageBytes: 16) }
    }

    @Test func binaryMessageCutAnywhereWaitsThenDecodes() throws {
        var event = ByteBuffer()
        event.writeInteger(Int64(5)); event.writeInteger(Int32(7)); event.writeString("S:1.0.0")
        event.writeInteger(Int32(9))  // meta_tenant
        event.writeInteger(Int32(0))  // correlation_tx: length 0 is null
        event.writeInteger(Int32(1)); event.writeString("k"); event.writeInteger(Int64(42))
        var body = ByteBuffer()
        body.writeInteger(Int32(2)); body.writeString("s1"); body.writeInteger(Int32(1))
        body.writeInteger(Int32(event.readableBytes)); body.writeImmutableBuffer(event)
        var whole = ByteBuffer()
        whole.writeInteger(UInt8(2)); whole.writeInteger(Int32(body.readableBytes)); whole.writeImmutableBuffer(body)
        for cut in 0..<whole.readableBytes {
            var part = whole.getSlice(at: 0, length: cut)!
            #expect(try BinaryDatabridgeCodec.nextMessage(&part, maxMessageBytes: 1 << 20) == nil)
        }
        var buffer = whole
        guard case .publish(let session, let events, let count) = try BinaryDatabridgeCodec.nextMessage(&buffer, maxMessageBytes: 1 << 20) else {
            Issue.record("not a publish"); return
        }
        #expect(session == "s1" && count == 1)
        var out = WSO2EventBundle(batchEventsMax: 16)
        try BinaryDatabridgeCodec.decodeEvents(events, count: count, lookup: { _ in Self.stream }, into: &out)
        let batch = try #require(out.parts.first?.batch)
        #expect(batch.value(0, 0) == .string("k") && batch.value(1, 0) == .int(9) && batch.value(2, 0) == .long(42) && batch.value(3, 0) == .null)
        var unknown = ByteBuffer(bytes: [2, 0, 0, 0, 0])
        unknown.setInteger(UInt8(9), at: 0)
        #expect(throws: DatabridgeError.self) { try BinaryDatabridgeCodec.nextMessage(&unknown, maxMessageBytes: 1 << 20) }
    }
}
