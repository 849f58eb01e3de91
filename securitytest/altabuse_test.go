package securitytest

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/shebao/sipay/service"
)

// TestIdentityCheckAbuseLimits: alternative checks (an SMS to a phone, a
// platform query about a person) are limited per target person and per
// phone number, whichever accounts send them, and a family check needs a
// binding or invitation for that person.
func TestIdentityCheckAbuseLimits(t *testing.T) {
	e := newEnv(t, envOptions{})
	start := func(tok, name, id, phone, purpose string) reply {
		return e.do(t, "POST", "/api/v1/identity/alt/start", tok, map[string]string{"name": name, "id_type": "resident_id",
			"id_number": id, "region": "beijing", "method": "sms", "purpose": purpose, "phone": phone})
	}
	victim := residentID("11010519760606123")
	first := start(e.login(t, "abuse-probe"), "柏杨", victim, "13800000000", "self")
	if first.status != http.StatusOK {
		t.Fatalf("an SMS check in beijing: got %d %s", first.status, first.raw)
	}

	t.Run("PerTargetPerson", func(t *testing.T) {
		for i := 1; i < service.AltChecksPerTargetHour; i++ {
			want(t, "check", start(e.login(t, fmt.Sprintf("abuse-t%d", i)), "柏杨", victim, fmt.Sprintf("1390000000%d", i), "self"), http.StatusOK, "")
		}
		r := start(e.login(t, "abuse-t-last"), "柏杨", victim, "13900000099", "self")
		want(t, "check past the per-person limit from a fresh account and phone", r, http.StatusTooManyRequests, "rate_limited")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("no Retry-After")
		}
	})
	t.Run("PerPhone", func(t *testing.T) {
		const phone = "13700000000"
		for i := 0; i < service.AltChecksPerPhoneHour; i++ {
			want(t, "check", start(e.login(t, fmt.Sprintf("abuse-p%d", i)), "柏杨", residentID(fmt.Sprintf("11010519800101%03d", i)), phone, "self"), http.StatusOK, "")
		}
		want(t, "check past the per-phone limit", start(e.login(t, "abuse-p-last"), "柏杨", residentID("11010519800101999"), phone, "self"),
			http.StatusTooManyRequests, "rate_limited")
	})
	t.Run("FamilyNeedsBinding", func(t *testing.T) {
		tok := e.login(t, "abuse-family")
		mum := residentID("11010519500707234")
		want(t, "family check without binding", start(tok, "柏母", mum, "13600000000", "family"), http.StatusForbidden, "family_binding_required")
		add := e.do(t, "POST", "/api/v1/family", tok, map[string]string{"name": "柏母", "id_type": "resident_id", "id_number": mum, "relation": "parent"})
		want(t, "add binding", add, http.StatusCreated, "")
		want(t, "family check with binding", start(tok, "柏母", mum, "13600000000", "family"), http.StatusOK, "")
	})
}
