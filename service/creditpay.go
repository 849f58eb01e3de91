package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// creditTransitions is the one table of allowed credit transitions.
var creditTransitions = map[CreditState][]CreditState{
	CreditCreated:          {CreditConfirmed, CreditCancelled},
	CreditConfirmed:        {CreditPosted, CreditCancelled, CreditCollectionDue},
	CreditPosted:           {CreditCollectionDue, CreditCollected},
	CreditCollectionDue:    {CreditCollected, CreditCollectionFailed},
	CreditCollectionFailed: {CreditCollected},
}

// CanCreditTransition reports whether a credit order may move between states.
func CanCreditTransition(from, to CreditState) bool {
	for _, t := range creditTransitions[from] {
		if t == to {
			return true
		}
	}
	return false
}

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

// PayScoreEvent is a verified, decrypted PAYSCORE.* notification.
type PayScoreEvent struct {
	EventID   string
	EventType string
	Order     ServiceOrder
	Plaintext []byte
}

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

// CreditDeps are the dependencies of a CreditService.
type CreditDeps struct {
	Orders   *OrderService
	Credits  CreditStore
	Outbox   Outbox
	Waker    JobWaker
	PayScore PayScore
	Regions  []Region
	// AppID, MchID and ServiceID are ours; answers and notifications must
	// carry them.
	AppID, MchID, ServiceID string
	Clock                   Clock
	Log                     *slog.Logger
	Owner                   string
	Lease                   time.Duration
}

// CreditService runs credit pay.
type CreditService struct {
	d     CreditDeps
	rules map[string]*CreditPayRule
}

// NewCreditService returns a CreditService; it panics on missing
// dependencies.
func NewCreditService(d CreditDeps) *CreditService {
	if d.Orders == nil || d.Credits == nil || d.Outbox == nil || d.Waker == nil || d.PayScore == nil || d.Clock == nil ||
		d.Owner == "" || d.MchID == "" || d.AppID == "" || d.ServiceID == "" {
		panic("service: NewCreditService: missing dependency")
	}
	if d.Lease <= 0 {
		d.Lease = 2 * time.Minute
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &CreditService{d: d, rules: map[string]*CreditPayRule{}}
	for i := range d.Regions {
		if r := d.Regions[i].CreditPay; r != nil && r.Enabled {
			s.rules[d.Regions[i].Code] = r
		}
	}
	return s
}

// Offers lists the regions offering credit pay, with their rule.
func (s *CreditService) Offers() []CreditOffer {
	var out []CreditOffer
	for _, r := range s.d.Regions {
		if rule, ok := s.rules[r.Code]; ok {
			out = append(out, CreditOffer{Region: r.Code, Name: r.Name, Rule: *rule, Illustrative: rule.illustrative()})
		}
	}
	return out
}

// CreditOffer is one region's credit pay offer.
type CreditOffer struct {
	Region       string
	Name         string
	Rule         CreditPayRule
	Illustrative []string
}

// eligible refuses a quote credit pay cannot cover.
func (s *CreditService) eligible(q *Quote) error {
	rule, ok := s.rules[q.Region]
	if !ok {
		return Errorf(KindUnprocessable, CodeCreditNotOffered, "该地区暂不支持社保信用付")
	}
	if len(q.Batches) != 1 || q.PayableFen > rule.LimitFen {
		return Errorf(KindUnprocessable, CodeCreditOverLimit, "信用付额度为 %s 元，本次应缴 %s 元，请使用微信支付", rule.LimitFen, q.PayableFen)
	}
	if !rule.BackPayments {
		for _, l := range q.Lines {
			if l.Arrears || l.PricedBy == PricedByPlatform {
				return Errorf(KindUnprocessable, CodeCreditBackPayment, "补缴（%s）不支持信用付，请使用微信支付", l.Month)
			}
		}
	}
	return nil
}

// CreditStart is an order paid by credit with its confirmation parameters.
type CreditStart struct {
	Order   *Order
	Credit  *CreditOrder
	Confirm CreditConfirm
}

// Start turns the user's quote into an order paid by credit pay and
// creates its Pay Score service order. A repeat for the same quote resumes
// the order. Errors: the order errors of CreateOrder, credit_pay_not_offered,
// credit_pay_over_limit, credit_pay_back_payment (422), credit_pay_not_credit
// (409: the quote's order is paid by WeChat Pay), credit_pay_create_failed
// (503: the order exists; retry).
func (s *CreditService) Start(ctx context.Context, userID int64, quoteID string) (*CreditStart, error) {
	o, err := s.d.Orders.placeOrder(ctx, userID, quoteID, FundingCredit, s.eligible)
	if ErrorCode(err) == CodeQuoteAlreadyOrdered {
		prev, ferr := s.d.Orders.store.FindOrderByQuote(ctx, quoteID)
		if ferr != nil || prev.UserID != userID {
			return nil, err
		}
		return s.Resume(ctx, userID, prev.No)
	}
	if err != nil {
		return nil, err
	}
	return s.resume(ctx, o)
}

// Resume returns fresh confirmation parameters for the user's credit order
// while it waits for confirmation (the create call is re-entrant).
// Errors: not_found, credit_pay_not_credit, batch_already_paid (confirmed).
func (s *CreditService) Resume(ctx context.Context, userID int64, orderNo string) (*CreditStart, error) {
	o, err := s.d.Orders.ownOrder(ctx, userID, orderNo)
	if err != nil {
		return nil, err
	}
	return s.resume(ctx, o)
}

func (s *CreditService) resume(ctx context.Context, o *Order) (*CreditStart, error) {
	b := batchOf(o, 1)
	if b == nil || b.Funding != FundingCredit {
		return nil, Errorf(KindConflict, CodeCreditNotOrder, "订单 %s 使用微信支付付款，不是信用付订单", o.No)
	}
	switch b.Status {
	case StatusPendingPayment:
	case StatusClosed:
		return nil, Errorf(KindConflict, CodeBatchClosed, "订单已关闭，请重新获取报价")
	default:
		return nil, Errorf(KindConflict, CodeBatchPaid, "已确认信用付，无需再次确认")
	}
	now := s.d.Clock.Now()
	c, err := s.d.Credits.FindCreditByOrder(ctx, o.No)
	if isNotFound(err) {
		c = &CreditOrder{OutOrderNo: CreditOutOrderNo(b.OutTradeNo), OutTradeNo: b.OutTradeNo, OrderNo: o.No, UserID: o.UserID,
			Region: o.Region, AmountFen: b.AmountFen, State: CreditCreated, ConfirmBy: now.Add(ConfirmWindow).Truncate(time.Second)}
		var fx Effects
		fx.Event(b.Seq, "credit_created", fmt.Sprintf("选择社保信用付：确认后先缴费，%s 元将于次月扣款日由微信支付分扣款", b.AmountFen))
		// The job looks at the order when the confirmation window ends
		// (and cancels it if nobody confirmed).
		fx.Outbox = append(fx.Outbox, OutboxJob{Kind: JobCreditOrder, Ref: c.OutOrderNo, NextAttemptAt: c.ConfirmBy})
		err = s.d.Credits.CreateCredit(ctx, c, &fx)
		if errors.Is(err, ErrDuplicate) {
			c, err = s.d.Credits.FindCreditByOrder(ctx, o.No)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("credit start: %w", err)
	}
	if c.State != CreditCreated {
		return nil, Errorf(KindConflict, CodeBatchPaid, "已确认信用付，无需再次确认")
	}
	if !now.Before(c.ConfirmBy) {
		return nil, Errorf(KindUnprocessable, CodeBatchExpired, "确认期限已过，请取消订单后重新下单")
	}
	so, err := s.d.PayScore.CreateServiceOrder(ctx, ServiceOrderRequest{OutOrderNo: c.OutOrderNo, Introduction: "社保信用付",
		ItemName: "社保缴费", AmountFen: c.AmountFen, OpenID: b.PayerOpenID, StartAt: now})
	if err == nil {
		if why := s.mismatch(so, c); why != "" || so.Package == "" {
			s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, "create answer: "+why)
			err = fmt.Errorf("create answer does not match: %s", why)
		}
	}
	if err != nil {
		s.d.Log.Warn("pay score create failed", "out_order_no", c.OutOrderNo, "err", err)
		return nil, &Error{Kind: KindUnavailable, Code: CodeCreditCreate, RetryAfter: 3 * time.Second, Err: err,
			Message: fmt.Sprintf("订单 %s 已创建，但微信支付分下单暂时失败，请稍后重试", o.No)}
	}
	cp, err := s.d.PayScore.ConfirmParams(so.Package)
	if err != nil {
		return nil, fmt.Errorf("credit start: confirm params: %w", err)
	}
	return &CreditStart{Order: o, Credit: c, Confirm: cp}, nil
}

// mismatch says why a service order cannot be ours, or "".
func (s *CreditService) mismatch(so ServiceOrder, c *CreditOrder) string {
	switch {
	case so.OutOrderNo != c.OutOrderNo:
		return "out_order_no " + so.OutOrderNo
	case so.AppID != "" && so.AppID != s.d.AppID:
		return "appid " + so.AppID
	case so.MchID != "" && so.MchID != s.d.MchID:
		return "mchid " + so.MchID
	case so.ServiceID != "" && so.ServiceID != s.d.ServiceID:
		return "service_id " + so.ServiceID
	case so.RiskFundFen != 0 && so.RiskFundFen != c.AmountFen:
		return fmt.Sprintf("risk_fund %d, ours %d", so.RiskFundFen, c.AmountFen)
	case so.TotalFen != 0 && so.TotalFen != c.AmountFen:
		return fmt.Sprintf("total_amount %d, ours %d", so.TotalFen, c.AmountFen)
	case so.Collection.PaidFen != 0 && so.Collection.PaidFen != c.AmountFen:
		return fmt.Sprintf("collection paid %d, ours %d", so.Collection.PaidFen, c.AmountFen)
	}
	return ""
}

// HandlePayScoreEvent applies a verified PAYSCORE.USER_CONFIRM or
// PAYSCORE.USER_PAID notification. Repeats change nothing. A notification
// for an out_order_no we never issued is alerted and acknowledged; one that
// disagrees with ours is alerted and refused (KindInvalid).
func (s *CreditService) HandlePayScoreEvent(ctx context.Context, ev PayScoreEvent) error {
	so := ev.Order
	raw := &RawEvent{EventID: ev.EventID, Source: "notify", EventType: ev.EventType, OutTradeNo: so.OutOrderNo,
		TransactionID: so.Collection.TransactionID, Body: truncate(string(ev.Plaintext), 4000)}
	c, err := s.d.Credits.FindCredit(ctx, so.OutOrderNo)
	if isNotFound(err) {
		s.alert(ctx, AlertCreditMismatch, so.OutOrderNo, "notification for an out_order_no we never issued: "+truncate(raw.Body, 1500))
		return nil
	}
	if err != nil {
		return err
	}
	if why := s.mismatch(so, c); why != "" {
		s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, ev.EventType+": "+why)
		return Invalid(CodeNotifyMismatch, "pay score notification does not match: "+why)
	}
	switch ev.EventType {
	case EventPayScoreConfirm:
		return s.confirm(ctx, c, so, raw)
	case EventPayScorePaid:
		if so.Collection.State != CollectionPaid {
			s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, "USER_PAID with collection state "+so.Collection.State)
			return Invalid(CodeNotifyMismatch, "USER_PAID without a paid collection")
		}
		return s.collected(ctx, c, so, raw)
	}
	return Invalid(CodeNotifyMismatch, "unknown pay score event "+ev.EventType)
}

// confirm applies the user's confirmation: the batch becomes paid on
// credit (posting queued in the same transaction), then the credit order
// confirmed. When the batch was closed meanwhile (cancelled, expired), the
// job cancels the service order instead.
func (s *CreditService) confirm(ctx context.Context, c *CreditOrder, so ServiceOrder, raw *RawEvent) error {
	rule := s.rules[c.Region]
	now := s.d.Clock.Now().UTC().Truncate(time.Second)
	closed := false
	_, err := updateBatch(ctx, s.d.Orders.store, c.OutTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		fx.Raw = raw
		switch {
		case b.Funding != FundingCredit:
			fx.Alerts = append(fx.Alerts, Alert{Kind: AlertCreditMismatch, Ref: c.OutOrderNo, Detail: "confirmation for a batch paid by WeChat Pay"})
			return ErrNoChange
		case b.Status == StatusClosed:
			closed = true
			return ErrNoChange
		case b.Status != StatusPendingPayment:
			return ErrNoChange // a repeat
		}
		b.Status, b.PaidAt, b.TransactionID = StatusPaid, now, so.OrderID
		due := ""
		if rule != nil {
			due = rule.CollectionAt(now).In(Shanghai).Format("2006-01-02")
		}
		fx.Event(b.Seq, "paid", fmt.Sprintf("第 %d 笔已通过微信支付分确认信用付 %s 元（支付分订单号 %s），先行缴费，将于 %s 扣款", b.Seq, b.AmountFen, so.OrderID, due))
		fx.Outbox = append(fx.Outbox, OutboxJob{Kind: JobPostBatch, Ref: b.OutTradeNo, DeadlineAt: now.Add(PostDeadline)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("credit confirm %s: %w", c.OutOrderNo, err)
	}
	if closed {
		return s.d.Waker.WakeJob(ctx, JobCreditOrder, c.OutOrderNo)
	}
	return s.markConfirmed(ctx, c.OutOrderNo, so.OrderID, now)
}

// markConfirmed moves a created credit order to confirmed once its batch is
// paid on credit. Repeats change nothing.
func (s *CreditService) markConfirmed(ctx context.Context, outOrderNo, orderID string, at time.Time) error {
	changed := false
	_, err := s.update(ctx, outOrderNo, func(c *CreditOrder, fx *Effects) error {
		changed = false
		if c.State != CreditCreated {
			return ErrNoChange
		}
		changed = true
		rule := s.rules[c.Region]
		if rule == nil {
			return fmt.Errorf("region %s offers no credit pay any more", c.Region)
		}
		c.State, c.ConfirmedAt, c.DueAt = CreditConfirmed, at, rule.CollectionAt(at)
		if orderID != "" {
			c.ServiceOrderID = orderID
		}
		return nil
	})
	if err != nil || !changed {
		return err
	}
	// The job now watches the posting.
	return s.d.Waker.WakeJob(ctx, JobCreditOrder, outOrderNo)
}

// collected records WeChat's collection (notification or query). It never
// touches the batch: the posting stands whatever the collection does.
func (s *CreditService) collected(ctx context.Context, c *CreditOrder, so ServiceOrder, raw *RawEvent) error {
	at := so.Collection.PaidAt
	if at.IsZero() {
		at = s.d.Clock.Now()
	}
	_, err := s.update(ctx, c.OutOrderNo, func(c *CreditOrder, fx *Effects) error {
		fx.Raw = raw
		switch c.State {
		case CreditCollected:
			return ErrNoChange
		case CreditPosted, CreditCollectionDue, CreditCollectionFailed:
		default:
			fx.Alerts = append(fx.Alerts, Alert{Kind: AlertCreditMismatch, Ref: c.OutOrderNo,
				Detail: "WeChat reports a collection for a credit order in state " + string(c.State)})
			return ErrNoChange
		}
		if c.CompletedAt.IsZero() {
			c.CompletedAt = at.UTC()
		}
		c.State, c.CollectedAt, c.TransactionID = CreditCollected, at.UTC(), so.Collection.TransactionID
		fx.Event(1, "credit_collected", fmt.Sprintf("信用付已扣款 %s 元（微信支付单号 %s）", c.AmountFen, so.Collection.TransactionID))
		return nil
	})
	return err
}

// update runs UpdateCredit and repeats it when a concurrent writer won.
func (s *CreditService) update(ctx context.Context, outOrderNo string, fn func(c *CreditOrder, fx *Effects) error) (*CreditOrder, error) {
	for attempt := 0; ; attempt++ {
		c, err := s.d.Credits.UpdateCredit(ctx, outOrderNo, fn)
		if errors.Is(err, ErrStale) && attempt < 4 {
			continue
		}
		return c, err
	}
}

func (s *CreditService) alert(ctx context.Context, kind, ref, detail string) {
	if err := s.d.Orders.store.RecordAlert(ctx, Alert{Kind: kind, Ref: truncate(ref, 80), Detail: truncate(detail, 2000)}); err != nil {
		s.d.Log.Error("record alert", "kind", kind, "ref", ref, "err", err)
	}
}

// ---- the job -----------------------------------------------------------

// RunOnce claims due credit jobs one at a time and works them; it returns
// how many it claimed.
func (s *CreditService) RunOnce(ctx context.Context) (int, error) {
	n := 0
	for n < 20 {
		jobs, err := s.d.Outbox.Claim(ctx, JobCreditOrder, s.d.Owner, s.d.Lease, 1)
		if err != nil || len(jobs) == 0 {
			return n, err
		}
		n++
		j := jobs[0]
		if err := s.Work(ctx, j); err != nil {
			if errors.Is(err, ErrStale) {
				continue
			}
			s.d.Log.Error("credit job failed", "out_order_no", j.Ref, "err", err)
			s.retry(ctx, j, s.d.Clock.Now().Add(CreditUnknownRetry), ErrorText(err, 400))
		}
	}
	return n, nil
}

func (s *CreditService) retry(ctx context.Context, j OutboxJob, next time.Time, why string) error {
	err := s.d.Outbox.Retry(ctx, j.ID, s.d.Owner, next, why)
	if errors.Is(err, ErrStale) {
		return nil
	}
	return err
}

func (s *CreditService) complete(ctx context.Context, j OutboxJob) error {
	err := s.d.Outbox.Complete(ctx, j.ID, s.d.Owner)
	if errors.Is(err, ErrStale) {
		return nil
	}
	return err
}

// Work advances one credit order and reschedules or completes its job.
func (s *CreditService) Work(ctx context.Context, j OutboxJob) error {
	c, err := s.d.Credits.FindCredit(ctx, j.Ref)
	if isNotFound(err) {
		return s.complete(ctx, j)
	}
	if err != nil {
		return err
	}
	_, b, err := findBatch(ctx, s.d.Orders.store, c.OutTradeNo)
	if err != nil {
		return err
	}
	now := s.d.Clock.Now()
	switch c.State {
	case CreditCreated:
		return s.whileCreated(ctx, j, c, b, now)
	case CreditConfirmed:
		switch b.Status {
		case StatusPosted:
			_, err := s.update(ctx, c.OutOrderNo, func(c *CreditOrder, fx *Effects) error {
				if c.State != CreditConfirmed {
					return ErrNoChange
				}
				c.State, c.PostedAt = CreditPosted, now
				fx.Event(1, "credit_posted", fmt.Sprintf("信用付缴费已记入社保；%s 元将于 %s 由微信支付分扣款",
					c.AmountFen, c.DueAt.In(Shanghai).Format("2006-01-02")))
				return nil
			})
			if err != nil {
				return err
			}
			return s.retry(ctx, j, c.DueAt, "collection scheduled")
		case StatusRefunding, StatusRefunded:
			// The posting was refused: the refund job cancels the service
			// order (RefundService.reverseCredit) and this job then ends.
			return s.retry(ctx, j, now.Add(CreditPostingPoll), "posting refused; reversal under way")
		default: // paid, held, posting, confirming
			return s.retry(ctx, j, now.Add(CreditPostingPoll), "waiting for the posting")
		}
	case CreditPosted:
		if now.Before(c.DueAt) {
			return s.retry(ctx, j, c.DueAt, "collection scheduled")
		}
		return s.collect(ctx, j, c, now)
	case CreditCollectionDue, CreditCollectionFailed:
		return s.watchCollection(ctx, j, c, now)
	default: // collected, cancelled
		return s.complete(ctx, j)
	}
}

// whileCreated handles an order waiting for the user's confirmation: a
// closed batch (the user cancelled) or an ended window cancels the service
// order at WeChat; a confirmation whose notification was lost is applied.
func (s *CreditService) whileCreated(ctx context.Context, j OutboxJob, c *CreditOrder, b *Batch, now time.Time) error {
	if b.Status != StatusPendingPayment && b.Status != StatusClosed {
		// The batch is paid on credit but the credit row was not moved on
		// (a crash between the two writes).
		if err := s.markConfirmed(ctx, c.OutOrderNo, b.TransactionID, b.PaidAt); err != nil {
			return err
		}
		return s.retry(ctx, j, now, "confirmed")
	}
	if b.Status == StatusPendingPayment && now.Before(c.ConfirmBy) {
		return s.retry(ctx, j, c.ConfirmBy, "waiting for confirmation")
	}
	cctx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
	if err != nil {
		return err
	}
	so, qerr := s.d.PayScore.QueryServiceOrder(cctx, c.OutOrderNo)
	cancel()
	switch {
	case errors.Is(qerr, ErrServiceOrderNotFound) && now.After(c.ConfirmBy.Add(ExpireGrace)):
		// Never created at WeChat (our create calls all failed), and the
		// window ended long ago: nobody can confirm it any more.
		return s.cancelled(ctx, j, c, "未创建微信支付分订单")
	case qerr != nil:
		return s.retry(ctx, j, now.Add(CreditUnknownRetry), "query: "+ErrorText(qerr, 300))
	}
	switch so.State {
	case ServiceDoing:
		if b.Status == StatusPendingPayment {
			// The user confirmed and the notification was lost.
			raw := &RawEvent{EventID: "query:" + c.OutOrderNo + ":confirm", Source: "query", EventType: EventPayScoreConfirm, OutTradeNo: c.OutOrderNo}
			if err := s.confirm(ctx, c, so, raw); err != nil {
				return err
			}
			return s.retry(ctx, j, now, "confirmed")
		}
	case ServiceRevoked, ServiceExpired:
		return s.cancelled(ctx, j, c, "微信支付分订单已"+map[string]string{ServiceRevoked: "取消", ServiceExpired: "失效"}[so.State])
	case ServiceCreated:
	default:
		s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, "unexpected state "+so.State+" before confirmation")
		return s.retry(ctx, j, now.Add(time.Hour), "unexpected state "+so.State)
	}
	// CREATED (or DOING for a closed batch): close the batch here first,
	// under the order lock, then cancel at WeChat. A confirmation arriving
	// in between finds the batch closed and posts nothing (and this job
	// cancels the DOING order); one that won the lock keeps the batch, and
	// nothing is cancelled.
	closed, err := s.closeBatch(ctx, c.OutTradeNo, "信用付未确认")
	if err != nil {
		return err
	}
	if !closed {
		return s.retry(ctx, j, now, "confirmed meanwhile")
	}
	cctx, cancel, err = leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
	if err != nil {
		return err
	}
	cerr := s.d.PayScore.CancelServiceOrder(cctx, c.OutOrderNo, "用户未确认或已取消缴费")
	cancel()
	if cerr != nil {
		// Unknown: the next round queries first.
		s.alert(ctx, AlertCreditOutcomeUnknown, c.OutOrderNo, "cancel: "+ErrorText(cerr, 500))
		return s.retry(ctx, j, now.Add(CreditUnknownRetry), "cancel: "+ErrorText(cerr, 300))
	}
	return s.cancelled(ctx, j, c, "用户未确认或已取消缴费")
}

// closeBatch closes the credit batch of a service order about to be
// cancelled, if it is still pending, and reports whether it is closed now
// (false: the confirmation won and the batch is paid on credit).
func (s *CreditService) closeBatch(ctx context.Context, outTradeNo, why string) (bool, error) {
	closed := false
	_, err := updateBatch(ctx, s.d.Orders.store, outTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		closed = b.Status == StatusClosed
		if b.Status != StatusPendingPayment {
			return ErrNoChange
		}
		b.Status, closed = StatusClosed, true
		fx.Event(b.Seq, "closed", fmt.Sprintf("第 %d 笔已关闭：%s", b.Seq, why))
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("close credit batch %s: %w", outTradeNo, err)
	}
	return closed, nil
}

// cancelled records a service order cancelled before posting, with its
// batch closed.
func (s *CreditService) cancelled(ctx context.Context, j OutboxJob, c *CreditOrder, why string) error {
	closed, err := s.closeBatch(ctx, c.OutTradeNo, "信用付未确认："+why)
	if err != nil {
		return err
	}
	if !closed {
		// Paid on credit although WeChat says the order is gone: never
		// cancel the credit of a posting silently.
		s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, "the batch is paid on credit but the service order is "+why)
		return s.retry(ctx, j, s.d.Clock.Now().Add(time.Hour), "batch paid, service order gone")
	}
	if err := s.markCancelled(ctx, c.OutOrderNo, why); err != nil {
		return err
	}
	return s.complete(ctx, j)
}

func (s *CreditService) markCancelled(ctx context.Context, outOrderNo, why string) error {
	_, err := s.update(ctx, outOrderNo, func(c *CreditOrder, fx *Effects) error {
		if c.State == CreditCancelled {
			return ErrNoChange
		}
		if !CanCreditTransition(c.State, CreditCancelled) {
			return fmt.Errorf("credit %s: cannot cancel in state %s", c.OutOrderNo, c.State)
		}
		c.State, c.CancelReason = CreditCancelled, why
		fx.Event(1, "credit_cancelled", "信用付已取消，未向您扣款："+why)
		return nil
	})
	return err
}

// collect completes the service order with the posted amount, once: it
// queries first, so an earlier completion whose answer was lost is found,
// and any error leaves the outcome unknown (alerted, asked again).
func (s *CreditService) collect(ctx context.Context, j OutboxJob, c *CreditOrder, now time.Time) error {
	cctx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
	if err != nil {
		return err
	}
	so, qerr := s.d.PayScore.QueryServiceOrder(cctx, c.OutOrderNo)
	cancel()
	if qerr != nil {
		s.alert(ctx, AlertCreditOutcomeUnknown, c.OutOrderNo, "query before completion: "+ErrorText(qerr, 500))
		return s.retry(ctx, j, now.Add(CreditUnknownRetry), "query: "+ErrorText(qerr, 300))
	}
	if why := s.mismatch(so, c); why != "" {
		s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, "query: "+why)
		return s.retry(ctx, j, now.Add(time.Hour), "mismatch: "+why)
	}
	switch {
	case so.Completed():
		// Completed earlier (an answer lost): record it, never complete twice.
	case so.State == ServiceDoing:
		cctx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
		if err != nil {
			return err
		}
		so, err = s.d.PayScore.CompleteServiceOrder(cctx, c.OutOrderNo, c.AmountFen, "社保缴费", now)
		cancel()
		if err != nil {
			s.alert(ctx, AlertCreditOutcomeUnknown, c.OutOrderNo, "complete: "+ErrorText(err, 500))
			return s.retry(ctx, j, now.Add(CreditUnknownRetry), "complete: "+ErrorText(err, 300))
		}
		if why := s.mismatch(so, c); why != "" || !so.Completed() {
			s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, fmt.Sprintf("complete answer: state %s/%s %s", so.State, so.StateDescription, why))
			return s.retry(ctx, j, now.Add(CreditUnknownRetry), "complete answer mismatch")
		}
	default:
		s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, "service order in state "+so.State+" on the collection day")
		return s.retry(ctx, j, now.Add(time.Hour), "unexpected state "+so.State)
	}
	if _, err := s.update(ctx, c.OutOrderNo, func(c *CreditOrder, fx *Effects) error {
		if c.State != CreditPosted {
			return ErrNoChange
		}
		c.State, c.CompletedAt = CreditCollectionDue, now
		fx.Event(1, "credit_collection_due", fmt.Sprintf("信用付扣款日：已通知微信支付分扣款 %s 元", c.AmountFen))
		return nil
	}); err != nil {
		return err
	}
	if so.Collection.State == CollectionPaid {
		if err := s.collected(ctx, c, so, nil); err != nil {
			return err
		}
		return s.complete(ctx, j)
	}
	return s.retry(ctx, j, now.Add(time.Hour), "collecting")
}

// watchCollection queries an order WeChat is collecting. Not collected
// within CollectionGrace: the user is told and operations alerted, once; the
// posting is never reversed, and WeChat keeps collecting by its own rules.
func (s *CreditService) watchCollection(ctx context.Context, j OutboxJob, c *CreditOrder, now time.Time) error {
	cctx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
	if err != nil {
		return err
	}
	so, qerr := s.d.PayScore.QueryServiceOrder(cctx, c.OutOrderNo)
	cancel()
	if qerr != nil {
		return s.retry(ctx, j, now.Add(30*time.Minute), "query: "+ErrorText(qerr, 300))
	}
	if why := s.mismatch(so, c); why != "" {
		s.alert(ctx, AlertCreditMismatch, c.OutOrderNo, "query: "+why)
		return s.retry(ctx, j, now.Add(time.Hour), "mismatch: "+why)
	}
	if so.Collection.State == CollectionPaid {
		if err := s.collected(ctx, c, so, nil); err != nil {
			return err
		}
		return s.complete(ctx, j)
	}
	if c.State == CreditCollectionDue && !now.Before(c.CompletedAt.Add(CollectionGrace)) {
		if _, err := s.update(ctx, c.OutOrderNo, func(c *CreditOrder, fx *Effects) error {
			if c.State != CreditCollectionDue {
				return ErrNoChange
			}
			c.State, c.FailedAt = CreditCollectionFailed, now
			fx.Event(1, "credit_collection_failed", fmt.Sprintf("信用付扣款 %s 元未成功：微信支付分将按规则继续扣款，请确保微信零钱或绑定银行卡余额充足；已缴社保不受影响", c.AmountFen))
			fx.Alerts = append(fx.Alerts, Alert{Kind: AlertCreditCollectionFailed, Ref: c.OutOrderNo,
				Detail: fmt.Sprintf("order %s: %d fen not collected %s after completion; WeChat keeps collecting; the posting stands", c.OrderNo, c.AmountFen, CollectionGrace)})
			return nil
		}); err != nil {
			return err
		}
	}
	return s.retry(ctx, j, now.Add(CollectionPoll), "collecting")
}

// ---- reversal (the refund flow of a credit batch) ----------------------

// ReverseCredit undoes the credit of a batch whose posting the platform
// refused (the refund flow): the service order is cancelled at WeChat, so
// nothing is collected. done is false while the outcome is unknown, and for
// an order already completed or collected, which operations refund by hand
// (alerted): a collection is never cancelled silently.
func (s *CreditService) ReverseCredit(ctx context.Context, outTradeNo string) (done bool, why string, err error) {
	orderNo, _, ok := SplitOutTradeNo(outTradeNo)
	if !ok {
		return false, "", fmt.Errorf("reverse credit %q: %w", outTradeNo, ErrNotFound)
	}
	c, err := s.d.Credits.FindCreditByOrder(ctx, orderNo)
	if err != nil {
		return false, "", err
	}
	switch c.State {
	case CreditCancelled:
		return true, c.CancelReason, nil
	case CreditCreated, CreditConfirmed, CreditPosted:
	default:
		s.alert(ctx, AlertCreditReverseManual, c.OutOrderNo, fmt.Sprintf("order %s: the posting was refused after the service order was completed (state %s); refund the collection %q by hand", c.OrderNo, c.State, c.TransactionID))
		return false, "completed: operations refund the collection", nil
	}
	cerr := s.d.PayScore.CancelServiceOrder(ctx, c.OutOrderNo, "社保缴费未成功入账")
	if cerr != nil {
		so, qerr := s.d.PayScore.QueryServiceOrder(ctx, c.OutOrderNo)
		if qerr != nil || (so.State != ServiceRevoked && so.State != ServiceExpired) {
			s.alert(ctx, AlertCreditOutcomeUnknown, c.OutOrderNo, "cancel after a refused posting: "+ErrorText(errors.Join(cerr, qerr), 500))
			return false, "cancel outcome unknown", nil
		}
	}
	why = "社保缴费未成功入账，信用付已取消"
	if err := s.markCancelled(ctx, c.OutOrderNo, why); err != nil {
		return false, "", err
	}
	return true, why, nil
}

// CreditReverser undoes the credit of a batch being refunded;
// CreditService implements it.
type CreditReverser interface {
	ReverseCredit(ctx context.Context, outTradeNo string) (done bool, why string, err error)
}

// SetCreditReverser lets the refund flow reverse credit batches.
func (s *RefundService) SetCreditReverser(c CreditReverser) { s.d.Credit = c }

// reverseCredit is the refund job of a credit batch: no money was taken by
// WeChat Pay, so nothing is refunded; the service order is cancelled and
// the batch marked refunded only when WeChat confirmed.
func (s *RefundService) reverseCredit(ctx context.Context, j OutboxJob, b *Batch) error {
	now := s.d.Clock.Now()
	if s.d.Credit == nil {
		if err := s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertRefundState, Ref: b.OutTradeNo,
			Detail: "refund of a credit batch without credit pay wired; nothing sent"}); err != nil {
			return err
		}
		return s.retry(ctx, j, now.Add(time.Hour), "credit pay not wired")
	}
	done, why, err := s.d.Credit.ReverseCredit(ctx, b.OutTradeNo)
	if err != nil {
		return err
	}
	if !done {
		return s.retry(ctx, j, now.Add(CreditUnknownRetry), why)
	}
	_, err = updateBatch(ctx, s.d.Orders, b.OutTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		if b.Status != StatusRefunding {
			return ErrNoChange
		}
		b.Status = StatusRefunded
		fx.Event(b.Seq, "refunded", fmt.Sprintf("第 %d 笔：%s，未向您扣款", b.Seq, why))
		return nil
	})
	if err != nil {
		return err
	}
	return s.complete(ctx, j)
}

// ---- the user's view ----------------------------------------------------

// CreditView is what the user sees of a credit order.
type CreditView struct {
	Credit *CreditOrder
	Notice string // what the user should know or do now
}

// View returns the user's credit order view. Errors: not_found.
func (s *CreditService) View(ctx context.Context, userID int64, orderNo string) (*CreditView, error) {
	if _, err := s.d.Orders.ownOrder(ctx, userID, orderNo); err != nil {
		return nil, err
	}
	c, err := s.d.Credits.FindCreditByOrder(ctx, orderNo)
	if isNotFound(err) {
		return nil, NotFound("该订单不是信用付订单")
	}
	if err != nil {
		return nil, err
	}
	v := &CreditView{Credit: c}
	due := c.DueAt.In(Shanghai).Format("2006-01-02")
	switch c.State {
	case CreditCreated:
		v.Notice = "请在微信支付分页面确认信用付订单"
	case CreditConfirmed:
		v.Notice = "已确认信用付，正在缴费入账"
	case CreditPosted:
		v.Notice = fmt.Sprintf("已缴费入账，%s 元将于 %s 由微信支付分扣款", c.AmountFen, due)
	case CreditCollectionDue:
		v.Notice = "微信支付分正在扣款"
	case CreditCollectionFailed:
		v.Notice = "扣款未成功：微信支付分将继续扣款，请确保微信零钱或绑定银行卡余额充足；已缴社保不受影响"
	case CreditCollected:
		v.Notice = "已扣款，信用付完成"
	case CreditCancelled:
		v.Notice = "信用付已取消，未向您扣款：" + c.CancelReason
	}
	return v, nil
}

// ---- reconciliation -----------------------------------------------------

// CreditCollections lists Pay Score collections; CreditStore implements it.
type CreditCollections interface {
	FindCollectedBetween(ctx context.Context, from, to time.Time) ([]CreditOrder, error)
}

// SetCreditCollections makes reconciliation cover Pay Score collections.
func (s *ReconService) SetCreditCollections(c CreditCollections) { s.credits = c }

// reconCredit takes credit pay out of the ordinary comparison: credit
// batches (paid on credit, no WeChat Pay trade) are dropped from ours, and
// the bill's rows of Pay Score collections (matched by transaction_id, or by
// out_order_no) are compared with the collections we recorded that day. It
// returns the batches and rows left for the ordinary comparison.
func (s *ReconService) reconCredit(ctx context.Context, from, to time.Time, batches []Batch, rows []BillRow, add func(ReconFinding)) ([]Batch, []BillRow, error) {
	kept := batches[:0:0]
	for _, b := range batches {
		if b.Funding != FundingCredit {
			kept = append(kept, b)
		}
	}
	if s.credits == nil {
		return kept, rows, nil
	}
	cs, err := s.credits.FindCollectedBetween(ctx, from, to)
	if err != nil {
		return nil, nil, err
	}
	byTx, byNo := map[string]CreditOrder{}, map[string]CreditOrder{}
	for _, c := range cs {
		byTx[c.TransactionID], byNo[c.OutOrderNo] = c, c
	}
	seen := map[string]bool{}
	var left []BillRow
	for _, row := range rows {
		if row.OutRefundNo != "" || row.TradeState == TradeRefund {
			left = append(left, row)
			continue
		}
		c, ok := byTx[row.TransactionID]
		if !ok {
			c, ok = byNo[row.OutTradeNo]
		}
		if !ok {
			left = append(left, row)
			continue
		}
		seen[c.OutOrderNo] = true
		if c.AmountFen != row.TotalFen {
			add(ReconFinding{Kind: ReconAmountDiff, OutTradeNo: c.OutOrderNo, LocalFen: c.AmountFen, RemoteFen: row.TotalFen, Detail: "pay score collection"})
		}
		if row.TransactionID != c.TransactionID {
			add(ReconFinding{Kind: ReconStatusDiff, OutTradeNo: c.OutOrderNo, LocalFen: c.AmountFen, RemoteFen: row.TotalFen,
				Detail: "pay score collection transaction_id differs: bill " + row.TransactionID + ", ours " + c.TransactionID})
		}
	}
	for _, c := range cs {
		if !seen[c.OutOrderNo] {
			add(ReconFinding{Kind: ReconMissingRemote, OutTradeNo: c.OutOrderNo, LocalFen: c.AmountFen, Detail: "pay score collection in our books, not in the bill"})
		}
	}
	return kept, left, nil
}
