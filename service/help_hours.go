package service

import (
	"fmt"
	"strings"
	"time"
)

// BusinessHours are the hours customer service answers tickets, in
// Asia/Shanghai: the days of the week and one daily window. The zero value
// (and "24x7") is every hour of every day, the channel's own hours.
type BusinessHours struct {
	days       [7]bool // by time.Weekday
	start, end int     // minutes after midnight, start < end
	always     bool
}

// AlwaysOpen is 7×24.
var AlwaysOpen = BusinessHours{always: true}

var weekdayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseBusinessHours reads "24x7" (or "") or "Mon-Fri 09:00-18:00" (a day or
// a day range, then HH:MM-HH:MM).
func ParseBusinessHours(s string) (BusinessHours, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "24x7" {
		return AlwaysOpen, nil
	}
	dayPart, timePart, ok := strings.Cut(s, " ")
	if !ok {
		return BusinessHours{}, fmt.Errorf("want \"24x7\" or \"Mon-Fri 09:00-18:00\", got %q", s)
	}
	var h BusinessHours
	from, to, isRange := strings.Cut(dayPart, "-")
	if !isRange {
		to = from
	}
	d1, ok1 := weekdayNames[from]
	d2, ok2 := weekdayNames[to]
	if !ok1 || !ok2 {
		return BusinessHours{}, fmt.Errorf("unknown day in %q (use Mon..Sun)", dayPart)
	}
	for d := d1; ; d = (d + 1) % 7 {
		h.days[d] = true
		if d == d2 {
			break
		}
	}
	a, b, ok := strings.Cut(strings.TrimSpace(timePart), "-")
	if !ok {
		return BusinessHours{}, fmt.Errorf("want HH:MM-HH:MM, got %q", timePart)
	}
	var err error
	if h.start, err = parseClock(a); err != nil {
		return BusinessHours{}, err
	}
	if h.end, err = parseClock(b); err != nil {
		return BusinessHours{}, err
	}
	if h.start >= h.end {
		return BusinessHours{}, fmt.Errorf("the window %q must start before it ends", timePart)
	}
	return h, nil
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return 24 * 60, nil
		}
		return 0, fmt.Errorf("bad time %q (HH:MM)", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// String returns the hours as ParseBusinessHours reads them.
func (h BusinessHours) String() string {
	if h.always || h == (BusinessHours{}) {
		return "24x7"
	}
	var days []string
	for _, n := range []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"} {
		if h.days[weekdayNames[strings.ToLower(n)]] {
			days = append(days, n)
		}
	}
	return fmt.Sprintf("%s %02d:%02d-%02d:%02d", strings.Join(days, ","), h.start/60, h.start%60, h.end/60, h.end%60)
}

// Add returns the instant d of business time after t: time outside the
// hours does not count. A ticket opened Friday 17:50 with hours Mon-Fri
// 09:00-18:00 and d = 45m is due Monday 09:35.
func (h BusinessHours) Add(t time.Time, d time.Duration) time.Time {
	if h.always || h == (BusinessHours{}) {
		return t.Add(d)
	}
	l := t.In(Shanghai)
	for i := 0; i < 400 && d > 0; i++ {
		day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, Shanghai)
		open := day.Add(time.Duration(h.start) * time.Minute)
		shut := day.Add(time.Duration(h.end) * time.Minute)
		if !h.days[day.Weekday()] || !l.Before(shut) {
			l = day.AddDate(0, 0, 1)
			continue
		}
		if l.Before(open) {
			l = open
		}
		if left := shut.Sub(l); d <= left {
			return l.Add(d).UTC()
		} else {
			d -= left
			l = day.AddDate(0, 0, 1)
		}
	}
	return l.UTC()
}

// Between returns the business time from a to b (0 when b is not after a):
// the wall time with 7×24 hours, else the overlap of [a, b) with each
// day's window.
func (h BusinessHours) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if h.always || h == (BusinessHours{}) {
		return b.Sub(a)
	}
	var d time.Duration
	l := a.In(Shanghai)
	day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, Shanghai)
	for ; day.Before(b); day = day.AddDate(0, 0, 1) {
		if !h.days[day.Weekday()] {
			continue
		}
		open := day.Add(time.Duration(h.start) * time.Minute)
		shut := day.Add(time.Duration(h.end) * time.Minute)
		if open.Before(a) {
			open = a
		}
		if shut.After(b) {
			shut = b
		}
		if shut.After(open) {
			d += shut.Sub(open)
		}
	}
	return d
}
