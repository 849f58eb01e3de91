package service

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// jobRunner is what a worker of one outbox job kind needs to claim, retry
// and complete its jobs: the posting, refund and credit workers share it
// (the refund and credit services embed theirs).
type jobRunner struct {
	Outbox Outbox
	Kind   string
	Owner  string
	Lease  time.Duration
	Clock  Clock
	Log    *slog.Logger
	// What names the job in log lines ("posting", "refund").
	What string
	// RefKey names the job's Ref in log lines; "out_trade_no" when empty.
	RefKey string
	// Delay is the wait before a job whose work failed is tried again;
	// RetryDelay of its attempts when nil.
	Delay func(OutboxJob) time.Duration
}

// runOnce claims due jobs one at a time, so a job's lease only ever covers
// the job being worked, and works at most 20 of them. It returns how many it
// claimed; errors of single jobs are logged and the job retried after
// RetryDelay, so unexpected errors (database, a missing row) back off like
// platform failures. ErrStale from work or retry means the lease ended and
// whoever holds the job now finishes it.
func (r jobRunner) runOnce(ctx context.Context, work func(context.Context, OutboxJob) error) (int, error) {
	n := 0
	for n < 20 {
		jobs, err := r.Outbox.Claim(ctx, r.Kind, r.Owner, r.Lease, 1)
		if err != nil || len(jobs) == 0 {
			return n, err
		}
		n++
		j := jobs[0]
		if err := work(ctx, j); err != nil {
			if errors.Is(err, ErrStale) {
				continue
			}
			refKey, delay := r.RefKey, RetryDelay(j.Attempts)
			if refKey == "" {
				refKey = "out_trade_no"
			}
			if r.Delay != nil {
				delay = r.Delay(j)
			}
			r.Log.Error(r.What+" job failed", refKey, j.Ref, "err", err)
			if rerr := r.retry(ctx, j, r.Clock.Now().Add(delay), ErrorText(err, 400)); rerr != nil {
				r.Log.Error(r.What+" job retry failed", refKey, j.Ref, "err", rerr)
			}
		}
	}
	return n, nil
}

// retry hands job j back to be claimed again at next, noting why. ErrStale
// (the lease ended; whoever holds the job now finishes it) is not an error.
func (r jobRunner) retry(ctx context.Context, j OutboxJob, next time.Time, why string) error {
	err := r.Outbox.Retry(ctx, j.ID, r.Owner, next, why)
	if errors.Is(err, ErrStale) {
		return nil
	}
	return err
}

// complete ends job j; ErrStale is not an error, as for retry.
func (r jobRunner) complete(ctx context.Context, j OutboxJob) error {
	err := r.Outbox.Complete(ctx, j.ID, r.Owner)
	if errors.Is(err, ErrStale) {
		return nil
	}
	return err
}
