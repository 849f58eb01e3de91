package platform

import (
	"fmt"
	"time"

	"github.com/shebao/sipay/service"
)

// The types below are the JSON bodies of docs/platform-protocol.md. They are
// exported so the simulator (sim/provsim) speaks exactly the same shapes.
// Amounts are integer fen; months are YYYY-MM; instants are RFC 3339.

// WirePerson identifies a person.
type WirePerson struct {
	Name     string `json:"name"`
	IDType   string `json:"id_type"`
	IDNumber string `json:"id_number"`
}

// WirePersonRequest is the body of profile and base-assessment requests.
type WirePersonRequest struct {
	Region string     `json:"region"`
	Person WirePerson `json:"person"`
}

// WireInsurance is one insurance in a profile.
type WireInsurance struct {
	Insurance   string `json:"insurance"`
	Status      string `json:"status"`
	PaidThrough string `json:"paid_through"`
	BaseFen     int64  `json:"base_fen"`
}

// WireArrears is one unpaid month in a profile.
type WireArrears struct {
	Insurance string `json:"insurance"`
	Month     string `json:"month"`
	BaseFen   int64  `json:"base_fen"`
	RateBP    int64  `json:"rate_bp"` // the rate in force that month, by the region's rules
	AmountFen int64  `json:"amount_fen"`
}

// WireProfile is the profile response.
type WireProfile struct {
	Region              string          `json:"region"`
	CurrentMonth        string          `json:"current_month"`
	CurrentDueFen       int64           `json:"current_due_fen"`
	MutualAidBalanceFen int64           `json:"mutual_aid_balance_fen"`
	Insurances          []WireInsurance `json:"insurances"`
	Arrears             []WireArrears   `json:"arrears"`
}

// WireBaseAssessment is the base-assessment response.
type WireBaseAssessment struct {
	Region  string `json:"region"`
	BaseFen int64  `json:"base_fen"`
	Year    int    `json:"year"`
}

// WireIdentityStart is the body that starts an identity check.
type WireIdentityStart struct {
	Region string     `json:"region"`
	Method string     `json:"method"`
	Person WirePerson `json:"person"`
	Phone  string     `json:"phone,omitempty"`
}

// WireIdentityStarted is the answer to WireIdentityStart.
type WireIdentityStarted struct {
	CheckID   string `json:"check_id"`
	Method    string `json:"method"`
	ExpiresAt string `json:"expires_at"`
}

// WireIdentityFinish submits the secret of a check.
type WireIdentityFinish struct {
	Region string `json:"region"`
	Secret string `json:"secret"`
}

// WireIdentityFinished is the answer to WireIdentityFinish.
type WireIdentityFinished struct {
	CheckID string `json:"check_id"`
	Passed  bool   `json:"passed"`
	// AttemptsLeft is how many wrong secrets the check still tolerates.
	AttemptsLeft int `json:"attempts_left"`
}

// WireLine is one insurance-month of a posting.
type WireLine struct {
	Insurance string `json:"insurance"`
	Month     string `json:"month"`
	Arrears   bool   `json:"arrears"`
	BaseFen   int64  `json:"base_fen"`
	RateBP    int64  `json:"rate_bp"`
	AmountFen int64  `json:"amount_fen"`
}

// WirePosting is the body of POST /si/v1/postings. The idempotency key
// travels in the Idempotency-Key header and is repeated here.
type WirePosting struct {
	IdempotencyKey string     `json:"idempotency_key"`
	Region         string     `json:"region"`
	OrderNo        string     `json:"order_no"`
	BatchSeq       int        `json:"batch_seq"`
	OutTradeNo     string     `json:"out_trade_no"`
	TransactionID  string     `json:"transaction_id"`
	AmountFen      int64      `json:"amount_fen"`
	PaidAt         string     `json:"paid_at"`
	Person         WirePerson `json:"person"`
	Lines          []WireLine `json:"lines"`
	// MutualAidFen is drawn from the family mutual-aid account (家庭共济) of
	// MutualAidAccount; amount_fen + mutual_aid_fen = the sum of the lines.
	// Both are omitted when nothing is drawn.
	MutualAidFen     int64       `json:"mutual_aid_fen,omitempty"`
	MutualAidAccount *WirePerson `json:"mutual_aid_account,omitempty"`
}

// WireVoid is the body of POST /si/v1/postings/{key}/void.
type WireVoid struct {
	Region         string `json:"region"`
	IdempotencyKey string `json:"idempotency_key"`
}

// WireFiscal is the fiscal e-receipt (财政电子票据).
type WireFiscal struct {
	Code      string `json:"code"`       // 票据代码
	Number    string `json:"number"`     // 票据号码
	CheckCode string `json:"check_code"` // 校验码
	IssuedOn  string `json:"issued_on"`  // 开票日期 YYYY-MM-DD
	AmountFen int64  `json:"amount_fen"`
}

// WireReceipt is what an accepted posting carries.
type WireReceipt struct {
	AcceptanceNo string     `json:"acceptance_no"` // 受理回执编号
	AcceptedAt   string     `json:"accepted_at"`
	Fiscal       WireFiscal `json:"fiscal"`
}

// WirePostingResult is the answer to a posting and to a posting query.
type WirePostingResult struct {
	IdempotencyKey string       `json:"idempotency_key"`
	Status         string       `json:"status"` // accepted | pending | rejected | voided
	Reference      string       `json:"reference"`
	Code           string       `json:"code,omitempty"` // rejection code when status is rejected
	Reason         string       `json:"reason,omitempty"`
	Receipt        *WireReceipt `json:"receipt,omitempty"`
	// MutualAidFen confirms the mutual-aid deduction of an accepted or
	// pending posting (0 when none was drawn).
	MutualAidFen int64 `json:"mutual_aid_fen,omitempty"`
}

// WireError is the error body of the protocol.
type WireError struct {
	Error WireErrorBody `json:"error"`
}

// WireErrorBody is the inside of WireError.
type WireErrorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// WireEvent is the body of a callback from the platform.
type WireEvent struct {
	EventID    string        `json:"event_id"`
	Type       string        `json:"type"`
	Region     string        `json:"region"`
	OccurredAt string        `json:"occurred_at"`
	Data       WireEventData `json:"data"`
}

// WireEventData carries the fields of every event type; each type uses a
// subset (see the protocol).
type WireEventData struct {
	// identity_check.completed
	CheckID string `json:"check_id,omitempty"`
	Passed  *bool  `json:"passed,omitempty"`
	// posting.accepted / posting.rejected
	IdempotencyKey string       `json:"idempotency_key,omitempty"`
	Status         string       `json:"status,omitempty"`
	Reference      string       `json:"reference,omitempty"`
	Reason         string       `json:"reason,omitempty"`
	Receipt        *WireReceipt `json:"receipt,omitempty"`
	MutualAidFen   int64        `json:"mutual_aid_fen,omitempty"`
}

// ToWirePerson converts a person reference.
func ToWirePerson(p service.PersonRef) WirePerson {
	return WirePerson{Name: p.Name, IDType: string(p.IDType), IDNumber: p.IDNumber}
}

// ToWirePosting converts a posting. The output is deterministic, so a resend
// of the same posting has the same body.
func ToWirePosting(p service.Posting) WirePosting {
	lines := make([]WireLine, len(p.Lines))
	for i, l := range p.Lines {
		lines[i] = WireLine{Insurance: l.Insurance, Month: l.Month, Arrears: l.Arrears,
			BaseFen: int64(l.BaseFen), RateBP: l.RateBP, AmountFen: int64(l.AmountFen)}
	}
	w := WirePosting{
		IdempotencyKey: p.IdempotencyKey,
		Region:         p.Region,
		OrderNo:        p.OrderNo,
		BatchSeq:       p.BatchSeq,
		OutTradeNo:     p.OutTradeNo,
		TransactionID:  p.TransactionID,
		AmountFen:      int64(p.AmountFen),
		PaidAt:         p.PaidAt.UTC().Format(time.RFC3339),
		Person:         ToWirePerson(p.Person),
		Lines:          lines,
	}
	if p.MutualAidFen > 0 {
		w.MutualAidFen = int64(p.MutualAidFen)
		acc := ToWirePerson(p.MutualAidAccount)
		w.MutualAidAccount = &acc
	}
	return w
}

func toProfile(w WireProfile) service.InsuredProfile {
	p := service.InsuredProfile{
		Region:              w.Region,
		CurrentMonth:        w.CurrentMonth,
		CurrentDue:          service.Fen(w.CurrentDueFen),
		MutualAidBalanceFen: service.Fen(w.MutualAidBalanceFen),
	}
	for _, i := range w.Insurances {
		p.Insurances = append(p.Insurances, service.InsuranceStatus{Insurance: i.Insurance, Status: service.InsuredStatus(i.Status),
			PaidThrough: i.PaidThrough, BaseFen: service.Fen(i.BaseFen)})
	}
	for _, a := range w.Arrears {
		p.Arrears = append(p.Arrears, service.ArrearsMonth{Insurance: a.Insurance, Month: a.Month,
			BaseFen: service.Fen(a.BaseFen), RateBP: a.RateBP, AmountFen: service.Fen(a.AmountFen)})
	}
	return p
}

// ToPostingResult converts a posting result, checking its shape: a known
// status, and a complete receipt when accepted.
func ToPostingResult(w WirePostingResult) (service.PostingResult, error) {
	r := service.PostingResult{Status: service.PostingStatus(w.Status), Reference: w.Reference, Reason: w.Reason, MutualAidFen: service.Fen(w.MutualAidFen)}
	if w.MutualAidFen < 0 {
		return r, fmt.Errorf("negative mutual_aid_fen")
	}
	switch r.Status {
	case service.PostingAccepted:
		if w.Receipt == nil {
			return r, fmt.Errorf("accepted posting without receipt")
		}
		rc, err := toReceipt(*w.Receipt)
		if err != nil {
			return r, err
		}
		r.Receipt = &rc
	case service.PostingPending, service.PostingRejected:
	default:
		return r, fmt.Errorf("unknown posting status %q", w.Status)
	}
	return r, nil
}

func toReceipt(w WireReceipt) (service.PostingReceipt, error) {
	at, err := time.Parse(time.RFC3339, w.AcceptedAt)
	if err != nil {
		return service.PostingReceipt{}, fmt.Errorf("receipt accepted_at: %w", err)
	}
	if w.AcceptanceNo == "" || w.Fiscal.Code == "" || w.Fiscal.Number == "" || w.Fiscal.CheckCode == "" {
		return service.PostingReceipt{}, fmt.Errorf("incomplete receipt")
	}
	if _, err := time.Parse(time.DateOnly, w.Fiscal.IssuedOn); err != nil {
		return service.PostingReceipt{}, fmt.Errorf("receipt issued_on: %w", err)
	}
	if w.Fiscal.AmountFen <= 0 {
		return service.PostingReceipt{}, fmt.Errorf("receipt amount must be positive")
	}
	return service.PostingReceipt{
		AcceptanceNo: w.AcceptanceNo,
		AcceptedAt:   at,
		Fiscal: service.FiscalReceipt{Code: w.Fiscal.Code, Number: w.Fiscal.Number, CheckCode: w.Fiscal.CheckCode,
			IssuedOn: w.Fiscal.IssuedOn, AmountFen: service.Fen(w.Fiscal.AmountFen)},
	}, nil
}

// FromPostingResult converts a posting result to its wire form.
func FromPostingResult(key string, r service.PostingResult) WirePostingResult {
	w := WirePostingResult{IdempotencyKey: key, Status: string(r.Status), Reference: r.Reference, Reason: r.Reason, MutualAidFen: int64(r.MutualAidFen)}
	if r.Receipt != nil {
		w.Receipt = &WireReceipt{
			AcceptanceNo: r.Receipt.AcceptanceNo,
			AcceptedAt:   r.Receipt.AcceptedAt.Format(time.RFC3339),
			Fiscal: WireFiscal{Code: r.Receipt.Fiscal.Code, Number: r.Receipt.Fiscal.Number,
				CheckCode: r.Receipt.Fiscal.CheckCode, IssuedOn: r.Receipt.Fiscal.IssuedOn,
				AmountFen: int64(r.Receipt.Fiscal.AmountFen)},
		}
	}
	return w
}
