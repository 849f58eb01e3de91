package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shebao/sipay/redact"
)

// CreditService: starting credit pay, the Pay Score notifications and the
// user's view (credit pay's domain types are in creditpay.go, its worker in
// creditpay_job.go).

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
	jobRunner
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
	s := &CreditService{d: d, rules: map[string]*CreditPayRule{}, jobRunner: jobRunner{Outbox: d.Outbox, Kind: JobCreditOrder,
		Owner: d.Owner, Lease: d.Lease, Clock: d.Clock, Log: d.Log, What: "credit", RefKey: "out_order_no",
		Delay: func(OutboxJob) time.Duration { return CreditUnknownRetry }}}
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
// Errors: not_found, credit_pay_not_credit, family_consent_withdrawn (403:
// the person withdrew the payer's consent, as for PayBatch),
// batch_already_paid (confirmed).
func (s *CreditService) Resume(ctx context.Context, userID int64, orderNo string) (*CreditStart, error) {
	o, err := s.d.Orders.ownOrder(ctx, userID, orderNo)
	if err != nil {
		return nil, err
	}
	// Consent first, as for PayBatch: no new confirmation parameters for a
	// person who withdrew consent (the credit job cancels the order). A
	// new order (Start) was checked when it was placed.
	if err := s.d.Orders.checkConsent(ctx, o); err != nil {
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
		TransactionID: so.Collection.TransactionID, Body: redact.Clip(string(ev.Plaintext), 4000)}
	c, err := s.d.Credits.FindCredit(ctx, so.OutOrderNo)
	if isNotFound(err) {
		s.alert(ctx, AlertCreditMismatch, so.OutOrderNo, "notification for an out_order_no we never issued: "+redact.Clip(raw.Body, 1500))
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
// confirmed. When the batch was closed meanwhile (cancelled, expired,
// consent withdrawn), the job cancels the service order instead.
//
// The batch's PaidAt is when the confirmation is applied, kept to the
// microsecond (the columns' precision): the third-party hold rule
// (ConsentedFamily) compares it with the moment the person withdrew consent,
// and a confirmation applied after a withdrawal in the same second must not
// count as paid under consent.
func (s *CreditService) confirm(ctx context.Context, c *CreditOrder, so ServiceOrder, raw *RawEvent) error {
	rule := s.rules[c.Region]
	now := s.d.Clock.Now().UTC().Truncate(time.Microsecond)
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
		if err := b.MarkPaid(so.OrderID, now); err != nil {
			return err
		}
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
		return c.Confirm(orderID, at, rule.CollectionAt(at))
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
		if err := c.MarkCollected(so.Collection.TransactionID, at); err != nil {
			return err
		}
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
	if err := s.d.Orders.store.RecordAlert(ctx, Alert{Kind: kind, Ref: redact.Clip(ref, 80), Detail: redact.Clip(detail, 2000)}); err != nil {
		s.d.Log.Error("record alert", "kind", kind, "ref", ref, "err", err)
	}
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

// PayScoreEventHandler applies verified PAYSCORE.* notifications
// (CreditService).
type PayScoreEventHandler interface {
	HandlePayScoreEvent(ctx context.Context, ev PayScoreEvent) error
}

// SetPayScore makes the notify endpoint apply PAYSCORE.* notifications; the
// credit service is built after the order service the notifications need.
func (s *NotifyService) SetPayScore(h PayScoreEventHandler) { s.d.PayScore = h }

// payScore applies a Pay Score notification (repeats change nothing, see
// HandlePayScoreEvent), with the Redis fast path for repeats.
func (s *NotifyService) payScore(ctx context.Context, ev PayScoreEvent) error {
	if s.d.PayScore == nil {
		return &Error{Kind: KindInternal, Code: CodeInternal, Message: "pay score notifications not handled"}
	}
	return s.once(ctx, ev.EventID, func() error { return s.d.PayScore.HandlePayScoreEvent(ctx, ev) })
}
