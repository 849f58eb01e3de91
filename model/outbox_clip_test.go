package model_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// A long last_error is clipped on a rune boundary: "x" + 300 × "省" puts
// byte 480 inside a character (1 + 3×159 = 478), and a byte cut there wrote
// invalid UTF-8, which MySQL's utf8mb4 column refuses.
func TestOutboxRetryClipsLastErrorOnARuneBoundary(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		ob := model.NewOutbox(db)
		if err := ob.Enqueue(ctx, service.OutboxJob{Kind: service.JobPostBatch, Ref: "C1_01"}); err != nil {
			t.Fatal(err)
		}
		jobs, err := ob.Claim(ctx, service.JobPostBatch, "a", time.Minute, 1)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v %v", jobs, err)
		}
		if err := ob.Retry(ctx, jobs[0].ID, "a", clock.Now(), "x"+strings.Repeat("省", 300)); err != nil {
			t.Fatalf("retry: %v", err)
		}
		jobs, err = ob.Claim(ctx, service.JobPostBatch, "a", time.Minute, 1)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim again: %v %v", jobs, err)
		}
		got := jobs[0].LastError
		if !utf8.ValidString(got) || len(got) > 480 || !strings.HasPrefix(got, "x省省") {
			t.Fatalf("last_error %q (%d bytes): want valid UTF-8 within 480 bytes", got, len(got))
		}
	})
}
