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

// TestOutboxRenewAtTheClaimInstantKeepsTheLease: a renewal that writes the
// values already stored (same clock instant as the claim) still holds the
// lease. MySQL reports 0 affected rows for such an update; counting it as a
// lost lease made every worker on an injected clock drop every job.
// The simulation test found it (TestAfterPaymentSimulation/mysql).
func TestOutboxRenewAtTheClaimInstantKeepsTheLease(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		ob := model.NewOutbox(db)
		if err := ob.Enqueue(ctx, service.OutboxJob{Kind: service.JobPostBatch, Ref: "T1_01"}); err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		jobs, err := ob.Claim(ctx, service.JobPostBatch, "a", 2*time.Minute, 1)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v, %d jobs", err, len(jobs))
		}
		id := jobs[0].ID
		until, err := ob.Renew(ctx, id, "a", 2*time.Minute)
		if err != nil {
			t.Fatalf("renew at the claim instant: got %v, want the lease kept", err)
		}
		if want := clock.Now().Add(2 * time.Minute); !until.Equal(want) {
			t.Fatalf("renewed until %v, want %v", until, want)
		}
		if _, err := ob.Renew(ctx, id, "a", 2*time.Minute); err != nil {
			t.Fatalf("second renew at the same instant: %v", err)
		}
		// Another owner never renews it, and an expired lease is lost.
		if _, err := ob.Renew(ctx, id, "b", 2*time.Minute); !errors.Is(err, service.ErrStale) {
			t.Fatalf("renew by another owner: got %v, want ErrStale", err)
		}
		clock.Advance(3 * time.Minute)
		if _, err := ob.Renew(ctx, id, "a", 2*time.Minute); !errors.Is(err, service.ErrStale) {
			t.Fatalf("renew after the lease expired: got %v, want ErrStale", err)
		}
	})
}
