package model

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

type orderRow struct {
	ID        int64 `gorm:"primaryKey"`
	OrderNo   string
	UserID    int64
	PersonID  int64
	QuoteID   string
	Region    string
	AmountFen int64
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (orderRow) TableName() string { return "orders" }

type batchRow struct {
	ID            int64 `gorm:"primaryKey"`
	OrderNo       string
	Seq           int
	OutTradeNo    string
	AmountFen     int64
	FromMonth     string
	ToMonth       string
	Status        string
	PrepayID      string
	PrepayAt      sql.NullTime
	ExpireAt      sql.NullTime
	PayerOpenID   string
	Funding       string
	TransactionID sql.NullString
	PaidAt        sql.NullTime
	UpdatedAt     time.Time
}

func (batchRow) TableName() string { return "batches" }

type orderEventRow struct {
	ID        int64 `gorm:"primaryKey"`
	OrderNo   string
	BatchSeq  int
	Type      string
	Detail    string
	CreatedAt time.Time
}

func (orderEventRow) TableName() string { return "order_events" }

type paymentEventRow struct {
	ID            int64 `gorm:"primaryKey"`
	EventID       string
	Source        string
	EventType     string
	OutTradeNo    string
	TransactionID string
	Body          string
	CreatedAt     time.Time
}

func (paymentEventRow) TableName() string { return "payment_events" }

type alertRow struct {
	ID         int64 `gorm:"primaryKey"`
	Kind       string
	Ref        string
	Detail     string
	Status     string
	SeenCount  int
	LastSeenAt sql.NullTime
	CreatedAt  time.Time
}

func (alertRow) TableName() string { return "alerts" }

func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

func fromNull(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func fromBatch(b *service.Batch) batchRow {
	r := batchRow{OrderNo: b.OrderNo, Seq: b.Seq, OutTradeNo: b.OutTradeNo, AmountFen: int64(b.AmountFen),
		FromMonth: b.FromMonth, ToMonth: b.ToMonth, Status: string(b.Status), PrepayID: b.PrepayID,
		PrepayAt: nullTime(b.PrepayAt), ExpireAt: nullTime(b.ExpireAt), PayerOpenID: b.PayerOpenID,
		Funding: string(b.Funding), PaidAt: nullTime(b.PaidAt), UpdatedAt: b.UpdatedAt}
	if b.TransactionID != "" {
		r.TransactionID = sql.NullString{String: b.TransactionID, Valid: true}
	}
	return r
}

func toBatch(r *batchRow) service.Batch {
	return service.Batch{OrderNo: r.OrderNo, Seq: r.Seq, OutTradeNo: r.OutTradeNo, AmountFen: service.Fen(r.AmountFen),
		FromMonth: r.FromMonth, ToMonth: r.ToMonth, Status: service.OrderStatus(r.Status), PrepayID: r.PrepayID,
		PrepayAt: fromNull(r.PrepayAt), ExpireAt: fromNull(r.ExpireAt), PayerOpenID: r.PayerOpenID,
		Funding: service.Funding(r.Funding), TransactionID: r.TransactionID.String, PaidAt: fromNull(r.PaidAt), UpdatedAt: r.UpdatedAt.UTC()}
}

func toOrder(r *orderRow, batches []batchRow) *service.Order {
	o := &service.Order{No: r.OrderNo, UserID: r.UserID, PersonID: r.PersonID, QuoteID: r.QuoteID, Region: r.Region,
		AmountFen: service.Fen(r.AmountFen), Status: service.OrderStatus(r.Status), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	for i := range batches {
		o.Batches = append(o.Batches, toBatch(&batches[i]))
	}
	// The batches are the truth. The stored orders.status is only the status
	// as of the order's last UpdateBatch: MarkPaid, the payment's one
	// conditional write, does not touch the order row. Readers get the
	// status the batches imply, so no reader can see the two disagree.
	if len(o.Batches) > 0 {
		o.SyncStatus()
	}
	return o
}

// OrderStore implements service.OrderStore.
type OrderStore struct{ db *DB }

// NewOrderStore returns an OrderStore.
func NewOrderStore(db *DB) *OrderStore { return &OrderStore{db: db} }

// CreateOrder inserts the order, its batches, its month claims and the
// "created" event in one transaction.
func (s *OrderStore) CreateOrder(ctx context.Context, o *service.Order) error {
	now := s.db.Now()
	o.CreatedAt, o.UpdatedAt = now, now
	o.SyncStatus()
	for i := range o.Batches {
		o.Batches[i].UpdatedAt = now
	}
	if s.db.multiDB != nil && o.MutualAidFen <= 0 && s.createInOneTrip(ctx, o, now) == nil {
		return nil
	}
	// The statement-by-statement transaction: on SQLite, for an order with
	// mutual aid (which locks the person first), and after the one-trip
	// transaction failed, to tell what the failure was (the quote already
	// ordered, a month claimed, stale claims to clear, a lost connection).
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		// The order row first: UNIQUE(quote_id) answers a second order of
		// the same quote before the month claims do.
		row := orderRow{OrderNo: o.No, UserID: o.UserID, PersonID: o.PersonID, QuoteID: o.QuoteID, Region: o.Region,
			AmountFen: int64(o.AmountFen), Status: string(o.Status), CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if err := s.checkMutualAid(tx, o); err != nil {
			return err
		}
		if err := claimMonths(tx, o, now); err != nil {
			return err
		}
		rows := make([]batchRow, len(o.Batches))
		for i := range o.Batches {
			rows[i] = fromBatch(&o.Batches[i])
		}
		if err := tx.Create(&rows).Error; err != nil { // one multi-row INSERT
			return err
		}
		return tx.Create(&orderEventRow{OrderNo: o.No, Type: "created", Detail: "订单已创建", CreatedAt: now}).Error
	})
	return storeErr("create order", err)
}

func (s *OrderStore) load(tx *gorm.DB, where string, arg any) (*service.Order, error) {
	var row orderRow
	if err := tx.Where(where, arg).First(&row).Error; err != nil {
		return nil, err
	}
	var batches []batchRow
	if err := tx.Where("order_no = ?", row.OrderNo).Order("seq").Find(&batches).Error; err != nil {
		return nil, err
	}
	return toOrder(&row, batches), nil
}

// FindOrder returns the order with its batches.
func (s *OrderStore) FindOrder(ctx context.Context, orderNo string) (*service.Order, error) {
	o, err := s.load(s.db.WithContext(ctx), "order_no = ?", orderNo)
	return o, storeErr("find order", err)
}

// FindOrderByQuote returns the order of a quote.
func (s *OrderStore) FindOrderByQuote(ctx context.Context, quoteID string) (*service.Order, error) {
	o, err := s.load(s.db.WithContext(ctx), "quote_id = ?", quoteID)
	return o, storeErr("find order by quote", err)
}

// FindOrders lists a user's orders, newest first, with the total count.
func (s *OrderStore) FindOrders(ctx context.Context, f service.OrderFilter) ([]*service.Order, int, error) {
	q := s.db.WithContext(ctx).Model(&orderRow{}).Where("user_id = ?", f.UserID)
	rows, total, err := findPage[orderRow](q, "orders", f.Offset, f.Limit)
	if err != nil || len(rows) == 0 {
		return nil, total, err
	}
	out, err := s.withBatches(ctx, rows)
	return out, int(total), err
}

// FindOrdersByNo returns the orders with these numbers, with their
// batches, in two queries; numbers of no order are left out.
func (s *OrderStore) FindOrdersByNo(ctx context.Context, nos []string) ([]*service.Order, error) {
	if len(nos) == 0 {
		return nil, nil
	}
	var rows []orderRow
	if err := s.db.WithContext(ctx).Where("order_no IN ?", nos).Find(&rows).Error; err != nil {
		return nil, storeErr("find orders by no", err)
	}
	return s.withBatches(ctx, rows)
}

// withBatches reads the batches of rows in one query and converts.
func (s *OrderStore) withBatches(ctx context.Context, rows []orderRow) ([]*service.Order, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	nos := make([]string, len(rows))
	for i, r := range rows {
		nos[i] = r.OrderNo
	}
	var batches []batchRow
	if err := s.db.WithContext(ctx).Where("order_no IN ?", nos).Order("seq").Find(&batches).Error; err != nil {
		return nil, storeErr("find batches", err)
	}
	byOrder := map[string][]batchRow{}
	for _, b := range batches {
		byOrder[b.OrderNo] = append(byOrder[b.OrderNo], b)
	}
	out := make([]*service.Order, len(rows))
	for i := range rows {
		out[i] = toOrder(&rows[i], byOrder[rows[i].OrderNo])
	}
	return out, nil
}

// FindBatches lists batches in status last updated before a time.
func (s *OrderStore) FindBatches(ctx context.Context, status service.OrderStatus, updatedBefore time.Time, limit int) ([]service.Batch, error) {
	return findAll(s.db.WithContext(ctx).Where("status = ? AND updated_at < ?", string(status), updatedBefore.UTC()).
		Order("updated_at").Limit(limit), "find batches", toBatch)
}

// UpdateBatch runs fn under the order's row lock and writes the batch change,
// the recomputed order status and the effects in one transaction.
func (s *OrderStore) UpdateBatch(ctx context.Context, outTradeNo string, fn service.BatchUpdater) (*service.Order, error) {
	var out *service.Order
	orderNo, _, ok := service.SplitOutTradeNo(outTradeNo)
	if !ok {
		return nil, storeErr("update batch", gorm.ErrRecordNotFound)
	}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		// Lock the order row before reading anything that decides the write:
		// every batch change of one order is serialized, and under MySQL's
		// REPEATABLE READ a plain SELECT taken before the lock would fix a
		// snapshot that the reads below could not see past. The batches are
		// read with FOR UPDATE too (a locking read sees the latest committed
		// rows, not the snapshot).
		var orow orderRow
		if err := lockForUpdate(tx, s.db.Dialect).Where("order_no = ?", orderNo).First(&orow).Error; err != nil {
			return err
		}
		var batches []batchRow
		if err := lockForUpdate(tx, s.db.Dialect).Where("order_no = ?", orderNo).Order("seq").Find(&batches).Error; err != nil {
			return err
		}
		o := toOrder(&orow, batches)
		idx := -1
		for i := range o.Batches {
			if o.Batches[i].OutTradeNo == outTradeNo {
				idx = i
			}
		}
		if idx < 0 {
			return gorm.ErrRecordNotFound
		}
		before := o.Batches[idx]
		var fx service.Effects
		if err := fn(o, &o.Batches[idx], &fx); err != nil {
			if errors.Is(err, service.ErrNoChange) {
				out = o
				// Alerts and raw events of a no-op (e.g. a mismatching
				// notification) are still recorded.
				return s.writeEffects(tx, o.No, &fx)
			}
			return err
		}
		b := &o.Batches[idx]
		// The domain checks the change and derives the order's status; the
		// store writes what it says, conditional on the batch's old status.
		if err := o.Settle(b, before.Status); err != nil {
			return err
		}
		now := s.db.Now()
		b.UpdatedAt = now
		row := fromBatch(b)
		res := tx.Model(&batchRow{}).Where("out_trade_no = ? AND status = ?", outTradeNo, string(before.Status)).
			Select("status", "prepay_id", "prepay_at", "expire_at", "payer_open_id", "transaction_id", "paid_at", "updated_at").
			Updates(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return service.ErrStale
		}
		o.UpdatedAt = now
		if err := tx.Model(&orderRow{}).Where("order_no = ?", o.No).
			Updates(map[string]any{"status": string(o.Status), "updated_at": now}).Error; err != nil {
			return err
		}
		out = o
		return s.writeEffects(tx, o.No, &fx)
	})
	if err != nil {
		if service.AsError(err) != nil || errors.Is(err, service.ErrStale) {
			return nil, err
		}
		return nil, storeErr("update batch", err)
	}
	return out, nil
}

// writeEffects writes fx in the transaction of an UpdateBatch (alerts are
// upserted, see upsertAlert; the payment's first delivery writes its effects
// in one round trip, see MarkPaid).
func (s *OrderStore) writeEffects(tx *gorm.DB, orderNo string, fx *service.Effects) error {
	now := s.db.Now()
	for _, e := range fx.Events {
		if err := tx.Create(&orderEventRow{OrderNo: orderNo, BatchSeq: e.BatchSeq, Type: e.Type, Detail: e.Detail, CreatedAt: now}).Error; err != nil {
			return err
		}
	}
	if r := fx.Raw; r != nil {
		row := paymentEventRow{EventID: r.EventID, Source: r.Source, EventType: r.EventType, OutTradeNo: r.OutTradeNo,
			TransactionID: r.TransactionID, Body: r.Body, CreatedAt: now}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return err
		}
	}
	for _, j := range fx.Outbox {
		if err := insertJob(tx, j, now); err != nil {
			return err
		}
	}
	for _, a := range fx.Alerts {
		if err := upsertAlert(tx, a, now); err != nil {
			return err
		}
	}
	if d := fx.Hold; d != nil {
		if _, err := decideHold(tx, d.OutTradeNo, d.Status, d.By, d.At); err != nil {
			return err
		}
	}
	return nil
}

// OrderEvents returns the timeline.
func (s *OrderStore) OrderEvents(ctx context.Context, orderNo string) ([]service.OrderEvent, error) {
	var rows []orderEventRow
	if err := s.db.WithContext(ctx).Where("order_no = ?", orderNo).Order("id").Find(&rows).Error; err != nil {
		return nil, storeErr("order events", err)
	}
	out := make([]service.OrderEvent, len(rows))
	for i, r := range rows {
		out[i] = service.OrderEvent{OrderNo: r.OrderNo, BatchSeq: r.BatchSeq, Type: r.Type, Detail: r.Detail, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// RecordAlert stores an alert, or counts a repeat of the same (kind, ref).
func (s *OrderStore) RecordAlert(ctx context.Context, a service.Alert) error {
	// In a transaction so that a deadlock between concurrent upserts of one
	// (kind, ref) on MySQL is retried (DB.Tx) instead of losing the alert.
	err := s.db.Tx(ctx, func(tx *gorm.DB) error { return upsertAlert(tx, a, s.db.Now()) })
	return storeErr("record alert", err)
}

// upsertAlert inserts an alert, or, when one of the same (kind, ref) exists
// (UNIQUE uk_alerts_kind_ref), counts the repeat: seen_count+1, last_seen_at
// and detail updated, and a resolved alert reopened. One statement on both
// dialects (ON DUPLICATE KEY UPDATE on MySQL, ON CONFLICT DO UPDATE on
// SQLite), so concurrent repeats never insert twice.
func upsertAlert(tx *gorm.DB, a service.Alert, now time.Time) error {
	a = storedAlert(a)
	row := alertRow{Kind: a.Kind, Ref: a.Ref, Detail: a.Detail, Status: "open", SeenCount: 1,
		LastSeenAt: nullTime(now), CreatedAt: now}
	return tx.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "kind"}, {Name: "ref"}},
		DoUpdates: clause.Assignments(map[string]any{
			"seen_count":   gorm.Expr("seen_count + 1"),
			"last_seen_at": nullTime(now),
			"detail":       row.Detail,
			"status":       "open",
		}),
	}).Create(&row).Error
}

// storedAlert is a as it may be written: personal data masked
// (redact.Personal; raw notification bodies and platform answers carry
// openids, names and ID numbers, and none may be stored raw), ref and
// detail clipped. Every alert write goes through it.
func storedAlert(a service.Alert) service.Alert {
	a.Ref, a.Detail = redact.Clip(redact.Personal(a.Ref), 80), redact.Clip(redact.Personal(a.Detail), 2000)
	return a
}

// FindAlerts lists alerts by status ("" for all), newest first.
func (s *OrderStore) FindAlerts(ctx context.Context, status service.AlertStatus, limit int) ([]service.Alert, error) {
	q := s.db.WithContext(ctx).Order("last_seen_at DESC, id DESC").Limit(limit)
	if status != "" {
		q = q.Where("status = ?", string(status))
	}
	return findAll(q, "find alerts", toAlert)
}

func toAlert(r *alertRow) service.Alert {
	a := service.Alert{ID: r.ID, Kind: r.Kind, Ref: r.Ref, Detail: r.Detail, Status: service.AlertStatus(r.Status), Count: r.SeenCount,
		LastSeenAt: fromNull(r.LastSeenAt), CreatedAt: r.CreatedAt.UTC()}
	if a.LastSeenAt.IsZero() {
		a.LastSeenAt = a.CreatedAt
	}
	return a
}
