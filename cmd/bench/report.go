package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// mb formats kB as MB.
func mb(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

// target is one line of the PASS/MISS table.
type target struct {
	Name     string
	Measured string
	Want     string
	Pass     bool
	Skipped  bool
}

func verdict(t target) string {
	switch {
	case t.Skipped:
		return "n/a"
	case t.Pass:
		return "PASS"
	}
	return "MISS"
}

// targets evaluates the performance targets of issue 10: each scenario
// against the reference implementation measured in alternation with it.
func targets(rep *report) []target {
	var ts []target
	rate := func(r *result) float64 {
		if r == nil {
			return 0
		}
		return r.Rate()
	}
	ratio := func(name string, num *result, denRate float64, want float64, unit string) {
		t := target{Name: name, Want: fmt.Sprintf("≥ %.2f", want)}
		if num == nil || denRate <= 0 {
			t.Skipped = true
			t.Measured = "not run"
		} else {
			r := num.Rate() / denRate
			t.Measured = fmt.Sprintf("%.2f (%.0f / %.0f %s)", r, num.Rate(), denRate, unit)
			t.Pass = r >= want
		}
		ts = append(ts, t)
	}
	ratio(fmt.Sprintf("notify ÷ reference notify (c=%d)", conc(rep.Notify)), rep.Notify, rate(rep.RefNotify), 0.7, "/s")
	ratio("notify, workers on ÷ reference notify (alternated)", rep.NotifyWorkers, rate(rep.RefNotifyW), 0.7, "/s")
	lat := target{Name: fmt.Sprintf("notify p99 at c=%d", conc(rep.NotifyLat))}
	if rep.NotifyLat == nil || rep.RefNotifyLat == nil {
		lat.Skipped, lat.Measured, lat.Want = true, "not run", "≤ max(25 ms, 2 × reference p99)"
	} else {
		limit := max(25*time.Millisecond, 2*rep.RefNotifyLat.P(0.99))
		p := rep.NotifyLat.P(0.99)
		lat.Want = fmt.Sprintf("≤ %s (max of 25 ms and 2 × reference p99 %s)", ms(limit), ms(rep.RefNotifyLat.P(0.99)))
		lat.Measured, lat.Pass = ms(p), p <= limit
	}
	ts = append(ts, lat)
	ratio("orders ÷ reference order", rep.Orders, rate(rep.RefOrder), 0.7, "/s")
	sigCeil := 0.0
	if rep.SigsPerOrder > 0 {
		sigCeil = rep.SignRate() / rep.SigsPerOrder
	}
	ratio(fmt.Sprintf("orders ÷ signing ceiling (%.0f sig/s ÷ %.0f sig/order)", rep.SignRate(), rep.SigsPerOrder), rep.Orders, sigCeil, 0.6, "/s")
	ratio("quotes ÷ reference quote", rep.Quotes, rate(rep.RefQuote), 0.6, "/s")
	small := 0.0
	if rep.NotifyScaleSmall != nil {
		small = rep.NotifyScaleSmall.Rate()
	}
	ratio(fmt.Sprintf("notify with %s orders ÷ with %s (alternated)", human(rep.BigOrders), human(rep.ScaleSmallOrders)), rep.NotifyBig, small, 0.9, "/s")
	rss := target{Name: "server RSS (peak VmRSS sampled; VmHWM)", Want: "≤ 150 MB"}
	var peak, hwm int64
	for _, r := range []*result{rep.Notify, rep.NotifyLat, rep.NotifyWorkers, rep.Quotes, rep.Orders, rep.NotifyScaleSmall, rep.NotifyBig} {
		if r != nil && r.Server != nil {
			peak = max(peak, r.Server.PeakRSSKB)
			hwm = max(hwm, r.Server.HWMKB)
		}
	}
	if peak == 0 {
		rss.Skipped, rss.Measured = true, "not run"
	} else {
		rss.Measured, rss.Pass = fmt.Sprintf("%s (HWM %s)", mb(peak), mb(hwm)), max(peak, hwm) <= 150*1024
	}
	ts = append(ts, rss)
	return ts
}

// oldCeilings are the ratios to the earlier ceilings, printed beside the
// targets for comparison with earlier runs.
func oldCeilings(rep *report) []string {
	var out []string
	add := func(name string, num, den *result) {
		if num != nil && den != nil && den.Rate() > 0 {
			out = append(out, fmt.Sprintf("%s: %.2f (%.0f / %.0f /s)", name, num.Rate()/den.Rate(), num.Rate(), den.Rate()))
		}
	}
	add("notify ÷ raw notify tx (the old design's own transaction)", rep.Notify, rep.Raw)
	add("quotes ÷ gin hello-world", rep.Quotes, rep.Hello)
	add("reference notify ÷ raw notify tx", rep.RefNotify, rep.Raw)
	add("reference quote ÷ gin hello-world", rep.RefQuote, rep.Hello)
	return out
}

func conc(r *result) int {
	if r == nil {
		return 0
	}
	return r.Concurrency
}

func human(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// printReport writes the machine, the scenario table, the CPU split, the
// ceilings and the PASS/MISS table as Markdown.
func printReport(w io.Writer, o *options, rep *report) {
	m := rep.Machine
	fmt.Fprintf(w, "\n## Machine\n\n")
	fmt.Fprintf(w, "- CPU: %d × %s (GOMAXPROCS %d, %s), memory %s, kernel %s\n", m.CPUs, m.CPUModel, m.GOMAXPROCS, m.GOOSGOARCH, m.MemTotal, m.Kernel)
	fmt.Fprintf(w, "- Database: %s (%s); Redis %s; %s\n", m.DBVersion, m.DBSettings, m.RedisVer, m.GoVersion)
	if m.Fsync != "" {
		fmt.Fprintf(w, "- Disk: %s\n", m.Fsync)
	}
	fmt.Fprintf(w, "- Run: %s measured per scenario in %d alternating rounds, each after a %s warm-up; whole run %s\n",
		o.Duration, o.Rounds, o.Warmup, rep.Duration.Round(time.Second))

	type line struct {
		label string
		r     *result
	}
	lines := []line{
		{"old ceiling: raw notify tx of the old design (database/sql)", rep.Raw},
		{"reference notify (own process)", rep.RefNotify},
		{fmt.Sprintf("notify, %s orders in tables", human(rep.SmallOrders)), rep.Notify},
		{"old ceiling: raw notify tx of the old design (database/sql)", rep.RawLat},
		{"reference notify (latency run)", rep.RefNotifyLat},
		{"notify (latency run)", rep.NotifyLat},
		{"reference notify (alternated with workers on)", rep.RefNotifyW},
		{"notify, workers on (second server)", rep.NotifyWorkers},
		{"old ceiling: gin hello-world (own process)", rep.Hello},
		{"reference quote (own process)", rep.RefQuote},
		{"quotes POST /api/v1/quotes", rep.Quotes},
		{"ceiling: RSA-2048 signing, all cores", rep.Sign},
		{"reference order (own process, + prepay)", rep.RefOrder},
		{"orders POST /api/v1/orders (+prepay)", rep.Orders},
		{fmt.Sprintf("scale: raw notify tx, %s orders in tables", human(rep.ScaleSmallOrders)), rep.RawScaleSmall},
		{fmt.Sprintf("scale: notify, %s orders in tables", human(rep.ScaleSmallOrders)), rep.NotifyScaleSmall},
		{fmt.Sprintf("scale: raw notify tx, %s orders in tables", human(rep.BigOrders)), rep.RawBig},
		{fmt.Sprintf("scale: notify, %s orders in tables (second server)", human(rep.BigOrders)), rep.NotifyBig},
	}
	fmt.Fprintf(w, "\n## Scenarios\n\n")
	fmt.Fprintf(w, "| scenario | conc | ops/s | p50 | p99 | ok | errors | server CPU/op | server peak RSS |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range lines {
		r := l.r
		if r == nil {
			fmt.Fprintf(w, "| %s | | not run | | | | | | |\n", l.label)
			continue
		}
		cpu, rss := "–", "–"
		if r.Server != nil && r.OK > 0 {
			cpu = fmt.Sprintf("%.0f µs", r.Server.CPUSec/float64(r.OK+r.Errors)*1e6)
			rss = mb(r.Server.PeakRSSKB)
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %d | %d | %s | %s |\n", l.label, r.Concurrency, r.Rate(), ms(r.P(0.5)), ms(r.P(0.99)), r.OK, r.Errors, cpu, rss)
	}
	fmt.Fprintf(w, "\nWhere the CPU went (average cores busy during the measured time; the machine has %d):\n\n", m.CPUs)
	fmt.Fprintf(w, "| scenario | server | database | redis | bench (load generator) | other processes | busy | loadavg |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range lines {
		if r := l.r; r != nil {
			c := r.CPU
			fmt.Fprintf(w, "| %s, c=%d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |\n", l.label, r.Concurrency, c.Server, c.DB, c.Redis, c.Bench, c.Other, c.Total, c.LoadAvg)
		}
	}
	fmt.Fprintf(w, "\nRSA-2048 verifications on %d cores: %.0f/s.\n", m.CPUs, rep.Verify)
	if rep.SigsNote != "" {
		fmt.Fprintf(w, "Signatures per order: %.0f (%s).\n", rep.SigsPerOrder, rep.SigsNote)
	}

	if rep.Goroutines > 0 {
		fmt.Fprintf(w, "Server goroutines: %d before the orders runs, %d after them, with %d orders created by then (one per prepay call would be %d more).\n",
			rep.GoroutinesBefore, rep.Goroutines, rep.OrdersServed, rep.OrdersServed)
	}

	fmt.Fprintf(w, "\n## Targets\n\n| target | measured | want | result |\n|---|---|---|---|\n")
	for _, t := range targets(rep) {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.Name, t.Measured, t.Want, verdict(t))
	}
	if old := oldCeilings(rep); len(old) > 0 {
		fmt.Fprintf(w, "\nAgainst the old ceilings (no target):\n")
		for _, l := range old {
			fmt.Fprintf(w, "- %s\n", l)
		}
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintf(w, "\nNotes:\n")
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "- %s\n", strings.TrimSpace(n))
		}
	}
}
