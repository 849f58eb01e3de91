package model

import (
	"context"
	"time"

	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/service"
)

type identityCheckRow struct {
	ID              int64 `gorm:"primaryKey"`
	PublicID        string
	UserID          int64
	Region          string
	Method          string
	Purpose         string
	PlatformCheckID string
	NameEnc         string
	IDType          string
	IDNumberEnc     string
	PhoneEnc        string
	Status          string
	FailedTries     int
	PersonID        int64
	CreatedAt       time.Time
	ExpiresAt       time.Time
	UpdatedAt       time.Time
}

func (identityCheckRow) TableName() string { return "identity_checks" }

func (s sealer) toIdentityCheck(r *identityCheckRow) (*service.IdentityCheckRecord, error) {
	ref, phone, err := s.openRefPhone(r.NameEnc, r.IDType, r.IDNumberEnc, r.PhoneEnc)
	if err != nil {
		return nil, err
	}
	return &service.IdentityCheckRecord{ID: r.ID, PublicID: r.PublicID, UserID: r.UserID, Region: r.Region, Method: r.Method,
		Purpose: r.Purpose, PlatformCheckID: r.PlatformCheckID,
		Person: ref, Phone: phone,
		Status: service.CheckStatus(r.Status), FailedTries: r.FailedTries, PersonID: r.PersonID,
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, UpdatedAt: r.UpdatedAt}, nil
}

// IdentityCheckStore implements service.IdentityCheckStore with the
// checked identity encrypted.
type IdentityCheckStore struct{ sealedStore }

// NewIdentityCheckStore returns an IdentityCheckStore.
func NewIdentityCheckStore(db *DB, ring *pii.Keyring) *IdentityCheckStore {
	return &IdentityCheckStore{newSealedStore("NewIdentityCheckStore", db, ring)}
}

// CreateIdentityCheck inserts c and sets c.ID.
func (s *IdentityCheckStore) CreateIdentityCheck(ctx context.Context, c *service.IdentityCheckRecord) error {
	nameEnc, numEnc, err := s.s.sealRef(c.Person)
	if err != nil {
		return err
	}
	phoneEnc, err := s.s.seal("phone", c.Phone)
	if err != nil {
		return err
	}
	row := identityCheckRow{PublicID: c.PublicID, UserID: c.UserID, Region: c.Region, Method: c.Method, Purpose: c.Purpose,
		PlatformCheckID: c.PlatformCheckID, NameEnc: nameEnc, IDType: string(c.Person.IDType), IDNumberEnc: numEnc, PhoneEnc: phoneEnc,
		Status: string(c.Status), FailedTries: c.FailedTries, PersonID: c.PersonID,
		CreatedAt: c.CreatedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return storeErr("create identity check", err)
	}
	c.ID = row.ID
	return nil
}

// FindIdentityCheck returns the check with that public id or ErrNotFound.
func (s *IdentityCheckStore) FindIdentityCheck(ctx context.Context, publicID string) (*service.IdentityCheckRecord, error) {
	return findDecoded(s.db.WithContext(ctx).Where("public_id = ?", publicID), "find identity check", s.s.toIdentityCheck)
}

// UpdateIdentityCheck applies fn under a row lock; only the status, tries
// and person change.
func (s *IdentityCheckStore) UpdateIdentityCheck(ctx context.Context, id int64, fn func(*service.IdentityCheckRecord) error) (*service.IdentityCheckRecord, error) {
	return updateLocked(ctx, s.db, "update identity check", id, s.s.toIdentityCheck, fn, func(c *service.IdentityCheckRecord) map[string]any {
		return map[string]any{"status": c.Status, "failed_tries": c.FailedTries, "person_id": c.PersonID, "updated_at": c.UpdatedAt.UTC()}
	})
}
