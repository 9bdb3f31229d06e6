@testable import Engine
import Testing

/// Siddhi's sets: `createSet`, the `unionSet` aggregate and `sizeOfSet`, typed `object`. A set is
/// held as the JSON text of its sorted distinct elements (`SetText`) and printed as a JSON array.
/// Every case also runs with a snapshot restored after each input line and must print the same.
@Suite struct SetFunctionTests {
    static func line(_ t: Int, _ sym: String, _ price: Double) -> String {
        #"{"stream":"S","timestamp":\#(t),"data":["\#(sym)",\#(price)]}"#
    }

    /// `tandem replay` output lines of `source` over `lines`, checked against a restore after each line.
    static func replay(_ source: String, _ lines: [String]) throws -> [String] {
        try TimeRateTests.replayLines(SiddhiApp.compile(source: source, fileName: "s.siddhi"), lines)
    }

    @Test func unionSetOverASlidingWindowCountsElements() throws {
        let out = try SetFunctionTests.replay("""
            define stream S (symbol string, price double);
            define stream InitStream (initialSet object);
            from S select createSet(symbol) as initialSet insert into InitStream;
            from InitStream#window.length(3) select unionSet(initialSet) as symbols insert into Distinct;
            from Distinct select sizeOfSet(symbols) as size insert into Size;
            """, [SetFunctionTests.line(1, "IBM", 1), SetFunctionTests.line(2, "WSO2", 2), SetFunctionTests.line(3, "IBM", 3),
                  #"{"stream":"S","timestamp":4,"data":["A\"B",4.0]}"#, SetFunctionTests.line(5, "C", 5)])
        #expect(out.contains(#"{"stream":"InitStream","timestamp":1,"data":[["IBM"]]}"#), "\(out)")
        #expect(out.contains(#"{"stream":"Distinct","timestamp":2,"data":[["IBM","WSO2"]]}"#), "\(out)")
        #expect(out.contains(#"{"stream":"Distinct","timestamp":4,"data":[["A\"B","IBM","WSO2"]]}"#), "\(out)")
        // t5: WSO2 leaves with the t2 set; IBM stays, since the t3 set in the window still holds it.
        #expect(out.contains(#"{"stream":"Distinct","timestamp":5,"data":[["A\"B","C","IBM"]]}"#), "\(out)")
        #expect(out.filter { $0.contains(#""Size""#) }.map { $0.split(separator: "[").last! } == ["1]}", "2]}", "2]}", "3]}", "3]}"])
    }

    @Test func unionSetPerGroupOverABatchWindow() throws {
        let out = try SetFunctionTests.replay("""
            define stream S (symbol string, price double);
            from S#window.lengthBatch(3) select symbol, unionSet(createSet(price)) as prices group by symbol insert into Out;
            """, [SetFunctionTests.line(1, "A", 1.5), SetFunctionTests.line(2, "B", 2), SetFunctionTests.line(3, "A", 1.5),
                  SetFunctionTests.line(4, "A", 7), SetFunctionTests.line(5, "A", 8), SetFunctionTests.line(6, "A", 7)])
        // Each batch starts an empty union (RESET); equal elements appear once.
        #expect(out == [#"{"stream":"Out","timestamp":3,"data":["A",[1.5]]}"#, #"{"stream":"Out","timestamp":2,"data":["B",[2.0]]}"#,
                        #"{"stream":"Out","timestamp":6,"data":["A",[7.0,8.0]]}"#])
    }

    /// Object attributes take any JSON value; a set is a JSON array, anything else adds nothing to a union.
    @Test func objectAttributesReadJSONValues() throws {
        let out = try SetFunctionTests.replay("""
            define stream T (tags object, n int);
            from T#window.length(2) select unionSet(tags) as all, sizeOfSet(tags) as k insert into Out;
            """, [#"{"stream":"T","timestamp":1,"data":[["a","b"],1]}"#, #"{"stream":"T","timestamp":2,"data":[["b", "c"],2]}"#,
                  #"{"stream":"T","timestamp":3,"data":[null,3]}"#, #"{"stream":"T","timestamp":4,"data":[{"x":1},4]}"#])
        #expect(out == [#"{"stream":"Out","timestamp":1,"data":[["a","b"],2]}"#, #"{"stream":"Out","timestamp":2,"data":[["a","b","c"],2]}"#,
                        #"{"stream":"Out","timestamp":3,"data":[["b","c"],0]}"#, #"{"stream":"Out","timestamp":4,"data":[[],null]}"#])
    }

    @Test func misuseIsReported() {
        func errors(_ source: String) -> String {
            do {
                _ = try SiddhiApp.compile(source: "define stream S (symbol string, price double);\n" + source, fileName: "s.siddhi")
                return ""
            } catch {
                return error.description
            }
        }
        let numeric = errors("from S select unionSet(price) as u insert into Out;")
        #expect(numeric.contains("s.siddhi:2:24") && numeric.contains("unionSet cannot take a double"), "\(numeric)")
        let size = errors("from S select sizeOfSet(symbol) as n insert into Out;")
        #expect(size.contains("s.siddhi:2:25") && size.contains("sizeOfSet() takes a set"), "\(size)")
        let convert = errors("from S select convert(price, 'object') as o insert into Out;")
        #expect(convert.contains("s.siddhi:2:15") && convert.contains("an object converts only to string"), "\(convert)")
    }
}
