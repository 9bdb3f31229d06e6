@testable import Engine
import Testing

/// Siddhi's sets: `createSet`, the `unionSet` aggregate and `sizeOfSet`. Sets are strings holding a
/// sorted JSON array (`SetText`); TimeRateTests.replay also restores a snapshot after every line.
@Suite struct SetFunctionTests {
    static func line(_ t: Int, _ sym: String, _ price: Double) -> String {
        #"{"stream":"S","timestamp":\#(t),"data":["\#(sym)",\#(price)]}"#
    }

    @Test func unionSetOverASlidingWindowCountsElements() throws {
        let out = try TimeRateTests.replay("""
            define stream S (symbol string, price double);
            from S select createSet(symbol) as initialSet insert into InitStream;
            from InitStream#window.length(3) select unionSet(initialSet) as symbols insert into Distinct;
            from Distinct select sizeOfSet(symbols) as size insert into Size;
            """, [SetFunctionTests.line(1, "IBM", 1), SetFunctionTests.line(2, "WSO2", 2), SetFunctionTests.line(3, "IBM", 3),
                  #"{"stream":"S","timestamp":4,"data":["A\"B",4.0]}"#, SetFunctionTests.line(5, "C", 5)])
        // t5: WSO2 leaves with the t2 set; IBM stays, another set in the window still holds it.
        #expect(out.contains(#"4: ["A\"B","IBM","WSO2"]"#), "\(out)")
        #expect(out.contains(#"5: ["A\"B","C","IBM"]"#), "\(out)")
        #expect(out.filter { $0.hasPrefix("5: ") }.contains("5: 3"))
        #expect(out.filter { $0.hasPrefix("2: ") }.contains("2: 2"))
    }

    @Test func unionSetPerGroupOverABatchWindow() throws {
        let out = try TimeRateTests.replay("""
            define stream S (symbol string, price double);
            from S#window.lengthBatch(3) select symbol, unionSet(createSet(price)) as prices group by symbol insert into Out;
            """, [SetFunctionTests.line(1, "A", 1.5), SetFunctionTests.line(2, "B", 2), SetFunctionTests.line(3, "A", 1.5),
                  SetFunctionTests.line(4, "A", 7), SetFunctionTests.line(5, "A", 8), SetFunctionTests.line(6, "A", 7)])
        // Each batch starts an empty union (RESET); equal elements appear once.
        #expect(out == ["3: A [1.5]", "2: B [2.0]", "6: A [7.0,8.0]"])
    }

    @Test func sizeOfSetOfNullIsZeroAndMisuseIsReported() throws {
        let out = try TimeRateTests.replay("""
            define stream S (symbol string, price double);
            from S select sizeOfSet(ifThenElse(price > 2.0, createSet(symbol), null)) as n insert into Out;
            """, [SetFunctionTests.line(1, "A", 1), SetFunctionTests.line(2, "B", 5)])
        #expect(out == ["1: 0", "2: 1"])
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
        let size = errors("from S select sizeOfSet(price) as n insert into Out;")
        #expect(size.contains("s.siddhi:2:25") && size.contains("sizeOfSet() takes a set"), "\(size)")
    }
}
