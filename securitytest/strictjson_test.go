package securitytest

import (
	"net/http"
	"strings"
	"testing"
)

// TestJSONBodiesAreStrict: trailing data, duplicate keys and keys that
// differ only in case are refused; a type error names the field path with
// its array index and no Go type.
func TestJSONBodiesAreStrict(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.login(t, "strict-user")
	for _, c := range []struct{ name, path, body, code string }{
		{"Trailing", "/api/v1/auth/login", `{"code":"strict-user"}]`, "invalid_json"},
		{"TrailingValue", "/api/v1/auth/login", `{"code":"strict-user"}{"code":"other"}`, "invalid_json"},
		{"Duplicate", "/api/v1/auth/login", `{"code":"strict-user","code":"other-user"}`, "duplicate_field"},
		{"CaseDuplicate", "/api/v1/auth/login", `{"code":"strict-user","Code":"other-user"}`, "duplicate_field"},
	} {
		want(t, c.name, e.do(t, "POST", c.path, "", c.body), http.StatusBadRequest, c.code)
	}
	r := e.do(t, "POST", "/api/v1/quotes", tok, `{"region":"jiangsu","person":"self","start_month":"2026-11","months":1,`+
		`"insurances":[{"type":"pension","base_fen":500000},{"type":"medical","base_fen":"500000"}]}`)
	want(t, "type error", r, http.StatusBadRequest, "invalid_json")
	if !strings.Contains(r.raw, `"field":"insurances[1].base_fen"`) {
		t.Errorf("type error lacks the indexed path: %s", r.raw)
	}
	for _, goName := range []string{"service.", "api.", "Fen", "int64", "createQuoteRequest"} {
		if strings.Contains(r.raw, goName) {
			t.Errorf("type error exposes %q: %s", goName, r.raw)
		}
	}
}
