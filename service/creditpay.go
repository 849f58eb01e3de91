package service

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Credit pay (社保信用付, 先缴后扣): the user confirms a WeChat Pay Score
// service order, we post the contribution to the platform at once through
// the ordinary posting flow, and on the next month's collection day we
// complete the service order with the amount posted; WeChat then collects it
// from the user. docs/credit-pay.md describes the flow and its decisions.

// Funding says how a batch is paid.
type Funding string

// Fundings.
const (
	FundingWeChatPay Funding = ""       // JSAPI payment (wx.requestPayment)
	FundingCredit    Funding = "credit" // a WeChat Pay Score service order, collected next month
)

// Error codes of credit pay.
const (
	CodeCreditChosen      = "credit_pay_chosen"       // 409: the batch is paid by credit, not by wx.requestPayment
	CodeCreditNotOffered  = "credit_pay_not_offered"  // 422: the region does not offer credit pay
	CodeCreditOverLimit   = "credit_pay_over_limit"   // 422: the quote exceeds the region's credit limit
	CodeCreditBackPayment = "credit_pay_back_payment" // 422: back payments need the region's permission
	CodeCreditNotOrder    = "credit_pay_not_credit"   // 409: the order is paid by WeChat Pay
	CodeCreditCreate      = "credit_pay_create_failed"
)

// CreditPayRule is a region's credit pay rule, from its YAML. Every figure
// says whether it is sourced or illustrative.
type CreditPayRule struct {
	Enabled       bool
	EnabledSource Figure
	// LimitFen is the largest quote credit pay covers (one batch).
	LimitFen    Fen
	LimitSource Figure
	// CollectionDay is the day of the month after confirmation on which the
	// service order is completed and WeChat collects (Asia/Shanghai), 1-28.
	CollectionDay       int
	CollectionDaySource Figure
	// BackPayments allows credit for arrears (补缴) of earlier months.
	BackPayments       bool
	BackPaymentsSource Figure
}

// CollectionHour is the Asia/Shanghai hour of the collection day at which
// the collection job completes service orders (illustrative).
const CollectionHour = 9

// CollectionAt returns when a service order confirmed at t is completed:
// CollectionDay of the next Asia/Shanghai month, at CollectionHour.
func (r *CreditPayRule) CollectionAt(t time.Time) time.Time {
	l := t.In(Shanghai)
	first := time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, Shanghai).AddDate(0, 1, 0)
	return time.Date(first.Year(), first.Month(), r.CollectionDay, CollectionHour, 0, 0, 0, Shanghai).UTC()
}

func (r *CreditPayRule) validate() error {
	for _, x := range []struct {
		field string
		f     Figure
	}{{"credit_pay.enabled_source", r.EnabledSource}, {"credit_pay.limit_source", r.LimitSource},
		{"credit_pay.collection_day_source", r.CollectionDaySource}, {"credit_pay.back_payments_source", r.BackPaymentsSource}} {
		if err := validFigure(x.field, x.f); err != nil {
			return err
		}
	}
	if r.LimitFen <= 0 {
		return fmt.Errorf("credit_pay.limit_fen: must be positive")
	}
	if r.CollectionDay < 1 || r.CollectionDay > 28 {
		return fmt.Errorf("credit_pay.collection_day: %d is not 1-28 (every month has it)", r.CollectionDay)
	}
	return nil
}

func (r *CreditPayRule) illustrative() []string {
	var out []string
	for _, x := range []struct {
		path string
		f    Figure
	}{{"credit_pay.enabled", r.EnabledSource}, {"credit_pay.limit", r.LimitSource},
		{"credit_pay.collection_day", r.CollectionDaySource}, {"credit_pay.back_payments", r.BackPaymentsSource}} {
		if x.f.Source == SourceIllustrative {
			out = append(out, x.path)
		}
	}
	return out
}

// CreditState is the state of a credit order.
type CreditState string

// Credit states.
const (
	CreditCreated          CreditState = "created"           // service order created; waiting for the user's confirmation
	CreditConfirmed        CreditState = "confirmed"         // the user confirmed; the batch is posted at once
	CreditPosted           CreditState = "posted"            // posted on credit: the platform booked it; collection scheduled
	CreditCollectionDue    CreditState = "collection_due"    // completed with the actual amount; WeChat is collecting
	CreditCollected        CreditState = "collected"         // WeChat collected the amount
	CreditCollectionFailed CreditState = "collection_failed" // not collected within CollectionGrace; WeChat keeps trying
	CreditCancelled        CreditState = "cancelled"         // cancelled before posting: nothing was or will be collected
)

// CreditOrder is the credit side of one batch: its Pay Score service order.
type CreditOrder struct {
	OutOrderNo string // "CP" + out_trade_no: the service order's out_order_no
	OutTradeNo string // the batch
	OrderNo    string
	UserID     int64
	Region     string
	AmountFen  Fen
	State      CreditState
	// ServiceOrderID is WeChat's order_id of the service order; the batch's
	// TransactionID carries it once confirmed (the platform posting needs a
	// WeChat reference; the collection has its own transaction_id).
	ServiceOrderID string
	ConfirmBy      time.Time // the user must confirm before this
	ConfirmedAt    time.Time
	PostedAt       time.Time
	DueAt          time.Time // the collection moment (CollectionAt)
	CompletedAt    time.Time
	CollectedAt    time.Time
	FailedAt       time.Time
	// TransactionID is the collection's WeChat Pay transaction_id.
	TransactionID string
	CancelReason  string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// CreditOutOrderNo returns the out_order_no of a batch's service order.
func CreditOutOrderNo(outTradeNo string) string { return "CP" + outTradeNo }

// CreditStore persists credit orders. UpdateCredit writes the row with a
// condition on its previous state (ErrStale when another writer won) and
// writes fx (timeline, outbox, alerts, raw event) in the same transaction.
type CreditStore interface {
	// CreateCredit inserts c with fx; ErrDuplicate when the batch has one.
	CreateCredit(ctx context.Context, c *CreditOrder, fx *Effects) error
	// FindCredit returns ErrNotFound when there is none.
	FindCredit(ctx context.Context, outOrderNo string) (*CreditOrder, error)
	// FindCreditByOrder returns the credit order of an order's batch 1, or
	// ErrNotFound.
	FindCreditByOrder(ctx context.Context, orderNo string) (*CreditOrder, error)
	// UpdateCredit locks the row, calls fn (ErrNoChange: write nothing but
	// fx's alerts and raw event) and persists it.
	UpdateCredit(ctx context.Context, outOrderNo string, fn func(c *CreditOrder, fx *Effects) error) (*CreditOrder, error)
	// FindCollectedBetween lists credit orders collected in [from, to).
	FindCollectedBetween(ctx context.Context, from, to time.Time) ([]CreditOrder, error)
}

// Pay Score service order states and collection states (WeChat's words).
const (
	ServiceCreated     = "CREATED"
	ServiceDoing       = "DOING"
	ServiceDone        = "DONE"
	ServiceRevoked     = "REVOKED"
	ServiceExpired     = "EXPIRED"
	ServiceMchComplete = "MCH_COMPLETE" // state_description once the merchant completed
	CollectionPaying   = "USER_PAYING"
	CollectionPaid     = "USER_PAID"
)

// Pay Score notification event types.
const (
	EventPayScoreConfirm = "PAYSCORE.USER_CONFIRM"
	EventPayScorePaid    = "PAYSCORE.USER_PAID"
)

// ErrServiceOrderNotFound means WeChat knows no service order with that
// out_order_no. It is a definite answer only about the past: a create call
// whose answer was lost may still arrive.
var ErrServiceOrderNotFound = errors.New("pay score service order not found")

// ServiceOrderRequest creates a service order in confirm mode.
type ServiceOrderRequest struct {
	OutOrderNo   string
	Introduction string // service_introduction, ≤ 20 characters
	ItemName     string // the post_payments item
	AmountFen    Fen    // risk_fund (ESTIMATE_ORDER_COST) and the item's amount
	OpenID       string
	StartAt      time.Time
}

// ServiceOrder is a Pay Score service order as WeChat reports it.
type ServiceOrder struct {
	AppID            string
	MchID            string
	ServiceID        string
	OutOrderNo       string
	OrderID          string
	State            string
	StateDescription string
	RiskFundFen      Fen
	TotalFen         Fen // total_amount, set once completed
	Package          string
	OpenID           string
	Collection       ServiceCollection
}

// Completed reports whether the merchant completed the order.
func (o ServiceOrder) Completed() bool {
	return o.State == ServiceDone || (o.State == ServiceDoing && o.StateDescription == ServiceMchComplete)
}

// ServiceCollection is the collection block of a service order.
type ServiceCollection struct {
	State         string // USER_PAYING, USER_PAID
	PaidFen       Fen
	TransactionID string
	PaidAt        time.Time
}

// CreditConfirm are the wx.openBusinessView parameters that open the Pay
// Score confirmation page in the mini-program.
type CreditConfirm struct {
	BusinessType string            `json:"business_type"` // wxpayScoreUse
	ExtraData    map[string]string `json:"extra_data"`    // mch_id, package, timestamp, nonce_str, sign_type, sign
}

// PayScore is WeChat Pay Score as credit pay needs it; wxpay/payscore
// implements it. Errors that are not ErrServiceOrderNotFound mean the
// outcome is unknown (timeouts, 5xx, unsigned answers) or a refusal
// (*GatewayError); neither is ever taken as "did not happen".
type PayScore interface {
	CreateServiceOrder(ctx context.Context, r ServiceOrderRequest) (ServiceOrder, error)
	QueryServiceOrder(ctx context.Context, outOrderNo string) (ServiceOrder, error)
	CompleteServiceOrder(ctx context.Context, outOrderNo string, amount Fen, itemName string, end time.Time) (ServiceOrder, error)
	CancelServiceOrder(ctx context.Context, outOrderNo, reason string) error
	ConfirmParams(pkg string) (CreditConfirm, error)
}

// PayScoreEvent is a verified, decrypted PAYSCORE.* notification; it is
// one of the sealed PayEvents (notify.go).
type PayScoreEvent struct {
	EventID   string
	EventType string
	Order     ServiceOrder
	Plaintext []byte
}

func (PayScoreEvent) payEvent() {}

// Credit pay outbox job and alert kinds.
const (
	JobCreditOrder = "credit_order" // drives one credit order (Ref = out_order_no)

	AlertCreditOutcomeUnknown   = "credit_outcome_unknown"   // a Pay Score call's outcome is unknown; asked again
	AlertCreditCollectionFailed = "credit_collection_failed" // WeChat has not collected within the grace period
	AlertCreditMismatch         = "credit_mismatch"          // a Pay Score answer or notification disagrees with ours
	AlertCreditReverseManual    = "credit_reverse_manual"    // a collected credit batch must be refunded; operations act
)

// Credit pay timing.
const (
	// ConfirmWindow is how long the user has to confirm (the package is
	// valid one hour).
	ConfirmWindow = time.Hour
	// CollectionGrace is how long after completion WeChat may take to
	// collect before the user and operations are told (illustrative).
	CollectionGrace = 24 * time.Hour
	// CollectionPoll is how often an uncollected order is queried.
	CollectionPoll = 6 * time.Hour
	// CreditPostingPoll is how often a confirmed order looks at its posting.
	CreditPostingPoll = 10 * time.Minute
	// CreditUnknownRetry is the wait after an unknown outcome.
	CreditUnknownRetry = 5 * time.Minute
)
