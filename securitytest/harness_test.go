package securitytest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/app/apptest"
	"github.com/shebao/sipay/service"
)

// t0 is 2026-11-24 10:00 in China; the current month is 2026-11.
var t0 = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)

// env is the real App behind an httptest server.
type env struct {
	app   *app.App
	srv   *httptest.Server
	clock *service.ManualClock
	logs  *apptest.SyncBuffer
}

type envOptions struct {
	mysql   bool // MYSQL_DSN = a fresh database on TEST_MYSQL_DSN's server
	workers bool // run the background workers
	// simFront (optional) puts a proxy in front of the simulators: it gets
	// the simulator's URL and returns the base URL the clients use.
	simFront func(simURL string) string
	env      map[string]string // extra settings
}

// newEnv boots app.New in SIMULATOR mode on a temporary DATA_DIR with a
// manual clock and a debug-level JSON logger writing to a buffer.
func newEnv(tb testing.TB, o envOptions) *env {
	tb.Helper()
	e := &env{clock: service.NewManualClock(t0), logs: &apptest.SyncBuffer{}}
	var h atomic.Value // http.Handler, set once the App is built
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hh, _ := h.Load().(http.Handler)
		if hh == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		hh.ServeHTTP(w, r)
	}))
	tb.Cleanup(e.srv.Close)
	vars := map[string]string{
		"SIMULATOR":       "on",
		"PUBLIC_BASE_URL": e.srv.URL,
		"LOG_LEVEL":       "debug",
	}
	for k, v := range o.env {
		vars[k] = v
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := apptest.New(tb, apptest.Options{Env: vars, MySQL: o.mysql, Log: log, App: app.Options{Clock: e.clock, SimFront: o.simFront}})
	e.app = a
	h.Store(a.Handler)
	ctx, cancel := context.WithCancel(context.Background())
	wait := func() {}
	if o.workers {
		wait = a.Start(ctx)
	}
	tb.Cleanup(func() {
		cancel()
		wait()
		e.srv.Close() // no request may reach a closed App; apptest closes it next
	})
	return e
}

// server is the API router, for route listing.
func (e *env) server(tb testing.TB) *api.Server {
	tb.Helper()
	s, ok := e.app.Handler.(*api.Server)
	if !ok {
		tb.Fatalf("App.Handler is %T, want *api.Server", e.app.Handler)
	}
	return s
}

// reply is a decoded answer.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// str returns the string (or number, as text) at path in the body.
func (r reply) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func (r reply) code() string { return r.str("error", "code") }

// req is one HTTP request to the app.
type req struct {
	method, path, token string
	body                any // marshalled to JSON unless a string or []byte
	header              map[string]string
}

func (e *env) send(tb testing.TB, q req) reply {
	tb.Helper()
	var rd io.Reader = http.NoBody
	switch b := q.body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(q.method, e.srv.URL+q.path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	if q.token != "" {
		hr.Header.Set("Authorization", "Bearer "+q.token)
	}
	for k, v := range q.header {
		hr.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		tb.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: string(raw)}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	_ = dec.Decode(&r.body)
	return r
}

func (e *env) do(tb testing.TB, method, path, token string, body any) reply {
	tb.Helper()
	return e.send(tb, req{method: method, path: path, token: token, body: body})
}

// want fails unless r has status (and, when code is not empty, that error
// code).
func want(tb testing.TB, what string, r reply, status int, code string) {
	tb.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		tb.Fatalf("%s: got %d %q, want %d %q: %.400s", what, r.status, r.code(), status, code, r.raw)
	}
}

// login logs in with a simulator wx.login code and returns the token.
func (e *env) login(tb testing.TB, code string) string {
	tb.Helper()
	r := e.do(tb, "POST", "/api/v1/auth/login", "", map[string]string{"code": code})
	want(tb, "login "+code, r, http.StatusOK, "")
	tok := r.str("token")
	if tok == "" {
		tb.Fatalf("login %s: no token: %s", code, r.raw)
	}
	return tok
}

// faceStart starts face verification 2.0 and returns the verify_id.
func (e *env) faceStart(tb testing.TB, token, name, idNumber string) string {
	tb.Helper()
	r := e.do(tb, "POST", "/api/v1/identity/face/start", token, map[string]string{"name": name, "id_type": "resident_id", "id_number": idNumber})
	want(tb, "face start", r, http.StatusOK, "")
	return r.str("verify_id")
}

// verify runs face verification 2.0 to success and returns the verify_id.
func (e *env) verify(tb testing.TB, token, name, idNumber string) string {
	tb.Helper()
	id := e.faceStart(tb, token, name, idNumber)
	want(tb, "face result", e.do(tb, "POST", "/api/v1/identity/face/result", token, map[string]string{"verify_id": id}), http.StatusOK, "")
	return id
}

// residentID completes 17 digits with the GB 11643 check character.
var residentID = service.CompleteResidentID

// quoteBody is a one-month Jiangsu quote (free base) for person.
// quoteBody asks for Beijing, which accepts face or SMS verification (the
// people of these tests verify that way; Jiangsu takes only the e-card
// password).
func quoteBody(person string) map[string]any {
	return map[string]any{"region": "beijing", "person": person, "start_month": "2026-11", "months": 1,
		"insurances": []map[string]any{{"type": "pension", "base_fen": 727000}, {"type": "medical", "base_fen": 727000}}}
}

// order creates an order of quoteID and returns the reply.
func (e *env) order(tb testing.TB, token, quoteID, key string) reply {
	tb.Helper()
	r := e.send(tb, req{method: "POST", path: "/api/v1/orders", token: token, body: map[string]string{"quote_id": quoteID},
		header: map[string]string{"Idempotency-Key": key}})
	want(tb, "create order", r, http.StatusCreated, "")
	return r
}

// payInSimulator plays wx.requestPayment with the reply's pay_params and
// waits until the order shows the batch paid (the simulator's notification
// reached the app).
func (e *env) payInSimulator(tb testing.TB, token string, order reply) {
	tb.Helper()
	pp, _ := order.body["pay_params"].(map[string]any)
	params := service.PayParams{}
	for k, dst := range map[string]*string{"appId": &params.AppID, "timeStamp": &params.TimeStamp, "nonceStr": &params.NonceStr,
		"package": &params.Package, "signType": &params.SignType, "paySign": &params.PaySign} {
		*dst, _ = pp[k].(string)
	}
	if _, err := e.app.Sims.Pay.RequestPayment(params); err != nil {
		tb.Fatalf("simulator payment: %v", err)
	}
	no := order.str("order_no")
	deadline := time.Now().Add(20 * time.Second)
	for {
		d := e.do(tb, "GET", "/api/v1/orders/"+no, token, nil)
		batches, _ := d.body["batches"].([]any)
		if len(batches) > 0 {
			if b, _ := batches[0].(map[string]any); b["paid_at"] != nil {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("order %s not paid after the simulator's notification: %s", no, d.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStatus polls the caller's order until its status is one of want
// (the background workers post paid orders to the simulated platform).
func (e *env) waitStatus(tb testing.TB, token, orderNo string, want ...string) reply {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := e.do(tb, "GET", "/api/v1/orders/"+orderNo, token, nil)
		for _, w := range want {
			if r.str("status") == w {
				return r
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("order %s is %q after 30 s, want one of %v: %.400s", orderNo, r.str("status"), want, r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
