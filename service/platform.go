package service

import (
	"context"
	"errors"
	"time"
)

// Platform is a provincial social-security platform. There is no public
// national API, so platform/ defines one protocol (docs/platform-protocol.md)
// and implements this interface over it.
//
// Errors: a *PlatformRejection is permanent (do not retry); any other error is
// transient (timeouts, 5xx, the platform being down).
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

// InsuranceStatus is the standing of one insurance.
type InsuranceStatus struct {
	Insurance   string // pension | medical
	Status      string // active | suspended | not_insured
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
}

// Posting outcomes.
const (
	PostingAccepted = "accepted" // booked; receipt attached
	PostingPending  = "pending"  // received; the result comes by callback
	PostingRejected = "rejected" // refused for good (see Reason)
)

// PostingResult is the platform's answer to a posting.
type PostingResult struct {
	Status    string
	Reference string // platform reference number (受理编号)
	Reason    string
	Receipt   *PostingReceipt
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

// IsPermanent reports whether err is a permanent platform rejection.
func IsPermanent(err error) bool {
	var r *PlatformRejection
	return errors.As(err, &r)
}
