@testable import Engine
import Testing

/// Tokens of `source` without the final `.end`, failing the test on lexical errors.
private func tokens(_ source: String) -> [TokenKind] {
    var diagnostics = Diagnostics(fileName: "l.siddhi")
    let kinds = Lexer.tokenize(source, diagnostics: &diagnostics).map(\.kind).dropLast()
    #expect(diagnostics.errors.isEmpty, "\(diagnostics.errors)")
    return Array(kinds)
}

/// Compile errors of `source` as `file:line:column: error: message` lines (empty when it compiles).
func compileErrors(_ source: String) -> [String] {
    do {
        _ = try SiddhiApp.compile(source: source, fileName: "e.siddhi")
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

@Suite struct LexerTests {
    @Test func numericLiteralsKeepTheirSiddhiTypes() {
        #expect(tokens("5 5L 5l 5.0f 2.5F 5.0 5.0d 1e3 .5 7D") == [
            .intLiteral(5), .longLiteral(5), .longLiteral(5), .floatLiteral(5), .floatLiteral(2.5),
            .doubleLiteral(5), .doubleLiteral(5), .doubleLiteral(1000), .doubleLiteral(0.5), .doubleLiteral(7),
        ])
    }

    @Test func stringsInBothQuotesTripleQuotedAndWithoutEscapes() {
        #expect(tokens(##"'it' "say \" 'a\nb'"##) == [.stringLiteral("it"), .stringLiteral(#"say \"#), .stringLiteral(#"a\nb"#)])
        #expect(tokens("\"\"\"a 'b' \"c\"\nd\"\"\"") == [.stringLiteral("a 'b' \"c\"\nd")])
    }

    @Test func commentsAreSkipped() {
        #expect(tokens("a -- to the end\n/* block\n -- not a comment end */ b") == [.identifier("a"), .identifier("b")])
    }

    @Test func positionsAreOneBasedLineAndColumn() {
        var diagnostics = Diagnostics(fileName: "l.siddhi")
        let all = Lexer.tokenize("define\n  stream X;", diagnostics: &diagnostics)
        #expect(all.map(\.position) == [.init(line: 1, column: 1), .init(line: 2, column: 3), .init(line: 2, column: 10),
                                        .init(line: 2, column: 11), .init(line: 2, column: 12)])
    }

    @Test func lexicalErrorsAreReportedWithPosition() {
        #expect(compileErrors("define stream S (a int);\nfrom S[a > 1 ^ 2] select a insert into T;")
                    .contains("e.siddhi:2:14: error: unexpected character '^'"))
        #expect(compileErrors("define stream S (a string);\nfrom S[a == 'x] select a insert into T;")
                    .first == "e.siddhi:2:13: error: unterminated string")
    }
}

@Suite struct ParserTests {
    @Test func keywordsAreCaseInsensitiveAndSelectIsOptional() throws {
        let app = try SiddhiApp.compile(source: """
            @APP:NAME('Upper') DeFiNe StReAm S (a INT, b Bool);
            FROM S[b] INSERT CURRENT EVENTS INTO T;
            from S insert into U
            """, fileName: "k.siddhi")
        #expect(app.name == "Upper")
        #expect(app.stream(named: "T")?.attributes == app.stream(named: "S")?.attributes)
        #expect(app.stream(named: "U")?.attributes.count == 2)
    }

    @Test func appAnnotationsAndPlayback() throws {
        let app = try SiddhiApp.compile(source: """
            @app:name("Lower") @app:description("d") @App:playback
            define stream S (a int);
            """, fileName: "a.siddhi")
        #expect(app.name == "Lower" && app.description == "d" && app.isPlayback)
        #expect(try !SiddhiApp.compile(source: "define stream S (a int);", fileName: "b.siddhi").isPlayback)
    }

    @Test func sourceAndSinkAnnotationsWithNestedMapDottedKeysAndPositionalValues() throws {
        let app = try SiddhiApp.compile(source: """
            @source(type='TCP', port='9892', context='StockStream', @map(type='Binary', 'x'))
            @sink(type='http', receiver.url='http://h:8080/x', @map(type='json', enclosing.element='$.e'))
            @sink(type='log', prefix='Out')
            define stream StockStream (symbol string, price double);
            """, fileName: "t.siddhi")
        let source = try #require(app.sources.first)
        #expect(source.type == "tcp" && source.streamName == "StockStream")
        #expect(source.options == ["type": "TCP", "port": "9892", "context": "StockStream"])
        #expect(source.map?.type == "binary")
        #expect(source.position == SourcePosition(line: 1, column: 1))
        #expect(source.schema === app.stream(named: "StockStream"))
        #expect(app.sinks.map(\.type) == ["http", "log"])
        #expect(app.sinks[0].option("receiver.url") == "http://h:8080/x")
        #expect(app.sinks[0].map?.options["enclosing.element"] == "$.e")
        #expect(app.sinks[1].map == nil && app.sinks[1].option("PREFIX") == "Out")
    }

    @Test func queryNamesComeFromInfoOrPosition() throws {
        let app = try SiddhiApp.compile(source: """
            define stream S (a int);
            @info(name='first') from S select a insert into T;
            from S select a insert into U;
            """, fileName: "q.siddhi")
        #expect(app.queryNames == ["first", "query2"])
    }

    /// Siddhi's grammar: `not` binds tightest, then * / %, + -, relational, equality, and, or.
    @Test func operatorPrecedenceFollowsSiddhi() throws {
        let rows = try run("""
            define stream S (a int, b bool, c bool);
            from S select 2 + 3 * 4 as p1, 10 - 4 - 3 as p2, 20 / 2 / 5 as p3, 7 % 4 * 2 as p4,
                          a > 1 == true as p5, not b == c as p6, b or c and false as p7, (2 + 3) * 4 as p8,
                          not b and c as p9
            insert into Out;
            """, [[.int(2), .bool(true), .bool(false)]])
        #expect(rows == [[.int(14), .int(3), .int(2), .int(6), .bool(true), .bool(true), .bool(true), .int(20), .bool(false)]])
        #expect(compileErrors("define stream S (a int);\nfrom S[not a > 5] select a insert into T;")
                    == ["e.siddhi:2:8: error: 'not' needs a bool, got int"])
    }

    @Test func negativeLiteralsAndMinimumInt() throws {
        let rows = try run("""
            define stream S (a int);
            from S select -2147483648 as m, -5L as l, -a as n, 3 - -2 as d insert into Out;
            """, [[.int(4)]])
        #expect(rows == [[.int(Int32.min), .long(-5), .int(-4), .int(5)]])
    }
}

@Suite struct ErrorReportingTests {
    @Test func descriptionFormat() {
        let error = SiddhiError(fileName: "x.siddhi", position: .init(line: 3, column: 7), message: "boom")
        #expect(error.description == "x.siddhi:3:7: error: boom")
    }

    @Test func everySyntaxAndSemanticErrorOfOneAppIsReported() {
        let errors = compileErrors("""
            @App:name('Bad')
            define stream S (symbol string, price double, ok bool);
            define stream S (x int);
            from S[price > 10 and symbol] select symbol insert into A;
            from S select price as p, price as p insert into B
            from S[ok] select foo(price) as f insert into C;
            define stream D (a int);
            from S select price insert into D;
            from S[(price > 1] select price insert into E;
            from S select S.volume as v, Other.price as q insert into F;
            @info(name='dup') from S select price insert into G;
            @info(name='dup') from S select price insert into H;
            define stream W (o objekt);
            """)
        #expect(errors == [
            "e.siddhi:3:15: error: stream 'S' is already defined",
            "e.siddhi:4:19: error: 'and' needs bool operands, got string",
            "e.siddhi:6:1: error: expected ';' but found 'from'",
            "e.siddhi:8:33: error: query output (double) does not match stream 'D' (int)",
            "e.siddhi:9:18: error: expected ')' but found ']'",
            "e.siddhi:10:15: error: stream 'S' has no attribute 'volume'",
            "e.siddhi:10:30: error: 'Other' is not the input stream of this query ('S')",
            "e.siddhi:12:1: error: query name 'dup' is already used",
            "e.siddhi:13:20: error: unknown attribute type 'objekt' (expected int, long, float, double, string, bool or object)",
        ])
    }

    @Test func duplicateSelectNamesAndMissingAliases() {
        #expect(compileErrors("define stream S (a int);\nfrom S select a, a, a + 1 insert into T;") == [
            "e.siddhi:2:18: error: output attribute 'a' is selected twice",
            "e.siddhi:2:21: error: select expression needs a name: add 'as <name>'",
        ])
    }

    @Test func annotationProblems() {
        #expect(compileErrors("@source(port='1')\ndefine stream S (a int);")
                    == ["e.siddhi:1:1: error: @source needs a type, e.g. type='tcp'"])
        #expect(compileErrors("@sink(type='log', @map(prefix='x'))\ndefine stream S (a int);")
                    == ["e.siddhi:1:19: error: @map needs a type, e.g. type='binary'"])
        #expect(compileErrors("@App:name('')\ndefine stream S (a int);")
                    == ["e.siddhi:1:1: error: @App:name needs a non-empty name"])
    }
}
