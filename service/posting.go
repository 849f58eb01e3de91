package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// PostingRecord is what we know of a batch's posting at the platform.
type PostingRecord struct {
	OutTradeNo     string
	OrderNo        string
	Region         string
	Status         PostingStatus
	Reference      string // platform reference (受理编号)
	Reason         string
	Receipt        *PostingReceipt
	Failures       int // consecutive transient failures
	LastError      string
	FirstPendingAt time.Time // when the platform first answered pending
	DelayFlaggedAt time.Time // when the 3-working-day delay was flagged
	UpdatedAt      time.Time
}

// The changes of a posting record, one per answer of the platform. The
// store keeps a final status (PostingStatus.Final) once written.

// Pending records that the platform holds the posting under reference and
// will call back; it reports whether this is the first pending answer. The
// first one starts the 3-working-day delay clock (FirstPendingAt).
func (r *PostingRecord) Pending(reference string, at time.Time) (first bool) {
	first = r.Status != PostingPending
	r.Status, r.Reference, r.Failures, r.LastError = PostingPending, reference, 0, ""
	if r.FirstPendingAt.IsZero() {
		r.FirstPendingAt = at
	}
	return first
}

// Accept records the platform's booking under reference with its receipt.
func (r *PostingRecord) Accept(reference string, receipt *PostingReceipt) {
	r.Status, r.Reference, r.Receipt, r.LastError = PostingAccepted, reference, receipt, ""
}

// Reject records the platform's refusal for good.
func (r *PostingRecord) Reject(reason string) { r.Status, r.Reason = PostingRejected, reason }

// Void records that the platform will never book the key (its void answer,
// or operations' out-of-band confirmation).
func (r *PostingRecord) Void(reason string) { r.Status, r.Reason = PostingVoided, reason }

// Lost records that the platform no longer knows a posting it called
// pending: it is sent again under the same key.
func (r *PostingRecord) Lost() { r.Status = PostingNone }

// PostingStore persists posting records.
type PostingStore interface {
	// FindPosting returns ErrNotFound when the batch was never sent.
	FindPosting(ctx context.Context, outTradeNo string) (*PostingRecord, error)
	// SavePosting inserts or updates the record under a row lock. A final
	// status (accepted, rejected) is never replaced by pending or "", and
	// FirstPendingAt and DelayFlaggedAt are kept once set.
	SavePosting(ctx context.Context, r *PostingRecord) error
	// FindUnflaggedPending lists pending, unflagged records first answered
	// pending before a time.
	FindUnflaggedPending(ctx context.Context, pendingBefore time.Time, limit int) ([]PostingRecord, error)
	// MarkDelayFlagged sets DelayFlaggedAt once; false when already set.
	MarkDelayFlagged(ctx context.Context, outTradeNo string, at time.Time) (bool, error)
	// MarkFaultAlerted records, once, that a configuration fault of the
	// batch's posting was alerted; false when already recorded (or when the
	// batch has no posting record, which SavePosting creates first).
	MarkFaultAlerted(ctx context.Context, outTradeNo string, at time.Time) (bool, error)
}

// PostingDeps are the dependencies of a PostingService.
type PostingDeps struct {
	Orders   OrderStore
	Outbox   Outbox
	Platform Platform
	Persons  PersonFinder
	Quotes   QuoteByID
	Postings PostingStore
	Holds    *HoldService
	Refunds  *RefundService
	Vouchers *VoucherService
	Clock    Clock
	Log      *slog.Logger
	Metrics  Metrics // optional: posting attempts and unknown outcomes
	// Owner identifies this instance in outbox leases (host:pid:random).
	Owner string
	// Lease is how long a claimed job is ours (default 2m). A crashed
	// worker's job is claimed again after it.
	Lease time.Duration
}

// PostingService posts paid batches to the provincial platform with
// retries for RetryWindow, then refunds. It consumes JobPostBatch jobs.
//
// Decision: once the platform answered "pending" (it has the posting and
// will call back), the 72-hour auto-refund no longer applies: refunding a
// payment the platform may still book would move the money twice. The batch
// waits for the callback (polled with QueryPosting), is flagged for the user
// after 3 working days (information delay, contact 12333), and is refunded
// only if the platform finally rejects it.
type PostingService struct {
	d PostingDeps
}

// NewPostingService returns a PostingService. It panics on missing
// dependencies.
func NewPostingService(d PostingDeps) *PostingService {
	if d.Orders == nil || d.Outbox == nil || d.Platform == nil || d.Persons == nil || d.Quotes == nil ||
		d.Postings == nil || d.Holds == nil || d.Refunds == nil || d.Vouchers == nil || d.Clock == nil || d.Log == nil || d.Owner == "" {
		panic("service: NewPostingService: missing dependency")
	}
	if d.Lease <= 0 {
		d.Lease = 2 * time.Minute
	}
	return &PostingService{d: d}
}

// RunOnce claims due posting jobs one at a time and works them (see
// jobRunner.runOnce). It returns how many it claimed.
func (s *PostingService) RunOnce(ctx context.Context) (int, error) {
	return jobRunner{Outbox: s.d.Outbox, Kind: JobPostBatch, Owner: s.d.Owner, Lease: s.d.Lease,
		Clock: s.d.Clock, Log: s.d.Log, What: "posting"}.runOnce(ctx, s.Work)
}

// leaseCall renews the job's lease right before an external call and
// returns a context whose deadline lies inside the renewed lease: the call
// is cut before another worker could claim the job, so two workers never
// call out for one job at the same moment. ErrStale: the lease is lost and
// nothing may be called.
func leaseCall(ctx context.Context, ob Outbox, j OutboxJob, owner string, lease time.Duration) (context.Context, context.CancelFunc, error) {
	// The deadline is taken before the renewal, so it ends no later than
	// the lease does (lease counted from the renewal).
	cctx, cancel := context.WithTimeout(ctx, lease*3/4)
	if _, err := ob.Renew(ctx, j.ID, owner, lease); err != nil {
		cancel()
		return nil, nil, err
	}
	return cctx, cancel, nil
}

// Work advances one claimed job and completes or reschedules it.
func (s *PostingService) Work(ctx context.Context, j OutboxJob) error {
	o, b, err := findBatch(ctx, s.d.Orders, j.Ref)
	if isNotFound(err) {
		s.d.Log.Error("posting job for unknown batch", "out_trade_no", j.Ref)
		return s.complete(ctx, j)
	}
	if err != nil {
		return err
	}
	if b.Status == StatusPaid {
		if o, b, err = s.screen(ctx, o, b); err != nil {
			return err
		}
	}
	switch b.Status {
	case StatusHeld:
		return s.whileHeld(ctx, j, b)
	case StatusPosting:
		return s.post(ctx, j, o, b)
	case StatusConfirming:
		return s.confirm(ctx, j, o, b)
	case StatusPosted:
		// Acceptance may have been recorded by a callback or by a worker that
		// died before issuing vouchers: issuing is idempotent.
		if err := s.issueVouchers(ctx, o, b); err != nil {
			return err
		}
		return s.complete(ctx, j)
	default: // refunding, refunded: the refund job owns the batch now
		return s.complete(ctx, j)
	}
}

func (s *PostingService) complete(ctx context.Context, j OutboxJob) error {
	err := s.d.Outbox.Complete(ctx, j.ID, s.d.Owner)
	if errors.Is(err, ErrStale) {
		// Our lease expired and another worker took the job; it will finish.
		return nil
	}
	return err
}

func (s *PostingService) retry(ctx context.Context, j OutboxJob, next time.Time, why string) error {
	err := s.d.Outbox.Retry(ctx, j.ID, s.d.Owner, next, why)
	if errors.Is(err, ErrStale) {
		return nil
	}
	return err
}

// update runs UpdateBatch and repeats it when a concurrent writer won
// (ErrStale): the closure then sees the new state. No caller ignores it.
func (s *PostingService) update(ctx context.Context, outTradeNo string, fn BatchUpdater) (*Order, error) {
	return updateBatch(ctx, s.d.Orders, outTradeNo, fn)
}

func updateBatch(ctx context.Context, orders OrderStore, outTradeNo string, fn BatchUpdater) (*Order, error) {
	var err error
	for range 3 {
		var o *Order
		if o, err = orders.UpdateBatch(ctx, outTradeNo, fn); !errors.Is(err, ErrStale) {
			return o, err
		}
	}
	return nil, err
}

// screen runs the risk-hold rules on a paid batch and moves it to held or
// posting.
func (s *PostingService) screen(ctx context.Context, o *Order, b *Batch) (*Order, *Batch, error) {
	h, err := s.d.Holds.Screen(ctx, o, b)
	if err != nil {
		return nil, nil, err
	}
	move, typ, detail := (*Batch).StartPosting, "posting", "缴费已到账，正在向社保经办机构提交"
	if h != nil {
		move, typ = (*Batch).Hold, "held"
		detail = fmt.Sprintf("为保障资金安全，本笔缴费需复核（资金冻结），最迟于 %s 前处理完毕", h.ExpiresAt.In(Shanghai).Format("2006-01-02 15:04"))
	}
	_, err = s.update(ctx, b.OutTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		if b.Status != StatusPaid {
			return ErrNoChange
		}
		if err := move(b); err != nil {
			return err
		}
		fx.Event(b.Seq, typ, detail)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return findBatch(ctx, s.d.Orders, b.OutTradeNo)
}

// whileHeld parks the job until the hold expires; a release by operations
// wakes it earlier.
func (s *PostingService) whileHeld(ctx context.Context, j OutboxJob, b *Batch) error {
	h, err := s.d.Holds.Find(ctx, b.OutTradeNo)
	if err != nil {
		return err
	}
	now := s.d.Clock.Now()
	if !now.Before(h.ExpiresAt) {
		if _, err := s.d.Holds.Expire(ctx, h); err != nil {
			return err
		}
		return s.retry(ctx, j, now, "hold expired")
	}
	return s.retry(ctx, j, h.ExpiresAt, "held")
}

// deadline returns the end of the retry window of b: PaidAt + 72h, plus the
// time the batch spent held.
func (s *PostingService) deadline(ctx context.Context, j OutboxJob, b *Batch) (time.Time, error) {
	d := j.DeadlineAt
	if d.IsZero() {
		d = b.PaidAt.Add(RetryWindow)
	}
	ext, err := s.d.Holds.Extension(ctx, b.OutTradeNo)
	if err != nil {
		return time.Time{}, err
	}
	return d.Add(ext), nil
}

// ConfirmInterval caps the wait between two attempts to learn an unknown
// outcome (void or query): operations and the user are never left more than
// 5 minutes behind the platform.
const ConfirmInterval = 5 * time.Minute

func (s *PostingService) record(ctx context.Context, o *Order, b *Batch) (*PostingRecord, error) {
	rec, err := s.d.Postings.FindPosting(ctx, b.OutTradeNo)
	if isNotFound(err) {
		return &PostingRecord{OutTradeNo: b.OutTradeNo, OrderNo: o.No, Region: o.Region}, nil
	}
	return rec, err
}

// post sends (or, once the platform answered pending, polls) the posting
// of a batch in posting. At the deadline it stops posting and voids.
func (s *PostingService) post(ctx context.Context, j OutboxJob, o *Order, b *Batch) error {
	now := s.d.Clock.Now()
	deadline, err := s.deadline(ctx, j, b)
	if err != nil {
		return err
	}
	rec, err := s.record(ctx, o, b)
	if err != nil {
		return err
	}
	switch {
	case rec.Status == PostingVoided:
		// The void was confirmed but the refund did not begin (a crash).
		return s.refundVoided(ctx, j, b)
	case rec.Status == PostingPending:
		cctx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
		if err != nil {
			return err
		}
		res, callErr := s.d.Platform.QueryPosting(cctx, o.Region, b.OutTradeNo)
		cancel()
		return s.answer(ctx, j, o, b, rec, res, callErr, deadline, true)
	case !now.Before(deadline):
		// The window is over: we stop trying to post and ask the platform
		// never to book this key. Only its confirmation refunds.
		return s.void(ctx, j, o, b, rec)
	}
	p, err := s.buildPosting(ctx, o, b)
	if err != nil {
		return err
	}
	cctx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
	if err != nil {
		return err
	}
	res, callErr := s.d.Platform.PostPayment(cctx, p)
	cancel()
	return s.answer(ctx, j, o, b, rec, res, callErr, deadline, false)
}

// answer acts on the platform's answer to a posting or a posting query.
// Money moves only on a definite answer: accepted books; a 422, a query's
// rejected status, or posting_not_found once we stopped posting, refund.
// Configuration faults and transient errors keep the money.
func (s *PostingService) answer(ctx context.Context, j OutboxJob, o *Order, b *Batch, rec *PostingRecord,
	res PostingResult, callErr error, deadline time.Time, pending bool) error {
	now := s.d.Clock.Now()
	recordPostingAnswer(metricsOr(s.d.Metrics), res, callErr)
	var rej *PlatformRejection
	switch {
	case callErr == nil:
	case errors.As(callErr, &rej) && rej.Code == RejectPostingNotFound:
		// The platform lost (or never got) the posting it called pending.
		rec.Lost()
		if !now.Before(deadline) {
			return s.void(ctx, j, o, b, rec)
		}
		if err := s.saveFailure(ctx, rec, callErr); err != nil {
			return err
		}
		return s.retry(ctx, j, now, "platform lost the posting; resending with the same key")
	case errors.As(callErr, &rej):
		return s.reject(ctx, j, rec, b, rej.Code, rej.Reason)
	case IsConfigFault(callErr):
		return s.configFault(ctx, j, rec, b, callErr, deadline, pending)
	default:
		return s.transient(ctx, j, rec, b, callErr, deadline, pending)
	}
	switch res.Status {
	case PostingAccepted:
		return s.acceptAndComplete(ctx, j, rec, b.OutTradeNo, res)
	case PostingRejected:
		return s.reject(ctx, j, rec, b, "rejected", res.Reason)
	case PostingPending:
		return s.pending(ctx, j, rec, b, res)
	default:
		return s.transient(ctx, j, rec, b, fmt.Errorf("platform answered unknown status %q", res.Status), deadline, pending)
	}
}

func (s *PostingService) pending(ctx context.Context, j OutboxJob, rec *PostingRecord, b *Batch, res PostingResult) error {
	now := s.d.Clock.Now()
	first := rec.Pending(res.Reference, now)
	if err := s.d.Postings.SavePosting(ctx, rec); err != nil {
		return err
	}
	if first && b.Status == StatusPosting {
		if err := s.event(ctx, b.OutTradeNo, "posting_pending", "社保经办机构已受理提交，正在处理，受理编号 "+res.Reference); err != nil {
			return err
		}
	}
	// Poll until the callback arrives; the delay flag tells the user
	// after 3 working days.
	n := rec.Failures + j.Attempts
	return s.retry(ctx, j, now.Add(max(RetryDelay(n), 15*time.Minute)), "pending at platform")
}

// saveFailure counts a failed platform call on rec (its text, clipped, is
// the last error) and saves the record.
func (s *PostingService) saveFailure(ctx context.Context, rec *PostingRecord, callErr error) error {
	rec.Failures++
	rec.LastError = ErrorText(callErr, 400)
	return s.d.Postings.SavePosting(ctx, rec)
}

func (s *PostingService) transient(ctx context.Context, j OutboxJob, rec *PostingRecord, b *Batch, callErr error, deadline time.Time, pending bool) error {
	now := s.d.Clock.Now()
	if err := s.saveFailure(ctx, rec, callErr); err != nil {
		return err
	}
	if rec.Failures == 1 && !pending {
		if err := s.event(ctx, b.OutTradeNo, "posting_retry", "社保经办机构暂时无法受理，系统将自动重试；72小时内仍未成功将撤销提交并原路退回资金"); err != nil {
			return err
		}
	}
	next := now.Add(RetryDelay(rec.Failures))
	if pending {
		next = now.Add(min(RetryDelay(rec.Failures), ConfirmInterval))
	} else if next.After(deadline) {
		next = deadline
	}
	s.d.Log.Warn("posting failed; retrying", "out_trade_no", b.OutTradeNo, "failures", rec.Failures, "next", next, "err", rec.LastError)
	return s.retry(ctx, j, next, rec.LastError)
}

// configFault handles a 400/401/403/409: our side is misconfigured, or a
// booking may exist under the key. It is never a rejection: the money is
// kept, operations get one alert per batch, and the call is retried (at most
// ConfirmInterval apart) until they fix it.
func (s *PostingService) configFault(ctx context.Context, j OutboxJob, rec *PostingRecord, b *Batch, callErr error, deadline time.Time, pending bool) error {
	now := s.d.Clock.Now()
	if err := s.saveFailure(ctx, rec, callErr); err != nil {
		return err
	}
	first, err := s.d.Postings.MarkFaultAlerted(ctx, b.OutTradeNo, now)
	if err != nil {
		return err
	}
	if first {
		if err := s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertPlatformConfigFault, Ref: b.OutTradeNo,
			Detail: "platform configuration fault (money kept, retrying): " + rec.LastError}); err != nil {
			return err
		}
	}
	next := now.Add(min(RetryDelay(rec.Failures), ConfirmInterval))
	if !pending && now.Before(deadline) && next.After(deadline) {
		next = deadline
	}
	s.d.Log.Error("platform configuration fault; money kept", "out_trade_no", b.OutTradeNo, "failures", rec.Failures, "err", rec.LastError)
	return s.retry(ctx, j, next, rec.LastError)
}

// void asks the platform never to book the batch's key (the window is over,
// or the outcome is being confirmed). voided refunds; the booked posting is
// accepted; anything else leaves the outcome unknown: the batch is
// confirming and the void is asked again.
func (s *PostingService) void(ctx context.Context, j OutboxJob, o *Order, b *Batch, rec *PostingRecord) error {
	cctx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, s.d.Lease)
	if err != nil {
		return err
	}
	res, callErr := s.d.Platform.VoidPosting(cctx, o.Region, b.OutTradeNo)
	cancel()
	if callErr == nil {
		switch res.Status {
		case PostingVoided:
			rec.Void("voided: " + res.Reason)
			rec.LastError = ""
			if err := s.d.Postings.SavePosting(ctx, rec); err != nil {
				return err
			}
			return s.refundVoided(ctx, j, b)
		case PostingAccepted:
			return s.acceptAndComplete(ctx, j, rec, b.OutTradeNo, res)
		case PostingPending:
			if b.Status == StatusPosting {
				return s.pending(ctx, j, rec, b, res)
			}
		}
		callErr = fmt.Errorf("void answered %q", res.Status)
	}
	return s.unknown(ctx, j, rec, b, callErr)
}

// unknown records that the outcome of a posting is not known after the
// window: the batch becomes confirming (待确认) with exactly one alert to
// operations, and the void is asked again at most ConfirmInterval later.
func (s *PostingService) unknown(ctx context.Context, j OutboxJob, rec *PostingRecord, b *Batch, callErr error) error {
	now := s.d.Clock.Now()
	if err := s.saveFailure(ctx, rec, callErr); err != nil {
		return err
	}
	if _, err := s.update(ctx, b.OutTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		if b.Status != StatusPosting {
			return ErrNoChange
		}
		if err := b.AwaitConfirmation(); err != nil {
			return err
		}
		fx.Event(b.Seq, "posting_confirming", "缴费结果待确认：社保经办机构暂未答复是否已入账，系统正在核实；确认未入账后将原路退回资金，如已入账将生成凭证")
		fx.Alerts = append(fx.Alerts, Alert{Kind: AlertPostingOutcomeUnknown, Ref: b.OutTradeNo,
			Detail: "72h window over and the platform has not confirmed void or booking; asking every 5 min; resolve with POST /api/v1/admin/postings/" + b.OutTradeNo + "/resolve if confirmed out of band. Last: " + rec.LastError})
		return nil
	}); err != nil {
		return err
	}
	next := now.Add(min(RetryDelay(rec.Failures), ConfirmInterval))
	s.d.Log.Warn("posting outcome unknown; confirming", "out_trade_no", b.OutTradeNo, "failures", rec.Failures, "next", next, "err", rec.LastError)
	return s.retry(ctx, j, next, rec.LastError)
}

// confirm works a confirming batch: ask the void again (never post again).
func (s *PostingService) confirm(ctx context.Context, j OutboxJob, o *Order, b *Batch) error {
	rec, err := s.record(ctx, o, b)
	if err != nil {
		return err
	}
	if rec.Status == PostingVoided {
		return s.refundVoided(ctx, j, b)
	}
	return s.void(ctx, j, o, b, rec)
}

// refundVoided refunds a batch whose void the platform confirmed.
func (s *PostingService) refundVoided(ctx context.Context, j OutboxJob, b *Batch) error {
	if _, err := s.d.Refunds.BeginFrom(ctx, b.OutTradeNo, RefundRetryExpired, "", StatusPosting, StatusConfirming); err != nil {
		return err
	}
	return s.complete(ctx, j)
}

func (s *PostingService) reject(ctx context.Context, j OutboxJob, rec *PostingRecord, b *Batch, code, reason string) error {
	rec.Reject(code + ": " + reason)
	if err := s.d.Postings.SavePosting(ctx, rec); err != nil {
		return err
	}
	if _, err := s.d.Refunds.Begin(ctx, b.OutTradeNo, RefundPlatformRejected, reason); err != nil {
		return err
	}
	return s.complete(ctx, j)
}

func (s *PostingService) acceptAndComplete(ctx context.Context, j OutboxJob, rec *PostingRecord, outTradeNo string, res PostingResult) error {
	if err := s.accept(ctx, rec, outTradeNo, res); err != nil {
		return err
	}
	return s.complete(ctx, j)
}

// accept records an acceptance (from a reply, a void answer or a callback),
// moves the batch to posted and issues the vouchers. The batch is checked
// first: an acceptance for a batch that is not posting or confirming records
// nothing and raises an alert (posted_after_refund when its money is being
// or was refunded). Every step is idempotent.
func (s *PostingService) accept(ctx context.Context, rec *PostingRecord, outTradeNo string, res PostingResult) error {
	alert := func(o *Order, b *Batch, fx *Effects) bool {
		switch b.Status {
		case StatusPosting, StatusConfirming, StatusPosted:
			return false
		case StatusRefunding, StatusRefunded:
			fx.Alerts = append(fx.Alerts, Alert{Kind: AlertPostedAfterRefund, Ref: outTradeNo,
				Detail: "platform accepted reference " + res.Reference + " while the batch is " + string(b.Status) + "; ask the platform to reverse the booking"})
		default:
			fx.Alerts = append(fx.Alerts, Alert{Kind: AlertPostingAfterNonPaid, Ref: outTradeNo,
				Detail: "platform accepted reference " + res.Reference + " while the batch is " + string(b.Status) + "; nothing recorded"})
		}
		return true
	}
	refused := false
	if _, err := s.update(ctx, outTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		refused = alert(o, b, fx)
		return ErrNoChange
	}); err != nil {
		return err
	}
	if refused {
		return nil
	}
	rec.Accept(res.Reference, res.Receipt)
	if err := s.d.Postings.SavePosting(ctx, rec); err != nil {
		return err
	}
	o, err := s.update(ctx, outTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		if alert(o, b, fx) || b.Status == StatusPosted {
			return ErrNoChange
		}
		if err := b.Post(); err != nil {
			return err
		}
		fx.Event(b.Seq, "posted", "社保经办机构已入账，受理编号 "+res.Reference+"；电子凭证已生成")
		return nil
	})
	if err != nil {
		return err
	}
	var b *Batch
	for i := range o.Batches {
		if o.Batches[i].OutTradeNo == outTradeNo {
			b = &o.Batches[i]
		}
	}
	if b == nil || b.Status != StatusPosted {
		return nil
	}
	if err := s.checkMutualAid(ctx, o, b, res); err != nil {
		return err
	}
	return s.issueVouchers(ctx, o, b)
}

// checkMutualAid alerts when the platform confirmed a different mutual-aid
// deduction than the batch's posting carries: the fund would be short-paid
// (or the family account overdrawn).
func (s *PostingService) checkMutualAid(ctx context.Context, o *Order, b *Batch, res PostingResult) error {
	q, err := s.d.Quotes.FindQuoteByID(ctx, o.QuoteID)
	if err != nil {
		return nil // the posting was built from it; a missing quote is not this check's business
	}
	_, aid := BatchPostingLines(q, b)
	if aid == res.MutualAidFen {
		return nil
	}
	return s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertMutualAidMismatch, Ref: b.OutTradeNo,
		Detail: fmt.Sprintf("platform confirmed mutual aid %d fen, the posting carried %d fen", res.MutualAidFen, aid)})
}

func (s *PostingService) issueVouchers(ctx context.Context, o *Order, b *Batch) error {
	rec, err := s.d.Postings.FindPosting(ctx, b.OutTradeNo)
	if err != nil {
		return err
	}
	return s.d.Vouchers.Issue(ctx, o, b, rec)
}

func (s *PostingService) event(ctx context.Context, outTradeNo, typ, detail string) error {
	_, err := s.update(ctx, outTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		fx.Event(b.Seq, typ, detail)
		return ErrNoChange // timeline only; the batch is unchanged
	})
	return err
}

func (s *PostingService) buildPosting(ctx context.Context, o *Order, b *Batch) (Posting, error) {
	p, err := s.d.Persons.FindPerson(ctx, o.PersonID)
	if err != nil {
		return Posting{}, fmt.Errorf("posting: person: %w", err)
	}
	q, err := s.d.Quotes.FindQuoteByID(ctx, o.QuoteID)
	if err != nil {
		return Posting{}, fmt.Errorf("posting: quote: %w", err)
	}
	lines, aid := BatchPostingLines(q, b)
	if aid < 0 || aid > q.MutualAidFen {
		// Our bug, never the user's: the platform would refuse the posting
		// (amount_mismatch). Retried (and voided at the deadline) rather
		// than sent.
		return Posting{}, fmt.Errorf("posting %s: lines leave %d fen of mutual aid, the quote has %d fen", b.OutTradeNo, aid, q.MutualAidFen)
	}
	ps := Posting{IdempotencyKey: b.OutTradeNo, Region: o.Region, OrderNo: o.No, BatchSeq: b.Seq,
		OutTradeNo: b.OutTradeNo, TransactionID: b.TransactionID, AmountFen: b.AmountFen, Person: p.Ref(),
		Lines: lines, PaidAt: b.PaidAt}
	if aid > 0 {
		// The quote read the balance from the insured person's profile: the
		// deduction is drawn from that person's family mutual-aid account.
		ps.MutualAidFen, ps.MutualAidAccount = aid, p.Ref()
	}
	return ps, nil
}

// recordPostingAnswer counts one posting attempt (or query) by what the
// platform answered.
func recordPostingAnswer(m Metrics, res PostingResult, callErr error) {
	var rej *PlatformRejection
	switch {
	case callErr == nil && (res.Status == PostingAccepted || res.Status == PostingRejected || res.Status == PostingPending):
		m.PostingAttempt(string(res.Status))
	case errors.As(callErr, &rej):
		m.PostingAttempt("rejected")
	case IsConfigFault(callErr):
		m.PostingAttempt("config_fault")
	default:
		m.PostingAttempt("unknown")
		m.UnknownOutcome("posting")
	}
}

// PersonFinder reads an insured person with plaintext identity, which the
// provincial platform needs. IdentityService implements it.
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
