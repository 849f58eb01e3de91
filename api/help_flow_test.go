package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestHelpRoutesMatchTheDocument walks the customer-service routes against
// the real app (simulators, workers) and checks every reply against
// docs/openapi.yaml: FAQ search (normal and care mode), subscriptions with
// an acceptance played in the WeChat simulator, lapse reminders, a ticket
// answered by operations and the ticket_answered message delivered by the
// simulator.
func TestHelpRoutesMatchTheDocument(t *testing.T) {
	checker := newSpecChecker(t, loadSpec(t, "../docs/openapi.yaml"))
	f := startFlowServer(t, nil, checker.wrap)
	anon := f.as("")
	// The WeChat simulator's control routes are documented in
	// docs/simulator-openapi.yaml, not checked here.
	sim := f.as("")
	sim.http = &http.Client{Timeout: 10 * time.Second}
	code := "help-" + flowID()
	u := f.as(jstr(anon.call(t, "POST", "/api/v1/auth/login", jsonObj{"code": code}, 200), "token"))
	id := residentID(fmt.Sprintf("110105198%d0312%03d", 7, time.Now().Nanosecond()/1000%1000))
	st := u.call(t, "POST", "/api/v1/identity/face/start", jsonObj{"name": "张三", "id_type": "resident_id", "id_number": id}, 200)
	u.call(t, "POST", "/api/v1/identity/face/result", jsonObj{"verify_id": jstr(st, "verify_id")}, 200)

	q := url.QueryEscape("刷脸老是不通过")
	full := u.call(t, "GET", "/api/v1/help/search?q="+q, nil, 200)
	if a := jlist(full, "answers"); len(a) == 0 || jstr(a[0], "id") != "face_failed" {
		t.Fatalf("search: %v, want face_failed first", full)
	}
	u.call(t, "GET", "/api/v1/help/search?q=", nil, 400)
	u.call(t, "PATCH", "/api/v1/me", jsonObj{"care_mode": true}, 200)
	plain := u.call(t, "GET", "/api/v1/help/search?q="+q, nil, 200)
	if a, b := jstr(jlist(full, "answers")[0], "answer"), jstr(jlist(plain, "answers")[0], "answer"); len([]rune(b)) >= len([]rune(a)) || jstr(plain, "care_mode") != "true" {
		t.Fatalf("care mode answer %q is not shorter than %q", b, a)
	}
	u.call(t, "GET", "/api/v1/help/for/orders/SI000000000000000000", nil, 404)

	subs := u.call(t, "GET", "/api/v1/subscriptions", nil, 200)
	var tpl string
	for _, s := range jlist(subs, "templates") {
		if jstr(s, "key") == "ticket_answered" {
			tpl = jstr(s, "template_id")
		}
	}
	acc := sim.call(t, "POST", "/sim/wechat/subscribe/accept", jsonObj{"code": code, "template_ids": []string{tpl}}, 200)
	got := u.call(t, "POST", "/api/v1/subscriptions", jsonObj{"results": acc["results"]}, 200)
	if !strings.Contains(fmt.Sprint(got), "remaining:1") {
		t.Fatalf("after one acceptance: %v, want remaining 1 for %s", got, tpl)
	}
	u.call(t, "POST", "/api/v1/subscriptions", jsonObj{"results": jsonObj{"no-such-template": "accept"}}, 400)

	u.call(t, "POST", "/api/v1/lapse-reminders", jsonObj{"region": "beijing", "person": "self"}, 200)
	u.call(t, "POST", "/api/v1/lapse-reminders", jsonObj{"region": "nowhere", "person": "self"}, 400)
	if l := jlist(u.call(t, "GET", "/api/v1/lapse-reminders", nil, 200), "reminders"); len(l) != 1 {
		t.Fatalf("reminders: %v, want 1", l)
	}
	u.call(t, "DELETE", "/api/v1/lapse-reminders/beijing/self", nil, 204)

	tk := u.call(t, "POST", "/api/v1/tickets", jsonObj{"category": "identity", "body": "刷脸一直失败怎么办"}, 201)
	no := jstr(tk, "ticket_no")
	u.call(t, "POST", "/api/v1/tickets", jsonObj{"category": "nonsense", "body": "x"}, 400)
	u.call(t, "POST", "/api/v1/tickets", jsonObj{"order_no": "SI000000000000000000", "category": "delay", "body": "x"}, 404)
	u.call(t, "GET", "/api/v1/tickets", nil, 200)
	u.call(t, "GET", "/api/v1/tickets/TKNOPE", nil, 404)
	admin := f.as("dev-admin-token")
	anon.call(t, "GET", "/api/v1/admin/tickets", nil, 401)
	admin.call(t, "GET", "/api/v1/admin/tickets?status=open", nil, 200)
	admin.call(t, "GET", "/api/v1/admin/tickets/"+no, nil, 200)
	admin.call(t, "POST", "/api/v1/admin/tickets/"+no+"/reply", jsonObj{"body": ""}, 400)
	rep := admin.call(t, "POST", "/api/v1/admin/tickets/"+no+"/reply", jsonObj{"body": "您好，可改用电子社保卡密码验证。"}, 200, "X-Operator", "li")
	if jstr(rep, "status") != "answered" || jstr(rep, "sla_breached") != "false" {
		t.Fatalf("after the reply: %v", rep)
	}
	u.call(t, "POST", "/api/v1/tickets/"+no+"/messages", jsonObj{"body": "好的，谢谢"}, 200)
	u.call(t, "POST", "/api/v1/tickets/"+no+"/status", jsonObj{"status": "resolved"}, 200)
	u.call(t, "POST", "/api/v1/tickets/"+no+"/messages", jsonObj{"body": "还有问题"}, 409)
	user := u.call(t, "GET", "/api/v1/tickets/"+no, nil, 200)
	if strings.Contains(fmt.Sprint(user), "actor") {
		t.Fatalf("the user sees the operator's name: %v", user)
	}
	admin.call(t, "POST", "/api/v1/admin/tickets/"+no+"/status", jsonObj{"status": "closed", "note": "已解决"}, 200)
	admin.call(t, "POST", "/api/v1/admin/tickets/"+no+"/status", jsonObj{"status": "closed"}, 409)

	deadline := time.Now().Add(15 * time.Second)
	for {
		sent := sim.call(t, "GET", "/sim/wechat/subscribe/sent?code="+code, nil, 200)
		if strings.Contains(fmt.Sprint(sent), no) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ticket_answered message never reached the simulator: %v", sent)
		}
		time.Sleep(200 * time.Millisecond)
	}

	checker.mu.Lock()
	defer checker.mu.Unlock()
	for _, e := range checker.errs {
		t.Error(e)
	}
	want := []string{
		"GET /api/v1/help/search 200", "GET /api/v1/help/search 400", "GET /api/v1/help/for/orders/{order_no} 404",
		"GET /api/v1/subscriptions 200", "POST /api/v1/subscriptions 200", "POST /api/v1/subscriptions 400",
		"POST /api/v1/lapse-reminders 200", "POST /api/v1/lapse-reminders 400", "GET /api/v1/lapse-reminders 200",
		"DELETE /api/v1/lapse-reminders/{region}/{person} 204",
		"POST /api/v1/tickets 201", "POST /api/v1/tickets 400", "POST /api/v1/tickets 404", "GET /api/v1/tickets 200",
		"GET /api/v1/tickets/{ticket_no} 200", "GET /api/v1/tickets/{ticket_no} 404",
		"POST /api/v1/tickets/{ticket_no}/messages 200", "POST /api/v1/tickets/{ticket_no}/messages 409",
		"POST /api/v1/tickets/{ticket_no}/status 200",
		"GET /api/v1/admin/tickets 200", "GET /api/v1/admin/tickets 401", "GET /api/v1/admin/tickets/{ticket_no} 200",
		"POST /api/v1/admin/tickets/{ticket_no}/reply 200", "POST /api/v1/admin/tickets/{ticket_no}/reply 400",
		"POST /api/v1/admin/tickets/{ticket_no}/status 200", "POST /api/v1/admin/tickets/{ticket_no}/status 409",
	}
	var missing []string
	for _, k := range want {
		if !checker.seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented replies never produced:\n  %s", strings.Join(missing, "\n  "))
	}
}
