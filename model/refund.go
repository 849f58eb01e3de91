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

type refundRow struct {
	ID                  int64 `gorm:"primaryKey"`
	OutRefundNo         string
	OutTradeNo          string
	OrderNo             string
	Attempt             int
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

func toRefund(r *refundRow) service.Refund {
	return service.Refund{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, OrderNo: r.OrderNo, Attempt: r.Attempt, TransactionID: r.TransactionID,
		AmountFen: service.Fen(r.AmountFen), TotalFen: service.Fen(r.TotalFen), Reason: service.RefundReason(r.Reason), Detail: r.Detail,
		Status: service.RefundState(r.Status), RefundID: r.RefundID, Channel: r.Channel, UserReceivedAccount: r.UserReceivedAccount,
		Attempts: r.Attempts, LastError: r.LastError, SuccessAt: fromNull(r.SuccessAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// CreateRefund inserts the refund or returns the existing one of the same
// out_refund_no. Under the batch's row lock it checks that the batch is paid
// and that its non-closed refunds, this one included, stay within the batch
// amount: two workers or operators racing can never refund a batch twice.
func (s *AfterStore) CreateRefund(ctx context.Context, r *service.Refund) (*service.Refund, error) {
	if r.Attempt < 1 {
		r.Attempt = 1
	}
	var out *service.Refund
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var b batchRow
		if err := lockForUpdate(tx, s.db.Dialect).Where("out_trade_no = ?", r.OutTradeNo).First(&b).Error; err != nil {
			return err
		}
		// Locking reads see the latest committed rows under REPEATABLE READ.
		var rows []refundRow
		if err := lockForUpdate(tx, s.db.Dialect).Where("out_trade_no = ?", r.OutTradeNo).Order("attempt").Find(&rows).Error; err != nil {
			return err
		}
		var taken int64
		for i := range rows {
			if rows[i].OutRefundNo == r.OutRefundNo {
				v := toRefund(&rows[i])
				out = &v
				return nil // a repeat: the row as it is
			}
			if rows[i].Status != string(service.RefundStateClosed) {
				taken += rows[i].AmountFen
			}
		}
		if !b.TransactionID.Valid || b.TransactionID.String == "" {
			return service.Errorf(service.KindConflict, "refund_exceeds_paid", "批次 %s 未支付，不能退款", r.OutTradeNo)
		}
		if r.AmountFen <= 0 || taken+int64(r.AmountFen) > b.AmountFen {
			return service.Errorf(service.KindConflict, "refund_exceeds_paid", "退款金额 %d 分加已退 %d 分超过实付 %d 分", r.AmountFen, taken, b.AmountFen)
		}
		now := s.db.Now()
		row := refundRow{OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, OrderNo: r.OrderNo, Attempt: r.Attempt, TransactionID: r.TransactionID,
			AmountFen: int64(r.AmountFen), TotalFen: int64(r.TotalFen), Reason: string(r.Reason), Detail: redact.Clip(r.Detail, 480),
			Status: string(r.Status), CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		v := toRefund(&row)
		out = &v
		return nil
	})
	if err != nil {
		if service.AsError(err) != nil {
			return nil, err
		}
		if errors.Is(err, gorm.ErrDuplicatedKey) || isDuplicate(err) {
			// The same attempt number under another out_refund_no, or a
			// concurrent insert of the same one: read what is there.
			if got, ferr := s.FindRefund(ctx, r.OutRefundNo); ferr == nil {
				return got, nil
			}
			return nil, service.Errorf(service.KindConflict, "refund_attempt_taken", "退款尝试 %d 已存在", r.Attempt)
		}
		return nil, storeErr("create refund", err)
	}
	return out, nil
}

// FindRefund returns a refund by out_refund_no.
func (s *AfterStore) FindRefund(ctx context.Context, outRefundNo string) (*service.Refund, error) {
	return findOne(s.db.WithContext(ctx).Where("out_refund_no = ?", outRefundNo), "find refund", toRefund)
}

// FindRefundByTrade returns the latest refund attempt of a batch.
func (s *AfterStore) FindRefundByTrade(ctx context.Context, outTradeNo string) (*service.Refund, error) {
	return findOne(s.db.WithContext(ctx).Where("out_trade_no = ?", outTradeNo).Order("attempt DESC"), "find refund", toRefund)
}

// UpdateRefund applies fn under a row lock.
func (s *AfterStore) UpdateRefund(ctx context.Context, outRefundNo string, fn func(*service.Refund) error) (*service.Refund, error) {
	var out *service.Refund
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var row refundRow
		if err := lockForUpdate(tx, s.db.Dialect).Where("out_refund_no = ?", outRefundNo).First(&row).Error; err != nil {
			return err
		}
		v := toRefund(&row)
		r := &v
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
			"attempts": r.Attempts, "last_error": redact.Clip(r.LastError, 480), "success_at": nullTime(r.SuccessAt), "updated_at": r.UpdatedAt,
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

// FindRefundsByTrade lists every refund attempt of a batch, oldest first.
func (s *AfterStore) FindRefundsByTrade(ctx context.Context, outTradeNo string) ([]service.Refund, error) {
	return findAll(s.db.WithContext(ctx).Where("out_trade_no = ?", outTradeNo).Order("attempt"), "find refunds", toRefund)
}

// FindRefundsSucceeded lists refunds that succeeded in [from, to).
func (s *AfterStore) FindRefundsSucceeded(ctx context.Context, from, to time.Time) ([]service.Refund, error) {
	return findAll(s.db.WithContext(ctx).Where("status = ? AND success_at >= ? AND success_at < ?", string(service.RefundStateSuccess), from.UTC(), to.UTC()).
		Order("id"), "find refunds", toRefund)
}

// CountRefunds counts refund rows (tests, operations).
func (s *AfterStore) CountRefunds(ctx context.Context) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&refundRow{}).Count(&n).Error
	return int(n), storeErr("count refunds", err)
}
