package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/app/apptest"
)

// flowServer is the fully wired app (SIMULATOR=on, embedded SQLite,
// in-process Redis) on a real loopback listener with its workers running,
// so WeChat Pay's notifications and the platform's callbacks arrive.
type flowServer struct {
	base  string
	app   *app.App
	http  *http.Client
	token string
}

// startFlowServer boots the app with env on top of DATA_DIR and
// PUBLIC_BASE_URL; everything stops at cleanup.
func startFlowServer(t *testing.T, env map[string]string, rt func(http.RoundTripper) http.RoundTripper) *flowServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	all := map[string]string{"PUBLIC_BASE_URL": base}
	for k, v := range env {
		all[k] = v
	}
	a := apptest.New(t, apptest.Options{Env: all})
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	ctx, stop := context.WithCancel(context.Background())
	wait := a.Start(ctx)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		stop()
		wait()
	})
	var tr http.RoundTripper = http.DefaultTransport
	if rt != nil {
		tr = rt(tr)
	}
	return &flowServer{base: base, app: a, http: &http.Client{Timeout: 20 * time.Second, Transport: tr}}
}

type jsonObj = map[string]any

// call sends a request (body marshalled to JSON unless it is a string) and
// fails the test unless the status is want.
func (f *flowServer) call(t *testing.T, method, path string, body any, want int, headers ...string) jsonObj {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, f.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := f.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	var out jsonObj
	json.Unmarshal(raw, &out)
	return out
}

func (f *flowServer) as(token string) *flowServer { c := *f; c.token = token; return &c }

func jstr(m jsonObj, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, _ := cur.(map[string]any)
		cur = mm[p]
	}
	switch v := cur.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func jlist(m jsonObj, key string) []jsonObj {
	arr, _ := m[key].([]any)
	var out []jsonObj
	for _, v := range arr {
		if o, ok := v.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

var flowSeq struct {
	sync.Mutex
	n int
}

func flowID() string {
	flowSeq.Lock()
	defer flowSeq.Unlock()
	flowSeq.n++
	return fmt.Sprintf("%d-%d", time.Now().UnixNano(), flowSeq.n)
}

// runMainFlow walks what a mini-program and operations do, with the
// documented error replies of each step: login, face verification, regions,
// insured status, pension estimate, quote, order (with Idempotency-Key
// replay, mismatch and conflicts), payment in the simulator, the verified
// notification, posting, vouchers, another order paid and one cancelled,
// and the operations API. It returns the posted order number.
func runMainFlow(t *testing.T, f *flowServer) string {
	t.Helper()
	anon := f.as("")
	anon.call(t, "GET", "/healthz", nil, 200)
	anon.call(t, "GET", "/readyz", nil, 200)
	anon.call(t, "POST", "/api/v1/auth/login", jsonObj{"code": "invalid-" + flowID()}, 400)
	anon.call(t, "POST", "/api/v1/auth/login", `{"code":`, 400)
	anon.call(t, "GET", "/api/v1/me", nil, 401)

	// The platform simulator derives each person from the ID number; take
	// one insured for pension and medical (Beijing bundles them).
	var u *flowServer
	var prof jsonObj
	for attempt := 0; ; attempt++ {
		login := anon.call(t, "POST", "/api/v1/auth/login", jsonObj{"code": "flow-" + flowID()}, 200)
		u = f.as(jstr(login, "token"))
		u.call(t, "GET", "/api/v1/me", nil, 200)
		u.call(t, "PATCH", "/api/v1/me", jsonObj{"care_mode": true}, 200)
		u.call(t, "POST", "/api/v1/identity/face/start", jsonObj{"name": "张三", "id_type": "resident_id", "id_number": "110105198803120019"}, 400)
		id := residentID(fmt.Sprintf("110105198%d0312%03d", attempt%10, (time.Now().Nanosecond()/1000+attempt)%1000))
		st := u.call(t, "POST", "/api/v1/identity/face/start", jsonObj{"name": "张三", "id_type": "resident_id", "id_number": id}, 200)
		u.call(t, "POST", "/api/v1/identity/face/result", jsonObj{"verify_id": ""}, 400)
		u.call(t, "POST", "/api/v1/identity/face/result", jsonObj{"verify_id": jstr(st, "verify_id")}, 200)
		prof = u.call(t, "GET", "/api/v1/insured?region=beijing&person=self", nil, 200)
		active := 0
		for _, i := range jlist(prof, "insurances") {
			if jstr(i, "status") == "active" {
				active++
			}
		}
		if active == 2 {
			break
		}
		if attempt == 10 {
			t.Fatalf("no simulated person insured for pension and medical in 10 tries")
		}
	}
	u.call(t, "GET", "/api/v1/insured?region=nowhere&person=self", nil, 400)
	u.call(t, "GET", "/api/v1/insured?region=beijing&person=999999", nil, 404)
	anon.call(t, "GET", "/api/v1/regions", nil, 200)
	anon.call(t, "GET", "/api/v1/regions/beijing", nil, 200)
	anon.call(t, "GET", "/api/v1/regions/nowhere", nil, 404)
	anon.call(t, "GET", "/api/v1/pension/estimate?region=beijing&current_age=40&retirement_age=60&years_paid=10&planned_years=20&base_ratio_bp=10000", nil, 200)
	anon.call(t, "GET", "/api/v1/pension/estimate?region=beijing", nil, 400)

	month := jstr(prof, "current_month")
	quoteBody := jsonObj{"region": "beijing", "person": "self", "start_month": month, "months": 1,
		"insurances": []jsonObj{{"type": "pension", "base_fen": 800000}, {"type": "medical", "base_fen": 800000}}}
	u.call(t, "POST", "/api/v1/quotes", jsonObj{"region": "beijing", "person": "self", "start_month": "2001-01", "months": 1,
		"insurances": []jsonObj{{"type": "pension", "base_fen": 800000}, {"type": "medical", "base_fen": 800000}}}, 400) // start_in_past
	u.call(t, "POST", "/api/v1/quotes", jsonObj{"region": "beijing", "surprise": 1}, 400)
	q := u.call(t, "POST", "/api/v1/quotes", quoteBody, 201)
	u.call(t, "GET", "/api/v1/quotes/"+jstr(q, "id"), nil, 200)
	u.call(t, "GET", "/api/v1/quotes/Qnothere", nil, 404)

	key := "flow-" + flowID()
	u.call(t, "POST", "/api/v1/orders", jsonObj{"quote_id": jstr(q, "id")}, 400) // no Idempotency-Key
	u.call(t, "POST", "/api/v1/orders", jsonObj{"quote_id": "Qnothere"}, 404, "Idempotency-Key", "flow-"+flowID())
	o := u.call(t, "POST", "/api/v1/orders", jsonObj{"quote_id": jstr(q, "id")}, 201, "Idempotency-Key", key)
	if again := u.call(t, "POST", "/api/v1/orders", jsonObj{"quote_id": jstr(q, "id")}, 201, "Idempotency-Key", key); jstr(again, "order_no") != jstr(o, "order_no") {
		t.Fatalf("the same Idempotency-Key gave order %s then %s", jstr(o, "order_no"), jstr(again, "order_no"))
	}
	u.call(t, "POST", "/api/v1/orders", jsonObj{"quote_id": "Qother"}, 422, "Idempotency-Key", key)
	u.call(t, "POST", "/api/v1/orders", jsonObj{"quote_id": jstr(q, "id")}, 409, "Idempotency-Key", "flow-"+flowID())
	orderNo := jstr(o, "order_no")
	u.call(t, "POST", "/api/v1/orders/"+orderNo+"/batches/1/pay", nil, 200)
	u.call(t, "GET", "/api/v1/orders", nil, 200)
	u.call(t, "GET", "/api/v1/orders/SInothere", nil, 404)

	pp, _ := o["pay_params"].(map[string]any)
	anon.call(t, "POST", "/sim/pay/request-payment", pp, 200)
	order := waitOrder(t, u, orderNo, "posted")
	// Vouchers follow acceptance through their own jobs: wait for all three.
	var vs jsonObj
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		vs = u.call(t, "GET", "/api/v1/orders/"+orderNo+"/vouchers", nil, 200)
		n := len(jlist(vs, "vouchers"))
		if n == 3 {
			break
		}
		if n > 3 || time.Now().After(deadline) {
			t.Fatalf("%d vouchers, want 3", n)
		}
	}
	anon.call(t, "GET", "/api/v1/orders/"+orderNo+"/vouchers", nil, 401)
	code := jstr(jlist(vs, "vouchers")[0], "verify_code")
	anon.call(t, "GET", "/api/v1/vouchers/verify?code="+code, nil, 200)
	anon.call(t, "GET", "/api/v1/vouchers/verify?code=1.F.100.20260101.forged", nil, 400)

	// A second order, for next month (prepaid), left unpaid and cancelled.
	// While it is open, another order for that month is refused.
	cur, _ := time.Parse("2006-01", month)
	nextBody := jsonObj{"region": "beijing", "person": "self", "start_month": cur.AddDate(0, 1, 0).Format("2006-01"), "months": 1,
		"insurances": []jsonObj{{"type": "pension", "base_fen": 800000}, {"type": "medical", "base_fen": 800000}}}
	q2 := u.call(t, "POST", "/api/v1/quotes", nextBody, 201)
	o2 := u.call(t, "POST", "/api/v1/orders", jsonObj{"quote_id": jstr(q2, "id")}, 201, "Idempotency-Key", "flow-"+flowID())
	q3 := u.call(t, "POST", "/api/v1/quotes", nextBody, 201)
	if e := u.call(t, "POST", "/api/v1/orders", jsonObj{"quote_id": jstr(q3, "id")}, 409, "Idempotency-Key", "flow-"+flowID()); !strings.Contains(fmt.Sprint(e), jstr(o2, "order_no")) {
		t.Fatalf("a second open order for the month: %v, want 409 naming %s", e, jstr(o2, "order_no"))
	}
	u.call(t, "POST", "/api/v1/orders/"+jstr(o2, "order_no")+"/cancel", nil, 200)
	u.call(t, "POST", "/api/v1/orders/SInothere/cancel", nil, 404)

	admin := f.as(f.app.Cfg.AdminToken)
	anon.call(t, "GET", "/api/v1/admin/holds", nil, 401)
	admin.call(t, "GET", "/api/v1/admin/holds", nil, 200)
	admin.call(t, "GET", "/api/v1/admin/alerts", nil, 200)
	admin.call(t, "GET", "/api/v1/admin/orders/"+orderNo, nil, 200)
	admin.call(t, "GET", "/api/v1/admin/orders/SInothere", nil, 404)
	admin.call(t, "GET", "/api/v1/admin/recon", nil, 400)
	admin.call(t, "POST", "/api/v1/admin/holds/nothere/release", nil, 404)
	anon.call(t, "GET", "/sim/clock", nil, 200)
	// The simulator's own routes answer bad input in the one envelope too.
	for body, code := range map[string]string{`{"duration":"soon"}`: "invalid_duration", `{"duration":"-1h"}`: "invalid_duration", `[`: "invalid_json"} {
		bad := anon.call(t, "POST", "/sim/clock/advance", body, 400)
		e, _ := bad["error"].(map[string]any)
		if e["code"] != code || e["request_id"] == "" || e["request_id"] == nil {
			t.Fatalf("POST /sim/clock/advance %s: error %v, want code %s with a request_id", body, bad["error"], code)
		}
	}
	_ = order
	return orderNo
}

// waitOrder polls the order until its status is want.
func waitOrder(t *testing.T, u *flowServer, orderNo, want string) jsonObj {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		o := u.call(t, "GET", "/api/v1/orders/"+orderNo, nil, 200)
		if jstr(o, "status") == want {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s is %s after 60 s, want %s", orderNo, jstr(o, "status"), want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
