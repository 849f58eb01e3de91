package model_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// A worker whose lease expired may neither renew, complete nor retry the
// job: another worker may hold it by now. The old Complete/Retry checked the
// owner only, so a late worker completed a job someone else was working.
func TestExpiredLeaseCannotRenewCompleteOrRetry(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		ob := model.NewOutbox(db)
		if err := ob.Enqueue(ctx, service.OutboxJob{Kind: service.JobPostBatch, Ref: "L1_01"}); err != nil {
			t.Fatal(err)
		}
		jobs, err := ob.Claim(ctx, service.JobPostBatch, "a", time.Minute, 1)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v %v", jobs, err)
		}
		id := jobs[0].ID
		if _, err := ob.Renew(ctx, id, "a", time.Minute); err != nil {
			t.Fatalf("renew within the lease: %v", err)
		}
		if _, err := ob.Renew(ctx, id, "b", time.Minute); !errors.Is(err, service.ErrStale) {
			t.Fatalf("renew by another owner: got %v, want ErrStale", err)
		}
		clock.Advance(2 * time.Minute) // a's lease is over
		if _, err := ob.Renew(ctx, id, "a", time.Minute); !errors.Is(err, service.ErrStale) {
			t.Fatalf("renew after expiry: got %v, want ErrStale", err)
		}
		if err := ob.Complete(ctx, id, "a"); !errors.Is(err, service.ErrStale) {
			t.Fatalf("complete after expiry: got %v, want ErrStale", err)
		}
		if err := ob.Retry(ctx, id, "a", clock.Now(), "x"); !errors.Is(err, service.ErrStale) {
			t.Fatalf("retry after expiry: got %v, want ErrStale", err)
		}
		jobs, err = ob.Claim(ctx, service.JobPostBatch, "b", time.Minute, 1)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim by b after expiry: %v %v", jobs, err)
		}
		if err := ob.Complete(ctx, id, "b"); err != nil {
			t.Fatalf("complete by b: %v", err)
		}
	})
}
