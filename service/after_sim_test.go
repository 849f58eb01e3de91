package service_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// This file is a deterministic simulation test of the after-payment state
// machine (issue 9, "Proof"). Each seed builds a few orders (some with
// sibling batches), pays them over time and lets 2-3 workers post and
// refund them against a platform model and a WeChat Pay refund model that
// answer every documented outcome, while a scheduler interleaves the
// workers step by step, moves the injected clock across holds and the 72 h
// window, delivers callbacks late, twice or on the wrong region, and crashes
// a worker between any two steps. After the seed it checks the money
// invariants (simRun.check).
//
// On SQLite the workers are interleaved cooperatively by a scheduler driven
// by the seed, so a seed replays exactly. On MySQL (TEST_MYSQL_DSN) the
// workers run as real goroutines at once: the seed fixes the scenario but
// not the interleaving.
//
// Seeds: SIM_SEEDS=17 or SIM_SEEDS=1-500 or SIM_SEEDS=3,9,40 chooses them;
// by default SQLite runs simDefaultSQLite seeds and MySQL simDefaultMySQL
// (a quarter with -short). SIM_TRACE=1 logs every step of every seed.

const (
	simDefaultSQLite = 6
	simDefaultMySQL  = 4
	simCallTimeout   = 30 * time.Second // the longest an external call may be in flight
)

var simRegions = []string{"gd-gz", "sh"}

func TestAfterPaymentSimulation(t *testing.T) {
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) {
			mysql := dialect == "mysql"
			if mysql {
				modeltest.MySQLDSN(t) // skips without TEST_MYSQL_DSN
			}
			for _, seed := range simSeeds(t, mysql) {
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					c := service.NewManualClock(t0)
					var db *model.DB
					if mysql {
						db = modeltest.MySQL(t, c)
					} else {
						db = modeltest.SQLite(t, c)
					}
					r := newSimRun(t, db, c, seed, !mysql)
					r.run()
					v := r.check()
					if os.Getenv("SIM_TRACE") != "" {
						t.Logf("trace of seed %d:\n%s", seed, r.traceTail(1<<30))
					}
					if len(v) > 0 {
						t.Errorf("seed %d (%s): %d invariant violations:\n  %s\n\nlast steps:\n%s\nre-run (SIM_TRACE=1 prints every step): SIM_SEEDS=%d go test ./service/ -count=1 -run 'TestAfterPaymentSimulation/%s/seed=%d$' -v",
							seed, dialect, len(v), strings.Join(v, "\n  "), r.traceTail(60), seed, dialect, seed)
					}
				})
			}
		})
	}
}

// simSeeds reads SIM_SEEDS ("17", "1-200", "3,9,40").
func simSeeds(t *testing.T, mysql bool) []uint64 {
	n := simDefaultSQLite
	if mysql {
		n = simDefaultMySQL
	}
	if testing.Short() {
		n = max(1, n/4)
	}
	spec := strings.TrimSpace(os.Getenv("SIM_SEEDS"))
	if spec == "" {
		out := make([]uint64, n)
		for i := range out {
			out[i] = uint64(i + 1)
		}
		return out
	}
	var out []uint64
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			t.Fatalf("SIM_SEEDS: %q: %v", part, err)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a {
				t.Fatalf("SIM_SEEDS: bad range %q", part)
			}
		}
		for s := a; s <= b; s++ {
			out = append(out, s)
		}
	}
	return out
}

// simCrash is the panic a crashing worker unwinds with.
type simCrash struct{}

// ---------------------------------------------------------------------------
// The run: scenario, scheduler, trace.

type simBatch struct {
	orderNo, otn, region string
	amount               service.Fen
	payRound             int
	paid                 bool
}

type simRun struct {
	t      *testing.T
	seed   uint64
	coop   bool
	rng    *rand.Rand // scenario and scheduling; use intn, actors run at once on MySQL
	rngMu  sync.Mutex
	db     *model.DB
	clock  *service.ManualClock
	orders *model.OrderStore
	outbox *model.Outbox
	store  *model.AfterStore
	users  *model.UserStore
	quotes *postQuotes
	family *postFamily
	rules  service.HoldRules

	plat *simPlatform
	gw   *simGateway

	batches []*simBatch
	orderNs []string
	workers []*simWorker
	cb      []*simWorker // callback handler instances (the API; two on MySQL)
	ops     *simWorker   // operations

	mu         sync.Mutex
	trace      []string
	violations []string
	retried    map[string]bool // out_refund_no retried by operations

	// coop scheduling
	back     chan simBack
	inflight map[*simActor]bool
}

type simBack struct {
	a    *simActor
	done bool
}

type simActor struct {
	name      string
	run       *simRun
	wake      chan struct{}
	lastYield time.Time
	fn        func()
}

func newSimRun(t *testing.T, db *model.DB, clock *service.ManualClock, seed uint64, coop bool) *simRun {
	rules := service.DefaultHoldRules()
	rules.Velocity.Enabled = false
	rules.AmountFen = 300_000
	rules.Amount = service.HoldRule{Enabled: true, Action: service.HoldRelease}
	rules.ThirdParty = service.HoldRule{Enabled: true, Action: service.HoldRefund}
	r := &simRun{t: t, seed: seed, coop: coop, rng: rand.New(rand.NewPCG(seed, 0x5eed)), db: db, clock: clock,
		orders: model.NewOrderStore(db), outbox: model.NewOutbox(db), store: model.NewAfterStore(db), users: model.NewUserStore(db),
		quotes: &postQuotes{m: map[string]*service.Quote{}}, family: &postFamily{bound: map[[2]int64]bool{}}, rules: rules,
		retried: map[string]bool{}, inflight: map[*simActor]bool{}}
	r.plat = &simPlatform{run: r, rng: rand.New(rand.NewPCG(seed, 0x91a7)), keys: map[string]*simKey{}, inflight: map[string]int{}}
	r.gw = &simGateway{run: r, rng: rand.New(rand.NewPCG(seed, 0x6a7e)), refunds: map[string]*simRefund{}, inflight: map[string]int{}, refundedFen: map[string]service.Fen{}}
	return r
}

func (r *simRun) tracef(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trace = append(r.trace, r.clock.Now().Sub(t0).String()+" "+fmt.Sprintf(format, args...))
}

func (r *simRun) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.violations = append(r.violations, msg)
	r.mu.Unlock()
	r.tracef("VIOLATION %s", msg)
}

func (r *simRun) traceTail(n int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	from := max(0, len(r.trace)-n)
	return "    " + strings.Join(r.trace[from:], "\n    ")
}

// yield hands control back to the scheduler (coop) or lets other
// goroutines run (concurrent).
func (a *simActor) yield() {
	if a == nil {
		return
	}
	if !a.run.coop {
		runtime.Gosched()
		return
	}
	a.lastYield = a.run.clock.Now()
	a.run.back <- simBack{a: a}
	<-a.wake
}

// intn draws from the run's generator. On MySQL the actors run as
// goroutines at once, so draws are serialized (coop mode has one runner).
func (r *simRun) intn(n int) int {
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	return r.rng.IntN(n)
}

// runActors runs one round's actors to completion: interleaved by the seed
// (coop) or as goroutines at once.
func (r *simRun) runActors(actors []*simActor) {
	body := func(a *simActor) {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(simCrash); !ok {
					buf := make([]byte, 4096)
					buf = buf[:runtime.Stack(buf, false)]
					r.violate("%s panicked: %v\n%s", a.name, p, buf)
				}
			}
		}()
		a.fn()
	}
	if !r.coop {
		var wg sync.WaitGroup
		for _, a := range actors {
			wg.Add(1)
			go func() { defer wg.Done(); body(a) }()
		}
		wg.Wait()
		return
	}
	r.back = make(chan simBack)
	for _, a := range actors {
		a.wake = make(chan struct{})
		a.lastYield = r.clock.Now()
		go func() {
			<-a.wake
			body(a)
			r.back <- simBack{a: a, done: true}
		}()
	}
	live := append([]*simActor(nil), actors...)
	for len(live) > 0 {
		i := r.intn(len(live))
		live[i].wake <- struct{}{}
		m := <-r.back
		if m.done {
			live = removeActor(live, m.a)
		}
		// Time passes while others run (slow calls, a slow database), but
		// no actor is starved longer than an external call may take.
		if len(live) > 0 && r.intn(10) == 0 {
			now := r.clock.Now()
			limit := now.Add(time.Duration(1+r.intn(30)) * time.Second)
			for _, a := range live {
				if l := a.lastYield.Add(simCallTimeout); l.Before(limit) {
					limit = l
				}
			}
			if limit.After(now) {
				r.clock.Advance(limit.Sub(now))
			}
		}
	}
}

func removeActor(xs []*simActor, x *simActor) []*simActor {
	out := xs[:0]
	for _, v := range xs {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Workers: one instance of the after-payment services over crashing stores.

type simWorker struct {
	run     *simRun
	id, gen int
	owner   string
	steps   int
	crashAt int
	cur     *simActor
	crashed bool

	posting *service.PostingService
	refunds *service.RefundService
	holds   *service.HoldService
}

func (r *simRun) newWorker(id, gen int, crashable bool) *simWorker {
	w := &simWorker{run: r, id: id, gen: gen, owner: fmt.Sprintf("w%d.%d", id, gen)}
	if crashable && r.intn(5) < 2 {
		w.crashAt = 1 + r.intn(80)
	}
	orders := simOrders{r.orders, w}
	outbox := simOutbox{r.outbox, w}
	after := simAfter{r.store, w}
	refunds := service.NewRefundService(service.RefundDeps{Orders: orders, Outbox: outbox, Refunds: after, Gateway: simGatewayClient{r.gw, w},
		MchID: testMchID, Waker: after, Clock: r.clock, Log: slog.New(slog.DiscardHandler), Owner: w.owner})
	holds := service.NewHoldService(service.HoldDeps{Store: after, Orders: orders, Users: r.users, Family: r.family,
		Refunds: refunds, Waker: after, Rules: r.rules, Clock: r.clock})
	vouchers := service.NewVoucherService(r.store, orders, r.clock, service.DeriveVoucherKey([]byte("test-secret-0123456789")))
	w.posting = service.NewPostingService(service.PostingDeps{Orders: orders, Outbox: outbox, Platform: simPlatformClient{r.plat, w},
		Persons: postPersons{}, Quotes: r.quotes, Postings: after, Holds: holds, Refunds: refunds, Vouchers: vouchers,
		Clock: r.clock, Log: slog.New(slog.DiscardHandler), Owner: w.owner})
	w.refunds, w.holds = refunds, holds
	return w
}

// step is a point between two steps of a worker: the scheduler may switch
// to another actor here, and the worker may crash here.
func (w *simWorker) step(what string) {
	w.cur.yield()
	w.steps++
	if w.crashAt > 0 && w.steps == w.crashAt {
		w.crashed = true
		w.run.tracef("%s CRASH before step %d (%s)", w.owner, w.steps, what)
		panic(simCrash{})
	}
}

// simOrders, simOutbox and simAfter are the stores a worker sees: every
// write is a step before and after (a crash after it means the write
// happened and its answer was lost).
type simOrders struct {
	service.OrderStore
	w *simWorker
}

func (s simOrders) UpdateBatch(ctx context.Context, otn string, fn service.BatchUpdater) (*service.Order, error) {
	s.w.step("UpdateBatch " + otn)
	o, err := s.OrderStore.UpdateBatch(ctx, otn, fn)
	s.w.step("after UpdateBatch " + otn)
	return o, err
}

func (s simOrders) FindOrder(ctx context.Context, no string) (*service.Order, error) {
	s.w.step("FindOrder " + no)
	return s.OrderStore.FindOrder(ctx, no)
}

func (s simOrders) RecordAlert(ctx context.Context, a service.Alert) error {
	s.w.step("RecordAlert " + a.Kind)
	err := s.OrderStore.RecordAlert(ctx, a)
	s.w.step("after RecordAlert")
	return err
}

type simOutbox struct {
	service.Outbox
	w *simWorker
}

func (s simOutbox) Claim(ctx context.Context, kind, owner string, lease time.Duration, limit int) ([]service.OutboxJob, error) {
	s.w.step("Claim " + kind)
	js, err := s.Outbox.Claim(ctx, kind, owner, lease, limit)
	var refs []string
	for _, j := range js {
		refs = append(refs, j.Ref)
	}
	if len(refs) > 0 {
		s.w.run.tracef("%s claimed %s %v", owner, kind, refs)
	}
	s.w.step("after Claim")
	return js, err
}

func (s simOutbox) Renew(ctx context.Context, id int64, owner string, lease time.Duration) (time.Time, error) {
	s.w.step("Renew")
	t, err := s.Outbox.Renew(ctx, id, owner, lease)
	if err != nil {
		s.w.run.tracef("%s renew job %d: %v", owner, id, err)
	}
	s.w.step("after Renew")
	return t, err
}

func (s simOutbox) Complete(ctx context.Context, id int64, owner string) error {
	s.w.step("Complete")
	err := s.Outbox.Complete(ctx, id, owner)
	s.w.step("after Complete")
	return err
}

func (s simOutbox) Retry(ctx context.Context, id int64, owner string, next time.Time, why string) error {
	s.w.step("Retry")
	err := s.Outbox.Retry(ctx, id, owner, next, why)
	s.w.step("after Retry")
	return err
}

// simAfter wraps model.AfterStore (postings, holds, refunds, vouchers, job
// waking).
type simAfter struct {
	*model.AfterStore
	w *simWorker
}

func (s simAfter) SavePosting(ctx context.Context, p *service.PostingRecord) error {
	s.w.step("SavePosting " + p.OutTradeNo + " " + string(p.Status))
	err := s.AfterStore.SavePosting(ctx, p)
	s.w.step("after SavePosting")
	return err
}

func (s simAfter) FindPosting(ctx context.Context, otn string) (*service.PostingRecord, error) {
	s.w.step("FindPosting " + otn)
	return s.AfterStore.FindPosting(ctx, otn)
}

func (s simAfter) CreateRefund(ctx context.Context, rf *service.Refund) (*service.Refund, error) {
	s.w.step("CreateRefund row " + rf.OutRefundNo)
	out, err := s.AfterStore.CreateRefund(ctx, rf)
	s.w.step("after CreateRefund row")
	return out, err
}

func (s simAfter) UpdateRefund(ctx context.Context, no string, fn func(*service.Refund) error) (*service.Refund, error) {
	s.w.step("UpdateRefund " + no)
	out, err := s.AfterStore.UpdateRefund(ctx, no, fn)
	s.w.step("after UpdateRefund")
	return out, err
}

func (s simAfter) CreateHold(ctx context.Context, h *service.Hold) (*service.Hold, error) {
	s.w.step("CreateHold " + h.OutTradeNo)
	out, err := s.AfterStore.CreateHold(ctx, h)
	s.w.step("after CreateHold")
	return out, err
}

func (s simAfter) DecideHold(ctx context.Context, otn string, status service.HoldStatus, by string, at time.Time) (bool, error) {
	s.w.step("DecideHold " + otn + " " + string(status))
	ok, err := s.AfterStore.DecideHold(ctx, otn, status, by, at)
	s.w.step("after DecideHold")
	return ok, err
}

func (s simAfter) WakeJob(ctx context.Context, kind, ref string) error {
	s.w.step("WakeJob " + kind + " " + ref)
	err := s.AfterStore.WakeJob(ctx, kind, ref)
	s.w.step("after WakeJob")
	return err
}

// ---------------------------------------------------------------------------
// The platform model.

type simKey struct {
	region      string
	amount      service.Fen
	state       string // "", "pending", "booked", "rejected"
	res         service.PostingResult
	decideAt    time.Time
	decision    string
	configUntil time.Time // a configuration fault (4xx) lasts until operations fix it
	configCode  string
	darkUntil   time.Time // booked, then unreachable until (zero: not dark)
}

type simEvent struct {
	at  time.Time
	ev  service.PlatformEvent
	rf  *service.RefundEvent
	tag string
}

type simPlatform struct {
	run      *simRun
	mu       sync.Mutex
	rng      *rand.Rand
	keys     map[string]*simKey
	inflight map[string]int
	events   []simEvent
	calm     bool // drain phase: no new faults
	nEvents  int
}

func (p *simPlatform) key(k string) *simKey {
	if p.keys[k] == nil {
		p.keys[k] = &simKey{}
	}
	return p.keys[k]
}

func simAccepted(key string, amount service.Fen, at time.Time) service.PostingResult {
	return service.PostingResult{Status: service.PostingAccepted, Reference: "REF-" + key, Receipt: &service.PostingReceipt{
		AcceptanceNo: "ACC-" + key, AcceptedAt: at,
		Fiscal: service.FiscalReceipt{Code: "44010126", Number: "00" + key[len(key)-8:], CheckCode: "a1b2c3", IssuedOn: at.In(service.Shanghai).Format("2006-01-02"), AmountFen: amount}}}
}

var (
	errSim5xx     = errors.New("platform: status 503 code \"unavailable\"")
	errSimTimeout = errors.New("platform: context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
)

// simConfigFault is what the platform client returns for a signed
// configuration 4xx (400/401/403/409).
func simConfigFault(code string) error {
	status := map[string]int{"invalid_request": 400, "unauthorized": 401, "region_not_allowed": 403, "idempotency_conflict": 409}[code]
	return &service.PlatformConfigError{Status: status, Code: code, Reason: "configuration fault (simulated)"}
}

var simConfigCodes = []string{"invalid_request", "unauthorized", "region_not_allowed", "idempotency_conflict"}

// enter and leave track external calls in flight per job; two at once is a
// violation.
func (p *simPlatform) enter(who, op, key string) {
	p.mu.Lock()
	p.inflight[key]++
	n := p.inflight[key]
	p.mu.Unlock()
	p.run.tracef("%s -> platform %s %s", who, op, key)
	if n > 1 {
		p.run.violate("two external calls at once for job %s (platform %s by %s)", key, op, who)
	}
}

func (p *simPlatform) leave(key string) {
	p.mu.Lock()
	p.inflight[key]--
	p.mu.Unlock()
}

// decide books or rejects pending postings whose time came, and queues
// their callbacks: late, sometimes twice.
func (p *simPlatform) tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([]string, 0, len(p.keys))
	for k := range p.keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s := p.keys[k]
		if s.state != "pending" || now.Before(s.decideAt) {
			continue
		}
		ev := service.PlatformEvent{Region: s.region, URLRegion: s.region, CredentialRegion: s.region, IdempotencyKey: k}
		if s.decision == "accepted" {
			s.state, s.res = "booked", simAccepted(k, s.amount, s.decideAt)
			ev.Type, ev.Accepted, ev.Result = service.EventPostingAccepted, true, s.res
		} else {
			s.state = "rejected"
			s.res = service.PostingResult{Status: service.PostingRejected, Reference: s.res.Reference, Reason: "参保状态异常"}
			ev.Type, ev.Result, ev.Reason = service.EventPostingRejected, s.res, "参保状态异常"
		}
		p.run.tracef("platform decided %s: %s", k, s.state)
		copies := 1 + p.rng.IntN(2)
		for range copies {
			p.nEvents++
			e := ev
			e.EventID = fmt.Sprintf("evt_%d", p.nEvents)
			if copies == 2 {
				e.EventID = fmt.Sprintf("evt_dup_%s", k) // a redelivery repeats the id
			}
			delay := time.Duration(p.rng.IntN(120)) * time.Minute
			if p.rng.IntN(4) == 0 {
				delay = time.Duration(70+p.rng.IntN(40)) * time.Hour // very late
			}
			p.events = append(p.events, simEvent{at: s.decideAt.Add(delay), ev: e, tag: "callback"})
		}
	}
}

// forge queues a signed-looking callback for key on another region's URL.
func (p *simPlatform) forge(key, region string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	other := simRegions[0]
	if other == region {
		other = simRegions[1]
	}
	p.nEvents++
	// Which of the three regions is foreign varies: the event's, the URL's,
	// the signing credentials', or all of them.
	ev := service.PlatformEvent{EventID: fmt.Sprintf("evt_wrong_%d", p.nEvents), Region: region, URLRegion: region, CredentialRegion: region, IdempotencyKey: key}
	switch p.rng.IntN(4) {
	case 0:
		ev.Region = other
	case 1:
		ev.URLRegion = other
	case 2:
		ev.CredentialRegion = other
	default:
		ev.Region, ev.URLRegion, ev.CredentialRegion = other, other, other
	}
	if p.rng.IntN(2) == 0 {
		ev.Type, ev.Accepted, ev.Result = service.EventPostingAccepted, true, simAccepted(key, 1, at)
	} else {
		ev.Type, ev.Reason, ev.Result = service.EventPostingRejected, "参保状态异常", service.PostingResult{Status: service.PostingRejected, Reason: "参保状态异常"}
	}
	p.events = append(p.events, simEvent{at: at, ev: ev, tag: "wrong-region callback"})
}

func (p *simPlatform) draw(weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := p.rng.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

// common faults of any call: darkness and configuration faults.
func (p *simPlatform) fault(s *simKey, now time.Time) error {
	if !s.darkUntil.IsZero() && now.Before(s.darkUntil) {
		if p.rng.IntN(2) == 0 {
			return errSimTimeout
		}
		return errSim5xx
	}
	if now.Before(s.configUntil) {
		return simConfigFault(s.configCode)
	}
	return nil
}

func (p *simPlatform) post(pp service.Posting) (service.PostingResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.run.clock.Now()
	k := pp.IdempotencyKey
	s := p.key(k)
	s.region, s.amount = pp.Region, pp.AmountFen
	if err := p.fault(s, now); err != nil {
		return service.PostingResult{}, err
	}
	switch s.state {
	case "booked", "pending":
		return s.res, nil
	case "rejected":
		return service.PostingResult{}, &service.PlatformRejection{Code: service.RejectNotInsured, Reason: "未查询到参保信息"}
	case "voided":
		return service.PostingResult{}, &service.PlatformRejection{Code: "posting_voided", Reason: "该缴费已作废，不会入账"}
	}
	if p.calm {
		s.state, s.res = "booked", simAccepted(k, pp.AmountFen, now)
		return s.res, nil
	}
	switch p.draw(25, 15, 8, 8, 12, 12, 10, 5, 3) {
	case 0: // accepted
		s.state, s.res = "booked", simAccepted(k, pp.AmountFen, now)
		return s.res, nil
	case 1: // pending; decided later, possibly after the 72 h window
		s.state = "pending"
		s.res = service.PostingResult{Status: service.PostingPending, Reference: "REF-" + k}
		s.decideAt = now.Add(time.Duration(10+p.rng.IntN(100*60)) * time.Minute)
		s.decision = "accepted"
		if p.rng.IntN(10) < 3 {
			s.decision = "rejected"
		}
		return s.res, nil
	case 2: // 422: a business rejection, nothing booked
		s.state = "rejected"
		s.res = service.PostingResult{Status: service.PostingRejected, Reason: "not_insured"}
		return service.PostingResult{}, &service.PlatformRejection{Code: service.RejectNotInsured, Reason: "未查询到参保信息"}
	case 3: // configuration 4xx, until operations fix it
		s.configCode = simConfigCodes[p.rng.IntN(len(simConfigCodes))]
		s.configUntil = now.Add(time.Duration(1+p.rng.IntN(40)) * time.Hour)
		return service.PostingResult{}, simConfigFault(s.configCode)
	case 4: // 5xx: nothing booked
		return service.PostingResult{}, errSim5xx
	case 5: // timeout: nothing booked
		return service.PostingResult{}, errSimTimeout
	case 6: // lost reply: booked, the answer never arrives
		s.state, s.res = "booked", simAccepted(k, pp.AmountFen, now)
		return service.PostingResult{}, errSimTimeout
	case 8: // an outage: nothing booked, unreachable across the deadline
		s.darkUntil = now.Add(time.Duration(70+p.rng.IntN(60)) * time.Hour)
		p.run.tracef("platform: %s not booked, dark until +%s", k, s.darkUntil.Sub(t0))
		return service.PostingResult{}, errSimTimeout
	default: // booked, then unreachable across the deadline
		s.state, s.res = "booked", simAccepted(k, pp.AmountFen, now)
		s.darkUntil = now.Add(time.Duration(70+p.rng.IntN(60)) * time.Hour)
		p.run.tracef("platform: %s booked and dark until +%s", k, s.darkUntil.Sub(t0))
		return service.PostingResult{}, errSimTimeout
	}
}

func (p *simPlatform) query(key string) (service.PostingResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.run.clock.Now()
	s := p.key(key)
	if err := p.fault(s, now); err != nil {
		return service.PostingResult{}, err
	}
	if !p.calm {
		switch p.draw(80, 6, 6, 4) {
		case 1:
			return service.PostingResult{}, errSim5xx
		case 2:
			return service.PostingResult{}, errSimTimeout
		case 3:
			s.configCode = simConfigCodes[p.rng.IntN(len(simConfigCodes))]
			s.configUntil = now.Add(time.Duration(1+p.rng.IntN(20)) * time.Hour)
			return service.PostingResult{}, simConfigFault(s.configCode)
		}
	}
	switch s.state {
	case "booked", "pending", "rejected", "voided":
		return s.res, nil
	}
	return service.PostingResult{}, &service.PlatformRejection{Code: service.RejectPostingNotFound, Reason: "unknown key"}
}

// void answers POST /si/v1/postings/{key}/void: a booked posting as it
// stands; anything else (never seen, rejected, pending) is voided for good.
func (p *simPlatform) void(key string) (service.PostingResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.run.clock.Now()
	s := p.key(key)
	if err := p.fault(s, now); err != nil {
		return service.PostingResult{}, err
	}
	if !p.calm && p.rng.IntN(10) == 0 {
		return service.PostingResult{}, errSim5xx
	}
	if s.state == "booked" {
		return s.res, nil
	}
	s.state = "voided"
	s.res = service.PostingResult{Status: service.PostingVoided, Reason: "已作废，不会入账"}
	return s.res, nil
}

// voidOutOfBand is operations asking the platform by phone: it says
// whether the key is booked, and if not, it will never be.
func (p *simPlatform) voidOutOfBand(key string) (service.PostingResult, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.key(key)
	if s.state == "booked" {
		return s.res, true
	}
	s.state = "voided"
	s.res = service.PostingResult{Status: service.PostingVoided}
	return s.res, false
}

func (p *simPlatform) booked(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.keys[key]
	return s != nil && s.state == "booked"
}

// simPlatformClient is the platform as one worker sees it: each call is a
// step before and after, and in flight across a scheduling point.
type simPlatformClient struct {
	p *simPlatform
	w *simWorker
}

func (c simPlatformClient) FindProfile(context.Context, string, service.PersonRef) (service.InsuredProfile, error) {
	return service.InsuredProfile{}, errors.New("not used")
}
func (c simPlatformClient) AssessBase(context.Context, string, service.PersonRef) (service.Fen, error) {
	return 0, errors.New("not used")
}
func (c simPlatformClient) StartIdentityCheck(context.Context, string, service.IdentityCheck) (string, error) {
	return "", errors.New("not used")
}
func (c simPlatformClient) FinishIdentityCheck(context.Context, string, string, string) (bool, error) {
	return false, errors.New("not used")
}

func (c simPlatformClient) call(op, key string, fn func() (service.PostingResult, error)) (service.PostingResult, error) {
	c.w.step("platform " + op + " " + key)
	c.p.enter(c.w.owner, op, key)
	c.w.inFlight()
	res, err := fn()
	c.p.leave(key)
	c.w.run.tracef("%s <- platform %s %s: %s %v", c.w.owner, op, key, res.Status, err)
	c.w.step("after platform " + op)
	return res, err
}

func (c simPlatformClient) PostPayment(ctx context.Context, pp service.Posting) (service.PostingResult, error) {
	return c.call("post", pp.IdempotencyKey, func() (service.PostingResult, error) { return c.p.post(pp) })
}

func (c simPlatformClient) VoidPosting(ctx context.Context, region, key string) (service.PostingResult, error) {
	return c.call("void", key, func() (service.PostingResult, error) { return c.p.void(key) })
}

func (c simPlatformClient) QueryPosting(ctx context.Context, region, key string) (service.PostingResult, error) {
	return c.call("query", key, func() (service.PostingResult, error) { return c.p.query(key) })
}

// inFlight is a scheduling point while an external call is in flight; on
// MySQL it widens the window for real.
func (w *simWorker) inFlight() {
	if w.run.coop {
		w.cur.yield()
		return
	}
	// A slow platform: time passes while the call is in flight, so leases
	// of jobs claimed in bulk can run out mid-way.
	if rand.IntN(3) == 0 {
		w.run.clock.Advance(time.Duration(1+rand.IntN(20)) * time.Second)
	}
	time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond)
}

// ---------------------------------------------------------------------------
// The WeChat Pay refund model.

type simRefund struct {
	otn       string
	amount    service.Fen
	status    service.RefundStatus
	resolveAt time.Time
	final     service.RefundStatus
	// toldClosed: a reply, query or handled notification told us CLOSED.
	toldClosed bool
}

type simGateway struct {
	run         *simRun
	mu          sync.Mutex
	rng         *rand.Rand
	refunds     map[string]*simRefund
	inflight    map[string]int
	refundedFen map[string]service.Fen // money returned per out_trade_no
	calm        bool
	nEvents     int
}

func (g *simGateway) result(no string, r *simRefund) service.RefundResult {
	return service.RefundResult{OutRefundNo: no, OutTradeNo: r.otn, RefundID: "5030" + no, Status: r.status,
		Channel: "ORIGINAL", UserReceivedAccount: "招商银行信用卡0403", RefundFen: r.amount, TotalFen: r.amount}
}

func (g *simGateway) settle(no string, r *simRefund, to service.RefundStatus) {
	if r.status == to {
		return
	}
	r.status = to
	if to == service.RefundSuccess {
		g.refundedFen[r.otn] += r.amount
	}
	g.run.tracef("wechat: refund %s of %s is %s", no, r.otn, to)
	// The notification comes late, sometimes twice.
	copies := 1 + g.rng.IntN(2)
	for range copies {
		g.nEvents++
		res := g.result(no, r)
		res.MchID = testMchID
		ev := &service.RefundEvent{EventID: fmt.Sprintf("rf_%s_%s", no, to), EventType: "REFUND." + string(to), Refund: res}
		g.run.plat.mu.Lock()
		g.run.plat.events = append(g.run.plat.events, simEvent{at: g.run.clock.Now().Add(time.Duration(g.rng.IntN(180)) * time.Minute), rf: ev, tag: "refund notify"})
		g.run.plat.mu.Unlock()
	}
}

func (g *simGateway) tick(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	nos := make([]string, 0, len(g.refunds))
	for no := range g.refunds {
		nos = append(nos, no)
	}
	sort.Strings(nos)
	for _, no := range nos {
		r := g.refunds[no]
		if r.status == service.RefundProcessing && !now.Before(r.resolveAt) {
			g.settle(no, r, r.final)
		}
	}
}

func (g *simGateway) create(req service.RefundRequest) (service.RefundResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.run.clock.Now()
	if r, ok := g.refunds[req.OutRefundNo]; ok {
		if r.status == service.RefundClosed {
			// A resend after a lost reply may meet a CLOSED refund; sending
			// one WeChat already told us is closed means a retry reused its
			// number.
			if r.toldClosed {
				g.run.violate("refund call reuses out_refund_no %s, which WeChat CLOSED and never reopens", req.OutRefundNo)
			}
		}
		r.toldClosed = r.toldClosed || r.status == service.RefundClosed
		return g.result(req.OutRefundNo, r), nil
	}
	fault := -1
	if !g.calm {
		fault = g.draw(80, 10, 10)
	}
	if fault == 1 {
		return service.RefundResult{}, &service.GatewayError{Status: 500, Code: "SYSTEM_ERROR", Message: "系统超时"}
	}
	r := &simRefund{otn: req.OutTradeNo, amount: req.RefundFen, status: service.RefundProcessing}
	g.refunds[req.OutRefundNo] = r
	r.resolveAt = now.Add(time.Duration(1+g.rng.IntN(48*60)) * time.Minute)
	switch n := g.rng.IntN(100); {
	case g.calm || n < 70:
		r.final = service.RefundSuccess
	case n < 85:
		r.final = service.RefundAbnormal
	default:
		r.final = service.RefundClosed
	}
	if g.rng.IntN(3) == 0 {
		g.settle(req.OutRefundNo, r, r.final) // the reply already says SUCCESS, ABNORMAL or CLOSED
	}
	if fault == 2 {
		return service.RefundResult{}, errors.New("wechatpay: context deadline exceeded") // created; the reply is lost
	}
	r.toldClosed = r.status == service.RefundClosed
	return g.result(req.OutRefundNo, r), nil
}

func (g *simGateway) query(no string) (service.RefundResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.run.clock.Now()
	r, ok := g.refunds[no]
	if !g.calm && g.rng.IntN(10) == 0 {
		return service.RefundResult{}, &service.GatewayError{Status: 500, Code: "SYSTEM_ERROR", Message: "系统超时"}
	}
	if !ok {
		return service.RefundResult{}, &service.GatewayError{Status: 404, Code: "RESOURCE_NOT_EXISTS", Message: "退款单不存在"}
	}
	if r.status == service.RefundProcessing && !now.Before(r.resolveAt) {
		g.settle(no, r, r.final)
	}
	r.toldClosed = r.toldClosed || r.status == service.RefundClosed
	return g.result(no, r), nil
}

func (g *simGateway) draw(weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := g.rng.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

type simGatewayClient struct {
	g *simGateway
	w *simWorker
}

func (c simGatewayClient) Prepay(context.Context, service.Prepay) (service.PayParams, error) {
	return service.PayParams{}, errors.New("not used")
}
func (c simGatewayClient) QueryTrade(context.Context, string) (service.Trade, error) {
	return service.Trade{}, errors.New("not used")
}
func (c simGatewayClient) CloseTrade(context.Context, string) error { return errors.New("not used") }
func (c simGatewayClient) TradeBill(context.Context, time.Time) ([]service.BillRow, error) {
	return nil, errors.New("not used")
}

func (c simGatewayClient) call(op, no string, fn func() (service.RefundResult, error)) (service.RefundResult, error) {
	c.w.step("wechat " + op + " " + no)
	c.g.mu.Lock()
	c.g.inflight[no]++
	n := c.g.inflight[no]
	c.g.mu.Unlock()
	c.w.run.tracef("%s -> wechat %s %s", c.w.owner, op, no)
	if n > 1 {
		c.w.run.violate("two external calls at once for refund %s (wechat %s by %s)", no, op, c.w.owner)
	}
	c.w.inFlight()
	res, err := fn()
	c.g.mu.Lock()
	c.g.inflight[no]--
	c.g.mu.Unlock()
	c.w.run.tracef("%s <- wechat %s %s: %s %v", c.w.owner, op, no, res.Status, err)
	c.w.step("after wechat " + op)
	return res, err
}

func (c simGatewayClient) CreateRefund(ctx context.Context, req service.RefundRequest) (service.RefundResult, error) {
	return c.call("refund", req.OutRefundNo, func() (service.RefundResult, error) { return c.g.create(req) })
}

func (c simGatewayClient) QueryRefund(ctx context.Context, no string) (service.RefundResult, error) {
	return c.call("query-refund", no, func() (service.RefundResult, error) { return c.g.query(no) })
}

// ---------------------------------------------------------------------------
// Scenario and rounds.

const (
	simActiveRounds = 16
	simMaxRounds    = 70
)

func (r *simRun) setup() {
	ctx := context.Background()
	nOrders := 3 + r.intn(3)
	for i := range nOrders {
		no := fmt.Sprintf("SP26030200%02d%04d", r.seed%100, i+1)
		region := simRegions[r.intn(len(simRegions))]
		personID := int64(1000 + i)
		payerPerson := personID
		if r.intn(6) == 0 {
			payerPerson = 9000 + int64(i) // a third party: held, refunded at expiry unless released
		}
		uid := r.simUser(fmt.Sprintf("o-%d-%d", r.seed, i), payerPerson)
		nb := 1 + r.intn(3)
		q := &service.Quote{ID: "Q" + no, Region: region}
		o := &service.Order{No: no, UserID: uid, PersonID: personID, QuoteID: q.ID, Region: region}
		payRound := r.intn(4)
		for k := 1; k <= nb; k++ {
			amount := service.Fen(1000 + r.intn(400_000))
			month := fmt.Sprintf("2025-%02d", k)
			pension := amount * 2 / 3
			q.Lines = append(q.Lines,
				service.QuoteLine{Insurance: service.InsurancePension, Month: month, BaseFen: 500000, RateBP: 2000, AmountFen: pension},
				service.QuoteLine{Insurance: service.InsuranceMedical, Month: month, BaseFen: 500000, RateBP: 1000, AmountFen: amount - pension})
			otn := service.OutTradeNo(no, k)
			o.Batches = append(o.Batches, service.Batch{OrderNo: no, Seq: k, OutTradeNo: otn, AmountFen: amount, FromMonth: month, ToMonth: month,
				Status: service.StatusPendingPayment, PayerOpenID: "openid"})
			o.AmountFen += amount
			// Siblings are paid in the same round or soon after.
			r.batches = append(r.batches, &simBatch{orderNo: no, otn: otn, region: region, amount: amount, payRound: payRound + r.intn(2)})
		}
		r.quotes.mu.Lock()
		r.quotes.m[q.ID] = q
		r.quotes.mu.Unlock()
		if err := r.orders.CreateOrder(ctx, o); err != nil {
			r.t.Fatalf("create order: %v", err)
		}
		r.orderNs = append(r.orderNs, no)
	}
	// Callbacks on the wrong region for some batches, at random times.
	for _, b := range r.batches {
		if r.intn(4) == 0 {
			r.plat.forge(b.otn, b.region, t0.Add(time.Duration(r.intn(100))*time.Hour))
		}
	}
	nw := 2 + r.intn(2)
	for i := range nw {
		r.workers = append(r.workers, r.newWorker(i, 0, true))
	}
	r.cb = []*simWorker{r.newWorker(90, 0, true)}
	if !r.coop {
		// Sibling callbacks spread over two instances at once.
		r.cb = append(r.cb, r.newWorker(91, 0, true))
	}
	r.ops = r.newWorker(99, 0, false)
	r.tracef("seed %d: %d orders, %d batches, %d workers, coop=%v", r.seed, nOrders, len(r.batches), nw, r.coop)
}

func (r *simRun) simUser(openID string, personID int64) int64 {
	ctx := context.Background()
	u, err := r.users.UpsertUserByOpenID(ctx, openID, "")
	if err != nil {
		r.t.Fatalf("upsert user: %v", err)
	}
	if _, err := r.users.UpdateUser(ctx, u.ID, func(u *service.User) error { u.PersonID = personID; return nil }); err != nil {
		r.t.Fatalf("update user: %v", err)
	}
	return u.ID
}

// pay marks a batch paid as the verified notify transaction does.
func (r *simRun) pay(b *simBatch) {
	now := r.clock.Now()
	_, err := r.orders.UpdateBatch(context.Background(), b.otn, func(o *service.Order, sb *service.Batch, fx *service.Effects) error {
		sb.Status, sb.TransactionID, sb.PaidAt = service.StatusPaid, "4200"+b.otn, now
		fx.Event(sb.Seq, "paid", "支付成功")
		fx.Outbox = append(fx.Outbox, service.OutboxJob{Kind: service.JobPostBatch, Ref: b.otn, DeadlineAt: now.Add(service.RetryWindow)})
		return nil
	})
	if err != nil {
		r.t.Fatalf("pay %s: %v", b.otn, err)
	}
	b.paid = true
	r.tracef("paid %s %d fen", b.otn, b.amount)
}

func (r *simRun) run() {
	r.setup()
	for round := 0; round < simMaxRounds; round++ {
		drain := round >= simActiveRounds
		if drain && !r.plat.calm {
			r.tracef("--- drain: faults stop, operations act")
			r.plat.mu.Lock()
			r.plat.calm = true
			for _, s := range r.plat.keys {
				s.configUntil = time.Time{} // operations fixed the configuration
			}
			r.plat.mu.Unlock()
			r.gw.mu.Lock()
			r.gw.calm = true
			r.gw.mu.Unlock()
		}
		for _, b := range r.batches {
			if !b.paid && b.payRound <= round {
				r.pay(b)
			}
		}
		r.plat.tick(r.clock.Now())
		r.gw.tick(r.clock.Now())

		var actors []*simActor
		for i, w := range r.workers {
			if w.crashed {
				w = r.newWorker(w.id, w.gen+1, true)
				r.workers[i] = w
			}
			actors = append(actors, r.workerActor(w))
		}
		for i, w := range r.cb {
			if w.crashed {
				w = r.newWorker(w.id, w.gen+1, true)
				r.cb[i] = w
			}
			actors = append(actors, r.callbackActor(w))
		}
		if drain || r.intn(4) == 0 {
			actors = append(actors, r.opsActor(r.ops, drain))
		}
		r.runActors(actors)

		if drain && round > simActiveRounds+2 && r.quiet() {
			r.tracef("--- quiet after round %d", round)
			break
		}
		// Clock jumps across hold windows (24 h) and the 72 h window.
		jumps := []time.Duration{2 * time.Minute, 10 * time.Minute, time.Hour, 5 * time.Hour, 13 * time.Hour, 25 * time.Hour, 50 * time.Hour}
		d := jumps[r.intn(len(jumps))]
		if drain {
			d = 6 * time.Hour
		}
		r.clock.Advance(d)
		r.tracef("--- round %d: clock +%s", round+1, d)
	}
}

// quiet reports whether no job and no callback is left.
func (r *simRun) quiet() bool {
	ctx := context.Background()
	for _, k := range []string{service.JobPostBatch, service.JobRefundBatch} {
		n, err := r.outbox.Pending(ctx, k)
		if err != nil || n > 0 {
			return false
		}
	}
	r.plat.mu.Lock()
	defer r.plat.mu.Unlock()
	return len(r.plat.events) == 0
}

func (r *simRun) workerActor(w *simWorker) *simActor {
	a := &simActor{name: w.owner, run: r}
	a.fn = func() {
		w.cur = a
		ctx := context.Background()
		for pass := 0; pass < 2; pass++ {
			if _, err := w.posting.RunOnce(ctx); err != nil {
				r.tracef("%s posting run: %v", w.owner, err)
			}
			if _, err := w.refunds.RunOnce(ctx); err != nil {
				r.tracef("%s refund run: %v", w.owner, err)
			}
			if _, err := w.holds.Sweep(ctx); err != nil {
				r.tracef("%s hold sweep: %v", w.owner, err)
			}
			if _, err := w.posting.FlagDelays(ctx); err != nil {
				r.tracef("%s flag delays: %v", w.owner, err)
			}
		}
	}
	return a
}

// callbackActor delivers due callbacks and refund notifications in a
// random order; one the handler fails is delivered again later.
func (r *simRun) callbackActor(w *simWorker) *simActor {
	a := &simActor{name: "callbacks " + w.owner, run: r}
	a.fn = func() {
		w.cur = a
		ctx := context.Background()
		for {
			now := r.clock.Now()
			r.plat.mu.Lock()
			var due []int
			for i, e := range r.plat.events {
				if !now.Before(e.at) {
					due = append(due, i)
				}
			}
			if len(due) == 0 {
				r.plat.mu.Unlock()
				return
			}
			i := due[r.intn(len(due))]
			if !r.coop {
				i = due[0]
			}
			e := r.plat.events[i]
			r.plat.events = append(r.plat.events[:i], r.plat.events[i+1:]...)
			r.plat.mu.Unlock()
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						err = errors.New("handler crashed")
						// The platform delivers again; the crashed handler
						// is replaced.
						r.plat.mu.Lock()
						r.plat.events = append(r.plat.events, e)
						r.plat.mu.Unlock()
						panic(p)
					}
				}()
				if e.rf != nil {
					r.tracef("deliver %s %s %s", e.tag, e.rf.EventType, e.rf.Refund.OutRefundNo)
					err = w.refunds.HandleRefundEvent(ctx, *e.rf)
					if err == nil && e.rf.EventType == "REFUND.CLOSED" {
						r.gw.mu.Lock()
						r.gw.refunds[e.rf.Refund.OutRefundNo].toldClosed = true
						r.gw.mu.Unlock()
					}
				} else {
					r.tracef("deliver %s %s %s region=%s url=%s cred=%s", e.tag, e.ev.Type, e.ev.IdempotencyKey, e.ev.Region, e.ev.URLRegion, e.ev.CredentialRegion)
					err = w.posting.HandlePlatformEvent(ctx, e.ev)
				}
			}()
			if err != nil {
				r.tracef("callback failed: %v", err)
				e.at = now.Add(10 * time.Minute)
				r.plat.mu.Lock()
				r.plat.events = append(r.plat.events, e)
				r.plat.mu.Unlock()
			}
		}
	}
	return a
}

// opsActor is operations: it releases or rejects held batches, resolves
// unknown posting outcomes with what the platform confirms out of band, and
// (once the faults stop) retries closed refunds, as the admin API does.
func (r *simRun) opsActor(w *simWorker, drain bool) *simActor {
	a := &simActor{name: "ops", run: r}
	a.fn = func() {
		w.cur = a
		ctx := context.Background()
		holds, err := r.store.FindHolds(ctx, service.HoldOpen, 100)
		if err != nil {
			r.violate("ops: find holds: %v", err)
			return
		}
		for _, h := range holds {
			switch r.intn(3) {
			case 0:
				_, err := w.holds.Release(ctx, h.OutTradeNo, "ops")
				r.tracef("ops release %s: %v", h.OutTradeNo, err)
			case 1:
				_, err := w.holds.Reject(ctx, h.OutTradeNo, "ops", service.RefundHoldRejected, "sim")
				r.tracef("ops reject %s: %v", h.OutTradeNo, err)
			}
		}
		alerts, err := r.orders.FindAlerts(ctx, "", 10000)
		if err != nil {
			r.violate("ops: alerts: %v", err)
			return
		}
		for _, al := range alerts {
			if al.Kind == service.AlertPostingOutcomeUnknown && !r.retried[al.Ref] && r.intn(2) == 0 {
				r.retried[al.Ref] = true
				res, booked := r.plat.voidOutOfBand(al.Ref)
				var err error
				if booked {
					err = w.posting.ResolvePosting(ctx, al.Ref, service.ResolvePosted, res.Reference, "platform confirmed by phone")
				} else {
					err = w.posting.ResolvePosting(ctx, al.Ref, service.ResolveRefund, "", "platform confirmed void by phone")
				}
				r.tracef("ops resolve %s (booked=%v): %v", al.Ref, booked, err)
				continue
			}
			if !drain || al.Kind != service.AlertRefundClosed || r.retried[al.Ref] {
				continue
			}
			r.retried[al.Ref] = true
			_, _, err := w.refunds.Retry(ctx, al.Ref)
			r.tracef("ops retry refund %s: %v", al.Ref, err)
		}
	}
	return a
}

// ---------------------------------------------------------------------------
// Invariants.

type simRefundRow struct {
	OutRefundNo string
	OutTradeNo  string
	AmountFen   int64
	Status      string
}

// check returns the violated invariants after the seed.
func (r *simRun) check() []string {
	ctx := context.Background()
	alerts, err := r.orders.FindAlerts(ctx, "", 100000)
	if err != nil {
		r.t.Fatalf("alerts: %v", err)
	}
	var rows []simRefundRow
	if err := r.db.WithContext(ctx).Raw("SELECT out_refund_no, out_trade_no, amount_fen, status FROM refunds").Scan(&rows).Error; err != nil {
		r.t.Fatalf("refunds: %v", err)
	}
	refundNos := map[string][]simRefundRow{}
	for _, row := range rows {
		refundNos[row.OutTradeNo] = append(refundNos[row.OutTradeNo], row)
	}
	alertFor := func(otn string, kinds ...string) bool {
		refs := map[string]bool{otn: true}
		for _, row := range refundNos[otn] {
			refs[row.OutRefundNo] = true
		}
		for _, a := range alerts {
			if refs[a.Ref] && (len(kinds) == 0 || contains(kinds, a.Kind)) && (a.Status == "" || a.Status == "open") {
				return true
			}
		}
		return false
	}
	v := append([]string(nil), r.violations...)
	// Money as the other parties hold it: the fund has what the platform
	// booked, the payer what WeChat refunded, and what neither has yet is
	// still with us (waiting). Every fen paid is in exactly one place.
	var paid, fund, payer, waiting service.Fen
	for _, no := range r.orderNs {
		o, err := r.orders.FindOrder(ctx, no)
		if err != nil {
			r.t.Fatalf("find order %s: %v", no, err)
		}
		// Invariant 5: each order's status equals what its batches imply.
		if want := service.DeriveOrderStatus(o.Batches); o.Status != want {
			v = append(v, fmt.Sprintf("order %s reads %s but its batches %s imply %s", no, o.Status, batchStatuses(o), want))
		}
		if mixedPostedRefunded(o) && o.Status == service.StatusPosted {
			v = append(v, fmt.Sprintf("order %s reads posted though a batch was refunded (%s)", no, batchStatuses(o)))
		}
		for _, b := range o.Batches {
			if b.Status == service.StatusPendingPayment || b.Status == service.StatusClosed {
				continue
			}
			amount := b.AmountFen
			paid += amount
			booked := r.plat.booked(b.OutTradeNo)
			r.gw.mu.Lock()
			back := r.gw.refundedFen[b.OutTradeNo]
			r.gw.mu.Unlock()
			// Invariant 1: every paid batch ends posted or refunded, or
			// waits with an alert.
			switch b.Status {
			case service.StatusPosted, service.StatusRefunded:
			default:
				if !alertFor(b.OutTradeNo) {
					v = append(v, fmt.Sprintf("batch %s ends %s with no open alert (booked=%v, refunded %d fen)", b.OutTradeNo, b.Status, booked, back))
				}
			}
			// Invariant 2: never booked and refunded without a
			// posted_after_refund alert.
			if booked && (back > 0 || b.Status == service.StatusRefunding || b.Status == service.StatusRefunded) &&
				!alertFor(b.OutTradeNo, service.AlertPostedAfterRefund) {
				v = append(v, fmt.Sprintf("batch %s is booked by the platform and %s (refunded %d fen) with no posted_after_refund alert", b.OutTradeNo, b.Status, back))
			}
			// Invariant 3: refunds ≤ paid, in our rows and at WeChat.
			var open service.Fen
			for _, row := range refundNos[b.OutTradeNo] {
				if row.Status != string(service.RefundStateClosed) {
					open += service.Fen(row.AmountFen)
				}
			}
			if open > amount {
				v = append(v, fmt.Sprintf("batch %s: non-closed refunds %d fen > paid %d fen", b.OutTradeNo, open, amount))
			}
			if back > amount {
				v = append(v, fmt.Sprintf("batch %s: WeChat refunded %d fen > paid %d fen", b.OutTradeNo, back, amount))
			}
			// Invariant 6: the money balances: posted means the fund has
			// it, refunded means the payer has it, never both.
			switch b.Status {
			case service.StatusPosted:
				if !booked {
					v = append(v, fmt.Sprintf("batch %s reads posted but the platform never booked it", b.OutTradeNo))
				}
			case service.StatusRefunded:
				if back != amount {
					v = append(v, fmt.Sprintf("batch %s reads refunded but WeChat returned %d of %d fen", b.OutTradeNo, back, amount))
				}
			}
			if booked {
				fund += amount
			}
			payer += back
			if !booked && back == 0 {
				waiting += amount
			}
			if booked && back > 0 {
				v = append(v, fmt.Sprintf("batch %s: money moved twice: booked by the platform and %d fen refunded", b.OutTradeNo, back))
			}
		}
	}
	if paid != fund+payer+waiting {
		v = append(v, fmt.Sprintf("money does not balance: paid %d fen != booked by the platform %d + refunded by WeChat %d + waiting %d", paid, fund, payer, waiting))
	}
	r.tracef("end: paid %d fen = booked %d + refunded %d + waiting %d", paid, fund, payer, waiting)
	return v
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func batchStatuses(o *service.Order) string {
	var s []string
	for _, b := range o.Batches {
		s = append(s, string(b.Status))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func mixedPostedRefunded(o *service.Order) bool {
	var p, rf int
	for _, b := range o.Batches {
		switch b.Status {
		case service.StatusPosted:
			p++
		case service.StatusRefunded:
			rf++
		}
	}
	return p > 0 && rf > 0
}
