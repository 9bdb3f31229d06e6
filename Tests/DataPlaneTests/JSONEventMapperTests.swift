import DataPlane
import Engine
import Testing

/// Siddhi's default JSON shape onto a stream's columns: what is accepted, and every rejection with
/// the event index, the attribute and the reason.
@Suite struct JSONEventMapperTests {
    static let schema = StreamSchema(name: "StockStream", attributes: [
        Attribute(name: "symbol", type: .string), Attribute(name: "price", type: .double),
        Attribute(name: "volume", type: .long), Attribute(name: "count", type: .int),
        Attribute(name: "ratio", type: .float), Attribute(name: "open", type: .bool),
    ])

    static func map(_ json: String, failOnMissing: Bool = true) throws(JSONMapError) -> EventBatch {
        var batch = EventBatch(schema: schema)
        let mapper = JSONEventMapper(schema: schema, failOnMissingAttribute: failOnMissing)
        let n = try mapper.map(Array(json.utf8), timestamp: 42, into: &batch)
        #expect(n == batch.count)
        return batch
    }

    static func error(_ json: String, failOnMissing: Bool = true) -> JSONMapError? {
        do {
            _ = try map(json, failOnMissing: failOnMissing)
            return nil
        } catch {
            return error
        }
    }

    static let full = #"{"symbol":"IBM","price":75.6,"volume":100,"count":3,"ratio":0.5,"open":true}"#

    @Test func singleEventWithWrapper() throws {
        let batch = try Self.map(#"{"event":\#(Self.full)}"#)
        #expect(batch.count == 1)
        #expect(batch.row(0) == [.string("IBM"), .double(75.6), .long(100), .int(3), .float(0.5), .bool(true)])
        #expect(batch.timestamps == [42])
    }

    /// An `object` attribute takes any JSON value and keeps its text; bad JSON in it is rejected.
    @Test func objectAttributesKeepTheirJSONText() throws {
        let schema = StreamSchema(name: "Tags", attributes: [Attribute(name: "tags", type: .object), Attribute(name: "n", type: .int)])
        let mapper = JSONEventMapper(schema: schema, failOnMissingAttribute: true)
        var batch = EventBatch(schema: schema)
        _ = try mapper.map(Array(#"[{"event":{"tags":["a", {"b":[1,2]}],"n":1}},{"event":{"n":2,"tags":null}}]"#.utf8),
                           timestamp: 1, into: &batch)
        #expect(batch.row(0) == [.object(#"["a", {"b":[1,2]}]"#), .int(1)])
        #expect(batch.row(1) == [.null, .int(2)])
        var rejected = EventBatch(schema: schema)  // discarded on error, as map says
        do {
            _ = try mapper.map(Array(#"{"event":{"tags":["a",],"n":1}}"#.utf8), timestamp: 1, into: &rejected)
            Issue.record("accepted a trailing comma")
        } catch {
            #expect("\(error)".contains("tags"), "\(error)")
        }
    }

    @Test func arrayOfEventsAnyOrderAndWhitespace() throws {
        let json = """
             [ {"event": {"open":false, "ratio":1, "count":-2147483648, "volume":-9223372036854775808, "price":1e3, "symbol":"A"}} ,
               {"EVENT":\(Self.full)},
               \(Self.full) ]
            """
        let batch = try Self.map(json)
        #expect(batch.count == 3)
        #expect(batch.row(0) == [.string("A"), .double(1000), .long(Int64.min), .int(Int32.min), .float(1), .bool(false)])
        #expect(batch.string(0, 1) == "IBM" && batch.string(0, 2) == "IBM")
    }

    @Test func emptyArrayIsZeroEvents() throws {
        #expect(try Self.map(" [ ] ").count == 0)
    }

    @Test func nullsAndMissingAttributes() throws {
        let batch = try Self.map(#"{"event":{"symbol":null,"price":null,"volume":null,"count":null,"ratio":null,"open":null}}"#)
        #expect(batch.row(0) == Array(repeating: .null, count: 6))
        let missing = Self.error(#"{"event":{"symbol":"IBM","price":75.6}}"#)
        #expect(missing?.attribute == "volume")
        #expect(missing?.description.contains("missing") == true)
        let lenient = try Self.map(#"{"event":{"symbol":"IBM","price":75.6}}"#, failOnMissing: false)
        #expect(lenient.row(0) == [.string("IBM"), .double(75.6), .null, .null, .null, .null])
    }

    @Test func stringsWithEscapesAndUnicode() throws {
        let batch = try Self.map(#"{"event":{"symbol":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00€","price":1.5,"volume":1,"count":1,"ratio":1,"open":true}}"#)
        #expect(batch.string(0, 0) == "a\"b\\c/d\n\té😀€")
    }

    /// -0.0 keeps its sign, as on the binary wire (`tandem send` once lost it reading integers first).
    @Test func negativeZeroKeepsItsSign() throws {
        let batch = try Self.map(#"[{"symbol":"a","price":-0.0,"volume":-0,"count":0,"ratio":-0.0,"open":true},"#
                                 + #"{"symbol":"b","price":-0,"volume":1,"count":1,"ratio":-0e3,"open":true}]"#)
        #expect(batch.count == 2)
        for row in 0..<2 {
            #expect(batch.double(1, row) == 0 && batch.double(1, row).sign == .minus, "double, row \(row)")
            #expect(batch.double(4, row) == 0 && batch.double(4, row).sign == .minus, "float, row \(row)")
        }
        #expect(batch.row(0)[2] == .long(0))
    }

    @Test func typeErrorsNameTheEventAndAttribute() {
        func check(_ attribute: String, _ value: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            var fields: [String: String] = ["symbol": #""IBM""#, "price": "75.6", "volume": "100", "count": "3", "ratio": "0.5", "open": "true"]
            fields[attribute] = value
            let event = "{" + ["symbol", "price", "volume", "count", "ratio", "open"].map { "\"\($0)\":\(fields[$0]!)" }.joined(separator: ",") + "}"
            let error = Self.error("[\(Self.full),{\"event\":\(event)}]")
            #expect(error?.eventIndex == 1, sourceLocation: sourceLocation)
            #expect(error?.attribute == attribute, sourceLocation: sourceLocation)
            #expect(error?.description.contains(fragment) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
            #expect(error?.description.hasPrefix("event 1, attribute '\(attribute)': ") == true, sourceLocation: sourceLocation)
        }
        check("symbol", "12", "expects a string, got a number")
        check("price", #""75.6""#, "expects a double, got a string")
        check("volume", "1.5", "expects an integer (long), got 1.5")
        check("volume", "9223372036854775808", "out of range for long")
        check("count", "2147483648", "out of range for int")
        check("count", "true", "expects an int, got a boolean")
        check("ratio", "1e39", "out of range for float")
        check("price", "1e309", "out of range for double")
        check("open", "1", "expects a bool (true or false), got a number")
        check("open", "tru", "invalid JSON literal")
        check("symbol", #"{"a":1}"#, "expects a string, got an object")
        check("price", "[1]", "expects a double, got an array")
        check("price", "01", "expected ',' or '}' after the value, got a number")
        check("price", "-", "invalid number")
        check("price", "1.", "no digit after '.'")
        check("symbol", #""a\x""#, "invalid escape")
        check("symbol", #""\ud83d""#, "unpaired surrogate")
        check("symbol", "\"a\u{01}\"", "control character")
    }

    @Test func shapeErrors() {
        #expect(Self.error("")?.message.contains("empty body") == true)
        #expect(Self.error("42")?.message.contains("got a number") == true)
        #expect(Self.error(#"{"event":"#)?.eventIndex == nil)
        let extra = Self.error(#"[\#(Self.full),\#(Self.full),{"event":{"symbol":"IBM","nope":1}}]"#)
        #expect(extra?.eventIndex == 2)
        #expect(extra?.message.contains("has no attribute 'nope'") == true)
        let twice = Self.error(#"{"event":{"symbol":"IBM","symbol":"X"}}"#)
        #expect(twice?.attribute == "symbol" && twice?.message == "given twice")
        #expect(Self.error(#"\#(Self.full) x"#)?.message.contains("after the JSON value") == true)
        #expect(Self.error(#"[\#(Self.full)"#)?.message.contains("',' or ']'") == true)
        #expect(Self.error(#"[1]"#)?.message.contains("expected an object") == true)
        #expect(Self.error(#"{"event":\#(Self.full),"x":1}"#)?.message.contains("next to \"event\"") == true)
        #expect(Self.error(#"{"event":[]}"#)?.message.contains("expected an object of attributes after \"event\", got an array") == true)
        #expect(Self.error(#"{"event":{"symbol":"IB"#)?.message.contains("unterminated string") == true)
    }

    @Test func tooManyEventsInOneBody() {
        let one = #"{"a":1}"#
        let schema = StreamSchema(name: "S", attributes: [Attribute(name: "a", type: .int)])
        var batch = EventBatch(schema: schema)
        let body = "[" + Array(repeating: one, count: JSONEventMapper.eventsMax + 1).joined(separator: ",") + "]"
        #expect(throws: JSONMapError.self) {
            try JSONEventMapper(schema: schema).map(Array(body.utf8), timestamp: 0, into: &batch)
        }
    }

    @Test func writerOutputReadsBack() throws {
        var batch = EventBatch(schema: Self.schema)
        _ = batch.append(timestamp: 1, values: [.string("q\"\n"), .double(75.6), .long(1), .int(2), .float(0.25), .bool(false)])
        _ = batch.append(timestamp: 2, values: [.null, .double(.nan), .long(-5), .null, .float(3), .bool(true)])
        let one = JSONEventWriter.json([EventBatch(schema: Self.schema)] + [try Self.map(#"{"event":\#(Self.full)}"#)])
        #expect(one == #"{"event":{"symbol":"IBM","price":75.6,"volume":100,"count":3,"ratio":0.5,"open":true}}"#)
        let both = JSONEventWriter.json([batch])
        #expect(both.hasPrefix("[{\"event\":"))
        let back = try Self.map(both)
        #expect(back.row(0) == batch.row(0))
        #expect(back.row(1) == [.null, .null, .long(-5), .null, .float(3), .bool(true)])  // NaN is written as null
    }
}
