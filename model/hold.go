package model

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

type holdRow struct {
	ID         int64 `gorm:"primaryKey"`
	OutTradeNo string
	OrderNo    string
	UserID     int64
	Rules      string
	Action     string
	Detail     string
	Status     string
	HeldAt     time.Time
	ExpiresAt  time.Time
	DecidedAt  sql.NullTime
	DecidedBy  string
}

func (holdRow) TableName() string { return "holds" }

func toHold(r *holdRow) service.Hold {
	var rules []string
	if r.Rules != "" {
		rules = strings.Split(r.Rules, ",")
	}
	return service.Hold{OutTradeNo: r.OutTradeNo, OrderNo: r.OrderNo, UserID: r.UserID, Rules: rules, Action: service.HoldAction(r.Action),
		Detail: r.Detail, Status: service.HoldStatus(r.Status), HeldAt: r.HeldAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), DecidedAt: fromNull(r.DecidedAt), DecidedBy: r.DecidedBy}
}

// CreateHold inserts the hold or returns the batch's existing one.
func (s *AfterStore) CreateHold(ctx context.Context, h *service.Hold) (*service.Hold, error) {
	row := holdRow{OutTradeNo: h.OutTradeNo, OrderNo: h.OrderNo, UserID: h.UserID, Rules: strings.Join(h.Rules, ","), Action: string(h.Action),
		Detail: redact.Clip(h.Detail, 990), Status: string(h.Status), HeldAt: h.HeldAt.UTC(), ExpiresAt: h.ExpiresAt.UTC()}
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return nil, storeErr("create hold", err)
	}
	return s.FindHold(ctx, h.OutTradeNo)
}

// FindHold returns the hold of a batch.
func (s *AfterStore) FindHold(ctx context.Context, outTradeNo string) (*service.Hold, error) {
	return findOne(s.db.WithContext(ctx).Where("out_trade_no = ?", outTradeNo), "find hold", toHold)
}

// FindHolds lists holds in a status ("" for all), oldest first.
func (s *AfterStore) FindHolds(ctx context.Context, status service.HoldStatus, limit int) ([]service.Hold, error) {
	q := s.db.WithContext(ctx).Order("id").Limit(limit)
	if status != "" {
		q = q.Where("status = ?", string(status))
	}
	return findAll(q, "find holds", toHold)
}

// FindExpiredHolds lists open holds expiring at or before now.
func (s *AfterStore) FindExpiredHolds(ctx context.Context, now time.Time, limit int) ([]service.Hold, error) {
	return findAll(s.db.WithContext(ctx).Where("status = ? AND expires_at <= ?", string(service.HoldOpen), now.UTC()).Order("expires_at").Limit(limit),
		"find expired holds", toHold)
}

// DecideHold moves an open hold to status.
func (s *AfterStore) DecideHold(ctx context.Context, outTradeNo string, status service.HoldStatus, by string, at time.Time) (bool, error) {
	ok, err := decideHold(s.db.WithContext(ctx), outTradeNo, status, by, at)
	return ok, storeErr("decide hold", err)
}

// decideHold decides the open hold of a batch on db (or a transaction);
// false when it is not open.
func decideHold(db *gorm.DB, outTradeNo string, status service.HoldStatus, by string, at time.Time) (bool, error) {
	res := db.Model(&holdRow{}).Where("out_trade_no = ? AND status = ?", outTradeNo, string(service.HoldOpen)).
		Updates(map[string]any{"status": string(status), "decided_by": redact.Clip(by, 80), "decided_at": at.UTC()})
	if res.Error != nil {
		return false, res.Error
	}
	return res.RowsAffected == 1, nil
}

// CountPaidBatches counts a payer's batches paid in [from, to).
func (s *AfterStore) CountPaidBatches(ctx context.Context, userID int64, from, to time.Time) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&batchRow{}).
		Joins("JOIN orders ON orders.order_no = batches.order_no").
		Where("orders.user_id = ? AND batches.paid_at >= ? AND batches.paid_at < ?", userID, from.UTC(), to.UTC()).Count(&n).Error
	return int(n), storeErr("count paid batches", err)
}
