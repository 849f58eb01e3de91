package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/config"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/sim/provsim"
)

// Credit pay (社保信用付) end to end: the real API, the WeChat Pay Score
// simulator (merchant signatures verified, signed answers, signed and
// encrypted notifications to the server's own notify endpoint), the
// provincial platform simulator and the workers driven by the test on an
// injected clock. Every test runs on SQLite and, with TEST_MYSQL_DSN, on
// MySQL (and on Redis with TEST_REDIS_ADDR).

type creditEnv struct {
	a     *app.App
	clock *service.ManualClock
	seq   int
	// afterQuery (optional) runs when the simulator has answered a Pay
	// Score query and before the answer reaches the server: a test plays
	// what happens at WeChat in between.
	mu         sync.Mutex
	afterQuery func(outOrderNo string)
}

// eachCredit runs fn on SQLite and on MySQL (skipped without TEST_MYSQL_DSN).
func eachCredit(t *testing.T, fn func(t *testing.T, e *creditEnv)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, creditApp(t, false)) })
	t.Run("mysql", func(t *testing.T) {
		modeltest.MySQLDSN(t)
		fn(t, creditApp(t, true))
	})
}

// creditApp boots the App in simulator mode with workers off, serving on a
// loopback port that is its PUBLIC_BASE_URL, so the simulator's
// notifications reach the real notify endpoint.
func creditApp(tb testing.TB, mysql bool) *creditEnv {
	tb.Helper()
	var mu sync.RWMutex
	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		h := handler
		mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	env := map[string]string{"DATA_DIR": tb.TempDir(), "WORKERS": "off", "PUBLIC_BASE_URL": srv.URL, "LOG_LEVEL": "error"}
	if mysql {
		env["MYSQL_DSN"] = modeltest.FreshMySQLDSN(tb)
		env["REDIS_ADDR"] = os.Getenv("TEST_REDIS_ADDR")
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	clock := service.NewManualClock(now)
	e := &creditEnv{clock: clock}
	// Every call to the simulators passes a proxy, which runs afterQuery.
	front := func(simURL string) string {
		target, _ := url.Parse(simURL)
		proxy := httputil.NewSingleHostReverseProxy(target)
		ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.mu.Lock()
			hook := e.afterQuery
			e.mu.Unlock()
			if hook == nil || r.Method != http.MethodGet || r.URL.Path != "/v3/payscore/serviceorder" {
				proxy.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			proxy.ServeHTTP(rec, r)
			hook(r.URL.Query().Get("out_order_no"))
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		}))
		tb.Cleanup(ps.Close)
		return ps.URL
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Clock: clock, SimFront: front})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.Close)
	if a.Credit == nil {
		tb.Fatal("credit pay is not wired in the simulator")
	}
	mu.Lock()
	handler = a.Handler
	mu.Unlock()
	e.a = a
	return e
}

// payer is a verified user (face) paying for themself in Hangzhou, with a
// session and a quote of amount fen for the current month (pension only).
type payer struct {
	token   string
	userID  int64
	quoteID string
	// person is the user's verified person (name, ID number): a family
	// test binds it as a member of another payer.
	personID int64
	person   service.PersonRef
}

func (e *creditEnv) newPayer(tb testing.TB, name string, amount service.Fen, arrears bool) payer {
	tb.Helper()
	ctx := context.Background()
	e.seq++
	users, persons := model.NewUserStore(e.a.DB), model.NewPersonStore(e.a.DB, e.a.PII)
	ref := service.PersonRef{Name: name, IDType: service.IDResident, IDNumber: prepayResidentID(700 + e.seq)}
	p, err := persons.EnsurePerson(ctx, service.Person{Name: ref.Name, IDType: ref.IDType, IDNumber: ref.IDNumber})
	if err != nil {
		tb.Fatalf("person: %v", err)
	}
	u, err := users.UpsertUserByOpenID(ctx, fmt.Sprintf("openid-credit-%d", e.seq), "")
	if err != nil {
		tb.Fatalf("user: %v", err)
	}
	if _, err := users.UpdateUser(ctx, u.ID, func(u *service.User) error { u.PersonID = p.ID; return nil }); err != nil {
		tb.Fatalf("verify user: %v", err)
	}
	now := e.clock.Now()
	if err := e.a.DB.Exec(`INSERT INTO face_attempts (user_id, flow, out_seq_no, cert_enc, status, person_id, day, created_at, expires_at, updated_at)
		VALUES (?, 'v2', ?, 'x', ?, ?, ?, ?, ?, ?)`, u.ID, fmt.Sprintf("credit-seq-%d", e.seq), service.FaceVerified, p.ID,
		now.Format("2006-01-02"), now, now, now).Error; err != nil {
		tb.Fatalf("face evidence: %v", err)
	}
	token, err := cache.NewSessionStore(e.a.Redis, e.clock).CreateSession(ctx, u.ID, now.Add(90*24*time.Hour))
	if err != nil {
		tb.Fatalf("session: %v", err)
	}
	return payer{token: token, userID: u.ID, quoteID: e.quote(tb, u.ID, p.ID, amount, arrears), personID: p.ID, person: ref}
}

// quote stores a Hangzhou quote of amount fen (pension only) by userID for
// personID: the current month, or with arrears one two months back.
func (e *creditEnv) quote(tb testing.TB, userID, personID int64, amount service.Fen, arrears bool) string {
	tb.Helper()
	e.seq++
	now := e.clock.Now()
	month := now.In(service.Shanghai).Format("2006-01")
	if arrears {
		month = now.In(service.Shanghai).AddDate(0, -2, 0).Format("2006-01")
	}
	q := &service.Quote{ID: fmt.Sprintf("QTC%d%s", e.seq, time.Now().Format("150405.000000")), UserID: userID, PersonID: personID,
		Region: "zhejiang-hangzhou",
		Lines: []service.QuoteLine{{Insurance: service.InsurancePension, Month: month, Arrears: arrears, BaseFen: amount * 5, RateBP: 2000,
			AmountFen: amount, PricedBy: service.PricedByRegion, Source: service.SourceIllustrative}},
		TotalFen: amount, PayableFen: amount, Batches: []service.BatchPlan{{Seq: 1, AmountFen: amount, FromMonth: month, ToMonth: month}},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := model.NewQuoteStore(e.a.DB).CreateQuote(context.Background(), q); err != nil {
		tb.Fatalf("quote: %v", err)
	}
	return q.ID
}

func (e *creditEnv) call(tb testing.TB, p payer, method, path, body string) (int, []byte) {
	tb.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.token)
	w := httptest.NewRecorder()
	e.a.Handler.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

type creditStart struct {
	OrderNo string `json:"order_no"`
	Batches []struct {
		OutTradeNo string `json:"out_trade_no"`
	} `json:"batches"`
	Credit struct {
		OutOrderNo string `json:"out_order_no"`
		State      string `json:"state"`
	} `json:"credit"`
	Confirm struct {
		BusinessType string            `json:"business_type"`
		ExtraData    map[string]string `json:"extra_data"`
	} `json:"confirm"`
}

// start chooses credit pay for the payer's quote through the API.
func (e *creditEnv) start(tb testing.TB, p payer) creditStart {
	tb.Helper()
	code, body := e.call(tb, p, http.MethodPost, "/api/v1/credit/orders", `{"quote_id":"`+p.quoteID+`"}`)
	if code != http.StatusCreated {
		tb.Fatalf("POST /credit/orders: %d %s", code, body)
	}
	var s creditStart
	if err := json.Unmarshal(body, &s); err != nil || s.Credit.OutOrderNo == "" || s.Confirm.BusinessType != "wxpayScoreUse" {
		tb.Fatalf("credit start reply %s: %v", body, err)
	}
	return s
}

// confirm plays the user confirming in the Pay Score mini-program and waits
// until the notification was delivered (duplicates included).
func (e *creditEnv) confirm(tb testing.TB, s creditStart) {
	tb.Helper()
	if _, err := e.a.Sims.Pay.ConfirmServiceOrder(s.Confirm.ExtraData); err != nil {
		tb.Fatalf("confirm at Pay Score: %v", err)
	}
	e.waitAcked(tb, service.EventPayScoreConfirm, s.Credit.OutOrderNo)
}

func (e *creditEnv) waitAcked(tb testing.TB, event, key string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := e.a.Sims.Pay.WaitDelivery(ctx, event, key)
	if err != nil || !d.Acked {
		tb.Fatalf("%s for %s: %+v, %v; want acknowledged", event, key, d, err)
	}
}

func (e *creditEnv) credit(tb testing.TB, orderNo string) *service.CreditOrder {
	tb.Helper()
	c, err := model.NewCreditStore(e.a.DB).FindCreditByOrder(context.Background(), orderNo)
	if err != nil {
		tb.Fatalf("credit order of %s: %v", orderNo, err)
	}
	return c
}

func (e *creditEnv) batch(tb testing.TB, orderNo string) service.Batch {
	tb.Helper()
	o, err := model.NewOrderStore(e.a.DB).FindOrder(context.Background(), orderNo)
	if err != nil {
		tb.Fatalf("order %s: %v", orderNo, err)
	}
	return o.Batches[0]
}

func (e *creditEnv) runCredit(tb testing.TB) {
	tb.Helper()
	if _, err := e.a.Credit.RunOnce(context.Background()); err != nil {
		tb.Fatalf("credit worker: %v", err)
	}
}

func (e *creditEnv) events(tb testing.TB, orderNo, typ string) int {
	tb.Helper()
	evs, err := model.NewOrderStore(e.a.DB).OrderEvents(context.Background(), orderNo)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

func (e *creditEnv) alerts(tb testing.TB, kind, ref string) int {
	tb.Helper()
	as, err := model.NewOrderStore(e.a.DB).FindAlerts(context.Background(), "", 500)
	if err != nil {
		tb.Fatal(err)
	}
	for _, a := range as {
		if a.Kind == kind && a.Ref == ref {
			return a.Count
		}
	}
	return 0
}

// postAndSchedule posts the confirmed batch (the ordinary posting flow) and
// lets the credit job schedule the collection.
func (e *creditEnv) postAndSchedule(tb testing.TB, s creditStart) {
	tb.Helper()
	if _, err := e.a.After.Posting.RunOnce(context.Background()); err != nil {
		tb.Fatalf("posting: %v", err)
	}
	if b := e.batch(tb, s.OrderNo); b.Status != service.StatusPosted {
		tb.Fatalf("batch after posting: %s, want posted", b.Status)
	}
	e.clock.Advance(service.CreditPostingPoll)
	e.runCredit(tb)
	if c := e.credit(tb, s.OrderNo); c.State != service.CreditPosted {
		tb.Fatalf("credit after posting: %s, want posted", c.State)
	}
}

func TestCreditPayIsPostedAtOnceAndCollectedOnceOnTheCollectionDay(t *testing.T) {
	eachCredit(t, func(t *testing.T, e *creditEnv) {
		ctx := context.Background()
		p := e.newPayer(t, "信用付一", 139620, false)
		s := e.start(t, p)
		otn := s.Batches[0].OutTradeNo
		if b := e.batch(t, s.OrderNo); b.Funding != service.FundingCredit || b.Status != service.StatusPendingPayment || b.PrepayID != "" {
			t.Fatalf("batch after start: %+v; want a pending credit batch never prepaid", b)
		}
		// The batch cannot also be paid with wx.requestPayment.
		if code, body := e.call(t, p, http.MethodPost, "/api/v1/orders/"+s.OrderNo+"/batches/1/pay", ""); code != http.StatusConflict ||
			!strings.Contains(string(body), service.CodeCreditChosen) {
			t.Fatalf("JSAPI pay of a credit batch: %d %s; want 409 %s", code, body, service.CodeCreditChosen)
		}
		// A repeat of the start (same quote) resumes the same order.
		if again := e.start(t, p); again.OrderNo != s.OrderNo || again.Credit.OutOrderNo != s.Credit.OutOrderNo {
			t.Fatalf("repeat start: order %s, want %s", again.OrderNo, s.OrderNo)
		}

		// The confirmation arrives three times at once.
		e.a.Sims.Pay.SetNotifyBehavior(paysim.NotifyBehavior{Duplicates: 2, Concurrent: true})
		e.confirm(t, s)
		b := e.batch(t, s.OrderNo)
		if b.Status != service.StatusPaid || b.TransactionID == "" || !b.PaidAt.Equal(e.clock.Now()) {
			t.Fatalf("batch after confirmation: %+v; want paid on credit now with the service order id", b)
		}
		c := e.credit(t, s.OrderNo)
		if c.State != service.CreditConfirmed {
			t.Fatalf("credit after confirmation: %s, want confirmed", c.State)
		}
		l := e.clock.Now().In(service.Shanghai)
		wantDue := time.Date(l.Year(), l.Month()+1, 10, 9, 0, 0, 0, service.Shanghai)
		if !c.DueAt.Equal(wantDue) {
			t.Fatalf("due at %s, want %s (the 10th of next month, 09:00 Asia/Shanghai)", c.DueAt.In(service.Shanghai), wantDue)
		}
		if n := e.events(t, s.OrderNo, "paid"); n != 1 {
			t.Fatalf("%d paid events after three deliveries, want 1", n)
		}

		e.postAndSchedule(t, s)
		// Nothing is collected before the collection day.
		e.clock.Set(wantDue.Add(-time.Minute))
		e.runCredit(t)
		if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.Completes != 0 {
			t.Fatalf("completed before the collection day: %+v", r)
		}

		// On the collection day four workers race for the job.
		e.clock.Set(wantDue)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.a.Credit.RunOnce(ctx); err != nil {
					t.Errorf("credit worker: %v", err)
				}
			}()
		}
		wg.Wait()
		e.waitAcked(t, service.EventPayScorePaid, s.Credit.OutOrderNo)
		r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo)
		if r.Completes != 1 || r.CollectedFen != 139620 || r.CollectionAttempts != 1 {
			t.Fatalf("Pay Score ledger: %+v; want one completion and one collection of 139620", r)
		}
		c = e.credit(t, s.OrderNo)
		if c.State != service.CreditCollected || c.TransactionID != r.TransactionID || !c.CollectedAt.Equal(wantDue) {
			t.Fatalf("credit after collection: %+v; want collected with %s", c, r.TransactionID)
		}
		if n := e.events(t, s.OrderNo, "credit_collected"); n != 1 {
			t.Fatalf("%d collected events, want 1", n)
		}
		if b := e.batch(t, s.OrderNo); b.Status != service.StatusPosted {
			t.Fatalf("batch after collection: %s, want posted", b.Status)
		}
		code, body := e.call(t, p, http.MethodGet, "/api/v1/credit/orders/"+s.OrderNo, "")
		if code != http.StatusOK || !strings.Contains(string(body), `"state":"collected"`) {
			t.Fatalf("GET credit order: %d %s", code, body)
		}

		// Reconciliation: the confirmation day has no WeChat Pay trade for
		// the credit batch and reports nothing; the collection day's bill
		// holds the collection, matched with ours.
		for _, day := range []time.Time{b.PaidAt, wantDue} {
			rep, err := e.a.After.Recon.Reconcile(ctx, day)
			if err != nil {
				t.Fatalf("reconcile %s: %v", service.Day(day), err)
			}
			for _, f := range rep.Findings {
				if f.OutTradeNo == otn || f.OutTradeNo == s.Credit.OutOrderNo {
					t.Fatalf("reconcile %s: finding %+v for the credit order", rep.Day, f)
				}
			}
		}
	})
}

func TestCreditPayCollectionFailureIsToldAndRetriedAndThePostingStands(t *testing.T) {
	eachCredit(t, func(t *testing.T, e *creditEnv) {
		p := e.newPayer(t, "信用付二", 88000, false)
		s := e.start(t, p)
		e.a.Sims.Pay.FailCollections(s.Credit.OutOrderNo, 2)
		e.confirm(t, s)
		e.postAndSchedule(t, s)
		due := e.credit(t, s.OrderNo).DueAt
		e.clock.Set(due)
		e.runCredit(t) // completes; the first collection fails
		if c := e.credit(t, s.OrderNo); c.State != service.CreditCollectionDue {
			t.Fatalf("after completion: %s, want collection_due", c.State)
		}
		e.clock.Advance(service.CollectionGrace)
		e.runCredit(t) // WeChat's second try fails too: past the grace period
		c := e.credit(t, s.OrderNo)
		if c.State != service.CreditCollectionFailed {
			t.Fatalf("after the grace period: %s, want collection_failed", c.State)
		}
		if n := e.alerts(t, service.AlertCreditCollectionFailed, s.Credit.OutOrderNo); n != 1 {
			t.Fatalf("collection_failed alerts: %d, want 1", n)
		}
		if n := e.events(t, s.OrderNo, "credit_collection_failed"); n != 1 {
			t.Fatalf("user told %d times, want 1", n)
		}
		code, body := e.call(t, p, http.MethodGet, "/api/v1/credit/orders/"+s.OrderNo, "")
		if code != http.StatusOK || !strings.Contains(string(body), "余额充足") {
			t.Fatalf("the user's view does not say what to do: %d %s", code, body)
		}
		if b := e.batch(t, s.OrderNo); b.Status != service.StatusPosted {
			t.Fatalf("batch after a failed collection: %s, want posted (never reversed)", b.Status)
		}
		e.clock.Advance(service.CollectionPoll)
		e.runCredit(t) // not yet WeChat's next try
		if c := e.credit(t, s.OrderNo); c.State != service.CreditCollectionFailed {
			t.Fatalf("before WeChat's retry: %s", c.State)
		}
		e.clock.Advance(paysim.CollectionRetry)
		e.runCredit(t) // WeChat's third try succeeds
		e.waitAcked(t, service.EventPayScorePaid, s.Credit.OutOrderNo)
		if c := e.credit(t, s.OrderNo); c.State != service.CreditCollected {
			t.Fatalf("after WeChat's retry: %s, want collected", c.State)
		}
		if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.Completes != 1 || r.CollectionAttempts != 3 || r.CollectedFen != 88000 {
			t.Fatalf("Pay Score ledger: %+v; want 1 completion, 3 attempts", r)
		}
	})
}

func TestCreditPayUnknownOutcomesAreAskedAgainNeverRepeated(t *testing.T) {
	eachCredit(t, func(t *testing.T, e *creditEnv) {
		p := e.newPayer(t, "信用付三", 120000, false)
		s := e.start(t, p)
		e.confirm(t, s)
		e.postAndSchedule(t, s)
		e.clock.Set(e.credit(t, s.OrderNo).DueAt)

		// The query before completing fails: nothing is completed.
		e.a.Sims.Pay.SetPayScoreFaults(paysim.PayScoreFaults{QueryFail: 1})
		e.runCredit(t)
		if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.Completes != 0 {
			t.Fatalf("completed after an unknown query: %+v", r)
		}
		// The completion takes effect but its answer is lost (500).
		e.a.Sims.Pay.SetPayScoreFaults(paysim.PayScoreFaults{CompleteLost: 1})
		e.clock.Advance(service.CreditUnknownRetry)
		e.runCredit(t)
		if c := e.credit(t, s.OrderNo); c.State != service.CreditPosted {
			t.Fatalf("after a lost completion answer: %s, want posted (unknown)", c.State)
		}
		if n := e.alerts(t, service.AlertCreditOutcomeUnknown, s.Credit.OutOrderNo); n < 2 {
			t.Fatalf("outcome_unknown alert counted %d times, want 2", n)
		}
		// Asked again, with every notification lost from now on: the query
		// finds it completed (and by now collected) and records it; it is
		// not completed twice.
		e.a.Sims.Pay.SetNotifyBehavior(paysim.NotifyBehavior{DropFirst: 1000})
		e.clock.Advance(service.CreditUnknownRetry)
		e.runCredit(t)
		if n := e.events(t, s.OrderNo, "credit_collection_due"); n != 1 {
			t.Fatalf("%d collection_due events, want 1", n)
		}
		if c := e.credit(t, s.OrderNo); c.State != service.CreditCollected {
			t.Fatalf("final: %s, want collected", c.State)
		}
		if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.Completes != 1 || r.CollectedFen != 120000 {
			t.Fatalf("Pay Score ledger: %+v; want exactly one completion", r)
		}
	})
}

func TestCreditPayCancelledBeforePosting(t *testing.T) {
	eachCredit(t, func(t *testing.T, e *creditEnv) {
		t.Run("NeverConfirmed", func(t *testing.T) {
			p := e.newPayer(t, "信用付四", 50000, false)
			s := e.start(t, p)
			e.clock.Advance(service.ConfirmWindow)
			e.runCredit(t)
			if c := e.credit(t, s.OrderNo); c.State != service.CreditCancelled {
				t.Fatalf("credit: %s, want cancelled", c.State)
			}
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusClosed {
				t.Fatalf("batch: %s, want closed", b.Status)
			}
			if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.State != service.ServiceRevoked {
				t.Fatalf("service order: %+v, want REVOKED", r)
			}
			if _, err := e.a.Sims.Pay.ConfirmServiceOrder(s.Confirm.ExtraData); err == nil {
				t.Fatal("a cancelled service order could still be confirmed")
			}
		})
		t.Run("UserCancelledThenConfirmed", func(t *testing.T) {
			p := e.newPayer(t, "信用付五", 50000, false)
			s := e.start(t, p)
			if code, body := e.call(t, p, http.MethodPost, "/api/v1/orders/"+s.OrderNo+"/cancel", ""); code != http.StatusOK {
				t.Fatalf("cancel: %d %s", code, body)
			}
			// The confirmation races the cancellation and loses: the
			// notification finds the batch closed and the job cancels.
			e.confirm(t, s)
			e.runCredit(t)
			if c := e.credit(t, s.OrderNo); c.State != service.CreditCancelled {
				t.Fatalf("credit: %s, want cancelled", c.State)
			}
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusClosed {
				t.Fatalf("batch: %s, want closed (never posted)", b.Status)
			}
			if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.State != service.ServiceRevoked || r.Completes != 0 {
				t.Fatalf("service order: %+v, want REVOKED and never completed", r)
			}
		})
		t.Run("ConfirmedWhileTheWindowCloses", func(t *testing.T) {
			// The window has ended and the job asks WeChat: CREATED. Right
			// then the user confirms and the notification is applied. The
			// job must not cancel a service order whose batch is now paid
			// on credit (and posted): nothing would ever be collected.
			p := e.newPayer(t, "信用付八", 50000, false)
			s := e.start(t, p)
			var once sync.Once
			e.mu.Lock()
			e.afterQuery = func(no string) {
				if no == s.Credit.OutOrderNo {
					once.Do(func() { e.confirm(t, s) })
				}
			}
			e.mu.Unlock()
			defer func() { e.mu.Lock(); e.afterQuery = nil; e.mu.Unlock() }()
			e.clock.Advance(service.ConfirmWindow)
			e.runCredit(t)
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusPaid {
				t.Fatalf("batch: %s, want paid on credit", b.Status)
			}
			if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.State != service.ServiceDoing {
				t.Fatalf("service order: %+v, want DOING (not cancelled)", r)
			}
			if c := e.credit(t, s.OrderNo); c.State != service.CreditConfirmed {
				t.Fatalf("credit: %s, want confirmed", c.State)
			}
		})
		t.Run("PostingRefused", func(t *testing.T) {
			p := e.newPayer(t, "信用付六"+provsim.MarkerNotInsured, 50000, false)
			s := e.start(t, p)
			e.confirm(t, s)
			if _, err := e.a.After.Posting.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusRefunding {
				t.Fatalf("batch after a refused posting: %s, want refunding", b.Status)
			}
			if _, err := e.a.After.Refunds.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if b := e.batch(t, s.OrderNo); b.Status != service.StatusRefunded {
				t.Fatalf("batch: %s, want refunded (nothing to pay back)", b.Status)
			}
			if c := e.credit(t, s.OrderNo); c.State != service.CreditCancelled {
				t.Fatalf("credit: %s, want cancelled", c.State)
			}
			if r, _ := e.a.Sims.Pay.ServiceOrder(s.Credit.OutOrderNo); r.State != service.ServiceRevoked || r.Completes != 0 {
				t.Fatalf("service order: %+v, want REVOKED, never completed", r)
			}
			if len(e.a.Sims.Pay.Ledger().Refunds) != 0 {
				t.Fatalf("a WeChat Pay refund was sent for a credit batch: %+v", e.a.Sims.Pay.Ledger().Refunds)
			}
		})
	})
}

func TestCreditPayEligibility(t *testing.T) {
	eachCredit(t, func(t *testing.T, e *creditEnv) {
		for _, c := range []struct {
			name    string
			amount  service.Fen
			arrears bool
			want    string
		}{
			{"OverLimit", 500001, false, service.CodeCreditOverLimit}, // Hangzhou's limit is 500000 fen
			{"BackPayment", 50000, true, service.CodeCreditBackPayment},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := e.newPayer(t, "资格"+c.name, c.amount, c.arrears)
				code, body := e.call(t, p, http.MethodPost, "/api/v1/credit/orders", `{"quote_id":"`+p.quoteID+`"}`)
				if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), c.want) {
					t.Fatalf("got %d %s, want 422 %s", code, body, c.want)
				}
				if _, err := model.NewOrderStore(e.a.DB).FindOrderByQuote(context.Background(), p.quoteID); err == nil {
					t.Fatal("an order was written for a refused quote")
				}
			})
		}
		code, body := e.call(t, e.newPayer(t, "资格列表", 100, false), http.MethodGet, "/api/v1/credit/regions", "")
		if code != http.StatusOK || !strings.Contains(string(body), `"region":"zhejiang-hangzhou"`) || !strings.Contains(string(body), `"limit_fen":500000`) {
			t.Fatalf("GET /credit/regions: %d %s", code, body)
		}
	})
}

// A PAYSCORE notification with a bad signature is refused by the notify
// endpoint and changes nothing.
func TestCreditPayForgedNotificationIsRefused(t *testing.T) {
	e := creditApp(t, false)
	p := e.newPayer(t, "信用付七", 50000, false)
	s := e.start(t, p)
	body := `{"id":"EV-forged","create_time":"2026-03-05T10:00:00+08:00","resource_type":"encrypt-resource","event_type":"PAYSCORE.USER_CONFIRM","summary":"x","resource":{"original_type":"payscore","algorithm":"AEAD_AES_256_GCM","ciphertext":"AAAA","associated_data":"","nonce":"123456789012"}}`
	req := httptest.NewRequest(http.MethodPost, "/api/v1/wxpay/notify", strings.NewReader(body))
	req.Header.Set("Wechatpay-Timestamp", fmt.Sprint(e.clock.Now().Unix()))
	req.Header.Set("Wechatpay-Nonce", "n")
	req.Header.Set("Wechatpay-Serial", e.a.Sims.Keys.PublicKeyID)
	req.Header.Set("Wechatpay-Signature", "c2lnbmF0dXJl")
	w := httptest.NewRecorder()
	e.a.Handler.ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("forged notification: %d %s, want 401", w.Code, w.Body)
	}
	if c := e.credit(t, s.OrderNo); c.State != service.CreditCreated {
		t.Fatalf("credit after a forged notification: %s", c.State)
	}
}
