package model

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/service"
)

type familyRow struct {
	ID              int64 `gorm:"primaryKey"`
	UserID          int64
	Relation        string
	NameEnc         string
	IDType          string
	IDNumberEnc     string
	IDNumberBidx    string
	Status          string
	PersonID        int64
	InviteHash      string
	InviteExpiresAt time.Time
	ConsentMethod   string
	ConsentedAt     *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (familyRow) TableName() string { return "family_bindings" }

func (s sealer) toFamily(r *familyRow) (*service.FamilyBinding, error) {
	member, err := s.openRef(r.NameEnc, r.IDType, r.IDNumberEnc)
	if err != nil {
		return nil, err
	}
	b := &service.FamilyBinding{ID: r.ID, UserID: r.UserID, Relation: r.Relation, Member: member,
		Status: service.FamilyStatus(r.Status), PersonID: r.PersonID, InviteHash: r.InviteHash, InviteExpiresAt: r.InviteExpiresAt,
		ConsentMethod: r.ConsentMethod, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.ConsentedAt != nil {
		b.ConsentedAt = *r.ConsentedAt
	}
	return b, nil
}

// FamilyStore implements service.FamilyStore with the member's identity
// encrypted and blind-indexed.
type FamilyStore struct{ sealedStore }

// NewFamilyStore returns a FamilyStore.
func NewFamilyStore(db *DB, ring *pii.Keyring) *FamilyStore {
	return &FamilyStore{newSealedStore("NewFamilyStore", db, ring)}
}

// CreateFamilyBinding inserts b unless the user has max bindings
// (ErrFamilyLimit) or already binds that document (ErrDuplicate). The
// user's row is locked so concurrent adds are counted one after the other.
func (s *FamilyStore) CreateFamilyBinding(ctx context.Context, b *service.FamilyBinding, max int) error {
	nameEnc, numEnc, err := s.s.sealRef(b.Member)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		n, err := countForUser(tx, s.db.Dialect, b.UserID, &familyRow{}, "user_id = ?", b.UserID)
		if err != nil {
			return err
		}
		var dup int64
		if err := tx.Model(&familyRow{}).Where("user_id = ? AND id_type = ? AND id_number_bidx IN ?", b.UserID, string(b.Member.IDType),
			s.s.bidxes(b.Member.IDType, b.Member.IDNumber)).Count(&dup).Error; err != nil {
			return err
		}
		if dup > 0 {
			return service.ErrDuplicate
		}
		if n >= int64(max) {
			return service.ErrFamilyLimit
		}
		row := familyRow{UserID: b.UserID, Relation: b.Relation, NameEnc: nameEnc, IDType: string(b.Member.IDType),
			IDNumberEnc: numEnc, IDNumberBidx: s.s.bidx(b.Member.IDType, b.Member.IDNumber), Status: string(b.Status),
			PersonID: b.PersonID, InviteHash: b.InviteHash, InviteExpiresAt: b.InviteExpiresAt.UTC(),
			ConsentMethod: b.ConsentMethod, CreatedAt: b.CreatedAt.UTC(), UpdatedAt: b.UpdatedAt.UTC()}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		b.ID = row.ID
		return nil
	})
	if errors.Is(err, service.ErrFamilyLimit) || errors.Is(err, service.ErrDuplicate) {
		return err
	}
	return storeErr("create family binding", err)
}

func (s *FamilyStore) findOne(ctx context.Context, op string, q *gorm.DB) (*service.FamilyBinding, error) {
	return findDecoded(q, op, s.s.toFamily)
}

// FindFamilyBinding returns the binding or ErrNotFound.
func (s *FamilyStore) FindFamilyBinding(ctx context.Context, id int64) (*service.FamilyBinding, error) {
	return s.findOne(ctx, "find family binding", s.db.WithContext(ctx).Where("id = ?", id))
}

// FindFamilyBindingByInvite returns the binding of an invitation hash or
// ErrNotFound.
func (s *FamilyStore) FindFamilyBindingByInvite(ctx context.Context, inviteHash string) (*service.FamilyBinding, error) {
	return s.findOne(ctx, "find family invitation", s.db.WithContext(ctx).Where("invite_hash = ?", inviteHash))
}

// ListFamilyBindings returns the user's bindings, oldest first.
func (s *FamilyStore) ListFamilyBindings(ctx context.Context, userID int64) ([]*service.FamilyBinding, error) {
	var rows []familyRow
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("id").Find(&rows).Error; err != nil {
		return nil, storeErr("list family bindings", err)
	}
	out := make([]*service.FamilyBinding, 0, len(rows))
	for i := range rows {
		b, err := s.s.toFamily(&rows[i])
		if err != nil {
			return nil, storeErr("list family bindings", err)
		}
		out = append(out, b)
	}
	return out, nil
}

// UpdateFamilyBinding applies fn under a row lock; the status, person and
// consent change, the member's identity does not.
func (s *FamilyStore) UpdateFamilyBinding(ctx context.Context, id int64, fn func(*service.FamilyBinding) error) (*service.FamilyBinding, error) {
	return updateLocked(ctx, s.db, "update family binding", id, s.s.toFamily, fn, func(b *service.FamilyBinding) map[string]any {
		var consented *time.Time
		if !b.ConsentedAt.IsZero() {
			t := b.ConsentedAt.UTC()
			consented = &t
		}
		return map[string]any{"status": string(b.Status), "person_id": b.PersonID, "consent_method": b.ConsentMethod,
			"consented_at": consented, "updated_at": b.UpdatedAt.UTC()}
	})
}

// DeleteFamilyBinding removes the user's binding or returns ErrNotFound.
func (s *FamilyStore) DeleteFamilyBinding(ctx context.Context, userID, id int64) error {
	res := s.db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Delete(&familyRow{})
	if res.Error != nil {
		return storeErr("delete family binding", res.Error)
	}
	if res.RowsAffected == 0 {
		return storeErr("delete family binding", gorm.ErrRecordNotFound)
	}
	return nil
}
