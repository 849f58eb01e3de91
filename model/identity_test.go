package model_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/service"
)

func testRing(tb testing.TB, id string, fill byte, old ...pii.Key) *pii.Keyring {
	tb.Helper()
	r, err := pii.NewKeyring(pii.Key{ID: id, Secret: bytes.Repeat([]byte{fill}, 32)}, old...)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func mustUser(tb testing.TB, db *model.DB, openID string) *service.User {
	tb.Helper()
	u, err := model.NewUserStore(db).UpsertUserByOpenID(context.Background(), openID, "")
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// rawColumn returns every value of a column, to check what is really stored.
func rawColumn(tb testing.TB, db *model.DB, table, col string) []string {
	tb.Helper()
	var out []string
	if err := db.Raw("SELECT " + col + " FROM " + table).Scan(&out).Error; err != nil {
		tb.Fatal(err)
	}
	return out
}

const (
	zhangName = "张三丰"
	zhangID   = "11010519491231002X"
)

func TestPersonStore(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		ring := testRing(t, "k1", 1)
		s := model.NewPersonStore(db, ring)

		p, err := s.EnsurePerson(ctx, service.Person{Name: zhangName, IDType: service.IDResident, IDNumber: zhangID})
		if err != nil {
			t.Fatal(err)
		}
		t.Run("SameDocumentSamePerson", func(t *testing.T) {
			again, err := s.EnsurePerson(ctx, service.Person{Name: "张三", IDType: service.IDResident, IDNumber: zhangID, Phone: "13812345678"})
			if err != nil {
				t.Fatal(err)
			}
			if again.ID != p.ID {
				t.Fatalf("ID=%d, want %d", again.ID, p.ID)
			}
			got, _ := s.FindPersonByID(ctx, p.ID)
			if got.Name != "张三" || got.Phone != "13812345678" || got.IDNumber != zhangID {
				t.Fatalf("got %+v, want the verified name, phone and number", got)
			}
		})
		t.Run("OtherDocumentTypeOtherPerson", func(t *testing.T) {
			other, err := s.EnsurePerson(ctx, service.Person{Name: "X", IDType: service.IDHKMacauResidence, IDNumber: zhangID})
			if err != nil {
				t.Fatal(err)
			}
			if other.ID == p.ID {
				t.Fatalf("same person across document types")
			}
		})
		t.Run("StoredEncrypted", func(t *testing.T) {
			for _, col := range []string{"name_enc", "id_number_enc", "phone_enc"} {
				for _, v := range rawColumn(t, db, "persons", col) {
					if v == "" && col == "phone_enc" {
						continue
					}
					if strings.Contains(v, "张") || strings.Contains(v, "1101051949") || strings.Contains(v, "138123") || !strings.HasPrefix(v, "v1:k1:") {
						t.Fatalf("%s=%q, want a k1 ciphertext", col, v)
					}
				}
			}
		})
		t.Run("FindByIDNumber", func(t *testing.T) {
			got, err := s.FindPersonByIDNumber(ctx, service.IDResident, zhangID)
			if err != nil || got.ID != p.ID {
				t.Fatalf("got %v,%v, want person %d", got, err, p.ID)
			}
			if _, err := s.FindPersonByIDNumber(ctx, service.IDResident, "110101199003071233"); !errorsIs(err, service.ErrNotFound) {
				t.Fatalf("err=%v, want ErrNotFound", err)
			}
		})
		t.Run("FoundAndReencryptedAfterRotation", func(t *testing.T) {
			rotated := model.NewPersonStore(db, testRing(t, "k2", 2, pii.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}))
			got, err := rotated.FindPersonByIDNumber(ctx, service.IDResident, zhangID)
			if err != nil || got.ID != p.ID {
				t.Fatalf("after rotation got %v,%v, want person %d", got, err, p.ID)
			}
			again, err := rotated.EnsurePerson(ctx, service.Person{Name: "张三", IDType: service.IDResident, IDNumber: zhangID})
			if err != nil || again.ID != p.ID {
				t.Fatalf("EnsurePerson after rotation = %v,%v, want person %d", again, err, p.ID)
			}
			var enc string
			db.Raw("SELECT id_number_enc FROM persons WHERE id = ?", p.ID).Scan(&enc)
			if !strings.HasPrefix(enc, "v1:k2:") {
				t.Fatalf("id_number_enc=%q, want re-encrypted under k2", enc)
			}
			// The new-key-only ring finds the re-indexed row.
			if _, err := model.NewPersonStore(db, testRing(t, "k2", 2)).FindPersonByIDNumber(ctx, service.IDResident, zhangID); err != nil {
				t.Fatalf("k2-only lookup: %v, want found", err)
			}
		})
		t.Run("ConcurrentFirstVerificationOnePerson", func(t *testing.T) {
			var wg sync.WaitGroup
			ids := make([]int64, 6)
			for i := range ids {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					got, err := s.EnsurePerson(ctx, service.Person{Name: "李四", IDType: service.IDResident, IDNumber: "110101199003071233"})
					if err != nil {
						t.Errorf("EnsurePerson: %v", err)
						return
					}
					ids[i] = got.ID
				}(i)
			}
			wg.Wait()
			for _, id := range ids {
				if id != ids[0] {
					t.Fatalf("ids=%v, want one person", ids)
				}
			}
		})
	})
}

func TestFaceAttemptStore(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		s := model.NewFaceAttemptStore(db, testRing(t, "k1", 1))
		u := mustUser(t, db, "o-face")
		now := clock.Now()
		newAttempt := func(seq string) *service.FaceAttempt {
			return &service.FaceAttempt{UserID: u.ID, Flow: service.FaceFlowV2, OutSeqNo: seq,
				Cert:   service.PersonRef{Name: zhangName, IDType: service.IDResident, IDNumber: zhangID},
				Status: service.FaceStarting, Day: "2026-11-24", CreatedAt: now, ExpiresAt: now.Add(time.Hour), UpdatedAt: now}
		}
		a := newAttempt("seq00001")
		if err := s.ReserveFaceAttempt(ctx, a, 2); err != nil {
			t.Fatal(err)
		}
		t.Run("VerifyIDRoundTrip", func(t *testing.T) {
			if _, err := s.UpdateFaceAttempt(ctx, a.ID, func(x *service.FaceAttempt) error {
				x.VerifyID, x.Status = "vid-1", service.FacePending
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			got, err := s.FindFaceAttemptByVerifyID(ctx, "vid-1")
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != a.ID || got.Cert != a.Cert || got.Status != service.FacePending || got.UserID != u.ID {
				t.Fatalf("got %+v, want attempt %d pending with its cert", got, a.ID)
			}
		})
		t.Run("ErrorAttemptsNotCounted", func(t *testing.T) {
			b := newAttempt("seq00002")
			if err := s.ReserveFaceAttempt(ctx, b, 2); err != nil {
				t.Fatal(err)
			}
			s.UpdateFaceAttempt(ctx, b.ID, func(x *service.FaceAttempt) error { x.Status = service.FaceError; return nil })
			if err := s.ReserveFaceAttempt(ctx, newAttempt("seq00003"), 2); err != nil {
				t.Fatalf("second counted attempt: %v, want allowed", err)
			}
		})
		t.Run("LimitReached", func(t *testing.T) {
			if err := s.ReserveFaceAttempt(ctx, newAttempt("seq00004"), 2); !errorsIs(err, service.ErrDailyLimit) {
				t.Fatalf("err=%v, want ErrDailyLimit", err)
			}
			next := newAttempt("seq00005")
			next.Day = "2026-11-25"
			if err := s.ReserveFaceAttempt(ctx, next, 2); err != nil {
				t.Fatalf("next day: %v, want allowed", err)
			}
		})
		t.Run("DuplicateVerifyID", func(t *testing.T) {
			c := newAttempt("seq00006")
			c.Day = "2026-11-26"
			s.ReserveFaceAttempt(ctx, c, 2)
			_, err := s.UpdateFaceAttempt(ctx, c.ID, func(x *service.FaceAttempt) error { x.VerifyID = "vid-1"; return nil })
			if !errorsIs(err, service.ErrDuplicate) {
				t.Fatalf("err=%v, want ErrDuplicate", err)
			}
		})
		t.Run("CertEncrypted", func(t *testing.T) {
			for _, v := range rawColumn(t, db, "face_attempts", "cert_enc") {
				if strings.Contains(v, zhangID) || strings.Contains(v, "张") {
					t.Fatalf("cert_enc=%q holds plaintext", v)
				}
			}
		})
	})
}

func TestFamilyStore(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		s := model.NewFamilyStore(db, testRing(t, "k1", 1))
		payer := mustUser(t, db, "o-payer")
		other := mustUser(t, db, "o-other")
		now := clock.Now()
		binding := func(uid int64, number, invite string) *service.FamilyBinding {
			return &service.FamilyBinding{UserID: uid, Relation: "parent",
				Member: service.PersonRef{Name: zhangName, IDType: service.IDResident, IDNumber: number},
				Status: service.FamilyPendingConsent, InviteHash: invite, InviteExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
		}
		b := binding(payer.ID, zhangID, "h1")
		if err := s.CreateFamilyBinding(ctx, b, 2); err != nil {
			t.Fatal(err)
		}
		t.Run("DuplicateMember", func(t *testing.T) {
			if err := s.CreateFamilyBinding(ctx, binding(payer.ID, zhangID, "h2"), 2); !errorsIs(err, service.ErrDuplicate) {
				t.Fatalf("err=%v, want ErrDuplicate", err)
			}
			if err := s.CreateFamilyBinding(ctx, binding(other.ID, zhangID, "h3"), 2); err != nil {
				t.Fatalf("another payer, same member: %v, want allowed", err)
			}
		})
		t.Run("Limit", func(t *testing.T) {
			if err := s.CreateFamilyBinding(ctx, binding(payer.ID, "110101199003071233", "h4"), 2); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateFamilyBinding(ctx, binding(payer.ID, "310101199801011232", "h5"), 2); !errorsIs(err, service.ErrFamilyLimit) {
				t.Fatalf("err=%v, want ErrFamilyLimit", err)
			}
		})
		t.Run("InviteAndConsent", func(t *testing.T) {
			got, err := s.FindFamilyBindingByInvite(ctx, "h1")
			if err != nil || got.ID != b.ID || got.Member != b.Member {
				t.Fatalf("got %+v,%v, want binding %d", got, err, b.ID)
			}
			up, err := s.UpdateFamilyBinding(ctx, b.ID, func(x *service.FamilyBinding) error {
				x.Status, x.PersonID, x.ConsentMethod, x.ConsentedAt = service.FamilyActive, 42, service.ConsentMemberAccept, now
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got, _ = s.FindFamilyBinding(ctx, b.ID)
			if got.Status != service.FamilyActive || got.PersonID != 42 || !got.ConsentedAt.Equal(up.ConsentedAt) {
				t.Fatalf("got %+v, want active, person 42", got)
			}
		})
		t.Run("ListOwnOnly", func(t *testing.T) {
			list, err := s.ListFamilyBindings(ctx, payer.ID)
			if err != nil || len(list) != 2 || list[0].ID != b.ID {
				t.Fatalf("list=%v,%v, want the payer's 2 bindings", list, err)
			}
		})
		t.Run("DeleteOtherUsersNotFound", func(t *testing.T) {
			if err := s.DeleteFamilyBinding(ctx, other.ID, b.ID); !errorsIs(err, service.ErrNotFound) {
				t.Fatalf("err=%v, want ErrNotFound", err)
			}
			if err := s.DeleteFamilyBinding(ctx, payer.ID, b.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.FindFamilyBinding(ctx, b.ID); !errorsIs(err, service.ErrNotFound) {
				t.Fatalf("err=%v, want deleted", err)
			}
		})
	})
}

func TestIdentityCheckStore(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		s := model.NewIdentityCheckStore(db, testRing(t, "k1", 1))
		now := clock.Now()
		c := &service.IdentityCheckRecord{PublicID: "ck1", UserID: 7, Region: "beijing", Method: service.IdentitySMS, Purpose: service.CheckForSelf,
			PlatformCheckID: "p-1", Person: service.PersonRef{Name: zhangName, IDType: service.IDTaiwanResidence, IDNumber: "830000199201300022"},
			Phone: "13812345678", Status: service.CheckPending, CreatedAt: now, ExpiresAt: now.Add(time.Minute), UpdatedAt: now}
		if err := s.CreateIdentityCheck(ctx, c); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateIdentityCheck(ctx, c.ID, func(x *service.IdentityCheckRecord) error {
			x.FailedTries, x.Status, x.PersonID = 1, service.CheckVerified, 9
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindIdentityCheck(ctx, "ck1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Person != c.Person || got.Phone != c.Phone || got.Status != service.CheckVerified || got.PersonID != 9 || got.FailedTries != 1 {
			t.Fatalf("got %+v, want the stored check updated", got)
		}
		if _, err := s.FindIdentityCheck(ctx, "nope"); !errorsIs(err, service.ErrNotFound) {
			t.Fatalf("err=%v, want ErrNotFound", err)
		}
		for _, v := range rawColumn(t, db, "identity_checks", "phone_enc") {
			if strings.Contains(v, "13812345678") {
				t.Fatalf("phone stored in plaintext")
			}
		}
	})
}
