package service_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// postPlatform is a provincial platform whose answers a test scripts. It is
// idempotent per key like the real one, and counts calls and bookings.
type postPlatform struct {
	mu      sync.Mutex
	answer  func(n int, p service.Posting) (service.PostingResult, error) // n: 1-based call number for the key
	query   func(key string) (service.PostingResult, error)
	posts   map[string]int                   // PostPayment calls per key
	booked  map[string]service.PostingResult // accepted postings per key
	queries map[string]int                   // QueryPosting calls per key
	pending map[string]service.PostingResult // keys answered pending
	delay   time.Duration                    // widens race windows in concurrency tests
	void    func(key string) (service.PostingResult, error)
	voids   map[string]int  // VoidPosting calls per key
	voided  map[string]bool // keys voided: never booked afterwards
	// Concurrency of external calls per key (the lease test).
	inflight    map[string]int
	maxInflight int
	block       chan struct{} // when set, calls wait on it or their context
}

func newPostPlatform() *postPlatform {
	return &postPlatform{posts: map[string]int{}, booked: map[string]service.PostingResult{}, queries: map[string]int{},
		pending: map[string]service.PostingResult{}, voids: map[string]int{}, voided: map[string]bool{}, inflight: map[string]int{}}
}

// acceptedResult is an acceptance of key whose fiscal receipt is for amount.
func acceptedResult(key string, amount service.Fen) service.PostingResult {
	return service.PostingResult{Status: service.PostingAccepted, Reference: "REF-" + key, Receipt: &service.PostingReceipt{
		AcceptanceNo: "ACC-" + key, AcceptedAt: time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC),
		Fiscal: service.FiscalReceipt{Code: "44010126", Number: "0001234567", CheckCode: "a1b2c3", IssuedOn: "2026-03-02", AmountFen: amount}}}
}

var errPlatformDown = errors.New("platform: 503 service unavailable")

func (f *postPlatform) FindProfile(context.Context, string, service.PersonRef) (service.InsuredProfile, error) {
	return service.InsuredProfile{}, errors.New("not used")
}
func (f *postPlatform) AssessBase(context.Context, string, service.PersonRef) (service.Fen, error) {
	return 0, errors.New("not used")
}
func (f *postPlatform) StartIdentityCheck(context.Context, string, service.IdentityCheck) (string, error) {
	return "", errors.New("not used")
}
func (f *postPlatform) FinishIdentityCheck(context.Context, string, string, string) (bool, error) {
	return false, errors.New("not used")
}

// enter records a call in flight for key and, when block is set, waits
// for it or for ctx (a call cut by its deadline).
func (f *postPlatform) enter(ctx context.Context, key string) (leave func(), err error) {
	f.mu.Lock()
	f.inflight[key]++
	f.maxInflight = max(f.maxInflight, f.inflight[key])
	block := f.block
	f.mu.Unlock()
	leave = func() {
		f.mu.Lock()
		f.inflight[key]--
		f.mu.Unlock()
	}
	if block != nil {
		select {
		case <-block:
		case <-time.After(1500 * time.Millisecond): // a very slow answer (no hang without a deadline)
		case <-ctx.Done():
			leave()
			return nil, ctx.Err()
		}
	}
	return leave, nil
}

func (f *postPlatform) PostPayment(ctx context.Context, p service.Posting) (service.PostingResult, error) {
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	leave, err := f.enter(ctx, p.IdempotencyKey)
	if err != nil {
		return service.PostingResult{}, err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts[p.IdempotencyKey]++
	if f.voided[p.IdempotencyKey] {
		return service.PostingResult{Status: service.PostingRejected}, &service.PlatformRejection{Code: "posting_voided", Reason: "voided"}
	}
	if r, ok := f.booked[p.IdempotencyKey]; ok {
		return r, nil // the same key never books twice
	}
	res, err := acceptedResult(p.IdempotencyKey, p.AmountFen), error(nil)
	if f.answer != nil {
		res, err = f.answer(f.posts[p.IdempotencyKey], p)
	}
	if err == nil && res.Status == service.PostingAccepted {
		f.booked[p.IdempotencyKey] = res
	}
	if err == nil && res.Status == service.PostingPending {
		f.pending[p.IdempotencyKey] = res
	}
	return res, err
}

func (f *postPlatform) QueryPosting(ctx context.Context, region, key string) (service.PostingResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries[key]++
	if f.query != nil {
		return f.query(key)
	}
	if r, ok := f.booked[key]; ok {
		return r, nil
	}
	if r, ok := f.pending[key]; ok {
		return r, nil
	}
	return service.PostingResult{}, &service.PlatformRejection{Code: service.RejectPostingNotFound, Reason: "unknown key"}
}

func (f *postPlatform) VoidPosting(ctx context.Context, region, key string) (service.PostingResult, error) {
	leave, err := f.enter(ctx, key)
	if err != nil {
		return service.PostingResult{}, err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.voids[key]++
	if f.void != nil {
		r, err := f.void(key)
		if err == nil && r.Status == service.PostingVoided {
			f.voided[key] = true
		}
		return r, err
	}
	if r, ok := f.booked[key]; ok {
		return r, nil
	}
	delete(f.pending, key)
	f.voided[key] = true
	return service.PostingResult{Status: service.PostingVoided}, nil
}

func (f *postPlatform) voidsOf(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.voids[key]
}

func (f *postPlatform) counts(key string) (posts, bookings int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.booked[key]
	if ok {
		bookings = 1
	}
	return f.posts[key], bookings
}

// refundGateway is WeChat Pay's refund side, scripted per test; it counts
// CreateRefund calls per out_refund_no.
type refundGateway struct {
	mu      sync.Mutex
	answer  func(n int, r service.RefundRequest) (service.RefundResult, error)
	creates map[string]int
	reqs    []service.RefundRequest
	state   map[string]service.RefundResult
	bill    []service.BillRow
	delay   time.Duration
}

func newRefundGateway() *refundGateway {
	return &refundGateway{creates: map[string]int{}, state: map[string]service.RefundResult{}}
}

func (g *refundGateway) Prepay(context.Context, service.Prepay) (service.PayParams, error) {
	return service.PayParams{}, errors.New("not used")
}
func (g *refundGateway) QueryTrade(context.Context, string) (service.Trade, error) {
	return service.Trade{}, errors.New("not used")
}
func (g *refundGateway) CloseTrade(context.Context, string) error { return errors.New("not used") }

func (g *refundGateway) CreateRefund(ctx context.Context, r service.RefundRequest) (service.RefundResult, error) {
	if g.delay > 0 {
		time.Sleep(g.delay)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.creates[r.OutRefundNo]++
	g.reqs = append(g.reqs, r)
	if prev, ok := g.state[r.OutRefundNo]; ok && prev.Status == service.RefundClosed {
		return prev, nil // WeChat never reopens a CLOSED out_refund_no
	}
	res := service.RefundResult{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, RefundID: "5030" + r.OutTradeNo,
		Status: service.RefundSuccess, Channel: "ORIGINAL", UserReceivedAccount: "招商银行信用卡0403", RefundFen: r.RefundFen, TotalFen: r.TotalFen}
	var err error
	if g.answer != nil {
		res, err = g.answer(g.creates[r.OutRefundNo], r)
	}
	if err == nil {
		g.state[r.OutRefundNo] = res
	}
	return res, err
}

func (g *refundGateway) QueryRefund(ctx context.Context, no string) (service.RefundResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.state[no]
	if !ok {
		return service.RefundResult{}, &service.GatewayError{Status: 404, Code: "RESOURCE_NOT_EXISTS", Message: "退款单不存在"}
	}
	return r, nil
}

func (g *refundGateway) TradeBill(ctx context.Context, day time.Time) ([]service.BillRow, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.bill, nil
}

func (g *refundGateway) createsOf(no string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.creates[no]
}

func (g *refundGateway) setState(no string, status service.RefundStatus) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.state[no]
	r.Status = status
	g.state[no] = r
}

type postPersons struct{}

func (postPersons) FindPerson(ctx context.Context, id int64) (*service.Person, error) {
	return &service.Person{ID: id, Name: "张三", IDType: service.IDResident, IDNumber: "440106199001011234"}, nil
}

// postQuotes serves the quotes h.paid registers: a pension and a medical
// line of 2026-02 summing to the batch amount.
type postQuotes struct {
	mu sync.Mutex
	m  map[string]*service.Quote
}

func (q *postQuotes) FindQuoteByID(ctx context.Context, id string) (*service.Quote, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if v, ok := q.m[id]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("quote %s: %w", id, service.ErrNotFound)
}

func (q *postQuotes) add(id string, amount service.Fen) {
	q.mu.Lock()
	defer q.mu.Unlock()
	pension := amount * 2 / 3
	q.m[id] = &service.Quote{ID: id, Region: "gd-gz", Lines: []service.QuoteLine{
		{Insurance: service.InsurancePension, Month: "2026-02", BaseFen: 500000, RateBP: 2000, AmountFen: pension},
		{Insurance: service.InsuranceMedical, Month: "2026-02", BaseFen: 500000, RateBP: 1000, AmountFen: amount - pension},
	}}
}

type postFamily struct{ bound map[[2]int64]bool }

func (f *postFamily) HasConsentedBinding(ctx context.Context, payer, person int64, _ time.Time) (bool, error) {
	return f.bound[[2]int64{payer, person}], nil
}

// harness wires the after-payment services on one database.
type harness struct {
	t        testing.TB
	db       *model.DB
	clock    *service.ManualClock
	orders   *model.OrderStore
	outbox   *model.Outbox
	store    *model.AfterStore
	users    *model.UserStore
	platform *postPlatform
	gw       *refundGateway
	family   *postFamily
	quotes   *postQuotes
	rules    service.HoldRules

	posting  *service.PostingService
	refunds  *service.RefundService
	holds    *service.HoldService
	vouchers *service.VoucherService
	recon    *service.ReconService
	admin    *service.AdminService
	viewer   *service.AfterViewer
}

// t0 is a Monday 10:00 in Shanghai.
var t0 = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

func newHarness(tb testing.TB, db *model.DB, clock *service.ManualClock, rules service.HoldRules) *harness {
	tb.Helper()
	h := &harness{t: tb, db: db, clock: clock, orders: model.NewOrderStore(db), outbox: model.NewOutbox(db),
		store: model.NewAfterStore(db), users: model.NewUserStore(db), platform: newPostPlatform(), gw: newRefundGateway(),
		family: &postFamily{bound: map[[2]int64]bool{}}, quotes: &postQuotes{m: map[string]*service.Quote{}}, rules: rules}
	h.posting, h.refunds, h.holds = h.instance("worker-a")
	h.vouchers = service.NewVoucherService(h.store, h.orders, clock, service.DeriveVoucherKey([]byte("test-secret-0123456789")))
	h.recon = service.NewReconService(h.store, h.store, h.gw, clock)
	h.admin = service.NewAdminService(service.AdminDeps{Orders: h.orders, Alerts: h.orders, Holds: h.holds, Refunds: h.refunds,
		Recon: h.recon, Postings: h.store, Audit: h.store, Clock: clock, Posting: h.posting})
	h.viewer = &service.AfterViewer{Postings: h.store, Holds: h.store, Refunds: h.refunds}
	return h
}

// instance builds a second set of workers (another process) with its own
// lease owner, sharing the database and the fakes.
func (h *harness) instance(owner string) (*service.PostingService, *service.RefundService, *service.HoldService) {
	refunds := service.NewRefundService(service.RefundDeps{Orders: h.orders, Outbox: h.outbox, Refunds: h.store, Gateway: h.gw,
		MchID: testMchID, Waker: h.store, Clock: h.clock, Log: slog.New(slog.DiscardHandler), Owner: owner})
	holds := service.NewHoldService(service.HoldDeps{Store: h.store, Orders: h.orders, Users: h.users, Family: h.family,
		Refunds: refunds, Waker: h.store, Rules: h.rules, Clock: h.clock})
	d := h.postingDeps(owner, 0)
	d.Holds, d.Refunds = holds, refunds
	return service.NewPostingService(d), refunds, holds
}

// postingDeps are the dependencies of a posting worker owner with a lease
// (0: the default).
func (h *harness) postingDeps(owner string, lease time.Duration) service.PostingDeps {
	refunds := service.NewRefundService(service.RefundDeps{Orders: h.orders, Outbox: h.outbox, Refunds: h.store, Gateway: h.gw,
		MchID: testMchID, Waker: h.store, Clock: h.clock, Log: slog.New(slog.DiscardHandler), Owner: owner})
	holds := service.NewHoldService(service.HoldDeps{Store: h.store, Orders: h.orders, Users: h.users, Family: h.family,
		Refunds: refunds, Waker: h.store, Rules: h.rules, Clock: h.clock})
	vouchers := service.NewVoucherService(h.store, h.orders, h.clock, service.DeriveVoucherKey([]byte("test-secret-0123456789")))
	return service.PostingDeps{Orders: h.orders, Outbox: h.outbox, Platform: h.platform,
		Persons: postPersons{}, Quotes: h.quotes, Postings: h.store, Holds: holds, Refunds: refunds, Vouchers: vouchers,
		Clock: h.clock, Log: slog.New(slog.DiscardHandler), Owner: owner, Lease: lease}
}

// noHolds are rules that never hold.
func noHolds() service.HoldRules {
	r := service.DefaultHoldRules()
	r.Amount.Enabled, r.Velocity.Enabled, r.ThirdParty.Enabled = false, false, false
	return r
}

// each runs fn on SQLite and MySQL with a fresh clock at t0.
func each(t *testing.T, rules service.HoldRules, fn func(t *testing.T, h *harness)) {
	t.Helper()
	clock := service.NewManualClock(t0)
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		clock.Set(t0)
		fn(t, newHarness(t, db, clock, rules))
	})
}

// user creates a user whose verified identity is personID.
func (h *harness) user(openID string, personID int64) int64 {
	h.t.Helper()
	ctx := context.Background()
	u, err := h.users.UpsertUserByOpenID(ctx, openID, "")
	if err != nil {
		h.t.Fatalf("upsert user: %v", err)
	}
	if _, err := h.users.UpdateUser(ctx, u.ID, func(u *service.User) error { u.PersonID = personID; return nil }); err != nil {
		h.t.Fatalf("update user: %v", err)
	}
	return u.ID
}

// paid creates an order of one batch and marks it paid now, enqueueing the
// posting job as the notify transaction does. It returns the out_trade_no.
func (h *harness) paid(no string, userID, personID int64, amount service.Fen) string {
	h.t.Helper()
	ctx := context.Background()
	otn := service.OutTradeNo(no, 1)
	o := &service.Order{No: no, UserID: userID, PersonID: personID, QuoteID: "Q" + no, Region: "gd-gz", AmountFen: amount,
		Batches: []service.Batch{{OrderNo: no, Seq: 1, OutTradeNo: otn, AmountFen: amount, FromMonth: "2026-02", ToMonth: "2026-02",
			Status: service.StatusPendingPayment, PayerOpenID: "openid"}}}
	h.quotes.add(o.QuoteID, amount)
	if err := h.orders.CreateOrder(ctx, o); err != nil {
		h.t.Fatalf("create order: %v", err)
	}
	now := h.clock.Now()
	if _, err := h.orders.UpdateBatch(ctx, otn, func(o *service.Order, b *service.Batch, fx *service.Effects) error {
		b.Status, b.TransactionID, b.PaidAt = service.StatusPaid, "4200"+no, now
		fx.Event(b.Seq, "paid", "支付成功")
		fx.Outbox = append(fx.Outbox, service.OutboxJob{Kind: service.JobPostBatch, Ref: otn, DeadlineAt: now.Add(service.RetryWindow)})
		return nil
	}); err != nil {
		h.t.Fatalf("mark paid: %v", err)
	}
	return otn
}

// run works every due job of both workers until none is due.
func (h *harness) run() {
	h.t.Helper()
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		n1, err := h.posting.RunOnce(ctx)
		if err != nil {
			h.t.Fatalf("posting run: %v", err)
		}
		n2, err := h.refunds.RunOnce(ctx)
		if err != nil {
			h.t.Fatalf("refund run: %v", err)
		}
		if n1+n2 == 0 {
			return
		}
	}
}

// status returns the batch status of outTradeNo.
func (h *harness) status(otn string) service.OrderStatus {
	h.t.Helper()
	no, _, _ := service.SplitOutTradeNo(otn)
	o, err := h.orders.FindOrder(context.Background(), no)
	if err != nil {
		h.t.Fatalf("find order: %v", err)
	}
	return o.Batches[0].Status
}

func (h *harness) wantStatus(otn string, want service.OrderStatus) {
	h.t.Helper()
	if got := h.status(otn); got != want {
		h.t.Fatalf("status of %s: got %s, want %s", otn, got, want)
	}
}

// events returns the timeline event types of an order.
func (h *harness) events(otn string) []string {
	h.t.Helper()
	no, _, _ := service.SplitOutTradeNo(otn)
	ev, err := h.orders.OrderEvents(context.Background(), no)
	if err != nil {
		h.t.Fatalf("events: %v", err)
	}
	out := make([]string, len(ev))
	for i, e := range ev {
		out[i] = e.Type
	}
	return out
}

func countType(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// alerts returns alerts of a kind.
func (h *harness) alerts(kind string) []service.Alert {
	h.t.Helper()
	as, err := h.orders.FindAlerts(context.Background(), "", 1000)
	if err != nil {
		h.t.Fatalf("alerts: %v", err)
	}
	var out []service.Alert
	for _, a := range as {
		if a.Kind == kind {
			out = append(out, a)
		}
	}
	return out
}

func (h *harness) refundCount() int {
	h.t.Helper()
	n, err := h.store.CountRefunds(context.Background())
	if err != nil {
		h.t.Fatalf("count refunds: %v", err)
	}
	return n
}

func orderNo(i int) string { return fmt.Sprintf("SP2603020000%04d", i) }
