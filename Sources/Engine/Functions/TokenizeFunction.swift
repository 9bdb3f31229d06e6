import Foundation

/// `#str:tokenize(text, regex[, distinct])` (siddhi-execution-string's stream processor): each
/// event becomes one event per token of `text` split by `regex` (Java `String.split`: empty tokens
/// between separators kept, trailing ones dropped), carrying the event's attributes plus `token`.
struct TokenizePlan: Sendable {
    /// The stream's own schema; the query's input is this plus `token`.
    let source: StreamSchema
    /// The text to split, over `source`.
    let value: TypedExpression
    let regex: String
    /// Each token once per event, in first-seen order.
    let distinct: Bool

    /// The name of the attribute tokenize adds.
    static let attribute = "token"
}

extension Compiler {
    /// Checks `#str:tokenize(...)` on `input`; returns the plan (the query then reads `input` + token).
    mutating func checkTokenize(_ arguments: [Expression], _ position: SourcePosition, input: StreamSchema) -> TokenizePlan? {
        guard (2...3).contains(arguments.count) else {
            diagnostics.error(position, "str:tokenize() takes 2 to 3 arguments, got \(arguments.count)")
            return nil
        }
        guard let value = check(arguments[0], input: input) else { return nil }
        if let t = value.type, t != .string {
            diagnostics.error(arguments[0].position, "str:tokenize(): argument 1 must be a string, got \(t)")
            return nil
        }
        guard case .literal(.string(let regex), _) = arguments[1] else {
            diagnostics.error(arguments[1].position, "str:tokenize(): the regex must be a constant string")
            return nil
        }
        if let e = JavaRegex.checkConstant(.string(regex)) {
            diagnostics.error(arguments[1].position, "str:tokenize(): \(e)")
            return nil
        }
        var distinct = false
        if arguments.count == 3 {
            guard case .literal(.bool(let d), _) = arguments[2] else {
                diagnostics.error(arguments[2].position, "str:tokenize(): distinct must be a constant bool")
                return nil
            }
            distinct = d
        }
        if input.index(of: TokenizePlan.attribute) != nil {
            diagnostics.error(position, "str:tokenize() adds attribute 'token', which stream '\(input.name)' already has")
            return nil
        }
        return TokenizePlan(source: input, value: value, regex: regex, distinct: distinct)
    }
}

/// Runs a `TokenizePlan` over batches: builds the expanded batch column by column.
final class Tokenizer {
    private let plan: TokenizePlan
    private let value: VectorProgram
    private let regex: NSRegularExpression?
    /// The separator when the regex is one literal byte (Java's `split` fast path too).
    private let separator: UInt8?
    private var output: EventBatch
    /// Per output row: its source row.
    private var rows: [Int32] = []
    /// Token slots relative to `tokenBytes`.
    private var tokenSlots: [UInt64] = []
    private var tokenBytes: [UInt8] = []

    init(_ plan: TokenizePlan, expanded: StreamSchema) {
        self.plan = plan
        value = VectorProgram(plan.value)
        let bytes = Array(plan.regex.utf8)
        let metacharacters = Set(".$|()[{^?*+\\".utf8)
        if bytes.count == 1 && !metacharacters.contains(bytes[0]) {
            separator = bytes[0]
        } else if bytes.count == 2 && bytes[0] == UInt8(ascii: "\\"), !(bytes[1] >= 0x30 && bytes[1] <= 0x39),
                  !(bytes[1] | 0x20 >= 0x61 && bytes[1] | 0x20 <= 0x7A) {
            separator = bytes[1]
        } else {
            separator = nil
        }
        regex = separator == nil ? JavaRegex().compiled(plan.regex) : nil
        output = EventBatch(schema: expanded)
    }

    /// `batch` (of the source stream) expanded to one event per token. Valid until the next call.
    func expand(_ batch: EventBatch, clockMs: Int64?) -> EventBatch {
        let n = batch.count
        rows.removeAll(keepingCapacity: true)
        tokenSlots.removeAll(keepingCapacity: true)
        tokenBytes.removeAll(keepingCapacity: true)
        if n > 0 {
            if value.usesClock { value.clockMs = clockMs }
            value.evaluate(batch)
            let nulls = value.resultNulls
            for i in 0..<n where nulls == nil || nulls![i] == 0 {
                value.withResultBytes(i, batch: batch) { text in
                    addTokens(UnsafeBufferPointer(start: text.baseAddress?.assumingMemoryBound(to: UInt8.self), count: text.count),
                              row: Int32(i))
                }
            }
        }
        let total = rows.count
        output.reset(count: total)
        let base = batch.stringBytes.count
        output.stringBytes = batch.stringBytes
        output.stringBytes.append(contentsOf: tokenBytes)
        precondition(output.stringBytes.count < 1 << 31, "tokens over 2 GiB")
        rows.withUnsafeBufferPointer { r in
            batch.timestamps.withUnsafeBufferPointer { src in
                output.timestamps.withUnsafeMutableBufferPointer { dst in for k in 0..<total { dst[k] = src[Int(r[k])] } }
            }
            for c in 0..<plan.source.attributes.count {
                batch.columns[c].withUnsafeBufferPointer { src in
                    output.columns[c].withUnsafeMutableBufferPointer { dst in for k in 0..<total { dst[k] = src[Int(r[k])] } }
                }
                if !batch.nulls[c].isEmpty {
                    output.nulls[c] = batch.nulls[c].withUnsafeBufferPointer { src in (0..<total).map { src[Int(r[$0])] } }
                }
            }
        }
        let t = plan.source.attributes.count
        output.columns[t].withUnsafeMutableBufferPointer { dst in
            for k in 0..<total { dst[k] = tokenSlots[k] &+ UInt64(base) << 32 }
        }
        return output
    }

    private func addTokens(_ text: UnsafeBufferPointer<UInt8>, row: Int32) {
        let first = tokenSlots.count
        func add(_ range: Range<Int>) {
            if plan.distinct {
                for k in first..<tokenSlots.count {
                    let slot = tokenSlots[k]
                    let start = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
                    if length == range.count && tokenBytes[start..<start + length].elementsEqual(text[range]) { return }
                }
            }
            tokenSlots.append(UInt64(tokenBytes.count) << 32 | UInt64(range.count))
            tokenBytes.append(contentsOf: text[range])
            rows.append(row)
        }
        if let separator {
            var pieces: [Range<Int>] = []
            var start = 0
            for (k, b) in text.enumerated() where b == separator {
                pieces.append(start..<k)
                start = k + 1
            }
            pieces.append(start..<text.count)
            // Java drops trailing empty strings (all of them when the text is only separators) unless nothing else is there.
            if pieces.count > 1 { while let last = pieces.last, last.isEmpty { pieces.removeLast() } }
            for p in pieces { add(p) }
        } else if let regex {
            let s = String(decoding: text, as: UTF8.self)
            for token in JavaRegex.split(regex, s) {
                let start = tokenBytes.count
                tokenBytes.append(contentsOf: token.utf8)
                let bytes = Array(tokenBytes[start...])
                tokenBytes.removeLast(bytes.count)
                bytes.withUnsafeBufferPointer { b in
                    if plan.distinct {
                        for k in first..<tokenSlots.count {
                            let slot = tokenSlots[k]
                            let st = Int(slot >> 32), length = Int(slot & 0xFFFF_FFFF)
                            if tokenBytes[st..<st + length].elementsEqual(b) { return }
                        }
                    }
                    tokenSlots.append(UInt64(tokenBytes.count) << 32 | UInt64(b.count))
                    tokenBytes.append(contentsOf: b)
                    rows.append(row)
                }
            }
        }
    }
}
