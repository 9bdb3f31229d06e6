@testable import Engine
import Testing

/// `time:` functions against siddhi-execution-time's behaviour (SimpleDateFormat patterns, en_US;
/// Tandem's default zone is UTC).
@Suite struct TimeExtensionTests {
    @Test func dateFormatBothForms() throws {
        let rows = try run("""
            define stream S (t long, s string);
            from S select time:dateFormat(t, 'yyyy-MM-dd HH:mm:ss.SSS') as full, time:dateFormat(t, 'EEE, d MMM yy hh:mm a Z') as named,
                          time:dateFormat(s, 'yyyy/MM/dd HH:mm', 'dd-MM-yyyy HH:mm:ss') as converted,
                          time:dateFormat(t, "D w u EEEE MMMM yyyyMMdd XXX 'at' H") as fields
            insert into Out;
            """, [
                [.long(0), .string("01-01-2000 00:00:00")],
                [.long(1_709_251_199_999), .string("29-02-2024 23:59:59")],
                [.long(-1), .string("not a date")],
                [.null, .null],
            ])
        #expect(rows == [
            [.string("1970-01-01 00:00:00.000"), .string("Thu, 1 Jan 70 12:00 AM +0000"), .string("2000/01/01 00:00"),
             .string("1 1 4 Thursday January 19700101 Z at 0")],
            [.string("2024-02-29 23:59:59.999"), .string("Thu, 29 Feb 24 11:59 PM +0000"), .string("2024/02/29 23:59"),
             .string("60 9 4 Thursday February 20240229 Z at 23")],
            [.string("1969-12-31 23:59:59.999"), .string("Wed, 31 Dec 69 11:59 PM +0000"), .null,
             .string("365 1 3 Wednesday December 19691231 Z at 23")],
            [.null, .null, .null, .null],
        ])
    }

    @Test func parsingAndArithmetic() throws {
        let rows = try run("""
            define stream S (s string, t long);
            from S select time:timestampInMilliseconds(s, 'yyyy-MM-dd HH:mm:ss') as ms,
                          time:timestampInMilliseconds('1970-01-01 00:00:01.500') as defaultFormat,
                          time:dateAdd(s, 1, 'month', 'yyyy-MM-dd HH:mm:ss') as nextMonth,
                          time:dateSub(t, 2, 'day') as twoDaysBefore, time:dateDiff(s, '2024-01-01 00:00:00', 'yyyy-MM-dd HH:mm:ss', 'yyyy-MM-dd HH:mm:ss') as days,
                          time:dateDiff(t, 0L) as sinceEpoch
            insert into Out;
            """, [
                [.string("2024-01-31 10:00:00"), .long(172_800_000)],
                [.string("2023-12-31 23:00:00"), .long(86_399_999)],
                [.null, .null],
            ])
        #expect(rows == [
            [.long(1_706_695_200_000), .long(1500), .string("2024-02-29 10:00:00"), .string("0"), .long(30), .long(2)],
            [.long(1_704_063_600_000), .long(1500), .string("2024-01-31 23:00:00"), .string("-86400001"), .long(0), .long(0)],
            [.null, .long(1500), .null, .null, .null, .null],
        ])
    }

    @Test func extractDateDayOfWeek() throws {
        let rows = try run("""
            define stream S (s string, t long);
            from S select time:extract('year', s, 'yyyy-MM-dd') as y, time:extract(t, 'hour') as h, time:extract('week', s, 'yyyy-MM-dd') as w,
                          time:extract('quarter', s, 'yyyy-MM-dd') as q, time:date(s, 'yyyy-MM-dd') as d,
                          time:dayOfWeek(s, 'yyyy-MM-dd') as dow, time:dayOfWeek('2024-03-10 12:00:00') as sunday
            insert into Out;
            """, [
                [.string("2024-12-29"), .long(3_600_000 * 13)],
                [.string("2021-01-01"), .long(0)],
            ])
        #expect(rows == [
            [.int(2024), .int(13), .int(1), .int(4), .string("2024-12-29"), .string("Sunday"), .string("Sunday")],
            [.int(2021), .int(0), .int(1), .int(1), .string("2021-01-01"), .string("Friday"), .string("Sunday")],
        ])
    }

    @Test func timezoneConvertAndClockFunctions() throws {
        let rows = try run("""
            define stream S (s string);
            from S select time:timezoneConvert(s, 'yyyy-MM-dd HH:mm:ss', 'Asia/Kolkata', 'UTC') as ist,
                          time:timezoneConvert(s, 'yyyy-MM-dd HH:mm:ss', 'UTC', 'America/New_York') as fromNy,
                          time:timezoneConvert(s, 'yyyy-MM-dd HH:mm:ss', '+01:00') as plusOne,
                          time:currentTimestamp() as nowText, time:currentDate() as today, time:currentTime() as clock,
                          time:utcTimestamp() as utc, time:timestampInMilliseconds() as now,
                          time:currentTimestamp('IST') as nowIst
            insert into Out;
            """, [[.string("2021-07-04 18:45:00")], [.null]])
        // "now" is the engine clock, as for currentTimeMillis(): here the batch's clock, 0.
        #expect(rows == [
            [.string("2021-07-05 00:15:00"), .string("2021-07-04 22:45:00"), .string("2021-07-04 19:45:00"),
             .string("1970-01-01 00:00:00"), .string("1970-01-01"), .string("00:00:00"), .string("1970-01-01 00:00:00"),
             .long(0), .string("1970-01-01 05:30:00")],
            [.null, .null, .null, .string("1970-01-01 00:00:00"), .string("1970-01-01"), .string("00:00:00"),
             .string("1970-01-01 00:00:00"), .long(0), .string("1970-01-01 05:30:00")],
        ])
    }

    @Test func compileErrorsNameTheProblem() {
        #expect(compileErrors("""
            define stream S (s string, t long);
            from S select time:dateFormat(t, 'yyyy-QQ') as a, time:dateAdd(t, 1, 'fortnight') as b,
                          time:timezoneConvert(s, 'HH', 'Mars/Olympus') as c
            insert into T;
            """) == [
                "e.siddhi:2:15: error: time:dateFormat(): date pattern 'yyyy-QQ' has the unknown letter 'Q'",
                "e.siddhi:2:51: error: time:dateAdd(): unknown unit 'fortnight'; use one of SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR",
                "e.siddhi:3:15: error: time:timezoneConvert(): unknown time zone 'Mars/Olympus'",
            ])
    }
}
