import Foundation

/// Java `SimpleDateFormat` / `FastDateFormat` patterns (`yyyy-MM-dd HH:mm:ss.SSS`, `dd/MMM/yy`,
/// `EEEE`, `Z`, …) with an `en_US` locale: formatting epoch milliseconds into UTF-8 bytes and
/// parsing them back, without Foundation's date formatters (no per-event objects).
struct JavaDateFormat: Sendable, Equatable {
    /// A pattern letter repeated `count` times, or (letter 0) literal text `literals[start..<end]`.
    /// Plain values, so that formatting touches no reference counts.
    struct Field: Sendable, Equatable {
        var letter: UInt8
        var count: Int
        var start = 0, end = 0
    }

    private(set) var fields: [Field] = []
    /// The bytes of every literal field.
    private(set) var literals: [UInt8] = []
    let pattern: String
    /// Whether every field is a number or literal text and the longest text fits 128 bytes: then
    /// `format` writes into a stack buffer and appends once.
    private(set) var isNumeric = false

    /// The letters this implementation knows.
    private static let letters = Set("GyYMLwWDdFEuaHkKhmsSzZX".utf8)

    /// nil (with `error` set) for a pattern with a letter Java does not know or an open quote.
    init?(_ pattern: String, error: inout String?) {
        self.pattern = pattern
        var fields: [Field] = []
        var literals: [UInt8] = []
        let bytes = Array(pattern.utf8)
        var i = 0
        var literal: [UInt8] = []
        func flush() {
            guard !literal.isEmpty else { return }
            fields.append(Field(letter: 0, count: 0, start: literals.count, end: literals.count + literal.count))
            literals.append(contentsOf: literal)
            literal = []
        }
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "'") {
                if i + 1 < bytes.count && bytes[i + 1] == b {
                    literal.append(b)
                    i += 2
                    continue
                }
                i += 1
                while true {
                    guard i < bytes.count else {
                        error = "unterminated quote in date pattern '\(pattern)'"
                        return nil
                    }
                    if bytes[i] == UInt8(ascii: "'") {
                        if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "'") {
                            literal.append(bytes[i])
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    literal.append(bytes[i])
                    i += 1
                }
            } else if (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) {
                guard JavaDateFormat.letters.contains(b) else {
                    error = "date pattern '\(pattern)' has the unknown letter '\(Character(Unicode.Scalar(b)))'"
                    return nil
                }
                var count = 1
                while i + count < bytes.count && bytes[i + count] == b { count += 1 }
                flush()
                fields.append(Field(letter: b == UInt8(ascii: "L") ? UInt8(ascii: "M") : b, count: count))
                i += count
            } else {
                literal.append(b)
                i += 1
            }
        }
        flush()
        self.fields = fields
        self.literals = literals
        let numericLetters = Set("yMdHmsSkKhD".utf8)
        isNumeric = fields.allSatisfy { $0.letter == 0 || (numericLetters.contains($0.letter) && !($0.letter == UInt8(ascii: "M") && $0.count >= 3)) }
            && literals.count + fields.reduce(0) { $0 + max($1.count, 11) } <= 128
    }

    /// A pattern known to be valid.
    init(known pattern: String) {
        var error: String?
        self = JavaDateFormat(pattern, error: &error)!
    }

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                             "October", "November", "December"].map { Array($0.utf8) }
    static let dayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"].map { Array($0.utf8) }

    // MARK: Formatting

    /// Appends `millis` (epoch milliseconds) as seen in `zone`.
    func format(_ millis: Int64, zone: JavaZone, into out: inout [UInt8]) {
        let offset = zone.offsetSeconds(utcMillis: millis)
        let local = millis + Int64(offset) * 1000
        let days = Int(local.floorDiv(86_400_000))
        let msOfDay = Int(local - Int64(days) * 86_400_000)
        let (y, m, d) = CivilDate.fromDays(days)
        let hour = msOfDay / 3_600_000, minute = msOfDay / 60_000 % 60, second = msOfDay / 1000 % 60, ms = msOfDay % 1000
        if isNumeric {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { buffer in
                let p = buffer.baseAddress!
                var k = 0
                /// `v` (not negative) in at least `width` digits.
                func put(_ v: Int, _ width: Int) {
                    var digits = 1, limit = 10
                    while limit <= v && digits < 19 { digits += 1; limit &*= 10 }
                    let w = max(digits, width)
                    var x = v
                    for j in stride(from: k + w - 1, through: k, by: -1) {
                        p[j] = UInt8(ascii: "0") + UInt8(x % 10)
                        x /= 10
                    }
                    k += w
                }
                literals.withUnsafeBufferPointer { lit in
                    for field in fields {
                        let count = field.count
                        switch field.letter {
                        case 0:
                            for j in field.start..<field.end { p[k] = lit[j]; k += 1 }
                        case UInt8(ascii: "y"):
                            let year = y > 0 ? y : 1 - y
                            if count == 2 { put(year % 100, 2) } else { put(year, count) }
                        case UInt8(ascii: "M"): put(m, count)
                        case UInt8(ascii: "d"): put(d, count)
                        case UInt8(ascii: "D"): put(days - CivilDate.days(y, 1, 1) + 1, count)
                        case UInt8(ascii: "H"): put(hour, count)
                        case UInt8(ascii: "k"): put(hour == 0 ? 24 : hour, count)
                        case UInt8(ascii: "K"): put(hour % 12, count)
                        case UInt8(ascii: "h"): put(hour % 12 == 0 ? 12 : hour % 12, count)
                        case UInt8(ascii: "m"): put(minute, count)
                        case UInt8(ascii: "s"): put(second, count)
                        default: put(ms, count)  // S
                        }
                    }
                }
                out.append(contentsOf: UnsafeBufferPointer(start: p, count: k))
            }
            return
        }
        let dow = CivilDate.dayOfWeek(days)  // 0 = Sunday
        for field in fields {
            let count = field.count
            if field.letter == 0 {
                literals.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[field.start..<field.end])) }
                continue
            }
            do {
                switch field.letter {
                case UInt8(ascii: "G"): out.append(contentsOf: y > 0 ? "AD".utf8 : "BC".utf8)
                case UInt8(ascii: "y"), UInt8(ascii: "Y"):
                    let year = y > 0 ? y : 1 - y
                    if count == 2 { appendPadded(year % 100, width: 2, to: &out) } else { appendPadded(year, width: count, to: &out) }
                case UInt8(ascii: "M"):
                    if count >= 4 {
                        out.append(contentsOf: JavaDateFormat.monthNames[m - 1])
                    } else if count == 3 {
                        out.append(contentsOf: JavaDateFormat.monthNames[m - 1].prefix(3))
                    } else {
                        appendPadded(m, width: count, to: &out)
                    }
                case UInt8(ascii: "d"): appendPadded(d, width: count, to: &out)
                case UInt8(ascii: "D"): appendPadded(days - CivilDate.days(y, 1, 1) + 1, width: count, to: &out)
                case UInt8(ascii: "F"): appendPadded((d - 1) / 7 + 1, width: count, to: &out)
                case UInt8(ascii: "w"): appendPadded(CivilDate.weekOfYear(days), width: count, to: &out)
                case UInt8(ascii: "W"):
                    let firstDow = CivilDate.dayOfWeek(days - d + 1)
                    appendPadded((d - 1 + firstDow) / 7 + 1, width: count, to: &out)
                case UInt8(ascii: "E"):
                    out.append(contentsOf: count >= 4 ? JavaDateFormat.dayNames[dow] : Array(JavaDateFormat.dayNames[dow].prefix(3)))
                case UInt8(ascii: "u"): appendPadded(dow == 0 ? 7 : dow, width: count, to: &out)
                case UInt8(ascii: "a"): out.append(contentsOf: hour < 12 ? "AM".utf8 : "PM".utf8)
                case UInt8(ascii: "H"): appendPadded(hour, width: count, to: &out)
                case UInt8(ascii: "k"): appendPadded(hour == 0 ? 24 : hour, width: count, to: &out)
                case UInt8(ascii: "K"): appendPadded(hour % 12, width: count, to: &out)
                case UInt8(ascii: "h"): appendPadded(hour % 12 == 0 ? 12 : hour % 12, width: count, to: &out)
                case UInt8(ascii: "m"): appendPadded(minute, width: count, to: &out)
                case UInt8(ascii: "s"): appendPadded(second, width: count, to: &out)
                case UInt8(ascii: "S"): appendPadded(ms, width: count, to: &out)
                case UInt8(ascii: "z"): out.append(contentsOf: zone.shortName(offsetSeconds: offset).utf8)
                case UInt8(ascii: "Z"): JavaDateFormat.appendOffset(offset, colon: false, minutes: true, z: false, into: &out)
                default:  // X
                    JavaDateFormat.appendOffset(offset, colon: count >= 3, minutes: count >= 2 || offset % 3600 != 0, z: true, into: &out)
                }
            }
        }
    }

    /// `+0530`, `+05:30`, `+05` or `Z`.
    static func appendOffset(_ seconds: Int, colon: Bool, minutes: Bool, z: Bool, into out: inout [UInt8]) {
        if z && seconds == 0 {
            out.append(UInt8(ascii: "Z"))
            return
        }
        out.append(seconds < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        let a = abs(seconds) / 60
        appendPadded(a / 60, width: 2, to: &out)
        guard minutes else { return }
        if colon { out.append(UInt8(ascii: ":")) }
        appendPadded(a % 60, width: 2, to: &out)
    }

    // MARK: Parsing

    /// Epoch milliseconds of `text` read with this pattern in `zone` (a zone in the text wins);
    /// nil when the text does not fit. Text after the pattern is ignored, as `parse(String)` does.
    func parse(_ text: UnsafeBufferPointer<UInt8>, zone: JavaZone) -> Int64? {
        var year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, ms = 0
        var pm: Bool? = nil
        var hour12 = false
        var offset: Int? = nil
        var dayOfYear: Int? = nil
        var i = 0
        for (k, field) in fields.enumerated() {
            let letter = field.letter, count = field.count
            if letter == 0 {
                for b in literals[field.start..<field.end] {
                    guard i < text.count, text[i] == b else { return nil }
                    i += 1
                }
                continue
            }
            do {
                let isText = (letter == UInt8(ascii: "M") && count >= 3) || letter == UInt8(ascii: "E")
                    || letter == UInt8(ascii: "a") || letter == UInt8(ascii: "G") || letter == UInt8(ascii: "z")
                    || letter == UInt8(ascii: "Z") || letter == UInt8(ascii: "X")
                if isText {
                    switch letter {
                    case UInt8(ascii: "M"):
                        guard let v = JavaDateFormat.matchName(JavaDateFormat.monthNames, text, &i) else { return nil }
                        month = v + 1
                    case UInt8(ascii: "E"):
                        guard JavaDateFormat.matchName(JavaDateFormat.dayNames, text, &i) != nil else { return nil }
                    case UInt8(ascii: "a"):
                        guard let v = JavaDateFormat.matchName([Array("AM".utf8), Array("PM".utf8)], text, &i) else { return nil }
                        pm = v == 1
                    case UInt8(ascii: "G"):
                        guard JavaDateFormat.matchName([Array("AD".utf8), Array("BC".utf8)], text, &i) != nil else { return nil }
                    default:
                        guard let o = JavaDateFormat.parseOffset(text, &i) else { return nil }
                        offset = o
                    }
                    continue
                }
                // A number: exactly `count` digits when the next field is a number too (abutting).
                var abutting = false
                if k + 1 < fields.count, fields[k + 1].letter != 0 {
                    let next = fields[k + 1].letter, nextCount = fields[k + 1].count
                    abutting = !(next == UInt8(ascii: "M") && nextCount >= 3) && next != UInt8(ascii: "E") && next != UInt8(ascii: "a")
                        && next != UInt8(ascii: "z") && next != UInt8(ascii: "Z") && next != UInt8(ascii: "X") && next != UInt8(ascii: "G")
                }
                var negative = false
                if !abutting, i < text.count, text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+"),
                   letter == UInt8(ascii: "y") {
                    negative = text[i] == UInt8(ascii: "-")
                    i += 1
                }
                let start = i
                var v = 0
                while i < text.count, text[i] >= 0x30, text[i] <= 0x39, !abutting || i - start < count, i - start < 10 {
                    v = v * 10 + Int(text[i] - 0x30)
                    i += 1
                }
                guard i > start else { return nil }
                if negative { v = -v }
                switch letter {
                case UInt8(ascii: "y"), UInt8(ascii: "Y"):
                    if count <= 2 && i - start == 2 && !negative {
                        // Two digits: the century within 80 years before and 20 after now.
                        let now = CivilDate.fromDays(Int(Int64(Date().timeIntervalSince1970).floorDiv(86_400))).0
                        let candidate = now / 100 * 100 + v
                        year = candidate > now + 20 ? candidate - 100 : candidate <= now - 80 ? candidate + 100 : candidate
                    } else {
                        year = v
                    }
                case UInt8(ascii: "M"): month = v
                case UInt8(ascii: "d"): day = v
                case UInt8(ascii: "D"): dayOfYear = v
                case UInt8(ascii: "H"): hour = v
                case UInt8(ascii: "k"): hour = v == 24 ? 0 : v
                case UInt8(ascii: "K"): hour = v; hour12 = true
                case UInt8(ascii: "h"): hour = v == 12 ? 0 : v; hour12 = true
                case UInt8(ascii: "m"): minute = v
                case UInt8(ascii: "s"): second = v
                case UInt8(ascii: "S"): ms = v
                default: break  // w, W, F, u: read, not used
                }
            }
        }
        if hour12 || pm != nil, pm == true { hour += 12 }
        // Lenient like SimpleDateFormat: out-of-range months and days roll over.
        year += (month - 1).floorDiv(12)
        month = (month - 1).floorMod(12) + 1
        let days = dayOfYear.map { CivilDate.days(year, 1, 1) + $0 - 1 } ?? CivilDate.days(year, month, 1) + day - 1
        let local = Int64(days) * 86_400_000 + Int64(hour) * 3_600_000 + Int64(minute) * 60_000 + Int64(second) * 1000 + Int64(ms)
        if let offset { return local - Int64(offset) * 1000 }
        return local - Int64(zone.offsetSeconds(localMillis: local)) * 1000
    }

    /// Index of the name (full, or its first three letters) at `text[i...]`, case-insensitive.
    private static func matchName(_ names: [[UInt8]], _ text: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Int? {
        func matches(_ name: ArraySlice<UInt8>) -> Bool {
            guard i + name.count <= text.count else { return false }
            for (k, b) in name.enumerated() where (text[i + k] | 0x20) != (b | 0x20) { return false }
            return true
        }
        for (k, name) in names.enumerated() where matches(name[...]) {
            i += name.count
            return k
        }
        for (k, name) in names.enumerated() where name.count > 3 && matches(name.prefix(3)) {
            i += 3
            return k
        }
        return nil
    }

    /// `Z`, `+05`, `+0530`, `+05:30`, `UTC`/`GMT` (optionally followed by an offset).
    private static func parseOffset(_ text: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Int? {
        if i < text.count, text[i] == UInt8(ascii: "Z") {
            i += 1
            return 0
        }
        for name in ["UTC", "GMT"] where i + 3 <= text.count && Array(text[i..<i + 3]) == Array(name.utf8) {
            i += 3
            if i < text.count, text[i] == UInt8(ascii: "+") || text[i] == UInt8(ascii: "-") { break }
            return 0
        }
        guard i < text.count, text[i] == UInt8(ascii: "+") || text[i] == UInt8(ascii: "-") else { return nil }
        let sign = text[i] == UInt8(ascii: "-") ? -1 : 1
        i += 1
        var digits: [Int] = []
        while i < text.count, digits.count < 4 {
            if text[i] == UInt8(ascii: ":") && digits.count == 2 { i += 1; continue }
            guard text[i] >= 0x30, text[i] <= 0x39 else { break }
            digits.append(Int(text[i] - 0x30))
            i += 1
        }
        guard digits.count == 2 || digits.count == 4 else { return nil }
        let hours = digits[0] * 10 + digits[1], minutes = digits.count == 4 ? digits[2] * 10 + digits[3] : 0
        return sign * (hours * 3600 + minutes * 60)
    }
}

/// A time zone as Java's `ZoneId.of(id, SHORT_IDS)` reads it; fixed offsets need no lookup.
struct JavaZone: Sendable {
    private let fixed: Int?
    private let zone: TimeZone?
    let id: String

    static let utc = JavaZone(fixedSeconds: 0, id: "UTC")

    private init(fixedSeconds: Int, id: String) {
        fixed = fixedSeconds
        zone = nil
        self.id = id
    }

    /// Java's `ZoneId.SHORT_IDS`.
    private static let shortIDs: [String: String] = [
        "ACT": "Australia/Darwin", "AET": "Australia/Sydney", "AGT": "America/Argentina/Buenos_Aires",
        "ART": "Africa/Cairo", "AST": "America/Anchorage", "BET": "America/Sao_Paulo", "BST": "Asia/Dhaka",
        "CAT": "Africa/Harare", "CNT": "America/St_Johns", "CST": "America/Chicago", "CTT": "Asia/Shanghai",
        "EAT": "Africa/Addis_Ababa", "ECT": "Europe/Paris", "IET": "America/Indiana/Indianapolis", "IST": "Asia/Kolkata",
        "JST": "Asia/Tokyo", "MIT": "Pacific/Apia", "NET": "Asia/Yerevan", "NST": "Pacific/Auckland",
        "PLT": "Asia/Karachi", "PNT": "America/Phoenix", "PRT": "America/Puerto_Rico", "PST": "America/Los_Angeles",
        "SST": "Pacific/Guadalcanal", "VST": "Asia/Ho_Chi_Minh", "EST": "-05:00", "MST": "-07:00", "HST": "-10:00",
    ]

    /// nil for an id Java would reject.
    init?(_ id: String) {
        self.id = id
        let resolved = JavaZone.shortIDs[id] ?? id
        var prefix = resolved
        var rest = ""
        for p in ["UTC", "GMT", "UT"] where resolved.hasPrefix(p) {
            prefix = p
            rest = String(resolved.dropFirst(p.count))
            break
        }
        if resolved == "Z" || ((prefix == "UTC" || prefix == "GMT" || prefix == "UT") && rest.isEmpty) {
            fixed = 0
            zone = nil
            return
        }
        let offsetText = prefix == "UTC" || prefix == "GMT" || prefix == "UT" ? rest : resolved
        if let first = offsetText.first, first == "+" || first == "-" {
            var i = 0
            var bytes = Array(offsetText.utf8)
            let parsed: Int? = bytes.withUnsafeMutableBufferPointer { b in
                JavaZone.offset(UnsafeBufferPointer(b), &i)
            }
            guard let parsed, i == bytes.count else { return nil }
            bytes = []
            fixed = parsed
            zone = nil
            return
        }
        guard resolved.contains("/"), let tz = TimeZone(identifier: resolved) else { return nil }
        fixed = nil
        zone = tz
    }

    private static func offset(_ text: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Int? {
        let sign = text[i] == UInt8(ascii: "-") ? -1 : 1
        i += 1
        var digits: [Int] = []
        while i < text.count {
            if text[i] == UInt8(ascii: ":") { i += 1; continue }
            guard text[i] >= 0x30, text[i] <= 0x39 else { return nil }
            digits.append(Int(text[i] - 0x30))
            i += 1
        }
        switch digits.count {
        case 1: return sign * digits[0] * 3600
        case 2: return sign * (digits[0] * 10 + digits[1]) * 3600
        case 4: return sign * ((digits[0] * 10 + digits[1]) * 3600 + (digits[2] * 10 + digits[3]) * 60)
        default: return nil
        }
    }

    /// Offset from UTC at an instant.
    @inline(__always)
    func offsetSeconds(utcMillis: Int64) -> Int {
        if let fixed { return fixed }
        return zone!.secondsFromGMT(for: Date(timeIntervalSince1970: Double(utcMillis) / 1000))
    }

    /// Offset from UTC for a local wall-clock time (the earlier offset in an overlap, like Java).
    func offsetSeconds(localMillis: Int64) -> Int {
        if let fixed { return fixed }
        let guess = offsetSeconds(utcMillis: localMillis)
        let second = offsetSeconds(utcMillis: localMillis - Int64(guess) * 1000)
        if second == guess { return guess }
        // In a gap or overlap: prefer the offset that maps back to the same wall time.
        let third = offsetSeconds(utcMillis: localMillis - Int64(second) * 1000)
        return third == second ? second : max(guess, second)
    }

    /// The `z` text: a short name for common zones, else `GMT+05:30`.
    func shortName(offsetSeconds offset: Int) -> String {
        if fixed == 0 { return id == "GMT" ? "GMT" : "UTC" }
        if let zone, let abbreviation = zone.abbreviation(for: Date()), !abbreviation.hasPrefix("GMT") {
            return abbreviation
        }
        var out: [UInt8] = Array("GMT".utf8)
        JavaDateFormat.appendOffset(offset, colon: true, minutes: true, z: false, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// Proleptic Gregorian calendar arithmetic on days since 1970-01-01.
enum CivilDate {
    /// Days since the epoch of year-month-day (month 1…12; day may run past the month).
    static func days(_ y: Int, _ m: Int, _ d: Int) -> Int {
        let y2 = m <= 2 ? y - 1 : y
        let era = y2.floorDiv(400)
        let yoe = y2 - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func fromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = z.floorDiv(146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// 0 = Sunday … 6 = Saturday.
    static func dayOfWeek(_ days: Int) -> Int { (days + 4).floorMod(7) }

    static func isLeap(_ y: Int) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }

    static func monthLength(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: isLeap(y) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `Calendar.WEEK_OF_YEAR` for en_US (weeks start on Sunday, week 1 holds January 1).
    static func weekOfYear(_ days: Int) -> Int {
        let (y, _, _) = fromDays(days)
        let weekStart = days - dayOfWeek(days)
        if weekStart + 6 >= self.days(y + 1, 1, 1) { return 1 }
        let jan1 = self.days(y, 1, 1)
        return (days - jan1 + dayOfWeek(jan1)) / 7 + 1
    }
}

extension BinaryInteger {
    /// Division rounding toward negative infinity.
    func floorDiv(_ d: Self) -> Self {
        let q = self / d
        return (self % d != 0 && ((self < 0) != (d < 0))) ? q - 1 : q
    }

    /// Remainder with the divisor's sign.
    func floorMod(_ d: Self) -> Self { self - floorDiv(d) * d }
}
