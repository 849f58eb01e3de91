package service

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// jobRunner is what a worker of one outbox job kind needs to claim and
// retry its jobs: the posting and refund workers share it.
type jobRunner struct {
	Outbox Outbox
	Kind   string
	Owner  string
	Lease  time.Duration
	Clock  Clock
	Log    *slog.Logger
	// What names the job in log lines ("posting", "refund").
	What string
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
			r.Log.Error(r.What+" job failed", "out_trade_no", j.Ref, "err", err)
			next := r.Clock.Now().Add(RetryDelay(j.Attempts))
			if rerr := r.Outbox.Retry(ctx, j.ID, r.Owner, next, ErrorText(err, 400)); rerr != nil && !errors.Is(rerr, ErrStale) {
				r.Log.Error(r.What+" job retry failed", "out_trade_no", j.Ref, "err", rerr)
			}
		}
	}
	return n, nil
}
