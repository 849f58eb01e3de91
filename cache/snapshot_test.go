package cache_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/service"
)

func verifiedUser(id int64) *service.User {
	return &service.User{ID: id, OpenID: "o-snap-" + strconv.FormatInt(id, 10), PersonID: id + 7, CareMode: true,
		Self: &service.SelfIdentity{IDType: service.IDResident, Face: true,
			Checks: []service.RegionMethod{{Region: "jiangsu", Method: "bank_card"}, {Region: "beijing", Method: "sms"}}}}
}

// TestSessionSnapshotStoredWithTheNextLookup: a remembered user's snapshot
// is stored by that user's next session lookup (one script, no round trip
// of its own) and returned by the ones after it, as a lower bound (Cached)
// holding only what never changes: id, openid, person, ID type, evidence.
// An unverified user is not remembered.
func TestSessionSnapshotStoredWithTheNextLookup(t *testing.T) {
	sessionRedis(t, func(t *testing.T, rdb redis.UniversalClient, newUID func() int64) {
		ctx := context.Background()
		clock := service.NewManualClock(time.Date(2026, 12, 1, 8, 0, 20, 0, time.UTC))
		store := cache.NewSessionStore(rdb, clock)
		l := service.UserLimit{Route: "quote", Limit: 30, Window: time.Minute}
		uid, unverified := newUID(), newUID()
		tok, err := store.CreateSession(ctx, uid, clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		id, _, v, snap, err := store.FindSessionSnapshot(ctx, tok, l)
		if err != nil || id != uid || !v.Counted || !v.Allowed || snap != nil {
			t.Fatalf("first lookup: id %d verdict %+v snapshot %+v err %v, want the user, counted, no snapshot", id, v, snap, err)
		}
		u := verifiedUser(uid)
		store.RememberUser(u)
		for i := 0; i < 2; i++ { // the lookup that stores it, and a later one
			_, _, v, snap, err = store.FindSessionSnapshot(ctx, tok, l)
			if err != nil || !v.Counted || snap == nil {
				t.Fatalf("lookup %d: verdict %+v snapshot %+v err %v", i, v, snap, err)
			}
			want := &service.User{ID: uid, OpenID: u.OpenID, PersonID: u.PersonID,
				Self: &service.SelfIdentity{IDType: u.Self.IDType, Face: true, Checks: u.Self.Checks, Cached: true}}
			if !reflect.DeepEqual(snap, want) {
				t.Fatalf("lookup %d: snapshot %+v %+v, want %+v %+v", i, snap, snap.Self, want, want.Self)
			}
		}
		if n, _ := rdb.Exists(ctx, "usnap:{"+strconv.FormatInt(uid, 10)+"}").Result(); n != 1 {
			t.Fatalf("snapshot key not in the user's slot")
		}

		tok2, err := store.CreateSession(ctx, unverified, clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		store.RememberUser(&service.User{ID: unverified, OpenID: "o-unverified"})
		if _, _, _, snap, err := store.FindSessionSnapshot(ctx, tok2, l); err != nil || snap != nil {
			t.Fatalf("unverified user: snapshot %+v err %v, want none", snap, err)
		}
	})
}

// TestSessionSnapshotNeedsALiveSession: a forged, revoked, expired or
// logged-out token gets no snapshot and stores none, and the snapshot
// waiting for the user is not spent on it.
func TestSessionSnapshotNeedsALiveSession(t *testing.T) {
	sessionRedis(t, func(t *testing.T, rdb redis.UniversalClient, newUID func() int64) {
		ctx := context.Background()
		clock := service.NewManualClock(time.Date(2026, 12, 1, 8, 0, 20, 0, time.UTC))
		store := cache.NewSessionStore(rdb, clock)
		l := service.UserLimit{Route: "order", Limit: 30, Window: time.Minute}
		uid := newUID()
		snapKey := "usnap:{" + strconv.FormatInt(uid, 10) + "}"
		tok, err := store.CreateSession(ctx, uid, clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(tok, ".")
		refused := func(what, token string) {
			t.Helper()
			store.RememberUser(verifiedUser(uid))
			id, _, v, snap, err := store.FindSessionSnapshot(ctx, token, l)
			if !errors.Is(err, service.ErrNotFound) || id != 0 || v.Counted || snap != nil {
				t.Fatalf("%s: id %d verdict %+v snapshot %+v err %v, want ErrNotFound and nothing", what, id, v, snap, err)
			}
			if n, _ := rdb.Exists(ctx, snapKey).Result(); n != 0 {
				t.Fatalf("%s: the snapshot was stored", what)
			}
		}
		refused("forged", strconv.FormatInt(uid, 10)+"."+strings.Repeat("A", len(rest)))
		short, err := store.CreateSession(ctx, uid, clock.Now().Add(time.Minute).Truncate(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Minute)
		refused("expired", short)
		if err := store.RevokeUserSessions(ctx, uid); err != nil {
			t.Fatal(err)
		}
		refused("revoked", tok)

		// With a snapshot stored, a revoked token still gets nothing.
		fresh, err := store.CreateSession(ctx, uid, clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, snap, err := store.FindSessionSnapshot(ctx, fresh, l); err != nil || snap == nil {
			t.Fatalf("fresh session: snapshot %+v err %v; the remembered snapshot should have been stored now", snap, err)
		}
		if err := store.DeleteSession(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		if id, _, v, snap, err := store.FindSessionSnapshot(ctx, fresh, l); !errors.Is(err, service.ErrNotFound) || id != 0 || v.Counted || snap != nil {
			t.Fatalf("logged out: id %d verdict %+v snapshot %+v err %v", id, v, snap, err)
		}
	})
}

// TestSessionSnapshotLookupIsOneCommandInTheUsersSlot: the lookup that
// stores a snapshot and the one that reads it are one script each, over
// keys of the user's hash slot.
func TestSessionSnapshotLookupIsOneCommandInTheUsersSlot(t *testing.T) {
	ctx := context.Background()
	store, rec, tok := recordedSession(t)
	l := service.UserLimit{Route: "quote", Limit: 5, Window: time.Minute}
	store.FindSessionSnapshot(ctx, tok, l) // loads the script
	store.RememberUser(verifiedUser(42))
	for i := 0; i < 2; i++ {
		rec.reset()
		if _, _, _, _, err := store.FindSessionSnapshot(ctx, tok, l); err != nil {
			t.Fatal(err)
		}
		cmds := rec.reset()
		if len(cmds) != 1 || len(cmds[0].keys) != 4 {
			t.Fatalf("lookup %d sent %q, want one script over 4 keys", i, cmds)
		}
		for _, k := range cmds[0].keys {
			if tag := hashTag(k); tag != "42" {
				t.Fatalf("key %q has hash tag %q, want the user's {42}", k, tag)
			}
		}
	}
}

// TestSessionCreatedWithTheSnapshot: login of a verified user stores the
// snapshot with the session, so the session's first lookup has it; an
// unverified user's session stores none.
func TestSessionCreatedWithTheSnapshot(t *testing.T) {
	sessionRedis(t, func(t *testing.T, rdb redis.UniversalClient, newUID func() int64) {
		ctx := context.Background()
		clock := service.NewManualClock(time.Date(2026, 12, 1, 8, 0, 20, 0, time.UTC))
		store := cache.NewSessionStore(rdb, clock)
		l := service.UserLimit{Route: "quote", Limit: 30, Window: time.Minute}
		uid, unverified := newUID(), newUID()
		tok, err := store.CreateSessionFor(ctx, verifiedUser(uid), clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if id, _, v, snap, err := store.FindSessionSnapshot(ctx, tok, l); err != nil || id != uid || !v.Counted || snap == nil || snap.PersonID != uid+7 || !snap.Self.Cached {
			t.Fatalf("first lookup: id %d verdict %+v snapshot %+v err %v, want the snapshot", id, v, snap, err)
		}
		tok2, err := store.CreateSessionFor(ctx, &service.User{ID: unverified, OpenID: "o-unverified"}, clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if id, _, _, snap, err := store.FindSessionSnapshot(ctx, tok2, l); err != nil || id != unverified || snap != nil {
			t.Fatalf("unverified: id %d snapshot %+v err %v, want the user and no snapshot", id, snap, err)
		}
	})
}
