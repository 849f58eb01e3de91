package securitytest

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// People of the ownership fixture. Names and ID numbers are made up; the
// ID numbers carry valid check characters.
var (
	aliceName = "欧阳安"
	aliceID   = residentID("11010519800101123")
	bobName   = "孙宝"
	bobID     = residentID("32010219850202234")
	carolName = "周凯"
	carolID   = residentID("44030119900303345")
	mumName   = "欧阳母"
	mumID     = residentID("11010119550505456")
	sibName   = "欧阳弟"
	sibID     = residentID("11010119880808567")
)

// fixture is user A's resources, built through the API, and user B, who
// must not reach them.
type fixture struct {
	e          *env
	a, b, mum  string // session tokens
	aID, bID   string // user ids
	mumBinding string // A's active binding (mother accepted)
	sibBinding string // A's pending binding
	sibInvite  string // invitation token of sibBinding
	bBinding   string // B's own pending binding of the same sibling
	aCheck     string // A's verified family check of the sibling
	aPending   string // A's started, unfinished check of the sibling
	qSelf      string // A's quote for self, ordered and paid (order1)
	qMum       string // A's quote for the mother, ordered, unpaid (order2)
	qSpare     string // A's quote never ordered
	order1     string // paid batch 1
	order2     string // pending payment
	order2Key  string // Idempotency-Key of order2
	vouchers   []any  // A's vouchers of order1
}

func buildFixture(t *testing.T, e *env) *fixture {
	t.Helper()
	f := &fixture{e: e}
	f.a = e.login(t, "own-alice")
	e.verify(t, f.a, aliceName, aliceID)
	f.aID = e.do(t, "GET", "/api/v1/me", f.a, nil).str("id")

	add := e.do(t, "POST", "/api/v1/family", f.a, map[string]string{"name": mumName, "id_type": "resident_id", "id_number": mumID, "relation": "parent"})
	want(t, "add mother", add, http.StatusCreated, "")
	f.mumBinding = add.str("id")
	f.mum = e.login(t, "own-mum")
	e.verify(t, f.mum, mumName, mumID)
	want(t, "mother accepts", e.do(t, "POST", "/api/v1/family/invitations/"+add.str("invitation")+"/accept", f.mum, nil), http.StatusOK, "")

	add = e.do(t, "POST", "/api/v1/family", f.a, map[string]string{"name": sibName, "id_type": "resident_id", "id_number": sibID, "relation": "sibling"})
	want(t, "add sibling", add, http.StatusCreated, "")
	f.sibBinding, f.sibInvite = add.str("id"), add.str("invitation")
	f.aCheck = f.altStart(t, f.a)
	want(t, "A finishes her check", e.do(t, "POST", "/api/v1/identity/alt/finish", f.a, map[string]string{"check_id": f.aCheck, "secret": "147258"}), http.StatusOK, "")
	f.aPending = f.altStart(t, f.a)

	f.qSelf = f.quote(t, "self")
	f.qMum = f.quote(t, f.mumBinding)
	f.qSpare = f.quote(t, "self")
	o1 := e.order(t, f.a, f.qSelf, "own-a-1")
	f.order1 = o1.str("order_no")
	e.payInSimulator(t, f.a, o1)
	e.waitStatus(t, f.a, f.order1, "posted")
	f.order2Key = "own-a-2"
	f.order2 = e.order(t, f.a, f.qMum, f.order2Key).str("order_no")

	v := e.do(t, "GET", "/api/v1/orders/"+f.order1+"/vouchers", f.a, nil)
	want(t, "A's vouchers", v, http.StatusOK, "")
	if f.vouchers, _ = v.body["vouchers"].([]any); len(f.vouchers) == 0 {
		t.Fatalf("A's posted order has no vouchers: %s", v.raw)
	}
	f.b = e.login(t, "own-bob")
	e.verify(t, f.b, bobName, bobID)
	f.bID = e.do(t, "GET", "/api/v1/me", f.b, nil).str("id")
	add = e.do(t, "POST", "/api/v1/family", f.b, map[string]string{"name": sibName, "id_type": "resident_id", "id_number": sibID, "relation": "other"})
	want(t, "B adds the same sibling", add, http.StatusCreated, "")
	f.bBinding = add.str("id")
	if f.aID == "" || f.bID == "" || f.aID == f.bID || f.order1 == "" || f.order2 == "" {
		t.Fatalf("fixture incomplete: %+v", f)
	}
	return f
}

// altStart starts a Jiangsu e-card password check of the sibling for a
// family consent and returns the check id.
func (f *fixture) altStart(t *testing.T, token string) string {
	t.Helper()
	r := f.e.do(t, "POST", "/api/v1/identity/alt/start", token, map[string]string{"region": "jiangsu", "method": "ecard_password",
		"purpose": "family", "name": sibName, "id_type": "resident_id", "id_number": sibID})
	want(t, "alt start", r, http.StatusOK, "")
	return r.str("check_id")
}

func (f *fixture) quote(t *testing.T, person string) string {
	t.Helper()
	r := f.e.do(t, "POST", "/api/v1/quotes", f.a, quoteBody(person))
	want(t, "quote for "+person, r, http.StatusCreated, "")
	return r.str("id")
}

// notFound fails unless B's reply is 404 and shows none of A's data.
func (f *fixture) notFound(t *testing.T, what string, r reply) {
	t.Helper()
	if r.status != http.StatusNotFound {
		t.Errorf("%s: got %d %q, want 404: %.300s", what, r.status, r.code(), r.raw)
	}
	f.noneOfA(t, what, r)
}

var requestIDField = regexp.MustCompile(`"request_id":"[^"]*"`)

// noneOfA fails when a reply to B contains any identifier or (masked or
// plaintext) personal data of A's.
func (f *fixture) noneOfA(t *testing.T, what string, r reply) {
	t.Helper()
	// The request id is random hex: it may contain the last four digits of
	// an ID number by chance, and it is nobody's data.
	raw := requestIDField.ReplaceAllString(r.raw, `"request_id":""`)
	for _, s := range []string{f.order1, f.order2, f.qSelf, f.qMum, f.qSpare, f.aCheck, f.aPending, f.sibInvite,
		aliceName, aliceID, mumName, mumID, sibName, sibID, "欧**", "欧阳*", aliceID[:3] + "*", aliceID[len(aliceID)-4:], mumID[len(mumID)-4:]} {
		if s != "" && strings.Contains(raw, s) {
			t.Errorf("%s: reply to B contains A's %q: %.300s", what, s, r.raw)
		}
	}
}

// ownershipCase checks one route: user B acting on user A's resource.
type ownershipCase struct {
	route string // "METHOD /path/pattern" as the router lists it
	check func(t *testing.T, f *fixture)
}

func ownershipCases() []ownershipCase {
	return append(helpOwnershipCases(), []ownershipCase{
		{"GET /api/v1/me", func(t *testing.T, f *fixture) {
			r := f.e.do(t, "GET", "/api/v1/me", f.b, nil)
			want(t, "B's /me", r, http.StatusOK, "")
			if r.str("id") != f.bID || r.str("identity", "id_number") == "" || !strings.HasSuffix(r.str("identity", "id_number"), bobID[len(bobID)-4:]) {
				t.Errorf("B's /me = %s, want B's own masked identity", r.raw)
			}
			f.noneOfA(t, "B's /me", r)
		}},
		{"PATCH /api/v1/me", func(t *testing.T, f *fixture) {
			want(t, "B sets care mode", f.e.do(t, "PATCH", "/api/v1/me", f.b, map[string]bool{"care_mode": true}), http.StatusOK, "")
			if r := f.e.do(t, "GET", "/api/v1/me", f.a, nil); r.str("care_mode") != "false" {
				t.Errorf("A's care_mode = %q after B's PATCH, want false", r.str("care_mode"))
			}
			f.e.do(t, "PATCH", "/api/v1/me", f.b, map[string]bool{"care_mode": false})
		}},
		{"GET /api/v1/family", func(t *testing.T, f *fixture) {
			r := f.e.do(t, "GET", "/api/v1/family", f.b, nil)
			want(t, "B's family", r, http.StatusOK, "")
			list, _ := r.body["family"].([]any)
			if len(list) != 1 || fmt.Sprint(list[0].(map[string]any)["id"]) != f.bBinding {
				t.Errorf("B's family = %s, want only B's binding %s", r.raw, f.bBinding)
			}
		}},
		{"DELETE /api/v1/family/:id", func(t *testing.T, f *fixture) {
			f.notFound(t, "B deletes A's binding", f.e.do(t, "DELETE", "/api/v1/family/"+f.mumBinding, f.b, nil))
			f.notFound(t, "B deletes A's pending binding", f.e.do(t, "DELETE", "/api/v1/family/"+f.sibBinding, f.b, nil))
			if r := f.e.do(t, "GET", "/api/v1/family", f.a, nil); !strings.Contains(r.raw, `"id":`+f.mumBinding+`,`) {
				t.Errorf("A's family after B's DELETE = %s, want binding %s still there", r.raw, f.mumBinding)
			}
		}},
		{"POST /api/v1/family/:id/consent", func(t *testing.T, f *fixture) {
			f.notFound(t, "B consents A's binding with A's check", f.e.do(t, "POST", "/api/v1/family/"+f.sibBinding+"/consent", f.b, map[string]string{"check_id": f.aCheck}))
			f.notFound(t, "B consents her own binding with A's check", f.e.do(t, "POST", "/api/v1/family/"+f.bBinding+"/consent", f.b, map[string]string{"check_id": f.aCheck}))
			if r := f.e.do(t, "GET", "/api/v1/family", f.b, nil); !strings.Contains(r.raw, `"status":"pending_consent"`) {
				t.Errorf("B's binding after consent with A's check = %s, want still pending_consent", r.raw)
			}
		}},
		{"DELETE /api/v1/family/consents/:id", func(t *testing.T, f *fixture) {
			// Only the bound person withdraws: B (another verified user) and
			// A (the payer, who removes with DELETE /family/:id) get 404.
			f.notFound(t, "B withdraws the mother's consent to A", f.e.do(t, "DELETE", "/api/v1/family/consents/"+f.mumBinding, f.b, nil))
			f.notFound(t, "B withdraws A's pending binding", f.e.do(t, "DELETE", "/api/v1/family/consents/"+f.sibBinding, f.b, nil))
			f.notFound(t, "A withdraws as if she were the mother", f.e.do(t, "DELETE", "/api/v1/family/consents/"+f.mumBinding, f.a, nil))
			if r := f.e.do(t, "GET", "/api/v1/family", f.a, nil); !strings.Contains(r.raw, `"status":"active"`) || strings.Contains(r.raw, `"withdrawn"`) {
				t.Errorf("A's family after the foreign withdrawals = %s, want the mother still active", r.raw)
			}
		}},
		{"POST /api/v1/family/invitations/:token/accept", func(t *testing.T, f *fixture) {
			// The invitation token is a secret A hands to her relative, not an
			// identifier of A's: the wrong person holding it is told it is not
			// for them (403 identity_mismatch, as the identity suite pins) and
			// learns nothing of A. A guessed token is a 404.
			r := f.e.do(t, "POST", "/api/v1/family/invitations/"+f.sibInvite+"/accept", f.b, nil)
			if r.status != http.StatusNotFound && !(r.status == http.StatusForbidden && r.code() == "identity_mismatch") {
				t.Errorf("B accepts A's invitation: got %d %q, want 404 or 403 identity_mismatch: %s", r.status, r.code(), r.raw)
			}
			f.noneOfA(t, "B accepts A's invitation", r)
			f.notFound(t, "B accepts a guessed invitation", f.e.do(t, "POST", "/api/v1/family/invitations/"+strings.Repeat("A", len(f.sibInvite))+"/accept", f.b, nil))
			if r := f.e.do(t, "GET", "/api/v1/family", f.a, nil); strings.Count(r.raw, `"status":"active"`) != 1 {
				t.Errorf("A's family after B's accept = %s, want only the mother active", r.raw)
			}
		}},
		{"POST /api/v1/identity/face/result", func(t *testing.T, f *fixture) {
			// C's verification is pending: B cannot read or complete it, and
			// C still can afterwards.
			c := f.e.login(t, "own-carol")
			vid := f.e.faceStart(t, c, carolName, carolID)
			r := f.e.do(t, "POST", "/api/v1/identity/face/result", f.b, map[string]string{"verify_id": vid})
			f.notFound(t, "B reads C's pending face result", r)
			if strings.Contains(r.raw, "周*") || strings.Contains(r.raw, carolID[len(carolID)-4:]) {
				t.Errorf("B sees C's identity: %s", r.raw)
			}
			want(t, "C reads her face result", f.e.do(t, "POST", "/api/v1/identity/face/result", c, map[string]string{"verify_id": vid}), http.StatusOK, "")
			f.notFound(t, "B reads C's finished face result", f.e.do(t, "POST", "/api/v1/identity/face/result", f.b, map[string]string{"verify_id": vid}))
			if r := f.e.do(t, "GET", "/api/v1/me", f.b, nil); !strings.HasSuffix(r.str("identity", "id_number"), bobID[len(bobID)-4:]) {
				t.Errorf("B's identity after C's verify_id = %s, want still B", r.raw)
			}
		}},
		{"POST /api/v1/identity/alt/finish", func(t *testing.T, f *fixture) {
			f.notFound(t, "B finishes A's pending check", f.e.do(t, "POST", "/api/v1/identity/alt/finish", f.b, map[string]string{"check_id": f.aPending, "secret": "147258"}))
			f.notFound(t, "B reads A's verified check", f.e.do(t, "POST", "/api/v1/identity/alt/finish", f.b, map[string]string{"check_id": f.aCheck, "secret": "147258"}))
			want(t, "A finishes her pending check after B", f.e.do(t, "POST", "/api/v1/identity/alt/finish", f.a, map[string]string{"check_id": f.aPending, "secret": "147258"}), http.StatusOK, "")
		}},
		{"POST /api/v1/quotes", func(t *testing.T, f *fixture) {
			f.notFound(t, "B quotes for A's family member", f.e.do(t, "POST", "/api/v1/quotes", f.b, quoteBody(f.mumBinding)))
			f.notFound(t, "B quotes for A's pending family member", f.e.do(t, "POST", "/api/v1/quotes", f.b, quoteBody(f.sibBinding)))
		}},
		{"GET /api/v1/quotes/:id", func(t *testing.T, f *fixture) {
			for _, q := range []string{f.qSelf, f.qMum, f.qSpare} {
				f.notFound(t, "B reads A's quote", f.e.do(t, "GET", "/api/v1/quotes/"+q, f.b, nil))
			}
		}},
		{"GET /api/v1/insured", func(t *testing.T, f *fixture) {
			f.notFound(t, "B reads A's family member's insured profile", f.e.do(t, "GET", "/api/v1/insured?region=beijing&person="+f.mumBinding, f.b, nil))
			f.notFound(t, "B reads A's pending member's insured profile", f.e.do(t, "GET", "/api/v1/insured?region=beijing&person="+f.sibBinding, f.b, nil))
			want(t, "A reads her member's profile", f.e.do(t, "GET", "/api/v1/insured?region=beijing&person="+f.mumBinding, f.a, nil), http.StatusOK, "")
		}},
		{"POST /api/v1/orders", func(t *testing.T, f *fixture) {
			f.notFound(t, "B orders A's quote", f.e.send(t, req{method: "POST", path: "/api/v1/orders", token: f.b,
				body: map[string]string{"quote_id": f.qSpare}, header: map[string]string{"Idempotency-Key": "own-b-1"}}))
			// A's Idempotency-Key with A's body must not replay A's order.
			r := f.e.send(t, req{method: "POST", path: "/api/v1/orders", token: f.b,
				body: map[string]string{"quote_id": f.qMum}, header: map[string]string{"Idempotency-Key": f.order2Key}})
			f.notFound(t, "B replays A's Idempotency-Key", r)
			if r.header.Get("Idempotent-Replayed") != "" {
				t.Errorf("B got a replay of A's request: %s", r.raw)
			}
		}},
		{"GET /api/v1/orders", func(t *testing.T, f *fixture) {
			r := f.e.do(t, "GET", "/api/v1/orders?page_size=50", f.b, nil)
			want(t, "B's orders", r, http.StatusOK, "")
			if r.str("total") != "0" {
				t.Errorf("B's orders = %s, want none", r.raw)
			}
			f.noneOfA(t, "B's orders", r)
			if a := f.e.do(t, "GET", "/api/v1/orders", f.a, nil); a.str("total") != "2" {
				t.Errorf("A's orders = %s, want 2 (the list must not be empty for everyone)", a.raw)
			}
		}},
		{"GET /api/v1/orders/:order_no", func(t *testing.T, f *fixture) {
			for _, no := range []string{f.order1, f.order2} {
				f.notFound(t, "B reads A's order", f.e.do(t, "GET", "/api/v1/orders/"+no, f.b, nil))
			}
		}},
		{"GET /api/v1/orders/:order_no/vouchers", func(t *testing.T, f *fixture) {
			for _, no := range []string{f.order1, f.order2} {
				r := f.e.do(t, "GET", "/api/v1/orders/"+no+"/vouchers", f.b, nil)
				f.notFound(t, "B lists A's vouchers", r)
				for _, v := range f.vouchers {
					if code, _ := v.(map[string]any)["verify_code"].(string); code != "" && strings.Contains(r.raw, code) {
						t.Errorf("B sees A's voucher code: %s", r.raw)
					}
				}
			}
			unknown := f.e.do(t, "GET", "/api/v1/orders/NO-SUCH-ORDER/vouchers", f.b, nil)
			if r := f.e.do(t, "GET", "/api/v1/orders/"+f.order1+"/vouchers", f.b, nil); r.code() != unknown.code() {
				t.Errorf("B's 404 for A's order (%q) differs from an unknown order's (%q): existence leaks", r.code(), unknown.code())
			}
		}},
		{"POST /api/v1/orders/:order_no/batches/:seq/pay", func(t *testing.T, f *fixture) {
			f.notFound(t, "B pays A's unpaid batch", f.e.do(t, "POST", "/api/v1/orders/"+f.order2+"/batches/1/pay", f.b, nil))
			f.notFound(t, "B pays A's paid batch", f.e.do(t, "POST", "/api/v1/orders/"+f.order1+"/batches/1/pay", f.b, nil))
		}},
		{"POST /api/v1/credit/orders", func(t *testing.T, f *fixture) {
			f.notFound(t, "B orders A's quote on credit", f.e.do(t, "POST", "/api/v1/credit/orders", f.b, map[string]string{"quote_id": f.qSpare}))
		}},
		{"GET /api/v1/credit/orders/:order_no", func(t *testing.T, f *fixture) {
			for _, no := range []string{f.order1, f.order2} {
				f.notFound(t, "B reads A's credit order", f.e.do(t, "GET", "/api/v1/credit/orders/"+no, f.b, nil))
			}
		}},
		{"POST /api/v1/credit/orders/:order_no/confirmation", func(t *testing.T, f *fixture) {
			for _, no := range []string{f.order1, f.order2} {
				f.notFound(t, "B asks for A's confirmation parameters", f.e.do(t, "POST", "/api/v1/credit/orders/"+no+"/confirmation", f.b, nil))
			}
		}},
		{"POST /api/v1/orders/:order_no/batches/:seq/step-up", func(t *testing.T, f *fixture) {
			f.notFound(t, "B steps up A's paid batch", f.e.do(t, "POST", "/api/v1/orders/"+f.order1+"/batches/1/step-up", f.b, nil))
			f.notFound(t, "B steps up A's unpaid batch", f.e.do(t, "POST", "/api/v1/orders/"+f.order2+"/batches/1/step-up", f.b, nil))
		}},
		{"POST /api/v1/orders/:order_no/batches/:seq/step-up/result", func(t *testing.T, f *fixture) {
			f.notFound(t, "B reads a step-up of A's batch", f.e.do(t, "POST", "/api/v1/orders/"+f.order1+"/batches/1/step-up/result", f.b,
				map[string]string{"verify_id": "vid-unknown"}))
		}},
		{"GET /api/v1/evidence/:voucher_code", func(t *testing.T, f *fixture) {
			for _, v := range f.vouchers {
				code, _ := v.(map[string]any)["verify_code"].(string)
				r := f.e.do(t, "GET", "/api/v1/evidence/"+code, f.b, nil)
				f.notFound(t, "B reads the evidence of A's voucher", r)
				if r.code() != "not_found" {
					t.Errorf("B's evidence reply code %q, want not_found (the same as for a voucher of nobody's)", r.code())
				}
			}
		}},
		{"POST /api/v1/orders/:order_no/cancel", func(t *testing.T, f *fixture) {
			f.notFound(t, "B cancels A's unpaid order", f.e.do(t, "POST", "/api/v1/orders/"+f.order2+"/cancel", f.b, nil))
			f.notFound(t, "B cancels A's paid order", f.e.do(t, "POST", "/api/v1/orders/"+f.order1+"/cancel", f.b, nil))
			if r := f.e.do(t, "GET", "/api/v1/orders/"+f.order2, f.a, nil); r.str("status") != "pending_payment" {
				t.Errorf("A's order after B's cancel = %s, want pending_payment", r.str("status"))
			}
		}},
	}...)
}

// Routes every caller may use without a session, or that authenticate in
// their own way (WeChat Pay signature, platform HMAC, admin token,
// simulator control). Matched by "METHOD /path" prefix.
var publicRoutes = []string{
	"GET /healthz",
	"GET /readyz",
	"POST /api/v1/auth/login",
	"GET /api/v1/regions",
	"GET /api/v1/regions/:code",
	"GET /api/v1/pension/estimate",
	"GET /api/v1/vouchers/verify", // a signed code is the capability; the reply is masked
	"POST /api/v1/wxpay/notify",
	" /api/v1/platform/", // provincial platform callbacks (HMAC)
	" /api/v1/admin/",    // operations API (admin token)
	" /sim/",             // simulator control (SIMULATOR only)
	" /ops",              // operations console: its own session cookie (console_test.go)
}

// Routes that take no identifier and act only on the caller's own data.
// A route with a path parameter can never be listed here.
var selfOnlyRoutes = []string{
	"POST /api/v1/family",
	"POST /api/v1/identity/face/start",
	"POST /api/v1/identity/face/legacy",
	"POST /api/v1/identity/alt/start",
	"DELETE /api/v1/auth/session",  // the caller's own token (TestLogout)
	"DELETE /api/v1/auth/sessions", // the caller's own sessions (TestLogout)
	"GET /api/v1/credit/regions",   // the regions' credit pay rules; no user data
}

func isPublic(route string) bool {
	for _, p := range publicRoutes {
		if route == p || (strings.HasPrefix(p, " ") && strings.Contains(route, p)) {
			return true
		}
	}
	return false
}

func isSelfOnly(route string) bool {
	for _, p := range append(selfOnlyRoutes, helpSelfOnlyRoutes...) {
		if route == p && !strings.ContainsAny(route, ":*") {
			return true
		}
	}
	return false
}

// routes lists "METHOD /path" of every route the App serves.
func routes(t *testing.T, e *env) []string {
	t.Helper()
	var out []string
	for _, r := range e.server(t).Engine().Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	sort.Strings(out)
	if len(out) < 15 {
		t.Fatalf("router lists %d routes: %v; want the whole API", len(out), out)
	}
	return out
}

// TestOwnershipEveryRouteAnswers404ToAnotherUser builds A's resources through
// the API (face verification, family, quotes, orders paid in the
// simulator) and has B try each of them on every route of the router. A
// route that is neither public, nor self-only, nor covered by a case fails.
func TestOwnershipEveryRouteAnswers404ToAnotherUser(t *testing.T) {
	e := newEnv(t, envOptions{workers: true})
	cases := ownershipCases()
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.route] = true
	}
	served := map[string]bool{}
	for _, r := range routes(t, e) {
		served[r] = true
		if !covered[r] && !isPublic(r) && !isSelfOnly(r) {
			t.Errorf("route %s has no ownership case (add one to ownershipCases, or to publicRoutes/selfOnlyRoutes with a reason)", r)
		}
	}
	for _, c := range cases {
		if !served[c.route] {
			t.Errorf("ownership case for %s, which the router does not serve", c.route)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	f := buildFixture(t, e)
	for _, c := range cases {
		t.Run(strings.NewReplacer("/", "_", ":", "").Replace(c.route), func(t *testing.T) { c.check(t, f) })
	}
}

// TestEveryPrivateRouteNeedsSession calls every route that is not public
// without a token and with a forged one: 401 unauthenticated.
func TestEveryPrivateRouteNeedsSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, r := range routes(t, e) {
		if isPublic(r) {
			continue
		}
		method, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer(":id", "1", ":order_no", "O1", ":seq", "1", ":token", "x", ":code", "x").Replace(path)
		for _, tok := range []string{"", "forged-token-0123456789abcdef0123456789abcdef"} {
			got := e.do(t, method, path, tok, map[string]string{})
			if got.status != http.StatusUnauthorized || got.code() != "unauthenticated" {
				t.Errorf("%s %s with token %q: got %d %q, want 401 unauthenticated", method, path, tok, got.status, got.code())
			}
		}
	}
}
