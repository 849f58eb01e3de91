package service_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/service"
)

// stepFace is WeChat face verification, scripted per verify_id: it answers
// ret (default 10000) and records the identity each verify_id was issued
// for. onQuery, when set, runs before the answer (a race window).
type stepFace struct {
	mu      sync.Mutex
	n       int
	ret     map[string]int
	certs   map[string]service.PersonRef
	next    int  // verify_ret for verify_ids issued from now on (0: 10000)
	down    bool // getverifyid fails (WeChat unreachable)
	onQuery func()
}

func newStepFace() *stepFace {
	return &stepFace{ret: map[string]int{}, certs: map[string]service.PersonRef{}}
}

func (f *stepFace) GetVerifyID(ctx context.Context, r service.FaceVerifyRequest) (string, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return "", 0, errors.New("dial tcp: connection refused")
	}
	f.n++
	id := "vid-" + r.OutSeqNo
	f.certs[id] = r.Cert
	f.ret[id] = service.FaceVerifyOK
	if f.next != 0 {
		f.ret[id] = f.next
	}
	return id, time.Hour, nil
}

func (f *stepFace) QueryVerifyInfo(ctx context.Context, q service.FaceQuery) (int, error) {
	if f.onQuery != nil {
		f.onQuery()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ret[q.VerifyID], nil
}

func (f *stepFace) LegacyIdentifyInfo(context.Context, string) (service.FaceLegacyInfo, error) {
	return service.FaceLegacyInfo{}, nil
}

// stepUpKit is the harness plus face verification and step-up.
type stepUpKit struct {
	*harness
	wx     *stepFace
	face   *service.FaceService
	stepup *service.StepUpService
	faces  *model.FaceAttemptStore
}

func newStepUpKit(h *harness, cfg service.StepUpConfig) *stepUpKit {
	ring, err := pii.NewKeyring(pii.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		h.t.Fatal(err)
	}
	k := &stepUpKit{harness: h, wx: newStepFace(), faces: model.NewFaceAttemptStore(h.db, ring)}
	k.face = service.NewFaceService(service.FaceDeps{Config: service.FaceConfig{DailyAttempts: 10}, Users: h.users,
		Persons: model.NewPersonStore(h.db, ring), Attempts: k.faces, WeChat: k.wx, Clock: h.clock})
	k.stepup = service.NewStepUpService(service.StepUpDeps{Config: cfg, Holds: h.holds, Orders: h.orders, Users: h.users, Family: h.family,
		Face: k.face, Original: k.faces, Store: model.NewStepUpStore(h.db), Audit: h.store, Clock: h.clock})
	h.viewer.StepUp = k.stepup
	return k
}

// verified logs a user in and verifies them by face as name/id; it returns
// the user and person ids.
func (k *stepUpKit) verified(openID, name, id string) (int64, int64) {
	k.t.Helper()
	ctx := context.Background()
	u, err := k.users.UpsertUserByOpenID(ctx, openID, "")
	if err != nil {
		k.t.Fatal(err)
	}
	st, err := k.face.Start(ctx, u.ID, service.IdentityInput{Name: name, IDType: service.IDResident, IDNumber: id})
	if err != nil {
		k.t.Fatalf("face start: %v", err)
	}
	p, err := k.face.Result(ctx, u.ID, st.VerifyID)
	if err != nil {
		k.t.Fatalf("face result: %v", err)
	}
	return u.ID, p.ID
}

// heldChoice returns the order view's hold choice of a one-batch order.
func (k *stepUpKit) heldChoice(otn string) *service.HoldChoice {
	k.t.Helper()
	no, _, _ := service.SplitOutTradeNo(otn)
	o, err := k.orders.FindOrder(context.Background(), no)
	if err != nil {
		k.t.Fatal(err)
	}
	vs, err := k.viewer.View(context.Background(), o)
	if err != nil {
		k.t.Fatal(err)
	}
	return vs[0].HoldChoice
}

func TestStepUpPassReleasesAnAmountHoldOnceAuditedWithTheOriginalIdentity(t *testing.T) {
	each(t, amountHold(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		k := newStepUpKit(h, service.DefaultStepUpConfig())
		uid, pid := k.verified("s1", "张三", "11010519491231002X")
		otn := h.paid(orderNo(40), uid, pid, 150000)
		h.run()
		h.wantStatus(otn, service.StatusHeld)
		if c := k.heldChoice(otn); c == nil || c.Choice != service.HoldChoiceStepUp || c.AttemptsLeft != 3 {
			t.Fatalf("hold choice: got %+v, want step_up with 3 attempts", c)
		}
		h.clock.Advance(time.Hour)
		st, err := k.stepup.Start(ctx, uid, orderNo(40), 1)
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		if st.AttemptNo != 1 || st.AttemptsLeft != 2 {
			t.Fatalf("start: got attempt %d, %d left; want 1, 2", st.AttemptNo, st.AttemptsLeft)
		}
		// WeChat is asked to verify the identity of the original
		// verification, not one the client names.
		if c := k.wx.certs[st.VerifyID]; c.Name != "张三" || c.IDNumber != "11010519491231002X" {
			t.Fatalf("step-up verified %+v, want the original identity", c)
		}
		// The step-up verify_id cannot be used to verify an identity.
		if _, err := k.face.Result(ctx, uid, st.VerifyID); service.ErrorCode(err) != service.CodeNotFound {
			t.Fatalf("identity result of a step-up verify_id: got %v, want not_found", err)
		}
		res, err := k.stepup.Result(ctx, uid, orderNo(40), 1, st.VerifyID)
		if err != nil || !res.Released || res.Hold.Status != service.HoldReleased {
			t.Fatalf("result: got %+v, %v; want released", res, err)
		}
		if want := "stepup:user:"; !strings.HasPrefix(res.Hold.DecidedBy, want) {
			t.Fatalf("decided by %q, want %s<id>", res.Hold.DecidedBy, want)
		}
		h.wantStatus(otn, service.StatusPosting)
		// A repeat reports the same outcome and releases nothing again.
		if again, err := k.stepup.Result(ctx, uid, orderNo(40), 1, st.VerifyID); err != nil || !again.Released {
			t.Fatalf("repeat: got %+v, %v; want released", again, err)
		}
		h.run()
		h.wantStatus(otn, service.StatusPosted)
		if n := countType(h.events(otn), "hold_released"); n != 1 {
			t.Fatalf("hold_released events: got %d, want 1", n)
		}
		if posts, bookings := h.platform.counts(otn); posts != 1 || bookings != 1 {
			t.Fatalf("platform: got %d posts, %d bookings; want 1, 1", posts, bookings)
		}
		// Held for 1 h: the 72 h window moves by exactly that.
		if ext, _ := h.holds.Extension(ctx, otn); ext != time.Hour {
			t.Fatalf("window extension: got %v, want 1h", ext)
		}
		audit, err := h.store.FindAudit(ctx, otn, 10)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, a := range audit {
			actions = append(actions, a.Action)
			if strings.Contains(a.After, "11010519491231002X") || strings.Contains(a.After, "张三") {
				t.Fatalf("audit row carries personal data: %+v", a)
			}
		}
		if got := strings.Join(actions, ","); !strings.Contains(got, "stepup_start") || !strings.Contains(got, "stepup_passed") {
			t.Fatalf("audit actions: got %s, want stepup_start and stepup_passed", got)
		}
		// Another user, or a verify_id of another batch, is not found.
		other, _ := k.verified("s2", "李四", "110101199003071233")
		if _, err := k.stepup.Start(ctx, other, orderNo(40), 1); service.ErrorCode(err) != service.CodeNotFound {
			t.Fatalf("stranger start: got %v, want not_found", err)
		}
	})
}

func TestStepUpFailuresLeaveTheHoldToOperationsAndAreCapped(t *testing.T) {
	each(t, amountHold(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		k := newStepUpKit(h, service.DefaultStepUpConfig())
		uid, pid := k.verified("s1", "张三", "11010519491231002X")
		otn := h.paid(orderNo(41), uid, pid, 150000)
		h.run()
		// WeChat unreachable when starting: no attempt is used.
		k.wx.down = true
		if _, err := k.stepup.Start(ctx, uid, orderNo(41), 1); service.ErrorCode(err) != "wechat_unavailable" {
			t.Fatalf("start with WeChat down: got %v, want wechat_unavailable", err)
		}
		k.wx.down = false
		if c := k.heldChoice(otn); c == nil || c.AttemptsLeft != 3 {
			t.Fatalf("choice after an outage: got %+v, want 3 attempts left", c)
		}
		k.wx.next = 90017 // timeout at WeChat
		for i := 1; i <= 3; i++ {
			st, err := k.stepup.Start(ctx, uid, orderNo(41), 1)
			if err != nil {
				t.Fatalf("start %d: %v", i, err)
			}
			if _, err := k.stepup.Result(ctx, uid, orderNo(41), 1, st.VerifyID); service.ErrorCode(err) != service.CodeFaceTimeout {
				t.Fatalf("result %d: got %v, want face_timeout", i, err)
			}
			h.wantStatus(otn, service.StatusHeld)
		}
		_, err := k.stepup.Start(ctx, uid, orderNo(41), 1)
		if e := service.AsError(err); e == nil || e.Code != service.CodeStepUpExhausted || e.Kind != service.KindRateLimited || e.RetryAfter <= 0 {
			t.Fatalf("fourth start: got %v, want stepup_exhausted (429 with Retry-After)", err)
		}
		if c := k.heldChoice(otn); c == nil || c.Choice != service.HoldChoiceReview {
			t.Fatalf("choice after the attempts: got %+v, want wait_for_review", c)
		}
		if a := h.alerts(service.AlertStepUpMismatch); len(a) != 0 {
			t.Fatalf("failures raised %d stepup_mismatch alerts, want 0", len(a))
		}
		// Operations still decide.
		if _, err := h.admin.ReleaseHold(ctx, "admin:alice", otn); err != nil {
			t.Fatalf("ops release: %v", err)
		}
		h.wantStatus(otn, service.StatusPosting)
	})
}

func TestStepUpIsRefusedForThirdPartyHoldsOutsideTheWindowAndWithoutAFaceVerification(t *testing.T) {
	r := amountHold()
	r.ThirdParty = service.HoldRule{Enabled: true, Action: service.HoldRefund}
	each(t, r, func(t *testing.T, h *harness) {
		ctx := context.Background()
		k := newStepUpKit(h, service.DefaultStepUpConfig())
		uid, pid := k.verified("s1", "张三", "11010519491231002X")
		_, member := k.verified("s2", "李四", "110101199003071233")
		stranger, _ := k.verified("s3", "王五", "110101199003074514")

		// Paying for a stranger: third_party hold, operations only.
		third := h.paid(orderNo(42), uid, member, 500)
		// Paying for a consenting family member: the payer's own face.
		h.family.bound[[2]int64{stranger, member}] = true
		family := h.paid(orderNo(43), stranger, member, 150000)
		// Paying for oneself.
		self := h.paid(orderNo(44), uid, pid, 150000)
		h.run()
		for _, otn := range []string{third, family, self} {
			h.wantStatus(otn, service.StatusHeld)
		}
		if _, err := k.stepup.Start(ctx, uid, orderNo(42), 1); service.ErrorCode(err) != service.CodeStepUpNotAllowed {
			t.Fatalf("third-party hold: got %v, want stepup_not_allowed", err)
		}
		if c := k.heldChoice(third); c == nil || c.Choice != service.HoldChoiceReview {
			t.Fatalf("third-party choice: got %+v, want wait_for_review", c)
		}
		st, err := k.stepup.Start(ctx, stranger, orderNo(43), 1)
		if err != nil {
			t.Fatalf("family payer start: %v", err)
		}
		if c := k.wx.certs[st.VerifyID]; c.Name != "王五" {
			t.Fatalf("family payer verified %q, want the payer 王五", c.Name)
		}
		if res, err := k.stepup.Result(ctx, stranger, orderNo(43), 1, st.VerifyID); err != nil || !res.Released {
			t.Fatalf("family payer result: got %+v, %v; want released", res, err)
		}
		// A user verified by another method has no face to compare with.
		alt, _ := h.users.UpsertUserByOpenID(ctx, "s4", "")
		h.users.UpdateUser(ctx, alt.ID, func(u *service.User) error { u.PersonID = member; return nil })
		altOrder := h.paid(orderNo(45), alt.ID, member, 150000)
		h.run()
		h.wantStatus(altOrder, service.StatusHeld)
		if _, err := k.stepup.Start(ctx, alt.ID, orderNo(45), 1); service.ErrorCode(err) != service.CodeStepUpNotEligible {
			t.Fatalf("no face verification: got %v, want stepup_not_eligible", err)
		}
		// Started within the window, answered after it: not applied.
		st, err = k.stepup.Start(ctx, uid, orderNo(44), 1)
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(24 * time.Hour)
		if _, err := k.stepup.Result(ctx, uid, orderNo(44), 1, st.VerifyID); service.ErrorCode(err) != service.CodeStepUpWindowOver {
			t.Fatalf("result after the window: got %v, want stepup_window_over", err)
		}
		if _, err := k.stepup.Start(ctx, uid, orderNo(44), 1); service.ErrorCode(err) != service.CodeStepUpWindowOver {
			t.Fatalf("start after the window: got %v, want stepup_window_over", err)
		}
		h.wantStatus(self, service.StatusHeld)
	})
}

func TestStepUpOfAnotherIdentityIsRefusedAlertedAndKeepsTheHold(t *testing.T) {
	each(t, amountHold(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		k := newStepUpKit(h, service.DefaultStepUpConfig())
		uid, pid := k.verified("s1", "张三", "11010519491231002X")
		k.verified("s2", "李四", "110101199003071233")
		otn := h.paid(orderNo(46), uid, pid, 150000)
		h.run()
		st, err := k.stepup.Start(ctx, uid, orderNo(46), 1)
		if err != nil {
			t.Fatal(err)
		}
		// The step-up's face attempt now names 李四 (as if WeChat had been
		// asked for another identity): its cert_hash differs.
		if err := h.db.Exec(`UPDATE face_attempts SET cert_enc = (SELECT cert_enc FROM (SELECT cert_enc FROM face_attempts WHERE verify_id IS NOT NULL AND user_id <> ? ORDER BY id LIMIT 1) x) WHERE verify_id = ?`,
			uid, st.VerifyID).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := k.stepup.Result(ctx, uid, orderNo(46), 1, st.VerifyID); service.ErrorCode(err) != service.CodeStepUpMismatch {
			t.Fatalf("result: got %v, want stepup_mismatch", err)
		}
		h.wantStatus(otn, service.StatusHeld)
		if a := h.alerts(service.AlertStepUpMismatch); len(a) != 1 {
			t.Fatalf("stepup_mismatch alerts: got %d, want 1", len(a))
		}
		if _, err := k.stepup.Result(ctx, uid, orderNo(46), 1, st.VerifyID); service.ErrorCode(err) != service.CodeStepUpMismatch {
			t.Fatalf("repeat: got %v, want stepup_mismatch", err)
		}
	})
}

func TestStepUpRacingOperationsOrTheExpiryReleasesOnce(t *testing.T) {
	each(t, amountHold(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		k := newStepUpKit(h, service.DefaultStepUpConfig())
		uid, pid := k.verified("s1", "张三", "11010519491231002X")

		// Operations release while WeChat answers the step-up.
		ops := h.paid(orderNo(47), uid, pid, 150000)
		// The 24 h rule releases while WeChat answers the step-up.
		expiry := h.paid(orderNo(48), uid, pid, 150000)
		h.run()
		st, err := k.stepup.Start(ctx, uid, orderNo(47), 1)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var opsErr error
		k.wx.onQuery = func() {
			wg.Add(1)
			go func() { defer wg.Done(); _, opsErr = h.admin.ReleaseHold(ctx, "admin:alice", ops) }()
			if h.db.Dialect != model.MySQL {
				wg.Wait() // SQLite: the operator first, then the step-up
			}
		}
		res, err := k.stepup.Result(ctx, uid, orderNo(47), 1, st.VerifyID)
		wg.Wait()
		k.wx.onQuery = nil
		if err != nil || !res.Released {
			t.Fatalf("step-up racing ops: got %+v, %v; want released", res, err)
		}
		if opsErr != nil && service.ErrorCode(opsErr) != service.CodeHoldNotOpen {
			t.Fatalf("ops release: %v", opsErr)
		}

		st, err = k.stepup.Start(ctx, uid, orderNo(48), 1)
		if err != nil {
			t.Fatal(err)
		}
		k.wx.onQuery = func() {
			// WeChat answers just as the hold ends; the sweeper releases it
			// first. The step-up's window check ran before.
			h.clock.Set(t0.Add(24 * time.Hour))
			if _, err := h.holds.Sweep(ctx); err != nil {
				t.Errorf("sweep: %v", err)
			}
		}
		if res, err := k.stepup.Result(ctx, uid, orderNo(48), 1, st.VerifyID); err != nil || !res.Released || res.Hold.DecidedBy != "system" {
			t.Fatalf("step-up racing the expiry: got %+v, %v; want released by system", res, err)
		}
		h.run()
		for _, otn := range []string{ops, expiry} {
			h.wantStatus(otn, service.StatusPosted)
			if n := countType(h.events(otn), "hold_released"); n != 1 {
				t.Fatalf("%s: hold_released events: got %d, want 1", otn, n)
			}
			if posts, bookings := h.platform.counts(otn); posts != 1 || bookings != 1 {
				t.Fatalf("%s: platform got %d posts, %d bookings; want 1, 1", otn, posts, bookings)
			}
		}
	})
}
