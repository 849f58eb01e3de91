package service

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// OrderStore persists orders and batches. Every batch state change goes
// through UpdateBatch, which runs the change and its side effects (timeline,
// raw event, outbox jobs, alerts) in one database transaction under a row
// lock, and recomputes the order status from its batches.
type OrderStore interface {
	// CreateOrder inserts the order, its batches and a "created" event.
	// Returns ErrDuplicate when an order already exists for the quote.
	CreateOrder(ctx context.Context, o *Order) error
	OrderFinder
	// FindOrderByQuote returns the order of a quote, or ErrNotFound.
	FindOrderByQuote(ctx context.Context, quoteID string) (*Order, error)
	// FindOrders lists a user's orders, newest first.
	FindOrders(ctx context.Context, f OrderFilter) ([]*Order, int, error)
	// FindBatches lists batches in a status whose UpdatedAt is before a time,
	// oldest first (pollers: missed notifies, expiry, holds).
	FindBatches(ctx context.Context, status OrderStatus, updatedBefore time.Time, limit int) ([]Batch, error)
	// UpdateBatch locks the order of outTradeNo, calls fn with it and the
	// batch, and persists what fn changed. fn returns ErrNoChange to commit
	// nothing (an idempotent repeat). The batch row is written with a
	// condition on its previous status, so a lost race returns ErrStale.
	UpdateBatch(ctx context.Context, outTradeNo string, fn BatchUpdater) (*Order, error)
	// SetPrepay stores the prepay_id of a pending batch with one
	// conditional write, no status change. It returns ErrStale when no
	// pending_payment batch has that out_trade_no.
	SetPrepay(ctx context.Context, outTradeNo, prepayID string, at time.Time) error
	// MarkPaid is the first delivery of a payment: with one conditional
	// write it moves the batch from pending_payment to paid when its amount
	// is p.AmountFen, and writes fx in the same transaction. It returns
	// false (and writes nothing) when no pending batch of that amount
	// exists: a repeat, a mismatch or an unknown trade, which the caller
	// sorts out through UpdateBatch.
	MarkPaid(ctx context.Context, p PaidBatch, fx *Effects) (bool, error)
	// OrderEvents returns the order's timeline, oldest first.
	OrderEvents(ctx context.Context, orderNo string) ([]OrderEvent, error)
	// RecordAlert stores an alert for operations outside any batch change;
	// a repeat of the same (kind, ref) is counted on the existing alert.
	RecordAlert(ctx context.Context, a Alert) error
}

// PaidBatch is the change MarkPaid makes: the batch moves From To with one
// conditional write whose WHERE clause requires From, the one status a
// first payment may leave (Batch.MarkPaid is the same transition on the slow
// path).
type PaidBatch struct {
	OrderNo       string
	Seq           int
	OutTradeNo    string
	AmountFen     Fen // the batch's amount; the write is conditional on it
	TransactionID string
	PaidAt        time.Time
}

// From is the status the write requires.
func (PaidBatch) From() OrderStatus { return StatusPendingPayment }

// To is the status the write sets.
func (PaidBatch) To() OrderStatus { return StatusPaid }

// ErrNoChange tells UpdateBatch that nothing needs writing.
var ErrNoChange = errors.New("no change")

// BatchUpdater changes a batch (and only that batch) and records effects.
type BatchUpdater func(o *Order, b *Batch, fx *Effects) error

// Effects are rows written in the same transaction as a batch change.
type Effects struct {
	Events []OrderEvent
	Outbox []OutboxJob
	Raw    *RawEvent
	Alerts []Alert
	// Hold decides the batch's open hold in the same transaction as the
	// batch's move, so that no reader sees the batch released while its
	// hold still reads open (nil: no hold is decided).
	Hold *HoldDecision
}

// HoldDecision decides an open hold: the store writes it only while the
// hold is still open.
type HoldDecision struct {
	OutTradeNo string
	Status     HoldStatus
	By         string
	At         time.Time
}

// Event appends a timeline event for the batch being changed.
func (fx *Effects) Event(seq int, typ, detail string) {
	fx.Events = append(fx.Events, OrderEvent{BatchSeq: seq, Type: typ, Detail: detail})
}

// OrderFinder finds an order with its batches (OrderStore implements it).
type OrderFinder interface {
	// FindOrder returns the order with its batches, or ErrNotFound.
	FindOrder(ctx context.Context, orderNo string) (*Order, error)
}

// findUserOrder returns userID's order orderNo. An unknown order and
// another user's order are the same not_found (with message msg), so a
// caller learns nothing about other users' order numbers.
func findUserOrder(ctx context.Context, orders OrderFinder, userID int64, orderNo, msg string) (*Order, error) {
	o, err := orders.FindOrder(ctx, orderNo)
	if isNotFound(err) || (err == nil && o.UserID != userID) {
		return nil, NotFound(msg)
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// OrderFilter selects orders.
type OrderFilter struct {
	UserID int64
	Offset int
	Limit  int
}

// OrderEvent is one line of an order's timeline.
type OrderEvent struct {
	OrderNo   string
	BatchSeq  int
	Type      string
	Detail    string
	CreatedAt time.Time
}

// RawEvent is a payment event as received, kept for audit. EventID is
// unique: a repeat of the same event writes nothing.
type RawEvent struct {
	EventID       string
	Source        string // notify | query
	EventType     string
	OutTradeNo    string
	TransactionID string
	Body          string
}

// OutboxJob is durable background work, unique per (Kind, Ref).
type OutboxJob struct {
	ID            int64
	Kind          string
	Ref           string
	Payload       string
	Attempts      int
	NextAttemptAt time.Time
	DeadlineAt    time.Time // zero when none
	LastError     string
	CreatedAt     time.Time
}

// Outbox job kinds.
const (
	JobPostBatch   = "post_batch"   // post a paid batch to the provincial platform
	JobRefundBatch = "refund_batch" // refund a batch to the original route
)

// Alert is something operations must look at. There is one alert per
// (Kind, Ref): a repeat raises Count and LastSeenAt, updates Detail and
// reopens a resolved alert.
type Alert struct {
	ID         int64
	Kind       string
	Ref        string // out_trade_no, out_refund_no or another key of what is wrong
	Detail     string
	Status     AlertStatus
	Count      int       // times raised
	LastSeenAt time.Time // when last raised
	CreatedAt  time.Time // when first raised
}

// Alert kinds: the one list of what operations may be asked to look at.
// docs/operations.md says what each means and what to do.
const (
	AlertNotifyMismatch    = "notify_mismatch"               // a verified notification disagrees with our order
	AlertUnknownTrade      = "unknown_trade"                 // a verified notification for an out_trade_no we never issued
	AlertPaidAfterClose    = "paid_after_close"              // WeChat reports money for a batch we closed, or a second transaction
	AlertRefundAbnormal    = "refund_abnormal"               // WeChat says the refund needs manual handling
	AlertRefundFailed      = "refund_failed"                 // a refund call failed; it is being retried
	AlertRefundClosed      = "refund_closed"                 // WeChat closed a refund; operations must act
	AlertUnknownRefund     = "unknown_refund"                // a refund notification for an out_refund_no we never issued
	AlertPostedAfterRefund = "posted_after_refund"           // the platform booked a batch whose money is being refunded
	AlertUnknownPosting    = "unknown_posting"               // a platform callback for a batch we do not know
	AlertPostingDelayed    = "posting_delayed"               // the platform has not confirmed within 3 working days
	AlertReconMismatch     = "recon_mismatch"                // reconciliation found a difference in the trade bill
	AlertPaymentState      = "payment_state"                 // WeChat's state of a trade contradicts ours (closing, cancelling, querying)
	AlertRefundState       = "refund_state"                  // a refund job or answer does not fit the batch's state
	AlertRefundMismatch    = "refund_mismatch"               // a signed refund answer or query names another trade or amount than ours
	AlertVoucherMismatch   = "voucher_mismatch"              // the platform's fiscal receipt amount differs from the batch; no voucher issued
	AlertPlatformFigure    = "platform_figure_out_of_bounds" // the platform's base or arrears are outside the bounds or inconsistent
	// Posting outcomes (money-posting): see docs/operations.md.
	AlertPostingOutcomeUnknown  = "posting_outcome_unknown"  // the 72 h window ended and the platform has not confirmed booked or void
	AlertPlatformConfigFault    = "platform_config_fault"    // the platform answered 400/401/403/409: fix our side; the money is kept
	AlertCallbackRegionMismatch = "callback_region_mismatch" // a callback's URL, event or credential region is not its batch's region
	AlertPostingAfterNonPaid    = "posting_state_mismatch"   // the platform accepted a batch that was never paid or not posting
	AlertMutualAidMismatch      = "mutual_aid_mismatch"      // the platform confirmed a different mutual-aid deduction than we sent
	// Customer service and notifications (service/ticket.go, subscribe.go).
	AlertTicketSLABreached = "ticket_sla_breached" // a ticket had no first response within the SLA (45 min of business time)
	AlertSubscribeRejected = "subscribe_rejected"  // WeChat refused a subscribe message for good (template id, keywords, page)
	// Step-up and evidence (docs/after-payment.md, docs/evidence.md).
	AlertStepUpMismatch   = "stepup_mismatch"   // a step-up face verification passed for another identity than the payer's; nothing released
	AlertEvidenceTampered = "evidence_tampered" // the evidence log no longer matches its records, nodes or signed head
)

// Outbox claims jobs with leases, so several instances never work one job at
// once and a crashed worker's job is taken again after its lease expires.
type Outbox interface {
	// Claim leases up to limit due jobs of kind to owner until now+lease.
	Claim(ctx context.Context, kind, owner string, lease time.Duration, limit int) ([]OutboxJob, error)
	// Renew extends owner's lease to now+lease before an external call and
	// returns the new end. ErrStale: the lease expired or another worker
	// holds the job; the caller must not call out.
	Renew(ctx context.Context, id int64, owner string, lease time.Duration) (time.Time, error)
	// Complete marks a job done if owner still holds an unexpired lease
	// (ErrStale otherwise).
	Complete(ctx context.Context, id int64, owner string) error
	// Retry releases a job to run again at next, recording the error, if
	// owner still holds an unexpired lease (ErrStale otherwise).
	Retry(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error
	// Enqueue adds a job outside a batch change; a duplicate (Kind, Ref) is
	// ignored.
	Enqueue(ctx context.Context, j OutboxJob) error
}

// JobWaker makes the outbox job (kind, ref) due now, reopening it if it was
// done. Operations use it after a release or a refund retry.
type JobWaker interface {
	WakeJob(ctx context.Context, kind, ref string) error
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
