package model

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/shebao/sipay/service"
)

// The hot writes of the payment path, each within the round-trip budget of
// docs/performance.md: a new order (with batch 1's prepay_id) is one round
// trip on MySQL (createInOneTrip); a later prepay_id is one conditional
// UPDATE; a first payment is BEGIN, one conditional UPDATE, one round trip
// of INSERTs, COMMIT.

// SetPrepay stores a new prepay_id on a batch still pending payment.
func (s *OrderStore) SetPrepay(ctx context.Context, outTradeNo, prepayID string, at time.Time) error {
	now := s.db.Now()
	res := s.db.WithContext(ctx).Exec("UPDATE batches SET prepay_id = ?, prepay_at = ?, updated_at = ? WHERE out_trade_no = ? AND status = ?",
		prepayID, at.UTC().Truncate(time.Microsecond), now, outTradeNo, string(service.StatusPendingPayment))
	if res.Error != nil {
		return storeErr("set prepay", res.Error)
	}
	if res.RowsAffected != 1 {
		return service.ErrStale
	}
	return nil
}

// MarkPaid moves a batch of exactly p.AmountFen from p.From() (pending
// payment) to p.To() (paid) and writes fx, or writes nothing and reports
// false. The conditional UPDATE is the
// truth: of two deliveries (or a delivery and a close) racing for the batch,
// one changes the row and the other finds it changed. The order row is not
// touched: an order's status is derived from its batches when it is read.
func (s *OrderStore) MarkPaid(ctx context.Context, p service.PaidBatch, fx *service.Effects) (bool, error) {
	var done bool
	err := s.db.txOn(ctx, s.db.multi(), func(tx *gorm.DB) error {
		done = false
		now := s.db.Now()
		res := tx.Exec("UPDATE batches SET status = ?, transaction_id = ?, paid_at = ?, updated_at = ? "+
			"WHERE out_trade_no = ? AND order_no = ? AND seq = ? AND status = ? AND amount_fen = ?",
			string(p.To()), p.TransactionID, p.PaidAt.UTC().Truncate(time.Microsecond), now,
			p.OutTradeNo, p.OrderNo, p.Seq, string(p.From()), int64(p.AmountFen))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return nil // nothing written; the caller takes the slow path
		}
		done = true
		return s.insertEffects(tx, p.OrderNo, fx, now) // on the multi-statement pool
	})
	if err != nil {
		return false, storeErr("mark paid", err)
	}
	return done, nil
}

// insertEffects writes the rows of fx: one multi-row INSERT per table, all
// sent in one round trip on MySQL (the multi-statement pool). SQLite is
// in-process, without round trips, and its driver binds the parameters of
// every statement of a batch from the first, so there they go one by one.
// Raw events and outbox jobs that already exist are left as they are.
//
// tx must be a transaction of s.db.multi().
func (s *OrderStore) insertEffects(tx *gorm.DB, orderNo string, fx *service.Effects, now time.Time) error {
	stmts := effectsSQL(s.db.Dialect, orderNo, fx, now)
	if len(stmts) == 0 {
		return nil
	}
	if s.db.multiDB != nil {
		var q strings.Builder
		var args []any
		for i, st := range stmts {
			if i > 0 {
				q.WriteString("; ")
			}
			q.WriteString(st.sql)
			args = append(args, st.args...)
		}
		return tx.Exec(q.String(), args...).Error
	}
	for _, st := range stmts {
		if err := tx.Exec(st.sql, st.args...).Error; err != nil {
			return err
		}
	}
	return nil
}

type stmt struct {
	sql  string
	args []any
}

// effectsSQL builds one multi-row INSERT per table that fx has rows for.
func effectsSQL(dialect, orderNo string, fx *service.Effects, now time.Time) []stmt {
	var out []stmt
	ignore := " ON CONFLICT DO NOTHING"
	if dialect == MySQL {
		ignore = " ON DUPLICATE KEY UPDATE id = id"
	}
	add := func(head string, n, width int, tail string, args []any) {
		if n == 0 {
			return
		}
		var b strings.Builder
		b.WriteString(head)
		tuple := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(tuple)
		}
		b.WriteString(tail)
		out = append(out, stmt{b.String(), args})
	}
	var args []any
	for _, e := range fx.Events {
		no := e.OrderNo
		if no == "" {
			no = orderNo
		}
		args = append(args, no, e.BatchSeq, e.Type, e.Detail, now)
	}
	add("INSERT INTO order_events (order_no, batch_seq, type, detail, created_at) VALUES ", len(fx.Events), 5, "", args)
	if r := fx.Raw; r != nil {
		add("INSERT INTO payment_events (event_id, source, event_type, out_trade_no, transaction_id, body, created_at) VALUES ", 1, 7, ignore,
			[]any{r.EventID, r.Source, r.EventType, r.OutTradeNo, r.TransactionID, r.Body, now})
	}
	args = nil
	for _, j := range fx.Outbox {
		next := j.NextAttemptAt
		if next.IsZero() {
			next = now
		}
		args = append(args, j.Kind, j.Ref, j.Payload, jobPending, 0, next.UTC(), nullTime(j.DeadlineAt), "", nil, "", now, now)
	}
	add("INSERT INTO outbox (kind, ref, payload, status, attempts, next_attempt_at, deadline_at, lease_owner, lease_until, last_error, created_at, updated_at) VALUES ",
		len(fx.Outbox), 12, ignore, args)
	args = nil
	for _, a := range fx.Alerts {
		a = storedAlert(a)
		args = append(args, a.Kind, a.Ref, a.Detail, "open", now)
	}
	add("INSERT INTO alerts (kind, ref, detail, status, created_at) VALUES ", len(fx.Alerts), 5, "", args)
	return out
}

// createInOneTrip writes a new order on MySQL in one round trip: START
// TRANSACTION, the INSERTs of the order, its month claims, its batches and
// its "created" event, and COMMIT, sent together on one connection of the
// multi-statement pool. MySQL stops at the first statement that fails (a
// duplicate key, a deadlock), leaving the transaction open on that
// connection, so after any error the connection is discarded (closing it
// rolls the transaction back) and the error returned: the caller then runs
// the statement-by-statement transaction, which tells a taken quote from a
// claimed month, clears stale claims, and finds its own order if the
// COMMIT here took effect though its answer was lost.
func (s *OrderStore) createInOneTrip(ctx context.Context, o *service.Order, now time.Time) error {
	var q strings.Builder
	var args []any
	q.WriteString("START TRANSACTION; INSERT INTO orders (order_no, user_id, person_id, quote_id, region, amount_fen, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)")
	args = append(args, o.No, o.UserID, o.PersonID, o.QuoteID, o.Region, int64(o.AmountFen), string(o.Status), now, now)
	if len(o.Claims) > 0 {
		q.WriteString("; INSERT INTO order_months (person_id, insurance, month, order_no, out_trade_no, created_at) VALUES ")
		for i, c := range o.Claims {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?)")
			args = append(args, o.PersonID, c.Insurance, c.Month, o.No, c.OutTradeNo, now)
		}
	}
	q.WriteString("; INSERT INTO batches (order_no, seq, out_trade_no, amount_fen, from_month, to_month, status, prepay_id, prepay_at, expire_at, payer_open_id, funding, transaction_id, paid_at, updated_at) VALUES ")
	for i := range o.Batches {
		r := fromBatch(&o.Batches[i])
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
		args = append(args, r.OrderNo, r.Seq, r.OutTradeNo, r.AmountFen, r.FromMonth, r.ToMonth, r.Status, r.PrepayID, r.PrepayAt,
			r.ExpireAt, r.PayerOpenID, r.Funding, r.TransactionID, r.PaidAt, r.UpdatedAt)
	}
	q.WriteString("; INSERT INTO order_events (order_no, batch_seq, type, detail, created_at) VALUES (?,?,?,?,?); COMMIT")
	args = append(args, o.No, 0, "created", "订单已创建", now)
	return s.db.multiDB.WithContext(ctx).Connection(func(tx *gorm.DB) error {
		err := tx.Exec(q.String(), args...).Error
		if err != nil {
			if conn, ok := tx.Statement.ConnPool.(*sql.Conn); ok {
				conn.Raw(func(any) error { return driver.ErrBadConn }) // discard: a transaction may be open on it
			}
		}
		return err
	})
}
