package model

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/shebao/sipay/service"
)

// AfterStore stores the after-payment flow: postings, refunds, holds,
// vouchers, reconciliation and the audit log. It implements
// service.PostingStore, RefundStore, HoldStore, VoucherStore, ReconStore,
// AuditStore and JobWaker.
type AfterStore struct{ db *DB }

// NewAfterStore returns an AfterStore.
func NewAfterStore(db *DB) *AfterStore { return &AfterStore{db: db} }

type postingRow struct {
	ID             int64 `gorm:"primaryKey"`
	OutTradeNo     string
	OrderNo        string
	Region         string
	Status         string
	Reference      string
	Reason         string
	Receipt        sql.NullString
	Failures       int
	LastError      string
	FirstPendingAt sql.NullTime
	DelayFlaggedAt sql.NullTime
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (postingRow) TableName() string { return "postings" }

func toPosting(r *postingRow) service.PostingRecord {
	p := service.PostingRecord{OutTradeNo: r.OutTradeNo, OrderNo: r.OrderNo, Region: r.Region, Status: service.PostingStatus(r.Status),
		Reference: r.Reference, Reason: r.Reason, Failures: r.Failures, LastError: r.LastError,
		FirstPendingAt: fromNull(r.FirstPendingAt), DelayFlaggedAt: fromNull(r.DelayFlaggedAt), UpdatedAt: r.UpdatedAt.UTC()}
	if r.Receipt.Valid && r.Receipt.String != "" {
		var rc service.PostingReceipt
		if json.Unmarshal([]byte(r.Receipt.String), &rc) == nil {
			p.Receipt = &rc
		}
	}
	return p
}

// FindPosting returns the posting record of a batch.
func (s *AfterStore) FindPosting(ctx context.Context, outTradeNo string) (*service.PostingRecord, error) {
	return findOne(s.db.WithContext(ctx).Where("out_trade_no = ?", outTradeNo), "find posting", toPosting)
}

// SavePosting inserts or updates a posting record under a row lock; a final
// status is never replaced by a non-final one, and first-pending and
// delay-flag times are kept once set.
func (s *AfterStore) SavePosting(ctx context.Context, p *service.PostingRecord) error {
	now := s.db.Now()
	receipt := sql.NullString{}
	if p.Receipt != nil {
		b, err := json.Marshal(p.Receipt)
		if err != nil {
			return err
		}
		receipt = sql.NullString{String: string(b), Valid: true}
	}
	write := func(tx *gorm.DB) error {
		var cur postingRow
		err := lockForUpdate(tx, s.db.Dialect).Where("out_trade_no = ?", p.OutTradeNo).First(&cur).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			row := postingRow{OutTradeNo: p.OutTradeNo, OrderNo: p.OrderNo, Region: p.Region, Status: string(p.Status), Reference: p.Reference,
				Reason: p.Reason, Receipt: receipt, Failures: p.Failures, LastError: p.LastError, FirstPendingAt: nullTime(p.FirstPendingAt),
				DelayFlaggedAt: nullTime(p.DelayFlaggedAt), CreatedAt: now, UpdatedAt: now}
			return tx.Create(&row).Error
		}
		if err != nil {
			return err
		}
		if service.PostingStatus(cur.Status).Final() && !p.Status.Final() {
			return nil // a late pending or failure never undoes a final answer
		}
		upd := map[string]any{"status": string(p.Status), "reason": p.Reason, "failures": p.Failures, "last_error": p.LastError, "updated_at": now}
		if p.Reference != "" {
			upd["reference"] = p.Reference
		}
		if receipt.Valid {
			upd["receipt"] = receipt
		}
		if !cur.FirstPendingAt.Valid && !p.FirstPendingAt.IsZero() {
			upd["first_pending_at"] = p.FirstPendingAt.UTC()
		}
		return tx.Model(&postingRow{}).Where("id = ?", cur.ID).Updates(upd).Error
	}
	err := s.db.Tx(ctx, write)
	if err != nil && isDuplicate(err) {
		// A concurrent first save won the insert; update its row instead.
		err = s.db.Tx(ctx, write)
	}
	return storeErr("save posting", err)
}

// FindUnflaggedPending lists pending records not yet flagged as delayed.
func (s *AfterStore) FindUnflaggedPending(ctx context.Context, pendingBefore time.Time, limit int) ([]service.PostingRecord, error) {
	return findAll(s.db.WithContext(ctx).Where("status = ? AND delay_flagged_at IS NULL AND first_pending_at < ?", string(service.PostingPending), pendingBefore.UTC()).
		Order("first_pending_at").Limit(limit), "find pending postings", toPosting)
}

// MarkDelayFlagged sets delay_flagged_at once.
func (s *AfterStore) MarkDelayFlagged(ctx context.Context, outTradeNo string, at time.Time) (bool, error) {
	return s.markPostingOnce(ctx, outTradeNo, "delay_flagged_at", at, "flag delay")
}

// MarkFaultAlerted sets fault_alerted_at once; false when already set. A
// batch without a posting row yet gets one.
func (s *AfterStore) MarkFaultAlerted(ctx context.Context, outTradeNo string, at time.Time) (bool, error) {
	return s.markPostingOnce(ctx, outTradeNo, "fault_alerted_at", at, "flag fault")
}

// markPostingOnce sets the time column of a posting to at unless it is set
// already; true when this call set it. column is one of the constant names
// above, never input.
func (s *AfterStore) markPostingOnce(ctx context.Context, outTradeNo, column string, at time.Time, op string) (bool, error) {
	res := s.db.WithContext(ctx).Model(&postingRow{}).Where("out_trade_no = ? AND "+column+" IS NULL", outTradeNo).
		Updates(map[string]any{column: at.UTC(), "updated_at": s.db.Now()})
	if res.Error != nil {
		return false, storeErr(op, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// WakeJob makes the job (kind, ref) due now, reopening it when done. A job
// leased right now keeps its lease.
func (s *AfterStore) WakeJob(ctx context.Context, kind, ref string) error {
	now := s.db.Now()
	err := s.db.WithContext(ctx).Model(&outboxRow{}).Where("kind = ? AND ref = ?", kind, ref).
		Updates(map[string]any{"status": jobPending, "next_attempt_at": now, "updated_at": now}).Error
	return storeErr("wake job", err)
}
