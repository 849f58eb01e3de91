package securitytest

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestCachedUserStillNeedsALiveSession: quotes and orders take the user
// from its snapshot in Redis once one is stored, but only behind a live
// session: after log out everywhere, logout, or with a forged token naming
// the user, they answer 401 although the snapshot is still there.
func TestCachedUserStillNeedsALiveSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	tok := e.login(t, "snapshot-user")
	e.verify(t, tok, "张三", residentID("11010519491231002"))
	uid, rest, _ := strings.Cut(tok, ".")
	var quoteID string
	for i := 0; i < 3; i++ { // read and remembered, stored, cached
		r := e.do(t, "POST", "/api/v1/quotes", tok, quoteBody("self"))
		want(t, "quote", r, http.StatusCreated, "")
		quoteID = r.str("id")
	}
	if n, err := e.app.Redis.Exists(ctx, "usnap:{"+uid+"}").Result(); err != nil || n != 1 {
		t.Fatalf("no user snapshot stored after three quotes (%d, %v)", n, err)
	}
	e.order(t, tok, quoteID, "snapshot-order-1")

	forged := uid + "." + strings.Repeat("A", len(rest))
	want(t, "forged token quote", e.do(t, "POST", "/api/v1/quotes", forged, quoteBody("self")), http.StatusUnauthorized, "unauthenticated")

	if err := e.app.Redis.Del(ctx, "usnap:{"+uid+"}").Err(); err != nil {
		t.Fatal(err)
	}
	second := e.login(t, "snapshot-user")
	if n, _ := e.app.Redis.Exists(ctx, "usnap:{"+uid+"}").Result(); n != 1 {
		t.Fatalf("login of a verified user stored no snapshot with the session")
	}
	want(t, "log out everywhere", e.do(t, "DELETE", "/api/v1/auth/sessions", second, nil), http.StatusNoContent, "")
	for _, token := range []string{tok, second} {
		want(t, "quote after log out everywhere", e.do(t, "POST", "/api/v1/quotes", token, quoteBody("self")), http.StatusUnauthorized, "unauthenticated")
		r := e.send(t, req{method: "POST", path: "/api/v1/orders", token: token, body: map[string]string{"quote_id": quoteID},
			header: map[string]string{"Idempotency-Key": "snapshot-order-2"}})
		want(t, "order after log out everywhere", r, http.StatusUnauthorized, "unauthenticated")
	}
	if n, _ := e.app.Redis.Exists(ctx, "usnap:{"+uid+"}").Result(); n != 1 {
		t.Fatalf("the snapshot should still be there (it is not what ends sessions)")
	}

	third := e.login(t, "snapshot-user")
	want(t, "quote with a new session", e.do(t, "POST", "/api/v1/quotes", third, quoteBody("self")), http.StatusCreated, "")
	want(t, "logout", e.do(t, "DELETE", "/api/v1/auth/session", third, nil), http.StatusNoContent, "")
	want(t, "quote after logout", e.do(t, "POST", "/api/v1/quotes", third, quoteBody("self")), http.StatusUnauthorized, "unauthenticated")
}
