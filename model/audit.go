package model

import (
	"context"
	"time"

	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

type auditRow struct {
	ID         int64 `gorm:"primaryKey"`
	Actor      string
	Action     string
	Target     string
	BeforeJSON string `gorm:"column:before_json"`
	AfterJSON  string `gorm:"column:after_json"`
	CreatedAt  time.Time
}

func (auditRow) TableName() string { return "audit_log" }

// WriteAudit appends an audit entry.
func (s *AfterStore) WriteAudit(ctx context.Context, e service.AuditEntry) error {
	at := e.CreatedAt
	if at.IsZero() {
		at = s.db.Now()
	}
	err := s.db.WithContext(ctx).Create(&auditRow{Actor: redact.Clip(e.Actor, 80), Action: e.Action, Target: redact.Clip(e.Target, 80),
		BeforeJSON: e.Before, AfterJSON: e.After, CreatedAt: at.UTC()}).Error
	return storeErr("write audit", err)
}

// FindAudit lists audit entries for a target ("" for all), newest first.
func (s *AfterStore) FindAudit(ctx context.Context, target string, limit int) ([]service.AuditEntry, error) {
	q := s.db.WithContext(ctx).Order("id DESC").Limit(limit)
	if target != "" {
		q = q.Where("target = ?", target)
	}
	var rows []auditRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, storeErr("find audit", err)
	}
	out := make([]service.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = service.AuditEntry{ID: r.ID, Actor: r.Actor, Action: r.Action, Target: r.Target, Before: r.BeforeJSON, After: r.AfterJSON, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// Interface checks.
var (
	_ service.PostingStore = (*AfterStore)(nil)
	_ service.RefundStore  = (*AfterStore)(nil)
	_ service.HoldStore    = (*AfterStore)(nil)
	_ service.VoucherStore = (*AfterStore)(nil)
	_ service.ReconStore   = (*AfterStore)(nil)
	_ service.AuditStore   = (*AfterStore)(nil)
	_ service.JobWaker     = (*AfterStore)(nil)
)
