package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/app/apptest"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/provsim"
)

// simApp boots the App in simulator mode with a manual clock near the wall
// clock (WeChat Pay signatures carry wall-clock timestamps) and no
// background workers: the test drives them.
func simApp(tb testing.TB) (*app.App, *service.ManualClock) {
	tb.Helper()
	clock := service.NewManualClock(time.Now().UTC().Truncate(time.Second))
	a := apptest.New(tb, apptest.Options{Env: map[string]string{"WORKERS": "off", "PUBLIC_BASE_URL": "http://127.0.0.1:9"},
		App: app.Options{Clock: clock}})
	return a, clock
}

// paidThroughSimulator creates a person, a quote and an order, pays the
// batch at the WeChat Pay simulator and records the payment as the notify
// transaction does (posting job with the 72-hour deadline).
func paidThroughSimulator(tb testing.TB, a *app.App, clock *service.ManualClock, name string, amount service.Fen) (orderNo, otn string) {
	tb.Helper()
	return paidAsPerson(tb, a, clock, name, "44010619900101123X", amount)
}

// paidAsPerson is paidThroughSimulator for the person with idNumber (the
// platform simulator books one ID number once a month).
func paidAsPerson(tb testing.TB, a *app.App, clock *service.ManualClock, name, idNumber string, amount service.Fen) (orderNo, otn string) {
	tb.Helper()
	ctx := context.Background()
	users, persons, quotes, orders := model.NewUserStore(a.DB), model.NewPersonStore(a.DB, a.PII), model.NewQuoteStore(a.DB), model.NewOrderStore(a.DB)
	p, err := persons.EnsurePerson(ctx, service.Person{Name: name, IDType: service.IDResident, IDNumber: idNumber})
	if err != nil {
		tb.Fatalf("person: %v", err)
	}
	u, err := users.UpsertUserByOpenID(ctx, "openid-"+name+"-"+idNumber, "")
	if err != nil {
		tb.Fatalf("user: %v", err)
	}
	if _, err := users.UpdateUser(ctx, u.ID, func(u *service.User) error { u.PersonID = p.ID; return nil }); err != nil {
		tb.Fatalf("verify user: %v", err)
	}
	month := clock.Now().In(service.Shanghai).Format("2006-01")
	pension := amount * 2 / 3
	q := &service.Quote{ID: "QT" + time.Now().Format("150405.000000"), UserID: u.ID, PersonID: p.ID, Region: "guangdong-guangzhou",
		Lines: []service.QuoteLine{
			{Insurance: service.InsurancePension, Month: month, BaseFen: 500000, RateBP: 2000, AmountFen: pension},
			{Insurance: service.InsuranceMedical, Month: month, BaseFen: 500000, RateBP: 1000, AmountFen: amount - pension},
		}, TotalFen: amount, PayableFen: amount, Batches: []service.BatchPlan{{Seq: 1, AmountFen: amount, FromMonth: month, ToMonth: month}},
		CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
	if err := quotes.CreateQuote(ctx, q); err != nil {
		tb.Fatalf("quote: %v", err)
	}
	orderNo = "SP" + strings.ReplaceAll(time.Now().Format("060102150405.000000"), ".", "")
	otn = service.OutTradeNo(orderNo, 1)
	o := &service.Order{No: orderNo, UserID: u.ID, PersonID: p.ID, QuoteID: q.ID, Region: q.Region, AmountFen: amount,
		Batches: []service.Batch{{OrderNo: orderNo, Seq: 1, OutTradeNo: otn, AmountFen: amount, FromMonth: month, ToMonth: month,
			Status: service.StatusPendingPayment, PayerOpenID: u.OpenID}}}
	if err := orders.CreateOrder(ctx, o); err != nil {
		tb.Fatalf("order: %v", err)
	}
	pp, err := a.Pay.Prepay(ctx, service.Prepay{OutTradeNo: otn, Description: "社保缴费", PayerOpenID: u.OpenID, AmountFen: amount,
		ExpireAt: clock.Now().Add(30 * time.Minute)})
	if err != nil {
		tb.Fatalf("prepay: %v", err)
	}
	if _, err := a.Sims.Pay.Pay(pp.PrepayID); err != nil {
		tb.Fatalf("pay: %v", err)
	}
	tr, err := a.Pay.QueryTrade(ctx, otn)
	if err != nil || tr.State != service.TradeSuccess {
		tb.Fatalf("query trade: %+v, %v", tr, err)
	}
	if _, err := orders.UpdateBatch(ctx, otn, func(o *service.Order, b *service.Batch, fx *service.Effects) error {
		b.Status, b.TransactionID, b.PaidAt = service.StatusPaid, tr.TransactionID, tr.SuccessTime
		fx.Outbox = append(fx.Outbox, service.OutboxJob{Kind: service.JobPostBatch, Ref: otn, DeadlineAt: tr.SuccessTime.Add(service.RetryWindow)})
		return nil
	}); err != nil {
		tb.Fatalf("mark paid: %v", err)
	}
	return orderNo, otn
}

func batchStatus(tb testing.TB, a *app.App, orderNo string) service.OrderStatus {
	tb.Helper()
	o, err := model.NewOrderStore(a.DB).FindOrder(context.Background(), orderNo)
	if err != nil {
		tb.Fatalf("find order: %v", err)
	}
	return o.Batches[0].Status
}

func TestSimulatedPlatformBooksPaymentAndVouchersAreIssued(t *testing.T) {
	a, clock := simApp(t)
	ctx := context.Background()
	no, _ := paidThroughSimulator(t, a, clock, "张三", 150000)
	if _, err := a.After.Posting.RunOnce(ctx); err != nil {
		t.Fatalf("posting: %v", err)
	}
	if got := batchStatus(t, a, no); got != service.StatusPosted {
		t.Fatalf("status: got %s, want posted", got)
	}
	o, _ := model.NewOrderStore(a.DB).FindOrder(ctx, no)
	vs, err := a.After.Vouchers.ListForUser(ctx, o.UserID, no)
	if err != nil || len(vs) != 3 {
		t.Fatalf("vouchers: got %d, %v; want 3", len(vs), err)
	}
	for _, v := range vs {
		if c, err := a.After.Vouchers.Verify(ctx, v.Code); err != nil || c.Expired {
			t.Fatalf("verify %s: %+v, %v", v.Kind, c, err)
		}
	}
}

func TestSimulatedRejectionIsRefundedThroughTheWeChatPaySimulator(t *testing.T) {
	a, clock := simApp(t)
	ctx := context.Background()
	no, otn := paidThroughSimulator(t, a, clock, "李四"+provsim.MarkerNotInsured, 150000)
	if _, err := a.After.Posting.RunOnce(ctx); err != nil {
		t.Fatalf("posting: %v", err)
	}
	if got := batchStatus(t, a, no); got != service.StatusRefunding {
		t.Fatalf("status after rejection: got %s, want refunding", got)
	}
	for i := 0; i < 3 && batchStatus(t, a, no) != service.StatusRefunded; i++ {
		if _, err := a.After.Refunds.RunOnce(ctx); err != nil {
			t.Fatalf("refunds: %v", err)
		}
		clock.Advance(service.RefundPollProcessing) // a PROCESSING refund is queried again
	}
	if got := batchStatus(t, a, no); got != service.StatusRefunded {
		t.Fatalf("status: got %s, want refunded", got)
	}
	rv, err := a.After.Refunds.View(ctx, otn)
	if err != nil || rv == nil || rv.Reason != service.RefundPlatformRejected || rv.AmountFen != 150000 {
		t.Fatalf("refund: got %+v, %v; want platform_rejected 150000", rv, err)
	}
}
