package cache_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/service"
)

// sessionRedis runs f on an in-process Redis and, with TEST_REDIS_ADDR, on
// the real one too (DB 15; the users are fresh ids, their keys removed at
// the end).
func sessionRedis(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, uid func() int64)) {
	backends := map[string]string{"miniredis": ""}
	if addr := os.Getenv("TEST_REDIS_ADDR"); addr != "" {
		backends["redis"] = addr
	}
	for name, addr := range backends {
		t.Run(name, func(t *testing.T) {
			db := 15
			if addr == "" {
				addr, db = miniredis.RunT(t).Addr(), 0
			}
			rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
			var used []int64
			t.Cleanup(func() {
				ctx := context.Background()
				for _, id := range used {
					for _, pat := range []string{"*{" + strconv.FormatInt(id, 10) + "}*", "sessgen:" + strconv.FormatInt(id, 10)} {
						iter := rdb.Scan(ctx, 0, pat, 1000).Iterator()
						for iter.Next(ctx) {
							rdb.Del(ctx, iter.Val())
						}
					}
				}
				rdb.Close()
			})
			base := time.Now().UnixNano() / 1000 // unlikely to be anyone's user id on a shared Redis
			f(t, rdb, func() int64 { base++; used = append(used, base); return base })
		})
	}
}

// TestSessionCountingFindsThenCounts: a token carries its user's id; one
// script finds a live session and counts the route's limit; an unknown,
// forged, expired, revoked or logged-out token counts nothing; the count is
// the one RateLimiter.Allow keeps for the same user and route.
func TestSessionCountingFindsThenCounts(t *testing.T) {
	sessionRedis(t, func(t *testing.T, rdb redis.UniversalClient, newUID func() int64) {
		ctx := context.Background()
		clock := service.NewManualClock(time.Date(2026, 12, 1, 8, 0, 20, 0, time.UTC))
		store := cache.NewSessionStore(rdb, clock)
		rl := cache.NewRateLimiter(rdb, clock)
		l := service.UserLimit{Route: "quote", Limit: 2, Window: time.Minute}
		uid, victim := newUID(), newUID()
		count := func(id int64) int {
			t.Helper()
			n, err := rl.Count(ctx, service.UserLimitKey(id, "quote"), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		refused := func(what, token string) {
			t.Helper()
			if _, _, err := store.FindSession(ctx, token); !errors.Is(err, service.ErrNotFound) {
				t.Fatalf("%s: FindSession err %v, want ErrNotFound", what, err)
			}
			if id, _, v, err := store.FindSessionCounting(ctx, token, l); !errors.Is(err, service.ErrNotFound) || v.Counted || id != 0 {
				t.Fatalf("%s: FindSessionCounting id %d verdict %+v err %v, want ErrNotFound and nothing counted", what, id, v, err)
			}
		}

		exp := clock.Now().Add(10 * time.Minute).Truncate(time.Second)
		tok, err := store.CreateSession(ctx, uid, exp)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, strconv.FormatInt(uid, 10)+".") {
			t.Fatalf("token %q does not start with the user id %d", tok, uid)
		}
		if id, gotExp, err := store.FindSession(ctx, tok); err != nil || id != uid || !gotExp.Equal(exp) {
			t.Fatalf("FindSession: %d %s %v", id, gotExp, err)
		}
		for i := 1; i <= 3; i++ {
			id, gotExp, v, err := store.FindSessionCounting(ctx, tok, l)
			if err != nil || id != uid || !gotExp.Equal(exp) || !v.Counted {
				t.Fatalf("event %d: id %d exp %s verdict %+v err %v", i, id, gotExp, v, err)
			}
			if want := i <= 2; v.Allowed != want {
				t.Fatalf("event %d allowed=%v, want %v", i, v.Allowed, want)
			}
			if i == 3 && v.RetryAfter != 40*time.Second {
				t.Fatalf("over the limit: retry after %s, want 40s (the window ends at 08:01:00)", v.RetryAfter)
			}
		}
		if n := count(uid); n != 3 {
			t.Fatalf("RateLimiter sees %d events, want 3: one key for both paths", n)
		}

		// Forged tokens name a user but are not that user's session: the
		// victim's limit is not touched.
		random := make([]byte, 32)
		rand.Read(random)
		vs := strconv.FormatInt(victim, 10)
		_, rest, _ := strings.Cut(tok, ".")
		for _, forged := range []string{
			vs + "." + base64.RawURLEncoding.EncodeToString(random), // a guess
			vs + "." + rest, // another user's token, relabelled
			"0" + tok,       // the same id, spelt otherwise
			vs + ".",        // no random part
			"x." + rest, "-1." + rest,
		} {
			refused("forged "+forged, forged)
		}
		if n := count(victim); n != 0 {
			t.Fatalf("forged tokens counted %d events against the victim", n)
		}
		if n := count(uid); n != 3 {
			t.Fatalf("forged tokens changed the owner's count to %d", n)
		}

		// Expiry by the injected clock (Redis's TTL has not run out).
		short, err := store.CreateSession(ctx, uid, clock.Now().Add(2*time.Minute).Truncate(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Minute)
		refused("expired", short)
		if n := count(uid); n != 0 {
			t.Fatalf("expired token counted %d events in the new window", n)
		}

		// Log out everywhere: every session so far is refused and counts
		// nothing; a new one works.
		if _, _, _, err := store.FindSessionCounting(ctx, tok, l); err != nil {
			t.Fatal(err)
		}
		if err := store.RevokeUserSessions(ctx, uid); err != nil {
			t.Fatal(err)
		}
		refused("revoked", tok)
		if n := count(uid); n != 1 {
			t.Fatalf("revoked token counted: %d events, want 1", n)
		}
		fresh, err := store.CreateSession(ctx, uid, clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if id, _, v, err := store.FindSessionCounting(ctx, fresh, l); err != nil || id != uid || !v.Counted || !v.Allowed {
			t.Fatalf("session after revoke: %d %+v %v", id, v, err)
		}

		// Logout ends that token.
		if err := store.DeleteSession(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		refused("logged out", fresh)
	})
}

// TestSessionOldFormatStillWorks: a token issued before the user id was in
// it (key "sess:<sha256>", generation "sessgen:<id>") is found, counts
// nothing in the lookup (the caller counts), and is revoked by log out
// everywhere and by logout.
func TestSessionOldFormatStillWorks(t *testing.T) {
	sessionRedis(t, func(t *testing.T, rdb redis.UniversalClient, newUID func() int64) {
		ctx := context.Background()
		clock := service.NewManualClock(time.Date(2026, 12, 1, 8, 0, 20, 0, time.UTC))
		store := cache.NewSessionStore(rdb, clock)
		uid := newUID()
		oldSession := func() string {
			t.Helper()
			b := make([]byte, 32)
			rand.Read(b)
			tok := base64.RawURLEncoding.EncodeToString(b)
			h := sha256.Sum256([]byte(tok))
			gen, _ := rdb.Get(ctx, "sessgen:"+strconv.FormatInt(uid, 10)).Int64()
			val := fmt.Sprintf("%d|%d|%d", uid, clock.Now().Add(time.Hour).Unix(), gen)
			if err := rdb.Set(ctx, "sess:"+hex.EncodeToString(h[:]), val, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			return tok
		}
		tok := oldSession()
		if id, _, err := store.FindSession(ctx, tok); err != nil || id != uid {
			t.Fatalf("old token: %d %v", id, err)
		}
		id, _, v, err := store.FindSessionCounting(ctx, tok, service.UserLimit{Route: "quote", Limit: 1, Window: time.Minute})
		if err != nil || id != uid || v.Counted {
			t.Fatalf("old token counting: %d %+v %v, want the user and nothing counted", id, v, err)
		}
		if err := store.RevokeUserSessions(ctx, uid); err != nil {
			t.Fatal(err)
		}
		if _, _, err := store.FindSession(ctx, tok); !errors.Is(err, service.ErrNotFound) {
			t.Fatalf("old token after log out everywhere: %v", err)
		}
		tok = oldSession()
		if err := store.DeleteSession(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, _, err := store.FindSession(ctx, tok); !errors.Is(err, service.ErrNotFound) {
			t.Fatalf("old token after logout: %v", err)
		}
	})
}

// recordedSession returns a session store on miniredis whose commands rec
// records, and a session of user 42.
func recordedSession(t *testing.T) (*cache.SessionStore, *keyRecorder, string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	t.Cleanup(func() { rdb.Close() })
	rec := &keyRecorder{}
	rdb.AddHook(rec)
	clock := service.NewManualClock(time.Date(2026, 12, 1, 8, 0, 20, 0, time.UTC))
	store := cache.NewSessionStore(rdb, clock)
	tok, err := store.CreateSession(context.Background(), 42, clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return store, rec, tok
}

// TestSessionKeysShareTheUsersSlot: the lookup is one command (MGET, or the
// counting script) whose keys all carry the user's hash tag, so it runs on
// Redis Cluster.
func TestSessionKeysShareTheUsersSlot(t *testing.T) {
	ctx := context.Background()
	store, rec, tok := recordedSession(t)
	l := service.UserLimit{Route: "quote", Limit: 5, Window: time.Minute}
	store.FindSessionCounting(ctx, tok, l) // loads the script
	for _, lookup := range []func() error{
		func() error { _, _, err := store.FindSession(ctx, tok); return err },
		func() error { _, _, _, err := store.FindSessionCounting(ctx, tok, l); return err },
	} {
		rec.reset()
		if err := lookup(); err != nil {
			t.Fatal(err)
		}
		cmds := rec.reset()
		if len(cmds) != 1 {
			t.Fatalf("lookup sent %d commands %q, want 1", len(cmds), cmds)
		}
		keys := cmds[0].keys
		if len(keys) < 2 {
			t.Fatalf("%s keys %q", cmds[0].name, keys)
		}
		for _, k := range keys {
			if tag := hashTag(k); tag != "42" {
				t.Fatalf("%s key %q has hash tag %q, want the user's {42}: keys %q", cmds[0].name, k, tag, keys)
			}
		}
	}
}

// hashTag is the part of a key Redis Cluster hashes when it has one.
func hashTag(k string) string {
	i := strings.IndexByte(k, '{')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(k[i+1:], '}')
	if j <= 0 {
		return ""
	}
	return k[i+1 : i+1+j]
}

type sentCmd struct {
	name string
	keys []string
}

// keyRecorder records each command with its keys (MGET's arguments, a
// script's KEYS).
type keyRecorder struct {
	mu   sync.Mutex
	cmds []sentCmd
}

func (r *keyRecorder) reset() []sentCmd {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cmds
	r.cmds = nil
	return c
}

func (*keyRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *keyRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		c := sentCmd{name: cmd.Name()}
		switch c.name {
		case "mget":
			for _, a := range args[1:] {
				c.keys = append(c.keys, fmt.Sprint(a))
			}
		case "eval", "evalsha":
			n, _ := strconv.Atoi(fmt.Sprint(args[2]))
			for _, a := range args[3 : 3+n] {
				c.keys = append(c.keys, fmt.Sprint(a))
			}
		}
		err := next(ctx, cmd)
		if c.name == "evalsha" && err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			return err
		}
		r.mu.Lock()
		r.cmds = append(r.cmds, c)
		r.mu.Unlock()
		return err
	}
}
func (*keyRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
