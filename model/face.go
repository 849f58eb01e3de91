package model

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/service"
)

type faceAttemptRow struct {
	ID        int64 `gorm:"primaryKey"`
	UserID    int64
	Flow      string
	OutSeqNo  string
	VerifyID  *string
	CertEnc   string
	Status    string
	VerifyRet int
	PersonID  int64
	Day       string
	CreatedAt time.Time
	ExpiresAt time.Time
	UpdatedAt time.Time
}

func (faceAttemptRow) TableName() string { return "face_attempts" }

type certJSON struct {
	Name     string `json:"n"`
	IDType   string `json:"t"`
	IDNumber string `json:"i"`
}

func (s sealer) sealCert(ref service.PersonRef) (string, error) {
	b, err := json.Marshal(certJSON{Name: ref.Name, IDType: string(ref.IDType), IDNumber: ref.IDNumber})
	if err != nil {
		return "", err
	}
	return s.seal("cert", string(b))
}

func (s sealer) openCert(ct string) (service.PersonRef, error) {
	pt, err := s.open("cert", ct)
	if err != nil {
		return service.PersonRef{}, err
	}
	var c certJSON
	if err := json.Unmarshal([]byte(pt), &c); err != nil {
		return service.PersonRef{}, fmt.Errorf("decode cert: %w", err)
	}
	return service.PersonRef{Name: c.Name, IDType: service.IDType(c.IDType), IDNumber: c.IDNumber}, nil
}

func (s sealer) toFaceAttempt(r *faceAttemptRow) (*service.FaceAttempt, error) {
	cert, err := s.openCert(r.CertEnc)
	if err != nil {
		return nil, err
	}
	a := &service.FaceAttempt{ID: r.ID, UserID: r.UserID, Flow: r.Flow, OutSeqNo: r.OutSeqNo, Cert: cert, Status: service.FaceStatus(r.Status),
		VerifyRet: r.VerifyRet, PersonID: r.PersonID, Day: r.Day, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, UpdatedAt: r.UpdatedAt}
	if r.VerifyID != nil {
		a.VerifyID = *r.VerifyID
	}
	return a, nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// FaceAttemptStore implements service.FaceAttemptStore. The claimed
// identity (cert_info) is stored encrypted.
type FaceAttemptStore struct{ sealedStore }

// NewFaceAttemptStore returns a FaceAttemptStore.
func NewFaceAttemptStore(db *DB, ring *pii.Keyring) *FaceAttemptStore {
	return &FaceAttemptStore{newSealedStore("NewFaceAttemptStore", db, ring)}
}

// ReserveFaceAttempt inserts the attempt unless the user has used limit
// attempts that day. The user's row is locked so concurrent starts of one
// user are counted one after the other.
func (s *FaceAttemptStore) ReserveFaceAttempt(ctx context.Context, a *service.FaceAttempt, limit int) error {
	certEnc, err := s.s.sealCert(a.Cert)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		n, err := countForUser(tx, s.db.Dialect, a.UserID, &faceAttemptRow{}, "user_id = ? AND day = ? AND status <> ?", a.UserID, a.Day, service.FaceError)
		if err != nil {
			return err
		}
		if n >= int64(limit) {
			return service.ErrDailyLimit
		}
		row := faceAttemptRow{UserID: a.UserID, Flow: a.Flow, OutSeqNo: a.OutSeqNo, VerifyID: optString(a.VerifyID), CertEnc: certEnc,
			Status: string(a.Status), VerifyRet: a.VerifyRet, PersonID: a.PersonID, Day: a.Day,
			CreatedAt: a.CreatedAt.UTC(), ExpiresAt: a.ExpiresAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		a.ID = row.ID
		return nil
	})
	if err == service.ErrDailyLimit {
		return err
	}
	return storeErr("reserve face attempt", err)
}

// FindFaceAttemptByVerifyID returns the attempt or ErrNotFound.
func (s *FaceAttemptStore) FindFaceAttemptByVerifyID(ctx context.Context, verifyID string) (*service.FaceAttempt, error) {
	return findDecoded(s.db.WithContext(ctx).Where("verify_id = ?", verifyID), "find face attempt", s.s.toFaceAttempt)
}

// UpdateFaceAttempt applies fn to the attempt under a row lock. The claimed
// identity and owner never change.
func (s *FaceAttemptStore) UpdateFaceAttempt(ctx context.Context, id int64, fn func(*service.FaceAttempt) error) (*service.FaceAttempt, error) {
	return updateLocked(ctx, s.db, "update face attempt", id, s.s.toFaceAttempt, fn, func(a *service.FaceAttempt) map[string]any {
		return map[string]any{"verify_id": optString(a.VerifyID), "status": a.Status, "verify_ret": a.VerifyRet, "person_id": a.PersonID,
			"expires_at": a.ExpiresAt.UTC(), "updated_at": a.UpdatedAt.UTC()}
	})
}
