import Foundation

/// `time:` (siddhi-execution-time) functions. Dates are strings in a Java `SimpleDateFormat`
/// pattern (`JavaDateFormat`) or epoch milliseconds (long). Where the app gives no zone, Tandem
/// uses UTC (Siddhi uses the JVM's default zone); "now" is the engine clock (event time in playback).
enum TimeFunction: UInt8, CaseIterable {
    case currentDate, currentTime, currentTimestamp, date, dateAdd, dateDiff, dateFormat, dateSub, dayOfWeek
    case extract, timestampInMilliseconds, timezoneConvert, utcTimestamp

    static let defaultFormat = "yyyy-MM-dd HH:mm:ss.SSS"

    static func readsClock(_ f: UInt8, argumentCount: Int) -> Bool {
        switch TimeFunction(rawValue: f)! {
        case .currentDate, .currentTime, .currentTimestamp, .utcTimestamp: true
        case .timestampInMilliseconds: argumentCount == 0
        default: false
        }
    }

    static let units = ["SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"]

    static func check(_ name: String, _ types: [AttributeType?], _ constants: [Value?]) -> ExtensionSignature {
        guard let f = allCases.first(where: { "\($0)".lowercased() == name.lowercased() }) else { return .unknown }
        typealias A = ExtensionArguments
        let n = types.count, r = f.rawValue
        func s(_ i: Int, _ what: String = "a string") -> String? { A.expect(types, i, A.text, what) }
        /// Constant patterns and zones are checked now.
        func pattern(_ i: Int) -> String? {
            guard i < n, case .string(let p)? = constants[i] else { return nil }
            var error: String?
            return JavaDateFormat(p, error: &error) == nil ? error : nil
        }
        func zone(_ i: Int) -> String? {
            guard i < n, case .string(let z)? = constants[i] else { return nil }
            return JavaZone(z) == nil ? "unknown time zone '\(z)'" : nil
        }
        func unit(_ i: Int) -> String? {
            guard i < n else { return nil }
            guard case .string(let u)? = constants[i] else { return "argument \(i + 1) must be a constant unit string" }
            return units.contains(u.uppercased()) ? nil : "unknown unit '\(u)'; use one of \(units.joined(separator: ", "))"
        }
        let longFirst = types.first == .long
        switch f {
        case .currentDate, .currentTime: return A.verdict(r, .string, A.arity(n, 0...0))
        case .currentTimestamp: return A.verdict(r, .string, A.arity(n, 0...1), s(0, "a string (the zone)"), zone(0))
        case .utcTimestamp: return A.verdict(r, .string, A.arity(n, 0...1), s(0, "a string (the format)"), pattern(0))
        case .timestampInMilliseconds:
            return A.verdict(r, .long, A.arity(n, 0...2), s(0), s(1, "a string (the format)"), pattern(1))
        case .dateFormat:
            if longFirst { return A.verdict(r, .string, A.arity(n, 2...2), s(1, "a string (the format)"), pattern(1)) }
            return A.verdict(r, .string, A.arity(n, 2...3), s(0, "a string or long"), s(1), s(2), pattern(1), pattern(2))
        case .dateAdd, .dateSub:
            if longFirst {
                return A.verdict(r, .string, A.arity(n, 3...3), A.expect(types, 1, [.int], "an int"), unit(2))
            }
            return A.verdict(r, .string, A.arity(n, 3...4), s(0, "a string or long"), A.expect(types, 1, [.int], "an int"),
                             unit(2), s(3), pattern(3))
        case .dateDiff:
            if longFirst { return A.verdict(r, .long, A.arity(n, 2...2), A.expect(types, 1, [.long], "a long")) }
            return A.verdict(r, .long, A.arity(n, 2...4), s(0, "a string or long"), s(1), s(2), s(3), pattern(2), pattern(3))
        case .extract:
            if longFirst {
                return A.verdict(r, .int, A.arity(n, 2...3), unit(1), s(2, "a string (the locale)"))
            }
            return A.verdict(r, .int, A.arity(n, 2...4), unit(0), s(1, "a string or long"), s(2), s(3, "a string (the locale)"),
                             pattern(2))
        case .date, .dayOfWeek: return A.verdict(r, .string, A.arity(n, 1...2), s(0), s(1), pattern(1))
        case .timezoneConvert:
            return A.verdict(r, .string, A.arity(n, 3...4), s(0), s(1), s(2), s(3), pattern(1), zone(2), zone(3))
        }
    }
}

/// Kernel of the `time:` functions.
final class TimeKernel: FunctionKernel {
    private let function: TimeFunction
    private let types: [AttributeType?]
    private let constants: [Value?]
    /// Patterns and zones by text: constants are made once, others on first use.
    private var formats: [String: JavaDateFormat] = [:]
    private var zones: [String: JavaZone] = [:]
    private let defaultFormat = JavaDateFormat(known: TimeFunction.defaultFormat)

    init(_ call: ExtensionCall) {
        function = TimeFunction(rawValue: call.function)!
        types = call.argumentTypes
        constants = call.constants
    }

    private func format(_ text: String) -> JavaDateFormat? {
        if let f = formats[text] { return f }
        var error: String?
        guard let f = JavaDateFormat(text, error: &error) else { return nil }
        if formats.count > 64 { formats.removeAll() }
        formats[text] = f
        return f
    }

    private func zone(_ text: String) -> JavaZone? {
        if let z = zones[text] { return z }
        guard let z = JavaZone(text) else { return nil }
        if zones.count > 64 { zones.removeAll() }
        zones[text] = z
        return z
    }

    /// The format in argument `a` at event `i` (constant formats are looked up once per batch by the caller).
    @inline(__always)
    private func format(_ args: FunctionInput, _ a: Int, _ i: Int, _ constant: JavaDateFormat?) -> JavaDateFormat? {
        constant ?? format(args.string(a, i))
    }

    private func constantFormat(_ a: Int) -> JavaDateFormat? {
        guard a < constants.count, case .string(let p)? = constants[a] else { return nil }
        return format(p)
    }

    func run(_ args: FunctionInput, _ result: inout FunctionOutput) {
        let n = args.count
        let utc = JavaZone.utc
        switch function {
        case .currentDate, .currentTime, .currentTimestamp, .utcTimestamp:
            let pattern = function == .currentDate ? "yyyy-MM-dd" : function == .currentTime ? "HH:mm:ss" : "yyyy-MM-dd HH:mm:ss"
            let fixed = function == .utcTimestamp ? constantFormat(0) : nil
            let base = format(pattern)!
            for i in 0..<n {
                var zone = utc
                var f = base
                if !args.arguments.isEmpty && !args.isNull(0, i) {
                    if function == .currentTimestamp {
                        guard let z = self.zone(args.string(0, i)) else { result.setNull(i); continue }
                        zone = z
                    } else if let g = fixed ?? format(args.string(0, i)) {
                        f = g
                    }
                }
                result.setText(i) { f.format(args.now(i), zone: zone, into: &$0) }
            }
        case .timestampInMilliseconds:
            let fixed = constantFormat(1)
            for i in 0..<n {
                if args.arguments.isEmpty { result.setInt(i, args.now(i)); continue }
                guard !args.anyNull(i) else { result.setNull(i); continue }
                let f = args.arguments.count == 2 ? format(args, 1, i, fixed) : defaultFormat
                guard let f, let millis = f.parse(args.text(0, i), zone: utc) else { result.setNull(i); continue }
                result.setInt(i, millis)
            }
        case .dateFormat:
            let target = constantFormat(1)
            let source = args.arguments.count == 3 ? constantFormat(2) : defaultFormat
            if types[0] == .long, let to = target {
                // The common form: millis and a constant pattern, formatted in place.
                for i in 0..<n {
                    if args.anyNull(i) { result.setNull(i); continue }
                    let millis = args.integer(0, i)
                    result.setText(i) { to.format(millis, zone: utc, into: &$0) }
                }
                return
            }
            for i in 0..<n {
                guard !args.anyNull(i), let to = format(args, 1, i, target) else { result.setNull(i); continue }
                let millis: Int64
                if types[0] == .long {
                    millis = args.integer(0, i)
                } else {
                    guard let from = format(args, 2, i, source), let m = from.parse(args.text(0, i), zone: utc) else {
                        result.setNull(i)
                        continue
                    }
                    millis = m
                }
                result.setText(i) { to.format(millis, zone: utc, into: &$0) }
            }
        case .dateAdd, .dateSub:
            let unit = constantUnit(2)
            let given = args.arguments.count == 4 ? constantFormat(3) : defaultFormat
            for i in 0..<n {
                guard !args.anyNull(i) else { result.setNull(i); continue }
                var amount = Int(args.integer(1, i))
                if function == .dateSub { amount = -amount }
                if types[0] == .long {
                    let millis = TimeKernel.add(unit, amount, to: args.integer(0, i), zone: utc)
                    result.setText(i) { appendDecimal(millis, to: &$0) }
                } else {
                    guard let f = format(args, 3, i, given), let m = f.parse(args.text(0, i), zone: utc) else {
                        result.setNull(i)
                        continue
                    }
                    let millis = TimeKernel.add(unit, amount, to: m, zone: utc)
                    result.setText(i) { f.format(millis, zone: utc, into: &$0) }
                }
            }
        case .dateDiff:
            let first = args.arguments.count >= 3 ? constantFormat(2) : defaultFormat
            let second = args.arguments.count == 4 ? constantFormat(3) : defaultFormat
            for i in 0..<n {
                guard !args.anyNull(i) else { result.setNull(i); continue }
                if types[0] == .long {
                    result.setInt(i, (args.integer(0, i) - args.integer(1, i)) / 86_400_000)
                    continue
                }
                guard let f1 = format(args, 2, i, first), let f2 = format(args, 3, i, second),
                      let a = f1.parse(args.text(0, i), zone: utc), let b = f2.parse(args.text(1, i), zone: utc) else {
                    result.setNull(i)
                    continue
                }
                result.setInt(i, (a - b) / 86_400_000)
            }
        case .extract:
            let longFirst = types[0] == .long
            let unit = constantUnit(longFirst ? 1 : 0)
            let given = !longFirst && args.arguments.count >= 3 ? constantFormat(2) : defaultFormat
            for i in 0..<n {
                let millis: Int64
                if longFirst {
                    guard !args.isNull(0, i) else { result.setNull(i); continue }
                    millis = args.integer(0, i)
                } else {
                    guard !args.isNull(1, i), let f = format(args, 2, i, given), let m = f.parse(args.text(1, i), zone: utc) else {
                        result.setNull(i)
                        continue
                    }
                    millis = m
                }
                result.setInt(i, Int64(TimeKernel.extract(unit, millis)))
            }
        case .date, .dayOfWeek:
            let given = args.arguments.count == 2 ? constantFormat(1) : defaultFormat
            let out = JavaDateFormat(known: function == .date ? "yyyy-MM-dd" : "EEEE")
            let dayOnly = JavaDateFormat(known: "yyyy-MM-dd")
            for i in 0..<n {
                guard !args.anyNull(i) else { result.setNull(i); continue }
                let parsed: Int64?
                if function == .dayOfWeek && args.arguments.count == 1 {
                    // One argument: the text before the first space read as yyyy-MM-dd.
                    let t = args.text(0, i)
                    let end = t.firstIndex(of: UInt8(ascii: " ")) ?? t.count
                    parsed = dayOnly.parse(UnsafeBufferPointer(rebasing: t[0..<end]), zone: utc)
                } else {
                    parsed = format(args, 1, i, given)?.parse(args.text(0, i), zone: utc)
                }
                guard let millis = parsed else { result.setNull(i); continue }
                result.setText(i) { out.format(millis, zone: utc, into: &$0) }
            }
        case .timezoneConvert:
            let pattern = constantFormat(1)
            for i in 0..<n {
                guard !args.anyNull(i), let f = format(args, 1, i, pattern), let target = zone(args.string(2, i)),
                      let source = args.arguments.count == 4 ? zone(args.string(3, i)) : utc,
                      let millis = f.parse(args.text(0, i), zone: source) else {
                    result.setNull(i)
                    continue
                }
                result.setText(i) { f.format(millis, zone: target, into: &$0) }
            }
        }
    }

    private func constantUnit(_ a: Int) -> String {
        guard a < constants.count, case .string(let u)? = constants[a] else { return "DAY" }
        return u.uppercased()
    }

    /// `Calendar.add` in `zone`: calendar units move the wall-clock date (the day of month clamped
    /// to the new month's length), hours and smaller move the instant.
    static func add(_ unit: String, _ amount: Int, to millis: Int64, zone: JavaZone) -> Int64 {
        switch unit {
        case "SECOND": return millis + Int64(amount) * 1000
        case "MINUTE": return millis + Int64(amount) * 60_000
        case "HOUR": return millis + Int64(amount) * 3_600_000
        default: break
        }
        let offset = zone.offsetSeconds(utcMillis: millis)
        let local = millis + Int64(offset) * 1000
        let days = Int(local.floorDiv(86_400_000))
        let msOfDay = local - Int64(days) * 86_400_000
        var (y, m, d) = CivilDate.fromDays(days)
        var newDays: Int
        switch unit {
        case "DAY": newDays = days + amount
        case "WEEK": newDays = days + amount * 7
        default:
            let months = unit == "YEAR" ? amount * 12 : unit == "QUARTER" ? amount * 3 : amount
            let total = y * 12 + (m - 1) + months
            y = total.floorDiv(12)
            m = total.floorMod(12) + 1
            d = min(d, CivilDate.monthLength(y, m))
            newDays = CivilDate.days(y, m, d)
        }
        let newLocal = Int64(newDays) * 86_400_000 + msOfDay
        return newLocal - Int64(zone.offsetSeconds(localMillis: newLocal)) * 1000
    }

    /// A `Calendar` field of `millis` in UTC.
    static func extract(_ unit: String, _ millis: Int64) -> Int {
        let days = Int(millis.floorDiv(86_400_000))
        let msOfDay = Int(millis - Int64(days) * 86_400_000)
        let (y, m, d) = CivilDate.fromDays(days)
        switch unit {
        case "YEAR": return y
        case "MONTH": return m
        case "SECOND": return msOfDay / 1000 % 60
        case "MINUTE": return msOfDay / 60_000 % 60
        case "HOUR": return msOfDay / 3_600_000
        case "DAY": return d
        case "WEEK": return CivilDate.weekOfYear(days)
        case "QUARTER": return (m - 1) / 3 + 1
        default: return 0
        }
    }
}
