package securitytest

import (
	"net/http"
	"testing"
)

// TestLogout: DELETE /api/v1/auth/session ends this session only; DELETE
// /api/v1/auth/sessions ends all of the user's sessions, and a later login
// works again.
func TestLogout(t *testing.T) {
	e := newEnv(t, envOptions{})
	a1 := e.login(t, "logout-user")
	a2 := e.login(t, "logout-user")
	a3 := e.login(t, "logout-user")
	other := e.login(t, "logout-other")

	want(t, "logout a1", e.do(t, "DELETE", "/api/v1/auth/session", a1, nil), http.StatusNoContent, "")
	want(t, "a1 after logout", e.do(t, "GET", "/api/v1/me", a1, nil), http.StatusUnauthorized, "unauthenticated")
	want(t, "a2 still in", e.do(t, "GET", "/api/v1/me", a2, nil), http.StatusOK, "")
	want(t, "logout a1 again", e.do(t, "DELETE", "/api/v1/auth/session", a1, nil), http.StatusUnauthorized, "unauthenticated")

	want(t, "logout everywhere", e.do(t, "DELETE", "/api/v1/auth/sessions", a2, nil), http.StatusNoContent, "")
	for _, tok := range []string{a2, a3} {
		want(t, "after logout everywhere", e.do(t, "GET", "/api/v1/me", tok, nil), http.StatusUnauthorized, "unauthenticated")
	}
	want(t, "another user untouched", e.do(t, "GET", "/api/v1/me", other, nil), http.StatusOK, "")
	a4 := e.login(t, "logout-user")
	want(t, "new login", e.do(t, "GET", "/api/v1/me", a4, nil), http.StatusOK, "")
}
