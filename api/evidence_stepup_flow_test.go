package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/evidence"
)

// TestStepUpAndEvidenceOverHTTP walks the two beyond-the-peers features
// against the real app (simulators, workers) and checks every reply against
// docs/openapi.yaml: the evidence bundle of a posted payment verifies
// offline; a payer's second payment of the day is held (velocity 1), the
// order view offers step-up, and a pass releases it to posting.
func TestStepUpAndEvidenceOverHTTP(t *testing.T) {
	checker := newSpecChecker(t, loadSpec(t, "../docs/openapi.yaml"))
	f := startFlowServer(t, map[string]string{"HOLD_VELOCITY_PER_DAY": "1"}, checker.wrap)
	anon := f.as("")
	var u *flowServer
	var month string
	for attempt := 0; ; attempt++ {
		login := anon.call(t, "POST", "/api/v1/auth/login", jsonObj{"code": "ev-" + flowID()}, 200)
		u = f.as(jstr(login, "token"))
		id := residentID(fmt.Sprintf("110105198%d0312%03d", attempt%10, (time.Now().Nanosecond()/1000+attempt)%1000))
		st := u.call(t, "POST", "/api/v1/identity/face/start", jsonObj{"name": "张三", "id_type": "resident_id", "id_number": id}, 200)
		u.call(t, "POST", "/api/v1/identity/face/result", jsonObj{"verify_id": jstr(st, "verify_id")}, 200)
		prof := u.call(t, "GET", "/api/v1/insured?region=beijing&person=self", nil, 200)
		active := 0
		for _, i := range jlist(prof, "insurances") {
			if jstr(i, "status") == "active" {
				active++
			}
		}
		if month = jstr(prof, "current_month"); active == 2 {
			break
		}
		if attempt == 10 {
			t.Fatalf("no simulated person insured for pension and medical in 10 tries")
		}
	}
	pay := func(m string) string {
		q := u.call(t, "POST", "/api/v1/quotes", jsonObj{"region": "beijing", "person": "self", "start_month": m, "months": 1,
			"insurances": []jsonObj{{"type": "pension", "base_fen": 800000}, {"type": "medical", "base_fen": 800000}}}, 201)
		o := u.call(t, "POST", "/api/v1/orders", jsonObj{"quote_id": jstr(q, "id")}, 201, "Idempotency-Key", "ev-"+flowID())
		pp, _ := o["pay_params"].(map[string]any)
		anon.call(t, "POST", "/sim/pay/request-payment", pp, 200)
		return jstr(o, "order_no")
	}

	first := pay(month)
	waitOrder(t, u, first, "posted")
	var code string
	for deadline := time.Now().Add(60 * time.Second); code == "" || len(jlist(u.call(t, "GET", "/api/v1/orders/"+first+"/vouchers", nil, 200), "vouchers")) < 3; time.Sleep(200 * time.Millisecond) {
		if vs := jlist(u.call(t, "GET", "/api/v1/orders/"+first+"/vouchers", nil, 200), "vouchers"); len(vs) > 0 {
			code = jstr(vs[0], "verify_code")
		}
		if time.Now().After(deadline) {
			t.Fatalf("no vouchers after 60 s")
		}
	}
	// The evidence worker records the batch within seconds.
	var bundle evidence.Bundle
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		r, raw := u.raw(t, "GET", "/api/v1/evidence/"+code)
		if r == http.StatusOK {
			if err := json.Unmarshal(raw, &bundle); err != nil {
				t.Fatal(err)
			}
			break
		}
		if r != http.StatusNotFound || !strings.Contains(string(raw), "evidence_not_found") || time.Now().After(deadline) {
			t.Fatalf("evidence: %d %s", r, raw)
		}
	}
	// The key verifiers pin is the server's, not the one in the bundle.
	pub := f.app.After.Evidence.PublicKey()
	admin := f.as(f.app.Cfg.AdminToken)
	admin.call(t, "POST", "/api/v1/admin/evidence/tree-heads", nil, 200)
	_, raw := admin.raw(t, "POST", "/api/v1/admin/evidence/tree-heads")
	var head evidence.TreeHead
	if err := json.Unmarshal(raw, &head); err != nil || head.Size < 1 || evidence.VerifyHead(head, pub) != nil {
		t.Fatalf("admin tree head %s (%v): want a signed head of the log", raw, err)
	}
	r, err := evidence.Verify(bundle, pub)
	if err != nil {
		t.Fatalf("bundle does not verify offline: %v", err)
	}
	if r.OrderNo != first || r.TransactionID == "" || r.PlatformReference == "" || len(r.Vouchers) != 3 {
		t.Fatalf("record %+v, want order %s with its transaction, reference and 3 vouchers", r, first)
	}
	u.call(t, "GET", "/api/v1/evidence/1.F.100.20260101.forged", nil, 400)
	u.call(t, "GET", "/api/v1/evidence/"+code+"?since=0", nil, 400)
	var grown evidence.Bundle
	if _, raw := u.raw(t, "GET", "/api/v1/evidence/"+code+"?since=1"); json.Unmarshal(raw, &grown) != nil || grown.Consistency == nil ||
		evidence.VerifyConsistency(bundle.TreeHead, grown.TreeHead, grown.Consistency.Proof, pub) != nil {
		t.Fatalf("since=1: %s, want a consistency proof from the first head", raw)
	}
	anon.call(t, "GET", "/api/v1/evidence/"+code, nil, 401)
	anon.call(t, "POST", "/api/v1/admin/evidence/tree-heads", nil, 401)
	// A batch never held has no hold to step up.
	u.call(t, "POST", "/api/v1/orders/"+first+"/batches/1/step-up", nil, 404)

	cur, _ := time.Parse("2006-01", month)
	second := pay(cur.AddDate(0, 1, 0).Format("2006-01"))
	o := waitOrder(t, u, second, "held")
	choice, _ := jlist(o, "batches")[0]["hold_choice"].(map[string]any)
	if jstr(choice, "choice") != "step_up" || jstr(choice, "attempts_left") != "3" {
		t.Fatalf("hold_choice %v, want step_up with 3 attempts", choice)
	}
	st := u.call(t, "POST", "/api/v1/orders/"+second+"/batches/1/step-up", nil, 200)
	u.call(t, "POST", "/api/v1/orders/"+second+"/batches/1/step-up/result", jsonObj{"verify_id": ""}, 400)
	u.call(t, "POST", "/api/v1/orders/"+second+"/batches/1/step-up/result", jsonObj{"verify_id": "vid-nothere"}, 404)
	res := u.call(t, "POST", "/api/v1/orders/"+second+"/batches/1/step-up/result", jsonObj{"verify_id": jstr(st, "verify_id")}, 200)
	if jstr(res, "released") != "true" || jstr(res, "hold_status") != "released" {
		t.Fatalf("step-up result %v, want released", res)
	}
	u.call(t, "POST", "/api/v1/orders/"+second+"/batches/1/step-up", nil, 409) // hold_not_open
	waitOrder(t, u, second, "posted")

	checker.mu.Lock()
	defer checker.mu.Unlock()
	for _, e := range checker.errs {
		t.Error(e)
	}
	var missing []string
	for _, k := range []string{
		"GET /api/v1/evidence/{voucher_code} 200", "GET /api/v1/evidence/{voucher_code} 400", "GET /api/v1/evidence/{voucher_code} 401",
		"GET /api/v1/evidence/{voucher_code} 404", "POST /api/v1/admin/evidence/tree-heads 200", "POST /api/v1/admin/evidence/tree-heads 401",
		"POST /api/v1/orders/{order_no}/batches/{seq}/step-up 200", "POST /api/v1/orders/{order_no}/batches/{seq}/step-up 404",
		"POST /api/v1/orders/{order_no}/batches/{seq}/step-up 409", "POST /api/v1/orders/{order_no}/batches/{seq}/step-up/result 200",
		"POST /api/v1/orders/{order_no}/batches/{seq}/step-up/result 400", "POST /api/v1/orders/{order_no}/batches/{seq}/step-up/result 404",
	} {
		if !checker.seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("replies never produced (nothing checked for them):\n  %s", strings.Join(missing, "\n  "))
	}
}

// raw sends a request without a body and returns the status and raw reply.
func (f *flowServer) raw(t *testing.T, method, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	res, err := f.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, body
}
