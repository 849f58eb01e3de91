package securitytest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// quoteReq is a quote the handler refuses cheaply (400): the limiter counts
// it all the same.
func quoteReq(token string) req {
	return req{method: "POST", path: "/api/v1/quotes", token: token, body: map[string]any{"region": "atlantis", "person": "self"}}
}

// TestForgedTokensDoNotUseUpAUsersLimit: a token names its user, but only
// the session decides. Requests with forged tokens naming the victim are
// refused with 401 and count nothing against the victim's limit.
func TestForgedTokensDoNotUseUpAUsersLimit(t *testing.T) {
	e := newEnv(t, envOptions{})
	victim := e.login(t, "forge-victim")
	uid, rest, ok := strings.Cut(victim, ".")
	if !ok {
		t.Fatalf("token %q does not carry the user id", victim)
	}
	attacker := e.login(t, "forge-attacker")
	_, attackerRest, _ := strings.Cut(attacker, ".")
	b := make([]byte, 32)
	for i := 0; i < 40; i++ {
		rand.Read(b)
		forged := uid + "." + base64.RawURLEncoding.EncodeToString(b)
		switch i % 4 {
		case 1:
			forged = uid + "." + attackerRest // the attacker's own session, relabelled
		case 2:
			forged = "0" + victim
		case 3:
			forged = uid + "." + rest[:len(rest)-1] + "A"
			if forged == victim {
				forged = uid + "." + rest[:len(rest)-1] + "B"
			}
		}
		want(t, fmt.Sprintf("forged token %d", i), e.send(t, quoteReq(forged)), http.StatusUnauthorized, "unauthenticated")
	}
	for i := 0; i < 30; i++ {
		want(t, fmt.Sprintf("victim's quote %d of 30", i+1), e.send(t, quoteReq(victim)), http.StatusBadRequest, "")
	}
	wantRateLimited(t, "victim's quote 31", e.send(t, quoteReq(victim)))
}

// TestOldFormatTokenSurvivesTheDeploy: a session issued before tokens
// carried the user id (stored as the old code did) still authenticates;
// its requests and the user's new-format ones count against one limit,
// once each; log out everywhere ends it too.
func TestOldFormatTokenSurvivesTheDeploy(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	fresh := e.login(t, "deploy-user")
	uid, _, _ := strings.Cut(fresh, ".")
	b := make([]byte, 32)
	rand.Read(b)
	old := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(old))
	gen, _ := e.app.Redis.Get(ctx, "sessgen:"+uid).Int64()
	val := fmt.Sprintf("%s|%d|%d", uid, e.clock.Now().Add(time.Hour).Unix(), gen)
	if err := e.app.Redis.Set(ctx, "sess:"+hex.EncodeToString(h[:]), val, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	me := e.do(t, "GET", "/api/v1/me", old, nil)
	want(t, "old token /me", me, http.StatusOK, "")
	if id := me.str("id"); id != "" && id != uid {
		t.Fatalf("old token is user %s, want %s", id, uid)
	}
	for i := 0; i < 30; i++ {
		tok := old
		if i%2 == 1 {
			tok = fresh
		}
		want(t, fmt.Sprintf("quote %d of 30", i+1), e.send(t, quoteReq(tok)), http.StatusBadRequest, "")
	}
	wantRateLimited(t, "quote 31, old token", e.send(t, quoteReq(old)))
	wantRateLimited(t, "quote 32, new token", e.send(t, quoteReq(fresh)))

	want(t, "log out everywhere", e.do(t, "DELETE", "/api/v1/auth/sessions", fresh, nil), http.StatusNoContent, "")
	want(t, "old token after log out everywhere", e.do(t, "GET", "/api/v1/me", old, nil), http.StatusUnauthorized, "unauthenticated")
	want(t, "new token after log out everywhere", e.do(t, "GET", "/api/v1/me", fresh, nil), http.StatusUnauthorized, "unauthenticated")
}
