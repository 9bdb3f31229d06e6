@testable import Engine
import Testing

/// `#str:tokenize(text, regex[, distinct])`: one event per token, attributes plus `token`.
@Suite struct TokenizeTests {
    @Test func oneEventPerTokenLikeJavaSplit() throws {
        let rows = try run("""
            define stream S (id int, csv string);
            from S#str:tokenize(csv, ',')[token != 'skip']
            select id, token, str:length(token) as len
            insert into Out;
            """, [
                [.int(1), .string("a,b,c")],
                [.int(2), .string("x,,y,,")],
                [.int(3), .null],
                [.int(4), .string("")],
                [.int(5), .string("skip,keep")],
            ])
        // Trailing empty tokens are dropped, inner ones kept; a null text gives no event (Siddhi throws).
        #expect(rows == [
            [.int(1), .string("a"), .int(1)], [.int(1), .string("b"), .int(1)], [.int(1), .string("c"), .int(1)],
            [.int(2), .string("x"), .int(1)], [.int(2), .string(""), .int(0)], [.int(2), .string("y"), .int(1)],
            [.int(4), .string(""), .int(0)],
            [.int(5), .string("keep"), .int(4)],
        ])
    }

    @Test func regexDistinctAndWindow() throws {
        let rows = try run("""
            define stream S (id int, text string);
            from S#str:tokenize(text, '\\s*[;|]\\s*', true)#window.length(2)
            select id, token
            insert into Out;
            """, [
                [.int(1), .string("p ; q|p")],
                [.int(2), .string("r")],
            ])
        #expect(rows == [
            [.int(1), .string("p")], [.int(1), .string("q")], [.int(2), .string("r")],
        ])
    }

    @Test func placementErrors() {
        #expect(compileErrors("""
            define stream S (id int, s string);
            from S[id > 0]#str:tokenize(s, ',') select token insert into T;
            from S#str:tokenize(id, ',') select token insert into U;
            partition with (id of S) begin from S#str:tokenize(s, ',') select token insert into V; end;
            """) == [
                "e.siddhi:2:15: error: #str:tokenize must be the query's first stream handler (before filters and windows)",
                "e.siddhi:3:21: error: str:tokenize(): argument 1 must be a string, got int",
                "e.siddhi:4:37: error: #str:tokenize inside a partition is not supported yet",
            ])
    }
}
