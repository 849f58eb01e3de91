package api

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// NotifyParser verifies and decrypts a WeChat Pay notification from its
// headers and raw body. It returns service.TransactionEvent or
// service.RefundEvent. wxpay.NotifyParser implements it.
type NotifyParser interface {
	Parse(h http.Header, body []byte) (any, error)
}

// RefundEventHandler applies verified refund notifications.
type RefundEventHandler interface {
	HandleRefundEvent(ctx context.Context, ev service.RefundEvent) error
}

// NotifyDeduper remembers processed notification event ids (the Redis fast
// path; the database decides). cache.SeenStore implements it.
type NotifyDeduper interface {
	Seen(ctx context.Context, eventID string) (bool, error)
	Mark(ctx context.Context, eventID string) error
}

// MaxNotifyBody is the largest notification body read.
const MaxNotifyBody = 1 << 20

// notifyFail answers WeChat Pay in its own format (not our envelope):
// 4XX/5XX with {"code":"FAIL","message":...}; WeChat retries on these.
func notifyFail(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"code": "FAIL", "message": msg})
}

// notify receives WeChat Pay notifications. The raw body is read first (the
// signature covers its exact bytes). Verification failures answer 401,
// malformed ones 400; a first delivery, a duplicate and an out_trade_no that
// is not ours answer 204; a notification that disagrees with our order
// answers 400 (alerted); anything we could not write answers 500 so WeChat
// retries.
func (h *orderHandlers) notify(c *gin.Context) {
	m := h.deps.Metrics
	if m == nil {
		m = service.NopMetrics{}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxNotifyBody))
	if err != nil {
		m.NotifyOutcome(service.NotifyRefused, "malformed")
		notifyFail(c, http.StatusBadRequest, "body unreadable or too large")
		return
	}
	ev, err := h.deps.Notify.Parse(c.Request.Header, body)
	if err != nil {
		logger(c).Warn("wechat pay notification rejected", "err", err)
		if h.deps.NotifyMalformed != nil && h.deps.NotifyMalformed(err) {
			m.NotifyOutcome(service.NotifyRefused, "malformed")
			notifyFail(c, http.StatusBadRequest, "malformed notification")
			return
		}
		m.NotifyOutcome(service.NotifyRefused, "signature")
		notifyFail(c, http.StatusUnauthorized, "signature verification failed")
		return
	}
	ctx := c.Request.Context()
	var eventID string
	var handle func() error
	dedupe := h.deps.Dedupe
	switch ev := ev.(type) {
	case service.TransactionEvent:
		// No Redis on the payment path: the first delivery is one
		// conditional write, and a repeat finds the batch already paid in
		// the same round trip a Redis lookup would cost (docs/performance.md).
		dedupe = nil
		eventID = ev.EventID
		handle = func() error {
			err := h.deps.Orders.HandleTransaction(ctx, ev)
			if errors.Is(err, service.ErrUnknownTrade) {
				logger(c).Warn("notification for an unknown out_trade_no acknowledged (alerted)", "out_trade_no", ev.Trade.OutTradeNo)
				return nil
			}
			return err
		}
	case service.RefundEvent:
		eventID = ev.EventID
		if h.deps.Refunds == nil {
			notifyFail(c, http.StatusInternalServerError, "refund notifications not handled yet")
			return
		}
		handle = func() error { return h.deps.Refunds.HandleRefundEvent(ctx, ev) }
	default:
		m.NotifyOutcome(service.NotifyRefused, "unsupported")
		notifyFail(c, http.StatusBadRequest, "unsupported event")
		return
	}
	if dedupe != nil && eventID != "" {
		if seen, err := dedupe.Seen(ctx, eventID); err == nil && seen {
			m.NotifyOutcome(service.NotifyDuplicate, "")
			c.Status(http.StatusNoContent)
			return
		}
	}
	if err := handle(); err != nil {
		if service.ErrorKind(err) == service.KindInvalid {
			logger(c).Error("wechat pay notification refused (alerted)", "event_id", eventID, "err", err)
			notifyFail(c, http.StatusBadRequest, "notification does not match the order")
			return
		}
		logger(c).Error("wechat pay notification failed", "event_id", eventID, "err", err)
		notifyFail(c, http.StatusInternalServerError, "internal error")
		return
	}
	if dedupe != nil && eventID != "" {
		if err := dedupe.Mark(context.WithoutCancel(ctx), eventID); err != nil {
			logger(c).Warn("notification dedupe mark", "err", err)
		}
	}
	c.Status(http.StatusNoContent)
}
