package platform_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/provsim"
)

var errorsAs = errors.As

func TestClient_FindProfile(t *testing.T) {
	h := newHarness(t)
	t.Run("ArrearsMarker", func(t *testing.T) {
		prof := mustProfile(t, h, person("张欠费", "110101199003074514"))
		if got, want := prof.CurrentMonth, "2025-06"; got != want {
			t.Fatalf("CurrentMonth = %q, want %q", got, want)
		}
		var pension []service.ArrearsMonth
		for _, a := range prof.Arrears {
			if a.Insurance == service.InsurancePension {
				pension = append(pension, a)
			}
		}
		if got, want := len(pension), 6; got != want {
			t.Fatalf("pension arrears = %d, want %d", got, want)
		}
		if got, want := pension[0].Month, "2024-12"; got != want {
			t.Fatalf("first arrears month = %q, want %q", got, want)
		}
		if got, want := pension[0].AmountFen, pension[0].BaseFen*provsim.PensionRateBP/10000; got != want {
			t.Fatalf("arrears amount = %d, want %d", got, want)
		}
		if prof.CurrentDue <= 0 {
			t.Fatalf("CurrentDue = %d, want > 0", prof.CurrentDue)
		}
	})
	t.Run("Deterministic", func(t *testing.T) {
		p := person("李四", "110101199003070011")
		a, b := mustProfile(t, h, p), mustProfile(t, h, p)
		if a.Insurances[0].BaseFen != b.Insurances[0].BaseFen || len(a.Arrears) != len(b.Arrears) || a.MutualAidBalanceFen != b.MutualAidBalanceFen {
			t.Fatalf("profiles differ: %+v vs %+v", a, b)
		}
	})
	t.Run("NotInsured", func(t *testing.T) {
		prof := mustProfile(t, h, person("王未参保", "110101199003071111"))
		for _, ins := range prof.Insurances {
			if ins.Status != "not_insured" {
				t.Fatalf("%s status = %q, want not_insured", ins.Insurance, ins.Status)
			}
		}
		if len(prof.Arrears) != 0 {
			t.Fatalf("arrears = %d, want 0", len(prof.Arrears))
		}
	})
	t.Run("PersonMismatch", func(t *testing.T) {
		_, err := h.client.FindProfile(context.Background(), testRegion, person("赵不符", "110101199003072222"))
		mustRejection(t, err, service.RejectPersonMismatch)
	})
	t.Run("UnknownRegionIsNotConfigured", func(t *testing.T) {
		_, err := h.client.FindProfile(context.Background(), "999999", person("李四", "110101199003070011"))
		if got, want := service.ErrorCode(err), platform.CodePlatformNotConfigured; got != want {
			t.Fatalf("code = %q, want %q", got, want)
		}
	})
}

func TestClient_AssessBase_MatchesProfileBase(t *testing.T) {
	h := newHarness(t)
	p := person("张无欠费", "110101199003074514")
	base, err := h.client.AssessBase(context.Background(), testRegion, p)
	if err != nil {
		t.Fatalf("AssessBase: %v", err)
	}
	if got, want := base, mustProfile(t, h, p).Insurances[0].BaseFen; got != want {
		t.Fatalf("base = %d, want %d", got, want)
	}
}

func TestClient_IdentityChecks(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	p := person("张三", "110101199003074514")
	t.Run("SMS", func(t *testing.T) {
		id, err := h.client.StartIdentityCheck(ctx, testRegion, service.IdentityCheck{Method: service.IdentitySMS, Person: p, Phone: "13800138000"})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		code := h.sim.LastSMSCode(id)
		if len(code) != 6 {
			t.Fatalf("sms code = %q, want 6 digits", code)
		}
		wrong := "000000"
		if code == wrong || wrong == provsim.DevSMSCode {
			wrong = "999999"
		}
		if ok, err := h.client.FinishIdentityCheck(ctx, testRegion, id, wrong); err != nil || ok {
			t.Fatalf("Finish(wrong) = %v,%v, want false,nil", ok, err)
		}
		if ok, err := h.client.FinishIdentityCheck(ctx, testRegion, id, code); err != nil || !ok {
			t.Fatalf("Finish(code) = %v,%v, want true,nil", ok, err)
		}
	})
	t.Run("SMSDevCode", func(t *testing.T) {
		id, err := h.client.StartIdentityCheck(ctx, testRegion, service.IdentityCheck{Method: service.IdentitySMS, Person: p, Phone: "13800138000"})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		if ok, err := h.client.FinishIdentityCheck(ctx, testRegion, id, provsim.DevSMSCode); err != nil || !ok {
			t.Fatalf("Finish(dev code) = %v,%v, want true,nil", ok, err)
		}
	})
	t.Run("ECardPassword", func(t *testing.T) {
		id, err := h.client.StartIdentityCheck(ctx, testRegion, service.IdentityCheck{Method: service.IdentityCardPwd, Person: p})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		if ok, err := h.client.FinishIdentityCheck(ctx, testRegion, id, provsim.ECardPassword); err != nil || !ok {
			t.Fatalf("Finish = %v,%v, want true,nil", ok, err)
		}
	})
	t.Run("NationalByCallback", func(t *testing.T) {
		id, err := h.client.StartIdentityCheck(ctx, testRegion, service.IdentityCheck{Method: service.IdentityNational, Person: p})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := h.sim.CompleteIdentityCheck(ctx, id, true); err != nil {
			t.Fatalf("CompleteIdentityCheck: %v", err)
		}
		evs := h.sink.Events()
		if len(evs) != 1 || evs[0].Type != service.EventIdentityCheckCompleted || evs[0].CheckID != id || !evs[0].Accepted {
			t.Fatalf("events = %+v, want one passed identity_check.completed for %s", evs, id)
		}
	})
	t.Run("LockedAfterFiveFailures", func(t *testing.T) {
		id, err := h.client.StartIdentityCheck(ctx, testRegion, service.IdentityCheck{Method: service.IdentityCardPwd, Person: p})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		for i := 0; i < provsim.CheckMaxFailures; i++ {
			if ok, err := h.client.FinishIdentityCheck(ctx, testRegion, id, "bad"); err != nil || ok {
				t.Fatalf("Finish #%d = %v,%v, want false,nil", i, ok, err)
			}
		}
		_, err = h.client.FinishIdentityCheck(ctx, testRegion, id, provsim.ECardPassword)
		mustRejection(t, err, service.RejectCheckLocked)
	})
	t.Run("ExpiredCheck", func(t *testing.T) {
		h := newHarness(t)
		id, err := h.client.StartIdentityCheck(ctx, testRegion, service.IdentityCheck{Method: service.IdentityCardPwd, Person: p})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		h.clock.Advance(provsim.CheckTTL)
		_, err = h.client.FinishIdentityCheck(ctx, testRegion, id, provsim.ECardPassword)
		mustRejection(t, err, service.RejectCheckNotFound)
	})
	t.Run("FaceIsRefused", func(t *testing.T) {
		_, err := h.client.StartIdentityCheck(ctx, testRegion, service.IdentityCheck{Method: service.IdentityFace, Person: p})
		if got, want := service.ErrorKind(err), service.KindInvalid; got != want {
			t.Fatalf("kind = %v, want %v (err %v)", got, want, err)
		}
	})
}

func TestClient_PostPayment(t *testing.T) {
	ctx := context.Background()
	p := person("张欠费", "110101199003074514")
	t.Run("AcceptedWithReceipt", func(t *testing.T) {
		h := newHarness(t)
		ps := postingFor(t, "T20250615000001", p, mustProfile(t, h, p))
		res, err := h.client.PostPayment(ctx, ps)
		if err != nil {
			t.Fatalf("PostPayment: %v", err)
		}
		if res.Status != service.PostingAccepted || res.Reference == "" || res.Receipt == nil {
			t.Fatalf("result = %+v, want accepted with reference and receipt", res)
		}
		f := res.Receipt.Fiscal
		if f.AmountFen != ps.AmountFen || f.Code == "" || f.Number == "" || f.CheckCode == "" || f.IssuedOn != "2025-06-15" {
			t.Fatalf("fiscal receipt = %+v, want amount %d issued 2025-06-15", f, ps.AmountFen)
		}
		if res.Receipt.AcceptanceNo == "" {
			t.Fatal("AcceptanceNo is empty")
		}
		if got := mustProfile(t, h, p).Arrears; len(got) != 0 {
			t.Fatalf("arrears after posting = %d, want 0", len(got))
		}
		q, err := h.client.QueryPosting(ctx, testRegion, ps.IdempotencyKey)
		if err != nil || q.Reference != res.Reference || q.Status != service.PostingAccepted {
			t.Fatalf("QueryPosting = %+v,%v, want accepted %s", q, err, res.Reference)
		}
	})
	t.Run("ResendBooksOnce", func(t *testing.T) {
		h := newHarness(t)
		ps := postingFor(t, "T20250615000002", p, mustProfile(t, h, p))
		first, err := h.client.PostPayment(ctx, ps)
		if err != nil {
			t.Fatalf("first PostPayment: %v", err)
		}
		second, err := h.client.PostPayment(ctx, ps)
		if err != nil {
			t.Fatalf("second PostPayment: %v", err)
		}
		if second.Reference != first.Reference || second.Receipt.Fiscal.Number != first.Receipt.Fiscal.Number {
			t.Fatalf("resend reference %s / receipt %s, want %s / %s", second.Reference, second.Receipt.Fiscal.Number,
				first.Reference, first.Receipt.Fiscal.Number)
		}
		if got, want := len(h.sim.Bookings()), 1; got != want {
			t.Fatalf("bookings = %d, want %d", got, want)
		}
		if got, want := h.sim.Attempts(ps.IdempotencyKey), 2; got != want {
			t.Fatalf("attempts = %d, want %d", got, want)
		}
	})
	t.Run("SameKeyDifferentBodyConflicts", func(t *testing.T) {
		h := newHarness(t)
		ps := postingFor(t, "T20250615000003", p, mustProfile(t, h, p))
		if _, err := h.client.PostPayment(ctx, ps); err != nil {
			t.Fatalf("PostPayment: %v", err)
		}
		ps.TransactionID = "4200000000OTHER"
		_, err := h.client.PostPayment(ctx, ps)
		// A 409 is a configuration fault, never a rejection: a booking
		// exists under the key, so no money may move on it.
		var cf *service.PlatformConfigError
		if !errors.As(err, &cf) || cf.Code != service.RejectIdempotencyConflict || cf.Status != 409 || service.IsPermanent(err) {
			t.Fatalf("err = %v, want *service.PlatformConfigError 409 idempotency_conflict", err)
		}
		if got, want := len(h.sim.Bookings()), 1; got != want {
			t.Fatalf("bookings = %d, want %d", got, want)
		}
	})
	t.Run("SameMonthsUnderNewKeyRefused", func(t *testing.T) {
		h := newHarness(t)
		ps := postingFor(t, "T20250615000004", p, mustProfile(t, h, p))
		if _, err := h.client.PostPayment(ctx, ps); err != nil {
			t.Fatalf("PostPayment: %v", err)
		}
		ps.IdempotencyKey, ps.OutTradeNo = "T20250615000005", "T20250615000005"
		_, err := h.client.PostPayment(ctx, ps)
		mustRejection(t, err, service.RejectMonthNotPayable)
	})
	t.Run("NotInsuredRejected", func(t *testing.T) {
		h := newHarness(t)
		base := mustProfile(t, h, p)
		ps := postingFor(t, "T20250615000006", person("王未参保", "110101199003071111"), base)
		res, err := h.client.PostPayment(ctx, ps)
		mustRejection(t, err, service.RejectNotInsured)
		if res.Status != service.PostingRejected {
			t.Fatalf("status = %q, want rejected", res.Status)
		}
		q, err := h.client.QueryPosting(ctx, testRegion, ps.IdempotencyKey)
		if err != nil || q.Status != service.PostingRejected {
			t.Fatalf("QueryPosting = %+v,%v, want rejected,nil", q, err)
		}
	})
	t.Run("AmountMismatchRejected", func(t *testing.T) {
		h := newHarness(t)
		ps := postingFor(t, "T20250615000007", p, mustProfile(t, h, p))
		ps.AmountFen++
		_, err := h.client.PostPayment(ctx, ps)
		mustRejection(t, err, service.RejectAmountMismatch)
	})
	t.Run("QueryUnknownKey", func(t *testing.T) {
		h := newHarness(t)
		_, err := h.client.QueryPosting(ctx, testRegion, "NEVERSENT")
		mustRejection(t, err, service.RejectPostingNotFound)
	})
}

func TestClient_FailureInjection(t *testing.T) {
	ctx := context.Background()
	p := person("张欠费", "110101199003074514")
	t.Run("DownWindowIsTransient", func(t *testing.T) {
		h := newHarness(t)
		ps := postingFor(t, "T1", p, mustProfile(t, h, p))
		h.sim.AddDownWindow(t0, t0.Add(time.Hour))
		_, err := h.client.PostPayment(ctx, ps)
		mustTransient(t, err)
		if got := len(h.sim.Bookings()); got != 0 {
			t.Fatalf("bookings during down window = %d, want 0", got)
		}
		h.clock.Advance(time.Hour)
		if _, err := h.client.PostPayment(ctx, ps); err != nil {
			t.Fatalf("PostPayment after window: %v", err)
		}
	})
	t.Run("RejectPermanently", func(t *testing.T) {
		h := newHarness(t)
		ps := postingFor(t, "T2", p, mustProfile(t, h, p))
		h.sim.RejectPostings(service.RejectMonthNotPayable, "超过补缴期限")
		_, err := h.client.PostPayment(ctx, ps)
		mustRejection(t, err, service.RejectMonthNotPayable)
		h.sim.SetPostingMode(provsim.ModeAccept)
		_, err = h.client.PostPayment(ctx, ps)
		mustRejection(t, err, service.RejectMonthNotPayable) // same key, same answer
	})
	t.Run("FailTwoThenAccept", func(t *testing.T) {
		h := newHarness(t)
		ps := postingFor(t, "T3", p, mustProfile(t, h, p))
		h.sim.FailNextPostings(2)
		for i := 0; i < 2; i++ {
			_, err := h.client.PostPayment(ctx, ps)
			mustTransient(t, err)
		}
		res, err := h.client.PostPayment(ctx, ps)
		if err != nil || res.Status != service.PostingAccepted {
			t.Fatalf("third PostPayment = %+v,%v, want accepted", res, err)
		}
		if got, want := h.sim.Attempts("T3"), 3; got != want {
			t.Fatalf("attempts = %d, want %d", got, want)
		}
		if got, want := len(h.sim.Bookings()), 1; got != want {
			t.Fatalf("bookings = %d, want %d", got, want)
		}
	})
	t.Run("ErrorRateOneIsTransient", func(t *testing.T) {
		h := newHarness(t)
		h.sim.SetErrorRate(1)
		_, err := h.client.FindProfile(ctx, testRegion, p)
		mustTransient(t, err)
	})
	t.Run("TimeoutIsTransient", func(t *testing.T) {
		h := newHarness(t, func(_ *provsim.Config, c *platform.Config) { c.Timeout = 20 * time.Millisecond })
		h.sim.SetLatency(5 * time.Second)
		_, err := h.client.FindProfile(ctx, testRegion, p)
		mustTransient(t, err)
	})
	t.Run("PendingThenAcceptedByCallback", func(t *testing.T) {
		h := newHarness(t)
		ps := postingFor(t, "T4", p, mustProfile(t, h, p))
		h.sim.SetPostingMode(provsim.ModePending)
		res, err := h.client.PostPayment(ctx, ps)
		if err != nil || res.Status != service.PostingPending || res.Reference == "" {
			t.Fatalf("PostPayment = %+v,%v, want pending with reference", res, err)
		}
		if n, err := h.sim.CompletePending(ctx); err != nil || n != 1 {
			t.Fatalf("CompletePending = %d,%v, want 1,nil", n, err)
		}
		evs := h.sink.Events()
		if len(evs) != 1 {
			t.Fatalf("sink events = %d, want 1", len(evs))
		}
		e := evs[0]
		if e.Type != service.EventPostingAccepted || e.IdempotencyKey != "T4" || !e.Accepted ||
			e.Result.Reference != res.Reference || e.Result.Receipt == nil || e.Result.Receipt.Fiscal.AmountFen != ps.AmountFen {
			t.Fatalf("event = %+v, want posting.accepted for T4 with receipt of %d", e, ps.AmountFen)
		}
		// The platform resends the same event: answered 200, not reprocessed.
		if err := h.sim.ResendEvent(ctx, e.EventID); err != nil {
			t.Fatalf("ResendEvent: %v", err)
		}
		if got := len(h.sink.Events()); got != 1 {
			t.Fatalf("sink events after resend = %d, want 1", got)
		}
		q, err := h.client.QueryPosting(ctx, testRegion, "T4")
		if err != nil || q.Status != service.PostingAccepted {
			t.Fatalf("QueryPosting = %+v,%v, want accepted", q, err)
		}
	})
	t.Run("PendingThenRejectedByCallback", func(t *testing.T) {
		h := newHarness(t)
		ps := postingFor(t, "T5", person("张欠费挂起", "110101199003074514"), mustProfile(t, h, p))
		res, err := h.client.PostPayment(ctx, ps)
		if err != nil || res.Status != service.PostingPending {
			t.Fatalf("PostPayment = %+v,%v, want pending (name marker)", res, err)
		}
		if n, err := h.sim.RejectPending(ctx, service.RejectNotInsured, "参保状态异常"); err != nil || n != 1 {
			t.Fatalf("RejectPending = %d,%v, want 1,nil", n, err)
		}
		evs := h.sink.Events()
		if len(evs) != 1 || evs[0].Type != service.EventPostingRejected || evs[0].Accepted || evs[0].Reason != "参保状态异常" {
			t.Fatalf("events = %+v, want one posting.rejected", evs)
		}
	})
}

func TestClient_RefusesUnverifiedResponses(t *testing.T) {
	ctx := context.Background()
	p := person("张欠费", "110101199003074514")
	t.Run("WrongSecret", func(t *testing.T) {
		h := newHarness(t, func(_ *provsim.Config, c *platform.Config) {
			c.Regions = map[string]platform.Credentials{testRegion: {AppID: "app-440300", Secret: "wrong"}}
		})
		_, err := h.client.FindProfile(ctx, testRegion, p)
		mustTransient(t, err)
	})
	// A man in the middle (or a misrouted proxy) answering an unsigned
	// permanent refusal must not make us refund a paid posting.
	t.Run("UnsignedRejectionIsTransient", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"error":{"code":"not_insured","message":"x","retryable":false}}`))
		}))
		defer srv.Close()
		c := mustClient(t, srv.URL, "secret")
		_, err := c.PostPayment(ctx, service.Posting{IdempotencyKey: "K1", Region: testRegion, AmountFen: 1})
		mustTransient(t, err)
	})
	t.Run("TamperedBodyIsTransient", func(t *testing.T) {
		h := newHarness(t)
		sim := h.sim.Handler()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write([]byte(strings.Replace(rec.Body.String(), `"current_due_fen":`, `"current_due_fen":1`, 1)))
		}))
		defer srv.Close()
		c := mustClient(t, srv.URL, "secret-440300")
		_, err := c.FindProfile(ctx, testRegion, p)
		mustTransient(t, err)
	})
}

func mustClient(tb testing.TB, baseURL, secret string) *platform.Client {
	tb.Helper()
	cfg := platform.Config{Regions: map[string]platform.Credentials{testRegion: {AppID: "app-440300", Secret: secret, BaseURL: baseURL}}}
	c, err := platform.NewClient(cfg, service.NewManualClock(t0), nil, nil)
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	return c
}
