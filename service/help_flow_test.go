package service_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/faq"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/service"
)

// sentMsg is one message the fake WeChat accepted.
type sentMsg struct {
	OpenID, TemplateID, Page string
	Data                     map[string]string
}

// fakeSender is WeChat's subscribeMessage.send: it records what it
// accepted; refuse scripts an errcode per template id.
type fakeSender struct {
	mu     sync.Mutex
	sent   []sentMsg
	calls  int
	refuse map[string]error
}

func (f *fakeSender) SendSubscribe(_ context.Context, openID, templateID, page string, data map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if err := f.refuse[templateID]; err != nil {
		return err
	}
	f.sent = append(f.sent, sentMsg{openID, templateID, page, data})
	return nil
}

func (f *fakeSender) sentOf(templateID string) []sentMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sentMsg
	for _, m := range f.sent {
		if m.TemplateID == templateID {
			out = append(out, m)
		}
	}
	return out
}

// helpMetrics counts what the help services report.
type helpMetrics struct {
	mu       sync.Mutex
	breaches int
	sends    map[string]int
	firsts   []time.Duration
}

func (m *helpMetrics) SubscribeSend(tpl, result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sends[tpl+"/"+result]++
}
func (m *helpMetrics) TicketSLABreached() { m.mu.Lock(); m.breaches++; m.mu.Unlock() }
func (m *helpMetrics) TicketFirstResponse(d time.Duration) {
	m.mu.Lock()
	m.firsts = append(m.firsts, d)
	m.mu.Unlock()
}

// lapsePlatform answers insured profiles: paidThrough per person id.
type lapsePlatform struct {
	*postPlatform
	mu          sync.Mutex
	paidThrough string
	profiles    int
}

func (p *lapsePlatform) FindProfile(context.Context, string, service.PersonRef) (service.InsuredProfile, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.profiles++
	return service.InsuredProfile{Insurances: []service.InsuranceStatus{{Insurance: "pension", Status: "active", PaidThrough: p.paidThrough}}}, nil
}

type lapseResolver struct{}

func (lapseResolver) ResolvePerson(_ context.Context, userID int64, person string) (*service.Person, error) {
	if person != "self" {
		return nil, service.NotFound("参保人不存在")
	}
	return &service.Person{ID: 11, Name: "张三", IDType: service.IDResident, IDNumber: "440106199001011234"}, nil
}

// templateIDs are the test's console template ids.
func templateIDs() map[string]string {
	m := map[string]string{}
	for _, t := range service.SubscribeTemplates {
		m[t.Key] = "TPL-" + t.Key
	}
	return m
}

// helpHarness adds the help services to the after-payment harness.
type helpHarness struct {
	*harness
	help      *model.HelpStore
	sender    *fakeSender
	metrics   *helpMetrics
	subscribe *service.SubscribeService
	tickets   *service.TicketService
	follower  *service.EventFollower
	lapse     *service.LapseService
	lapsePlat *lapsePlatform
	faq       *service.HelpService
}

func newHelpHarness(t *testing.T, h *harness) *helpHarness {
	t.Helper()
	ring, err := pii.NewKeyring(pii.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	kb, err := faq.Load()
	if err != nil {
		t.Fatal(err)
	}
	regions := []service.Region{{Code: "gd-gz", Name: "广州", PaymentDeadlineDay: 25}, {Code: "eom", Name: "月末", PaymentDeadlineDay: 31}}
	hh := &helpHarness{harness: h, help: model.NewHelpStore(h.db, ring), sender: &fakeSender{refuse: map[string]error{}},
		metrics: &helpMetrics{sends: map[string]int{}}, lapsePlat: &lapsePlatform{postPlatform: h.platform}}
	ids := templateIDs()
	hh.subscribe = service.NewSubscribeService(service.SubscribeDeps{Store: hh.help, Outbox: h.outbox, Users: h.users, Sender: hh.sender,
		TemplateIDs: ids, Clock: h.clock, Metrics: hh.metrics, Alerts: h.orders, Owner: "help-a"})
	hh.tickets = service.NewTicketService(service.TicketDeps{Store: hh.help, Orders: h.orders, Postings: h.store, Persons: postPersons{},
		Users: h.users, Audit: h.store, Hours: service.AlwaysOpen, Clock: h.clock, Metrics: hh.metrics, TemplateIDs: ids})
	hh.follower = service.NewEventFollower(hh.help, h.orders, h.users, hh.subscribe, hh.tickets, regions, h.clock)
	hh.lapse = service.NewLapseService(service.LapseDeps{Store: hh.help, Regions: regions, Resolver: lapseResolver{}, Persons: postPersons{},
		Platform: hh.lapsePlat, Subscribe: hh.subscribe, Outbox: h.outbox, Clock: h.clock, Owner: "help-a"})
	hh.faq = service.NewHelpService(kb, h.orders)
	return hh
}

// eachHelp runs fn on SQLite and MySQL.
func eachHelp(t *testing.T, fn func(t *testing.T, h *helpHarness)) {
	each(t, noHolds(), func(t *testing.T, h *harness) { fn(t, newHelpHarness(t, h)) })
}

// drain follows events and sends messages until nothing is due.
func (h *helpHarness) drain() {
	h.t.Helper()
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		n1, err := h.follower.RunOnce(ctx)
		if err != nil {
			h.t.Fatalf("follow: %v", err)
		}
		n2, err := h.subscribe.RunOnce(ctx)
		if err != nil {
			h.t.Fatalf("send: %v", err)
		}
		if n1+n2 == 0 {
			return
		}
	}
}

func (h *helpHarness) grant(uid int64, keys ...string) {
	h.t.Helper()
	res := map[string]string{}
	for _, k := range keys {
		res["TPL-"+k] = service.SubAccept
	}
	if _, err := h.subscribe.RecordResults(context.Background(), uid, res); err != nil {
		h.t.Fatalf("record results: %v", err)
	}
}

func (h *helpHarness) messages(uid int64) map[string]service.SubscribeMessage {
	h.t.Helper()
	ms, err := h.subscribe.Messages(context.Background(), uid, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]service.SubscribeMessage{}
	for _, m := range ms {
		out[m.EventKey] = m
	}
	return out
}

// A payment that is received and posted reaches the payer as exactly one
// "payment received" and one "posted" message, even when the timeline is
// followed again after a crash (the follow mark lost).
func TestPaidAndPostedEventsSendOneMessageEachEvenWhenFollowedTwice(t *testing.T) {
	eachHelp(t, func(t *testing.T, h *helpHarness) {
		uid := h.user("o-pay", 11)
		h.grant(uid, service.TplPaymentReceived, service.TplPosted)
		h.grant(uid, service.TplPaymentReceived) // two acceptances: two grants
		otn := h.paid(orderNo(1), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusPosted)
		h.drain()
		// A crash after sending and before marking: every event is followed again.
		if err := h.db.Exec("UPDATE order_events SET followed_at = NULL").Error; err != nil {
			t.Fatal(err)
		}
		h.drain()
		if got := len(h.sender.sentOf("TPL-payment_received")); got != 1 {
			t.Fatalf("payment_received sends: got %d, want 1", got)
		}
		posted := h.sender.sentOf("TPL-posted")
		if len(posted) != 1 {
			t.Fatalf("posted sends: got %d, want 1", len(posted))
		}
		if !strings.Contains(posted[0].Page, "vouchers") || posted[0].OpenID != "o-pay" {
			t.Fatalf("posted message page %q to %q: want the vouchers page to o-pay", posted[0].Page, posted[0].OpenID)
		}
		if got := posted[0].Data["amount2"]; got != "1500.00元" {
			t.Fatalf("amount2 = %q, want 1500.00元", got)
		}
		for _, m := range h.sender.sent {
			for k, v := range m.Data {
				if strings.Contains(v, "张三") || strings.Contains(v, "440106") {
					t.Fatalf("message %s field %s carries identity: %q", m.TemplateID, k, v)
				}
			}
		}
		tpls, err := h.subscribe.Templates(context.Background(), uid)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range tpls {
			want := 0
			if g.Key == service.TplPaymentReceived {
				want = 1 // 2 accepted, 1 used
			}
			if g.Remaining != want {
				t.Errorf("%s grants left: got %d, want %d", g.Key, g.Remaining, want)
			}
		}
	})
}

// Without an acceptance nothing is sent; WeChat's 43101 marks the message
// no_grant without a retry and clears our count; a transient failure is
// retried with the same grant; a permanent refusal fails and alerts.
func TestSubscribeSendOutcomes(t *testing.T) {
	eachHelp(t, func(t *testing.T, h *helpHarness) {
		ctx := context.Background()
		uid := h.user("o-sub", 11)
		h.grant(uid, service.TplPaymentReceived, service.TplPosted)
		h.sender.refuse["TPL-payment_received"] = &service.SubscribeError{ErrCode: 43101, ErrMsg: "user refuse to accept the msg"}
		h.sender.refuse["TPL-posted"] = &service.SubscribeError{ErrCode: -1, ErrMsg: "system error"}
		otn := h.paid(orderNo(2), uid, 11, 150000)
		h.run()
		h.drain()
		ms := h.messages(uid)
		if m := ms["paid:"+otn]; m.Status != service.MsgNoGrant || m.ErrCode != 43101 {
			t.Fatalf("paid message: status %s errcode %d, want no_grant 43101", m.Status, m.ErrCode)
		}
		if m := ms["posted:"+otn]; m.Status != service.MsgQueued || !m.GrantTaken {
			t.Fatalf("posted message: status %s grant %v, want queued with its grant taken (retrying)", m.Status, m.GrantTaken)
		}
		calls := h.sender.calls
		h.clock.Advance(time.Hour)
		h.drain()
		if h.sender.calls != calls+1 {
			t.Fatalf("WeChat calls after an hour: got %d, want %d (43101 not retried, -1 retried once)", h.sender.calls, calls+1)
		}
		delete(h.sender.refuse, "TPL-posted")
		h.clock.Advance(time.Hour)
		h.drain()
		if m := h.messages(uid)["posted:"+otn]; m.Status != service.MsgSent {
			t.Fatalf("posted message after recovery: %s, want sent", m.Status)
		}
		tpls, _ := h.subscribe.Templates(ctx, uid)
		for _, g := range tpls {
			if g.Remaining != 0 {
				t.Errorf("%s grants left: got %d, want 0", g.Key, g.Remaining)
			}
		}

		// No grant: nothing is queued and WeChat is never called.
		otn2 := h.paid(orderNo(3), uid, 11, 150000)
		calls = h.sender.calls
		h.drain()
		if m, ok := h.messages(uid)["paid:"+otn2]; ok || h.sender.calls != calls {
			t.Fatalf("without a grant: message %+v, WeChat calls %d; want none and no call", m, h.sender.calls-calls)
		}

		// A grant withdrawn (ban) after the message was queued: no_grant at
		// send time, and WeChat is not called.
		h.grant(uid, service.TplRefundArrived)
		if err := h.subscribe.Notify(ctx, uid, "refunded:Z", service.TplRefundArrived, "", map[string]string{"character_string1": "Z"}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.subscribe.RecordResults(ctx, uid, map[string]string{"TPL-refund_arrived": service.SubBan}); err != nil {
			t.Fatal(err)
		}
		calls = h.sender.calls
		h.drain()
		if m := h.messages(uid)["refunded:Z"]; m.Status != service.MsgNoGrant || h.sender.calls != calls {
			t.Fatalf("after a ban: status %s, WeChat calls %d; want no_grant and none", m.Status, h.sender.calls-calls)
		}

		// A permanent refusal (bad template data) fails and alerts once.
		h.grant(uid, service.TplRefundIssued)
		h.sender.refuse["TPL-refund_issued"] = &service.SubscribeError{ErrCode: 47003, ErrMsg: "argument invalid"}
		if err := h.subscribe.Notify(ctx, uid, "refunding:X", service.TplRefundIssued, "", map[string]string{"character_string1": "X"}); err != nil {
			t.Fatal(err)
		}
		h.drain()
		if m := h.messages(uid)["refunding:X"]; m.Status != service.MsgFailed {
			t.Fatalf("refused message: %s, want failed", m.Status)
		}
		if got := len(h.alerts(service.AlertSubscribeRejected)); got != 1 {
			t.Fatalf("subscribe_rejected alerts: got %d, want 1", got)
		}
	})
}

// The simulated-clock SLA test: a ticket from an order waits 45 minutes of
// business time; at 44 minutes nothing happens, past 45 one breach alert
// and one metric, however often the sweeper runs. A ticket answered in time
// never breaches, and the answer reaches the user as one subscribe message.
func TestTicketSLABreachAlertsOnceAndAReplyInTimeNotifiesTheUser(t *testing.T) {
	eachHelp(t, func(t *testing.T, h *helpHarness) {
		ctx := context.Background()
		uid := h.user("o-tk", 11)
		h.grant(uid, service.TplTicketAnswered)
		otn := h.paid(orderNo(4), uid, 11, 150000)
		h.run()
		late, err := h.tickets.Open(ctx, uid, service.TicketInput{OrderNo: orderNo(4), Category: "delay", Body: "我的身份证 440106199001011234 缴费没到账"})
		if err != nil {
			t.Fatal(err)
		}
		if late.Context == nil || len(late.Context.Batches) != 1 || late.Context.Batches[0].OutTradeNo != otn || late.Context.Person != "张*" {
			t.Fatalf("ticket context %+v: want the order's batch and the masked name", late.Context)
		}
		if len(late.Context.Timeline) == 0 || late.Context.Batches[0].Reference == "" {
			t.Fatalf("ticket context lacks the timeline or the platform reference: %+v", late.Context)
		}
		sweep := func(want int) {
			t.Helper()
			n, err := h.tickets.SweepSLA(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Fatalf("breaches at %v: got %d, want %d", h.clock.Now(), n, want)
			}
		}
		h.clock.Advance(44 * time.Minute)
		sweep(0)
		inTime, err := h.tickets.Open(ctx, uid, service.TicketInput{Category: "refund", Body: "退款多久到账"})
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(2 * time.Minute) // 46 min after the first ticket
		sweep(1)
		sweep(0)
		if _, err := h.tickets.Reply(ctx, "token:abcd/li", inTime.No, "您好，零钱退款即时到账，银行卡1-3个工作日。"); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Hour)
		sweep(0) // answered in time: never breached
		alerts := h.alerts(service.AlertTicketSLABreached)
		if len(alerts) != 1 || alerts[0].Ref != late.No || alerts[0].Count != 1 {
			t.Fatalf("SLA alerts %+v: want one for %s, raised once", alerts, late.No)
		}
		if h.metrics.breaches != 1 || len(h.metrics.firsts) != 1 || h.metrics.firsts[0] != 2*time.Minute {
			t.Fatalf("metrics: breaches %d, first responses %v; want 1 and [2m]", h.metrics.breaches, h.metrics.firsts)
		}
		got, err := h.tickets.Get(ctx, uid, inTime.No)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != service.TicketAnswered || len(got.Messages) != 2 || got.Messages[1].Author != service.AuthorOps {
			t.Fatalf("answered ticket: %s with %d messages", got.Status, len(got.Messages))
		}
		h.drain()
		if n := len(h.sender.sentOf("TPL-ticket_answered")); n != 1 {
			t.Fatalf("ticket_answered sends: got %d, want 1", n)
		}
		audit, err := h.store.FindAudit(ctx, "ticket:"+inTime.No, 10)
		if err != nil || len(audit) != 1 || audit[0].Action != "ticket_reply" || strings.Contains(audit[0].After, "零钱") {
			t.Fatalf("audit %+v (%v): want one ticket_reply entry without the message text", audit, err)
		}
		if _, err := h.tickets.AdminTicket(ctx, "token:abcd/li", inTime.No); err != nil {
			t.Fatal(err)
		}
		if audit, _ := h.store.FindAudit(ctx, "ticket:"+inTime.No, 10); len(audit) != 2 {
			t.Fatalf("audit after viewing: %d entries, want 2 (reply, view_ticket)", len(audit))
		}
		// At rest the ticket's text and context are ciphertext.
		var raw []string
		h.db.Raw("SELECT body FROM ticket_messages").Scan(&raw)
		var subj []string
		h.db.Raw("SELECT subject FROM tickets").Scan(&subj)
		for _, s := range append(raw, subj...) {
			if strings.Contains(s, "440106") || strings.Contains(s, "缴费") {
				t.Fatalf("plaintext at rest: %q", s)
			}
		}
		// Another user sees nothing.
		other := h.user("o-other", 12)
		if _, err := h.tickets.Get(ctx, other, late.No); service.ErrorKind(err) != service.KindNotFound {
			t.Fatalf("another user's ticket: %v, want not found", err)
		}
		// User resolves, then reopens; operations close.
		if _, err := h.tickets.SetStatus(ctx, uid, inTime.No, "resolved"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.tickets.FollowUp(ctx, uid, inTime.No, "还有问题"); service.ErrorCode(err) != "ticket_closed" {
			t.Fatalf("follow-up on a resolved ticket: %v, want ticket_closed", err)
		}
		if _, err := h.tickets.SetStatus(ctx, uid, inTime.No, "open"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.tickets.AdminSetStatus(ctx, "token:abcd/li", inTime.No, "closed", "已电话回复"); err != nil {
			t.Fatal(err)
		}
	})
}

// Business hours: a ticket opened Friday 17:50 with Mon-Fri 09:00-18:00 is
// due Monday 09:35, and does not breach over the weekend.
func TestTicketSLACountsBusinessHoursOnly(t *testing.T) {
	hours, err := service.ParseBusinessHours("Mon-Fri 09:00-18:00")
	if err != nil {
		t.Fatal(err)
	}
	fri := time.Date(2026, 3, 6, 17, 50, 0, 0, service.Shanghai)
	if got, want := hours.Add(fri, service.TicketSLA), time.Date(2026, 3, 9, 9, 35, 0, 0, service.Shanghai); !got.Equal(want) {
		t.Fatalf("due %v, want %v", got.In(service.Shanghai), want)
	}
	sat := time.Date(2026, 3, 7, 12, 0, 0, 0, service.Shanghai)
	if got, want := hours.Add(sat, service.TicketSLA), time.Date(2026, 3, 9, 9, 45, 0, 0, service.Shanghai); !got.Equal(want) {
		t.Fatalf("due %v, want %v", got.In(service.Shanghai), want)
	}
	if got := hours.Between(fri, time.Date(2026, 3, 9, 9, 35, 0, 0, service.Shanghai)); got != service.TicketSLA {
		t.Fatalf("business time Friday 17:50 → Monday 09:35: %v, want 45m", got)
	}
	if got := service.AlwaysOpen.Add(fri, service.TicketSLA); !got.Equal(fri.Add(45 * time.Minute)) {
		t.Fatalf("7x24: due %v, want 45 minutes later", got)
	}
	for _, bad := range []string{"Mon-Fri", "Xyz 09:00-18:00", "Mon-Fri 18:00-09:00", "Mon 9-18"} {
		if _, err := service.ParseBusinessHours(bad); err == nil {
			t.Errorf("ParseBusinessHours(%q): no error", bad)
		}
	}
}

// The operations queue: tickets waiting for their first response come
// first, by due time, with the business time left or overdue from the
// injected clock (Mon-Fri 09:00-18:00: a ticket opened Friday 17:50 has 40
// minutes left at 17:55, still 35 on Sunday, and is 5 minutes late on
// Monday 09:40); answered tickets follow; listing is audited.
func TestTicketQueueSortsByDueAndCountsBusinessTime(t *testing.T) {
	sla := func(d service.TicketDue) string {
		return fmt.Sprintf("%s waiting=%v overdue=%v left=%v late=%v", d.No, d.Waiting, d.Overdue, d.Left, d.Late)
	}
	eachHelp(t, func(t *testing.T, h *helpHarness) {
		ctx := context.Background()
		hours, err := service.ParseBusinessHours("Mon-Fri 09:00-18:00")
		if err != nil {
			t.Fatal(err)
		}
		tickets := service.NewTicketService(service.TicketDeps{Store: h.help, Orders: h.orders, Users: h.users, Audit: h.store,
			Hours: hours, Clock: h.clock})
		at := func(day, hour, min int) time.Time { return time.Date(2026, 3, day, hour, min, 0, 0, service.Shanghai) }
		open := func(when time.Time, body string) *service.Ticket {
			h.clock.Set(when)
			tk, err := tickets.Open(ctx, 1, service.TicketInput{Category: "other", Body: body})
			if err != nil {
				t.Fatal(err)
			}
			return tk
		}
		answered := open(at(6, 17, 40), "已回复的") // due Monday 09:25
		h.clock.Set(at(6, 17, 45))
		if _, err := tickets.Reply(ctx, "ops:test", answered.No, "在处理"); err != nil {
			t.Fatal(err)
		}
		late := open(at(6, 17, 50), "周五傍晚") // due Monday 09:35
		for _, c := range []struct {
			now  time.Time
			left time.Duration
		}{{at(6, 17, 55), 40 * time.Minute}, {at(8, 12, 0), 35 * time.Minute}} {
			h.clock.Set(c.now)
			if d := tickets.DueState(late); !d.Waiting || d.Overdue || d.Left != c.left {
				t.Fatalf("at %v: %+v, want %v left", c.now, d, c.left)
			}
		}
		fresh := open(at(9, 9, 40), "周一上午") // due 10:25
		qs, err := tickets.Queue(ctx, "ops:test")
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) != 3 || qs[0].No != late.No || qs[1].No != fresh.No || qs[2].No != answered.No {
			t.Fatalf("queue = %+v, want late, fresh, answered", qs)
		}
		if !qs[0].Overdue || qs[0].Late != 5*time.Minute || qs[1].Overdue || qs[1].Left != 45*time.Minute || qs[2].Waiting || qs[2].Overdue {
			t.Fatalf("SLA states: %+v / %+v / %+v", sla(qs[0]), sla(qs[1]), sla(qs[2]))
		}
		es, err := h.store.FindAudit(ctx, "", 5)
		if err != nil || len(es) == 0 || es[0].Action != "list_tickets" || es[0].Actor != "ops:test" {
			t.Fatalf("queue not audited: %+v, %v", es, err)
		}
	})
}

// Info delay after 3 working days and an unknown platform outcome each open
// one automatic ticket and one message, however often they are followed.
func TestInfoDelayAndUnknownOutcomeOpenOneAutomaticTicketEach(t *testing.T) {
	eachHelp(t, func(t *testing.T, h *helpHarness) {
		ctx := context.Background()
		h.clock.Set(time.Date(2026, 3, 6, 10, 0, 0, 0, service.Shanghai)) // Friday
		pendingKey := ""
		h.platform.answer = func(_ int, p service.Posting) (service.PostingResult, error) {
			if p.IdempotencyKey == pendingKey {
				return service.PostingResult{Status: service.PostingPending, Reference: "SB2026-0007"}, nil
			}
			return service.PostingResult{}, errPlatformDown
		}
		h.platform.query = func(key string) (service.PostingResult, error) {
			if key == pendingKey {
				return service.PostingResult{Status: service.PostingPending, Reference: "SB2026-0007"}, nil
			}
			return service.PostingResult{}, errPlatformDown
		}
		h.platform.void = func(string) (service.PostingResult, error) { return service.PostingResult{}, errPlatformDown }
		uid := h.user("o-auto", 11)
		h.grant(uid, service.TplInfoDelay, service.TplOutcomeConfirming)
		pendingKey = service.OutTradeNo(orderNo(5), 1)
		delayed := h.paid(orderNo(5), uid, 11, 150000)
		dark := h.paid(orderNo(6), uid, 11, 150000)
		h.runUntil(h.clock.Now().Add(73*time.Hour), 30*time.Minute)
		h.clock.Set(time.Date(2026, 3, 11, 11, 0, 0, 0, service.Shanghai)) // Wednesday: 3 working days
		h.run()
		if _, err := h.posting.FlagDelays(ctx); err != nil {
			t.Fatal(err)
		}
		h.wantStatus(delayed, service.StatusPosting)
		h.wantStatus(dark, service.StatusConfirming)
		h.drain()
		h.db.Exec("UPDATE order_events SET followed_at = NULL")
		h.drain()
		list, err := h.tickets.Mine(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		byKey := map[string]int{}
		for _, tk := range list {
			byKey[tk.AutoKey]++
			if tk.Source != service.TicketAuto {
				t.Errorf("ticket %s source %s, want auto", tk.No, tk.Source)
			}
		}
		if byKey["delay:"+delayed] != 1 || byKey["confirming:"+dark] != 1 || len(list) != 2 {
			t.Fatalf("automatic tickets %v, want one delay ticket for %s and one confirming ticket for %s", byKey, delayed, dark)
		}
		if n := len(h.sender.sentOf("TPL-info_delay")); n != 1 {
			t.Fatalf("info_delay sends: %d, want 1", n)
		}
		if n := len(h.sender.sentOf("TPL-outcome_confirming")); n != 1 {
			t.Fatalf("outcome_confirming sends: %d, want 1", n)
		}
		help, err := h.faq.ForOrder(ctx, uid, orderNo(5), false)
		if err != nil {
			t.Fatal(err)
		}
		if !help.Delayed || !strings.Contains(help.NextAction, "12333") || help.Related[0].ID != "info_delay" {
			t.Fatalf("order help for a delayed posting: %+v", help)
		}
		plain, err := h.faq.ForOrder(ctx, uid, orderNo(6), true)
		if err != nil {
			t.Fatal(err)
		}
		if plain.Status != service.StatusConfirming || plain.NextAction != "" || len([]rune(plain.Explanation)) > 30 {
			t.Fatalf("care-mode help for a confirming order: %+v", plain)
		}
		if _, err := h.faq.ForOrder(ctx, uid+1000, orderNo(6), false); service.ErrorKind(err) != service.KindNotFound {
			t.Fatalf("another user's order help: %v, want not found", err)
		}
	})
}

// The lapse reminder is sent once per person and month, only within the
// window before the region's due day (the day itself included), only in
// daytime, across month ends: a due day 31 falls on 28 February.
func TestLapseReminderIsSentExactlyOnceAMonthWithinTheWindowInDaytime(t *testing.T) {
	eachHelp(t, func(t *testing.T, h *helpHarness) {
		ctx := context.Background()
		uid := h.user("o-lapse", 11)
		for i := 0; i < 4; i++ { // one acceptance per reminder
			h.grant(uid, service.TplLapseReminder)
		}
		if _, err := h.lapse.Watch(ctx, uid, "gd-gz", "self"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.lapse.Watch(ctx, uid, "gd-gz", "self"); err != nil { // again: one opt-in
			t.Fatal(err)
		}
		if _, err := h.lapse.Watch(ctx, uid, "nowhere", "self"); service.ErrorCode(err) != "lapse_invalid" {
			t.Fatalf("unknown region: %v", err)
		}
		h.lapsePlat.paidThrough = "2026-01"
		sh := func(y int, m time.Month, d, hour int) time.Time {
			return time.Date(y, m, d, hour, 0, 0, 0, service.Shanghai)
		}
		at := func(t0 time.Time, want int) {
			t.Helper()
			h.clock.Set(t0)
			for i := 0; i < 2; i++ { // two instances' ticks
				if err := h.lapse.RunDue(ctx); err != nil {
					t.Fatal(err)
				}
			}
			h.drain()
			if got := len(h.sender.sentOf("TPL-lapse_reminder")); got != want {
				t.Fatalf("reminders sent by %v: got %d, want %d", t0, got, want)
			}
		}
		at(sh(2026, 2, 19, 10), 0) // 6 days before the 25th: outside the 5-day window
		at(sh(2026, 2, 20, 7), 0)  // in the window but 07:00: not daytime
		at(sh(2026, 2, 20, 10), 1) // window opens (25 − 5)
		asked := h.lapsePlat.profiles
		at(sh(2026, 2, 23, 15), 1) // again within the month: nothing new
		if h.lapsePlat.profiles != asked {
			t.Fatalf("the platform was asked %d more times after the month's reminder, want 0", h.lapsePlat.profiles-asked)
		}
		at(sh(2026, 2, 25, 19), 1) // the due day itself
		at(sh(2026, 2, 26, 10), 1) // past the due day
		at(sh(2026, 3, 20, 9), 2)  // next month's window: one more
		h.lapsePlat.paidThrough = "2026-04"
		at(sh(2026, 4, 22, 10), 2) // April paid: no reminder

		// Month end: a due day of 31 is 28 February; the window is 23-28
		// February, and 1 March belongs to March's window (26-31).
		if err := h.lapse.Unwatch(ctx, uid, "gd-gz", "self"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.lapse.Watch(ctx, uid, "eom", "self"); err != nil {
			t.Fatal(err)
		}
		h.lapsePlat.paidThrough = "2026-01"
		at(sh(2027, 2, 22, 10), 2)
		at(sh(2027, 2, 28, 10), 3)
		at(sh(2027, 3, 1, 10), 3)
		at(sh(2027, 3, 26, 10), 4)
		m := h.messages(uid)["lapse:11:2027-02"]
		if m.Data["date2"] != "2027年02月28日" || strings.Contains(m.Data["thing1"], "张") {
			t.Fatalf("February reminder data %v: want due 2027年02月28日 and no name", m.Data)
		}
		if err := h.lapse.Unwatch(ctx, uid, "eom", "self"); err != nil {
			t.Fatal(err)
		}
		ws, _ := h.lapse.Watches(ctx, uid)
		if len(ws) != 0 {
			t.Fatalf("watches after unwatching both: %d, want 0", len(ws))
		}
	})
}
