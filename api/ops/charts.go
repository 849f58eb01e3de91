package ops

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shebao/sipay/service"
)

// The dashboard's charts are computed here and drawn by the template as
// inline SVG: no script, no external file. Each chart also has a data
// table on the page for screen readers and for exact numbers.

// Chart is one SVG chart in a viewBox of W×H.
type Chart struct {
	W, H   int
	Bars   []Bar
	Lines  []Line
	XTicks []Tick
	YTicks []Tick
	Left   float64 // plot area
	Right  float64
	Top    float64
	Bottom float64
}

// Bar is one rectangle with a tooltip.
type Bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

// Line is one series drawn as a polyline.
type Line struct {
	Points string
	Class  string
}

// Tick is an axis label at (X, Y) with an optional grid line.
type Tick struct {
	X, Y float64
	Text string
}

// series are the three event kinds the activity charts show.
var series = []struct {
	class, name string
	get         func(service.HourStats) int
}{
	{"s-paid", "支付", func(h service.HourStats) int { return h.Paid }},
	{"s-posted", "入账", func(h service.HourStats) int { return h.Posted }},
	{"s-refunded", "退款", func(h service.HourStats) int { return h.Refunded }},
}

// niceMax rounds m up to 1, 2 or 5 times a power of ten, at least 4, so
// the four grid lines fall on whole numbers.
func niceMax(m int) int {
	if m < 4 {
		return 4
	}
	for p := 1; ; p *= 10 {
		for _, k := range []int{1, 2, 5} {
			if n := k * p; n >= m && n%4 == 0 {
				return n
			}
		}
		if p > 1e9 {
			return m
		}
	}
}

func frame(w, h int, max int, yfmt func(int) string) Chart {
	c := Chart{W: w, H: h, Left: 48, Right: float64(w) - 8, Top: 12, Bottom: float64(h) - 28}
	for i := 0; i <= 4; i++ {
		v := max * i / 4
		c.YTicks = append(c.YTicks, Tick{X: c.Left - 6, Y: c.y(v, max), Text: yfmt(v)})
	}
	return c
}

func (c Chart) y(v, max int) float64 {
	return c.Bottom - (c.Bottom-c.Top)*float64(v)/float64(max)
}

// seriesMax is the largest value of any series in hours.
func seriesMax(hours []service.HourStats) int {
	m := 0
	for _, h := range hours {
		for _, s := range series {
			m = max(m, s.get(h))
		}
	}
	return m
}

// chartToday is today's payments, postings and refunds per hour as
// grouped bars.
func chartToday(d *service.Dashboard) Chart {
	today := d.Today()
	max := niceMax(seriesMax(today.Hours))
	c := frame(720, 240, max, strconv.Itoa)
	slot := (c.Right - c.Left) / 24
	bw := (slot - 4) / 3
	for i, h := range today.Hours {
		x := c.Left + float64(i)*slot + 2
		for j, s := range series {
			v := s.get(h)
			if v == 0 {
				continue
			}
			y := c.y(v, max)
			c.Bars = append(c.Bars, Bar{X: x + float64(j)*bw, Y: y, W: bw, H: c.Bottom - y, Class: s.class,
				Title: fmt.Sprintf("%02d:00 %s %d", i, s.name, v)})
		}
		if i%3 == 0 {
			c.XTicks = append(c.XTicks, Tick{X: x + slot/2 - 2, Y: c.Bottom + 18, Text: fmt.Sprintf("%02d时", i)})
		}
	}
	return c
}

// chartWeek is the last 7 days by hour, one line per series.
func chartWeek(d *service.Dashboard) Chart {
	top := 0
	for _, day := range d.Days {
		if v := seriesMax(day.Hours); v > top {
			top = v
		}
	}
	max := niceMax(top)
	c := frame(720, 240, max, strconv.Itoa)
	n := len(d.Days) * 24
	step := (c.Right - c.Left) / float64(n-1)
	for _, s := range series {
		var b strings.Builder
		k := 0
		for _, day := range d.Days {
			for _, h := range day.Hours {
				fmt.Fprintf(&b, "%.1f,%.1f ", c.Left+float64(k)*step, c.y(s.get(h), max))
				k++
			}
		}
		c.Lines = append(c.Lines, Line{Points: strings.TrimSpace(b.String()), Class: s.class})
	}
	for i, day := range d.Days {
		c.XTicks = append(c.XTicks, Tick{X: c.Left + float64(i*24)*step + 12*step, Y: c.Bottom + 18, Text: day.Day[5:]})
	}
	return c
}

// chartRates is the posting success rate of each of the last 7 days.
func chartRates(d *service.Dashboard) Chart {
	c := frame(720, 200, 100, func(v int) string { return strconv.Itoa(v) + "%" })
	slot := (c.Right - c.Left) / float64(len(d.Days))
	for i, day := range d.Days {
		x := c.Left + float64(i)*slot
		c.XTicks = append(c.XTicks, Tick{X: x + slot/2, Y: c.Bottom + 18, Text: day.Day[5:]})
		r := day.SuccessRate()
		if r < 0 {
			continue
		}
		y := c.Bottom - (c.Bottom-c.Top)*float64(r)/10000
		c.Bars = append(c.Bars, Bar{X: x + slot*0.2, Y: y, W: slot * 0.6, H: c.Bottom - y, Class: "s-rate",
			Title: fmt.Sprintf("%s 成功率 %s（受理 %d，拒绝 %d）", day.Day, rateText(r), day.Posted, day.Rejected)})
	}
	return c
}
