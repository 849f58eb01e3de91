package model_test

import (
	"context"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// A lost database is a 503 with retry advice, not an internal error.
func TestLostConnectionIsUnavailable(t *testing.T) {
	modeltest.Each(t, service.SystemClock{}, func(t *testing.T, db *model.DB) {
		users := model.NewUserStore(db)
		u, err := users.UpsertUserByOpenID(context.Background(), "o-conn", "")
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = users.FindUserByID(context.Background(), u.ID)
		if got, want := service.ErrorKind(err), service.KindUnavailable; got != want {
			t.Fatalf("kind=%v (err %v), want unavailable", got, err)
		}
		if e := service.AsError(err); e == nil || e.RetryAfter < time.Second {
			t.Fatalf("err=%v, want a retry advice", err)
		}
		_, err = users.UpsertUserByOpenID(context.Background(), "o-conn-2", "")
		if got, want := service.ErrorKind(err), service.KindUnavailable; got != want {
			t.Fatalf("kind=%v (err %v) in a transaction, want unavailable", got, err)
		}
	})
}
