package api_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

const (
	motherName  = "李秀英"
	motherID    = "11010119600307123X" // checked below with residentID
	spouseName  = "陈美玲"
	spouseID    = "830000199201300022" // Taiwan residence permit sample
	spousePhone = "13812345678"
)

func init() {
	if residentID("11010119600307123") != motherID {
		panic("motherID: bad check digit; use " + residentID("11010119600307123"))
	}
}

// familyFlow runs the whole family scenario and returns the two bindings.
// Both consent paths are used: the mother accepts with her own verified
// WeChat; the spouse (Taiwan residence permit, no face) consents through the
// region's SMS check.
func familyFlow(t *testing.T, h *harness) (payer string, mother, spouse int64) {
	t.Helper()
	payer, _ = h.login(t, "payer")
	wantStatus(t, h.verifyByFace(t, payer, selfName, selfID), http.StatusOK, "")

	add := h.do(t, "POST", "/api/v1/family", payer, map[string]string{"name": motherName, "id_type": "resident_id", "id_number": motherID, "relation": "parent"})
	wantStatus(t, add, http.StatusCreated, "")
	if add.str("status") != string(service.FamilyPendingConsent) || add.str("invitation") == "" || add.str("name") != "李**" {
		t.Fatalf("add=%s, want pending_consent, an invitation and a masked name", add.raw)
	}
	mother = int64(add.body["id"].(float64))
	if _, err := h.identity.ResolvePerson(context.Background(), userID(t, h, payer), strconv.FormatInt(mother, 10)); service.ErrorCode(err) != service.CodeConsentPending {
		t.Fatalf("ResolvePerson before consent: err=%v, want consent_pending", err)
	}

	// (a) The mother logs in with her own WeChat and verifies herself.
	mum, _ := h.login(t, "mother")
	accept := "/api/v1/family/invitations/" + add.str("invitation") + "/accept"
	wantStatus(t, h.do(t, "POST", accept, mum, nil), http.StatusForbidden, service.CodeNotVerified)
	wantStatus(t, h.verifyByFace(t, mum, motherName, motherID), http.StatusOK, "")
	for i := 0; i < 2; i++ {
		r := h.do(t, "POST", accept, mum, nil)
		wantStatus(t, r, http.StatusOK, "")
		if r.str("status") != string(service.FamilyActive) {
			t.Fatalf("accept=%s, want active", r.raw)
		}
	}

	// (b) The spouse has no face verification: SMS check on her phone.
	add2 := h.do(t, "POST", "/api/v1/family", payer, map[string]string{"name": spouseName, "id_type": "taiwan_residence", "id_number": spouseID, "relation": "spouse"})
	wantStatus(t, add2, http.StatusCreated, "")
	spouse = int64(add2.body["id"].(float64))
	start := h.do(t, "POST", "/api/v1/identity/alt/start", payer, map[string]string{"region": "beijing", "method": "sms", "purpose": "family",
		"name": spouseName, "id_type": "taiwan_residence", "id_number": spouseID, "phone": spousePhone})
	wantStatus(t, start, http.StatusOK, "")
	check := start.str("check_id")
	consent := fmt.Sprintf("/api/v1/family/%d/consent", spouse)
	wantStatus(t, h.do(t, "POST", consent, payer, map[string]string{"check_id": check}), http.StatusConflict, "identity_check_pending")
	wantStatus(t, h.do(t, "POST", "/api/v1/identity/alt/finish", payer, map[string]string{"check_id": check, "secret": "000000"}),
		http.StatusUnprocessableEntity, service.CodeIdentityCheckFailed)
	fin := h.do(t, "POST", "/api/v1/identity/alt/finish", payer, map[string]string{"check_id": check, "secret": "123456"})
	wantStatus(t, fin, http.StatusOK, "")
	if fin.str("purpose") != "family" || fin.str("identity", "name") != "陈**" {
		t.Fatalf("finish=%s, want a family check with a masked name", fin.raw)
	}
	r := h.do(t, "POST", consent, payer, map[string]string{"check_id": check})
	wantStatus(t, r, http.StatusOK, "")
	if r.str("status") != string(service.FamilyActive) {
		t.Fatalf("consent=%s, want active", r.raw)
	}
	return payer, mother, spouse
}

func TestFamily(t *testing.T) {
	clock := testClock()
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		h := newHarness(t, db, clock, harnessOptions{})
		payer, mother, spouse := familyFlow(t, h)
		ctx := context.Background()
		payerID := userID(t, h, payer)

		t.Run("ResolveConsentedMembers", func(t *testing.T) {
			p, err := h.identity.ResolvePerson(ctx, payerID, strconv.FormatInt(mother, 10))
			if err != nil || p.IDNumber != motherID || p.Name != motherName {
				t.Fatalf("mother=%+v,%v, want her person", p, err)
			}
			p, err = h.identity.ResolvePerson(ctx, payerID, strconv.FormatInt(spouse, 10))
			if err != nil || p.IDNumber != spouseID || p.Phone != spousePhone {
				t.Fatalf("spouse=%+v,%v, want her person with the SMS-verified phone", p, err)
			}
			if found, err := h.identity.FindPerson(ctx, p.ID); err != nil || found.IDNumber != spouseID {
				t.Fatalf("FindPerson=%+v,%v", found, err)
			}
		})

		t.Run("ListMasked", func(t *testing.T) {
			r := h.do(t, "GET", "/api/v1/family", payer, nil)
			wantStatus(t, r, http.StatusOK, "")
			for _, plain := range []string{motherName, motherID, spouseName, spouseID, spousePhone} {
				if strings.Contains(r.raw, plain) {
					t.Fatalf("list reveals %q: %s", plain, r.raw)
				}
			}
			list := r.body["family"].([]any)
			if len(list) != 2 {
				t.Fatalf("len=%d, want 2", len(list))
			}
			first := list[0].(map[string]any)
			if first["id_number"] != "110***********123X" || first["name"] != "李**" || first["status"] != "active" || first["invitation"] != nil {
				t.Fatalf("first=%v, want masked, active, no invitation", first)
			}
		})

		t.Run("OtherUserNotFound", func(t *testing.T) {
			other, _ := h.login(t, "stranger")
			path := fmt.Sprintf("/api/v1/family/%d", mother)
			wantStatus(t, h.do(t, "DELETE", path, other, nil), http.StatusNotFound, service.CodeNotFound)
			wantStatus(t, h.do(t, "POST", path+"/consent", other, map[string]string{"check_id": "x"}), http.StatusNotFound, service.CodeNotFound)
			if _, err := h.identity.ResolvePerson(ctx, userID(t, h, other), strconv.FormatInt(mother, 10)); service.ErrorCode(err) != service.CodeNotFound {
				t.Fatalf("ResolvePerson by a stranger: err=%v, want not_found", err)
			}
			if list := h.do(t, "GET", "/api/v1/family", other, nil); len(list.body["family"].([]any)) != 0 {
				t.Fatalf("stranger sees %s, want nothing", list.raw)
			}
		})

		t.Run("WrongMemberCannotAccept", func(t *testing.T) {
			add := h.do(t, "POST", "/api/v1/family", payer, map[string]string{"name": "赵六", "id_type": "resident_id",
				"id_number": residentID("31010119980101123"), "relation": "sibling"})
			wantStatus(t, add, http.StatusCreated, "")
			imposter, _ := h.login(t, "imposter")
			wantStatus(t, h.verifyByFace(t, imposter, "钱七", residentID("44030119850615123")), http.StatusOK, "")
			r := h.do(t, "POST", "/api/v1/family/invitations/"+add.str("invitation")+"/accept", imposter, nil)
			wantStatus(t, r, http.StatusForbidden, service.CodeIdentityMismatch)
			wantStatus(t, h.do(t, "POST", "/api/v1/family/invitations/nope/accept", imposter, nil), http.StatusNotFound, service.CodeNotFound)
		})

		t.Run("CheckOfAnotherPersonRefused", func(t *testing.T) {
			start := h.do(t, "POST", "/api/v1/identity/alt/start", payer, map[string]string{"region": "beijing", "method": "ecard_password", "purpose": "family",
				"name": "孙八", "id_type": "resident_id", "id_number": residentID("11010119700101123")})
			wantStatus(t, start, http.StatusOK, "")
			wantStatus(t, h.do(t, "POST", "/api/v1/identity/alt/finish", payer, map[string]string{"check_id": start.str("check_id"), "secret": "123456"}), http.StatusOK, "")
			list := h.do(t, "GET", "/api/v1/family", payer, nil).body["family"].([]any)
			pending := int64(list[len(list)-1].(map[string]any)["id"].(float64))
			r := h.do(t, "POST", fmt.Sprintf("/api/v1/family/%d/consent", pending), payer, map[string]string{"check_id": start.str("check_id")})
			wantStatus(t, r, http.StatusForbidden, service.CodeIdentityMismatch)
		})

		t.Run("MemberWithdrawsPendingInvitation", func(t *testing.T) {
			brotherID := residentID("11010119750505123")
			add := h.do(t, "POST", "/api/v1/family", payer, map[string]string{"name": "王九", "id_type": "resident_id", "id_number": brotherID, "relation": "sibling"})
			wantStatus(t, add, http.StatusCreated, "")
			id := int64(add.body["id"].(float64))
			path := fmt.Sprintf("/api/v1/family/consents/%d", id)
			brother, _ := h.login(t, "brother")
			wantStatus(t, h.do(t, "DELETE", path, brother, nil), http.StatusForbidden, service.CodeNotVerified)
			wantStatus(t, h.verifyByFace(t, brother, "王九", brotherID), http.StatusOK, "")
			// Another verified person, and the payer, are told nothing.
			wantStatus(t, h.do(t, "DELETE", path, payer, nil), http.StatusNotFound, service.CodeNotFound)
			stranger, _ := h.login(t, "withdraw-stranger")
			wantStatus(t, h.verifyByFace(t, stranger, "钱七", residentID("44030119850615123")), http.StatusOK, "")
			wantStatus(t, h.do(t, "DELETE", path, stranger, nil), http.StatusNotFound, service.CodeNotFound)
			wantStatus(t, h.do(t, "DELETE", "/api/v1/family/consents/99999999", brother, nil), http.StatusNotFound, service.CodeNotFound)
			wantStatus(t, h.do(t, "DELETE", "/api/v1/family/consents/x", brother, nil), http.StatusNotFound, service.CodeNotFound)

			for i := 0; i < 2; i++ {
				r := h.do(t, "DELETE", path, brother, nil)
				wantStatus(t, r, http.StatusOK, "")
				if r.str("status") != string(service.FamilyWithdrawn) || strings.Contains(r.raw, brotherID) {
					t.Fatalf("withdraw=%s, want withdrawn and masked", r.raw)
				}
			}
			// Withdrawal is final: the invitation cannot re-activate it, and
			// the payer cannot pay for the member.
			wantStatus(t, h.do(t, "POST", "/api/v1/family/invitations/"+add.str("invitation")+"/accept", brother, nil),
				http.StatusForbidden, service.CodeConsentWithdrawn)
			if _, err := h.identity.ResolvePerson(ctx, payerID, strconv.FormatInt(id, 10)); service.ErrorCode(err) != service.CodeConsentWithdrawn {
				t.Fatalf("ResolvePerson after withdrawal: err=%v, want family_consent_withdrawn", err)
			}
		})

		t.Run("Validation", func(t *testing.T) {
			wantStatus(t, h.do(t, "POST", "/api/v1/family", payer, map[string]string{"name": motherName, "id_type": "resident_id", "id_number": motherID, "relation": "friend"}),
				http.StatusBadRequest, "invalid_relation")
			wantStatus(t, h.do(t, "POST", "/api/v1/family", payer, map[string]string{"name": motherName, "id_type": "resident_id", "id_number": motherID, "relation": "parent"}),
				http.StatusConflict, service.CodeFamilyExists)
			wantStatus(t, h.do(t, "POST", "/api/v1/family", payer, map[string]string{"name": selfName, "id_type": "resident_id", "id_number": selfID, "relation": "other"}),
				http.StatusBadRequest, service.CodeFamilySelf)
			wantStatus(t, h.do(t, "POST", "/api/v1/identity/alt/start", payer, map[string]string{"region": "shanghai", "method": "sms",
				"name": spouseName, "id_type": "taiwan_residence", "id_number": spouseID}), http.StatusBadRequest, service.CodeMethodNotSupported)
			wantStatus(t, h.do(t, "POST", "/api/v1/identity/alt/start", payer, map[string]string{"region": "atlantis", "method": "sms",
				"name": spouseName, "id_type": "taiwan_residence", "id_number": spouseID}), http.StatusBadRequest, service.CodeUnknownRegion)
		})

		t.Run("RemoveThenLimit", func(t *testing.T) {
			wantStatus(t, h.do(t, "DELETE", fmt.Sprintf("/api/v1/family/%d", mother), payer, nil), http.StatusNoContent, "")
			if _, err := h.identity.ResolvePerson(ctx, payerID, strconv.FormatInt(mother, 10)); service.ErrorCode(err) != service.CodeNotFound {
				t.Fatalf("removed binding: err=%v, want not_found", err)
			}
			n := len(h.do(t, "GET", "/api/v1/family", payer, nil).body["family"].([]any))
			for i := n; i < service.MaxFamilyBindings; i++ {
				wantStatus(t, h.do(t, "POST", "/api/v1/family", payer, map[string]string{"name": "成员", "id_type": "resident_id",
					"id_number": residentID(fmt.Sprintf("3201021990010110%d", i)), "relation": "other"}), http.StatusCreated, "")
			}
			wantStatus(t, h.do(t, "POST", "/api/v1/family", payer, map[string]string{"name": "成员", "id_type": "resident_id",
				"id_number": residentID("32010219900101199"), "relation": "other"}), http.StatusConflict, service.CodeFamilyLimit)
		})
	})
}

// TestNoPlaintextPII runs the whole identity and family flow and then reads
// every row of every table and every log line: no name, ID number or phone
// may appear in plaintext.
func TestNoPlaintextPII(t *testing.T) {
	clock := testClock()
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		h := newHarness(t, db, clock, harnessOptions{})
		familyFlow(t, h)
		// Also a failed face attempt and an invalid request with a name.
		tok, _ := h.login(t, "pii-fail")
		h.verifyByFace(t, tok, "王取消", motherID)
		h.do(t, "POST", "/api/v1/family", tok, map[string]string{"name": "郑九", "id_type": "resident_id", "id_number": "110101199003071234", "relation": "parent"})

		secrets := []string{selfName, selfID, strings.ToLower(selfID), motherName, motherID, spouseName, spouseID, spousePhone, "王取消"}
		dump := dumpDatabase(t, db)
		if !strings.Contains(dump, "persons:") || !strings.Contains(dump, "family_bindings:") || strings.Count(dump, "=v1:k1:") < 10 {
			t.Fatalf("dump misses tables: %.300s", dump)
		}
		for _, s := range secrets {
			if strings.Contains(dump, s) {
				t.Errorf("database holds plaintext %q", s)
			}
		}
		logs := h.logs.String()
		if !strings.Contains(logs, `"msg":"http"`) {
			t.Fatalf("no access log captured: %.200s", logs)
		}
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("logs hold plaintext %q", s)
			}
		}
	})
}

// dumpDatabase returns every row of every table as text.
func dumpDatabase(tb testing.TB, db *model.DB) string {
	tb.Helper()
	var tables []string
	q := "SELECT name FROM sqlite_master WHERE type = 'table'"
	if db.Dialect == model.MySQL {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
	}
	if err := db.Raw(q).Scan(&tables).Error; err != nil {
		tb.Fatal(err)
	}
	sqlDB, err := db.DB.DB()
	if err != nil {
		tb.Fatal(err)
	}
	var out strings.Builder
	for _, table := range tables {
		out.WriteString(table + ":\n")
		rows, err := sqlDB.Query("SELECT * FROM " + table)
		if err != nil {
			tb.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			for i, v := range vals {
				fmt.Fprintf(&out, "%s=%s ", cols[i], v)
			}
			out.WriteString("\n")
		}
		rows.Close()
	}
	return out.String()
}
