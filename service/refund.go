package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// RefundState is our state of a refund row.
type RefundState string

// Refund states. pending: row committed, WeChat not yet known to have it;
// processing: WeChat accepted it; success, closed, abnormal: as WeChat says.
const (
	RefundStatePending    RefundState = "pending"
	RefundStateProcessing RefundState = "processing"
	RefundStateSuccess    RefundState = "success"
	RefundStateAbnormal   RefundState = "abnormal"
	RefundStateClosed     RefundState = "closed"
)

// RefundReason says why a batch is refunded.
type RefundReason string

// Refund reasons.
const (
	RefundRetryExpired     RefundReason = "retry_window_expired" // 72 hours of failed postings
	RefundPlatformRejected RefundReason = "platform_rejected"    // the platform refused for good
	RefundHoldRejected     RefundReason = "hold_rejected"        // operations rejected a held payment
	RefundHoldExpired      RefundReason = "hold_expired"         // a hold whose rule says refund expired unreviewed
)

// Text is the user-facing explanation of a reason.
func (r RefundReason) Text() string {
	switch r {
	case RefundRetryExpired:
		return "社保经办机构72小时内未能入账，资金原路退回"
	case RefundPlatformRejected:
		return "社保经办机构未受理本笔缴费，资金原路退回"
	case RefundHoldRejected:
		return "本笔缴费未通过资金安全复核，资金原路退回"
	case RefundHoldExpired:
		return "本笔缴费在资金冻结期内未完成复核，资金原路退回"
	}
	return "资金原路退回"
}

// Refund is one refund attempt of one batch. OutRefundNo is
// RefundAttemptNo(OutTradeNo, Attempt), reused on every call of that
// attempt; a new attempt exists only after WeChat CLOSED the previous one.
type Refund struct {
	OutRefundNo         string
	OutTradeNo          string
	OrderNo             string
	Attempt             int // 1-based attempt of the batch
	TransactionID       string
	AmountFen           Fen
	TotalFen            Fen
	Reason              RefundReason
	Detail              string
	Status              RefundState
	RefundID            string
	Channel             string
	UserReceivedAccount string
	Attempts            int // calls to CreateRefund that failed
	LastError           string
	SuccessAt           time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// RefundStore persists refunds. out_refund_no and (out_trade_no, attempt)
// are unique.
type RefundStore interface {
	// CreateRefund inserts r, or returns the existing refund of the same
	// out_refund_no unchanged. It returns a KindConflict error
	// refund_exceeds_paid when the batch is unpaid or the sum of its
	// non-closed refunds with r would exceed the batch amount; that check
	// and the insert hold the batch's row lock.
	CreateRefund(ctx context.Context, r *Refund) (*Refund, error)
	// FindRefund returns ErrNotFound when there is none.
	FindRefund(ctx context.Context, outRefundNo string) (*Refund, error)
	// FindRefundByTrade returns the latest refund attempt of a batch or
	// ErrNotFound.
	FindRefundByTrade(ctx context.Context, outTradeNo string) (*Refund, error)
	// UpdateRefund applies fn under a row lock and persists the result;
	// fn moves the refund through its transition methods (Record,
	// RecordFailedCall) and returns ErrNoChange to write nothing.
	UpdateRefund(ctx context.Context, outRefundNo string, fn func(*Refund) error) (*Refund, error)
	// FindRefundsSucceeded lists refunds that succeeded in [from, to).
	FindRefundsSucceeded(ctx context.Context, from, to time.Time) ([]Refund, error)
}

// RefundDeps are the dependencies of a RefundService.
type RefundDeps struct {
	Orders  OrderStore
	Outbox  Outbox
	Refunds RefundStore
	Gateway PaymentGateway
	MchID   string // our merchant id; refund notifications must carry it
	Guard   Locker // optional Redis fast path
	Waker   JobWaker
	Clock   Clock
	Log     *slog.Logger
	Metrics Metrics // optional: refund calls with an unknown outcome
	// Credit (optional, SetCreditReverser) reverses credit-pay batches,
	// which WeChat Pay never charged: their service order is cancelled.
	Credit CreditReverser
	Owner  string
	Lease  time.Duration
}

// RefundService refunds batches to the original route exactly once.
type RefundService struct {
	d RefundDeps
	jobRunner
}

// NewRefundService returns a RefundService; it panics on missing
// dependencies.
func NewRefundService(d RefundDeps) *RefundService {
	if d.Orders == nil || d.Outbox == nil || d.Refunds == nil || d.Gateway == nil || d.Waker == nil || d.Clock == nil || d.Log == nil || d.Owner == "" || d.MchID == "" {
		panic("service: NewRefundService: missing dependency")
	}
	if d.Lease <= 0 {
		d.Lease = 2 * time.Minute
	}
	return &RefundService{d: d, jobRunner: jobRunner{Outbox: d.Outbox, Kind: JobRefundBatch, Owner: d.Owner, Lease: d.Lease,
		Clock: d.Clock, Log: d.Log, What: "refund"}}
}

// Refund polling and retry intervals.
const (
	RefundPollProcessing = 5 * time.Minute // query a PROCESSING refund after this
	RefundPollAbnormal   = time.Hour       // watch an ABNORMAL refund being fixed by hand
	refundGuardTTL       = 30 * time.Second
)

type refundPayload struct {
	Reason RefundReason `json:"reason"`
	Detail string       `json:"detail,omitempty"`
}

// Begin moves a paid, held or posting batch to refunding and enqueues its
// refund job in the same transaction. A batch already refunding or refunded
// is left as it is (idempotent).
func (s *RefundService) Begin(ctx context.Context, outTradeNo string, reason RefundReason, detail string) (*Order, error) {
	return s.BeginFrom(ctx, outTradeNo, reason, detail, StatusPaid, StatusHeld, StatusPosting, StatusConfirming)
}

// BeginFrom is Begin restricted to batches in one of the from statuses, so a
// decision taken on a held batch cannot refund a batch released meanwhile
// (HoldService.Reject passes held), and a confirmed void refunds only a
// batch still posting or confirming. A batch in another status is a
// KindConflict not_refundable; one already refunding or refunded is left as
// it is.
func (s *RefundService) BeginFrom(ctx context.Context, outTradeNo string, reason RefundReason, detail string, from ...OrderStatus) (*Order, error) {
	payload, _ := json.Marshal(refundPayload{Reason: reason, Detail: detail})
	o, err := updateBatch(ctx, s.d.Orders, outTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		if b.Refunding() {
			return ErrNoChange
		}
		if err := b.BeginRefund(from...); err != nil {
			return err
		}
		fx.Event(b.Seq, "refunding", reason.Text()+"："+Fen(b.AmountFen).String()+" 元退款处理中")
		fx.Outbox = append(fx.Outbox, OutboxJob{Kind: JobRefundBatch, Ref: outTradeNo, Payload: string(payload)})
		return nil
	})
	if errors.Is(err, ErrStale) {
		// Another writer changed the batch between our read and write; the
		// caller's job retries and sees the new state.
		return nil, fmt.Errorf("begin refund %s: %w", outTradeNo, err)
	}
	return o, err
}

// RunOnce claims due refund jobs one at a time and works them (see
// jobRunner.runOnce). It returns how many it claimed.
func (s *RefundService) RunOnce(ctx context.Context) (int, error) {
	return s.runOnce(ctx, s.Work)
}

// Work advances one refund job. The refund row is committed before WeChat
// is called, so a crash after the call is retried with the same
// out_refund_no, which WeChat refunds only once.
func (s *RefundService) Work(ctx context.Context, j OutboxJob) error {
	o, b, err := findBatch(ctx, s.d.Orders, j.Ref)
	if err != nil {
		if isNotFound(err) {
			return s.complete(ctx, j)
		}
		return err
	}
	if b.Status == StatusRefunded {
		return s.complete(ctx, j)
	}
	if b.Status != StatusRefunding {
		s.d.Log.Error("refund job for a batch not refunding", "out_trade_no", b.OutTradeNo, "status", b.Status)
		if err := s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertRefundState, Ref: b.OutTradeNo,
			Detail: fmt.Sprintf("refund job for a batch in status %s; nothing sent to WeChat", b.Status)}); err != nil {
			return err
		}
		return s.complete(ctx, j)
	}
	if b.Funding == FundingCredit {
		return s.reverseCredit(ctx, j, b)
	}
	// The latest attempt is the one to advance; attempt 1 is created on the
	// first run. Later attempts are created only by Retry after a CLOSED.
	r, err := s.d.Refunds.FindRefundByTrade(ctx, b.OutTradeNo)
	if isNotFound(err) {
		var p refundPayload
		_ = json.Unmarshal([]byte(j.Payload), &p)
		r, err = s.d.Refunds.CreateRefund(ctx, &Refund{OutRefundNo: RefundAttemptNo(b.OutTradeNo, 1), Attempt: 1, OutTradeNo: b.OutTradeNo,
			OrderNo: o.No, TransactionID: b.TransactionID, AmountFen: b.AmountFen, TotalFen: b.AmountFen,
			Reason: p.Reason, Detail: p.Detail, Status: RefundStatePending})
	}
	if err != nil {
		return err
	}
	now := s.d.Clock.Now()
	var res RefundResult
	var callErr error
	switch r.Status {
	case RefundStateSuccess:
		// The row says success but the batch is still refunding: a crash
		// between the two writes. Finish it.
		if err := s.markRefunded(ctx, r, nil); err != nil {
			return err
		}
		return s.complete(ctx, j)
	case RefundStateClosed:
		return s.complete(ctx, j) // alerted when it closed; operations decide
	case RefundStateProcessing, RefundStateAbnormal:
		cctx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
		if err != nil {
			return err
		}
		res, callErr = s.d.Gateway.QueryRefund(cctx, r.OutRefundNo)
		cancel()
	default: // pending: (re)send with the same out_refund_no
		if s.d.Guard != nil {
			release, ok, gerr := acquire(ctx, s.d.Guard, "refund:call:"+r.OutRefundNo, refundGuardTTL)
			if gerr != nil {
				s.d.Log.Warn("refund guard unavailable; relying on the database", "err", gerr)
			} else if !ok {
				return s.retry(ctx, j, now.Add(refundGuardTTL), "refund call in flight elsewhere")
			} else {
				defer release()
			}
		}
		cctx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
		if err != nil {
			return err
		}
		res, callErr = s.d.Gateway.CreateRefund(cctx, RefundRequest{OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo,
			Reason: r.Reason.Text(), RefundFen: r.AmountFen, TotalFen: r.TotalFen})
		cancel()
	}
	if callErr != nil {
		return s.failed(ctx, j, r, callErr)
	}
	if why := refundMismatch(r, res); why != "" {
		// A signed answer about another refund, trade or amount: it moves
		// nothing. Ask again later; operations look at it meanwhile.
		if err := s.note(ctx, r, nil, "", "", &Alert{Kind: AlertRefundMismatch, Ref: r.OutRefundNo,
			Detail: "WeChat's refund answer does not match ours: " + why}); err != nil {
			return err
		}
		return s.retry(ctx, j, now.Add(RefundPollProcessing), "refund answer mismatch: "+why)
	}
	r, err = s.apply(ctx, r.OutRefundNo, res, nil)
	if err != nil {
		return err
	}
	switch r.Status {
	case RefundStateSuccess, RefundStateClosed:
		return s.complete(ctx, j)
	case RefundStateAbnormal:
		return s.retry(ctx, j, now.Add(RefundPollAbnormal), "refund abnormal: manual handling")
	default:
		return s.retry(ctx, j, now.Add(RefundPollProcessing), "refund processing")
	}
}

// failed records a failed call (SYSTEM_ERROR, NOT_ENOUGH, FREQUENCY_LIMITED,
// timeouts, ...), alerts operations and retries with the same out_refund_no.
func (s *RefundService) failed(ctx context.Context, j OutboxJob, r *Refund, callErr error) error {
	code := "error"
	var ge *GatewayError
	if errors.As(callErr, &ge) {
		code = ge.Code
	}
	metricsOr(s.d.Metrics).UnknownOutcome("refund")
	r, err := s.d.Refunds.UpdateRefund(ctx, r.OutRefundNo, func(r *Refund) error {
		r.RecordFailedCall(ErrorText(callErr, 400))
		return nil
	})
	if err != nil {
		return err
	}
	// One alert per refund: a repeat counts on it (Alert.Count), so a long
	// outage does not bury operations in duplicates.
	if err := s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertRefundFailed, Ref: r.OutRefundNo,
		Detail: fmt.Sprintf("refund call failed (%s), attempt %d; retrying with the same out_refund_no: %s", code, r.Attempts, r.LastError)}); err != nil {
		return err
	}
	delay := RetryDelay(r.Attempts)
	if code == "FREQUENCY_LIMITED" && delay < time.Minute {
		delay = time.Minute // WeChat: refunds of one order at least 1 minute apart
	}
	return s.retry(ctx, j, s.d.Clock.Now().Add(delay), r.LastError)
}

// apply records what WeChat says of a refund (reply, query or
// notification) and performs the consequences of a state change exactly
// once: refunded + timeline on SUCCESS, alerts on ABNORMAL and CLOSED.
func (s *RefundService) apply(ctx context.Context, outRefundNo string, res RefundResult, raw *RawEvent) (*Refund, error) {
	to, ok := refundStateOf(res.Status)
	if !ok {
		return nil, fmt.Errorf("refund %s: unknown status %q", outRefundNo, res.Status)
	}
	changed := false
	r, err := s.d.Refunds.UpdateRefund(ctx, outRefundNo, func(r *Refund) error {
		if r.Status == to || r.Status.Final() {
			return ErrNoChange // a repeat, or a final state: nothing moves
		}
		changed = true
		return r.Record(res, s.d.Clock.Now())
	})
	if err != nil {
		return nil, err
	}
	switch {
	case r.Status == RefundStateSuccess:
		// Also on a repeat: the batch move is conditional, and it repairs a
		// crash between the refund row and the batch.
		return r, s.markRefunded(ctx, r, raw)
	case changed && to == RefundStateAbnormal:
		return r, s.note(ctx, r, raw, "refund_abnormal", "退款异常（如银行卡已注销或冻结），工作人员将人工处理，请留意通知",
			&Alert{Kind: AlertRefundAbnormal, Ref: r.OutRefundNo, Detail: "WeChat reports ABNORMAL; handle the refund in the merchant console"})
	case changed && to == RefundStateClosed:
		return r, s.note(ctx, r, raw, "refund_closed", "退款已关闭，工作人员将人工处理",
			&Alert{Kind: AlertRefundClosed, Ref: r.OutRefundNo, Detail: "WeChat closed the refund; decide and retry from the admin API"})
	case raw != nil:
		return r, s.note(ctx, r, raw, "", "", nil)
	}
	return r, nil
}

// refundMismatch compares what WeChat says of a refund with our row: the
// out_refund_no, the out_trade_no, the refunded amount and the order total
// must all be ours. It returns what differs, or "". WeChat always sends
// them, so a missing value is a difference too.
func refundMismatch(r *Refund, res RefundResult) string {
	var diffs []string
	if res.OutRefundNo != r.OutRefundNo {
		diffs = append(diffs, fmt.Sprintf("out_refund_no %q, want %q", res.OutRefundNo, r.OutRefundNo))
	}
	if res.OutTradeNo != r.OutTradeNo {
		diffs = append(diffs, fmt.Sprintf("out_trade_no %q, want %q", res.OutTradeNo, r.OutTradeNo))
	}
	if res.RefundFen != r.AmountFen {
		diffs = append(diffs, fmt.Sprintf("refund %d fen, want %d", res.RefundFen, r.AmountFen))
	}
	if res.TotalFen != r.TotalFen {
		diffs = append(diffs, fmt.Sprintf("total %d fen, want %d", res.TotalFen, r.TotalFen))
	}
	return strings.Join(diffs, "; ")
}

// note writes a timeline event, an alert and the raw event without changing
// the batch.
func (s *RefundService) note(ctx context.Context, r *Refund, raw *RawEvent, typ, detail string, a *Alert) error {
	_, err := s.d.Orders.UpdateBatch(ctx, r.OutTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		if typ != "" {
			fx.Event(b.Seq, typ, detail)
		}
		if a != nil {
			fx.Alerts = append(fx.Alerts, *a)
		}
		fx.Raw = raw
		return ErrNoChange
	})
	return err
}

func (s *RefundService) markRefunded(ctx context.Context, r *Refund, raw *RawEvent) error {
	_, err := s.d.Orders.UpdateBatch(ctx, r.OutTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		fx.Raw = raw
		if b.Status != StatusRefunding {
			return ErrNoChange
		}
		if err := b.MarkRefunded(); err != nil {
			return err
		}
		fx.Event(b.Seq, "refunded", fmt.Sprintf("%s 元已原路退回%s。%s", r.AmountFen.String(), receivedText(r.UserReceivedAccount), ExpectedArrival(r.Channel)))
		return nil
	})
	if errors.Is(err, ErrStale) {
		return nil
	}
	return err
}

func receivedText(account string) string {
	if account == "" {
		return ""
	}
	return "至" + account
}

// ExpectedArrival says when refunded money reaches the user by channel.
// Illustrative figures: WeChat balance immediately, bank cards within 1-3
// working days depending on the bank.
func ExpectedArrival(channel string) string {
	switch channel {
	case "BALANCE", "OTHER_BALANCE":
		return "退回微信零钱，通常即时到账"
	case "ORIGINAL", "OTHER_BANKCARD":
		return "退回银行卡，预计1-3个工作日到账（以银行为准）"
	}
	return "零钱支付即时到账，银行卡支付预计1-3个工作日到账（以银行为准）"
}

// HandleRefundEvent applies a verified REFUND.SUCCESS/ABNORMAL/CLOSED
// notification. Duplicates change nothing; an unknown or mismatching refund
// is acknowledged and alerted (WeChat would otherwise retry for 24 hours).
func (s *RefundService) HandleRefundEvent(ctx context.Context, ev RefundEvent) error {
	rr := ev.Refund
	r, err := s.d.Refunds.FindRefund(ctx, rr.OutRefundNo)
	if isNotFound(err) {
		return s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertUnknownRefund, Ref: rr.OutRefundNo, Detail: "refund notification " + ev.EventID + " for an unknown out_refund_no"})
	}
	if err != nil {
		return err
	}
	raw := &RawEvent{EventID: ev.EventID, Source: "notify", EventType: ev.EventType, OutTradeNo: r.OutTradeNo,
		TransactionID: rr.TransactionID, Body: string(ev.Plaintext)}
	why := refundMismatch(r, rr)
	if why == "" && rr.MchID != s.d.MchID {
		why = fmt.Sprintf("mchid %q, want %q", rr.MchID, s.d.MchID)
	}
	if why != "" {
		return s.note(ctx, r, raw, "", "", &Alert{Kind: AlertNotifyMismatch, Ref: r.OutRefundNo,
			Detail: "refund notification " + ev.EventID + " does not match ours: " + why})
	}
	switch ev.EventType {
	case "REFUND.SUCCESS":
		rr.Status = RefundSuccess
	case "REFUND.ABNORMAL":
		rr.Status = RefundAbnormal
	case "REFUND.CLOSED":
		rr.Status = RefundClosed
	default:
		if rr.Status == "" {
			return Invalid("invalid_event", "未知的退款通知类型")
		}
	}
	_, err = s.apply(ctx, r.OutRefundNo, rr, raw)
	return err
}

// Retry asks for a stuck refund to be sent again (operations). A pending,
// processing or abnormal refund is worked again under its own
// out_refund_no. A CLOSED refund cannot be reopened at WeChat, so the retry
// is a new attempt under the next deterministic number
// (RefundAttemptNo(out_trade_no, n+1)); repeating the retry of the same
// closed refund returns that attempt. A successful refund, or a closed one
// that a later attempt already replaced, cannot be retried.
func (s *RefundService) Retry(ctx context.Context, outRefundNo string) (before, after *Refund, err error) {
	before, err = s.d.Refunds.FindRefund(ctx, outRefundNo)
	if isNotFound(err) {
		return nil, nil, NotFound("退款单不存在")
	}
	if err != nil {
		return nil, nil, err
	}
	if before.Status == RefundStateSuccess {
		return nil, nil, Errorf(KindConflict, "refund_succeeded", "退款已成功，无需重试")
	}
	after = before
	if before.Status == RefundStateClosed {
		next := RefundAttemptNo(before.OutTradeNo, before.Attempt+1)
		latest, err := s.d.Refunds.FindRefundByTrade(ctx, before.OutTradeNo)
		if err != nil {
			return nil, nil, err
		}
		if latest.Attempt > before.Attempt {
			switch {
			case latest.Status == RefundStateSuccess:
				return nil, nil, Errorf(KindConflict, "refund_succeeded", "退款已由退款单 %s 成功退回，无需重试", latest.OutRefundNo)
			case latest.OutRefundNo == next && latest.Status != RefundStateClosed:
				// A repeated retry: the new attempt exists and is under way.
				return before, latest, s.d.Waker.WakeJob(ctx, JobRefundBatch, latest.OutTradeNo)
			}
			return nil, nil, Errorf(KindConflict, "refund_superseded", "该退款已由退款单 %s 重新发起，请对其操作", latest.OutRefundNo)
		}
		after, err = s.d.Refunds.CreateRefund(ctx, &Refund{OutRefundNo: next, Attempt: before.Attempt + 1, OutTradeNo: before.OutTradeNo,
			OrderNo: before.OrderNo, TransactionID: before.TransactionID, AmountFen: before.AmountFen, TotalFen: before.TotalFen,
			Reason: before.Reason, Detail: before.Detail, Status: RefundStatePending})
		if err != nil {
			return nil, nil, err
		}
		if err := s.note(ctx, after, nil, "refund_retried", fmt.Sprintf("退款已重新发起（第 %d 次）", after.Attempt), nil); err != nil {
			return nil, nil, err
		}
	}
	return before, after, s.d.Waker.WakeJob(ctx, JobRefundBatch, after.OutTradeNo)
}

// RefundView is a batch's refund as the user sees it.
type RefundView struct {
	OutRefundNo     string
	Status          RefundState
	AmountFen       Fen
	Reason          RefundReason
	ReasonText      string
	ExpectedArrival string
	Channel         string
	SuccessAt       time.Time
}

// View returns the refund of a batch, or nil when it has none.
func (s *RefundService) View(ctx context.Context, outTradeNo string) (*RefundView, error) {
	r, err := s.d.Refunds.FindRefundByTrade(ctx, outTradeNo)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &RefundView{OutRefundNo: r.OutRefundNo, Status: r.Status, AmountFen: r.AmountFen, Reason: r.Reason,
		ReasonText: r.Reason.Text(), ExpectedArrival: ExpectedArrival(r.Channel), Channel: r.Channel, SuccessAt: r.SuccessAt}, nil
}

// CallGuard is a short-lived exclusive key (Redis SET NX with a token) that
// keeps two callers from sending the same external call at the same moment.
// It is a fast path on top of the database state guard, never instead of it.
type CallGuard interface {
	// Acquire returns ok=false when someone else holds key. release frees it
	// only if this caller still holds it.
	Acquire(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error)
}
