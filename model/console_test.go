package model_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// The console store's queries on both dialects: activity times, unknown
// outcomes (a join), lookup by any reference, audit search with paging and
// the conditional alert decisions.
func TestConsoleStoreQueries(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		orders, after := model.NewOrderStore(db), model.NewAfterStore(db)
		o := newTestOrder("SPCONSOLE1", 1, "Q-console", 2)
		mustCreateOrder(t, orders, o)
		otn := service.OutTradeNo(o.No, 1)
		if _, err := orders.UpdateBatch(ctx, otn, payBatch("4200CONSOLE", "EV-CONSOLE")); err != nil {
			t.Fatal(err)
		}
		if _, err := orders.UpdateBatch(ctx, otn, func(o *service.Order, b *service.Batch, fx *service.Effects) error {
			b.Status = service.StatusPosting
			return nil
		}); err != nil {
			t.Fatal(err)
		}

		day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
		act, err := after.ActivityBetween(ctx, day, day.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(act.Paid) != 1 || !act.Paid[0].Equal(time.Date(2026, 11, 24, 8, 1, 0, 0, time.UTC)) || len(act.Posted)+len(act.Refunded) != 0 {
			t.Fatalf("activity = %+v", act)
		}

		if us, err := after.FindUnknownOutcomes(ctx, 10); err != nil || len(us) != 0 {
			t.Fatalf("unknown before any answer = %+v, %v; want none", us, err)
		}
		if err := after.SavePosting(ctx, &service.PostingRecord{OutTradeNo: otn, OrderNo: o.No, Region: o.Region, Status: service.PostingPending,
			Reference: "SI-1", FirstPendingAt: clock.Now()}); err != nil {
			t.Fatal(err)
		}
		us, err := after.FindUnknownOutcomes(ctx, 10)
		if err != nil || len(us) != 1 || us[0].OutTradeNo != otn || us[0].Status != string(service.PostingPending) || !us[0].Since.Equal(clock.Now()) {
			t.Fatalf("unknown = %+v, %v; want the pending posting", us, err)
		}

		for _, ref := range []string{o.No, otn, "4200CONSOLE"} {
			if no, err := after.FindOrderNoByRef(ctx, ref); err != nil || no != o.No {
				t.Fatalf("ref %s: %q, %v", ref, no, err)
			}
		}
		if _, err := after.FindOrderNoByRef(ctx, "nothing"); !errors.Is(err, service.ErrNotFound) {
			t.Fatalf("unknown ref: %v", err)
		}

		for i, a := range []string{"ops:alice", "ops:bob", "ops:alice"} {
			if err := after.WriteAudit(ctx, service.AuditEntry{Actor: a, Action: "release_hold", Target: otn, CreatedAt: clock.Now().Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		es, total, err := after.SearchAudit(ctx, service.AuditFilter{Query: "ops:alice", Limit: 1})
		if err != nil || total != 2 || len(es) != 1 || es[0].Actor != "ops:alice" {
			t.Fatalf("search = %+v, %d, %v", es, total, err)
		}
		page2, total, _ := after.SearchAudit(ctx, service.AuditFilter{Query: otn, Offset: 2, Limit: 2})
		if total != 3 || len(page2) != 1 || page2[0].ID >= es[0].ID {
			t.Fatalf("page 2 = %+v of %d", page2, total)
		}

		if err := orders.RecordAlert(ctx, service.Alert{Kind: service.AlertRefundClosed, Ref: "R1"}); err != nil {
			t.Fatal(err)
		}
		as, err := after.FindOpsAlerts(ctx, service.AlertOpen, 10)
		if err != nil || len(as) != 1 {
			t.Fatalf("alerts = %+v, %v", as, err)
		}
		id := as[0].ID
		if ok, err := after.DecideAlert(ctx, id, []service.AlertStatus{service.AlertOpen}, service.AlertAcked, "ops:alice", "looking", clock.Now()); !ok || err != nil {
			t.Fatalf("ack: %v, %v", ok, err)
		}
		if ok, err := after.DecideAlert(ctx, id, []service.AlertStatus{service.AlertOpen}, service.AlertAcked, "ops:bob", "", clock.Now()); ok || err != nil {
			t.Fatalf("second ack: %v, %v; want not applied", ok, err)
		}
		if ok, err := after.DecideAlert(ctx, id, []service.AlertStatus{service.AlertOpen, service.AlertAcked}, service.AlertResolved, "ops:alice", "done", clock.Now()); !ok || err != nil {
			t.Fatalf("resolve: %v, %v", ok, err)
		}
		a, err := after.FindOpsAlert(ctx, id)
		if err != nil || a.Status != service.AlertResolved || a.DecidedBy != "ops:alice" || a.Note != "done" || a.AckedAt.IsZero() || a.ResolvedAt.IsZero() {
			t.Fatalf("alert = %+v, %v", a, err)
		}
		if _, err := after.FindOpsAlert(ctx, id+100); !errors.Is(err, service.ErrNotFound) {
			t.Fatalf("missing alert: %v", err)
		}
	})
}

// The console's queues: credit orders filtered by state, newest first, and
// tickets by first-response due time (the SLA queue), on both dialects.
func TestConsoleListsCreditOrdersAndTicketsByDue(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		credits, after := model.NewCreditStore(db), model.NewAfterStore(db)
		for i, st := range []service.CreditState{service.CreditPosted, service.CreditCollectionFailed, service.CreditPosted} {
			otn := service.OutTradeNo(fmt.Sprintf("SPCREDIT%d", i), 1)
			c := &service.CreditOrder{OutOrderNo: service.CreditOutOrderNo(otn), OutTradeNo: otn, OrderNo: fmt.Sprintf("SPCREDIT%d", i),
				UserID: 1, Region: "zhejiang-hangzhou", AmountFen: service.Fen(10000 + i), State: st, ConfirmBy: clock.Now()}
			if err := credits.CreateCredit(ctx, c, nil); err != nil {
				t.Fatal(err)
			}
		}
		posted, err := after.FindCreditOrders(ctx, service.CreditPosted, 10)
		if err != nil || len(posted) != 2 || posted[0].OrderNo != "SPCREDIT2" || posted[1].AmountFen != 10000 {
			t.Fatalf("posted credit orders = %+v, %v; want SPCREDIT2 then SPCREDIT0", posted, err)
		}
		if all, err := after.FindCreditOrders(ctx, "", 10); err != nil || len(all) != 3 {
			t.Fatalf("all credit orders = %d, %v; want 3", len(all), err)
		}

		help := model.NewHelpStore(db, testRing(t, "k1", 7))
		for i, due := range []time.Duration{30 * time.Minute, 10 * time.Minute, 20 * time.Minute} {
			tk := &service.Ticket{No: fmt.Sprintf("TKDUE%d", i), UserID: 1, Source: service.TicketFromFAQ, Category: "other",
				Status: service.TicketOpen, Subject: "s", OpenedAt: clock.Now(), UpdatedAt: clock.Now(), FirstResponseDueAt: clock.Now().Add(due)}
			if err := help.CreateTicket(ctx, tk, service.TicketMessage{Author: service.AuthorUser, Body: "b", CreatedAt: clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		ts, err := help.FindTickets(ctx, service.TicketFilter{Status: string(service.TicketOpen), Limit: 2, ByDue: true})
		if err != nil || len(ts) != 2 || ts[0].No != "TKDUE1" || ts[1].No != "TKDUE2" {
			t.Fatalf("tickets by due = %+v, %v; want TKDUE1, TKDUE2", ts, err)
		}
	})
}
