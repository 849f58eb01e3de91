package service

import "time"

// The China calendar: the one zone and the day and month arithmetic that
// business rules use. Times are stored in UTC; a rule that depends on the
// calendar day or month (order numbers, daily limits, contribution months,
// reconciliation days, working-day delays) converts here.

// Shanghai is Asia/Shanghai, China Standard Time (UTC+8). China has no
// daylight saving time, so a fixed zone is exact and needs no tzdata.
var Shanghai = time.FixedZone("CST", 8*3600)

// Day returns the calendar day of t in Asia/Shanghai as YYYY-MM-DD.
func Day(t time.Time) string { return t.In(Shanghai).Format("2006-01-02") }

// ParseDay parses YYYY-MM-DD as the start of an Asia/Shanghai day.
func ParseDay(s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", s, Shanghai)
	if err != nil {
		return time.Time{}, Invalid("invalid_date", "日期格式应为 YYYY-MM-DD", FieldError{Field: "date", Code: "format", Message: "YYYY-MM-DD"})
	}
	return t, nil
}

// ShanghaiDay returns the [start, end) of the Asia/Shanghai calendar day
// containing t, in UTC.
func ShanghaiDay(t time.Time) (time.Time, time.Time) {
	l := t.In(Shanghai)
	start := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, Shanghai)
	return start.UTC(), start.AddDate(0, 0, 1).UTC()
}

// NextChinaMidnight returns the next 00:00 in Asia/Shanghai after t.
func NextChinaMidnight(t time.Time) time.Time {
	c := t.In(Shanghai)
	return time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, Shanghai)
}

// AddWorkingDays adds n working days (Monday to Friday, Asia/Shanghai) to t,
// keeping the time of day: Friday 10:00 + 3 = Wednesday 10:00. Public
// holidays and the make-up working weekends (调休) are out of scope: they
// need a yearly calendar published by the State Council.
func AddWorkingDays(t time.Time, n int) time.Time {
	l := t.In(Shanghai)
	for n > 0 {
		l = l.AddDate(0, 0, 1)
		if wd := l.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return l.UTC()
}

// Month returns the contribution month (YYYY-MM) of t in Asia/Shanghai.
func Month(t time.Time) string { return t.In(Shanghai).Format("2006-01") }

// ValidMonth reports whether s is a month written YYYY-MM.
func ValidMonth(s string) bool {
	_, err := time.Parse("2006-01", s)
	return err == nil && len(s) == 7
}

// AddMonths returns the month n months after month (YYYY-MM); n may be
// negative. A malformed month is returned unchanged.
func AddMonths(month string, n int) string {
	t, err := time.Parse("2006-01", month)
	if err != nil {
		return month
	}
	return t.AddDate(0, n, 0).Format("2006-01")
}

// MonthsBetween returns the number of months from a to b (b - a); both
// YYYY-MM. It is 0 when either is malformed.
func MonthsBetween(a, b string) int {
	ta, err1 := time.Parse("2006-01", a)
	tb, err2 := time.Parse("2006-01", b)
	if err1 != nil || err2 != nil {
		return 0
	}
	return (tb.Year()-ta.Year())*12 + int(tb.Month()-ta.Month())
}
