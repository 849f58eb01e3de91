package service

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Platform is a provincial social-security platform. There is no public
// national API, so platform/ defines one protocol (docs/platform-protocol.md)
// and implements this interface over it.
//
// Errors: a *PlatformRejection is a definite business "no" (a 422, or a
// 404 posting_not_found/check_not_found); a *PlatformConfigError is a
// configuration fault on our side (400, 401, 403, 409): never a "no", the
// money is kept and operations are alerted; any other error is transient
// (timeouts, 5xx, unsigned or stale answers): the outcome is unknown.
type Platform interface {
	// FindProfile returns the insured status of a person in a region.
	FindProfile(ctx context.Context, region string, p PersonRef) (InsuredProfile, error)
	// AssessBase returns the platform-assessed contribution base, for regions
	// whose base mode is "assessed".
	AssessBase(ctx context.Context, region string, p PersonRef) (Fen, error)
	// StartIdentityCheck starts an alternative identity check (SMS code,
	// e-card password, national platform token) and returns a check id.
	StartIdentityCheck(ctx context.Context, region string, c IdentityCheck) (string, error)
	// FinishIdentityCheck submits the secret (code, password, token) and says
	// whether the person is who they claim.
	FinishIdentityCheck(ctx context.Context, region, checkID, secret string) (bool, error)
	// PostPayment books a paid batch. The same IdempotencyKey never books twice.
	PostPayment(ctx context.Context, p Posting) (PostingResult, error)
	// QueryPosting reads the result of an earlier posting by idempotency key.
	QueryPosting(ctx context.Context, region, idempotencyKey string) (PostingResult, error)
	// VoidPosting asks the platform never to book idempotencyKey. The
	// answer is a result with status voided (the key will never be booked;
	// a reserved mutual-aid amount is restored), or the posting as it
	// stands (accepted with its receipt, or pending).
	VoidPosting(ctx context.Context, region, idempotencyKey string) (PostingResult, error)
}

// Identity check methods offered by regions besides WeChat face verification.
const (
	IdentityFace     = "face"           // WeChat face verification 2.0
	IdentitySMS      = "sms"            // SMS code to the phone on record
	IdentityCardPwd  = "ecard_password" // e-social-security-card password
	IdentityNational = "national"       // national platform (国家社会保险公共服务平台) token
)

// IdentityCheck asks a platform to check who a person is.
type IdentityCheck struct {
	Method string
	Person PersonRef
	Phone  string
}

// InsuredProfile is a person's standing in a region.
type InsuredProfile struct {
	Region       string
	Insurances   []InsuranceStatus
	Arrears      []ArrearsMonth
	CurrentDue   Fen
	CurrentMonth string // YYYY-MM
	// MutualAidBalanceFen is what the family mutual-aid account (家庭共济)
	// can offset, in regions that allow it.
	MutualAidBalanceFen Fen
}

// InsuredStatus is the standing the platform reports for one insurance.
type InsuredStatus string

// Insurance standings.
const (
	InsuredActive     InsuredStatus = "active"
	InsuredSuspended  InsuredStatus = "suspended"
	InsuredNotInsured InsuredStatus = "not_insured"
)

// InsuranceStatus is the standing of one insurance.
type InsuranceStatus struct {
	Insurance   string // pension | medical
	Status      InsuredStatus
	PaidThrough string // YYYY-MM, empty when never paid
	BaseFen     Fen
}

// ArrearsMonth is an unpaid month.
type ArrearsMonth struct {
	Insurance string
	Month     string
	BaseFen   Fen
	RateBP    int64 // the rate the platform applied that month
	AmountFen Fen
}

// Posting is a paid batch sent to the provincial platform.
type Posting struct {
	IdempotencyKey string // stable per batch: the out_trade_no
	Region         string
	OrderNo        string
	BatchSeq       int
	OutTradeNo     string
	TransactionID  string
	AmountFen      Fen
	Person         PersonRef
	Lines          []QuoteLine
	PaidAt         time.Time
	// MutualAidFen is drawn from the family mutual-aid account (家庭共济)
	// of MutualAidAccount: AmountFen + MutualAidFen = the sum of the lines.
	MutualAidFen     Fen
	MutualAidAccount PersonRef
}

// PostingStatus is the platform's answer to a posting, and what we know of
// a batch's posting (PostingRecord.Status).
type PostingStatus string

// Posting outcomes.
const (
	PostingNone     PostingStatus = ""         // never sent, or the platform lost it
	PostingAccepted PostingStatus = "accepted" // booked; receipt attached
	PostingPending  PostingStatus = "pending"  // received; the result comes by callback
	PostingRejected PostingStatus = "rejected" // refused for good (see Reason)
	PostingVoided   PostingStatus = "voided"   // VoidPosting: the key will never be booked
)

// Final reports whether the platform decided the posting for good: a final
// status is never replaced by pending or none.
func (s PostingStatus) Final() bool {
	return s == PostingAccepted || s == PostingRejected || s == PostingVoided
}

// PostingResult is the platform's answer to a posting.
type PostingResult struct {
	Status    PostingStatus
	Reference string // platform reference number (受理编号)
	Reason    string
	Receipt   *PostingReceipt
	// MutualAidFen is the mutual-aid deduction the platform confirms for an
	// accepted (or pending) posting.
	MutualAidFen Fen
}

// PostingReceipt is what the platform issues on acceptance.
type PostingReceipt struct {
	AcceptanceNo string // 受理回执编号
	AcceptedAt   time.Time
	Fiscal       FiscalReceipt
}

// FiscalReceipt is the fiscal e-receipt (财政电子票据).
type FiscalReceipt struct {
	Code      string // 票据代码
	Number    string // 票据号码
	CheckCode string // 校验码
	IssuedOn  string // 开票日期 YYYY-MM-DD
	AmountFen Fen
}

// PlatformRejection is a permanent refusal by the platform.
type PlatformRejection struct {
	Code   string // e.g. not_insured
	Reason string
}

func (e *PlatformRejection) Error() string { return "platform rejected: " + e.Code + ": " + e.Reason }

// PlatformConfigError is a signed 400, 401, 403 or 409 answer: our request,
// credentials or region grant are wrong, or (409 idempotency_conflict) a
// booking may exist under the key. It is never a rejection: no money moves
// on it; operations are alerted and the call is retried after they act.
type PlatformConfigError struct {
	Status int
	Code   string
	Reason string
}

func (e *PlatformConfigError) Error() string {
	return fmt.Sprintf("platform configuration fault: %d %s: %s", e.Status, e.Code, e.Reason)
}

// IsConfigFault reports whether err is a platform configuration fault.
func IsConfigFault(err error) bool {
	var c *PlatformConfigError
	return errors.As(err, &c)
}

// IsPermanent reports whether err is a permanent platform rejection.
func IsPermanent(err error) bool {
	var r *PlatformRejection
	return errors.As(err, &r)
}
