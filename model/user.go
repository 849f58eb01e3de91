package model

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/shebao/sipay/service"
)

type userRow struct {
	ID        int64 `gorm:"primaryKey"`
	OpenID    string
	UnionID   string
	CareMode  bool
	PersonID  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (userRow) TableName() string { return "users" }

func toUser(r *userRow) *service.User {
	return &service.User{ID: r.ID, OpenID: r.OpenID, UnionID: r.UnionID, CareMode: r.CareMode,
		PersonID: r.PersonID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// UserStore implements service.UserStore.
type UserStore struct{ db *DB }

// NewUserStore returns a UserStore.
func NewUserStore(db *DB) *UserStore { return &UserStore{db: db} }

// UpsertUserByOpenID creates the user or refreshes its unionid.
func (s *UserStore) UpsertUserByOpenID(ctx context.Context, openID, unionID string) (*service.User, error) {
	now := s.db.Now()
	row := userRow{OpenID: openID, UnionID: unionID, CreatedAt: now, UpdatedAt: now}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		// Insert-or-ignore keeps concurrent first logins of one openid safe.
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return err
		}
		if err := tx.Where("open_id = ?", openID).First(&row).Error; err != nil {
			return err
		}
		if unionID != "" && row.UnionID != unionID {
			row.UnionID, row.UpdatedAt = unionID, now
			return tx.Model(&userRow{}).Where("id = ?", row.ID).Updates(map[string]any{"union_id": unionID, "updated_at": now}).Error
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("upsert user", err)
	}
	return toUser(&row), nil
}

// FindUserByID returns the user or ErrNotFound.
func (s *UserStore) FindUserByID(ctx context.Context, id int64) (*service.User, error) {
	var row userRow
	if err := s.db.WithContext(ctx).First(&row, id).Error; err != nil {
		return nil, storeErr("find user", err)
	}
	return toUser(&row), nil
}

// UpdateUser applies fn to the user under a row lock.
func (s *UserStore) UpdateUser(ctx context.Context, id int64, fn func(*service.User) error) (*service.User, error) {
	decode := func(r *userRow) (*service.User, error) { return toUser(r), nil }
	return updateLocked(ctx, s.db, "update user", id, decode, fn, func(u *service.User) map[string]any {
		u.UpdatedAt = s.db.Now()
		return map[string]any{"care_mode": u.CareMode, "person_id": u.PersonID, "union_id": u.UnionID, "updated_at": u.UpdatedAt}
	})
}

// lockForUpdate adds SELECT … FOR UPDATE on MySQL. SQLite transactions take
// the database write lock at BEGIN (_txlock=immediate), which serializes them.
func lockForUpdate(tx *gorm.DB, dialect string) *gorm.DB {
	if dialect == MySQL {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}
