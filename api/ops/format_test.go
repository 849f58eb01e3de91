package ops

import (
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

func TestFormatFenIsExact(t *testing.T) {
	for in, want := range map[int64]string{0: "¥0.00", 5: "¥0.05", 123456: "¥1234.56", -250: "-¥2.50", 1<<53 + 1: "¥90071992547409.93"} {
		if got := formatFen(in); got != want {
			t.Errorf("formatFen(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestChartsScaleToTheData(t *testing.T) {
	for in, want := range map[int]int{0: 4, 3: 4, 5: 20, 17: 20, 21: 100, 99: 100, 101: 200, 4001: 5000} {
		if got := niceMax(in); got != want || got%4 != 0 || got < in {
			t.Errorf("niceMax(%d) = %d, want %d", in, got, want)
		}
	}
	start := time.Date(2026, 12, 5, 16, 0, 0, 0, time.UTC) // 00:00 in Shanghai
	d := &service.Dashboard{}
	for i := 0; i < 7; i++ {
		ds := service.DayStats{Day: start.AddDate(0, 0, i-6).In(service.Shanghai).Format("2006-01-02"), Hours: make([]service.HourStats, 24)}
		d.Days = append(d.Days, ds)
	}
	d.Days[6].Hours[10].Paid = 7
	d.Days[6].Posted, d.Days[6].Rejected = 3, 1
	c := chartToday(d)
	if len(c.Bars) != 1 || c.Bars[0].Class != "s-paid" {
		t.Fatalf("bars = %+v, want one payments bar", c.Bars)
	}
	// 7 of a scale of 20 is 35 % of the plot height.
	if got, want := c.Bars[0].H, (c.Bottom-c.Top)*7/20; got != want {
		t.Fatalf("bar height %.2f, want %.2f", got, want)
	}
	r := chartRates(d)
	if len(r.Bars) != 1 || r.Bars[0].H != (r.Bottom-r.Top)*0.75 {
		t.Fatalf("rate bars = %+v, want one bar at 75 %%", r.Bars)
	}
	if w := chartWeek(d); len(w.Lines) != 3 || len(w.XTicks) != 7 {
		t.Fatalf("week chart: %d lines, %d ticks", len(w.Lines), len(w.XTicks))
	}
}
