/// A Quartz cron expression, as `#window.cron('…')` takes it: `seconds minutes hours day-of-month
/// month day-of-week [year]`, each field `*`, `?`, a value, a range `a-b`, a step `*/n`, `a/n` or
/// `a-b/n`, or a list of those; months `1-12` or `JAN-DEC`, days of week `1-7` (1 = Sunday) or
/// `SUN-SAT`. `L`, `W` and `#` are not supported (reported as errors).
///
/// Times are UTC milliseconds; the schedule is judged on the engine clock (event time in playback),
/// so replays are deterministic.
struct CronSchedule: Sendable, CustomStringConvertible {
    let text: String
    private let seconds: [Bool]   // 0...59
    private let minutes: [Bool]   // 0...59
    private let hours: [Bool]     // 0...23
    private let daysOfMonth: [Bool]  // 1...31
    private let months: [Bool]    // 1...12
    private let daysOfWeek: [Bool]   // 1...7, 1 = Sunday
    private let years: [Bool]?    // 1970...2199, nil = every year

    var description: String { "'\(text)'" }

    struct ParseError: Error { var message: String }

    init(_ text: String) throws(ParseError) {
        self.text = text
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 6 || fields.count == 7 else {
            throw ParseError(message: "a cron expression has 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), got \(fields.count)")
        }
        seconds = try CronSchedule.field(fields[0], "seconds", 0...59)
        minutes = try CronSchedule.field(fields[1], "minutes", 0...59)
        hours = try CronSchedule.field(fields[2], "hours", 0...23)
        daysOfMonth = try CronSchedule.field(fields[3], "day-of-month", 1...31)
        months = try CronSchedule.field(fields[4], "month", 1...12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
        daysOfWeek = try CronSchedule.field(fields[5], "day-of-week", 1...7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])
        years = fields.count == 7 && fields[6] != "*" ? try CronSchedule.field(fields[6], "year", 1970...2199) : nil
    }

    /// Field values as a membership table indexed by value.
    private static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>,
                              names: [String] = []) throws(ParseError) -> [Bool] {
        var set = [Bool](repeating: false, count: range.upperBound + 1)
        func value(_ s: Substring) throws(ParseError) -> Int {
            if let v = Int(s), range.contains(v) { return v }
            if let i = names.firstIndex(of: s.uppercased()) { return range.lowerBound + i }
            throw ParseError(message: "\(name) field: '\(s)' is not in \(range.lowerBound)-\(range.upperBound)")
        }
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            if part.contains(where: { "LW#".contains($0) }) && names.firstIndex(where: { part.uppercased().contains($0) }) == nil {
                throw ParseError(message: "\(name) field: '\(part)' uses L, W or #, which Tandem does not support")
            }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else { throw ParseError(message: "\(name) field: '\(part)' is malformed") }
            var low = range.lowerBound, high = range.upperBound
            if pieces[0] == "*" || pieces[0] == "?" {
                if pieces.count == 1 { for v in range { set[v] = true }; continue }
            } else if let dash = pieces[0].firstIndex(of: "-") {
                low = try value(pieces[0][..<dash])
                high = try value(pieces[0][pieces[0].index(after: dash)...])
                guard low <= high else { throw ParseError(message: "\(name) field: range '\(pieces[0])' runs backwards") }
            } else {
                low = try value(pieces[0])
                if pieces.count == 1 { high = low }
            }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s > 0 else { throw ParseError(message: "\(name) field: step '\(pieces[1])' must be a positive number") }
                step = s
            }
            for v in stride(from: low, through: high, by: step) { set[v] = true }
        }
        return set
    }

    /// The first fire time strictly after `afterMs` (whole seconds), or nil when none comes before 2200.
    func next(after afterMs: Int64) -> Int64? {
        var t = (afterMs >= 0 ? afterMs / 1000 : (afterMs - 999) / 1000) + 1  // seconds since the epoch
        for _ in 0..<100_000 {
            var days = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
            let secondOfDay = Int(t - days * 86_400)
            let (year, month, day) = CronSchedule.civil(fromDays: days)
            if year > 2199 { return nil }
            if let years, year < 1970 || !years[year] {
                t = CronSchedule.days(year: year + 1, month: 1, day: 1) * 86_400
                continue
            }
            if !months[month] {
                let (y, m) = month == 12 ? (year + 1, 1) : (year, month + 1)
                t = CronSchedule.days(year: y, month: m, day: 1) * 86_400
                continue
            }
            let weekday = Int(((days % 7) + 11) % 7) + 1  // 1970-01-01 was a Thursday (5)
            if !daysOfMonth[day] || !daysOfWeek[weekday] {
                days += 1
                t = days * 86_400
                continue
            }
            let hour = secondOfDay / 3600, minute = secondOfDay / 60 % 60, second = secondOfDay % 60
            if !hours[hour] {
                t = days * 86_400 + Int64(hour + 1) * 3600
                continue
            }
            if !minutes[minute] {
                t = days * 86_400 + Int64(hour) * 3600 + Int64(minute + 1) * 60
                continue
            }
            if !seconds[second] {
                t += 1
                continue
            }
            return t * 1000
        }
        return nil
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day number (days since 1970-01-01).
    static func civil(fromDays z0: Int64) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
