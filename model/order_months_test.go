package model_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// claimOrder is a one-batch order of person 9 covering pension months.
func claimOrder(no, quoteID string, months ...string) *service.Order {
	o := newTestOrder(no, 101, quoteID, 1)
	for _, m := range months {
		o.Claims = append(o.Claims, service.MonthClaim{Insurance: service.InsurancePension, Month: m, OutTradeNo: o.Batches[0].OutTradeNo})
	}
	return o
}

// One open order per person, insurance and month, enforced by the
// order_months unique key: the second order gets 409 naming the open one;
// the claim is released once the holding batch is closed (or refunded).
func TestOrderStoreOneOpenOrderPerPersonAndMonth(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		s := model.NewOrderStore(db)
		first := claimOrder("SIM000000000000000001", "qm-1", "2026-11", "2026-12")
		mustCreateOrder(t, s, first)

		err := s.CreateOrder(ctx, claimOrder("SIM000000000000000002", "qm-2", "2026-12", "2027-01"))
		if service.ErrorCode(err) != service.CodeMonthAlreadyOrdered || service.ErrorKind(err) != service.KindConflict {
			t.Fatalf("second order: got %v, want 409 %s", err, service.CodeMonthAlreadyOrdered)
		}
		if msg := service.AsError(err).Message; !strings.Contains(msg, first.No) || !strings.Contains(msg, "2026-12") {
			t.Errorf("got message %q, want it to name %s and 2026-12", msg, first.No)
		}
		if n := countRows(t, db, "orders", "order_no = ?", "SIM000000000000000002"); n != 0 {
			t.Fatalf("got %d rows of the refused order, want nothing half-written", n)
		}
		// Another person, or another insurance, is not blocked.
		other := claimOrder("SIM000000000000000003", "qm-3", "2026-12")
		other.PersonID = 10
		mustCreateOrder(t, s, other)

		// Closing the first batch releases its months.
		if _, err := s.UpdateBatch(ctx, first.Batches[0].OutTradeNo, func(o *service.Order, b *service.Batch, fx *service.Effects) error {
			b.Status = service.StatusClosed
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		mustCreateOrder(t, s, claimOrder("SIM000000000000000004", "qm-4", "2026-12", "2027-01"))
		if n := countRows(t, db, "order_months", "order_no = ?", "SIM000000000000000004"); n != 2 {
			t.Fatalf("got %d claims of the new order, want 2", n)
		}
		// The refused order stays unwritten after later writes: on MySQL its
		// one-trip transaction stopped at the claim with the order row
		// inserted, and a connection left in that transaction would have
		// committed it with the next transaction it ran.
		for i := 5; i < 40; i++ {
			mustCreateOrder(t, s, claimOrder(fmt.Sprintf("SIM%018d", i), fmt.Sprintf("qm-%d", i), fmt.Sprintf("2030-%02d", i%12+1)))
			o := claimOrder(fmt.Sprintf("SIX%018d", i), fmt.Sprintf("qx-%d", i), fmt.Sprintf("2030-%02d", i%12+1))
			if err := s.CreateOrder(ctx, o); service.ErrorCode(err) != service.CodeMonthAlreadyOrdered {
				t.Fatalf("order %d: got %v, want %s", i, err, service.CodeMonthAlreadyOrdered)
			}
			if _, err := s.UpdateBatch(ctx, service.OutTradeNo(fmt.Sprintf("SIM%018d", i), 1), func(o *service.Order, b *service.Batch, fx *service.Effects) error {
				b.Status = service.StatusClosed
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if n := countRows(t, db, "orders", "order_no = ? OR order_no LIKE ?", "SIM000000000000000002", "SIX%"); n != 0 {
			t.Fatalf("got %d rows of refused orders, want nothing half-written", n)
		}
	})
}

// Concurrent orders for the same month: exactly one wins, on both dialects
// (on MySQL with real concurrency).
func TestOrderStoreConcurrentClaimsOneWins(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		s := model.NewOrderStore(db)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = s.CreateOrder(context.Background(), claimOrder(fmt.Sprintf("SIC%018d", i), fmt.Sprintf("qc-%d", i), "2026-11"))
			}(i)
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case service.ErrorCode(err) != service.CodeMonthAlreadyOrdered:
				t.Errorf("got %v, want success or %s", err, service.CodeMonthAlreadyOrdered)
			}
		}
		if ok != 1 || countRows(t, db, "order_months", "") != 1 || countRows(t, db, "orders", "") != 1 {
			t.Fatalf("got %d successes, %d claims, %d orders; want exactly one of each", ok, countRows(t, db, "order_months", ""), countRows(t, db, "orders", ""))
		}
	})
}

// The mutual-aid balance committed to open orders is the sum of their
// quotes' mutual_aid_fen; closed orders commit nothing.
func TestOrderStoreCommittedMutualAid(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		s, qs := model.NewOrderStore(db), model.NewQuoteStore(db)
		for i, aid := range []service.Fen{30000, 20000} {
			q := &service.Quote{ID: fmt.Sprintf("QAID%d", i), UserID: 101, PersonID: 9, Region: "440300", TotalFen: 100000, MutualAidFen: aid,
				PayableFen: 100000 - aid, Lines: []service.QuoteLine{{Insurance: "medical", Month: "2026-11", BaseFen: 1, RateBP: 1, AmountFen: 100000}},
				Batches:   []service.BatchPlan{{Seq: 1, AmountFen: 100000 - aid, FromMonth: "2026-11", ToMonth: "2026-11"}},
				CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
			if err := qs.CreateQuote(ctx, q); err != nil {
				t.Fatal(err)
			}
			mustCreateOrder(t, s, newTestOrder(fmt.Sprintf("SIA%018d", i), 101, q.ID, 1))
		}
		got, err := s.CommittedMutualAid(ctx, 9, "440300")
		if err != nil || got != 50000 {
			t.Fatalf("got %d %v, want 50000", got, err)
		}
		if _, err := s.UpdateBatch(ctx, service.OutTradeNo(fmt.Sprintf("SIA%018d", 0), 1), func(o *service.Order, b *service.Batch, fx *service.Effects) error {
			b.Status = service.StatusClosed
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.CommittedMutualAid(ctx, 9, "440300"); got != 20000 {
			t.Fatalf("after closing: got %d, want 20000", got)
		}
		if got, _ := s.CommittedMutualAid(ctx, 9, "110000"); got != 0 {
			t.Fatalf("other region: got %d, want 0", got)
		}
	})
}

// Identity evidence: a verified face attempt counts everywhere; a verified
// identity check counts in its own region only; pending checks never count.
func TestIdentityEvidenceVerifiedMethods(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		now := clock.Now()
		exec := func(q string, args ...any) {
			t.Helper()
			if err := db.Exec(q, args...).Error; err != nil {
				t.Fatal(err)
			}
		}
		check := `INSERT INTO identity_checks (public_id, user_id, region, method, purpose, platform_check_id, name_enc, id_type, id_number_enc, status, person_id, created_at, expires_at, updated_at)
			VALUES (?, 1, ?, ?, 'self', 'p', 'x', 'resident_id', 'x', ?, ?, ?, ?, ?)`
		exec(check, "ck1", "guangdong-guangzhou", "sms", "verified", 5, now, now, now)
		exec(check, "ck2", "jiangsu", "ecard_password", "pending", 5, now, now, now)
		exec(check, "ck3", "jiangsu", "ecard_password", "verified", 6, now, now, now)
		exec(`INSERT INTO face_attempts (user_id, flow, out_seq_no, cert_enc, status, person_id, day, created_at, expires_at, updated_at)
			VALUES (1, 'v2', 'seq1', 'x', 'verified', 5, '2026-11-24', ?, ?, ?)`, now, now, now)
		e := model.NewIdentityEvidence(db)
		for _, c := range []struct {
			person int64
			region string
			want   string
		}{{5, "guangdong-guangzhou", "face,sms"}, {5, "jiangsu", "face"}, {6, "jiangsu", "ecard_password"}, {6, "guangdong-guangzhou", ""}} {
			got, err := e.VerifiedMethods(ctx, 1, c.person, c.region)
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(sorted(got), ","); g != c.want {
				t.Errorf("person %d in %s: got %q, want %q", c.person, c.region, g, c.want)
			}
		}

		// The user read (authentication) carries the same evidence for the
		// user's own person, with its ID type: quotes and orders for
		// "self" use it instead of VerifiedMethods.
		person := `INSERT INTO persons (id, name_enc, id_type, id_number_enc, id_number_bidx, created_at, updated_at) VALUES (?, 'x', ?, 'x', ?, ?, ?)`
		exec(person, 5, "resident_id", "b5", now, now)
		exec(person, 6, "hk_macau_travel", "b6", now, now)
		exec(person, 7, "resident_id", "b7", now, now)
		user := `INSERT INTO users (id, open_id, person_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`
		exec(user, 51, "o51", 5, now, now)
		exec(user, 61, "o61", 6, now, now)
		exec(user, 71, "o71", 7, now, now)
		exec(user, 81, "o81", 0, now, now)
		users := model.NewUserStore(db)
		for _, c := range []struct {
			user, person int64
			idType       service.IDType
		}{{51, 5, "resident_id"}, {61, 6, "hk_macau_travel"}, {71, 7, "resident_id"}} {
			u, err := users.FindUserByID(ctx, c.user)
			if err != nil {
				t.Fatal(err)
			}
			if u.PersonID != c.person || u.OpenID != fmt.Sprintf("o%d", c.user) || u.Self == nil || u.Self.IDType != c.idType {
				t.Fatalf("user %d: %+v self %+v, want person %d of type %s", c.user, u, u.Self, c.person, c.idType)
			}
			for _, region := range []string{"guangdong-guangzhou", "jiangsu", "beijing"} {
				want, err := e.VerifiedMethods(ctx, c.user, c.person, region)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := strings.Join(sorted(u.Self.MethodsIn(region)), ","), strings.Join(sorted(want), ","); g != w {
					t.Errorf("user %d in %s: the user read carries %q, VerifiedMethods says %q", c.user, region, g, w)
				}
			}
		}
		if u, err := users.FindUserByID(ctx, 81); err != nil || u.Self != nil || u.Verified() {
			t.Errorf("unverified user: %+v %v, want no Self", u, err)
		}
		if _, err := users.FindUserByID(ctx, 999); !errors.Is(err, service.ErrNotFound) {
			t.Errorf("missing user: err %v, want ErrNotFound", err)
		}
	})
}

func sorted(xs []string) []string {
	out := append([]string(nil), xs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// aidOrder stores a quote of person 9 in 440300 that spends aid fen of the
// recorded mutual-aid balance, and returns its order (not yet created).
func aidOrder(t *testing.T, qs *model.QuoteStore, clock service.Clock, i int, aid, balance service.Fen) *service.Order {
	t.Helper()
	q := &service.Quote{ID: fmt.Sprintf("QMA%d", i), UserID: 101, PersonID: 9, Region: "440300", TotalFen: 100000, MutualAidFen: aid,
		PayableFen: 100000 - aid, MutualAidBalanceFen: balance,
		Lines:     []service.QuoteLine{{Insurance: "medical", Month: "2026-11", BaseFen: 1, RateBP: 1, AmountFen: 100000}},
		Batches:   []service.BatchPlan{{Seq: 1, AmountFen: 100000 - aid, FromMonth: "2026-11", ToMonth: "2026-11"}},
		CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
	if err := qs.CreateQuote(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if got, err := qs.FindQuoteByID(context.Background(), q.ID); err != nil || got.MutualAidBalanceFen != balance {
		t.Fatalf("stored quote: balance %v %v, want %d", got, err, balance)
	}
	o := newTestOrder(fmt.Sprintf("SIM%018d", i), 101, q.ID, 1)
	o.MutualAidFen, o.MutualAidBalanceFen = aid, balance
	return o
}

func insertPerson9(t *testing.T, db *model.DB, now time.Time) {
	t.Helper()
	if err := db.Exec(`INSERT INTO persons (id, name_enc, id_type, id_number_enc, id_number_bidx, created_at, updated_at)
		VALUES (9, 'x', 'resident_id', 'x', 'b9', ?, ?)`, now, now).Error; err != nil {
		t.Fatal(err)
	}
}

// Two quotes issued before either is ordered each spend the whole mutual-aid
// balance: the first order commits it, the second is refused with 409
// mutual_aid_committed and writes nothing; once the first is closed the
// balance is free again.
func TestOrderStoreMutualAidNotSpentTwice(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		s, qs := model.NewOrderStore(db), model.NewQuoteStore(db)
		insertPerson9(t, db, clock.Now())
		first, second := aidOrder(t, qs, clock, 1, 30000, 30000), aidOrder(t, qs, clock, 2, 30000, 30000)
		mustCreateOrder(t, s, first)
		err := s.CreateOrder(ctx, second)
		if service.ErrorCode(err) != service.CodeMutualAidCommitted || service.ErrorKind(err) != service.KindConflict {
			t.Fatalf("second order: got %v, want 409 %s", err, service.CodeMutualAidCommitted)
		}
		for _, table := range []string{"orders", "batches", "order_months", "order_events"} {
			if n := countRows(t, db, table, "order_no = ?", second.No); n != 0 {
				t.Fatalf("got %d %s rows of the refused order, want nothing half-written", n, table)
			}
		}
		// What is left of the balance can still be spent.
		third := aidOrder(t, qs, clock, 3, 0, 30000)
		mustCreateOrder(t, s, third)

		if _, err := s.UpdateBatch(ctx, first.Batches[0].OutTradeNo, func(o *service.Order, b *service.Batch, fx *service.Effects) error {
			b.Status = service.StatusClosed
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		mustCreateOrder(t, s, second)
	})
}

// Eight orders race on one mutual-aid balance (real goroutines; on MySQL
// truly concurrent): the committed aid never exceeds the balance.
func TestOrderStoreConcurrentMutualAidWithinBalance(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		s, qs := model.NewOrderStore(db), model.NewQuoteStore(db)
		insertPerson9(t, db, clock.Now())
		const n, balance, aid = 8, 50000, 20000 // room for two orders
		orders := make([]*service.Order, n)
		for i := range orders {
			orders[i] = aidOrder(t, qs, clock, i, aid, balance)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				errs[i] = s.CreateOrder(context.Background(), orders[i])
			}(i)
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case service.ErrorCode(err) != service.CodeMutualAidCommitted:
				t.Errorf("got %v, want success or %s", err, service.CodeMutualAidCommitted)
			}
		}
		committed, err := s.CommittedMutualAid(context.Background(), 9, "440300")
		if err != nil || committed > balance || ok != 2 || committed != service.Fen(ok*aid) {
			t.Fatalf("got %d orders committing %d fen (%v), want 2 orders within the balance %d", ok, committed, err, balance)
		}
	})
}
