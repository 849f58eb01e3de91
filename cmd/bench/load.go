package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// errExhausted tells the load generator that a worker has no more work (a
// finite pool of pre-signed notifications ran out); the run ends early and
// the figures cover the time actually run.
var errExhausted = errors.New("work pool exhausted")

// op is one request (or one raw transaction). It returns nil on success.
type op func(ctx context.Context, worker int) error

// result is what one load run measured.
type result struct {
	Name        string
	Concurrency int
	OK          int
	Errors      int
	FirstErr    error
	Elapsed     time.Duration
	Latencies   []time.Duration // successful ops, sorted
	Exhausted   bool            // the work pool ran out before the duration
	Server      *procStats      // server child figures, when there is one
	CPU         cpuUse          // where the machine's CPU went during the run
	Rounds      int             // rounds merged into this result
}

// Rate is successful operations per second.
func (r *result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// P returns the q-quantile (0..1) of the successful latencies.
func (r *result) P(q float64) time.Duration { return percentile(r.Latencies, q) }

// percentile returns the nearest-rank q-quantile of sorted durations: the
// smallest value such that at least q of the samples are at or below it. It
// returns 0 for no samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if q <= 0 {
		return sorted[0]
	}
	if q >= 1 {
		return sorted[n-1]
	}
	rank := int(q*float64(n) + 0.999999999) // ceil(q·n), robust to float noise
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// runLoad runs f from conc goroutines for dur, or until the work runs out,
// and measures every operation that started in that time.
func runLoad(ctx context.Context, name string, conc int, dur time.Duration, f op) *result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu        sync.Mutex
		res       = &result{Name: name, Concurrency: conc}
		wg        sync.WaitGroup
		exhausted bool
	)
	start := time.Now()
	deadline := start.Add(dur)
	var lastEnd time.Time
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			ok, bad := 0, 0
			var firstErr error
			var end time.Time
			for {
				t0 := time.Now()
				if !t0.Before(deadline) || ctx.Err() != nil {
					break
				}
				err := f(ctx, w)
				t1 := time.Now()
				if errors.Is(err, errExhausted) {
					mu.Lock()
					exhausted = true
					mu.Unlock()
					cancel()
					break
				}
				end = t1
				if err != nil {
					if ctx.Err() != nil {
						break // cancelled with the run, not a failure
					}
					bad++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				ok++
				lat = append(lat, t1.Sub(t0))
			}
			mu.Lock()
			res.OK += ok
			res.Errors += bad
			if res.FirstErr == nil {
				res.FirstErr = firstErr
			}
			res.Latencies = append(res.Latencies, lat...)
			if end.After(lastEnd) {
				lastEnd = end
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	res.Exhausted = exhausted
	if lastEnd.After(start) {
		res.Elapsed = lastEnd.Sub(start)
	}
	sort.Slice(res.Latencies, func(i, j int) bool { return res.Latencies[i] < res.Latencies[j] })
	return res
}

// merge adds the rounds of one scenario together: counts and time add up,
// latencies are pooled, server peaks are the highest, CPU use is weighted by
// time.
func merge(rs []*result) *result {
	if len(rs) == 0 {
		return nil
	}
	out := &result{Name: rs[0].Name, Concurrency: rs[0].Concurrency}
	var cpu cpuUse
	for _, r := range rs {
		out.OK += r.OK
		out.Errors += r.Errors
		if out.FirstErr == nil {
			out.FirstErr = r.FirstErr
		}
		out.Elapsed += r.Elapsed
		out.Latencies = append(out.Latencies, r.Latencies...)
		out.Exhausted = out.Exhausted || r.Exhausted
		if r.Server != nil {
			if out.Server == nil {
				out.Server = &procStats{}
			}
			out.Server.PeakRSSKB = max(out.Server.PeakRSSKB, r.Server.PeakRSSKB)
			out.Server.HWMKB = max(out.Server.HWMKB, r.Server.HWMKB)
			out.Server.EndRSSKB = r.Server.EndRSSKB
			out.Server.CPUSec += r.Server.CPUSec
		}
		w := r.Elapsed.Seconds()
		cpu.Server += r.CPU.Server * w
		cpu.DB += r.CPU.DB * w
		cpu.Redis += r.CPU.Redis * w
		cpu.Bench += r.CPU.Bench * w
		cpu.Other += r.CPU.Other * w
		cpu.Total += r.CPU.Total * w
		cpu.LoadAvg = r.CPU.LoadAvg
	}
	if t := out.Elapsed.Seconds(); t > 0 {
		cpu.Server, cpu.DB, cpu.Redis, cpu.Bench, cpu.Other, cpu.Total = cpu.Server/t, cpu.DB/t, cpu.Redis/t, cpu.Bench/t, cpu.Other/t, cpu.Total/t
	}
	out.CPU = cpu
	out.Rounds = len(rs)
	sort.Slice(out.Latencies, func(i, j int) bool { return out.Latencies[i] < out.Latencies[j] })
	return out
}

// newHTTPClient returns a client for loopback load: keep-alive connections,
// one per worker, no proxy from the environment, no compression.
func newHTTPClient(conc int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conc * 2,
			MaxIdleConnsPerHost: conc * 2,
			MaxConnsPerHost:     0,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// statusError is an unexpected HTTP answer.
type statusError struct {
	Status int
	Body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// do sends req and checks the status is want (0: any 2xx); the body is read
// fully so the connection is reused, and returned.
func do(c *http.Client, req *http.Request, want int) ([]byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if (want == 0 && resp.StatusCode/100 != 2) || (want != 0 && resp.StatusCode != want) {
		if len(body) > 300 {
			body = body[:300]
		}
		return body, &statusError{Status: resp.StatusCode, Body: string(body)}
	}
	return body, nil
}
