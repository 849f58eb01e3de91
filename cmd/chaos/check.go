package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/sim/provsim"
)

// dbBatch is one batch row as stored by the server.
type dbBatch struct {
	OutTradeNo string
	Status     string
	AmountFen  service.Fen
	PaidAt     time.Time // zero when unpaid
}

// paidOrBeyond are the statuses of a batch WeChat took money for.
var paidOrBeyond = map[string]bool{
	string(service.StatusPaid): true, string(service.StatusHeld): true, string(service.StatusPosting): true,
	string(service.StatusPosted): true, string(service.StatusRefunding): true, string(service.StatusRefunded): true,
	string(service.StatusConfirming): true,
}

// snapshot is what the checker reads: our database and both witnesses.
type snapshot struct {
	Batches  []dbBatch
	Ledger   paysim.Ledger
	Bookings []provsim.Booking
	Now      time.Time
}

// verdict is the result of checking a snapshot.
type verdict struct {
	Violations []string
	// Settled reports that nothing is expected to move within seconds: every
	// WeChat SUCCESS is recorded as paid, and no batch is in paid or
	// refunding (the workers pick those up within seconds).
	Settled bool
	// Recorded is weaker: every WeChat SUCCESS is recorded as paid or
	// beyond and the refund sums agree; batches may still wait for a retry
	// or for the lease of a killed worker to expire.
	Recorded bool
	// Counts of batches by status, and the sums.
	ByStatus             map[string]int
	PaidFen, RefundedFen service.Fen // ours
	LedgerPaidFen        service.Fen // paysim SUCCESS and REFUND trades
	LedgerRefundFen      service.Fen // paysim SUCCESS refunds
	PendingInWindow      int
	AcceptedBookings     int
}

// check applies the money invariants to a snapshot:
//
//  1. every trade the WeChat Pay ledger reports SUCCESS (or REFUND) is paid
//     or beyond here, and every batch paid or beyond here is such a trade
//     with the same amount;
//  2. every paid batch is posted or refunded, or still pending inside its
//     72-hour window;
//  3. nothing refunded twice: at most one successful refund per trade,
//     refunded ≤ paid per trade, a refunded batch has exactly one;
//  4. nothing posted twice: at most one platform booking per idempotency key
//     (= out_trade_no, one per batch); a posted batch has one accepted
//     booking with its amount; a batch with an accepted booking is never
//     refunded or refunding; every booking belongs to one of our batches;
//  5. the sums agree: our paid batches == WeChat's successful trades, our
//     refunded batches == WeChat's successful refunds.
func check(s snapshot) verdict {
	v := verdict{ByStatus: map[string]int{}, Settled: true, Recorded: true}
	bad := func(format string, args ...any) { v.Violations = append(v.Violations, fmt.Sprintf(format, args...)) }
	batches := map[string]dbBatch{}
	for _, b := range s.Batches {
		batches[b.OutTradeNo] = b
		v.ByStatus[b.Status]++
		if paidOrBeyond[b.Status] {
			v.PaidFen += b.AmountFen
		}
		if b.Status == string(service.StatusRefunded) {
			v.RefundedFen += b.AmountFen
		}
		if b.Status == string(service.StatusPaid) || b.Status == string(service.StatusRefunding) {
			v.Settled = false
		}
	}
	trades := map[string]paysim.TradeRecord{}
	for _, t := range s.Ledger.Trades {
		trades[t.OutTradeNo] = t
		if t.State != "SUCCESS" && t.State != "REFUND" {
			continue
		}
		v.LedgerPaidFen += t.TotalFen
		b, ok := batches[t.OutTradeNo]
		switch {
		case !ok:
			bad("WeChat trade %s is %s but no batch of ours has it", t.OutTradeNo, t.State)
		case !paidOrBeyond[b.Status]:
			v.Settled, v.Recorded = false, false
			bad("WeChat trade %s is %s (%d fen) but our batch is %s", t.OutTradeNo, t.State, t.TotalFen, b.Status)
		}
		if t.SuccessfulRefunds > 1 {
			bad("trade %s refunded %d times", t.OutTradeNo, t.SuccessfulRefunds)
		}
		if t.RefundedFen > t.TotalFen {
			bad("trade %s refunded %d fen of %d", t.OutTradeNo, t.RefundedFen, t.TotalFen)
		}
	}
	refundsOK := map[string]int{}
	refundFen := map[string]service.Fen{}
	seenRefundNo := map[string]bool{}
	for _, r := range s.Ledger.Refunds {
		if seenRefundNo[r.OutRefundNo] {
			bad("out_refund_no %s appears twice in the WeChat ledger", r.OutRefundNo)
		}
		seenRefundNo[r.OutRefundNo] = true
		if r.Status == "SUCCESS" {
			refundsOK[r.OutTradeNo]++
			refundFen[r.OutTradeNo] += r.RefundFen
			v.LedgerRefundFen += r.RefundFen
		}
	}
	for no, n := range refundsOK {
		if n > 1 {
			bad("trade %s has %d successful refunds", no, n)
		}
	}

	bookings := map[string][]provsim.Booking{}
	for _, bk := range s.Bookings {
		bookings[bk.IdempotencyKey] = append(bookings[bk.IdempotencyKey], bk)
	}
	for key, bks := range bookings {
		if len(bks) > 1 {
			bad("platform has %d bookings for idempotency key %s", len(bks), key)
		}
		b, ok := batches[key]
		if !ok {
			bad("platform booking %s matches no batch of ours", key)
			continue
		}
		for _, bk := range bks {
			if bk.Result.Status != service.PostingAccepted && bk.Result.Status != service.PostingPending {
				continue
			}
			v.AcceptedBookings++
			if bk.AmountFen != b.AmountFen {
				bad("platform booked %d fen for batch %s of %d fen", bk.AmountFen, key, b.AmountFen)
			}
			if b.Status == string(service.StatusRefunded) || b.Status == string(service.StatusRefunding) {
				bad("batch %s is %s although the platform booked it (%s): money moved twice", key, b.Status, bk.Result.Status)
			}
		}
	}

	for _, b := range s.Batches {
		if !paidOrBeyond[b.Status] {
			continue
		}
		t, ok := trades[b.OutTradeNo]
		if !ok || (t.State != "SUCCESS" && t.State != "REFUND") {
			bad("batch %s is %s but WeChat has no successful trade for it", b.OutTradeNo, b.Status)
		} else if t.TotalFen != b.AmountFen {
			bad("batch %s is %d fen, WeChat took %d", b.OutTradeNo, b.AmountFen, t.TotalFen)
		}
		switch b.Status {
		case string(service.StatusPosted):
			if !hasAccepted(bookings[b.OutTradeNo]) {
				bad("batch %s is posted but the platform has no accepted booking for it", b.OutTradeNo)
			}
		case string(service.StatusRefunded):
			if refundsOK[b.OutTradeNo] != 1 {
				bad("batch %s is refunded but WeChat has %d successful refunds for it", b.OutTradeNo, refundsOK[b.OutTradeNo])
			}
		default: // paid, held, posting, refunding: still in progress
			if b.PaidAt.IsZero() || !s.Now.Before(b.PaidAt.Add(service.RetryWindow)) {
				bad("batch %s is still %s after its 72-hour window (paid %s)", b.OutTradeNo, b.Status, b.PaidAt.Format(time.RFC3339))
			}
			v.PendingInWindow++
		}
		if b.Status != string(service.StatusRefunded) && b.Status != string(service.StatusRefunding) && refundsOK[b.OutTradeNo] > 0 {
			bad("WeChat refunded trade %s but our batch is %s", b.OutTradeNo, b.Status)
		}
	}
	if v.PaidFen != v.LedgerPaidFen {
		bad("sum of our paid batches %d fen != WeChat successful trades %d fen", v.PaidFen, v.LedgerPaidFen)
	}
	if v.RefundedFen != v.LedgerRefundFen {
		// A batch still refunding whose WeChat refund already succeeded is
		// caught up within seconds: only unsettled then.
		if v.ByStatus[string(service.StatusRefunding)] > 0 {
			v.Settled, v.Recorded = false, false
		}
		bad("sum of our refunded batches %d fen != WeChat successful refunds %d fen", v.RefundedFen, v.LedgerRefundFen)
	}
	return v
}

func hasAccepted(bks []provsim.Booking) bool {
	for _, b := range bks {
		if b.Result.Status == service.PostingAccepted {
			return true
		}
	}
	return false
}

// String summarises a verdict on one line.
func (v verdict) String() string {
	keys := make([]string, 0, len(v.ByStatus))
	for k := range v.ByStatus {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v.ByStatus[k]))
	}
	return fmt.Sprintf("batches{%s} paid=%d fen (WeChat %d) refunded=%d fen (WeChat %d) bookings=%d pending-in-window=%d",
		strings.Join(parts, " "), v.PaidFen, v.LedgerPaidFen, v.RefundedFen, v.LedgerRefundFen, v.AcceptedBookings, v.PendingInWindow)
}

// witness reads the stores and the simulators.
type witness struct {
	db     *sql.DB // admin connection without a default database
	dbName string
	simURL string
	hc     *http.Client
}

func (w *witness) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{Now: time.Now()}
	// Ledgers first, then our rows: a trade the simulator reports is then
	// never newer than the database view we compare it with.
	if err := w.getJSON(ctx, "/sim/pay/ledger", &s.Ledger); err != nil {
		return s, err
	}
	if err := w.getJSON(ctx, "/sim/platform/bookings", &s.Bookings); err != nil {
		return s, err
	}
	rows, err := w.db.QueryContext(ctx, "SELECT out_trade_no, status, amount_fen, paid_at FROM `"+w.dbName+"`.batches")
	if err != nil {
		return s, fmt.Errorf("read batches: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b dbBatch
		var paid sql.NullTime
		if err := rows.Scan(&b.OutTradeNo, &b.Status, &b.AmountFen, &paid); err != nil {
			return s, err
		}
		if paid.Valid {
			b.PaidAt = paid.Time
		}
		s.Batches = append(s.Batches, b)
	}
	return s, rows.Err()
}

func (w *witness) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", w.simURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return fmt.Errorf("simulator %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("simulator %s: status %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// drain waits (at most limit) until the snapshot is settled, or recorded
// and unchanged for three seconds (what is left waits for a retry minutes
// away or for a killed worker's lease), then returns the final verdict.
func (w *witness) drain(ctx context.Context, limit time.Duration) (verdict, time.Duration, error) {
	t0 := time.Now()
	prev, same := "", 0
	for {
		s, err := w.snapshot(ctx)
		if err != nil {
			return verdict{}, time.Since(t0), err
		}
		v := check(s)
		if cur := v.String(); cur == prev {
			same++
		} else {
			prev, same = cur, 0
		}
		if v.Settled || (v.Recorded && same >= 3) || time.Since(t0) > limit || ctx.Err() != nil {
			if len(v.Violations) == 0 || ctx.Err() != nil {
				return v, time.Since(t0), nil
			}
			return w.confirm(ctx, v, t0)
		}
		time.Sleep(time.Second)
	}
}

// confirm reads a second snapshot and keeps only the violations both
// show. The ledgers and our rows are read one after the other, not at one
// instant: a posting or refund that completes between the reads looks like
// a violation once (a booking read before it was made, its batch read
// after it was marked). Money that moved twice shows in every snapshot.
func (w *witness) confirm(ctx context.Context, first verdict, t0 time.Time) (verdict, time.Duration, error) {
	time.Sleep(500 * time.Millisecond)
	s, err := w.snapshot(ctx)
	if err != nil {
		return verdict{}, time.Since(t0), err
	}
	v := check(s)
	v.Violations = persistent(first.Violations, v.Violations)
	return v, time.Since(t0), nil
}

// persistent returns the violations of second that first also had.
func persistent(first, second []string) []string {
	seen := make(map[string]bool, len(first))
	for _, x := range first {
		seen[x] = true
	}
	var out []string
	for _, x := range second {
		if seen[x] {
			out = append(out, x)
		}
	}
	return out
}
