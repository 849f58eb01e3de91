package service

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Reconciliation finding kinds.
const (
	ReconMissingLocal  = "missing_local"  // in WeChat's bill, not in our books
	ReconMissingRemote = "missing_remote" // in our books, not in WeChat's bill
	ReconAmountDiff    = "amount_diff"    // both sides, different amounts
	ReconStatusDiff    = "status_diff"    // both sides, incompatible states
)

// ReconFinding is one difference between WeChat's trade bill and our books.
type ReconFinding struct {
	Day         string // YYYY-MM-DD, Asia/Shanghai
	Kind        string
	OutTradeNo  string
	OutRefundNo string
	LocalFen    Fen
	RemoteFen   Fen
	Detail      string
}

// ReconReport is the result of reconciling one day.
type ReconReport struct {
	Day      string
	BillRows int
	Findings []ReconFinding
	RanAt    time.Time
}

// ReconStore persists reconciliation results and reads our side of a day.
type ReconStore interface {
	// FindBatchesPaidBetween lists batches with PaidAt in [from, to).
	FindBatchesPaidBetween(ctx context.Context, from, to time.Time) ([]Batch, error)
	// FindBatch returns the batch of an out_trade_no or ErrNotFound.
	FindBatch(ctx context.Context, outTradeNo string) (*Batch, error)
	// ReplaceFindings replaces the day's findings and run summary in one
	// transaction, and opens one recon alert for the day if there are
	// findings and no open alert for that day exists.
	ReplaceFindings(ctx context.Context, r *ReconReport) error
	// FindReport returns the stored report of a day, or ErrNotFound.
	FindReport(ctx context.Context, day string) (*ReconReport, error)
}

// ReconService compares WeChat Pay's trade bill with our batches and
// refunds, one Asia/Shanghai day at a time.
type ReconService struct {
	store   ReconStore
	refunds RefundStore
	gw      PaymentGateway
	clock   Clock
}

// NewReconService returns a ReconService.
func NewReconService(store ReconStore, refunds RefundStore, gw PaymentGateway, clock Clock) *ReconService {
	if store == nil || refunds == nil || gw == nil || clock == nil {
		panic("service: NewReconService: missing dependency")
	}
	return &ReconService{store: store, refunds: refunds, gw: gw, clock: clock}
}

// Reconcile downloads the bill of day and compares it with our books. A
// re-run replaces that day's findings.
func (s *ReconService) Reconcile(ctx context.Context, day time.Time) (*ReconReport, error) {
	from, to := ShanghaiDay(day)
	rows, err := s.gw.TradeBill(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("reconcile: trade bill: %w", err)
	}
	batches, err := s.store.FindBatchesPaidBetween(ctx, from, to)
	if err != nil {
		return nil, err
	}
	refunds, err := s.refunds.FindRefundsSucceeded(ctx, from, to)
	if err != nil {
		return nil, err
	}
	rep := &ReconReport{Day: Day(from), BillRows: len(rows), RanAt: s.clock.Now()}
	add := func(f ReconFinding) {
		f.Day = rep.Day
		rep.Findings = append(rep.Findings, f)
	}

	ours := map[string]Batch{}
	for _, b := range batches {
		ours[b.OutTradeNo] = b
	}
	ourRefunds := map[string]Refund{}
	for _, r := range refunds {
		ourRefunds[r.OutRefundNo] = r
	}
	seenPay, seenRefund := map[string]bool{}, map[string]bool{}
	for _, row := range rows {
		if row.OutRefundNo != "" || row.TradeState == TradeRefund {
			seenRefund[row.OutRefundNo] = true
			r, ok := ourRefunds[row.OutRefundNo]
			switch {
			case !ok:
				add(ReconFinding{Kind: ReconMissingLocal, OutTradeNo: row.OutTradeNo, OutRefundNo: row.OutRefundNo, RemoteFen: row.RefundFen,
					Detail: "refund in the bill without a successful refund of ours that day"})
			case r.AmountFen != row.RefundFen:
				add(ReconFinding{Kind: ReconAmountDiff, OutTradeNo: row.OutTradeNo, OutRefundNo: row.OutRefundNo, LocalFen: r.AmountFen, RemoteFen: row.RefundFen})
			case row.RefundStatus != "" && row.RefundStatus != RefundSuccess:
				add(ReconFinding{Kind: ReconStatusDiff, OutTradeNo: row.OutTradeNo, OutRefundNo: row.OutRefundNo, LocalFen: r.AmountFen, RemoteFen: row.RefundFen,
					Detail: "bill refund status " + string(row.RefundStatus) + ", ours success"})
			}
			continue
		}
		seenPay[row.OutTradeNo] = true
		b, ok := ours[row.OutTradeNo]
		if !ok {
			// Maybe ours is recorded on another day, or not marked paid.
			other, err := s.store.FindBatch(ctx, row.OutTradeNo)
			switch {
			case isNotFound(err):
				add(ReconFinding{Kind: ReconMissingLocal, OutTradeNo: row.OutTradeNo, RemoteFen: row.TotalFen, Detail: "payment in the bill for an unknown out_trade_no"})
			case err != nil:
				return nil, err
			case other.PaidAt.IsZero():
				add(ReconFinding{Kind: ReconStatusDiff, OutTradeNo: row.OutTradeNo, LocalFen: other.AmountFen, RemoteFen: row.TotalFen,
					Detail: "paid in the bill, ours is " + string(other.Status)})
			default:
				add(ReconFinding{Kind: ReconStatusDiff, OutTradeNo: row.OutTradeNo, LocalFen: other.AmountFen, RemoteFen: row.TotalFen,
					Detail: "paid on another day in our books: " + Day(other.PaidAt)})
			}
			continue
		}
		if b.AmountFen != row.TotalFen {
			add(ReconFinding{Kind: ReconAmountDiff, OutTradeNo: b.OutTradeNo, LocalFen: b.AmountFen, RemoteFen: row.TotalFen})
		}
		if row.TransactionID != "" && b.TransactionID != "" && row.TransactionID != b.TransactionID {
			add(ReconFinding{Kind: ReconStatusDiff, OutTradeNo: b.OutTradeNo, LocalFen: b.AmountFen, RemoteFen: row.TotalFen,
				Detail: "transaction_id differs: bill " + row.TransactionID + ", ours " + b.TransactionID})
		}
	}
	for _, b := range batches {
		if !seenPay[b.OutTradeNo] {
			add(ReconFinding{Kind: ReconMissingRemote, OutTradeNo: b.OutTradeNo, LocalFen: b.AmountFen, Detail: "paid in our books, not in the bill"})
		}
	}
	for _, r := range refunds {
		if !seenRefund[r.OutRefundNo] {
			add(ReconFinding{Kind: ReconMissingRemote, OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo, LocalFen: r.AmountFen, Detail: "refunded in our books, not in the bill"})
		}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool { return rep.Findings[i].OutTradeNo < rep.Findings[j].OutTradeNo })
	if err := s.store.ReplaceFindings(ctx, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// Report returns the stored report of a day.
func (s *ReconService) Report(ctx context.Context, day time.Time) (*ReconReport, error) {
	r, err := s.store.FindReport(ctx, Day(day))
	if isNotFound(err) {
		return nil, NotFound("该日尚未对账")
	}
	return r, err
}

// ReconDue returns the day to reconcile at now, and whether it is time:
// yesterday's bill is available after 10:00 Asia/Shanghai, so the daily run
// starts at 10:30.
func ReconDue(now time.Time) (time.Time, bool) {
	l := now.In(Shanghai)
	day := time.Date(l.Year(), l.Month(), l.Day()-1, 0, 0, 0, 0, Shanghai)
	return day, l.Hour() > 10 || (l.Hour() == 10 && l.Minute() >= 30)
}

// JobReconDay is the outbox job that reconciles one day (Ref = YYYY-MM-DD);
// its (kind, ref) uniqueness and lease make the daily run happen once across
// instances.
const JobReconDay = "recon_day"

// RunDue enqueues yesterday's reconciliation once it is due and works any
// claimed reconciliation job. Failures (the bill is not ready, WeChat is
// down) are retried in 30 minutes.
func (s *ReconService) RunDue(ctx context.Context, ob Outbox, owner string) error {
	if day, due := ReconDue(s.clock.Now()); due {
		if err := ob.Enqueue(ctx, OutboxJob{Kind: JobReconDay, Ref: Day(day)}); err != nil {
			return err
		}
	}
	jobs, err := ob.Claim(ctx, JobReconDay, owner, 10*time.Minute, 3)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		day, err := ParseDay(j.Ref)
		if err == nil {
			_, err = s.Reconcile(ctx, day)
		}
		if err != nil {
			if rerr := ob.Retry(ctx, j.ID, owner, s.clock.Now().Add(30*time.Minute), ErrorText(err, 400)); rerr != nil {
				return rerr
			}
			continue
		}
		if err := ob.Complete(ctx, j.ID, owner); err != nil {
			return err
		}
	}
	return nil
}
