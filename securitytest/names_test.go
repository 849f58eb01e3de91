package securitytest

import (
	"net/http"
	"testing"
	"time"
)

// TestNamesByUnicodeClass: every route where a name enters (face
// verification, alternative verification, adding a family member) refuses
// bidi and zero-width characters, private use, emoji and invalid UTF-8, and
// accepts a name with the middle dot.
func TestNamesByUnicodeClass(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.login(t, "names-user")
	id := residentID("11010519760606123")
	entries := []struct {
		path string
		body func(name string) map[string]string
	}{
		{"/api/v1/identity/face/start", func(n string) map[string]string {
			return map[string]string{"name": n, "id_type": "resident_id", "id_number": id}
		}},
		{"/api/v1/identity/alt/start", func(n string) map[string]string {
			return map[string]string{"name": n, "id_type": "resident_id", "id_number": id, "region": "beijing", "method": "sms", "purpose": "self", "phone": "13800138000"}
		}},
		{"/api/v1/family", func(n string) map[string]string {
			return map[string]string{"name": n, "id_type": "resident_id", "id_number": residentID("11010519500707234"), "relation": "parent"}
		}},
	}
	for _, en := range entries {
		for _, name := range []string{"柏\u202e杨", "柏\u200b杨", "柏\ue000杨", "柏杨😀", "柏\ufffd杨", "柏杨\u0007"} {
			r := e.do(t, "POST", en.path, tok, en.body(name))
			want(t, en.path+" "+name, r, http.StatusBadRequest, "invalid_name")
			e.clock.Advance(time.Minute) // past the per-minute route limits
		}
		raw := `{"name":"柏` + "\xff" + `杨"}`
		want(t, en.path+" invalid UTF-8", e.do(t, "POST", en.path, tok, raw), http.StatusBadRequest, "invalid_json")
	}
	r := e.do(t, "POST", "/api/v1/identity/face/start", tok, map[string]string{"name": "买买提·艾力", "id_type": "resident_id", "id_number": id})
	want(t, "middle dot", r, http.StatusOK, "")
}
