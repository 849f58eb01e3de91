package model_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

func TestUserStore(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		s := model.NewUserStore(db)

		t.Run("CreateThenKeepUnionID", func(t *testing.T) {
			u, err := s.UpsertUserByOpenID(ctx, "o-1", "un-1")
			if err != nil {
				t.Fatal(err)
			}
			again, err := s.UpsertUserByOpenID(ctx, "o-1", "")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := again.ID, u.ID; got != want {
				t.Fatalf("ID=%d, want %d", got, want)
			}
			if got, want := again.UnionID, "un-1"; got != want {
				t.Fatalf("UnionID=%q, want %q", got, want)
			}
			if !u.CreatedAt.Equal(clock.Now()) {
				t.Fatalf("CreatedAt=%v, want injected clock %v", u.CreatedAt, clock.Now())
			}
		})

		t.Run("ConcurrentFirstLoginOneRow", func(t *testing.T) {
			var wg sync.WaitGroup
			ids := make([]int64, 8)
			for i := range ids {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					u, err := s.UpsertUserByOpenID(ctx, "o-race", "")
					if err != nil {
						t.Errorf("upsert: %v", err)
						return
					}
					ids[i] = u.ID
				}(i)
			}
			wg.Wait()
			for _, id := range ids {
				if id != ids[0] {
					t.Fatalf("ids=%v, want one user", ids)
				}
			}
		})

		t.Run("UpdateCareMode", func(t *testing.T) {
			u, _ := s.UpsertUserByOpenID(ctx, "o-2", "")
			if _, err := s.UpdateUser(ctx, u.ID, func(u *service.User) error { u.CareMode = true; return nil }); err != nil {
				t.Fatal(err)
			}
			got, err := s.FindUserByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !got.CareMode {
				t.Fatalf("CareMode=false, want true")
			}
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			if _, err := s.FindUserByID(ctx, 999999); !errorsIs(err, service.ErrNotFound) {
				t.Fatalf("err=%v, want ErrNotFound", err)
			}
		})
	})
}
