package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/provsim"
)

// Posting scenarios (issue 9): the platform books then goes dark at the
// deadline, a 403 storm, sibling callbacks spread over two instances, and
// callbacks on the wrong region. The servers run on the wall clock, so the
// 72-hour deadline is brought forward by moving the posting jobs'
// deadline_at (and due time) in the database, as time passing would.

// dbCount runs a COUNT(*) query on the chaos database.
func (e *env) dbCount(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	err := e.admin.QueryRowContext(ctx, fmt.Sprintf(query, "`"+e.dbName+"`"), args...).Scan(&n)
	return n, err
}

// pokePostings makes every pending posting job due now; with deadline it
// also ends their 72-hour window now.
func (e *env) pokePostings(ctx context.Context, deadline bool) error {
	q := "UPDATE `" + e.dbName + "`.outbox SET next_attempt_at = UTC_TIMESTAMP(6)"
	if deadline {
		q += ", deadline_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"
	}
	_, err := e.admin.ExecContext(ctx, q+" WHERE kind = ? AND status = 'pending'", service.JobPostBatch)
	return err
}

// waitCount polls a COUNT(*) until cond holds or limit passes.
func (e *env) waitCount(ctx context.Context, limit time.Duration, cond func(int) bool, query string, args ...any) (int, error) {
	t0 := time.Now()
	for {
		n, err := e.dbCount(ctx, query, args...)
		if err != nil || cond(n) || time.Since(t0) > limit || !sleepCtx(ctx, 300*time.Millisecond) {
			return n, err
		}
	}
}

// alertsPerRef fails the scenario when a batch has more than one alert of
// kind, and returns how many batches have one.
func (e *env) alertsPerRef(ctx context.Context, name, kind string) (int, error) {
	rows, err := e.admin.QueryContext(ctx, "SELECT ref, SUM(seen_count) FROM `"+e.dbName+"`.alerts WHERE kind = ? GROUP BY ref", kind)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	refs := 0
	for rows.Next() {
		var ref string
		var n int
		if err := rows.Scan(&ref, &n); err != nil {
			return refs, err
		}
		refs++
		if n > 1 {
			e.fail(name, "%d %s alerts for %s, want exactly one", n, kind, ref)
		}
	}
	return refs, rows.Err()
}

// scenarioDark: the platform books every posting and goes dark (its
// answers are lost, queries and voids fail) when the window ends. No batch
// may be refunded; each booked batch is confirming with exactly one
// posting_outcome_unknown alert; once the platform answers again, the void
// returns the booking and the batch is posted.
func (e *env) scenarioDark(ctx context.Context, name string, d time.Duration, portA, _ int) error {
	defer e.simPost(context.Background(), "/sim/platform/faults", map[string]any{"dark": false})
	_, l, wait, err := e.serveAndLoad(ctx, d, map[string]any{"error_rate": 0, "dark": true}, portA)
	if err != nil {
		return err
	}
	wait()
	if err := e.pokePostings(ctx, true); err != nil {
		return err
	}
	posting, err := e.waitCount(ctx, 15*time.Second, func(n int) bool { return n == 0 },
		"SELECT COUNT(*) FROM %s.batches WHERE status IN ('paid','posting')")
	if err != nil {
		return err
	}
	// Ask a few more times (time passing): still one alert per batch.
	for i := 0; i < 3; i++ {
		_ = e.pokePostings(ctx, false)
		sleepCtx(ctx, time.Second)
	}
	confirming, err := e.dbCount(ctx, "SELECT COUNT(*) FROM %s.batches WHERE status = 'confirming'")
	if err != nil {
		return err
	}
	refunded, err := e.dbCount(ctx, "SELECT COUNT(*) FROM %s.batches WHERE status IN ('refunding','refunded')")
	if err != nil {
		return err
	}
	alerted, err := e.alertsPerRef(ctx, name, service.AlertPostingOutcomeUnknown)
	if err != nil {
		return err
	}
	e.logf("%s: at the deadline: %d confirming (%d alerted), %d refunding/refunded, %d still posting", name, confirming, alerted, refunded, posting)
	if alerted != confirming {
		e.fail(name, "%d confirming batches but %d with a posting_outcome_unknown alert", confirming, alerted)
	}
	if confirming == 0 && l.summary() != "" {
		e.logf("%s: no booked batch reached the deadline (load too short?)", name)
	}
	// The platform answers again: the voids return the bookings.
	if err := e.simPost(ctx, "/sim/platform/faults", map[string]any{"dark": false}); err != nil {
		return err
	}
	if err := e.pokePostings(ctx, false); err != nil {
		return err
	}
	// Time passing: the workers ask again at most 5 minutes later; a void
	// in flight when the platform came back is asked again on the next poke.
	left, err := e.waitCount(ctx, 15*time.Second, func(n int) bool {
		_ = e.pokePostings(ctx, false)
		return n == 0
	}, "SELECT COUNT(*) FROM %s.batches WHERE status = 'confirming'")
	if err != nil {
		return err
	}
	if left > 0 {
		e.fail(name, "%d batches still confirming after the platform answered again", left)
	}
	return e.verify(ctx, name, l, drainLimit)
}

// scenarioForbidden: a 403 storm (the region grant revoked) in the middle
// of the load. A 403 is a configuration fault: nothing is refunded for it,
// one platform_config_fault alert per batch, and once the grant is back
// every batch settles.
func (e *env) scenarioForbidden(ctx context.Context, name string, d time.Duration, portA, _ int) error {
	defer e.simPost(context.Background(), "/sim/platform/faults", map[string]any{"forbid": false})
	_, l, wait, err := e.serveAndLoad(ctx, d, map[string]any{"error_rate": 0}, portA)
	if err != nil {
		return err
	}
	sleepCtx(ctx, d/3)
	if err := e.simPost(ctx, "/sim/platform/faults", map[string]any{"forbid": true}); err != nil {
		wait()
		return err
	}
	wait()
	_ = e.pokePostings(ctx, false)
	sleepCtx(ctx, 2*time.Second)
	bad, err := e.dbCount(ctx, "SELECT COUNT(*) FROM %s.batches b JOIN %[1]s.postings p ON p.out_trade_no = b.out_trade_no "+
		"WHERE p.fault_alerted_at IS NOT NULL AND b.status IN ('refunding','refunded') AND p.status <> 'rejected'")
	if err != nil {
		return err
	}
	if bad > 0 {
		e.fail(name, "%d batches refunded after a 403 (a configuration fault is never a rejection)", bad)
	}
	alerted, err := e.alertsPerRef(ctx, name, service.AlertPlatformConfigFault)
	if err != nil {
		return err
	}
	e.logf("%s: 403 storm: %d batches alerted once each, none refunded for it", name, alerted)
	if err := e.simPost(ctx, "/sim/platform/faults", map[string]any{"forbid": false}); err != nil {
		return err
	}
	if err := e.pokePostings(ctx, false); err != nil {
		return err
	}
	return e.verify(ctx, name, l, drainLimit)
}

// loadPending runs the load against one server per port for d while the
// platform answers every posting pending, and waits (up to 10 s) until no
// batch is still paid. The caller puts the platform back to ModeAccept.
func (e *env) loadPending(ctx context.Context, d time.Duration, ports ...int) ([]*serverProc, *load, error) {
	srvs, l, wait, err := e.serveAndLoad(ctx, d, map[string]any{"error_rate": 0, "posting_mode": provsim.ModePending}, ports...)
	if err != nil {
		return nil, nil, err
	}
	wait()
	_, _ = e.waitCount(ctx, 10*time.Second, func(n int) bool { return n == 0 }, "SELECT COUNT(*) FROM %s.batches WHERE status = 'paid'")
	return srvs, l, nil
}

// deliver signs body for region with the shared platform credentials and
// posts it to a server's callback URL; it returns the HTTP status.
func (e *env) deliver(ctx context.Context, base, region string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", provsim.CallbackURLFor(base)(region), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	platform.SignHeaders(req.Header, platform.Credentials{AppID: simPlatformAppID, Secret: simPlatformSecret},
		time.Now(), platform.NewNonce(), "POST", req.URL.RequestURI(), body)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := e.w.hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// scenarioSiblings: two instances; the platform answers every posting
// pending, then settles them all at once: the simulator's callbacks go to A
// while the same events are delivered to B at the same moment, so sibling
// batches of one order are settled by two instances concurrently.
func (e *env) scenarioSiblings(ctx context.Context, name string, d time.Duration, portA, portB int) error {
	defer e.simPost(context.Background(), "/sim/platform/faults", map[string]any{"posting_mode": provsim.ModeAccept})
	srvs, l, err := e.loadPending(ctx, d, portA, portB)
	if err != nil {
		return err
	}
	b := srvs[1]
	if err := e.simPost(ctx, "/sim/platform/faults", map[string]any{"posting_mode": provsim.ModeAccept}); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- e.simPost(ctx, "/sim/platform/pending/complete", map[string]any{}) }()
	// Meanwhile B gets every settling event as it appears.
	seen := map[string]bool{}
	var wg sync.WaitGroup
	sent := 0
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			finished = true
		case <-time.After(50 * time.Millisecond):
		}
		var evs []provsim.SentEvent
		if err := e.w.getJSON(ctx, "/sim/platform/events", &evs); err != nil {
			return err
		}
		for _, ev := range evs {
			if seen[ev.EventID] || ev.Type != service.EventPostingAccepted {
				continue
			}
			seen[ev.EventID] = true
			sent++
			wg.Add(1)
			go func(body []byte, region string) {
				defer wg.Done()
				if st, err := e.deliver(ctx, b.URL(), region, body); err == nil && st != http.StatusOK && st != http.StatusConflict {
					e.logf("%s: B answered %d to a callback", name, st)
				}
			}(ev.Body, ev.Region)
		}
	}
	wg.Wait()
	_ = e.simPost(ctx, "/sim/platform/callbacks/flush", map[string]any{})
	e.logf("%s: %d settling callbacks delivered to A and B at once", name, sent)
	if err := e.checkOrderStatus(ctx, name); err != nil {
		return err
	}
	return e.verify(ctx, name, l, drainLimit)
}

// checkOrderStatus fails the scenario for an order whose stored status is
// posting while none of its batches is.
func (e *env) checkOrderStatus(ctx context.Context, name string) error {
	n, err := e.waitCount(ctx, 10*time.Second, func(n int) bool { return n == 0 },
		"SELECT COUNT(*) FROM %s.orders o WHERE o.status = 'posting' AND NOT EXISTS "+
			"(SELECT 1 FROM %[1]s.batches b WHERE b.order_no = o.order_no AND b.status IN ('paid','held','posting'))")
	if err != nil {
		return err
	}
	if n > 0 {
		e.fail(name, "%d orders stored as posting although none of their batches is", n)
	}
	return nil
}

// scenarioWrongRegion: every pending posting gets a signed posting.rejected
// and posting.accepted on another region's callback URL, naming that other
// region: nothing may change and each is alerted.
func (e *env) scenarioWrongRegion(ctx context.Context, name string, d time.Duration, portA, _ int) error {
	defer e.simPost(context.Background(), "/sim/platform/faults", map[string]any{"posting_mode": provsim.ModeAccept})
	srvs, l, err := e.loadPending(ctx, d, portA)
	if err != nil {
		return err
	}
	srv := srvs[0]
	// Targets: batches still posting (the platform holds them pending), and
	// settled ones (a forged acceptance of a refunded batch, a forged
	// rejection of a posted one).
	rows, err := e.admin.QueryContext(ctx, "SELECT b.out_trade_no, o.region, b.status, b.amount_fen FROM `"+e.dbName+"`.batches b JOIN `"+
		e.dbName+"`.orders o ON o.order_no = b.order_no WHERE b.status IN ('posting','posted','refunded') ORDER BY b.status = 'posting' DESC, b.id LIMIT 30")
	if err != nil {
		return err
	}
	type target struct {
		key, region, status string
		amount              int64
	}
	var ts []target
	for rows.Next() {
		var t target
		if err := rows.Scan(&t.key, &t.region, &t.status, &t.amount); err != nil {
			rows.Close()
			return err
		}
		ts = append(ts, t)
	}
	rows.Close()
	forged, postingN := 0, 0
	for i, t := range ts {
		if t.status == "posting" {
			postingN++
		}
		other := "shanghai"
		if t.region == other {
			other = "jiangsu"
		}
		for _, typ := range []string{service.EventPostingRejected, service.EventPostingAccepted} {
			w := platform.WireEvent{EventID: "evt_forged_" + strconv.Itoa(i) + "_" + typ, Type: typ, Region: other,
				OccurredAt: time.Now().Format(time.RFC3339), Data: platform.WireEventData{IdempotencyKey: t.key,
					Reference: "SIFORGED", Reason: "forged"}}
			if typ == service.EventPostingAccepted {
				w.Data.Receipt = &platform.WireReceipt{AcceptanceNo: "SLFORGED", AcceptedAt: time.Now().Format(time.RFC3339),
					Fiscal: platform.WireFiscal{Code: "99999999", Number: "0000000001", CheckCode: "FFFFFF", IssuedOn: time.Now().Format(time.DateOnly), AmountFen: t.amount}}
			}
			body, _ := json.Marshal(w)
			if _, err := e.deliver(ctx, srv.URL(), other, body); err != nil {
				return err
			}
			forged++
		}
	}
	if forged == 0 {
		e.fail(name, "no batch to forge callbacks for (load too short?)")
	}
	for _, t := range ts {
		// A posting batch may be settled meanwhile by its real callback
		// (the simulator accepts pending postings after a delay), never
		// refunded by a forged rejection; a settled batch never moves.
		q, args := "SELECT COUNT(*) FROM %s.batches WHERE out_trade_no = ? AND status <> ?", []any{t.key, t.status}
		if t.status == "posting" {
			q, args = "SELECT COUNT(*) FROM %s.batches WHERE out_trade_no = ? AND status IN ('refunding','refunded')", []any{t.key}
		}
		moved, err := e.dbCount(ctx, q, args...)
		if err != nil {
			return err
		}
		if moved != 0 {
			e.fail(name, "a wrong-region callback moved batch %s out of %s", t.key, t.status)
		}
	}
	forgedV, err := e.dbCount(ctx, "SELECT COUNT(*) FROM %s.postings WHERE reference = 'SIFORGED' OR receipt LIKE '%%SLFORGED%%'")
	if err != nil {
		return err
	}
	if forgedV > 0 {
		e.fail(name, "%d posting records took a forged callback", forgedV)
	}
	before := postingN
	alerts, err := e.dbCount(ctx, "SELECT COALESCE(SUM(seen_count), 0) FROM %s.alerts WHERE kind = ?", service.AlertCallbackRegionMismatch)
	if err != nil {
		return err
	}
	e.logf("%s: %d forged callbacks for %d batches (%d posting): %d alerts, none acted on", name, forged, len(ts), before, alerts)
	if alerts < forged {
		e.fail(name, "%d wrong-region callbacks raised %d alerts, want one each", forged, alerts)
	}
	if err := e.simPost(ctx, "/sim/platform/faults", map[string]any{"posting_mode": provsim.ModeAccept}); err != nil {
		return err
	}
	if err := e.simPost(ctx, "/sim/platform/pending/complete", map[string]any{}); err != nil {
		return err
	}
	return e.verify(ctx, name, l, drainLimit)
}
