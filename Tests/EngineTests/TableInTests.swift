@testable import Engine
import Testing

/// `condition in Table` in filters, select and having; each replay is also checked with a snapshot
/// and restore after every line (TimeRateTests.replay).
@Suite struct TableInTests {
    static func line(_ stream: String, _ t: Int, _ data: String) -> String { TableJoinTests.line(stream, t, data) }

    static let app = """
        define stream Add (symbol string, price double);
        define stream Del (symbol string);
        define stream S (symbol string, price double, volume long);
        KEY
        define table StockTable (symbol string, price double);
        from Add select symbol, price insert into StockTable;
        from Del delete StockTable on StockTable.symbol == symbol;
        from S[symbol in StockTable] select symbol, volume insert into Known;
        from S[not (symbol in StockTable)] select symbol, volume insert into Unknown;
        from S[(StockTable.symbol == symbol and StockTable.price > price) in StockTable] select symbol, price insert into Cheaper;
        """

    static let lines = [
        line("Add", 1, #""IBM",100.0"#), line("Add", 2, #""WSO2",50.0"#),
        line("S", 10, #""IBM",90.0,1"#), line("S", 11, #""ORCL",10.0,2"#), line("S", 12, #""WSO2",60.0,3"#),
        line("Del", 20, #""IBM""#),
        line("S", 30, #""IBM",90.0,4"#), line("S", 31, #""WSO2",40.0,5"#),
    ]

    static let expected = [
        "10: IBM 1", "10: IBM 90", "11: ORCL 2", "12: WSO2 3",
        "30: IBM 4", "31: WSO2 5", "31: WSO2 40",
    ]

    @Test(arguments: ["", "@PrimaryKey('symbol')", "@Index('symbol')"])
    func inFiltersAgreeWithAndWithoutKeys(key: String) throws {
        let out = try TimeRateTests.replay(TableInTests.app.replacingOccurrences(of: "KEY", with: key), TableInTests.lines)
        #expect(out == TableInTests.expected)
    }

    @Test(arguments: ["", "@PrimaryKey('symbol')", "@Index('symbol')"])
    func nullNeverMatches(key: String) throws {
        let out = try TimeRateTests.replay(TableInTests.app.replacingOccurrences(of: "KEY", with: key), [
            TableInTests.line("Add", 1, #"null,1.0"#), TableInTests.line("Add", 2, #""A",1.0"#),
            TableInTests.line("S", 3, #"null,0.5,1"#), TableInTests.line("S", 4, #""A",0.5,2"#),
        ])
        #expect(out == ["3: null 1", "4: A 2", "4: A 0.5"])
    }

    @Test func inConditionOverManyRowsMatchesAJoinCount() throws {
        // A scan (no index) and a primary-key lookup agree over a table of hundreds of rows and a
        // batch-wide filter.
        var lines: [String] = []
        for i in 0..<300 { lines.append(TableInTests.line("Add", i, #""K\#(i * 3)",\#(Double(i))"#)) }
        for i in 0..<200 { lines.append(TableInTests.line("S", 1000 + i, #""K\#(i)",-1.0,\#(i)"#)) }
        let base = TableInTests.app
        let plain = try SiddhiApp.compile(source: base.replacingOccurrences(of: "KEY", with: ""), fileName: "a.siddhi")
        let keyed = try SiddhiApp.compile(source: base.replacingOccurrences(of: "KEY", with: "@PrimaryKey('symbol')"), fileName: "b.siddhi")
        var a: [String] = [], b: [String] = []
        try Replay.run(app: plain, lines: lines) { a.append($0) }
        try Replay.run(app: keyed, lines: lines) { b.append($0) }
        #expect(a == b)
        func count(_ stream: String) -> Int { a.filter { $0.contains("\"stream\":\"\(stream)\"") }.count }
        // S carries K0…K199, the table K0, K3, … K897: 67 known, 133 not; every known one is cheaper.
        #expect(count("Known") == 67 && count("Unknown") == 133 && count("Cheaper") == 67)
    }

    @Test func inInSelectAndHaving() throws {
        let out = try TimeRateTests.replay("""
            define stream Add (symbol string);
            define stream S (symbol string, volume long);
            @PrimaryKey('symbol')
            define table T (symbol string);
            from Add insert into T;
            from S select symbol, ifThenElse(symbol in T, 'yes', 'no') as listed insert into Flags;
            from S#window.lengthBatch(2) select symbol, sum(volume) as total group by symbol having symbol in T insert into Listed;
            """, [
            TableInTests.line("Add", 1, #""A""#),
            TableInTests.line("S", 2, #""A",5"#), TableInTests.line("S", 3, #""B",7"#),
        ])
        #expect(out == ["2: A yes", "3: B no", "2: A 5"])
    }

    @Test func inInsidePartitionsAndOnNamedWindows() throws {
        let out = try TimeRateTests.replay("""
            define stream Add (symbol string);
            define stream S (symbol string, volume long);
            define table T (symbol string);
            define window W (symbol string, volume long) length(2);
            from Add insert into T;
            from S insert into W;
            from W select symbol, volume having symbol in T insert into FromWindow;
            partition with (symbol of S)
            begin
              from S[symbol in T]#window.length(2) select symbol, sum(volume) as total insert into PerSymbol;
            end;
            """, [
            TableInTests.line("Add", 1, #""A""#),
            TableInTests.line("S", 2, #""A",5"#), TableInTests.line("S", 3, #""B",7"#), TableInTests.line("S", 4, #""A",1"#),
        ])
        #expect(out == ["2: A 5", "2: A 5", "4: A 1", "4: A 6"])
    }

    @Test func inErrorsSayWhere() {
        do {
            _ = try SiddhiApp.compile(source: """
                define stream S (symbol string, price double);
                define table T (symbol string, price double);
                define table N (a int, b int);
                from S[symbol in Nope] select symbol insert into O1;
                from S[(T.nope == symbol) in T] select symbol insert into O2;
                from S[price in N] select symbol insert into O3;
                from S[(X.symbol == symbol) in T] select symbol insert into O4;
                from S join T on T.symbol == S.symbol and (T.price > 1.0 in T) select S.symbol insert into O5;
                """, fileName: "i.siddhi")
            Issue.record("compiled")
        } catch {
            let text = error.description
            #expect(text.contains("i.siddhi:4:18: error: 'Nope' is not a table"), "\(text)")
            #expect(text.contains("i.siddhi:5:9: error: 'T' has no attribute 'nope'"), "\(text)")
            #expect(text.contains("i.siddhi:6:8: error: 'in N' needs a bool condition"), "\(text)")
            #expect(text.contains("i.siddhi:7:9: error: 'X' is not an input of this query"), "\(text)")
            #expect(text.contains("i.siddhi:8:61: error: 'in T' is supported in filters, select and having of single-stream queries only"), "\(text)")
        }
    }
}
