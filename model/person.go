package model

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/service"
)

type personRow struct {
	ID           int64 `gorm:"primaryKey"`
	NameEnc      string
	IDType       string
	IDNumberEnc  string
	IDNumberBidx string
	PhoneEnc     string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (personRow) TableName() string { return "persons" }

// sealer encrypts the personal fields of rows.
type sealer struct{ ring *pii.Keyring }

func (s sealer) seal(field, v string) (string, error) {
	ct, err := s.ring.Encrypt(v)
	if err != nil {
		return "", fmt.Errorf("encrypt %s: %w", field, err)
	}
	return ct, nil
}

func (s sealer) open(field, ct string) (string, error) {
	pt, err := s.ring.Decrypt(ct)
	if err != nil {
		return "", fmt.Errorf("decrypt %s: %w", field, err)
	}
	return pt, nil
}

// sealedStore is what every store that keeps personal fields embeds: the
// database and the sealer of those fields.
type sealedStore struct {
	db *DB
	s  sealer
}

// newSealedStore returns the sealedStore of a store built by ctor; a store
// that keeps personal fields must have a keyring.
func newSealedStore(ctor string, db *DB, ring *pii.Keyring) sealedStore {
	if ring == nil {
		panic("model: " + ctor + ": nil keyring")
	}
	return sealedStore{db: db, s: sealer{ring}}
}

// sealRef encrypts a person's name and document number (openRef reverses it).
func (s sealer) sealRef(ref service.PersonRef) (nameEnc, idNumberEnc string, err error) {
	if nameEnc, err = s.seal("name", ref.Name); err != nil {
		return "", "", err
	}
	if idNumberEnc, err = s.seal("id_number", ref.IDNumber); err != nil {
		return "", "", err
	}
	return nameEnc, idNumberEnc, nil
}

// openRef decrypts a row's name and document number.
func (s sealer) openRef(nameEnc, idType, idNumberEnc string) (service.PersonRef, error) {
	name, err := s.open("name", nameEnc)
	if err != nil {
		return service.PersonRef{}, err
	}
	num, err := s.open("id_number", idNumberEnc)
	if err != nil {
		return service.PersonRef{}, err
	}
	return service.PersonRef{Name: name, IDType: service.IDType(idType), IDNumber: num}, nil
}

// openRefPhone decrypts a row's name, document number and phone.
func (s sealer) openRefPhone(nameEnc, idType, idNumberEnc, phoneEnc string) (service.PersonRef, string, error) {
	ref, err := s.openRef(nameEnc, idType, idNumberEnc)
	if err != nil {
		return service.PersonRef{}, "", err
	}
	phone, err := s.open("phone", phoneEnc)
	if err != nil {
		return service.PersonRef{}, "", err
	}
	return ref, phone, nil
}

// bidx is the blind index of an ID number under the current key; bidxes
// lists it under every key of the ring, for lookups across a rotation.
func (s sealer) bidx(t service.IDType, number string) string {
	return s.ring.BlindIndex(string(t), number)
}
func (s sealer) bidxes(t service.IDType, number string) []string {
	return s.ring.BlindIndexes(string(t), number)
}

func (s sealer) toPerson(r *personRow) (*service.Person, error) {
	ref, phone, err := s.openRefPhone(r.NameEnc, r.IDType, r.IDNumberEnc, r.PhoneEnc)
	if err != nil {
		return nil, err
	}
	return &service.Person{ID: r.ID, Name: ref.Name, IDType: ref.IDType, IDNumber: ref.IDNumber, Phone: phone}, nil
}

// PersonStore implements service.PersonStore. Names, ID numbers and phones
// are encrypted with the keyring; lookups use the blind index.
type PersonStore struct{ sealedStore }

// NewPersonStore returns a PersonStore.
func NewPersonStore(db *DB, ring *pii.Keyring) *PersonStore {
	return &PersonStore{newSealedStore("NewPersonStore", db, ring)}
}

// EnsurePerson finds the person by document or creates it, storing the
// verified name (and phone when given). Rows written under an old key are
// re-encrypted and re-indexed under the current key.
func (s *PersonStore) EnsurePerson(ctx context.Context, p service.Person) (*service.Person, error) {
	var out *service.Person
	attempt := func() error {
		// Insert-or-ignore first, so the locking read below always finds a
		// row: SELECT … FOR UPDATE on a missing row takes a gap lock on
		// MySQL, and concurrent first verifications of different people
		// then deadlock each other.
		var n int64
		if err := s.db.WithContext(ctx).Model(&personRow{}).Where("id_type = ? AND id_number_bidx IN ?",
			string(p.IDType), s.s.bidxes(p.IDType, p.IDNumber)).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			nameEnc, err1 := s.s.seal("name", p.Name)
			numEnc, err2 := s.s.seal("id_number", p.IDNumber)
			phoneEnc, err3 := s.s.seal("phone", p.Phone)
			if err := errors.Join(err1, err2, err3); err != nil {
				return err
			}
			now := s.db.Now()
			row := personRow{NameEnc: nameEnc, IDType: string(p.IDType), IDNumberEnc: numEnc,
				IDNumberBidx: s.s.bidx(p.IDType, p.IDNumber), PhoneEnc: phoneEnc, CreatedAt: now, UpdatedAt: now}
			if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
				return err
			}
		}
		return s.db.Tx(ctx, func(tx *gorm.DB) error {
			nameEnc, err := s.s.seal("name", p.Name)
			if err != nil {
				return err
			}
			now := s.db.Now()
			var row personRow
			err = lockForUpdate(tx, s.db.Dialect).Where("id_type = ? AND id_number_bidx IN ?", string(p.IDType), s.s.bidxes(p.IDType, p.IDNumber)).
				First(&row).Error
			switch {
			case errors.Is(err, gorm.ErrRecordNotFound):
				numEnc, err := s.s.seal("id_number", p.IDNumber)
				if err != nil {
					return err
				}
				phoneEnc, err := s.s.seal("phone", p.Phone)
				if err != nil {
					return err
				}
				row = personRow{NameEnc: nameEnc, IDType: string(p.IDType), IDNumberEnc: numEnc,
					IDNumberBidx: s.s.bidx(p.IDType, p.IDNumber), PhoneEnc: phoneEnc, CreatedAt: now, UpdatedAt: now}
				if err := tx.Create(&row).Error; err != nil {
					return err
				}
			case err != nil:
				return err
			default:
				upd := map[string]any{"name_enc": nameEnc, "updated_at": now}
				row.NameEnc = nameEnc
				if p.Phone != "" {
					if row.PhoneEnc, err = s.s.seal("phone", p.Phone); err != nil {
						return err
					}
					upd["phone_enc"] = row.PhoneEnc
				} else if s.s.ring.NeedsRotation(row.PhoneEnc) {
					phone, err := s.s.open("phone", row.PhoneEnc)
					if err != nil {
						return err
					}
					if row.PhoneEnc, err = s.s.seal("phone", phone); err != nil {
						return err
					}
					upd["phone_enc"] = row.PhoneEnc
				}
				if s.s.ring.NeedsRotation(row.IDNumberEnc) {
					if row.IDNumberEnc, err = s.s.seal("id_number", p.IDNumber); err != nil {
						return err
					}
					upd["id_number_enc"], upd["id_number_bidx"] = row.IDNumberEnc, s.s.bidx(p.IDType, p.IDNumber)
				}
				if err := tx.Model(&personRow{}).Where("id = ?", row.ID).Updates(upd).Error; err != nil {
					return err
				}
			}
			out, err = s.s.toPerson(&row)
			return err
		})
	}
	err := attempt()
	if err != nil && isDuplicate(err) {
		// A concurrent first verification of the same document won the
		// insert; the retry finds its row.
		err = attempt()
	}
	if err != nil {
		return nil, storeErr("ensure person", err)
	}
	return out, nil
}

// FindPersonByID returns the person or ErrNotFound.
func (s *PersonStore) FindPersonByID(ctx context.Context, id int64) (*service.Person, error) {
	return findDecoded(s.db.WithContext(ctx).Where("id = ?", id), "find person", s.s.toPerson)
}

// FindPersonByIDNumber returns the person with that document or ErrNotFound.
func (s *PersonStore) FindPersonByIDNumber(ctx context.Context, t service.IDType, number string) (*service.Person, error) {
	return findDecoded(s.db.WithContext(ctx).Where("id_type = ? AND id_number_bidx IN ?", string(t), s.s.bidxes(t, number)),
		"find person", s.s.toPerson)
}
