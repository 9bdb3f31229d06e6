@testable import Engine
import Testing

@Suite struct CompilerTests {
    @Test func parsesAnnotationsCommentsAndCaseInsensitiveKeywords() throws {
        let app = try SiddhiApp.compile(source: """
            @App:name("Trades") @App:description('demo')
            -- a comment
            /* a block
               comment */
            @source(type='tcp', port='9000', context='ctx', @map(type='binary'))
            @sink(type='log', prefix='P')
            DEFINE STREAM S (symbol String, price DOUBLE, volume long, ok bool, f float, i int);
            @info(name='q1')
            FROM S[Price > 10 AND ok == true] SELECT symbol, price * 2 AS doubled INSERT INTO T;
            """.replacingOccurrences(of: "Price", with: "price"), fileName: "t.siddhi")
        #expect(app.name == "Trades")
        #expect(app.description == "demo")
        #expect(app.streams.map(\.name) == ["S", "T"])
        #expect(app.stream(named: "T")?.attributes == [Attribute(name: "symbol", type: .string), Attribute(name: "doubled", type: .double)])
        #expect(app.queryNames == ["q1"])
        let source = try #require(app.sources.first)
        #expect(source.type == "tcp" && source.option("port") == "9000" && source.option("context") == "ctx" && source.mapType == "binary")
        #expect(app.sinks.first?.option("prefix") == "P")
    }

    @Test func appNameDefaultsToFileName() throws {
        let app = try SiddhiApp.compile(source: "define stream S (a int);", fileName: "/x/y/MyApp.siddhi")
        #expect(app.name == "MyApp")
    }

    @Test func reportsEveryErrorWithLineAndColumn() {
        let source = """
            @App:name('Bad')
            define stream S (symbol string, price double);
            define stream S (x int);
            from S[price > 'x'] select symbol insert into A;
            from Missing select a insert into B;
            from S select nope, price + symbol as p insert into C;
            from S[price > 1 select symbol insert into D;
            define stream E (a text);
            """
        do {
            _ = try SiddhiApp.compile(source: source, fileName: "bad.siddhi")
            Issue.record("compiled a bad app")
        } catch {
            let lines = error.errors.map(\.description)
            #expect(lines.contains("bad.siddhi:3:15: error: stream 'S' is already defined"))
            #expect(lines.contains("bad.siddhi:4:14: error: cannot compare double with string"))
            #expect(lines.contains("bad.siddhi:5:6: error: stream 'Missing' is not defined"))
            #expect(lines.contains("bad.siddhi:6:15: error: stream 'S' has no attribute 'nope'"))
            #expect(lines.contains("bad.siddhi:6:27: error: '+' needs numeric operands, got string"))
            #expect(lines.contains { $0.hasPrefix("bad.siddhi:7:18: error: expected ']'") })
            #expect(lines.contains("bad.siddhi:8:20: error: unknown attribute type 'text' (expected int, long, float, double, string, bool or object)"))
            #expect(error.errors.count == 7, "\(lines)")
            // Sorted by position.
            #expect(error.errors.map(\.position.line) == error.errors.map(\.position.line).sorted())
        }
    }

    @Test func outputMustMatchADefinedTarget() {
        #expect(throws: SiddhiCompileErrors.self) {
            try SiddhiApp.compile(source: """
                define stream S (a int, b string);
                define stream T (a string);
                from S select a insert into T;
                """, fileName: "m.siddhi")
        }
    }

    @Test func unsupportedFeaturesSayNotYet() {
        do {
            _ = try SiddhiApp.compile(source: """
                define stream S (a int);
                from S#window.hopping(5) select a insert into T;
                from S select str:nope(a) as u insert into U;
                """, fileName: "w.siddhi")
            Issue.record("accepted a window")
        } catch {
            #expect(error.description.contains("w.siddhi:2:7: error: window 'hopping' is not supported yet"))
            #expect(error.description.contains("w.siddhi:3:15: error: unknown function 'str:nope'; docs/siddhiql.md lists the supported extension functions"), "\(error)")
        }
    }

    @Test func queriesMayReadStreamsDefinedLaterByInsertInto() throws {
        let app = try SiddhiApp.compile(source: """
            define stream S (a int);
            from Mid select a * 2 as b insert into Out;
            from S select a insert into Mid;
            """, fileName: "c.siddhi")
        #expect(app.stream(named: "Out")?.attributes.first?.type == .int)
    }
}
