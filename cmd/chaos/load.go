package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shebao/sipay/service"
)

// requestTimeout bounds every HTTP request; a request that takes longer
// counts as a hang.
const requestTimeout = 15 * time.Second

// clientPool holds HTTP clients bound to distinct loopback source addresses
// (127.0.0.10 ...), so the per-IP login rate limit sees many callers, as it
// would in production.
type clientPool struct{ clients []*http.Client }

func newClientPool(n int) *clientPool {
	p := &clientPool{}
	for i := 0; i < n; i++ {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(i/200), byte(10+i%200))}
		d := &net.Dialer{Timeout: 3 * time.Second, LocalAddr: local}
		tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second,
			ResponseHeaderTimeout: requestTimeout}
		p.clients = append(p.clients, &http.Client{Transport: tr, Timeout: requestTimeout})
	}
	return p
}

// reply is one HTTP answer (or transport error).
type reply struct {
	Status int
	Body   []byte
	Err    error
	Hang   bool // the request timed out
	// Replayed is set when the idempotency layer replayed a saved reply
	// (Idempotent-Replayed: true).
	Replayed bool
}

// ok reports a 2xx answer.
func (r reply) ok() bool { return r.Err == nil && r.Status >= 200 && r.Status < 300 }

// code returns the error envelope's code, or "".
func (r reply) code() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// retryable reports a transport error, 5xx, 429 or 409
// idempotency_in_progress: worth trying again after a pause.
func (r reply) retryable() bool {
	if r.Replayed {
		return false // the same key gives the same answer for 24 h
	}
	return r.Err != nil || r.Status >= 500 || r.Status == http.StatusTooManyRequests ||
		r.Status == http.StatusConflict && r.code() == "idempotency_in_progress"
}

// stats counts outcomes of requests to the server, by class.
type stats struct {
	mu      sync.Mutex
	classes map[string]int
	samples map[string]string // first body seen per class, for the report
}

func newStats() *stats { return &stats{classes: map[string]int{}, samples: map[string]string{}} }

// classify names an outcome: "2xx", "4xx <code>", "503 <code>", "500 <code>",
// "5xx without envelope", "refused", "reset", "hang", "transport".
func classify(r reply) string {
	switch {
	case r.Hang:
		return "hang"
	case r.Err != nil && errors.Is(r.Err, syscall.ECONNREFUSED):
		return "refused"
	case r.Err != nil && (errors.Is(r.Err, syscall.ECONNRESET) || errors.Is(r.Err, io.EOF) || errors.Is(r.Err, io.ErrUnexpectedEOF) ||
		strings.Contains(r.Err.Error(), "EOF") || strings.Contains(r.Err.Error(), "connection reset")):
		return "reset"
	case r.Err != nil:
		return "transport"
	case r.Status < 300:
		return "2xx"
	case r.Status >= 500 && r.code() == "":
		return fmt.Sprintf("%d without envelope", r.Status)
	case r.Replayed:
		return fmt.Sprintf("%d %s (replayed)", r.Status, r.code())
	default:
		return fmt.Sprintf("%d %s", r.Status, r.code())
	}
}

func (s *stats) add(r reply) {
	c := classify(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.classes[c]++
	if _, ok := s.samples[c]; !ok && r.Status >= 500 {
		b := string(r.Body)
		if len(b) > 300 {
			b = b[:300] + "…"
		}
		s.samples[c] = b
	}
}

// snapshot returns the counts.
func (s *stats) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.classes))
	for k, v := range s.classes {
		out[k] = v
	}
	return out
}

// String lists the classes, most frequent first.
func (s *stats) String() string {
	m := s.snapshot()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// load drives simulated customers against one or more servers.
type load struct {
	servers func() []string // base URLs to spread requests over
	simURL  string
	pool    *clientPool
	st      *stats
	seed    int64
	runID   string

	next       atomic.Int64 // customer counter
	customers  atomic.Int64
	paid       atomic.Int64
	abandoned  atomic.Int64
	cancelled  atomic.Int64
	replays    atomic.Int64
	secondPays atomic.Int64

	mu         sync.Mutex
	violations []string
}

func (l *load) violate(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.violations) < 50 {
		l.violations = append(l.violations, fmt.Sprintf(format, args...))
	}
}

// run starts workers that each run customers until ctx ends.
func (l *load) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil {
				n := l.next.Add(1)
				c := &customer{l: l, n: n, rng: rand.New(rand.NewPCG(uint64(l.seed), uint64(n))),
					hc: l.pool.clients[int(n)%len(l.pool.clients)]}
				c.run(ctx)
			}
		}(w)
	}
	wg.Wait()
}

// customer is one simulated person going through the product.
type customer struct {
	l     *load
	n     int64
	rng   *rand.Rand
	hc    *http.Client
	token string
	code  string
}

// names are given names that carry no simulator marker.
var (
	surnames = []string{"张", "王", "李", "赵", "陈", "刘", "杨", "黄", "周", "吴"}
	given    = []string{"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "涛", "明"}
)

// residentID builds a valid 18-digit resident ID (GB 11643, MOD 11-2) for
// customer n: Nanjing area code, a birth date and sequence derived from n.
func residentID(seed, n int64) string {
	birth := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int((n*37+seed)%10000))
	body := fmt.Sprintf("320102%s%03d", birth.Format("20060102"), n%1000)
	return service.CompleteResidentID(body)
}

// currentMonth is the month in Asia/Shanghai, as the server computes it.
func currentMonth() string {
	return service.Month(time.Now())
}

// do sends one request to a server (or to url when it is absolute) and
// records the outcome when it went to a server.
func (c *customer) do(ctx context.Context, method, path string, body any, hdr ...string) reply {
	url, toServer := path, false
	if !strings.HasPrefix(path, "http") {
		srv := c.l.servers()
		url, toServer = srv[c.rng.IntN(len(srv))]+path, true
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" && toServer {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	var r reply
	if err != nil {
		r = reply{Err: err}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			r.Hang = true
		}
	} else {
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		r = reply{Status: resp.StatusCode, Body: b, Err: rerr, Replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
	}
	if toServer && ctx.Err() == nil {
		c.l.st.add(r)
	}
	return r
}

// try repeats a request while it fails in a retryable way, for at most
// limit, pausing 150-400 ms between attempts. A 401 logs in again once per
// attempt.
func (c *customer) try(ctx context.Context, limit time.Duration, method, path string, body any, hdr ...string) reply {
	deadline := time.Now().Add(limit)
	var r reply
	for attempt := 0; attempt < 200; attempt++ {
		r = c.do(ctx, method, path, body, hdr...)
		if r.Status == http.StatusUnauthorized && c.code != "" && !strings.Contains(path, "/auth/login") {
			// The session was lost (Redis flushed): log in again.
			c.login(ctx)
		} else if !r.retryable() {
			return r
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return r
		}
		pause := time.Duration(150+c.rng.IntN(250)) * time.Millisecond
		select {
		case <-ctx.Done():
			return r
		case <-time.After(pause):
		}
	}
	return r
}

func decode[T any](r reply) (T, bool) {
	var v T
	if !r.ok() {
		return v, false
	}
	return v, json.Unmarshal(r.Body, &v) == nil
}

func (c *customer) login(ctx context.Context) bool {
	r := c.try(ctx, 20*time.Second, "POST", "/api/v1/auth/login", map[string]string{"code": c.code})
	v, ok := decode[struct {
		Token string `json:"token"`
	}](r)
	if ok {
		c.token = v.Token
	}
	return ok
}

type createdOrder struct {
	OrderNo   string            `json:"order_no"`
	PaySeq    int               `json:"pay_seq"`
	PayParams service.PayParams `json:"pay_params"`
	Batches   []struct {
		Seq        int    `json:"seq"`
		OutTradeNo string `json:"out_trade_no"`
		Status     string `json:"status"`
	} `json:"batches"`
}

// run is one customer's visit: log in, verify the face, quote, order (with
// an Idempotency-Key, resent on failure), pay through the simulated
// wx.requestPayment, look at the order; some abandon, cancel, replay the
// order request or pay the same month twice (the second is refused by the
// platform and refunded); some are not insured (refunded).
func (c *customer) run(ctx context.Context) {
	l := c.l
	l.customers.Add(1)
	c.code = fmt.Sprintf("chaos-%s-%d", l.runID, c.n)
	if !c.login(ctx) {
		return
	}
	name := surnames[c.rng.IntN(len(surnames))] + given[c.rng.IntN(len(given))]
	if c.rng.IntN(100) < 15 {
		name = surnames[c.rng.IntN(len(surnames))] + "未参保"
	}
	id := residentID(l.seed, c.n)
	start := c.try(ctx, 20*time.Second, "POST", "/api/v1/identity/face/start",
		map[string]string{"name": name, "id_type": "resident_id", "id_number": id})
	sv, ok := decode[struct {
		VerifyID string `json:"verify_id"`
	}](start)
	if !ok {
		return
	}
	if r := c.try(ctx, 20*time.Second, "POST", "/api/v1/identity/face/result", map[string]string{"verify_id": sv.VerifyID}); !r.ok() {
		return
	}
	orders := 1
	if c.rng.IntN(100) < 15 {
		orders = 2 // the same month twice: one is booked, the other refunded
	}
	for i := 0; i < orders && ctx.Err() == nil; i++ {
		c.order(ctx, i > 0)
	}
}

// order quotes the current month, creates the order and pays it.
func (c *customer) order(ctx context.Context, second bool) {
	l := c.l
	// Beijing accepts face verification (Jiangsu takes only the e-card
	// password) and bounds 2026 bases at 7270–36348 yuan.
	ins := []map[string]any{{"type": "pension", "base_fen": 800000 + 100000*c.rng.IntN(4)}}
	if c.rng.IntN(2) == 0 {
		ins = append(ins, map[string]any{"type": "medical", "base_fen": 800000})
	}
	q := c.try(ctx, 20*time.Second, "POST", "/api/v1/quotes", map[string]any{"region": "beijing", "person": "self",
		"insurances": ins, "start_month": currentMonth(), "months": 1})
	qv, ok := decode[struct {
		ID string `json:"id"`
	}](q)
	if !ok {
		return
	}
	key := fmt.Sprintf("chaos-%s-%d-%d", l.runID, c.n, c.rng.Uint32())
	body := map[string]string{"quote_id": qv.ID}
	// After a kill -9 the key stays "in progress" (409) until its Redis lock
	// expires (a minute): the customer gives up after a few seconds and the
	// unpaid order expires.
	r := c.try(ctx, 8*time.Second, "POST", "/api/v1/orders", body, "Idempotency-Key", key)
	o, ok := decode[createdOrder](r)
	if !ok || o.OrderNo == "" {
		return
	}
	if c.rng.IntN(100) < 20 {
		// Resend the same request: Stripe rules say the same order comes back.
		l.replays.Add(1)
		again := c.try(ctx, 8*time.Second, "POST", "/api/v1/orders", body, "Idempotency-Key", key)
		if o2, ok := decode[createdOrder](again); ok && o2.OrderNo != o.OrderNo {
			l.violate("idempotency: key %s gave order %s, then %s", key, o.OrderNo, o2.OrderNo)
		}
	}
	switch n := c.rng.IntN(100); {
	case n < 8:
		l.abandoned.Add(1)
		return
	case n < 14:
		l.cancelled.Add(1)
		c.try(ctx, 20*time.Second, "POST", "/api/v1/orders/"+o.OrderNo+"/cancel", nil)
		return
	}
	pp := o.PayParams
	if pp.Package == "" {
		// A replayed answer may carry no pay params: ask to pay the batch.
		p := c.try(ctx, 20*time.Second, "POST", fmt.Sprintf("/api/v1/orders/%s/batches/%d/pay", o.OrderNo, max(o.PaySeq, 1)), nil)
		pv, ok := decode[struct {
			PayParams service.PayParams `json:"pay_params"`
		}](p)
		if !ok {
			return
		}
		pp = pv.PayParams
	}
	if c.rng.IntN(100) < 40 {
		// The payer hesitates in the WeChat cashier: payments (and their
		// notifications) then also land while a server is down.
		if !sleepCtx(ctx, time.Duration(200+c.rng.IntN(2300))*time.Millisecond) {
			return
		}
	}
	pay := c.try(ctx, 10*time.Second, "POST", l.simURL+"/sim/pay/request-payment", pp)
	if !pay.ok() {
		return
	}
	l.paid.Add(1)
	if second {
		l.secondPays.Add(1)
	}
	for i := 0; i < 2 && ctx.Err() == nil; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(200+c.rng.IntN(600)) * time.Millisecond):
		}
		c.try(ctx, 10*time.Second, "GET", "/api/v1/orders/"+o.OrderNo, nil)
	}
}

// summary describes the load so far.
func (l *load) summary() string {
	return fmt.Sprintf("customers=%d paid=%d (second orders for a paid month %d) abandoned=%d cancelled=%d idempotent-replays=%d",
		l.customers.Load(), l.paid.Load(), l.secondPays.Load(), l.abandoned.Load(), l.cancelled.Load(), l.replays.Load())
}

// probe is one small end-to-end check (a fresh login and GET /me) used to
// measure recovery.
func probe(ctx context.Context, hc *http.Client, base, code string) bool {
	c := &customer{l: &load{servers: func() []string { return []string{base} }, st: newStats()}, hc: hc,
		rng: rand.New(rand.NewPCG(1, 2))}
	c.code = code
	r := c.do(ctx, "POST", "/api/v1/auth/login", map[string]string{"code": code})
	v, ok := decode[struct {
		Token string `json:"token"`
	}](r)
	if !ok {
		return false
	}
	c.token = v.Token
	return c.do(ctx, "GET", "/api/v1/me", nil).ok()
}

// waitRecovered probes until one succeeds or limit passes; it returns the
// time taken.
func waitRecovered(ctx context.Context, hc *http.Client, base, prefix string, limit time.Duration) (time.Duration, bool) {
	t0 := time.Now()
	for i := 0; time.Since(t0) < limit && ctx.Err() == nil; i++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok := probe(pctx, hc, base, prefix+"-"+strconv.Itoa(i))
		cancel()
		if ok {
			return time.Since(t0), true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(t0), false
}
