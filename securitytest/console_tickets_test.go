package securitytest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// The console's ticket desk and credit-pay list: pages behind the console
// session, forms with the session's CSRF token, and the same audited
// TicketService methods (and audit entries) as the JSON admin API.

// auditOf returns the newest 50 audit entries on target ("" = any).
func auditOf(tb testing.TB, e *env, target string) []service.AuditEntry {
	tb.Helper()
	es, err := model.NewAfterStore(e.app.DB).FindAudit(context.Background(), target, 50)
	if err != nil {
		tb.Fatal(err)
	}
	return es
}

func countAudit(es []service.AuditEntry, actor, action string) int {
	n := 0
	for _, a := range es {
		if a.Actor == actor && a.Action == action {
			n++
		}
	}
	return n
}

func TestConsoleTicketDeskShowsTheSLAMasksAndAuditsLikeTheAPI(t *testing.T) {
	e := newEnv(t, envOptions{env: map[string]string{"OPS_SESSION_IDLE": "2h"}}) // the clock moves 50 minutes
	tok := e.login(t, "console-ticket")
	id := residentID("11010519760606124")
	e.verify(t, tok, "柏杨", id)
	q := e.do(t, "POST", "/api/v1/quotes", tok, quoteBody("self"))
	want(t, "quote", q, http.StatusCreated, "")
	orderNo := e.order(t, tok, q.str("id"), "console-ticket-1").str("order_no")
	r := e.do(t, "POST", "/api/v1/tickets", tok, map[string]string{"order_no": orderNo, "category": "payment", "body": "缴费后没有入账"})
	want(t, "open ticket", r, http.StatusCreated, "")
	no := r.str("ticket_no")

	c := newConsole(e)
	csrf := c.signIn(t, "erin", e.app.Cfg.AdminToken)
	const actor = "ops:admin/erin"

	// Due in 45 minutes (HELP_HOURS 24x7): the queue shows the time left,
	// then, with the clock moved past the due time, overdue.
	e.clock.Advance(10 * time.Minute)
	list := c.do(t, "GET", "/ops/tickets", nil, nil)
	if list.status != http.StatusOK || !strings.Contains(list.body, no) || !strings.Contains(list.body, "剩余 35分钟") {
		t.Fatalf("queue at +10m: %d, want %s with 35 minutes left: %.3000s", list.status, no, list.body)
	}
	e.clock.Advance(40 * time.Minute)
	list = c.do(t, "GET", "/ops/tickets", nil, nil)
	if !strings.Contains(list.body, `<strong class="overdue">已超时 5分钟</strong>`) {
		t.Fatalf("queue at +50m: want the ticket overdue by 5 minutes: %.3000s", list.body)
	}
	if countAudit(auditOf(t, e, ""), actor, "list_tickets") != 2 {
		t.Fatalf("listing the queue is not audited: %+v", auditOf(t, e, ""))
	}

	// The ticket page: messages and the order context, masked as the
	// admin API shows it; viewing is audited (view_ticket).
	p := c.do(t, "GET", "/ops/tickets/"+no, nil, nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, "缴费后没有入账") || !strings.Contains(p.body, orderNo) || !strings.Contains(p.body, "柏*") {
		t.Fatalf("ticket page: %d %.3000s", p.status, p.body)
	}
	if strings.Contains(p.body, "柏杨") || strings.Contains(p.body, id) {
		t.Fatalf("ticket page shows the person unmasked")
	}
	if countAudit(auditOf(t, e, "ticket:"+no), actor, "view_ticket") != 1 {
		t.Fatalf("viewing is not audited as view_ticket: %+v", auditOf(t, e, "ticket:"+no))
	}

	// Replies and status changes need the session's CSRF token.
	other := newConsole(e)
	otherCSRF := other.signIn(t, "", e.app.Cfg.AdminToken)
	for _, bad := range []url.Values{{"body": {"x"}}, {"csrf": {otherCSRF}, "body": {"x"}}, {"csrf": {csrf + "x"}, "body": {"x"}}} {
		if r := c.do(t, "POST", "/ops/tickets/"+no+"/reply", bad, nil); r.status != http.StatusForbidden {
			t.Fatalf("reply with %v: %d, want 403", bad, r.status)
		}
		if r := c.do(t, "POST", "/ops/tickets/"+no+"/status", url.Values{"csrf": bad["csrf"], "status": {"closed"}}, nil); r.status != http.StatusForbidden {
			t.Fatalf("status with %v: %d, want 403", bad["csrf"], r.status)
		}
	}
	if got, _ := e.app.Help.Tickets.AdminTicket(context.Background(), "test", no); got.Status != service.TicketOpen || len(got.Messages) != 1 {
		t.Fatalf("ticket changed without a valid CSRF token: %s, %d messages", got.Status, len(got.Messages))
	}

	// A reply through the console is the admin API's Reply.
	res := c.do(t, "POST", "/ops/tickets/"+no+"/reply", url.Values{"csrf": {csrf}, "body": {"已查询，平台今日入账"}}, nil)
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/ops/tickets/"+no+"?msg=replied" {
		t.Fatalf("reply: %d %s %.300s", res.status, res.header.Get("Location"), res.body)
	}
	after := c.do(t, "GET", "/ops/tickets/"+no+"?msg=replied", nil, nil)
	if !strings.Contains(after.body, "已回复，用户将收到通知") || !strings.Contains(after.body, "已查询，平台今日入账") || !strings.Contains(after.body, actor) {
		t.Fatalf("ticket after the reply: %.3000s", after.body)
	}
	if r := c.do(t, "POST", "/ops/tickets/"+no+"/reply", url.Values{"csrf": {csrf}, "body": {"  "}}, nil); r.status != http.StatusBadRequest {
		t.Fatalf("empty reply: %d, want 400", r.status)
	}
	if r := c.do(t, "POST", "/ops/tickets/"+no+"/status", url.Values{"csrf": {csrf}, "status": {"answered"}}, nil); r.status != http.StatusBadRequest {
		t.Fatalf("status answered: %d, want 400", r.status)
	}
	if r := c.do(t, "POST", "/ops/tickets/"+no+"/status", url.Values{"csrf": {csrf}, "status": {"resolved"}, "note": {"已入账"}}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("resolve: %d %.300s", r.status, r.body)
	}
	if r := c.do(t, "POST", "/ops/tickets/"+no+"/reply", url.Values{"csrf": {csrf}, "body": {"再补充"}}, nil); r.status != http.StatusConflict {
		t.Fatalf("reply to a resolved ticket: %d, want 409", r.status)
	}
	if r := c.do(t, "POST", "/ops/tickets/"+no+"/status", url.Values{"csrf": {csrf}, "status": {"open"}}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("reopen: %d %.300s", r.status, r.body)
	}

	// The same audit entries as the admin API writes, under the operator.
	es := auditOf(t, e, "ticket:"+no)
	for _, action := range []string{"ticket_reply", "ticket_resolved", "ticket_open"} {
		if countAudit(es, actor, action) != 1 {
			t.Fatalf("%s by %s: want one entry: %+v", action, actor, es)
		}
	}
	for _, a := range es {
		if strings.Contains(a.Before+a.After, "已查询") || strings.Contains(a.Before+a.After, "缴费后") {
			t.Fatalf("audit entry holds message text: %+v", a)
		}
		if a.Action == "ticket_reply" && (!strings.Contains(a.Before, `"status":"open"`) || !strings.Contains(a.After, `"status":"answered"`)) {
			t.Fatalf("ticket_reply before/after: %+v", a)
		}
	}
	api := e.do(t, "POST", "/api/v1/admin/tickets/"+no+"/reply", e.app.Cfg.AdminToken, map[string]string{"body": "API 回复"})
	want(t, "api reply", api, http.StatusOK, "")
	var replies []service.AuditEntry
	for _, a := range auditOf(t, e, "ticket:"+no) {
		if a.Action == "ticket_reply" {
			replies = append(replies, a)
		}
	}
	if len(replies) != 2 || !strings.HasPrefix(replies[0].Actor, "token:") || replies[1].Actor != actor {
		t.Fatalf("the API's reply and the console's should be the same audited action: %+v", replies)
	}
}

func TestConsoleCreditListFiltersByStateAndShowsYuan(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	credits := model.NewCreditStore(e.app.DB)
	for _, c := range []struct {
		no    string
		fen   service.Fen
		state service.CreditState
	}{{"SPCONSOLECR1", 12345, service.CreditCollectionFailed}, {"SPCONSOLECR2", 50000, service.CreditPosted}} {
		otn := service.OutTradeNo(c.no, 1)
		if err := credits.CreateCredit(ctx, &service.CreditOrder{OutOrderNo: service.CreditOutOrderNo(otn), OutTradeNo: otn, OrderNo: c.no,
			UserID: 1, Region: "zhejiang-hangzhou", AmountFen: c.fen, State: c.state, ConfirmBy: e.clock.Now()}, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := newConsole(e)
	c.signIn(t, "frank", e.app.Cfg.AdminToken)
	all := c.do(t, "GET", "/ops/credit", nil, nil)
	if all.status != http.StatusOK || !strings.Contains(all.body, "¥123.45") || !strings.Contains(all.body, "¥500.00") ||
		!strings.Contains(all.body, `href="/ops/orders/SPCONSOLECR1"`) {
		t.Fatalf("credit list: %d %.3000s", all.status, all.body)
	}
	failed := c.do(t, "GET", "/ops/credit?state=collection_failed", nil, nil)
	if !strings.Contains(failed.body, "SPCONSOLECR1") || strings.Contains(failed.body, "SPCONSOLECR2") || !strings.Contains(failed.body, "扣款未成功") {
		t.Fatalf("credit list filtered by collection_failed: %.3000s", failed.body)
	}
	if r := c.do(t, "GET", "/ops/credit?state=bogus", nil, nil); r.status != http.StatusBadRequest {
		t.Fatalf("unknown state: %d, want 400", r.status)
	}
	if n := countAudit(auditOf(t, e, ""), "ops:admin/frank", "list_credit_orders"); n != 2 {
		t.Fatalf("list_credit_orders entries = %d, want 2", n)
	}
	// Read-only: no action route.
	if r := c.do(t, "POST", "/ops/credit", url.Values{}, nil); r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
		t.Fatalf("POST /ops/credit: %d, want no such route", r.status)
	}
}
