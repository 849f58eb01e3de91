package model

import (
	"context"
	"database/sql"
	"time"

	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

// The operations console's reads and the alert decisions
// (service.ConsoleStore).

type opsAlertRow struct {
	ID         int64 `gorm:"primaryKey"`
	Kind       string
	Ref        string
	Detail     string
	Status     string
	DecidedBy  string
	AckedAt    sql.NullTime
	ResolvedAt sql.NullTime
	Note       string
	CreatedAt  time.Time
}

func (opsAlertRow) TableName() string { return "alerts" }

func toOpsAlert(r *opsAlertRow) service.OpsAlert {
	return service.OpsAlert{Alert: service.Alert{ID: r.ID, Kind: r.Kind, Ref: r.Ref, Detail: r.Detail, Status: service.AlertStatus(r.Status), CreatedAt: r.CreatedAt.UTC()},
		DecidedBy: r.DecidedBy, AckedAt: fromNull(r.AckedAt), ResolvedAt: fromNull(r.ResolvedAt), Note: r.Note}
}

// times reads one timestamp column of the rows matching where, in [from, to).
func (s *AfterStore) times(ctx context.Context, table, col, where string, from, to time.Time, args ...any) ([]time.Time, error) {
	q := s.db.WithContext(ctx).Table(table).Where(col+" >= ? AND "+col+" < ?", from.UTC(), to.UTC())
	if where != "" {
		q = q.Where(where, args...)
	}
	var ts []time.Time
	if err := q.Pluck(col, &ts).Error; err != nil {
		return nil, storeErr("activity "+table, err)
	}
	for i := range ts {
		ts[i] = ts[i].UTC()
	}
	return ts, nil
}

// ActivityBetween returns when batches were paid, postings accepted or
// rejected and refunds succeeded in [from, to). Only the timestamp column
// is read; the console spans at most 7 days.
func (s *AfterStore) ActivityBetween(ctx context.Context, from, to time.Time) (*service.Activity, error) {
	var a service.Activity
	var err error
	if a.Paid, err = s.times(ctx, "batches", "paid_at", "", from, to); err != nil {
		return nil, err
	}
	if a.Posted, err = s.times(ctx, "postings", "updated_at", "status = ?", from, to, service.PostingAccepted); err != nil {
		return nil, err
	}
	if a.Rejected, err = s.times(ctx, "postings", "updated_at", "status = ?", from, to, service.PostingRejected); err != nil {
		return nil, err
	}
	if a.Refunded, err = s.times(ctx, "refunds", "success_at", "", from, to); err != nil {
		return nil, err
	}
	return &a, nil
}

// FindUnknownOutcomes lists postings of unfinished batches whose outcome at
// the platform is not known: the batch is confirming (the posting flow's
// 待确认 state), the platform answered pending, or a call failed without a
// definite answer. Oldest first.
func (s *AfterStore) FindUnknownOutcomes(ctx context.Context, limit int) ([]service.UnknownOutcome, error) {
	type row struct {
		OutTradeNo     string
		OrderNo        string
		Region         string
		Status         string
		Reference      string
		Failures       int
		LastError      string
		FirstPendingAt sql.NullTime
		CreatedAt      time.Time
		BatchStatus    string
	}
	var rows []row
	err := s.db.WithContext(ctx).Table("postings").
		Select("postings.out_trade_no, postings.order_no, postings.region, postings.status, postings.reference, postings.failures, "+
			"postings.last_error, postings.first_pending_at, postings.created_at, batches.status AS batch_status").
		Joins("JOIN batches ON batches.out_trade_no = postings.out_trade_no").
		Where("batches.status IN ?", []string{string(service.StatusPosting), "confirming"}).
		Where("batches.status = ? OR postings.status = ? OR (postings.status = '' AND postings.failures > 0)", "confirming", service.PostingPending).
		Order("postings.updated_at").Limit(limit).Scan(&rows).Error
	if err != nil {
		return nil, storeErr("find unknown outcomes", err)
	}
	out := make([]service.UnknownOutcome, len(rows))
	for i, r := range rows {
		since := r.CreatedAt.UTC()
		if r.FirstPendingAt.Valid {
			since = r.FirstPendingAt.Time.UTC()
		}
		st := r.Status
		if r.BatchStatus == "confirming" {
			st = "confirming"
		}
		out[i] = service.UnknownOutcome{OutTradeNo: r.OutTradeNo, OrderNo: r.OrderNo, Region: r.Region, Status: st,
			Reference: r.Reference, Failures: r.Failures, LastError: r.LastError, Since: since}
	}
	return out, nil
}

// FindRefundsByStatus lists refunds in a status ("" = all), newest first.
func (s *AfterStore) FindRefundsByStatus(ctx context.Context, status service.RefundState, limit int) ([]service.Refund, error) {
	q := s.db.WithContext(ctx).Order("id DESC").Limit(limit)
	if status != "" {
		q = q.Where("status = ?", string(status))
	}
	return findAll(q, "find refunds", toRefund)
}

// FindCreditOrders lists credit-pay orders in a state ("" = all), newest
// first.
func (s *AfterStore) FindCreditOrders(ctx context.Context, state service.CreditState, limit int) ([]service.CreditOrder, error) {
	q := s.db.WithContext(ctx).Order("id DESC").Limit(limit)
	if state != "" {
		q = q.Where("state = ?", string(state))
	}
	return findAll(q, "find credit orders", toCredit)
}

// FindOrderNoByRef resolves an order_no, out_trade_no or transaction_id.
func (s *AfterStore) FindOrderNoByRef(ctx context.Context, ref string) (string, error) {
	var nos []string
	err := s.db.WithContext(ctx).Table("orders").Where("order_no = ?", ref).Limit(1).Pluck("order_no", &nos).Error
	if err == nil && len(nos) == 0 {
		err = s.db.WithContext(ctx).Table("batches").Where("out_trade_no = ? OR transaction_id = ?", ref, ref).Limit(1).Pluck("order_no", &nos).Error
	}
	if err != nil {
		return "", storeErr("find order by ref", err)
	}
	if len(nos) == 0 {
		return "", storeErr("find order by ref", service.ErrNotFound)
	}
	return nos[0], nil
}

// SearchAudit pages the audit log, newest first; a query matches actor,
// action or target exactly (all three are indexed).
func (s *AfterStore) SearchAudit(ctx context.Context, f service.AuditFilter) ([]service.AuditEntry, int, error) {
	q := s.db.WithContext(ctx).Model(&auditRow{})
	if f.Query != "" {
		q = q.Where("actor = ? OR action = ? OR target = ?", f.Query, f.Query, f.Query)
	}
	rows, total, err := findPage[auditRow](q, "audit", f.Offset, f.Limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]service.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = service.AuditEntry{ID: r.ID, Actor: r.Actor, Action: r.Action, Target: r.Target, Before: r.BeforeJSON, After: r.AfterJSON, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, total, nil
}

// FindOpsAlerts lists alerts with their decisions, newest first.
func (s *AfterStore) FindOpsAlerts(ctx context.Context, status service.AlertStatus, limit int) ([]service.OpsAlert, error) {
	q := s.db.WithContext(ctx).Order("id DESC").Limit(limit)
	if status != "" {
		q = q.Where("status = ?", string(status))
	}
	return findAll(q, "find alerts", toOpsAlert)
}

// FindOpsAlert returns one alert.
func (s *AfterStore) FindOpsAlert(ctx context.Context, id int64) (*service.OpsAlert, error) {
	return findOne(s.db.WithContext(ctx).Where("id = ?", id), "find alert", toOpsAlert)
}

// DecideAlert moves an alert between statuses with one conditional update,
// so two operators clicking at once decide it once.
func (s *AfterStore) DecideAlert(ctx context.Context, id int64, from []service.AlertStatus, to service.AlertStatus, by, note string, at time.Time) (bool, error) {
	fromS := make([]string, len(from))
	for i, f := range from {
		fromS[i] = string(f)
	}
	set := map[string]any{"status": string(to), "decided_by": redact.Clip(by, 80), "note": redact.Clip(note, 500)}
	switch to {
	case service.AlertAcked:
		set["acked_at"] = at.UTC()
	case service.AlertResolved:
		set["resolved_at"] = at.UTC()
	}
	res := s.db.WithContext(ctx).Model(&opsAlertRow{}).Where("id = ? AND status IN ?", id, fromS).Updates(set)
	if res.Error != nil {
		return false, storeErr("decide alert", res.Error)
	}
	return res.RowsAffected == 1, nil
}

var _ service.ConsoleStore = (*AfterStore)(nil)
