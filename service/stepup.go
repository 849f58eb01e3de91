package service

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Step-up verification of held payments (生物识别二次验证): the payer of a
// held batch may clear the hold by passing a fresh WeChat face verification
// of the same person as the verification that made their identity, within
// the hold window, for holds whose every rule is releasable by step-up
// (amount and velocity; never third_party). A pass releases the hold through
// HoldService.Release, the one release path (exactly once against an
// operator's release, a rejection or the 24 h expiry); a failure leaves the
// hold to operations.

// FaceFlowStepUp marks face attempts made to clear a held payment; they
// never bind an identity (FaceService.Result refuses them).
const FaceFlowStepUp = "stepup"

// FaceCertType returns WeChat's cert_type for a document type; face
// verification supports only the resident ID card.
func FaceCertType(t IDType) string {
	if t == IDResident {
		return "IDENTITY_CARD"
	}
	return ""
}

// CertHash is WeChat's cert_hash: each of cert_type, cert_name and cert_no
// standard-base64 encoded, joined as
// "cert_type=<b64>&cert_name=<b64>&cert_no=<b64>", SHA-256, lower-case hex.
func CertHash(certType, certName, certNo string) string {
	b64 := base64.StdEncoding.EncodeToString
	s := "cert_type=" + b64([]byte(certType)) + "&cert_name=" + b64([]byte(certName)) + "&cert_no=" + b64([]byte(certNo))
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func refCertHash(r PersonRef) string { return CertHash(FaceCertType(r.IDType), r.Name, r.IDNumber) }

// StepUpConfig configures step-up verification: whether it is offered,
// the hold rules a pass may release (never third_party) and the attempts
// per hold. config.Load reads it from HOLD_STEPUP*.
type StepUpConfig struct {
	Enabled     bool
	Rules       []string
	MaxAttempts int
}

// DefaultStepUpConfig returns the defaults documented on StepUpConfig.
func DefaultStepUpConfig() StepUpConfig {
	return StepUpConfig{Enabled: true, Rules: []string{RuleAmount, RuleVelocity}, MaxAttempts: 3}
}

// Step-up attempt statuses.
const (
	StepUpPending  = "pending"
	StepUpPassed   = "passed"
	StepUpFailed   = "failed"
	StepUpMismatch = "mismatch" // WeChat verified someone else than the original verification
	StepUpError    = "error"    // we could not start it at WeChat; not counted
)

// StepUpAttempt is one step-up face verification of a held batch.
type StepUpAttempt struct {
	ID            int64
	OutTradeNo    string
	AttemptNo     int // 1-based per hold, errors included; (OutTradeNo, AttemptNo) is unique
	UserID        int64
	FaceAttemptID int64
	VerifyID      string
	Status        string
	VerifyRet     int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// StepUpStore persists step-up attempts.
type StepUpStore interface {
	// CreateStepUp inserts a; ErrDuplicate when its number is taken for
	// the batch (two starts at once).
	CreateStepUp(ctx context.Context, a *StepUpAttempt) error
	// CountStepUps returns how many attempts a batch's hold has had, not
	// counting those in status error, and the highest attempt number used.
	CountStepUps(ctx context.Context, outTradeNo string) (used, last int, err error)
	// LinkStepUp records the face attempt and verify_id a step-up started.
	LinkStepUp(ctx context.Context, id, faceAttemptID int64, verifyID string) error
	// FindStepUpByVerifyID returns ErrNotFound when unknown.
	FindStepUpByVerifyID(ctx context.Context, verifyID string) (*StepUpAttempt, error)
	// FinishStepUp moves a pending attempt to status; false when it was
	// not pending.
	FinishStepUp(ctx context.Context, id int64, status string, verifyRet int, at time.Time) (bool, error)
}

// OriginalFaces finds the face verification that made a user's identity.
type OriginalFaces interface {
	// FindVerifiedFace returns the user's latest verified face attempt
	// (flows v2 and legacy) bound to personID, or ErrNotFound.
	FindVerifiedFace(ctx context.Context, userID, personID int64) (*FaceAttempt, error)
}

// StepUpDeps are the dependencies of a StepUpService.
type StepUpDeps struct {
	Config   StepUpConfig
	Holds    *HoldService
	Orders   OrderStore
	Users    UserFinder
	Family   FamilyBindings // optional
	Face     *FaceService
	Original OriginalFaces
	Store    StepUpStore
	Audit    AuditStore
	Clock    Clock
}

// StepUpService clears held payments by a fresh face verification.
type StepUpService struct {
	d StepUpDeps
}

// NewStepUpService returns a StepUpService; it panics on missing
// dependencies.
func NewStepUpService(d StepUpDeps) *StepUpService {
	if d.Holds == nil || d.Orders == nil || d.Users == nil || d.Face == nil || d.Original == nil || d.Store == nil || d.Audit == nil || d.Clock == nil {
		panic("service: NewStepUpService: missing dependency")
	}
	if d.Config.MaxAttempts <= 0 {
		d.Config.MaxAttempts = 3
	}
	return &StepUpService{d: d}
}

// Hold choices shown with a held batch.
const (
	HoldChoiceStepUp = "step_up"         // the payer may verify their face now to release it
	HoldChoiceReview = "wait_for_review" // operations review it, or the 24 h rule decides
)

// HoldChoice is what the payer of a held batch may do.
type HoldChoice struct {
	Choice       string
	Note         string
	AttemptsLeft int
	Until        time.Time // the end of the hold window
}

// Step-up error codes.
const (
	CodeStepUpNotAllowed  = "stepup_not_allowed"  // a rule of the hold needs operations
	CodeStepUpNotEligible = "stepup_not_eligible" // no face verification to compare with, or not the payer's person
	CodeStepUpWindowOver  = "stepup_window_over"  // the hold window ended
	CodeStepUpExhausted   = "stepup_exhausted"    // every attempt of the hold used
	CodeStepUpMismatch    = "stepup_mismatch"     // WeChat verified another person than the original verification
)

// refusal is why the payer may not step up, as the user's error; nil
// means they may. It reads the hold, the rules, the window, the attempts
// and the original verification.
func (s *StepUpService) refusal(ctx context.Context, o *Order, b *Batch, h *Hold) (*FaceAttempt, int, *Error) {
	now := s.d.Clock.Now()
	if !s.d.Config.Enabled {
		return nil, 0, &Error{Kind: KindConflict, Code: CodeStepUpNotAllowed, Message: "该笔资金冻结需由运营人员复核，请耐心等待"}
	}
	if h.Status != HoldOpen || b.Status != StatusHeld {
		return nil, 0, ErrHoldNotOpen
	}
	for _, r := range h.Rules {
		if !contains(s.d.Config.Rules, r) {
			return nil, 0, &Error{Kind: KindConflict, Code: CodeStepUpNotAllowed,
				Message: "该笔缴费需由运营人员复核（代缴人与参保人关系未经确认），不能通过人脸核验解除，请耐心等待"}
		}
	}
	if !now.Before(h.ExpiresAt) {
		return nil, 0, &Error{Kind: KindConflict, Code: CodeStepUpWindowOver, Message: "复核时限已到，系统正在按规则处理这笔资金"}
	}
	n, _, err := s.d.Store.CountStepUps(ctx, b.OutTradeNo)
	if err != nil {
		return nil, 0, &Error{Kind: KindInternal, Code: CodeInternal, Message: "内部错误", Err: err}
	}
	left := s.d.Config.MaxAttempts - n
	if left <= 0 {
		return nil, 0, &Error{Kind: KindRateLimited, Code: CodeStepUpExhausted, RetryAfter: h.ExpiresAt.Sub(now),
			Message: fmt.Sprintf("人脸核验次数已用完（每笔 %d 次），该笔资金将由运营人员复核", s.d.Config.MaxAttempts)}
	}
	orig, e := s.original(ctx, o, b.PaidAt)
	if e != nil {
		return nil, left, e
	}
	return orig, left, nil
}

// original returns the payer's original face verification, when the payer
// is the insured person or paid (at paidAt) under a consented family binding.
func (s *StepUpService) original(ctx context.Context, o *Order, paidAt time.Time) (*FaceAttempt, *Error) {
	notEligible := &Error{Kind: KindForbidden, Code: CodeStepUpNotEligible,
		Message: "您的实名身份不是通过微信人脸核验确认的，无法用人脸核验解除冻结，请等待运营人员复核"}
	internal := func(err error) *Error {
		return &Error{Kind: KindInternal, Code: CodeInternal, Message: "内部错误", Err: err}
	}
	u, err := s.d.Users.FindUserByID(ctx, o.UserID)
	if err != nil {
		return nil, internal(err)
	}
	if u.PersonID == 0 {
		return nil, notEligible
	}
	if u.PersonID != o.PersonID {
		bound := false
		if s.d.Family != nil {
			if bound, err = s.d.Family.HasConsentedBinding(ctx, o.UserID, o.PersonID, paidAt); err != nil {
				return nil, internal(err)
			}
		}
		if !bound {
			return nil, notEligible
		}
	}
	a, err := s.d.Original.FindVerifiedFace(ctx, u.ID, u.PersonID)
	if isNotFound(err) {
		return nil, notEligible
	}
	if err != nil {
		return nil, internal(err)
	}
	return a, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// heldBatch returns the user's order, batch seq and its hold; another
// user's order is not found.
func (s *StepUpService) heldBatch(ctx context.Context, userID int64, orderNo string, seq int) (*Order, *Batch, *Hold, error) {
	o, err := findUserOrder(ctx, s.d.Orders, userID, orderNo, "订单不存在")
	if err != nil {
		return nil, nil, nil, err
	}
	var b *Batch
	for i := range o.Batches {
		if o.Batches[i].Seq == seq {
			b = &o.Batches[i]
		}
	}
	if b == nil {
		return nil, nil, nil, NotFound("批次不存在")
	}
	h, err := s.d.Holds.Find(ctx, b.OutTradeNo)
	if err != nil {
		return nil, nil, nil, err
	}
	return o, b, h, nil
}

// Choice tells the payer of a held batch what they may do. It never fails
// the order view: an error reads as "wait for review".
func (s *StepUpService) Choice(ctx context.Context, o *Order, b *Batch, h *Hold) HoldChoice {
	c := HoldChoice{Choice: HoldChoiceReview, Until: h.ExpiresAt,
		Note: "该笔缴费已暂缓提交（资金安全复核），运营人员将在时限内复核；复核通过后自动提交社保，不通过将原路退回"}
	_, left, e := s.refusal(ctx, o, b, h)
	if e != nil {
		if e.Kind != KindInternal && e.Code != CodeHoldNotOpen {
			c.Note = e.Message
		}
		return c
	}
	c.Choice, c.AttemptsLeft = HoldChoiceStepUp, left
	c.Note = fmt.Sprintf("该笔缴费已暂缓提交（资金安全复核）。您可以在 %s 前完成本人人脸核验，通过后立即提交社保；也可以等待运营人员复核",
		h.ExpiresAt.In(Shanghai).Format("01月02日 15:04"))
	return c
}

// CodeHoldNotOpen is ErrHoldNotOpen's code.
const CodeHoldNotOpen = "hold_not_open"

// StepUpStart is a started step-up: the verify_id for
// wx.requestFacialVerify, which counted attempt this is, and the attempts
// left after it.
type StepUpStart struct {
	FaceStart
	AttemptNo    int
	AttemptsLeft int
}

func (s *StepUpService) audit(ctx context.Context, userID int64, action, outTradeNo string, after any) error {
	b, _ := json.Marshal(after)
	return s.d.Audit.WriteAudit(ctx, AuditEntry{Actor: "user:" + strconv.FormatInt(userID, 10), Action: action, Target: outTradeNo,
		After: string(b), CreatedAt: s.d.Clock.Now()})
}

// Start begins a step-up verification of batch seq of the user's order:
// the identity sent to WeChat is that of the original verification, never
// one the client names. Errors: not_found, hold_not_open,
// stepup_not_allowed, stepup_window_over, stepup_exhausted (429),
// stepup_not_eligible (403), face_locked (429) and WeChat errors.
func (s *StepUpService) Start(ctx context.Context, userID int64, orderNo string, seq int) (*StepUpStart, error) {
	o, b, h, err := s.heldBatch(ctx, userID, orderNo, seq)
	if err != nil {
		return nil, err
	}
	orig, left, e := s.refusal(ctx, o, b, h)
	if e != nil {
		return nil, e
	}
	_, last, err := s.d.Store.CountStepUps(ctx, b.OutTradeNo)
	if err != nil {
		return nil, err
	}
	n := last + 1
	u, err := s.d.Users.FindUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := s.d.Clock.Now()
	// The attempt's number is taken before WeChat is asked: two starts at
	// once cannot both be attempt n.
	sa := &StepUpAttempt{OutTradeNo: b.OutTradeNo, AttemptNo: n, UserID: userID, Status: StepUpPending, CreatedAt: now, UpdatedAt: now}
	if err := s.d.Store.CreateStepUp(ctx, sa); errors.Is(err, ErrDuplicate) {
		return nil, &Error{Kind: KindConflict, Code: CodeConflict, Message: "已有一次人脸核验正在进行，请稍后再试"}
	} else if err != nil {
		return nil, err
	}
	fa, st, err := s.d.Face.begin(ctx, u, orig.Cert, FaceFlowStepUp)
	if err != nil {
		// Not reaching WeChat (or the daily limit) costs no attempt.
		if _, ferr := s.d.Store.FinishStepUp(ctx, sa.ID, StepUpError, 0, now); ferr != nil {
			return nil, ferr
		}
		return nil, err
	}
	if err := s.d.Store.LinkStepUp(ctx, sa.ID, fa.ID, fa.VerifyID); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, userID, "stepup_start", b.OutTradeNo, map[string]any{"attempt_no": n, "hold_rules": h.Rules}); err != nil {
		return nil, err
	}
	return &StepUpStart{FaceStart: *st, AttemptNo: s.d.Config.MaxAttempts - left + 1, AttemptsLeft: left - 1}, nil
}

// StepUpResult is the outcome of a passed step-up: the hold as it stands.
type StepUpResult struct {
	Hold *Hold
	// Released is true when the hold is released (by this pass or, in a
	// race, by operations or the expiry rule); false when operations
	// rejected it meanwhile.
	Released bool
}

// Result asks WeChat for the step-up's result. A pass by the same person as
// the original verification (cert_hash and person compared) releases the
// hold through HoldService.Release; a failure leaves it to operations.
// Repeating a finished step-up returns its outcome again. Errors:
// not_found, stepup_window_over, stepup_mismatch (403), hold_not_open, the
// face_* codes.
func (s *StepUpService) Result(ctx context.Context, userID int64, orderNo string, seq int, verifyID string) (*StepUpResult, error) {
	verifyID = strings.TrimSpace(verifyID)
	if verifyID == "" || len(verifyID) > 256 {
		return nil, Invalid("invalid_verify_id", "缺少核验编号", FieldError{Field: "verify_id", Code: "required", Message: "请提供 verify_id"})
	}
	o, b, h, err := s.heldBatch(ctx, userID, orderNo, seq)
	if err != nil {
		return nil, err
	}
	sa, err := s.d.Store.FindStepUpByVerifyID(ctx, verifyID)
	if isNotFound(err) || (err == nil && (sa.UserID != userID || sa.OutTradeNo != b.OutTradeNo)) {
		return nil, ErrFaceAttemptNotFound
	}
	if err != nil {
		return nil, err
	}
	switch sa.Status {
	case StepUpPassed:
		return s.outcome(ctx, b.OutTradeNo)
	case StepUpFailed:
		return nil, FaceRetError(sa.VerifyRet)
	case StepUpMismatch:
		return nil, stepUpMismatch()
	}
	if h.Status != HoldOpen {
		return s.outcome(ctx, b.OutTradeNo)
	}
	now := s.d.Clock.Now()
	if !now.Before(h.ExpiresAt) {
		return nil, &Error{Kind: KindConflict, Code: CodeStepUpWindowOver, Message: "复核时限已到，系统正在按规则处理这笔资金"}
	}
	u, err := s.d.Users.FindUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	fa, ret, ferr := s.d.Face.queryStepUp(ctx, u, verifyID, sa.FaceAttemptID)
	if fa == nil {
		if ErrorCode(ferr) == CodeFaceExpired {
			if _, err := s.d.Store.FinishStepUp(ctx, sa.ID, StepUpFailed, 0, now); err != nil {
				return nil, err
			}
		}
		return nil, ferr
	}
	if ferr != nil {
		if ret != FaceVerifyOK && faceRetTerminal(ret) {
			if _, err := s.d.Store.FinishStepUp(ctx, sa.ID, StepUpFailed, ret, now); err != nil {
				return nil, err
			}
			if err := s.audit(ctx, userID, "stepup_failed", b.OutTradeNo, map[string]any{"attempt_no": sa.AttemptNo, "verify_ret": ret}); err != nil {
				return nil, err
			}
		}
		return nil, ferr
	}
	// Verified at WeChat: it must be the person of the original verification.
	orig, e := s.original(ctx, o, b.PaidAt)
	if e != nil {
		return nil, e
	}
	if refCertHash(fa.Cert) != refCertHash(orig.Cert) || orig.PersonID != u.PersonID || orig.UserID != userID {
		if _, err := s.d.Store.FinishStepUp(ctx, sa.ID, StepUpMismatch, ret, now); err != nil {
			return nil, err
		}
		if err := s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertStepUpMismatch, Ref: b.OutTradeNo,
			Detail: fmt.Sprintf("step-up attempt %d of user %d verified another identity than the original verification; the hold stays for review", sa.AttemptNo, userID)}); err != nil {
			return nil, err
		}
		if err := s.audit(ctx, userID, "stepup_mismatch", b.OutTradeNo, map[string]any{"attempt_no": sa.AttemptNo}); err != nil {
			return nil, err
		}
		return nil, stepUpMismatch()
	}
	if ok, err := s.d.Store.FinishStepUp(ctx, sa.ID, StepUpPassed, ret, now); err != nil {
		return nil, err
	} else if !ok {
		// Another request finished this attempt first: its outcome stands.
		return s.outcome(ctx, b.OutTradeNo)
	}
	_, rerr := s.d.Holds.Release(ctx, b.OutTradeNo, "stepup:user:"+strconv.FormatInt(userID, 10))
	if rerr != nil && !errors.Is(rerr, ErrHoldNotOpen) {
		return nil, rerr
	}
	res, err := s.outcome(ctx, b.OutTradeNo)
	if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, userID, "stepup_passed", b.OutTradeNo, map[string]any{"attempt_no": sa.AttemptNo,
		"hold_status": res.Hold.Status, "decided_by": res.Hold.DecidedBy, "released_by_this": rerr == nil}); err != nil {
		return nil, err
	}
	return res, nil
}

func stepUpMismatch() *Error {
	return &Error{Kind: KindForbidden, Code: CodeStepUpMismatch, Message: "人脸核验结果与您的实名身份不一致，该笔资金将由运营人员复核"}
}

// outcome reports the hold as it stands after a pass.
func (s *StepUpService) outcome(ctx context.Context, outTradeNo string) (*StepUpResult, error) {
	h, err := s.d.Holds.Find(ctx, outTradeNo)
	if err != nil {
		return nil, err
	}
	if h.Status == HoldOpen {
		// Passed but not released (e.g. the window closed first): the
		// rule at expiry or operations decide.
		return &StepUpResult{Hold: h}, nil
	}
	return &StepUpResult{Hold: h, Released: h.Status == HoldReleased}, nil
}

// queryStepUp asks WeChat for the result of the step-up face attempt id
// (verifyID, of user u) and records it on the attempt. It returns the
// attempt and verify_ret, with the user's error for a failed verification;
// a nil attempt means it could not ask (not found, expired, WeChat down).
func (s *FaceService) queryStepUp(ctx context.Context, u *User, verifyID string, id int64) (*FaceAttempt, int, error) {
	a, err := s.attempts.FindFaceAttemptByVerifyID(ctx, verifyID)
	if isNotFound(err) || (err == nil && (a.ID != id || a.Flow != FaceFlowStepUp || a.UserID != u.ID)) {
		return nil, 0, ErrFaceAttemptNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	if !s.clock.Now().Before(a.ExpiresAt) {
		return nil, 0, &Error{Kind: KindConflict, Code: CodeFaceExpired, Message: "本次人脸核验已过期，请重新发起"}
	}
	ret, err := s.wx.QueryVerifyInfo(ctx, FaceQuery{VerifyID: a.VerifyID, OutSeqNo: a.OutSeqNo, Cert: a.Cert, OpenID: u.OpenID})
	if err != nil {
		return nil, 0, faceUpstream(err)
	}
	return a, ret, s.recordRet(ctx, a, ret)
}
