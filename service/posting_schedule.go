package service

import (
	"time"
)

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
