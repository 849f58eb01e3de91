package model

import (
	"context"
	"strings"
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

// userIdentityRow is a user with what its own verified person carries
// (service.SelfIdentity).
type userIdentityRow struct {
	User         userRow `gorm:"embedded"`
	PersonIDType *string // NULL when the user is not verified
	PersonFace   int64   // 1 when a verified face attempt names the person
	PersonChecks *string // "region method,region method" of verified identity checks
}

// FindUserByID returns the user or ErrNotFound, with its verified
// person's ID type and identity evidence (User.Self) read in the same
// statement: this is the read authentication makes on every request, and
// it spares quotes and orders for "self" a person read and an evidence
// read. The evidence is what IdentityEvidence.VerifiedMethods reads.
func (s *UserStore) FindUserByID(ctx context.Context, id int64) (*service.User, error) {
	checks := "GROUP_CONCAT(DISTINCT c.region, ' ', c.method)"
	if s.db.Dialect == SQLite {
		checks = "group_concat(DISTINCT c.region || ' ' || c.method)"
	}
	var row userIdentityRow
	res := s.db.WithContext(ctx).Raw(`SELECT u.id, u.open_id, u.union_id, u.care_mode, u.person_id, u.created_at, u.updated_at,
		p.id_type AS person_id_type,
		CASE WHEN EXISTS (SELECT 1 FROM face_attempts f WHERE f.person_id = u.person_id AND f.status = ?) THEN 1 ELSE 0 END AS person_face,
		(SELECT `+checks+` FROM identity_checks c WHERE c.person_id = u.person_id AND c.status = ?) AS person_checks
		FROM users u LEFT JOIN persons p ON p.id = u.person_id AND u.person_id <> 0
		WHERE u.id = ?`, service.FaceVerified, service.CheckVerified, id).Scan(&row)
	if res.Error != nil {
		return nil, storeErr("find user", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, storeErr("find user", gorm.ErrRecordNotFound)
	}
	u := toUser(&row.User)
	if u.PersonID != 0 && row.PersonIDType != nil {
		u.Self = &service.SelfIdentity{IDType: service.IDType(*row.PersonIDType), Face: row.PersonFace == 1}
		if row.PersonChecks != nil {
			for _, rm := range strings.Split(*row.PersonChecks, ",") {
				if region, method, ok := strings.Cut(rm, " "); ok {
					u.Self.Checks = append(u.Self.Checks, service.RegionMethod{Region: region, Method: method})
				}
			}
		}
	}
	return u, nil
}

// UpdateUser applies fn to the user under a row lock.
func (s *UserStore) UpdateUser(ctx context.Context, id int64, fn func(*service.User) error) (*service.User, error) {
	decode := func(r *userRow) (*service.User, error) { return toUser(r), nil }
	return updateLocked(ctx, s.db, "update user", id, decode, fn, func(u *service.User) map[string]any {
		u.UpdatedAt = s.db.Now()
		return map[string]any{"care_mode": u.CareMode, "person_id": u.PersonID, "union_id": u.UnionID, "updated_at": u.UpdatedAt}
	})
}

// countForUser locks user userID's row for the rest of tx, so inserts
// limited by a count of the user's rows (daily attempts, bindings) run one
// after the other, and counts the rows of model that where selects.
func countForUser(tx *gorm.DB, dialect string, userID int64, model any, where string, args ...any) (int64, error) {
	var u userRow
	if err := lockForUpdate(tx, dialect).Select("id").First(&u, userID).Error; err != nil {
		return 0, err
	}
	var n int64
	err := tx.Model(model).Where(where, args...).Count(&n).Error
	return n, err
}

// lockForUpdate adds SELECT … FOR UPDATE on MySQL. SQLite transactions take
// the database write lock at BEGIN (_txlock=immediate), which serializes them.
func lockForUpdate(tx *gorm.DB, dialect string) *gorm.DB {
	if dialect == MySQL {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}
