package model

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/shebao/sipay/service"
)

type refundRow struct {
	ID                  int64 `gorm:"primaryKey"`
	OutRefundNo         string
	OutTradeNo          string
	OrderNo             string
	TransactionID       string
	AmountFen           int64
	TotalFen            int64
	Reason              string
	Detail              string
	Status              string
	RefundID            string
	Channel             string
	UserReceivedAccount string
	Attempts            int
	LastError           string
	SuccessAt           sql.NullTime
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

func (refundRow) TableName() string { return "refunds" }

func toRefund(r *refundRow) *service.Refund {
	return &service.Refund{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, OrderNo: r.OrderNo, TransactionID: r.TransactionID,
		AmountFen: service.Fen(r.AmountFen), TotalFen: service.Fen(r.TotalFen), Reason: service.RefundReason(r.Reason), Detail: r.Detail,
		Status: service.RefundState(r.Status), RefundID: r.RefundID, Channel: r.Channel, UserReceivedAccount: r.UserReceivedAccount,
		Attempts: r.Attempts, LastError: r.LastError, SuccessAt: fromNull(r.SuccessAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return service.ErrorText(errors.New(s), n)
}

// CreateRefund inserts the refund or returns the existing one.
func (s *AfterStore) CreateRefund(ctx context.Context, r *service.Refund) (*service.Refund, error) {
	now := s.db.Now()
	row := refundRow{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, OrderNo: r.OrderNo, TransactionID: r.TransactionID,
		AmountFen: int64(r.AmountFen), TotalFen: int64(r.TotalFen), Reason: string(r.Reason), Detail: cut(r.Detail, 480),
		Status: string(r.Status), CreatedAt: now, UpdatedAt: now}
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return nil, storeErr("create refund", err)
	}
	return s.FindRefund(ctx, r.OutRefundNo)
}

// FindRefund returns a refund by out_refund_no.
func (s *AfterStore) FindRefund(ctx context.Context, outRefundNo string) (*service.Refund, error) {
	var row refundRow
	if err := s.db.WithContext(ctx).Where("out_refund_no = ?", outRefundNo).First(&row).Error; err != nil {
		return nil, storeErr("find refund", err)
	}
	return toRefund(&row), nil
}

// FindRefundByTrade returns the refund of a batch.
func (s *AfterStore) FindRefundByTrade(ctx context.Context, outTradeNo string) (*service.Refund, error) {
	var row refundRow
	if err := s.db.WithContext(ctx).Where("out_trade_no = ?", outTradeNo).First(&row).Error; err != nil {
		return nil, storeErr("find refund", err)
	}
	return toRefund(&row), nil
}

// UpdateRefund applies fn under a row lock.
func (s *AfterStore) UpdateRefund(ctx context.Context, outRefundNo string, fn func(*service.Refund) error) (*service.Refund, error) {
	var out *service.Refund
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var row refundRow
		if err := lockForUpdate(tx, s.db.Dialect).Where("out_refund_no = ?", outRefundNo).First(&row).Error; err != nil {
			return err
		}
		r := toRefund(&row)
		out = r
		if err := fn(r); err != nil {
			if errors.Is(err, service.ErrNoChange) {
				return nil
			}
			return err
		}
		r.UpdatedAt = s.db.Now()
		return tx.Model(&refundRow{}).Where("id = ?", row.ID).Updates(map[string]any{
			"status": string(r.Status), "refund_id": r.RefundID, "channel": r.Channel, "user_received_account": r.UserReceivedAccount,
			"attempts": r.Attempts, "last_error": cut(r.LastError, 480), "success_at": nullTime(r.SuccessAt), "updated_at": r.UpdatedAt,
		}).Error
	})
	if err != nil {
		if service.AsError(err) != nil {
			return nil, err
		}
		return nil, storeErr("update refund", err)
	}
	return out, nil
}

// FindRefundsSucceeded lists refunds that succeeded in [from, to).
func (s *AfterStore) FindRefundsSucceeded(ctx context.Context, from, to time.Time) ([]service.Refund, error) {
	var rows []refundRow
	err := s.db.WithContext(ctx).Where("status = ? AND success_at >= ? AND success_at < ?", string(service.RefundStateSuccess), from.UTC(), to.UTC()).
		Order("id").Find(&rows).Error
	if err != nil {
		return nil, storeErr("find refunds", err)
	}
	out := make([]service.Refund, len(rows))
	for i := range rows {
		out[i] = *toRefund(&rows[i])
	}
	return out, nil
}

// CountRefunds counts refund rows (tests, operations).
func (s *AfterStore) CountRefunds(ctx context.Context) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&refundRow{}).Count(&n).Error
	return int(n), storeErr("count refunds", err)
}
