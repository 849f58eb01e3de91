package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/shebao/sipay/service"
)

// rawNotifyTx is the notify transaction written by hand with database/sql:
// the same statements model.OrderStore.UpdateBatch and the payment
// transition issue for a first TRANSACTION.SUCCESS (read the batch, lock the
// order FOR UPDATE, read the order's batches, conditional UPDATE of the
// batch, UPDATE of the order, INSERT of the raw event, the outbox job and the
// timeline event), without HTTP, crypto, GORM or the service layer. It is
// the ceiling the notify endpoint is measured against.
func rawNotifyTx(ctx context.Context, db *sql.DB, outTradeNo, txID string, body string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var (
		id, amount                                   int64
		ono, otn, from, to, status, prepayID, openID string
		seq                                          int
		prepayAt, expireAt, paidAt                   sql.NullTime
		tid                                          sql.NullString
		updatedAt                                    time.Time
	)
	const batchCols = "id,order_no,seq,out_trade_no,amount_fen,from_month,to_month,status,prepay_id,prepay_at,expire_at,payer_open_id,transaction_id,paid_at,updated_at"
	if err := tx.QueryRowContext(ctx, "SELECT "+batchCols+" FROM batches WHERE out_trade_no = ? ORDER BY id LIMIT 1", outTradeNo).
		Scan(&id, &ono, &seq, &otn, &amount, &from, &to, &status, &prepayID, &prepayAt, &expireAt, &openID, &tid, &paidAt, &updatedAt); err != nil {
		return fmt.Errorf("read batch: %w", err)
	}
	var (
		oid, uid, pid, oamount         int64
		oono, quoteID, region, ostatus string
		ocreated, oupdated             time.Time
	)
	if err := tx.QueryRowContext(ctx, "SELECT id,order_no,user_id,person_id,quote_id,region,amount_fen,status,created_at,updated_at FROM orders WHERE order_no = ? ORDER BY id LIMIT 1 FOR UPDATE", ono).
		Scan(&oid, &oono, &uid, &pid, &quoteID, &region, &oamount, &ostatus, &ocreated, &oupdated); err != nil {
		return fmt.Errorf("lock order: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+batchCols+" FROM batches WHERE order_no = ? ORDER BY seq", ono)
	if err != nil {
		return fmt.Errorf("read batches: %w", err)
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(&id, &ono, &seq, &otn, &amount, &from, &to, &status, &prepayID, &prepayAt, &expireAt, &openID, &tid, &paidAt, &updatedAt); err != nil {
			rows.Close()
			return err
		}
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil || n == 0 {
		return fmt.Errorf("read batches: %v (%d rows)", err, n)
	}
	if status != string(service.StatusPendingPayment) {
		return errors.New("batch not pending")
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	res, err := tx.ExecContext(ctx, "UPDATE batches SET status=?,prepay_id=?,prepay_at=?,expire_at=?,payer_open_id=?,transaction_id=?,paid_at=?,updated_at=? WHERE out_trade_no = ? AND status = ?",
		string(service.StatusPaid), prepayID, prepayAt, expireAt, openID, txID, now, now, outTradeNo, string(service.StatusPendingPayment))
	if err != nil {
		return fmt.Errorf("update batch: %w", err)
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return service.ErrStale
	}
	if _, err := tx.ExecContext(ctx, "UPDATE orders SET status=?,updated_at=? WHERE order_no = ?", string(service.StatusPaid), now, ono); err != nil {
		return fmt.Errorf("update order: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO payment_events (event_id,source,event_type,out_trade_no,transaction_id,body,created_at) VALUES (?,?,?,?,?,?,?) ON DUPLICATE KEY UPDATE id=id",
		"EV-"+txID, "notify", "TRANSACTION.SUCCESS", outTradeNo, txID, body, now); err != nil {
		return fmt.Errorf("insert payment event: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO outbox (kind,ref,payload,status,attempts,next_attempt_at,deadline_at,lease_owner,lease_until,last_error,created_at,updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON DUPLICATE KEY UPDATE id=id",
		service.JobPostBatch, outTradeNo, "", "pending", 0, now, now.Add(72*time.Hour), "", nil, "", now, now); err != nil {
		return fmt.Errorf("insert outbox: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO order_events (order_no,batch_seq,type,detail,created_at) VALUES (?,?,?,?,?)",
		ono, seq, "paid", fmt.Sprintf("第 %d 笔已支付 %s 元（微信支付单号 %s）", seq, service.Fen(amount), txID), now); err != nil {
		return fmt.Errorf("insert order event: %w", err)
	}
	return tx.Commit()
}

// rawPool hands out the pending batches seeded for the raw ceiling.
type rawPool struct {
	prefix string
	from   int
	n      int
	next   atomic.Int64
}

// op runs one raw notify transaction on the next batch of the pool.
func (p *rawPool) op(db *sql.DB, body string) op {
	return func(ctx context.Context, _ int) error {
		i := int(p.next.Add(1) - 1)
		if i >= p.n {
			return errExhausted
		}
		idx := p.from + i
		no := orderNo(p.prefix, idx)
		return rawNotifyTx(ctx, db, service.OutTradeNo(no, 1), fmt.Sprintf("42R%s%012d", p.prefix, idx), body)
	}
}
