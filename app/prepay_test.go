package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/regions"
	"github.com/shebao/sipay/service"
)

// A prepayment quote the service issues is one the platform accepts: for
// every region whose rules allow prepayment, quote the furthest window the
// region allows (ending cap months after the current month), pay it at the
// WeChat Pay simulator, post it to the provincial simulator and see it
// accepted. Before the fix the platform refused every future month
// (不能预缴未来月份) and the payment was refunded.
func TestPrepayQuoteIsPaidPostedAndAcceptedInEveryRegionThatAllowsIt(t *testing.T) {
	a, clock := simApp(t)
	ctx := context.Background()
	rs, err := regions.Load()
	if err != nil {
		t.Fatal(err)
	}
	quotes := service.NewQuoteService(service.QuoteDeps{Regions: rs, Store: model.NewQuoteStore(a.DB), Persons: a.Identity, Platform: a.Platform, Clock: clock, TTL: 30 * time.Minute})
	cur := clock.Now().In(service.Shanghai).Format("2006-01")
	tested := 0
	for i := range rs {
		r := &rs[i]
		cap := r.PrepayFor(cur).CapMonths
		if cap == 0 {
			continue
		}
		tested++
		t.Run(r.Code, func(t *testing.T) {
			months := 1
			for _, m := range r.PeriodMonths {
				if m <= cap+1 && m > months {
					months = m
				}
			}
			start := addMonths(cur, cap-months+1) // the window's last month is cur+cap
			var ins []service.InsuranceChoice
			for _, typ := range []string{service.InsurancePension, service.InsuranceMedical} {
				if typ == service.InsuranceMedical && !r.BundlingFor(cur).PensionNeedsMedical {
					continue // medical is optional here, and some simulated people never joined it
				}
				c := service.InsuranceChoice{Type: typ}
				if r.BaseMode == service.BaseFree {
					p, _ := r.PeriodFor(cur)
					c.BaseFen = p.MinFen
				}
				ins = append(ins, c)
			}
			userID, person := verifiedUser(t, a, ctx, r.Code, ins)
			q, err := quotes.CreateQuote(ctx, userID, service.QuoteInput{Region: r.Code, Person: "self", Insurances: ins, StartMonth: start, Months: months})
			if err != nil {
				t.Fatalf("quote %s+%d: %v (fields %+v)", start, months, err, service.AsError(err))
			}
			if last := q.Lines[len(q.Lines)-1].Month; last != addMonths(cur, cap) {
				t.Fatalf("got last month %s, want %s (cur+%d)", last, addMonths(cur, cap), cap)
			}
			no := orderAndPay(t, a, clock, q, person)
			if _, err := a.After.Posting.RunOnce(ctx); err != nil {
				t.Fatalf("posting: %v", err)
			}
			o, err := model.NewOrderStore(a.DB).FindOrder(ctx, no)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range o.Batches {
				if b.Status != service.StatusPosted {
					t.Fatalf("batch %d (%s..%s): got %s, want posted (accepted by the platform)", b.Seq, b.FromMonth, b.ToMonth, b.Status)
				}
			}
		})
	}
	if tested < 6 {
		t.Fatalf("tested %d regions, want the 6 that allow prepayment", tested)
	}
}

var addMonths = service.AddMonths

// prepayResidentID returns a valid 18-digit resident ID number (MOD 11-2) for seq.
func prepayResidentID(seq int) string {
	body := fmt.Sprintf("440106199001%02d%03d", 1+seq%28, 100+seq%900)
	return service.CompleteResidentID(body)
}

// verifiedUser makes a user whose verified person the platform lists as
// insured in every insurance chosen.
func verifiedUser(t *testing.T, a *app.App, ctx context.Context, region string, ins []service.InsuranceChoice) (int64, *service.Person) {
	t.Helper()
	users, persons := model.NewUserStore(a.DB), model.NewPersonStore(a.DB, a.PII)
	for seq := 0; seq < 50; seq++ {
		ref := service.PersonRef{Name: "预缴" + region, IDType: service.IDResident, IDNumber: prepayResidentID(seq + len(region)*50)}
		prof, err := a.Platform.FindProfile(ctx, region, ref)
		if err != nil {
			t.Fatalf("profile: %v", err)
		}
		ok := true
		for _, c := range ins {
			for _, st := range prof.Insurances {
				if st.Insurance == c.Type && st.Status != "active" {
					ok = false
				}
			}
		}
		if !ok {
			continue
		}
		p, err := persons.EnsurePerson(ctx, service.Person{Name: ref.Name, IDType: ref.IDType, IDNumber: ref.IDNumber})
		if err != nil {
			t.Fatalf("person: %v", err)
		}
		u, err := users.UpsertUserByOpenID(ctx, "openid-prepay-"+region, "")
		if err != nil {
			t.Fatalf("user: %v", err)
		}
		if _, err := users.UpdateUser(ctx, u.ID, func(u *service.User) error { u.PersonID = p.ID; return nil }); err != nil {
			t.Fatalf("verify user: %v", err)
		}
		return u.ID, p
	}
	t.Fatalf("no simulated person insured in %v", ins)
	return 0, nil
}

// orderAndPay creates the order of a quote as the order service does, pays
// every batch at the WeChat Pay simulator and records the payments with
// their posting jobs, as the notify transaction does.
func orderAndPay(t *testing.T, a *app.App, clock *service.ManualClock, q *service.Quote, p *service.Person) string {
	t.Helper()
	ctx := context.Background()
	orders := model.NewOrderStore(a.DB)
	u, err := model.NewUserStore(a.DB).FindUserByID(ctx, q.UserID)
	if err != nil {
		t.Fatal(err)
	}
	no := "SP" + strings.ReplaceAll(time.Now().Format("060102150405.000000"), ".", "")
	o := &service.Order{No: no, UserID: q.UserID, PersonID: p.ID, QuoteID: q.ID, Region: q.Region, AmountFen: q.PayableFen}
	for _, bp := range q.Batches {
		o.Batches = append(o.Batches, service.Batch{OrderNo: no, Seq: bp.Seq, OutTradeNo: service.OutTradeNo(no, bp.Seq), AmountFen: bp.AmountFen,
			FromMonth: bp.FromMonth, ToMonth: bp.ToMonth, Status: service.StatusPendingPayment, PayerOpenID: u.OpenID})
	}
	if err := orders.CreateOrder(ctx, o); err != nil {
		t.Fatalf("order: %v", err)
	}
	for _, b := range o.Batches {
		pp, err := a.Pay.Prepay(ctx, service.Prepay{OutTradeNo: b.OutTradeNo, Description: "社保缴费", PayerOpenID: u.OpenID, AmountFen: b.AmountFen,
			ExpireAt: clock.Now().Add(30 * time.Minute)})
		if err != nil {
			t.Fatalf("prepay: %v", err)
		}
		if _, err := a.Sims.Pay.Pay(pp.PrepayID); err != nil {
			t.Fatalf("pay: %v", err)
		}
		tr, err := a.Pay.QueryTrade(ctx, b.OutTradeNo)
		if err != nil || tr.State != service.TradeSuccess {
			t.Fatalf("query trade: %+v, %v", tr, err)
		}
		if _, err := orders.UpdateBatch(ctx, b.OutTradeNo, func(o *service.Order, b *service.Batch, fx *service.Effects) error {
			b.Status, b.TransactionID, b.PaidAt = service.StatusPaid, tr.TransactionID, tr.SuccessTime
			fx.Outbox = append(fx.Outbox, service.OutboxJob{Kind: service.JobPostBatch, Ref: b.OutTradeNo, DeadlineAt: tr.SuccessTime.Add(service.RetryWindow)})
			return nil
		}); err != nil {
			t.Fatalf("mark paid: %v", err)
		}
	}
	return no
}
