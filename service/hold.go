package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// HoldAction is what happens to a hold nobody reviewed when it expires.
type HoldAction string

// Hold actions.
const (
	HoldRelease HoldAction = "release" // post it
	HoldRefund  HoldAction = "refund"  // refund it
)

// HoldStatus is the status of a risk hold: open until operations or the
// expiry decide it, then released (posted) or rejected (refunded). A
// decided hold never changes again.
type HoldStatus string

// Hold statuses.
const (
	HoldOpen     HoldStatus = "open"
	HoldReleased HoldStatus = "released"
	HoldRejected HoldStatus = "rejected"
)

// Hold rule names.
const (
	RuleThirdParty = "third_party" // payer is not the insured and has no consented family binding
	RuleVelocity   = "velocity"    // too many paid batches by one payer in one day
	RuleAmount     = "amount"      // amount over the threshold
)

// HoldRule switches one rule and says what its expiry does.
type HoldRule struct {
	Enabled bool
	Action  HoldAction
}

// HoldRules configure the risk hold (资金冻结). Defaults (DefaultHoldRules)
// are illustrative, not regulatory figures.
//
// config.Load reads them from HOLD_* (README, docs/after-payment.md).
type HoldRules struct {
	Duration       time.Duration
	ThirdParty     HoldRule
	VelocityPerDay int
	Velocity       HoldRule
	AmountFen      Fen
	Amount         HoldRule
}

// DefaultHoldRules returns the defaults documented on HoldRules.
func DefaultHoldRules() HoldRules {
	return HoldRules{
		Duration:       24 * time.Hour,
		ThirdParty:     HoldRule{Enabled: true, Action: HoldRefund},
		VelocityPerDay: 5,
		Velocity:       HoldRule{Enabled: true, Action: HoldRelease},
		AmountFen:      2_000_000,
		Amount:         HoldRule{Enabled: true, Action: HoldRelease},
	}
}

// Hold is a risk hold of one batch.
type Hold struct {
	OutTradeNo string
	OrderNo    string
	UserID     int64
	Rules      []string
	Action     HoldAction // at expiry
	Detail     string
	Status     HoldStatus
	HeldAt     time.Time
	ExpiresAt  time.Time
	DecidedAt  time.Time
	DecidedBy  string
}

// HoldStore persists holds; out_trade_no is unique.
type HoldStore interface {
	// CreateHold inserts h or returns the existing hold of the batch.
	CreateHold(ctx context.Context, h *Hold) (*Hold, error)
	// FindHold returns ErrNotFound when the batch was never held.
	FindHold(ctx context.Context, outTradeNo string) (*Hold, error)
	// FindHolds lists holds in a status ("" for all), oldest first.
	FindHolds(ctx context.Context, status HoldStatus, limit int) ([]Hold, error)
	// FindExpiredHolds lists open holds expiring at or before now.
	FindExpiredHolds(ctx context.Context, now time.Time, limit int) ([]Hold, error)
	// DecideHold moves an open hold to status; false when it was not open.
	DecideHold(ctx context.Context, outTradeNo string, status HoldStatus, by string, at time.Time) (bool, error)
	// CountPaidBatches counts a payer's batches paid in [from, to).
	CountPaidBatches(ctx context.Context, userID int64, from, to time.Time) (int, error)
}

// HoldDeps are the dependencies of a HoldService.
type HoldDeps struct {
	Store   HoldStore
	Orders  OrderStore
	Users   UserFinder
	Family  FamilyBindings // optional: nil means no bindings are known
	Refunds *RefundService
	Waker   JobWaker
	Rules   HoldRules
	Clock   Clock
}

// HoldService screens paid batches and manages risk holds.
//
// Decision: the 72-hour retry window does not run while a batch is held.
// The posting deadline is extended by the time the batch spent held, so a
// released hold still gets its full window of retries.
type HoldService struct {
	d HoldDeps
}

// NewHoldService returns a HoldService; it panics on missing dependencies.
func NewHoldService(d HoldDeps) *HoldService {
	if d.Store == nil || d.Orders == nil || d.Users == nil || d.Refunds == nil || d.Waker == nil || d.Clock == nil {
		panic("service: NewHoldService: missing dependency")
	}
	if d.Rules.Duration <= 0 {
		d.Rules.Duration = 24 * time.Hour
	}
	return &HoldService{d: d}
}

// Rules returns the configured rules.
func (s *HoldService) Rules() HoldRules { return s.d.Rules }

// Screen evaluates the rules for a paid batch and records a hold when one
// fires; it returns nil when the batch may be posted. A repeat returns the
// hold recorded before.
func (s *HoldService) Screen(ctx context.Context, o *Order, b *Batch) (*Hold, error) {
	if h, err := s.d.Store.FindHold(ctx, b.OutTradeNo); err == nil {
		return h, nil
	} else if !isNotFound(err) {
		return nil, err
	}
	r := s.d.Rules
	var fired, details []string
	action := HoldRelease
	fire := func(rule HoldRule, name, detail string) {
		fired = append(fired, name)
		details = append(details, detail)
		if rule.Action == HoldRefund {
			action = HoldRefund
		}
	}
	if r.Amount.Enabled && r.AmountFen > 0 && b.AmountFen > r.AmountFen {
		fire(r.Amount, RuleAmount, fmt.Sprintf("amount %d fen over %d", b.AmountFen, r.AmountFen))
	}
	if r.Velocity.Enabled && r.VelocityPerDay > 0 {
		from, to := ShanghaiDay(b.PaidAt)
		n, err := s.d.Store.CountPaidBatches(ctx, o.UserID, from, to)
		if err != nil {
			return nil, err
		}
		if n > r.VelocityPerDay {
			fire(r.Velocity, RuleVelocity, fmt.Sprintf("%d paid batches today, limit %d", n, r.VelocityPerDay))
		}
	}
	if r.ThirdParty.Enabled {
		self, err := s.payerIsInsured(ctx, o, b.PaidAt)
		if err != nil {
			return nil, err
		}
		if !self {
			fire(r.ThirdParty, RuleThirdParty, "payer is not the insured person and has no consented family binding")
		}
	}
	if len(fired) == 0 {
		return nil, nil
	}
	now := s.d.Clock.Now()
	return s.d.Store.CreateHold(ctx, &Hold{OutTradeNo: b.OutTradeNo, OrderNo: o.No, UserID: o.UserID, Rules: fired,
		Action: action, Detail: strings.Join(details, "; "), Status: HoldOpen, HeldAt: now, ExpiresAt: now.Add(r.Duration)})
}

func (s *HoldService) payerIsInsured(ctx context.Context, o *Order, paidAt time.Time) (bool, error) {
	u, err := s.d.Users.FindUserByID(ctx, o.UserID)
	if isNotFound(err) {
		return false, nil // an unknown payer is not the insured: hold for review
	}
	if err != nil {
		return false, fmt.Errorf("hold: payer: %w", err)
	}
	if u.PersonID != 0 && u.PersonID == o.PersonID {
		return true, nil
	}
	if s.d.Family == nil {
		return false, nil
	}
	return s.d.Family.HasConsentedBinding(ctx, o.UserID, o.PersonID, paidAt)
}

// Extension returns how long the batch was held (zero if never), by which
// its retry deadline moves.
func (s *HoldService) Extension(ctx context.Context, outTradeNo string) (time.Duration, error) {
	h, err := s.d.Store.FindHold(ctx, outTradeNo)
	if isNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	end := h.DecidedAt
	if end.IsZero() {
		end = s.d.Clock.Now()
	}
	if end.Before(h.HeldAt) {
		return 0, nil
	}
	return end.Sub(h.HeldAt), nil
}

// ErrHoldNotOpen is returned when a hold was already decided.
var ErrHoldNotOpen = &Error{Kind: KindConflict, Code: "hold_not_open", Message: "该笔资金冻结已处理"}

// Release posts a held batch (operations, or the sweeper at expiry).
func (s *HoldService) Release(ctx context.Context, outTradeNo, by string) (*Hold, error) {
	h, err := s.find(ctx, outTradeNo)
	if err != nil {
		return nil, err
	}
	if h.Status != HoldOpen {
		return nil, ErrHoldNotOpen
	}
	_, err = updateBatch(ctx, s.d.Orders, outTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		if b.Status != StatusHeld {
			return ErrHoldNotOpen
		}
		if err := b.Release(); err != nil {
			return err
		}
		fx.Event(b.Seq, "hold_released", "资金安全复核已通过，正在向社保经办机构提交")
		// The hold is decided with the batch's move, in one transaction: a
		// concurrent reader (a step-up, the console) never sees the batch
		// released while its hold still reads open.
		fx.Hold = &HoldDecision{OutTradeNo: outTradeNo, Status: HoldReleased, By: by, At: s.d.Clock.Now()}
		return nil
	})
	if err != nil {
		// ErrStale included: deciding the hold as released while the batch
		// did not move would strand it.
		return nil, err
	}
	if err := s.d.Waker.WakeJob(ctx, JobPostBatch, outTradeNo); err != nil {
		return nil, err
	}
	return s.d.Store.FindHold(ctx, outTradeNo)
}

// Reject refunds a held batch (operations, or the sweeper when the rule
// says refund).
func (s *HoldService) Reject(ctx context.Context, outTradeNo, by string, reason RefundReason, detail string) (*Hold, error) {
	h, err := s.find(ctx, outTradeNo)
	if err != nil {
		return nil, err
	}
	if h.Status != HoldOpen {
		return nil, ErrHoldNotOpen
	}
	// Only a batch still held is refunded: a release that won the race
	// keeps its posting.
	if _, err := s.d.Refunds.BeginFrom(ctx, outTradeNo, reason, detail, StatusHeld); err != nil {
		if ErrorCode(err) == codeNotRefundable {
			return nil, ErrHoldNotOpen
		}
		return nil, err
	}
	if err := s.decide(ctx, h, HoldRejected, by); err != nil {
		return nil, err
	}
	return s.d.Store.FindHold(ctx, outTradeNo)
}

func (s *HoldService) find(ctx context.Context, outTradeNo string) (*Hold, error) {
	h, err := s.d.Store.FindHold(ctx, outTradeNo)
	if isNotFound(err) {
		nf := NotFound("没有该笔资金冻结")
		nf.Err = err // callers may still ask errors.Is(err, ErrNotFound)
		return nil, nf
	}
	return h, err
}

func (s *HoldService) decide(ctx context.Context, h *Hold, status HoldStatus, by string) error {
	_, err := s.d.Store.DecideHold(ctx, h.OutTradeNo, status, by, s.d.Clock.Now())
	return err
}

// Expire applies the action of an open hold nobody reviewed in time:
// release (→ posting) or refund, as its rule says. A hold decided
// concurrently, or whose batch moved on, is closed to match the batch.
// Callers check that h expired (Sweep, or the posting job of a held batch).
func (s *HoldService) Expire(ctx context.Context, h *Hold) (*Hold, error) {
	var err error
	var out *Hold
	if h.Action == HoldRefund {
		out, err = s.Reject(ctx, h.OutTradeNo, "system", RefundHoldExpired, strings.Join(h.Rules, ","))
	} else {
		out, err = s.Release(ctx, h.OutTradeNo, "system")
	}
	if errors.Is(err, ErrHoldNotOpen) {
		// Decided concurrently, or the batch moved on: close the record.
		return h, s.repair(ctx, h)
	}
	return out, err
}

// repair closes an open hold whose batch is no longer held.
func (s *HoldService) repair(ctx context.Context, h *Hold) error {
	_, b, err := findBatch(ctx, s.d.Orders, h.OutTradeNo)
	if err != nil || b.Status == StatusHeld {
		return err
	}
	status := HoldReleased
	if b.Status == StatusRefunding || b.Status == StatusRefunded {
		status = HoldRejected
	}
	_, err = s.d.Store.DecideHold(ctx, h.OutTradeNo, status, "system", s.d.Clock.Now())
	return err
}

// Sweep applies the expiry action of every hold nobody reviewed in time:
// release (→ posting) or refund, as its rule says. It is safe to run on
// several instances: every step is conditional.
func (s *HoldService) Sweep(ctx context.Context) (int, error) {
	hs, err := s.d.Store.FindExpiredHolds(ctx, s.d.Clock.Now(), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range hs {
		if _, err := s.Expire(ctx, &hs[i]); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// List returns holds in a status ("" for all).
func (s *HoldService) List(ctx context.Context, status HoldStatus, limit int) ([]Hold, error) {
	return s.d.Store.FindHolds(ctx, status, limit)
}

// Find returns the hold of a batch; a batch never held is a KindNotFound
// *Error (which also wraps ErrNotFound).
func (s *HoldService) Find(ctx context.Context, outTradeNo string) (*Hold, error) {
	return s.find(ctx, outTradeNo)
}

// FamilyBindings answers whether a payer may pay for another person: a
// family binding the insured person consented to (家庭共济/代缴授权), and
// had not withdrawn, at time at (a batch's success_time).
type FamilyBindings interface {
	HasConsentedBinding(ctx context.Context, payerUserID, personID int64, at time.Time) (bool, error)
}
