package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

// MaxNotifyBody is the largest WeChat Pay notification body read.
const MaxNotifyBody = 1 << 20

// PayEvent is a verified, decrypted WeChat Pay notification: a
// TransactionEvent or a RefundEvent, nothing else (the unexported method
// seals the set).
type PayEvent interface{ payEvent() }

func (TransactionEvent) payEvent() {}
func (RefundEvent) payEvent()      {}

// Codes of the notification errors. A parse failure is a *Error of
// KindInvalid (malformed: 400) or KindUnauthenticated (verification failed:
// 401); WeChat sees only the status and retries.
const (
	CodeNotifyMalformed = "notify_malformed"
	CodeNotifySignature = "notify_signature"
)

// NotifyMalformed returns the error of a notification that is not what
// WeChat sends (headers, size, JSON, algorithm); cause says why.
func NotifyMalformed(cause error) *Error {
	return &Error{Kind: KindInvalid, Code: CodeNotifyMalformed, Message: "malformed notification", Err: cause}
}

// NotifyUnverified returns the error of a notification whose signature,
// serial, timestamp or encryption did not verify; cause says why.
func NotifyUnverified(cause error) *Error {
	return &Error{Kind: KindUnauthenticated, Code: CodeNotifySignature, Message: "signature verification failed", Err: cause}
}

// NotifyParser verifies and decrypts a WeChat Pay notification from its
// headers and raw body (wxpay.NotifyParser). Errors are NotifyMalformed or
// NotifyUnverified values.
type NotifyParser interface {
	Parse(h http.Header, body []byte) (PayEvent, error)
}

// TransactionHandler applies verified payment notifications (OrderService).
type TransactionHandler interface {
	HandleTransaction(ctx context.Context, ev TransactionEvent) error
}

// RefundEventHandler applies verified refund notifications (RefundService).
type RefundEventHandler interface {
	HandleRefundEvent(ctx context.Context, ev RefundEvent) error
}

// EventDedupe remembers processed notification event ids: the Redis fast
// path, the database decides (cache.SeenStore).
type EventDedupe interface {
	Seen(ctx context.Context, eventID string) (bool, error)
	Mark(ctx context.Context, eventID string) error
}

// NotifyDeps are the NotifyService's dependencies.
type NotifyDeps struct {
	Parser NotifyParser
	Orders TransactionHandler
	// Refunds (optional) applies REFUND.* notifications; without it they
	// are answered 500 so WeChat retries later.
	Refunds RefundEventHandler
	// Dedupe (optional) answers repeated refund notifications without
	// the database.
	Dedupe  EventDedupe
	Metrics Metrics // optional
	Log     *slog.Logger
}

// NotifyService receives WeChat Pay notifications: it verifies them and
// hands each event to the use case it belongs to.
type NotifyService struct{ d NotifyDeps }

// NewNotifyService returns a NotifyService; it panics on a missing
// dependency.
func NewNotifyService(d NotifyDeps) *NotifyService {
	if d.Parser == nil || d.Orders == nil || d.Log == nil {
		panic("service: NewNotifyService: missing dependency")
	}
	d.Metrics = metricsOr(d.Metrics)
	return &NotifyService{d: d}
}

// Receive verifies, decrypts and applies one notification; h and body are
// exactly what arrived. It returns nil for work done now or before (a
// first delivery, a repeat, an out_trade_no that is not ours: alerted, and a
// retry could not change it). Errors: KindInvalid for a malformed
// notification or one that disagrees with our order (alerted),
// KindUnauthenticated when verification failed, KindInternal when the
// change could not be written (WeChat retries).
func (s *NotifyService) Receive(ctx context.Context, h http.Header, body io.Reader) error {
	raw, err := io.ReadAll(io.LimitReader(body, MaxNotifyBody+1))
	if err == nil && len(raw) > MaxNotifyBody {
		err = fmt.Errorf("body over %d bytes", MaxNotifyBody)
	}
	if err != nil {
		s.d.Metrics.NotifyOutcome(NotifyRefused, "malformed")
		return NotifyMalformed(fmt.Errorf("body unreadable or too large: %w", err))
	}
	ev, err := s.d.Parser.Parse(h, raw)
	if err != nil {
		reason := "malformed"
		if ErrorKind(err) == KindUnauthenticated {
			reason = "signature"
		}
		s.d.Metrics.NotifyOutcome(NotifyRefused, reason)
		return err
	}
	switch ev := ev.(type) {
	case TransactionEvent:
		return s.transaction(ctx, ev)
	case RefundEvent:
		return s.refund(ctx, ev)
	}
	panic(fmt.Sprintf("service: NotifyService: event %T", ev)) // sealed: unreachable
}

// transaction applies a payment. No Redis on this path: the first delivery
// is one conditional write, and a repeat finds the batch already paid in the
// same round trip a Redis lookup would cost (docs/performance.md).
func (s *NotifyService) transaction(ctx context.Context, ev TransactionEvent) error {
	err := s.d.Orders.HandleTransaction(ctx, ev)
	if errors.Is(err, ErrUnknownTrade) {
		s.d.Log.Warn("notification for an unknown out_trade_no acknowledged (alerted)", "out_trade_no", ev.Trade.OutTradeNo)
		return nil
	}
	return notifyApplyError(ev.EventID, err)
}

// refund applies a refund result, with the Redis fast path for repeats.
func (s *NotifyService) refund(ctx context.Context, ev RefundEvent) error {
	if s.d.Refunds == nil {
		return &Error{Kind: KindInternal, Code: CodeInternal, Message: "refund notifications not handled yet"}
	}
	dedupe := s.d.Dedupe != nil && ev.EventID != ""
	if dedupe {
		if seen, err := s.d.Dedupe.Seen(ctx, ev.EventID); err == nil && seen {
			s.d.Metrics.NotifyOutcome(NotifyDuplicate, "")
			return nil
		}
	}
	if err := s.d.Refunds.HandleRefundEvent(ctx, ev); err != nil {
		return notifyApplyError(ev.EventID, err)
	}
	if dedupe {
		if err := s.d.Dedupe.Mark(context.WithoutCancel(ctx), ev.EventID); err != nil {
			s.d.Log.Warn("notification dedupe mark", "err", err)
		}
	}
	return nil
}

// notifyApplyError keeps what a notification's reply may say: a refusal
// (KindInvalid: the notification disagrees with our data, alerted) or an
// internal error (anything else: WeChat retries).
func notifyApplyError(eventID string, err error) error {
	switch {
	case err == nil:
		return nil
	case ErrorKind(err) == KindInvalid:
		return &Error{Kind: KindInvalid, Code: ErrorCode(err), Message: "notification does not match the order",
			Err: fmt.Errorf("event %s: %w", eventID, err)}
	default:
		return &Error{Kind: KindInternal, Code: CodeInternal, Message: "internal error", Err: fmt.Errorf("event %s: %w", eventID, err)}
	}
}
