package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// sigsPerOrder is the number of RSA-2048 signatures one order with one batch
// costs on this machine (server and simulator share the child process):
//  1. our Authorization header on POST /v3/pay/transactions/jsapi
//     (wechatpay-go signs every request),
//  2. the simulator's Wechatpay-Signature on its prepay answer (WeChat Pay
//     signs every answer; we only verify it, ~1/30 of a signature),
//  3. our paySign over the wx.requestPayment parameters.
//
// The simulator's check of our Authorization header and our check of its
// answer are verifications, counted apart.
const sigsPerOrder = 3

// seedQuotes stores n one-batch quotes for the current month through
// model.QuoteStore, owned round-robin by users.
func seedQuotes(ctx context.Context, db *benchDB, users []benchUser, personOf func(u benchUser) int64, n int) ([]quoteRef, error) {
	mdb, err := model.Open(db.DSN, "", service.SystemClock{})
	if err != nil {
		return nil, err
	}
	defer mdb.Close()
	store := model.NewQuoteStore(mdb)
	now := time.Now()
	refs := make([]quoteRef, n)
	err = parallel(16, n, func(i int) error {
		u := users[i%len(users)]
		// Each user's quotes are for different months: one open
		// order per person and month.
		month := seedMonth(i, len(users))
		pension, medical := service.Fen(100000), service.Fen(40000)
		q := &service.Quote{ID: fmt.Sprintf("QBENCH%014d", i), UserID: u.ID, PersonID: personOf(u), Region: "jiangsu",
			Lines: []service.QuoteLine{
				{Insurance: service.InsurancePension, Month: month, BaseFen: 500000, RateBP: 2000, AmountFen: pension},
				{Insurance: service.InsuranceMedical, Month: month, BaseFen: 500000, RateBP: 800, AmountFen: medical},
			},
			TotalFen: pension + medical, PayableFen: pension + medical,
			Batches:   []service.BatchPlan{{Seq: 1, AmountFen: pension + medical, FromMonth: month, ToMonth: month}},
			CreatedAt: now, ExpiresAt: now.Add(2 * time.Hour)}
		if err := store.CreateQuote(ctx, q); err != nil {
			return err
		}
		refs[i] = quoteRef{ID: q.ID, User: i % len(users)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return refs, nil
}

// quoteRef is a seeded quote and the index of its owner.
type quoteRef struct {
	ID   string
	User int
}

// ordersLoad prepares POST /api/v1/orders with an Idempotency-Key: each
// request turns a fresh seeded quote into an order and prepays its batch
// against the pay simulator. It returns nil when the route is not mounted.
func ordersLoad(ctx context.Context, b *bench, rep *report, db *benchDB, rdb *redis.Client, srv *child, c *http.Client) (*load, error) {
	if !routeExists(ctx, c, srv.URL(), "/api/v1/orders") {
		rep.note("orders: POST /api/v1/orders is not mounted in this build; skipped")
		return nil, nil
	}
	users, err := benchUsers(ctx, b, rep, db, rdb)
	if err != nil {
		return nil, err
	}
	// The pool is sized for the signing ceiling measured at start-up.
	ceiling := float64(rep.Machine.CPUs) * 1000 / sigsPerOrder // at most 1 ms a signature
	n := b.poolSize(ceiling, b.o.Conc)
	b.logf("orders: seeding %d quotes", n)
	quotes, err := seedQuotes(ctx, db, users, func(u benchUser) int64 { return u.PersonID }, n)
	if err != nil {
		return nil, err
	}
	var next atomic.Int64
	base := srv.URL()
	return &load{"orders", b.o.Conc, srv, func(ctx context.Context, _ int) error {
		k := int(next.Add(1) - 1)
		if k >= len(quotes) {
			return errExhausted
		}
		q := quotes[k]
		u := users[q.User]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/orders",
			bytes.NewReader([]byte(`{"quote_id":"`+q.ID+`"}`)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+u.Token)
		req.Header.Set("Idempotency-Key", "bench-"+q.ID)
		body, err := do(c, req, 0)
		if err != nil {
			return err
		}
		if !bytes.Contains(body, []byte(`"paySign"`)) && !bytes.Contains(body, []byte(`"pay_sign"`)) {
			return fmt.Errorf("order reply without paySign: %.200s", body)
		}
		return nil
	}}, nil
}

// finishOrders records the signatures per order and cross-checks them with
// the server's CPU time per order.
func finishOrders(rep *report) {
	r := rep.Orders
	rep.SigsPerOrder = sigsPerOrder
	rep.SigsNote = "derived: our Authorization header on the prepay call, the simulator's signature on its answer, our paySign; confirmed 1:1:1 by a CPU profile of the run (GenerateAuthorizationHeader, wxpay.SignResponseHeaders, PayParamsFor)"
	// CPU time per signature, measured in the signing runs (robust to other
	// processes taking CPU, unlike the wall-clock rate).
	if s := rep.Sign; s != nil && s.OK > 0 && r.Server != nil && r.OK > 0 {
		perSig := s.CPU.Bench * s.Elapsed.Seconds() / float64(s.OK)
		perOrder := r.Server.CPUSec / float64(r.OK+r.Errors)
		rep.SigsNote += fmt.Sprintf("; the server used %.2f ms CPU per order, as much as %.1f signatures at the %.2f ms CPU one signature took",
			perOrder*1e3, perOrder/perSig, perSig*1e3)
	}
	if r.Exhausted {
		rep.note("orders: the seeded quotes ran out after %s measured; the figures cover that time", r.Elapsed.Round(time.Millisecond))
	}
}
