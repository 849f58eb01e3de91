package model

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

// Subscribe messages, their grants, lapse-reminder opt-ins and the
// order_events follow mark (migration 0100).

type subscribeGrantRow struct {
	ID          int64 `gorm:"primaryKey"`
	UserID      int64
	TemplateKey string
	Remaining   int
	UpdatedAt   time.Time
}

func (subscribeGrantRow) TableName() string { return "subscribe_grants" }

type subscribeMessageRow struct {
	ID          int64 `gorm:"primaryKey"`
	UserID      int64
	EventKey    string
	TemplateKey string
	Page        string
	Data        string
	Status      string
	GrantTaken  bool
	Errcode     int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	SentAt      sql.NullTime
}

func (subscribeMessageRow) TableName() string { return "subscribe_messages" }

func toSubscribeMessage(r *subscribeMessageRow) service.SubscribeMessage {
	m := service.SubscribeMessage{ID: r.ID, UserID: r.UserID, EventKey: r.EventKey, Template: r.TemplateKey, Page: r.Page,
		Status: r.Status, GrantTaken: r.GrantTaken, ErrCode: r.Errcode, CreatedAt: r.CreatedAt.UTC(), SentAt: fromNull(r.SentAt)}
	json.Unmarshal([]byte(r.Data), &m.Data)
	return m
}

type lapseWatchRow struct {
	ID        int64 `gorm:"primaryKey"`
	UserID    int64
	PersonID  int64
	Region    string
	CreatedAt time.Time
}

func (lapseWatchRow) TableName() string { return "lapse_watches" }

// HelpStore implements service.SubscribeStore, service.LapseStore,
// service.EventFeed and service.TicketStore (model/ticket.go).
type HelpStore struct{ sealedStore }

// NewHelpStore returns a HelpStore; ticket texts are encrypted with ring.
func NewHelpStore(db *DB, ring *pii.Keyring) *HelpStore {
	return &HelpStore{newSealedStore("NewHelpStore", db, ring)}
}

// insertSubscribe writes a queued message and its send job in tx; a
// message that exists for (user, event) is left as it is and no job is
// added. It reports whether it inserted.
func insertSubscribe(tx *gorm.DB, m *service.SubscribeMessage, now time.Time) (bool, error) {
	data, err := json.Marshal(m.Data)
	if err != nil {
		return false, err
	}
	row := subscribeMessageRow{UserID: m.UserID, EventKey: redact.Clip(m.EventKey, 96), TemplateKey: m.Template, Page: redact.Clip(m.Page, 200),
		Data: string(data), Status: service.MsgQueued, CreatedAt: now, UpdatedAt: now}
	// A plain INSERT whose duplicate-key error says "exists": MySQL's
	// ON DUPLICATE KEY UPDATE id = id reports a found row as affected (and
	// its id), which would enqueue a second job under another's id. A
	// failed statement rolls back only itself, in MySQL and SQLite alike.
	if err := tx.Create(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) || isDuplicate(err) {
			return false, nil
		}
		return false, err
	}
	m.ID, m.CreatedAt, m.Status = row.ID, now, service.MsgQueued
	return true, insertJob(tx, service.OutboxJob{Kind: service.JobSubscribeSend, Ref: strconv.FormatInt(row.ID, 10)}, now)
}

// EnqueueMessage inserts m and its send job in one transaction.
func (s *HelpStore) EnqueueMessage(ctx context.Context, m *service.SubscribeMessage) (bool, error) {
	var ok bool
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		ok, err = insertSubscribe(tx, m, s.db.Now())
		return err
	})
	return ok, storeErr("enqueue subscribe message", err)
}

// AddGrants adds n to the user's remaining grants of key.
func (s *HelpStore) AddGrants(ctx context.Context, userID int64, key string, n int) error {
	now := s.db.Now()
	row := subscribeGrantRow{UserID: userID, TemplateKey: key, Remaining: n, UpdatedAt: now}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "user_id"}, {Name: "template_key"}},
			DoUpdates: clause.Assignments(map[string]any{"remaining": gorm.Expr("remaining + ?", n), "updated_at": now}),
		}).Create(&row).Error
	})
	return storeErr("add grants", err)
}

// ClearGrants sets the user's remaining grants of key to 0.
func (s *HelpStore) ClearGrants(ctx context.Context, userID int64, key string) error {
	err := s.db.WithContext(ctx).Model(&subscribeGrantRow{}).Where("user_id = ? AND template_key = ?", userID, key).
		Updates(map[string]any{"remaining": 0, "updated_at": s.db.Now()}).Error
	return storeErr("clear grants", err)
}

// Grants returns the remaining grants per template key.
func (s *HelpStore) Grants(ctx context.Context, userID int64) (map[string]int, error) {
	var rows []subscribeGrantRow
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Find(&rows).Error; err != nil {
		return nil, storeErr("grants", err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.TemplateKey] = r.Remaining
	}
	return out, nil
}

// HasMessage reports whether (user, event) has a message.
func (s *HelpStore) HasMessage(ctx context.Context, userID int64, eventKey string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&subscribeMessageRow{}).Where("user_id = ? AND event_key = ?", userID, eventKey).Count(&n).Error
	return n > 0, storeErr("has subscribe message", err)
}

// FindMessage returns a message or ErrNotFound.
func (s *HelpStore) FindMessage(ctx context.Context, id int64) (*service.SubscribeMessage, error) {
	return findOne(s.db.WithContext(ctx).Where("id = ?", id), "find subscribe message", toSubscribeMessage)
}

// FindMessages lists a user's messages, newest first.
func (s *HelpStore) FindMessages(ctx context.Context, userID int64, limit int) ([]service.SubscribeMessage, error) {
	return findAll(s.db.WithContext(ctx).Where("user_id = ?", userID).Order("id DESC").Limit(limit), "find subscribe messages", toSubscribeMessage)
}

// TakeGrant takes one grant for a queued message that has none, in one
// transaction with the message row locked first.
func (s *HelpStore) TakeGrant(ctx context.Context, id int64) (bool, error) {
	var ok bool
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		ok = false
		var m subscribeMessageRow
		if err := lockForUpdate(tx, s.db.Dialect).First(&m, id).Error; err != nil {
			return err
		}
		if m.Status != service.MsgQueued {
			return nil
		}
		if m.GrantTaken {
			ok = true
			return nil
		}
		now := s.db.Now()
		res := tx.Model(&subscribeGrantRow{}).Where("user_id = ? AND template_key = ? AND remaining > 0", m.UserID, m.TemplateKey).
			Updates(map[string]any{"remaining": gorm.Expr("remaining - 1"), "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return nil
		}
		ok = true
		return tx.Model(&subscribeMessageRow{}).Where("id = ?", id).Updates(map[string]any{"grant_taken": true, "updated_at": now}).Error
	})
	return ok, storeErr("take grant", err)
}

// FinishMessage moves a queued message to its final status.
func (s *HelpStore) FinishMessage(ctx context.Context, id int64, status string, errCode int, at time.Time) error {
	cols := map[string]any{"status": status, "errcode": errCode, "updated_at": s.db.Now()}
	if status == service.MsgSent {
		cols["sent_at"] = at.UTC()
	}
	err := s.db.WithContext(ctx).Model(&subscribeMessageRow{}).Where("id = ? AND status = ?", id, service.MsgQueued).Updates(cols).Error
	return storeErr("finish subscribe message", err)
}

// ---- lapse opt-ins ----------------------------------------------------------

// AddWatch inserts an opt-in; an existing one is kept.
func (s *HelpStore) AddWatch(ctx context.Context, w service.LapseWatch) error {
	row := lapseWatchRow{UserID: w.UserID, PersonID: w.PersonID, Region: w.Region, CreatedAt: s.db.Now()}
	return storeErr("add lapse watch", s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error)
}

// RemoveWatch deletes an opt-in.
func (s *HelpStore) RemoveWatch(ctx context.Context, userID, personID int64, region string) error {
	err := s.db.WithContext(ctx).Where("user_id = ? AND person_id = ? AND region = ?", userID, personID, region).Delete(&lapseWatchRow{}).Error
	return storeErr("remove lapse watch", err)
}

// Watches lists a user's opt-ins.
func (s *HelpStore) Watches(ctx context.Context, userID int64) ([]service.LapseWatch, error) {
	var rows []lapseWatchRow
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("id").Find(&rows).Error; err != nil {
		return nil, storeErr("lapse watches", err)
	}
	return toWatches(rows), nil
}

// WatchesAfter pages through every opt-in by id.
func (s *HelpStore) WatchesAfter(ctx context.Context, afterID int64, limit int) ([]service.LapseWatch, error) {
	var rows []lapseWatchRow
	if err := s.db.WithContext(ctx).Where("id > ?", afterID).Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, storeErr("lapse watches", err)
	}
	return toWatches(rows), nil
}

func toWatches(rows []lapseWatchRow) []service.LapseWatch {
	out := make([]service.LapseWatch, len(rows))
	for i, r := range rows {
		out[i] = service.LapseWatch{ID: r.ID, UserID: r.UserID, PersonID: r.PersonID, Region: r.Region, CreatedAt: r.CreatedAt.UTC()}
	}
	return out
}

// ---- the order_events follow mark ---------------------------------------------

// UnfollowedEvents returns timeline events not yet followed, oldest first
// (index ix_order_events_follow).
func (s *HelpStore) UnfollowedEvents(ctx context.Context, limit int) ([]service.FollowedEvent, error) {
	var rows []orderEventRow
	if err := s.db.WithContext(ctx).Where("followed_at IS NULL").Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, storeErr("unfollowed events", err)
	}
	out := make([]service.FollowedEvent, len(rows))
	for i, r := range rows {
		out[i] = service.FollowedEvent{ID: r.ID, OrderEvent: service.OrderEvent{OrderNo: r.OrderNo, BatchSeq: r.BatchSeq, Type: r.Type,
			Detail: r.Detail, CreatedAt: r.CreatedAt.UTC()}}
	}
	return out, nil
}

// MarkFollowed marks events followed.
func (s *HelpStore) MarkFollowed(ctx context.Context, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.db.WithContext(ctx).Model(&orderEventRow{}).Where("id IN ? AND followed_at IS NULL", ids).
		Update("followed_at", at.UTC().Truncate(time.Microsecond)).Error
	return storeErr("mark followed", err)
}
