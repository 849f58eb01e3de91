package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Posting record statuses (the platform's view of a batch as we know it).
const (
	PostingNone = ""
)

// PostingRecord is what we know of a batch's posting at the platform.
type PostingRecord struct {
	OutTradeNo     string
	OrderNo        string
	Region         string
	Status         string // "", PostingPending, PostingAccepted, PostingRejected
	Reference      string // platform reference (受理编号)
	Reason         string
	Receipt        *PostingReceipt
	Failures       int // consecutive transient failures
	LastError      string
	FirstPendingAt time.Time // when the platform first answered pending
	DelayFlaggedAt time.Time // when the 3-working-day delay was flagged
	UpdatedAt      time.Time
}

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
	Log      *slog.Logger // optional
	Metrics  Metrics      // optional: posting attempts and unknown outcomes
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
		d.Postings == nil || d.Holds == nil || d.Refunds == nil || d.Vouchers == nil || d.Clock == nil || d.Owner == "" {
		panic("service: NewPostingService: missing dependency")
	}
	if d.Lease <= 0 {
		d.Lease = 2 * time.Minute
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &PostingService{d: d}
}

// RunOnce claims due posting jobs and works them. It returns how many it
// claimed; errors of single jobs are logged and the job retried.
func (s *PostingService) RunOnce(ctx context.Context) (int, error) {
	jobs, err := s.d.Outbox.Claim(ctx, JobPostBatch, s.d.Owner, s.d.Lease, 20)
	if err != nil {
		return 0, err
	}
	for _, j := range jobs {
		if err := s.Work(ctx, j); err != nil {
			s.d.Log.Error("posting job failed", "out_trade_no", j.Ref, "err", err)
			// Unexpected errors (database, missing person or quote) back off
			// like platform failures; the deadline check runs before them.
			next := s.d.Clock.Now().Add(RetryDelay(j.Attempts))
			if rerr := s.d.Outbox.Retry(ctx, j.ID, s.d.Owner, next, ErrorText(err, 400)); rerr != nil && !errors.Is(rerr, ErrStale) {
				s.d.Log.Error("posting job retry failed", "out_trade_no", j.Ref, "err", rerr)
			}
		}
	}
	return len(jobs), nil
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

// screen runs the risk-hold rules on a paid batch and moves it to held or
// posting.
func (s *PostingService) screen(ctx context.Context, o *Order, b *Batch) (*Order, *Batch, error) {
	h, err := s.d.Holds.Screen(ctx, o, b)
	if err != nil {
		return nil, nil, err
	}
	to, typ, detail := StatusPosting, "posting", "缴费已到账，正在向社保经办机构提交"
	if h != nil {
		to, typ = StatusHeld, "held"
		detail = fmt.Sprintf("为保障资金安全，本笔缴费需复核（资金冻结），最迟于 %s 前处理完毕", h.ExpiresAt.In(Shanghai).Format("2006-01-02 15:04"))
	}
	_, err = s.d.Orders.UpdateBatch(ctx, b.OutTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		if b.Status != StatusPaid {
			return ErrNoChange
		}
		b.Status = to
		fx.Event(b.Seq, typ, detail)
		return nil
	})
	if err != nil && !errors.Is(err, ErrStale) {
		return nil, nil, err
	}
	return findBatch(ctx, s.d.Orders, b.OutTradeNo)
}

// whileHeld parks the job until the hold expires; a release by operations
// wakes it earlier.
func (s *PostingService) whileHeld(ctx context.Context, j OutboxJob, b *Batch) error {
	h, err := s.d.Holds.d.Store.FindHold(ctx, b.OutTradeNo)
	if err != nil {
		return err
	}
	now := s.d.Clock.Now()
	if !now.Before(h.ExpiresAt) {
		if _, err := s.d.Holds.expire(ctx, h); err != nil {
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

func (s *PostingService) post(ctx context.Context, j OutboxJob, o *Order, b *Batch) error {
	now := s.d.Clock.Now()
	deadline, err := s.deadline(ctx, j, b)
	if err != nil {
		return err
	}
	rec, err := s.d.Postings.FindPosting(ctx, b.OutTradeNo)
	if isNotFound(err) {
		rec, err = &PostingRecord{OutTradeNo: b.OutTradeNo, OrderNo: o.No, Region: o.Region}, nil
	}
	if err != nil {
		return err
	}
	pending := rec.Status == PostingPending

	var res PostingResult
	var callErr error
	switch {
	case pending:
		res, callErr = s.d.Platform.QueryPosting(ctx, o.Region, b.OutTradeNo)
	case !now.Before(deadline):
		// The window is over. One query tells us whether an earlier attempt
		// that looked failed was booked after all; anything else refunds.
		res, callErr = s.d.Platform.QueryPosting(ctx, o.Region, b.OutTradeNo)
		if callErr == nil && res.Status == PostingAccepted {
			return s.acceptAndComplete(ctx, j, o, b, rec, res)
		}
		if callErr == nil && res.Status == PostingPending {
			pending = true
			break
		}
		if _, err := s.d.Refunds.Begin(ctx, b.OutTradeNo, RefundRetryExpired, ""); err != nil {
			return err
		}
		return s.complete(ctx, j)
	default:
		p, err := s.buildPosting(ctx, o, b)
		if err != nil {
			return err
		}
		res, callErr = s.d.Platform.PostPayment(ctx, p)
	}

	m := metricsOr(s.d.Metrics)
	if callErr != nil {
		var rej *PlatformRejection
		if errors.As(callErr, &rej) {
			m.PostingAttempt("rejected")
		} else {
			m.PostingAttempt("unknown")
			m.UnknownOutcome("posting")
		}
		if errors.As(callErr, &rej) && rej.Code == RejectPostingNotFound {
			// The platform lost (or never got) the posting it called pending:
			// send it again with the same key.
			rec.Status = PostingNone
			pending = false
		} else if errors.As(callErr, &rej) {
			return s.reject(ctx, j, rec, b, rej.Code, rej.Reason)
		}
		return s.transient(ctx, j, rec, o, b, callErr, deadline, pending)
	}
	switch res.Status {
	case PostingAccepted, PostingRejected, PostingPending:
		m.PostingAttempt(string(res.Status))
	default:
		m.PostingAttempt("unknown")
		m.UnknownOutcome("posting")
	}
	switch res.Status {
	case PostingAccepted:
		return s.acceptAndComplete(ctx, j, o, b, rec, res)
	case PostingRejected:
		return s.reject(ctx, j, rec, b, "rejected", res.Reason)
	case PostingPending:
		first := rec.Status != PostingPending
		rec.Status, rec.Reference, rec.Failures, rec.LastError = PostingPending, res.Reference, 0, ""
		if rec.FirstPendingAt.IsZero() {
			rec.FirstPendingAt = now
		}
		if err := s.d.Postings.SavePosting(ctx, rec); err != nil {
			return err
		}
		if first {
			if err := s.event(ctx, b.OutTradeNo, "posting_pending", "社保经办机构已受理提交，正在处理，受理编号 "+res.Reference); err != nil {
				return err
			}
		}
		// Poll until the callback arrives; the delay flag tells the user
		// after 3 working days.
		n := rec.Failures + j.Attempts
		return s.retry(ctx, j, now.Add(max(RetryDelay(n), 15*time.Minute)), "pending at platform")
	default:
		return s.transient(ctx, j, rec, o, b, fmt.Errorf("platform answered unknown status %q", res.Status), deadline, pending)
	}
}

func (s *PostingService) transient(ctx context.Context, j OutboxJob, rec *PostingRecord, o *Order, b *Batch, callErr error, deadline time.Time, pending bool) error {
	now := s.d.Clock.Now()
	rec.Failures++
	rec.LastError = ErrorText(callErr, 400)
	if err := s.d.Postings.SavePosting(ctx, rec); err != nil {
		return err
	}
	if rec.Failures == 1 && !pending {
		if err := s.event(ctx, b.OutTradeNo, "posting_retry", "社保经办机构暂时无法受理，系统将自动重试；72小时内仍未成功将原路退回资金"); err != nil {
			return err
		}
	}
	next := now.Add(RetryDelay(rec.Failures))
	if !pending && next.After(deadline) {
		next = deadline
	}
	s.d.Log.Warn("posting failed; retrying", "out_trade_no", b.OutTradeNo, "failures", rec.Failures, "next", next, "err", rec.LastError)
	return s.retry(ctx, j, next, rec.LastError)
}

func (s *PostingService) reject(ctx context.Context, j OutboxJob, rec *PostingRecord, b *Batch, code, reason string) error {
	rec.Status, rec.Reason = PostingRejected, code+": "+reason
	if err := s.d.Postings.SavePosting(ctx, rec); err != nil {
		return err
	}
	if _, err := s.d.Refunds.Begin(ctx, b.OutTradeNo, RefundPlatformRejected, reason); err != nil {
		return err
	}
	return s.complete(ctx, j)
}

func (s *PostingService) acceptAndComplete(ctx context.Context, j OutboxJob, o *Order, b *Batch, rec *PostingRecord, res PostingResult) error {
	if err := s.accept(ctx, rec, b.OutTradeNo, res); err != nil {
		return err
	}
	return s.complete(ctx, j)
}

// accept records an acceptance (from a reply or a callback), moves the batch
// to posted and issues the vouchers. Every step is idempotent.
func (s *PostingService) accept(ctx context.Context, rec *PostingRecord, outTradeNo string, res PostingResult) error {
	rec.Status, rec.Reference, rec.Receipt, rec.LastError = PostingAccepted, res.Reference, res.Receipt, ""
	if err := s.d.Postings.SavePosting(ctx, rec); err != nil {
		return err
	}
	_, err := s.d.Orders.UpdateBatch(ctx, outTradeNo, func(o *Order, b *Batch, fx *Effects) error {
		switch b.Status {
		case StatusPosted:
			return ErrNoChange
		case StatusPosting:
			b.Status = StatusPosted
			fx.Event(b.Seq, "posted", "社保经办机构已入账，受理编号 "+res.Reference+"；电子凭证已生成")
			return nil
		case StatusRefunding, StatusRefunded:
			fx.Alerts = append(fx.Alerts, Alert{Kind: AlertPostedAfterRefund, Ref: outTradeNo,
				Detail: "platform accepted reference " + res.Reference + " while the batch is " + string(b.Status) + "; ask the platform to reverse the booking"})
			return ErrNoChange
		}
		return ErrNoChange
	})
	if err != nil && !errors.Is(err, ErrStale) {
		return err
	}
	o, b, err := findBatch(ctx, s.d.Orders, outTradeNo)
	if err != nil {
		return err
	}
	if b.Status != StatusPosted {
		return nil
	}
	return s.issueVouchers(ctx, o, b)
}

func (s *PostingService) issueVouchers(ctx context.Context, o *Order, b *Batch) error {
	rec, err := s.d.Postings.FindPosting(ctx, b.OutTradeNo)
	if err != nil {
		return err
	}
	return s.d.Vouchers.Issue(ctx, o, b, rec)
}

func (s *PostingService) event(ctx context.Context, outTradeNo, typ, detail string) error {
	_, err := s.d.Orders.UpdateBatch(ctx, outTradeNo, func(o *Order, b *Batch, fx *Effects) error {
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
	lines := BatchLines(q, b)
	var sum Fen
	for _, l := range lines {
		sum += l.AmountFen
	}
	if sum != b.AmountFen {
		// Our bug, never the user's: the platform would refuse the posting
		// (amount_mismatch). Retried (and refunded at the deadline) rather
		// than sent.
		return Posting{}, fmt.Errorf("posting %s: lines sum to %d fen, batch is %d fen", b.OutTradeNo, sum, b.AmountFen)
	}
	return Posting{IdempotencyKey: b.OutTradeNo, Region: o.Region, OrderNo: o.No, BatchSeq: b.Seq,
		OutTradeNo: b.OutTradeNo, TransactionID: b.TransactionID, AmountFen: b.AmountFen, Person: p.Ref(),
		Lines: lines, PaidAt: b.PaidAt}, nil
}

// BatchLines returns what a batch's WeChat payment covers: the quote lines
// whose month is within the batch's [FromMonth, ToMonth] (batches are split
// on month boundaries, see PlanBatches), with the family mutual-aid offset
// taken from the medical lines in quote order exactly as PlanBatches takes
// it, and lines left at zero dropped. The platform requires the lines to sum
// to the posted amount. A batch without months covers every line.
func BatchLines(q *Quote, b *Batch) []QuoteLine {
	aid := q.MutualAidFen
	var out []QuoteLine
	for _, l := range q.Lines {
		if l.Insurance == InsuranceMedical && aid > 0 {
			off := min(aid, l.AmountFen)
			l.AmountFen -= off
			aid -= off
		}
		if b.FromMonth != "" && b.ToMonth != "" && (l.Month < b.FromMonth || l.Month > b.ToMonth) {
			continue
		}
		if l.AmountFen > 0 {
			out = append(out, l)
		}
	}
	return out
}

// HandlePlatformEvent applies a platform posting callback: posting.accepted
// → posted with vouchers, posting.rejected → refund. Repeats change nothing.
// Identity-check events are not ours and are ignored.
func (s *PostingService) HandlePlatformEvent(ctx context.Context, ev PlatformEvent) error {
	status := ev.Result.Status
	switch ev.Type {
	case EventPostingAccepted:
		status = PostingAccepted
	case EventPostingRejected:
		status = PostingRejected
	case EventIdentityCheckCompleted:
		return nil
	}
	o, b, err := findBatch(ctx, s.d.Orders, ev.IdempotencyKey)
	if isNotFound(err) {
		return s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertUnknownPosting, Ref: ev.IdempotencyKey, Detail: "platform callback " + ev.EventID + " for an unknown batch"})
	}
	if err != nil {
		return err
	}
	rec, err := s.d.Postings.FindPosting(ctx, b.OutTradeNo)
	if isNotFound(err) {
		rec, err = &PostingRecord{OutTradeNo: b.OutTradeNo, OrderNo: o.No, Region: o.Region}, nil
	}
	if err != nil {
		return err
	}
	switch status {
	case PostingAccepted:
		res := ev.Result
		res.Status = PostingAccepted
		if res.Reference == "" {
			res.Reference = rec.Reference
		}
		return s.accept(ctx, rec, b.OutTradeNo, res)
	case PostingRejected:
		if b.Status != StatusPosting && b.Status != StatusPaid && b.Status != StatusHeld {
			return nil
		}
		reason := ev.Reason
		if reason == "" {
			reason = ev.Result.Reason
		}
		rec.Status, rec.Reason = PostingRejected, reason
		if err := s.d.Postings.SavePosting(ctx, rec); err != nil {
			return err
		}
		_, err := s.d.Refunds.Begin(ctx, b.OutTradeNo, RefundPlatformRejected, reason)
		return err
	}
	return nil
}

// DelayWorkingDays is after how many working days a pending posting is
// flagged as an information delay (信息延迟).
const DelayWorkingDays = 3

// FlagDelays flags batches the platform has not confirmed within 3 working
// days of answering pending: a timeline event telling the user to contact
// 12333 with the reference numbers, and an alert. It returns how many it
// flagged.
func (s *PostingService) FlagDelays(ctx context.Context) (int, error) {
	now := s.d.Clock.Now()
	recs, err := s.d.Postings.FindUnflaggedPending(ctx, now.Add(-DelayWorkingDays*24*time.Hour), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		if now.Before(AddWorkingDays(r.FirstPendingAt, DelayWorkingDays)) {
			continue
		}
		_, b, err := findBatch(ctx, s.d.Orders, r.OutTradeNo)
		if err != nil {
			return n, err
		}
		if b.Status != StatusPosting {
			continue
		}
		ok, err := s.d.Postings.MarkDelayFlagged(ctx, r.OutTradeNo, now)
		if err != nil || !ok {
			return n, err
		}
		detail := DelayAdvice(r.OrderNo, b.OutTradeNo, b.TransactionID, r.Reference)
		_, err = s.d.Orders.UpdateBatch(ctx, r.OutTradeNo, func(o *Order, b *Batch, fx *Effects) error {
			fx.Event(b.Seq, "info_delay", detail)
			fx.Alerts = append(fx.Alerts, Alert{Kind: AlertPostingDelayed, Ref: r.OutTradeNo, Detail: "pending at the platform for 3 working days, reference " + r.Reference})
			return ErrNoChange
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// DelayAdvice is the user message of an information delay.
func DelayAdvice(orderNo, outTradeNo, transactionID, reference string) string {
	return fmt.Sprintf("缴费已超过3个工作日未到账，请致电12333人工核验，并提供：订单号 %s、商户单号 %s、微信支付交易单号 %s、社保受理编号 %s",
		orderNo, outTradeNo, transactionID, reference)
}
