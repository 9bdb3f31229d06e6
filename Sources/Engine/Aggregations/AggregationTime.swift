/// The time granularities of an incremental aggregation (`every sec ... year`) and the UTC bucket
/// arithmetic behind them, plus the date strings `within` accepts.
///
/// Buckets are aligned to UTC: a second, minute, hour or day bucket starts at a multiple of its
/// length since the epoch; a month or year bucket at 00:00:00 UTC of its first day.
enum AggregationDuration: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case seconds, minutes, hours, days, months, years

    static func < (a: AggregationDuration, b: AggregationDuration) -> Bool { a.rawValue < b.rawValue }

    /// Siddhi's duration words (`sec`, `seconds`, `min`, `hours`, …, case-insensitive), or nil.
    init?(word: String) {
        switch AggregationDate.trim(word).lowercased() {
        case "sec", "secs", "second", "seconds": self = .seconds
        case "min", "mins", "minute", "minutes": self = .minutes
        case "hour", "hours": self = .hours
        case "day", "days": self = .days
        case "month", "months": self = .months
        case "year", "years": self = .years
        default: return nil
        }
    }

    var description: String {
        switch self {
        case .seconds: "seconds"
        case .minutes: "minutes"
        case .hours: "hours"
        case .days: "days"
        case .months: "months"
        case .years: "years"
        }
    }

    /// Length of a fixed-length bucket in ms; nil for months and years.
    var fixedLengthMs: Int64? {
        switch self {
        case .seconds: 1000
        case .minutes: 60_000
        case .hours: 3_600_000
        case .days: 86_400_000
        case .months, .years: nil
        }
    }

    /// The start (ms, UTC) of the bucket holding `timeMs`.
    @inline(__always)
    func bucketStart(_ timeMs: Int64) -> Int64 {
        if let length = fixedLengthMs { return AggregationDuration.floorDiv(timeMs, length) * length }
        let day = AggregationDuration.floorDiv(timeMs, 86_400_000)
        let (y, m, _) = AggregationDuration.civil(fromDays: day)
        let first = self == .months ? AggregationDuration.days(year: y, month: m, day: 1)
                                    : AggregationDuration.days(year: y, month: 1, day: 1)
        return first * 86_400_000
    }

    /// The start of the bucket after the one starting at `startMs` (UTC).
    func nextStart(_ startMs: Int64) -> Int64 {
        if let length = fixedLengthMs { return startMs + length }
        let (y, m, _) = AggregationDuration.civil(fromDays: AggregationDuration.floorDiv(startMs, 86_400_000))
        if self == .years { return AggregationDuration.days(year: y + 1, month: 1, day: 1) * 86_400_000 }
        return (m == 12 ? AggregationDuration.days(year: y + 1, month: 1, day: 1)
                        : AggregationDuration.days(year: y, month: m + 1, day: 1)) * 86_400_000
    }

    @inline(__always)
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        Int64(CivilDate.days(Int(year), Int(month), Int(day)))
    }

    /// The date of a day number (inverse of `days(year:month:day:)`).
    static func civil(fromDays z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let (y, m, d) = CivilDate.fromDays(Int(z0))
        return (Int64(y), Int64(m), Int64(d))
    }
}

/// Why a `within` date string or an `aggregate by` string timestamp was refused.
struct AggregationTimeError: Error, Sendable {
    var message: String
}

/// Siddhi's date strings: `yyyy-MM-dd HH:mm:ss` (UTC) or `yyyy-MM-dd HH:mm:ss +hh:mm`, and the
/// `within` patterns that replace trailing fields with `**`.
enum AggregationDate {
    static let formats = "yyyy-MM-dd HH:mm:ss, optionally followed by a UTC offset such as +05:30"
    static let patternFormats = "'yyyy-**-** **:**:**', 'yyyy-MM-** **:**:**', 'yyyy-MM-dd **:**:**', 'yyyy-MM-dd HH:**:**', 'yyyy-MM-dd HH:mm:**' or 'yyyy-MM-dd HH:mm:ss', each optionally followed by a UTC offset such as +05:30"

    /// `text` without leading and trailing spaces, tabs and line breaks (as Siddhi trims it).
    static func trim(_ text: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(text[first...last])
    }

    /// Splits `text` into the six date/time fields (nil where `**`) and the offset in ms.
    private static func fields(_ text: String) -> (fields: [Int64?], offsetMs: Int64)? {
        let bytes = Array(trim(text).utf8)
        guard bytes.count == 19 || bytes.count == 26 else { return nil }
        // Separators of "yyyy-MM-dd HH:mm:ss".
        for (i, c) in [(4, "-"), (7, "-"), (10, " "), (13, ":"), (16, ":")] where bytes[i] != UInt8(ascii: Unicode.Scalar(c)!) {
            return nil
        }
        func number(_ range: Range<Int>) -> Int64?? {
            let part = bytes[range]
            if part.allSatisfy({ $0 == UInt8(ascii: "*") }) && part.count == 2 { return .some(nil) }
            guard part.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            return .some(part.reduce(Int64(0)) { $0 * 10 + Int64($1 - 48) })
        }
        var out: [Int64?] = []
        for range in [0..<4, 5..<7, 8..<10, 11..<13, 14..<16, 17..<19] {
            guard let v = number(range) else { return nil }
            out.append(v)
        }
        if out[0] == nil { return nil }
        var offsetMs: Int64 = 0
        if bytes.count == 26 {
            guard bytes[19] == UInt8(ascii: " "), bytes[20] == UInt8(ascii: "+") || bytes[20] == UInt8(ascii: "-"),
                  bytes[23] == UInt8(ascii: ":"), let h = number(21..<23) ?? nil, let m = number(24..<26) ?? nil,
                  h <= 18, m <= 59 else { return nil }
            offsetMs = (h * 3600 + m * 60) * 1000 * (bytes[20] == UInt8(ascii: "-") ? -1 : 1)
        }
        return (out, offsetMs)
    }

    /// Epoch ms of local fields at a fixed UTC offset; nil when a field is out of range.
    private static func epochMs(_ f: [Int64], offsetMs: Int64) -> Int64? {
        let (y, mo, d, h, mi, s) = (f[0], f[1], f[2], f[3], f[4], f[5])
        guard (1...12).contains(mo), h <= 23, mi <= 59, s <= 59 else { return nil }
        let monthDays: Int64 = mo == 12 ? 31
            : AggregationDuration.days(year: y, month: mo + 1, day: 1) - AggregationDuration.days(year: y, month: mo, day: 1)
        guard (1...monthDays).contains(d) else { return nil }
        let day = AggregationDuration.days(year: y, month: mo, day: d)
        return ((day * 24 + h) * 60 + mi) * 60_000 + s * 1000 - offsetMs
    }

    /// A full timestamp string (no `**`) as epoch ms.
    static func timestampMs(_ text: String) throws(AggregationTimeError) -> Int64 {
        guard let (f, offset) = fields(text), f.allSatisfy({ $0 != nil }), let ms = epochMs(f.map { $0! }, offsetMs: offset) else {
            throw AggregationTimeError(message: "'\(text)' is not a date of the form \(formats)")
        }
        return ms
    }

    /// A `within 'pattern'` string as the range [start, end) it covers: the unit of its first `**`
    /// field (the whole year, month, day, hour, minute, or the one second when none).
    static func patternRange(_ text: String) throws(AggregationTimeError) -> (startMs: Int64, endMs: Int64) {
        let bad = AggregationTimeError(message: "'\(text)' is not a within pattern; expected \(patternFormats)")
        guard let (f, offset) = fields(text) else { throw bad }
        // Wildcards only at the end: once a field is `**`, every later one is.
        guard let firstWild = f.firstIndex(where: { $0 == nil }) ?? Optional(6), firstWild >= 1,
              f[firstWild...].allSatisfy({ $0 == nil }) else { throw bad }
        // `**` in month or day means the first one; in a time field, zero.
        let filled = f.enumerated().map { i, v in v ?? (i == 1 || i == 2 ? 1 : 0) }
        guard let start = epochMs(filled, offsetMs: offset) else { throw bad }
        let end: Int64
        switch firstWild {
        case 1:  // the year, in the given offset
            end = AggregationDuration.days(year: filled[0] + 1, month: 1, day: 1) * 86_400_000 - offset
        case 2:
            let (y, m) = filled[1] == 12 ? (filled[0] + 1, Int64(1)) : (filled[0], filled[1] + 1)
            end = AggregationDuration.days(year: y, month: m, day: 1) * 86_400_000 - offset
        case 3: end = start + 86_400_000
        case 4: end = start + 3_600_000
        case 5: end = start + 60_000
        default: end = start + 1000
        }
        return (start, end)
    }
}
