package model

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

type creditRow struct {
	ID             int64 `gorm:"primaryKey"`
	OutOrderNo     string
	OutTradeNo     string
	OrderNo        string
	UserID         int64
	Region         string
	AmountFen      int64
	State          string
	ServiceOrderID string
	ConfirmBy      time.Time
	ConfirmedAt    sql.NullTime
	PostedAt       sql.NullTime
	DueAt          sql.NullTime
	CompletedAt    sql.NullTime
	CollectedAt    sql.NullTime
	FailedAt       sql.NullTime
	TransactionID  sql.NullString
	CancelReason   string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (creditRow) TableName() string { return "credit_orders" }

func fromCredit(c *service.CreditOrder) creditRow {
	r := creditRow{OutOrderNo: c.OutOrderNo, OutTradeNo: c.OutTradeNo, OrderNo: c.OrderNo, UserID: c.UserID, Region: c.Region,
		AmountFen: int64(c.AmountFen), State: string(c.State), ServiceOrderID: c.ServiceOrderID, ConfirmBy: c.ConfirmBy.UTC(),
		ConfirmedAt: nullTime(c.ConfirmedAt), PostedAt: nullTime(c.PostedAt), DueAt: nullTime(c.DueAt),
		CompletedAt: nullTime(c.CompletedAt), CollectedAt: nullTime(c.CollectedAt), FailedAt: nullTime(c.FailedAt),
		CancelReason: redact.Clip(c.CancelReason, 200), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if c.TransactionID != "" {
		r.TransactionID = sql.NullString{String: c.TransactionID, Valid: true}
	}
	return r
}

func toCredit(r *creditRow) service.CreditOrder {
	return service.CreditOrder{OutOrderNo: r.OutOrderNo, OutTradeNo: r.OutTradeNo, OrderNo: r.OrderNo, UserID: r.UserID,
		Region: r.Region, AmountFen: service.Fen(r.AmountFen), State: service.CreditState(r.State), ServiceOrderID: r.ServiceOrderID,
		ConfirmBy: r.ConfirmBy.UTC(), ConfirmedAt: fromNull(r.ConfirmedAt), PostedAt: fromNull(r.PostedAt), DueAt: fromNull(r.DueAt),
		CompletedAt: fromNull(r.CompletedAt), CollectedAt: fromNull(r.CollectedAt), FailedAt: fromNull(r.FailedAt),
		TransactionID: r.TransactionID.String, CancelReason: r.CancelReason, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// CreditStore implements service.CreditStore. Its effects (timeline,
// outbox jobs, alerts, raw events) are written by the order store's
// writeEffects in the same transaction as the credit row.
type CreditStore struct {
	db     *DB
	orders *OrderStore
}

var _ service.CreditStore = (*CreditStore)(nil)

// NewCreditStore returns a CreditStore.
func NewCreditStore(db *DB) *CreditStore { return &CreditStore{db: db, orders: NewOrderStore(db)} }

// CreateCredit inserts c and fx in one transaction.
func (s *CreditStore) CreateCredit(ctx context.Context, c *service.CreditOrder, fx *service.Effects) error {
	now := s.db.Now()
	c.CreatedAt, c.UpdatedAt = now, now
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		row := fromCredit(c)
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if fx == nil {
			return nil
		}
		return s.orders.writeEffects(tx, c.OrderNo, fx)
	})
	return storeErr("create credit order", err)
}

// FindCredit returns a credit order by out_order_no.
func (s *CreditStore) FindCredit(ctx context.Context, outOrderNo string) (*service.CreditOrder, error) {
	return findOne(s.db.WithContext(ctx).Where("out_order_no = ?", outOrderNo), "find credit order", toCredit)
}

// FindCreditByOrder returns the credit order of an order.
func (s *CreditStore) FindCreditByOrder(ctx context.Context, orderNo string) (*service.CreditOrder, error) {
	return findOne(s.db.WithContext(ctx).Where("order_no = ?", orderNo), "find credit order", toCredit)
}

// UpdateCredit locks the row (FOR UPDATE on MySQL; SQLite serializes write
// transactions), runs fn and writes the row conditioned on its previous
// state, with fx, in one transaction.
func (s *CreditStore) UpdateCredit(ctx context.Context, outOrderNo string, fn func(*service.CreditOrder, *service.Effects) error) (*service.CreditOrder, error) {
	var out *service.CreditOrder
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var r creditRow
		if err := lockForUpdate(tx, s.db.Dialect).Where("out_order_no = ?", outOrderNo).First(&r).Error; err != nil {
			return err
		}
		cv := toCredit(&r)
		c := &cv
		before := c.State
		var fx service.Effects
		if err := fn(c, &fx); err != nil {
			if errors.Is(err, service.ErrNoChange) {
				out = c
				// Alerts and raw events of a no-op are still recorded.
				return s.orders.writeEffects(tx, c.OrderNo, &service.Effects{Raw: fx.Raw, Alerts: fx.Alerts})
			}
			return err
		}
		if err := c.Settle(before); err != nil {
			return err
		}
		c.UpdatedAt = s.db.Now()
		row := fromCredit(c)
		res := tx.Model(&creditRow{}).Where("out_order_no = ? AND state = ?", outOrderNo, string(before)).
			Select("state", "service_order_id", "confirmed_at", "posted_at", "due_at", "completed_at", "collected_at",
				"failed_at", "transaction_id", "cancel_reason", "updated_at").Updates(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return service.ErrStale
		}
		out = c
		return s.orders.writeEffects(tx, c.OrderNo, &fx)
	})
	if err != nil {
		if service.AsError(err) != nil || errors.Is(err, service.ErrStale) {
			return nil, err
		}
		return nil, storeErr("update credit order", err)
	}
	return out, nil
}

// FindCollectedBetween lists credit orders collected in [from, to).
func (s *CreditStore) FindCollectedBetween(ctx context.Context, from, to time.Time) ([]service.CreditOrder, error) {
	return findAll(s.db.WithContext(ctx).Where("collected_at >= ? AND collected_at < ?", from.UTC(), to.UTC()).Order("collected_at"),
		"find collected credit orders", toCredit)
}
