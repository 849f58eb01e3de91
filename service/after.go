package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
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
	FindAlerts(ctx context.Context, status AlertStatus, limit int) ([]Alert, error)
}

// CallGuard is a short-lived exclusive key (Redis SET NX with a token) that
// keeps two callers from sending the same external call at the same moment.
// It is a fast path on top of the database state guard, never instead of it.
type CallGuard interface {
	// Acquire returns ok=false when someone else holds key. release frees it
	// only if this caller still holds it.
	Acquire(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error)
}

// ShanghaiDay returns the [start, end) of the Asia/Shanghai calendar day
// containing t, in UTC.
func ShanghaiDay(t time.Time) (time.Time, time.Time) {
	l := t.In(Shanghai)
	start := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, Shanghai)
	return start.UTC(), start.AddDate(0, 0, 1).UTC()
}

// AddWorkingDays adds n working days (Monday to Friday, Asia/Shanghai) to t,
// keeping the time of day: Friday 10:00 + 3 = Wednesday 10:00. Public
// holidays and the make-up working weekends (调休) are out of scope: they
// need a yearly calendar published by the State Council.
func AddWorkingDays(t time.Time, n int) time.Time {
	l := t.In(Shanghai)
	for n > 0 {
		l = l.AddDate(0, 0, 1)
		if wd := l.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return l.UTC()
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

// ErrorText returns err's text cut to n bytes on a rune boundary, for
// last_error columns and alert details.
func ErrorText(err error, n int) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// isNotFound reports whether err wraps ErrNotFound.
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
