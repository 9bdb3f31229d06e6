/// Token kinds of SiddhiQL. Keywords are identifiers here; the parser matches them case-insensitively.
enum TokenKind: Equatable {
    case identifier(String)
    case intLiteral(Int64)      // no suffix: int (long if it does not fit in 32 bits)
    case longLiteral(Int64)     // 5L
    case floatLiteral(Float)    // 5.0f
    case doubleLiteral(Double)  // 5.0, 5.0d, 1e3
    case stringLiteral(String)
    case symbol(String)         // punctuation and operators
    case end
}

struct Token {
    var kind: TokenKind
    var position: SourcePosition

    /// Whether this token is the keyword `word` (case-insensitive, as in Siddhi).
    func isKeyword(_ word: String) -> Bool {
        if case .identifier(let name) = kind { return name.lowercased() == word }
        return false
    }

    func isSymbol(_ symbol: String) -> Bool {
        if case .symbol(let s) = kind { return s == symbol }
        return false
    }
}

/// Splits SiddhiQL source into tokens, skipping whitespace and `--` / `/* */` comments.
struct Lexer {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var column = 1

    init(source: String) { bytes = Array(source.utf8) }

    /// All tokens, ending with `.end`; lexical errors go to `diagnostics`.
    static func tokenize(_ source: String, diagnostics: inout Diagnostics) -> [Token] {
        var lexer = Lexer(source: source)
        var tokens: [Token] = []
        while true {
            let token = lexer.next(&diagnostics)
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private func peek(_ offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    private mutating func advance() {
        if bytes[index] == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if bytes[index] & 0xC0 != 0x80 {  // count characters, not UTF-8 continuation bytes
            column += 1
        }
        index += 1
    }

    private mutating func skipTrivia(_ diagnostics: inout Diagnostics) {
        while let c = peek() {
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                advance()
            } else if c == UInt8(ascii: "-") && peek(1) == UInt8(ascii: "-") {
                while let d = peek(), d != UInt8(ascii: "\n") { advance() }
            } else if c == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "*") {
                let start = SourcePosition(line: line, column: column)
                advance(); advance()
                var closed = false
                while let d = peek() {
                    if d == UInt8(ascii: "*") && peek(1) == UInt8(ascii: "/") {
                        advance(); advance()
                        closed = true
                        break
                    }
                    advance()
                }
                if !closed { diagnostics.error(start, "unterminated comment") }
            } else {
                return
            }
        }
    }

    private static func isIdentifierStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "_")
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    private mutating func next(_ diagnostics: inout Diagnostics) -> Token {
        skipTrivia(&diagnostics)
        let position = SourcePosition(line: line, column: column)
        guard let c = peek() else { return Token(kind: .end, position: position) }

        if Lexer.isIdentifierStart(c) {
            let start = index
            while let d = peek(), Lexer.isIdentifierStart(d) || Lexer.isDigit(d) { advance() }
            return Token(kind: .identifier(String(decoding: bytes[start..<index], as: UTF8.self)), position: position)
        }
        if c == UInt8(ascii: "`") {  // quoted identifier
            advance()
            let start = index
            while let d = peek(), d != UInt8(ascii: "`") { advance() }
            let name = String(decoding: bytes[start..<index], as: UTF8.self)
            if peek() != nil { advance() } else { diagnostics.error(position, "unterminated quoted identifier") }
            return Token(kind: .identifier(name), position: position)
        }
        if Lexer.isDigit(c) || (c == UInt8(ascii: ".") && peek(1).map(Lexer.isDigit) == true) {
            return number(position, &diagnostics)
        }
        if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
            return string(quote: c, position, &diagnostics)
        }
        let two = peek(1).map { String(decoding: [c, $0], as: UTF8.self) }
        if let two, ["==", "!=", "<=", ">=", "->", "<>"].contains(two) {
            advance(); advance()
            return Token(kind: .symbol(two == "<>" ? "!=" : two), position: position)
        }
        let one = String(decoding: [c], as: UTF8.self)
        if "@:()[],;.=<>+-*/%#{}!?".contains(one) {
            advance()
            return Token(kind: .symbol(one), position: position)
        }
        advance()
        diagnostics.error(position, "unexpected character '\(one)'")
        return next(&diagnostics)
    }

    private mutating func number(_ position: SourcePosition, _ diagnostics: inout Diagnostics) -> Token {
        let start = index
        var isReal = false
        while let d = peek(), Lexer.isDigit(d) { advance() }
        if peek() == UInt8(ascii: "."), peek(1).map(Lexer.isDigit) == true || !(peek(1).map(Lexer.isIdentifierStart) ?? false) {
            isReal = true
            advance()
            while let d = peek(), Lexer.isDigit(d) { advance() }
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            let sign = peek(1)
            if sign.map(Lexer.isDigit) == true
                || ((sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-")) && peek(2).map(Lexer.isDigit) == true) {
                isReal = true
                advance()
                if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { advance() }
                while let d = peek(), Lexer.isDigit(d) { advance() }
            }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        let suffix = peek().map { Character(UnicodeScalar($0)).lowercased() }
        switch suffix {
        case "l" where !isReal:
            advance()
            guard let v = Int64(text) else {
                diagnostics.error(position, "long literal \(text)L out of range")
                return Token(kind: .longLiteral(0), position: position)
            }
            return Token(kind: .longLiteral(v), position: position)
        case "f":
            advance()
            return Token(kind: .floatLiteral(Float(text) ?? 0), position: position)
        case "d":
            advance()
            return Token(kind: .doubleLiteral(Double(text) ?? 0), position: position)
        default:
            if isReal { return Token(kind: .doubleLiteral(Double(text) ?? 0), position: position) }
            guard let v = Int64(text) else {
                diagnostics.error(position, "integer literal \(text) out of range")
                return Token(kind: .intLiteral(0), position: position)
            }
            return Token(kind: .intLiteral(v), position: position)
        }
    }

    private mutating func string(quote: UInt8, _ position: SourcePosition, _ diagnostics: inout Diagnostics) -> Token {
        // Triple-quoted strings ("""...""") hold anything up to the closing triple quote.
        if quote == UInt8(ascii: "\"") && peek(1) == quote && peek(2) == quote {
            advance(); advance(); advance()
            let start = index
            while peek() != nil && !(peek() == quote && peek(1) == quote && peek(2) == quote) { advance() }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if peek() == nil {
                diagnostics.error(position, "unterminated string")
            } else {
                advance(); advance(); advance()
            }
            return Token(kind: .stringLiteral(text), position: position)
        }
        // Like Siddhi's lexer: no escape sequences (a backslash is itself) and no line breaks.
        advance()
        let start = index
        while let d = peek(), d != quote, d != UInt8(ascii: "\n") { advance() }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if peek() == quote {
            advance()
        } else {
            diagnostics.error(position, "unterminated string")
        }
        return Token(kind: .stringLiteral(text), position: position)
    }
}
