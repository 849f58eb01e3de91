package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shebao/sipay/redact"
)

// This file holds what the after-payment flow (posting, refunds, holds,
// vouchers, reconciliation, operations) shares: the small interfaces it
// consumes, the retry schedule and the business-day arithmetic.

// RetryWindow is how long a paid batch whose posting keeps failing is
// retried before its money goes back by the original route. It starts at
// the WeChat success_time (Batch.PaidAt) and is extended by the time the
// batch spent in a risk hold (see HoldService.Extension).
const RetryWindow = 72 * time.Hour

// PostingBackoff is the documented retry schedule of a failing posting:
// 1m, 5m, 15m, 30m, 1h, 2h, 4h, then every PostingBackoffTail, each retry
// capped at the deadline so the last attempt happens exactly at it.
var PostingBackoff = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour}

// PostingBackoffTail is the interval after the schedule is exhausted.
const PostingBackoffTail = 6 * time.Hour

// RetryDelay returns the wait after the n-th consecutive failure (1-based).
func RetryDelay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n <= len(PostingBackoff) {
		return PostingBackoff[n-1]
	}
	return PostingBackoffTail
}

// PersonFinder reads an insured person with plaintext identity, which the
// provincial platform needs. The identity helper's store implements it.
type PersonFinder interface {
	// FindPerson returns ErrNotFound when the person does not exist.
	FindPerson(ctx context.Context, id int64) (*Person, error)
}

// QuoteByID reads an issued quote by id, whoever owns it; the quote store
// (model.QuoteStore) implements it.
type QuoteByID interface {
	// FindQuoteByID returns ErrNotFound when the quote does not exist.
	FindQuoteByID(ctx context.Context, id string) (*Quote, error)
}

// FamilyBindings answers whether a payer may pay for another person: a
// family binding the insured person consented to (家庭共济/代缴授权).
type FamilyBindings interface {
	HasConsentedBinding(ctx context.Context, payerUserID, personID int64) (bool, error)
}

// JobWaker makes the outbox job (kind, ref) due now, reopening it if it was
// done. Operations use it after a release or a refund retry.
type JobWaker interface {
	WakeJob(ctx context.Context, kind, ref string) error
}

// AlertFinder lists operations alerts.
type AlertFinder interface {
	FindAlerts(ctx context.Context, status string, limit int) ([]Alert, error)
}

// SplitOutTradeNo returns the order number and batch seq of an out_trade_no
// made by OutTradeNo.
func SplitOutTradeNo(outTradeNo string) (string, int, bool) {
	i := strings.LastIndexByte(outTradeNo, '_')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.Atoi(outTradeNo[i+1:])
	if err != nil || seq < 1 {
		return "", 0, false
	}
	return outTradeNo[:i], seq, true
}

// findBatch loads the order of outTradeNo and returns it with the batch.
func findBatch(ctx context.Context, orders OrderStore, outTradeNo string) (*Order, *Batch, error) {
	orderNo, _, ok := SplitOutTradeNo(outTradeNo)
	if !ok {
		return nil, nil, fmt.Errorf("find batch %q: %w", outTradeNo, ErrNotFound)
	}
	o, err := orders.FindOrder(ctx, orderNo)
	if err != nil {
		return nil, nil, err
	}
	for i := range o.Batches {
		if o.Batches[i].OutTradeNo == outTradeNo {
			return o, &o.Batches[i], nil
		}
	}
	return nil, nil, fmt.Errorf("find batch %q: %w", outTradeNo, ErrNotFound)
}

// ErrorText returns err's text clipped to n bytes on a rune boundary
// (redact.Clip), for last_error columns and alert details.
func ErrorText(err error, n int) string {
	if err == nil {
		return ""
	}
	return redact.Clip(err.Error(), n)
}

// isNotFound reports whether err wraps ErrNotFound.
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
