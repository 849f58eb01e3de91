package model

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

type outboxRow struct {
	ID            int64 `gorm:"primaryKey"`
	Kind          string
	Ref           string
	Payload       string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	DeadlineAt    sql.NullTime
	LeaseOwner    string
	LeaseUntil    sql.NullTime
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (outboxRow) TableName() string { return "outbox" }

// Outbox job statuses.
const (
	jobPending = "pending"
	jobDone    = "done"
)

func insertJob(tx *gorm.DB, j service.OutboxJob, now time.Time) error {
	next := j.NextAttemptAt
	if next.IsZero() {
		next = now
	}
	row := outboxRow{Kind: j.Kind, Ref: j.Ref, Payload: j.Payload, Status: jobPending, NextAttemptAt: next.UTC(),
		DeadlineAt: nullTime(j.DeadlineAt), CreatedAt: now, UpdatedAt: now}
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error
}

// Outbox implements service.Outbox with leases taken by conditional updates,
// portable across MySQL and SQLite.
type Outbox struct{ db *DB }

// NewOutbox returns an Outbox.
func NewOutbox(db *DB) *Outbox { return &Outbox{db: db} }

// Enqueue adds a job; a duplicate (kind, ref) is ignored.
func (o *Outbox) Enqueue(ctx context.Context, j service.OutboxJob) error {
	return storeErr("enqueue", insertJob(o.db.WithContext(ctx), j, o.db.Now()))
}

// Claim leases due jobs: it reads candidates, then takes each with an
// UPDATE … WHERE lease is free, keeping only the rows it won.
func (o *Outbox) Claim(ctx context.Context, kind, owner string, lease time.Duration, limit int) ([]service.OutboxJob, error) {
	now := o.db.Now()
	var cands []outboxRow
	err := o.db.WithContext(ctx).Where("kind = ? AND status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)",
		kind, jobPending, now, now).Order("next_attempt_at").Limit(limit).Find(&cands).Error
	if err != nil {
		return nil, storeErr("claim candidates", err)
	}
	var out []service.OutboxJob
	for _, c := range cands {
		res := o.db.WithContext(ctx).Model(&outboxRow{}).
			Where("id = ? AND status = ? AND (lease_until IS NULL OR lease_until < ?)", c.ID, jobPending, now).
			Updates(map[string]any{"lease_owner": owner, "lease_until": now.Add(lease), "attempts": gorm.Expr("attempts + 1"), "updated_at": now})
		if res.Error != nil {
			return out, storeErr("claim", res.Error)
		}
		if res.RowsAffected == 1 {
			out = append(out, service.OutboxJob{ID: c.ID, Kind: c.Kind, Ref: c.Ref, Payload: c.Payload, Attempts: c.Attempts + 1,
				NextAttemptAt: c.NextAttemptAt.UTC(), DeadlineAt: fromNull(c.DeadlineAt), LastError: c.LastError, CreatedAt: c.CreatedAt.UTC()})
		}
	}
	return out, nil
}

// Renew extends owner's lease on job id to now+lease. It returns ErrStale
// when the lease expired or another worker holds the job: the caller must
// not make its external call.
func (o *Outbox) Renew(ctx context.Context, id int64, owner string, lease time.Duration) (time.Time, error) {
	now := o.db.Now()
	until := now.Add(lease)
	res := o.db.WithContext(ctx).Model(&outboxRow{}).
		Where("id = ? AND status = ? AND lease_owner = ? AND lease_until IS NOT NULL AND lease_until >= ?", id, jobPending, owner, now).
		Updates(map[string]any{"lease_until": until, "updated_at": now})
	if res.Error != nil {
		return time.Time{}, storeErr("renew job", res.Error)
	}
	if res.RowsAffected != 1 {
		// MySQL counts changed rows: a renewal at the same instant (a test
		// clock) matches and changes nothing. Read whether we hold it.
		var n int64
		if err := o.db.WithContext(ctx).Model(&outboxRow{}).
			Where("id = ? AND status = ? AND lease_owner = ? AND lease_until = ?", id, jobPending, owner, until).Count(&n).Error; err != nil {
			return time.Time{}, storeErr("renew job", err)
		}
		if n != 1 {
			return time.Time{}, service.ErrStale
		}
	}
	return until, nil
}

// Complete marks the job done if owner still holds an unexpired lease.
func (o *Outbox) Complete(ctx context.Context, id int64, owner string) error {
	now := o.db.Now()
	res := o.db.WithContext(ctx).Model(&outboxRow{}).
		Where("id = ? AND lease_owner = ? AND lease_until IS NOT NULL AND lease_until >= ?", id, owner, now).
		Updates(map[string]any{"status": jobDone, "lease_until": nil, "updated_at": now})
	if res.Error != nil {
		return storeErr("complete job", res.Error)
	}
	if res.RowsAffected != 1 {
		return service.ErrStale
	}
	return nil
}

// Retry releases the job to run again at next if owner still holds an
// unexpired lease.
func (o *Outbox) Retry(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error {
	lastErr = redact.Clip(lastErr, 480)
	now := o.db.Now()
	res := o.db.WithContext(ctx).Model(&outboxRow{}).
		Where("id = ? AND lease_owner = ? AND lease_until IS NOT NULL AND lease_until >= ?", id, owner, now).
		Updates(map[string]any{"next_attempt_at": next.UTC(), "lease_until": nil, "last_error": lastErr, "updated_at": now})
	if res.Error != nil {
		return storeErr("retry job", res.Error)
	}
	if res.RowsAffected != 1 {
		return service.ErrStale
	}
	return nil
}

// Pending counts pending jobs of a kind (for tests and operations).
func (o *Outbox) Pending(ctx context.Context, kind string) (int, error) {
	var n int64
	err := o.db.WithContext(ctx).Model(&outboxRow{}).Where("kind = ? AND status = ?", kind, jobPending).Count(&n).Error
	return int(n), storeErr("count jobs", err)
}
