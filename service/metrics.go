package service

// Metrics receives the events that only the code sees as they happen
// (counters). Numbers that live in the database (outbox depth, open holds
// and alerts, refunds by state, reconciliation mismatches) are read at
// scrape time instead. The Prometheus implementation is in package metrics;
// service/ does not import it.
type Metrics interface {
	// NotifyOutcome counts a WeChat Pay notification: outcome is one of
	// NotifyFirst, NotifyDuplicate, NotifyRefused (reason: signature,
	// malformed, unsupported), NotifyMismatch, NotifyUnknownTrade,
	// NotifyPaidAfterClose or NotifyError.
	NotifyOutcome(outcome, reason string)
	// PostingAttempt counts one call to the provincial platform by result:
	// accepted, pending, rejected or unknown (timeout, 5xx, unreadable).
	PostingAttempt(result string)
	// UnknownOutcome counts a call to a peer whose outcome we do not know
	// (operation: posting, refund, ...); the work is retried, never taken as
	// a "no".
	UnknownOutcome(operation string)
}

// Notification outcomes for Metrics.NotifyOutcome.
const (
	NotifyFirst          = "first"
	NotifyDuplicate      = "duplicate"
	NotifyRefused        = "refused"
	NotifyMismatch       = "mismatch"
	NotifyUnknownTrade   = "unknown_trade"
	NotifyPaidAfterClose = "paid_after_close"
	NotifyError          = "error"
)

// NopMetrics discards every event.
type NopMetrics struct{}

func (NopMetrics) NotifyOutcome(string, string) {}
func (NopMetrics) PostingAttempt(string)        {}
func (NopMetrics) UnknownOutcome(string)        {}

// metricsOr returns m, or NopMetrics when m is nil.
func metricsOr(m Metrics) Metrics {
	if m == nil {
		return NopMetrics{}
	}
	return m
}
