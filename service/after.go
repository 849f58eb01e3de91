package service

import (
	"time"
)

// This file holds the Asia/Shanghai day and working-day arithmetic and the
// error-text clip. Issue 16 item 5 gives them one home (the China calendar
// and the one Clip); the interfaces and the retry schedule that were here
// live with their use cases.

// ShanghaiDay returns the [start, end) of the Asia/Shanghai calendar day
// containing t, in UTC.
func ShanghaiDay(t time.Time) (time.Time, time.Time) {
	l := t.In(Shanghai)
	start := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, Shanghai)
	return start.UTC(), start.AddDate(0, 0, 1).UTC()
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

// ErrorText returns err's text cut to n bytes on a rune boundary, for
// last_error columns and alert details.
func ErrorText(err error, n int) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
