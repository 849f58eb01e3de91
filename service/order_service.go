package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"
)

// QuoteFinder reads quotes for the order use cases. The quotes service
// implements it. FindQuote returns an error wrapping ErrNotFound (or a
// KindNotFound *Error) when the user has no such quote.
type QuoteFinder interface {
	FindQuote(ctx context.Context, userID int64, id string) (*Quote, error)
}

// UserFinder reads the payer (for the openid WeChat Pay needs). UserStore
// implements it.
type UserFinder interface {
	FindUserByID(ctx context.Context, id int64) (*User, error)
}

// PaySigner signs fresh wx.requestPayment parameters for an existing
// prepay_id. wxpay.Client implements it; when the gateway does not, PayBatch
// prepays again with the same out_trade_no instead.
type PaySigner interface {
	PayParamsFor(prepayID string) (PayParams, error)
}

// OrderSettings configure the order use cases.
type OrderSettings struct {
	AppID string // mini-program appid bound to the merchant; notifications must carry it
	MchID string // merchant id; notifications must carry it
	// OrderTTL is time_expire after the first prepay of a batch (default 30m).
	OrderTTL time.Duration
	// PrepayReuse is how long a prepay_id is reused (default 110m; WeChat
	// keeps it 2 h).
	PrepayReuse time.Duration
	// Description is shown on the user's WeChat bill (default 社保缴费).
	Description string
}

// Error codes of the order use cases.
const (
	CodeQuoteExpired        = "quote_expired"
	CodeQuoteAlreadyOrdered = "quote_already_ordered"
	CodeNothingToPay        = "nothing_to_pay"
	CodePrepayFailed        = "prepay_failed"
	CodeBatchPaid           = "batch_already_paid"
	CodeBatchClosed         = "batch_closed"
	CodeBatchOutOfOrder     = "batch_out_of_order"
	CodeBatchExpired        = "batch_expired"
	CodeOrderNotCancellable = "order_not_cancellable"
	CodeNotifyMismatch      = "notify_mismatch"
)

// ErrUnknownTrade is returned by HandleTransaction for a verified
// notification whose out_trade_no we never issued. The notification is
// WeChat's (its signature verified), and a trade we prepaid can be paid only
// after its order is committed (CreateOrder), so an unknown out_trade_no
// belongs to another system on the same merchant id, or our data was lost.
// Retries by WeChat cannot fix either, so the endpoint acknowledges it (204)
// and operations get an AlertUnknownTrade carrying the raw event.
var ErrUnknownTrade = errors.New("unknown out_trade_no")

// OrderService creates and pays orders and applies WeChat Pay results.
type OrderService struct {
	quotes  QuoteFinder
	store   OrderStore
	gateway PaymentGateway
	users   UserFinder
	clock   Clock
	cfg     OrderSettings
	log     *slog.Logger
	metrics Metrics

	identity IdentityGate
	consent  ConsentGate
	// creditWaker (SetCreditWaker) makes credit jobs due now.
	creditWaker JobWaker
}

// ConsentGate refuses ordering or paying for a family member who withdrew
// consent (family_consent_withdrawn). IdentityService implements it.
type ConsentGate interface {
	CheckConsent(ctx context.Context, userID, personID int64) error
}

// IdentityGate checks that the user has verified the person by a method
// the region accepts. QuoteService implements it.
type IdentityGate interface {
	CheckPersonIdentity(ctx context.Context, userID, personID int64, region string) error
}

// OrderDeps are the dependencies of an OrderService. Quotes, Store, Gateway,
// Users, Clock, Log and Settings.AppID/MchID are required.
type OrderDeps struct {
	Quotes   QuoteFinder
	Store    OrderStore
	Gateway  PaymentGateway
	Users    UserFinder
	Clock    Clock
	Log      *slog.Logger
	Settings OrderSettings
	// Metrics (optional) counts notification outcomes.
	Metrics Metrics
	// Identity (optional) makes CreateOrder check the person's identity
	// method again: a quote may outlive a change of the region's rules.
	Identity IdentityGate
	// Consent (optional) makes CreateOrder and PayBatch (and so
	// ResumeOrder) check that the payer may still pay for the person.
	Consent ConsentGate
}

// NewOrderService returns an OrderService. It panics on a missing required
// dependency or missing AppID/MchID.
func NewOrderService(d OrderDeps) *OrderService {
	cfg := d.Settings
	if d.Quotes == nil || d.Store == nil || d.Gateway == nil || d.Users == nil || d.Clock == nil || d.Log == nil || cfg.AppID == "" || cfg.MchID == "" {
		panic("service: NewOrderService: missing dependency")
	}
	if cfg.OrderTTL <= 0 {
		cfg.OrderTTL = 30 * time.Minute
	}
	if cfg.PrepayReuse <= 0 {
		cfg.PrepayReuse = 110 * time.Minute
	}
	if cfg.Description == "" {
		cfg.Description = "社保缴费"
	}
	return &OrderService{quotes: d.Quotes, store: d.Store, gateway: d.Gateway, users: d.Users, clock: d.Clock, cfg: cfg,
		log: d.Log, metrics: metricsOr(d.Metrics), identity: d.Identity, consent: d.Consent}
}

// PayResult is an order with the wx.requestPayment parameters of the batch
// to pay now.
type PayResult struct {
	Order     *Order
	Seq       int
	PayParams PayParams
}

// CreateOrder turns the user's quote into an order and prepays its first
// batch. Errors: not_found (no such quote of this user), quote_expired,
// quote_already_ordered (409, naming the order), month_already_ordered (409,
// naming the open order that holds one of the months), mutual_aid_committed
// (409: the quote's family mutual aid is committed to another open order
// meanwhile; a new quote deducts what is left), the identity gate's
// errors (identity_method_not_accepted), nothing_to_pay, and prepay_failed
// (503: the order exists and the client can pay it again; the result is
// returned with the error and names the order).
//
// WeChat hears of batch 1 before the order is written, so that its
// prepay_id is stored in the order's one transaction (docs/performance.md,
// "Order"). That is safe because nothing can be paid before we answer: a
// JSAPI trade is paid only with our paySign over its prepay_id, which the
// client gets after the order is committed. A prepaid trade whose order
// could not be written is closed at WeChat when the write was definitely
// refused (the quote already ordered, a month claimed, mutual aid spent);
// after an ambiguous failure it is left to expire at its time_expire,
// unpayable, because its order may exist.
func (s *OrderService) CreateOrder(ctx context.Context, userID int64, quoteID string) (*PayResult, error) {
	q, o, err := s.newOrder(ctx, userID, quoteID, FundingWeChatPay, nil)
	if err != nil {
		return nil, err
	}
	b := &o.Batches[0]
	prepaidNo, prepaid := o.No, b.OutTradeNo
	pp, perr := s.gateway.Prepay(ctx, s.prepayOf(o.No, b))
	if perr == nil {
		b.PrepayID, b.PrepayAt = pp.PrepayID, s.clock.Now().UTC().Truncate(time.Microsecond)
	}
	if err := s.storeNew(ctx, q, o); err != nil {
		if ErrorKind(err) == KindConflict && s.notStored(ctx, prepaidNo) {
			// Definitely refused, and no order has the trade's number:
			// the trade is ours alone. Closing one that never reached
			// WeChat is harmless.
			if cerr := s.gateway.CloseTrade(ctx, prepaid); cerr != nil {
				s.log.Warn("close after refused order", "out_trade_no", prepaid, "err", cerr)
			}
		}
		return nil, err
	}
	if o.No != prepaidNo {
		// storeNew drew another order number (the random one was taken):
		// the trade prepaid above is not this order's; prepay it anew.
		return s.prepayStored(ctx, o)
	}
	if perr != nil {
		s.log.Warn("prepay failed", "out_trade_no", prepaid, "err", perr)
		// The order exists: the result names it, so a retry of this
		// request (same Idempotency-Key) can resume it with ResumeOrder.
		return &PayResult{Order: o, Seq: 1}, prepayFailed(o.No, perr)
	}
	return &PayResult{Order: o, Seq: 1, PayParams: pp}, nil
}

// prepayStored prepays batch 1 of an order stored without a prepay_id.
func (s *OrderService) prepayStored(ctx context.Context, o *Order) (*PayResult, error) {
	res, err := s.prepayBatch(ctx, o, 1)
	if err != nil {
		return &PayResult{Order: o, Seq: 1}, err
	}
	return res, nil
}

// notStored reports whether no order numbered orderNo exists, so that a
// trade of that number is nobody else's.
func (s *OrderService) notStored(ctx context.Context, orderNo string) bool {
	_, err := s.store.FindOrder(ctx, orderNo)
	return errors.Is(err, ErrNotFound)
}

// prepayOf is the prepay request of batch b of order orderNo.
func (s *OrderService) prepayOf(orderNo string, b *Batch) Prepay {
	return Prepay{OutTradeNo: b.OutTradeNo, Description: s.cfg.Description, Attach: fmt.Sprintf("%s:%d", orderNo, b.Seq),
		PayerOpenID: b.PayerOpenID, AmountFen: b.AmountFen, ExpireAt: b.ExpireAt}
}

func prepayFailed(orderNo string, err error) *Error {
	return &Error{Kind: KindUnavailable, Code: CodePrepayFailed, RetryAfter: 3 * time.Second, Err: err,
		Message: fmt.Sprintf("订单 %s 已创建，但微信支付下单暂时失败，请稍后在订单中点击“去支付”重试", orderNo)}
}

// placeOrder checks the user's quote and writes its order, every batch
// funded by funding, without calling WeChat. check (optional) refuses a
// quote before anything is written (credit pay's eligibility).
func (s *OrderService) placeOrder(ctx context.Context, userID int64, quoteID string, funding Funding, check func(*Quote) error) (*Order, error) {
	q, o, err := s.newOrder(ctx, userID, quoteID, funding, check)
	if err != nil {
		return nil, err
	}
	if err := s.storeNew(ctx, q, o); err != nil {
		return nil, err
	}
	return o, nil
}

// newOrder checks the user's quote and builds its order, every batch funded
// by funding, writing nothing. check (optional) refuses a quote (credit
// pay's eligibility). A WeChat Pay order gets batch 1's time_expire here,
// before WeChat hears of the batch: every prepay of that trade carries the
// same time_expire. A credit order has none (the Pay Score confirmation
// has its own window).
func (s *OrderService) newOrder(ctx context.Context, userID int64, quoteID string, funding Funding, check func(*Quote) error) (*Quote, *Order, error) {
	if quoteID == "" || len(quoteID) > 40 {
		return nil, nil, Invalid(CodeInvalid, "请选择要缴费的报价", FieldError{Field: "quote_id", Code: "required", Message: "请提供 quote_id"})
	}
	q, err := s.quotes.FindQuote(ctx, userID, quoteID)
	if errors.Is(err, ErrNotFound) || ErrorKind(err) == KindNotFound {
		return nil, nil, NotFound("报价不存在")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("create order: find quote: %w", err)
	}
	if q.UserID != userID {
		return nil, nil, NotFound("报价不存在")
	}
	now := s.clock.Now()
	if !now.Before(q.ExpiresAt) {
		// An order made from the quote before it expired is the better
		// answer. On the way to a new order UNIQUE(quote_id) decides, so the
		// happy path does not look first.
		if o, err := s.store.FindOrderByQuote(ctx, q.ID); err == nil {
			return nil, nil, alreadyOrdered(o.No)
		} else if !errors.Is(err, ErrNotFound) {
			return nil, nil, fmt.Errorf("create order: %w", err)
		}
		return nil, nil, Errorf(KindUnprocessable, CodeQuoteExpired, "报价已过期，请重新获取报价")
	}
	if q.PayableFen <= 0 || len(q.Batches) == 0 {
		return nil, nil, Errorf(KindUnprocessable, CodeNothingToPay, "该报价无需通过微信支付缴费")
	}
	var sum Fen
	for i, bp := range q.Batches {
		if bp.Seq != i+1 || bp.AmountFen <= 0 {
			return nil, nil, fmt.Errorf("create order: quote %s: bad batch plan %d", q.ID, i)
		}
		sum += bp.AmountFen
	}
	if sum != q.PayableFen {
		return nil, nil, fmt.Errorf("create order: quote %s: batches sum %d, payable %d", q.ID, sum, q.PayableFen)
	}
	if s.identity != nil {
		if err := s.identity.CheckPersonIdentity(ctx, userID, q.PersonID, q.Region); err != nil {
			return nil, nil, err
		}
	}
	if s.consent != nil {
		if err := s.consent.CheckConsent(ctx, userID, q.PersonID); err != nil {
			return nil, nil, err
		}
	}
	if check != nil {
		if err := check(q); err != nil {
			return nil, nil, err
		}
	}
	payer, err := userByID(ctx, userID, s.users.FindUserByID)
	if err != nil {
		return nil, nil, fmt.Errorf("create order: payer: %w", err)
	}
	o := &Order{UserID: userID, PersonID: q.PersonID, QuoteID: q.ID, Region: q.Region, AmountFen: sum,
		MutualAidFen: q.MutualAidFen, MutualAidBalanceFen: q.MutualAidBalanceFen}
	for _, bp := range q.Batches {
		b := Batch{Seq: bp.Seq, AmountFen: bp.AmountFen, FromMonth: bp.FromMonth, ToMonth: bp.ToMonth,
			Status: StatusPendingPayment, PayerOpenID: payer.OpenID, Funding: funding}
		if bp.Seq == 1 && funding == FundingWeChatPay {
			b.ExpireAt = now.Add(s.cfg.OrderTTL).Truncate(time.Second)
		}
		o.Batches = append(o.Batches, b)
	}
	o.number(newOrderNo(now), q)
	return q, o, nil
}

// number gives o (and its batches and month claims) the order number no.
func (o *Order) number(no string, q *Quote) {
	o.No = no
	for i := range o.Batches {
		o.Batches[i].OrderNo, o.Batches[i].OutTradeNo = no, OutTradeNo(no, o.Batches[i].Seq)
	}
	o.Claims = claimsOf(q, o.Batches)
}

// storeNew writes the new order o of quote q. UNIQUE(quote_id) is the truth
// about "one order per quote"; the other unique key is the random order
// number, drawn again (with the prepay_id dropped: it belongs to the old
// number's trade) when it is taken.
func (s *OrderService) storeNew(ctx context.Context, q *Quote, o *Order) error {
	for attempt := 0; ; attempt++ {
		err := s.store.CreateOrder(ctx, o)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrDuplicate) {
			return fmt.Errorf("create order: %w", err)
		}
		prev, ferr := s.store.FindOrderByQuote(ctx, q.ID)
		switch {
		case ferr == nil && prev.No == o.No:
			// Our own order: an earlier attempt committed though its
			// answer was lost.
			*o = *prev
			return nil
		case ferr == nil:
			return alreadyOrdered(prev.No)
		case attempt == 2:
			return fmt.Errorf("create order: %w", err)
		}
		o.number(newOrderNo(s.clock.Now()), q)
		o.Batches[0].PrepayID, o.Batches[0].PrepayAt = "", time.Time{}
	}
}

// ResumeOrder continues the order that an earlier create-order request made,
// for a retry of that request (the same Idempotency-Key): it returns payment
// parameters for the first unpaid batch. A prepay_id younger than
// PrepayReuse is signed again; otherwise WeChat is asked first whether the
// out_trade_no exists and was paid (a prepay whose answer was lost may have
// reached it), and only an unknown or unpaid trade is prepaid again, under
// the same out_trade_no and the same time_expire (WeChat takes time_expire
// from the first request only, so it is never extended). Errors: not_found,
// batch_paid (409; a trade WeChat reports paid is applied first),
// batch_closed (409), batch_expired (422: past time_expire; the user needs a
// new quote and order), prepay_failed or unavailable (503, retry).
func (s *OrderService) ResumeOrder(ctx context.Context, userID int64, orderNo string) (*PayResult, error) {
	o, err := s.ownOrder(ctx, userID, orderNo)
	if err != nil {
		return nil, err
	}
	b := &o.Batches[len(o.Batches)-1]
	for i := range o.Batches {
		if o.Batches[i].Status == StatusPendingPayment {
			b = &o.Batches[i]
			break
		}
	}
	now := s.clock.Now()
	if err := payable(o, b, now); err != nil {
		return nil, err
	}
	if b.PrepayID == "" || now.Sub(b.PrepayAt) >= s.cfg.PrepayReuse {
		t, qerr := s.gateway.QueryTrade(ctx, b.OutTradeNo)
		switch {
		case errors.Is(qerr, ErrTradeNotFound):
			// Never reached WeChat: prepay it now.
		case qerr != nil:
			return nil, Unavailable("支付状态确认中，请稍后再试", 3*time.Second, qerr)
		case t.State == TradeSuccess:
			if err := s.ApplyQueried(ctx, t); err != nil {
				return nil, err
			}
			return nil, Errorf(KindConflict, CodeBatchPaid, "第 %d 笔已支付，无需重复支付", b.Seq)
		case t.State == TradeClosed || t.State == TradeRevoked:
			return nil, Errorf(KindConflict, CodeBatchClosed, "第 %d 笔缴费已关闭，无法支付", b.Seq)
		}
	}
	return s.PayBatch(ctx, userID, orderNo, b.Seq)
}

// claimsOf returns the (insurance, month) claims of a quote's lines, each
// with the batch whose months cover it.
func claimsOf(q *Quote, batches []Batch) []MonthClaim {
	out := make([]MonthClaim, 0, len(q.Lines))
	for _, l := range q.Lines {
		c := MonthClaim{Insurance: l.Insurance, Month: l.Month, OutTradeNo: batches[0].OutTradeNo}
		for _, b := range batches {
			if l.Month >= b.FromMonth && l.Month <= b.ToMonth {
				c.OutTradeNo = b.OutTradeNo
			}
		}
		out = append(out, c)
	}
	return out
}

func alreadyOrdered(orderNo string) *Error {
	e := Errorf(KindConflict, CodeQuoteAlreadyOrdered, "该报价已生成订单 %s，请在订单中继续支付", orderNo)
	return e
}

// newOrderNo returns "SI" + yyyymmdd (Asia/Shanghai) + 14 random digits:
// 24 characters, so out_trade_no ("_NN" appended) has 27.
func newOrderNo(now time.Time) string {
	n, err := rand.Int(rand.Reader, big.NewInt(1e14))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("SI%s%014d", now.In(Shanghai).Format("20060102"), n.Int64())
}

// PayBatch returns fresh payment parameters for batch seq of the user's
// order. Batches are paid in turn; a prepay_id younger than PrepayReuse is
// reused, otherwise the same out_trade_no is prepaid again.
func (s *OrderService) PayBatch(ctx context.Context, userID int64, orderNo string, seq int) (*PayResult, error) {
	o, err := s.ownOrder(ctx, userID, orderNo)
	if err != nil {
		return nil, err
	}
	payer, err := userByID(ctx, userID, s.users.FindUserByID)
	if err != nil {
		return nil, fmt.Errorf("pay batch: payer: %w", err)
	}
	b := batchOf(o, seq)
	if b == nil {
		return nil, NotFound("该笔缴费不存在")
	}
	// Consent first: a batch closed because the member withdrew consent
	// answers family_consent_withdrawn, not batch_closed.
	if s.consent != nil {
		if err := s.consent.CheckConsent(ctx, userID, o.PersonID); err != nil {
			return nil, err
		}
	}
	if err := payable(o, b, s.clock.Now()); err != nil {
		return nil, err
	}
	if signer, ok := s.gateway.(PaySigner); ok && b.PrepayID != "" && s.clock.Now().Sub(b.PrepayAt) < s.cfg.PrepayReuse {
		pp, err := signer.PayParamsFor(b.PrepayID)
		if err != nil {
			return nil, fmt.Errorf("pay batch: sign: %w", err)
		}
		return &PayResult{Order: o, Seq: seq, PayParams: pp}, nil
	}
	return s.prepay(ctx, o.No, seq, payer.OpenID)
}

// payable refuses batches that cannot be paid now.
func payable(o *Order, b *Batch, now time.Time) error {
	switch {
	case b.Funding == FundingCredit:
		return Errorf(KindConflict, CodeCreditChosen, "第 %d 笔已选择信用付（微信支付分），无需再用微信支付付款", b.Seq)
	case b.Status == StatusClosed:
		return Errorf(KindConflict, CodeBatchClosed, "第 %d 笔缴费已关闭，无法支付", b.Seq)
	case b.Status != StatusPendingPayment:
		return Errorf(KindConflict, CodeBatchPaid, "第 %d 笔已支付，无需重复支付", b.Seq)
	}
	for _, prev := range o.Batches {
		if prev.Seq >= b.Seq {
			continue
		}
		switch prev.Status {
		case StatusPendingPayment:
			return Errorf(KindConflict, CodeBatchOutOfOrder, "请先支付第 %d 笔", prev.Seq)
		case StatusClosed:
			return Errorf(KindConflict, CodeBatchClosed, "第 %d 笔已关闭，本订单无法继续支付", prev.Seq)
		}
	}
	if !b.ExpireAt.IsZero() && !now.Before(b.ExpireAt.Add(-time.Minute)) {
		return Errorf(KindUnprocessable, CodeBatchExpired, "第 %d 笔已超过支付期限，请取消订单后重新下单", b.Seq)
	}
	return nil
}

// prepay asks WeChat for a prepay_id for batch seq and stores it (no status
// change). time_expire is fixed in the batch before the first call.
func (s *OrderService) prepay(ctx context.Context, orderNo string, seq int, openID string) (*PayResult, error) {
	otn := OutTradeNo(orderNo, seq)
	now := s.clock.Now()
	o, err := s.store.FindOrder(ctx, orderNo)
	if err != nil {
		return nil, fmt.Errorf("prepay: %w", err)
	}
	b := batchOf(o, seq)
	if b == nil {
		return nil, NotFound("该笔缴费不存在")
	}
	if b.ExpireAt.IsZero() || b.PayerOpenID != openID {
		o, err = s.store.UpdateBatch(ctx, otn, func(o *Order, b *Batch, _ *Effects) error {
			if err := payable(o, b, now); err != nil {
				return err
			}
			if b.ExpireAt.IsZero() {
				b.ExpireAt = now.Add(s.cfg.OrderTTL).Truncate(time.Second)
			}
			b.PayerOpenID = openID
			return nil
		})
		if err != nil {
			return nil, storeOrAppErr("prepay", err)
		}
		b = batchOf(o, seq)
	}
	return s.prepayBatch(ctx, o, seq)
}

// prepayBatch calls WeChat for batch seq of o, whose time_expire and payer
// are stored, and stores the prepay_id with one conditional UPDATE: a batch
// that stopped being pending meanwhile (cancelled, expired) refuses it, and
// the new trade is closed at WeChat.
func (s *OrderService) prepayBatch(ctx context.Context, o *Order, seq int) (*PayResult, error) {
	b := batchOf(o, seq)
	if b == nil {
		return nil, NotFound("该笔缴费不存在")
	}
	otn := OutTradeNo(o.No, seq)
	now := s.clock.Now()
	pp, err := s.gateway.Prepay(ctx, s.prepayOf(o.No, b))
	if err != nil {
		s.log.Warn("prepay failed", "out_trade_no", otn, "err", err)
		return nil, prepayFailed(o.No, err)
	}
	err = s.store.SetPrepay(ctx, otn, pp.PrepayID, now)
	if errors.Is(err, ErrStale) {
		// Cancelled or expired while WeChat answered: make sure the new
		// trade cannot be paid. Closing twice is harmless.
		if cerr := s.gateway.CloseTrade(ctx, otn); cerr != nil {
			s.log.Warn("close after refused prepay", "out_trade_no", otn, "err", cerr)
		}
		return nil, Errorf(KindConflict, CodeBatchClosed, "第 %d 笔已不可支付", seq)
	}
	if err != nil {
		return nil, fmt.Errorf("prepay: %w", err)
	}
	b.PrepayID, b.PrepayAt = pp.PrepayID, now.UTC().Truncate(time.Microsecond)
	return &PayResult{Order: o, Seq: seq, PayParams: pp}, nil
}

func storeOrAppErr(op string, err error) error {
	if AsError(err) != nil {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

func batchOf(o *Order, seq int) *Batch {
	for i := range o.Batches {
		if o.Batches[i].Seq == seq {
			return &o.Batches[i]
		}
	}
	return nil
}

// ownOrder returns the user's order; another user's order is not found.
func (s *OrderService) ownOrder(ctx context.Context, userID int64, orderNo string) (*Order, error) {
	if orderNo == "" || len(orderNo) > 24 {
		return nil, NotFound("订单不存在")
	}
	return findUserOrder(ctx, s.store, userID, orderNo, "订单不存在")
}

// FindOrder returns the user's order; another user's order is not found.
func (s *OrderService) FindOrder(ctx context.Context, userID int64, orderNo string) (*Order, error) {
	return s.ownOrder(ctx, userID, orderNo)
}

// OrderDetail is an order with its quote lines and timeline.
type OrderDetail struct {
	Order    *Order
	Lines    []QuoteLine
	Timeline []OrderEvent
}

// FindOrderDetail returns the user's order with the lines of its quote and
// its timeline.
func (s *OrderService) FindOrderDetail(ctx context.Context, userID int64, orderNo string) (*OrderDetail, error) {
	o, err := s.ownOrder(ctx, userID, orderNo)
	if err != nil {
		return nil, err
	}
	d := &OrderDetail{Order: o}
	if q, err := s.quotes.FindQuote(ctx, userID, o.QuoteID); err == nil {
		d.Lines = q.Lines
	} else {
		s.log.Warn("order detail: quote unavailable", "order_no", o.No, "err", err)
	}
	if d.Timeline, err = s.store.OrderEvents(ctx, o.No); err != nil {
		return nil, fmt.Errorf("order detail: %w", err)
	}
	return d, nil
}

// Timeline returns the user's order timeline, oldest first.
func (s *OrderService) Timeline(ctx context.Context, userID int64, orderNo string) ([]OrderEvent, error) {
	if _, err := s.ownOrder(ctx, userID, orderNo); err != nil {
		return nil, err
	}
	return s.store.OrderEvents(ctx, orderNo)
}

// Page sizes of order lists.
const (
	DefaultPageSize = 20
	MaxPageSize     = 50
	// MaxPage bounds page so (page-1)*pageSize never overflows (and no
	// one pages through 500,000 orders).
	MaxPage = 10000
)

// FindOrders lists the user's orders, newest first; page is 1-based.
func (s *OrderService) FindOrders(ctx context.Context, userID int64, page, pageSize int) ([]*Order, int, error) {
	if page < 1 {
		page = 1
	}
	if page > MaxPage {
		page = MaxPage
	}
	if pageSize < 1 {
		pageSize = DefaultPageSize
	}
	if pageSize > MaxPageSize {
		pageSize = MaxPageSize
	}
	return s.store.FindOrders(ctx, OrderFilter{UserID: userID, Offset: (page - 1) * pageSize, Limit: pageSize})
}
