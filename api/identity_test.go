package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wechat"
)

// 2026-11-24 08:00 UTC is 16:00 in Shanghai: 8 hours to the next day.
func testClock() *service.ManualClock {
	return service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
}

const (
	selfName = "张三"
	selfID   = "11010519491231002X"
)

func TestFaceVerification(t *testing.T) {
	clock := testClock()
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		h := newHarness(t, db, clock, harnessOptions{dailyAttempts: 3})

		t.Run("VerifiedAndIdempotent", func(t *testing.T) {
			tok, _ := h.login(t, "face-ok")
			start := h.do(t, "POST", "/api/v1/identity/face/start", tok,
				map[string]string{"name": selfName, "id_type": "resident_id", "id_number": strings.ToLower(selfID)})
			wantStatus(t, start, http.StatusOK, "")
			if start.str("verify_id") == "" || start.str("expires_in") != "3600" {
				t.Fatalf("start=%s, want verify_id and expires_in 3600", start.raw)
			}
			for i := 0; i < 2; i++ {
				r := h.do(t, "POST", "/api/v1/identity/face/result", tok, map[string]string{"verify_id": start.str("verify_id")})
				wantStatus(t, r, http.StatusOK, "")
				if got, want := r.str("identity", "name"), "张*"; got != want {
					t.Fatalf("name=%q, want %q", got, want)
				}
				if got, want := r.str("identity", "id_number"), "110***********002X"; got != want {
					t.Fatalf("id_number=%q, want %q", got, want)
				}
			}
			me := h.do(t, "GET", "/api/v1/me", tok, nil)
			if me.str("verified") != "true" || me.str("identity", "id_number") != "110***********002X" {
				t.Fatalf("/me=%s, want verified with masked identity", me.raw)
			}
			if strings.Contains(me.raw, selfID) || strings.Contains(me.raw, selfName) {
				t.Fatalf("/me reveals plaintext: %s", me.raw)
			}
			p, err := h.identity.ResolvePerson(context.Background(), userID(t, h, tok), "self")
			if err != nil || p.IDNumber != selfID || p.Name != selfName {
				t.Fatalf("ResolvePerson(self)=%+v,%v, want the verified person", p, err)
			}
		})

		for i, c := range []struct{ name, code string }{
			{"王取消", service.CodeFaceCancelled},
			{"王相机", service.CodeFaceCameraPermission},
			{"王超时", service.CodeFaceTimeout},
			{"王失败", service.CodeFaceRetryLater},
			{"王网络", service.CodeFaceRetryLater},
			{"王模糊", service.CodeFaceCaptureInvalid},
		} {
			t.Run("Refused_"+c.code+"_"+c.name, func(t *testing.T) {
				tok, _ := h.login(t, fmt.Sprintf("face-fail-%d", i))
				r := h.verifyByFace(t, tok, c.name, residentID("11010119900307123"))
				wantStatus(t, r, http.StatusUnprocessableEntity, c.code)
				if msg := r.str("error", "message"); msg == "" || !containsHan(msg) {
					t.Fatalf("message=%q, want an actionable Chinese message", msg)
				}
				if me := h.do(t, "GET", "/api/v1/me", tok, nil); me.str("verified") != "false" {
					t.Fatalf("/me verified=%s after a refused verification, want false", me.str("verified"))
				}
				if _, err := h.identity.ResolvePerson(context.Background(), userID(t, h, tok), "self"); service.ErrorCode(err) != service.CodeNotVerified {
					t.Fatalf("ResolvePerson err=%v, want not_verified", err)
				}
			})
		}

		t.Run("DailyLockoutUntilShanghaiMidnight", func(t *testing.T) {
			tok, _ := h.login(t, "face-lock")
			body := map[string]string{"name": "王取消", "id_type": "resident_id", "id_number": selfID}
			for i := 0; i < 3; i++ {
				wantStatus(t, h.do(t, "POST", "/api/v1/identity/face/start", tok, body), http.StatusOK, "")
			}
			r := h.do(t, "POST", "/api/v1/identity/face/start", tok, body)
			wantStatus(t, r, http.StatusTooManyRequests, service.CodeFaceLocked)
			if got, want := r.header.Get("Retry-After"), "28800"; got != want {
				t.Fatalf("Retry-After=%q, want %q (until 00:00 Asia/Shanghai)", got, want)
			}
			clock.Advance(8 * time.Hour)
			defer clock.Advance(-8 * time.Hour)
			wantStatus(t, h.do(t, "POST", "/api/v1/identity/face/start", tok, body), http.StatusOK, "")
		})

		t.Run("NonResidentDocumentRefused", func(t *testing.T) {
			tok, _ := h.login(t, "face-hk")
			r := h.do(t, "POST", "/api/v1/identity/face/start", tok,
				map[string]string{"name": "陈大文", "id_type": "hk_macau_residence", "id_number": "810000199001011230"})
			wantStatus(t, r, http.StatusBadRequest, service.CodeFaceNotSupported)
			if !strings.Contains(r.str("error", "message"), "短信验证码") {
				t.Fatalf("message=%q, want the alternative methods named", r.str("error", "message"))
			}
		})

		t.Run("InvalidIDNumberFieldError", func(t *testing.T) {
			tok, _ := h.login(t, "face-badid")
			r := h.do(t, "POST", "/api/v1/identity/face/start", tok,
				map[string]string{"name": "张三", "id_type": "resident_id", "id_number": "110101199003071234"})
			wantStatus(t, r, http.StatusBadRequest, "invalid_id_number")
			if !strings.Contains(r.raw, `"field":"id_number"`) {
				t.Fatalf("body=%s, want a field error on id_number", r.raw)
			}
		})

		t.Run("AnotherUsersVerifyIDNotFound", func(t *testing.T) {
			owner, _ := h.login(t, "face-owner")
			thief, _ := h.login(t, "face-thief")
			start := h.do(t, "POST", "/api/v1/identity/face/start", owner,
				map[string]string{"name": "周五", "id_type": "resident_id", "id_number": residentID("31010119980101123")})
			wantStatus(t, start, http.StatusOK, "")
			r := h.do(t, "POST", "/api/v1/identity/face/result", thief, map[string]string{"verify_id": start.str("verify_id")})
			wantStatus(t, r, http.StatusNotFound, service.CodeNotFound)
			if me := h.do(t, "GET", "/api/v1/me", thief, nil); me.str("verified") != "false" {
				t.Fatalf("thief verified, want not")
			}
		})

		t.Run("SecondIdentityRefused", func(t *testing.T) {
			tok, _ := h.login(t, "face-ok") // already verified as 张三
			r := h.do(t, "POST", "/api/v1/identity/face/start", tok,
				map[string]string{"name": "李四", "id_type": "resident_id", "id_number": residentID("11010119900307123")})
			wantStatus(t, r, http.StatusConflict, service.CodeAlreadyVerified)
		})

		t.Run("LegacyOffIsNotFound", func(t *testing.T) {
			tok, _ := h.login(t, "face-legacy-off")
			r := h.do(t, "POST", "/api/v1/identity/face/legacy", tok,
				map[string]string{"name": selfName, "id_type": "resident_id", "id_number": selfID, "verify_result": "x"})
			wantStatus(t, r, http.StatusNotFound, service.CodeNotFound)
		})
	})
}

func TestFaceLegacyFlow(t *testing.T) {
	clock := testClock()
	db := modeltest.SQLite(t, clock)
	h := newHarness(t, db, clock, harnessOptions{legacy: true})

	t.Run("Verified", func(t *testing.T) {
		tok, openID := h.login(t, "legacy-ok")
		vr := h.face.LegacyVerifyResult(openID, selfName, selfID)
		r := h.do(t, "POST", "/api/v1/identity/face/legacy", tok,
			map[string]string{"name": selfName, "id_type": "resident_id", "id_number": strings.ToLower(selfID), "verify_result": vr})
		wantStatus(t, r, http.StatusOK, "")
		if r.str("identity", "id_number") != "110***********002X" {
			t.Fatalf("body=%s, want masked identity", r.raw)
		}
		t.Run("VerifyResultReuseRefused", func(t *testing.T) {
			other, _ := h.login(t, "legacy-reuse")
			r := h.do(t, "POST", "/api/v1/identity/face/legacy", other,
				map[string]string{"name": selfName, "id_type": "resident_id", "id_number": selfID, "verify_result": vr})
			wantStatus(t, r, http.StatusConflict, service.CodeFaceExpired)
		})
	})
	t.Run("NameMismatch", func(t *testing.T) {
		tok, openID := h.login(t, "legacy-mismatch")
		vr := h.face.LegacyVerifyResult(openID, "李四", selfID)
		r := h.do(t, "POST", "/api/v1/identity/face/legacy", tok,
			map[string]string{"name": selfName, "id_type": "resident_id", "id_number": selfID, "verify_result": vr})
		wantStatus(t, r, http.StatusUnprocessableEntity, service.CodeFaceMismatch)
	})
	t.Run("OtherUsersOpenID", func(t *testing.T) {
		tok, _ := h.login(t, "legacy-openid")
		vr := h.face.LegacyVerifyResult(h.sim.OpenID("someone-else"), selfName, selfID)
		r := h.do(t, "POST", "/api/v1/identity/face/legacy", tok,
			map[string]string{"name": selfName, "id_type": "resident_id", "id_number": selfID, "verify_result": vr})
		wantStatus(t, r, http.StatusUnprocessableEntity, service.CodeFaceMismatch)
	})
	t.Run("Cancelled", func(t *testing.T) {
		tok, openID := h.login(t, "legacy-cancel")
		vr := h.face.LegacyVerifyResult(openID, "王取消", selfID)
		r := h.do(t, "POST", "/api/v1/identity/face/legacy", tok,
			map[string]string{"name": "王取消", "id_type": "resident_id", "id_number": selfID, "verify_result": vr})
		wantStatus(t, r, http.StatusUnprocessableEntity, service.CodeFaceCancelled)
	})
	t.Run("UnknownVerifyResult", func(t *testing.T) {
		tok, _ := h.login(t, "legacy-unknown")
		r := h.do(t, "POST", "/api/v1/identity/face/legacy", tok,
			map[string]string{"name": selfName, "id_type": "resident_id", "id_number": selfID, "verify_result": "forged"})
		wantStatus(t, r, http.StatusBadRequest, "invalid_verify_result")
	})
}

// TestFaceClientAgainstSimulator checks the wire contract the simulator
// enforces: cert_hash, out_seq_no and openid must match getverifyid's.
func TestFaceClientAgainstSimulator(t *testing.T) {
	clock := testClock()
	h := newHarness(t, modeltest.SQLite(t, clock), clock, harnessOptions{})
	fc := wechat.NewFaceClient(h.wx)
	ctx := context.Background()
	cert := service.PersonRef{Name: selfName, IDType: service.IDResident, IDNumber: selfID}
	openID := h.sim.OpenID("client")
	vid, exp, err := fc.GetVerifyID(ctx, service.FaceVerifyRequest{OutSeqNo: "seq-client-1", Cert: cert, OpenID: openID})
	if err != nil || vid == "" || exp != time.Hour {
		t.Fatalf("GetVerifyID=%q,%v,%v, want a verify_id valid 1h", vid, exp, err)
	}
	wantErrCode := func(t *testing.T, err error, code int) {
		t.Helper()
		var fe *service.FaceAPIError
		if !errors.As(err, &fe) || fe.ErrCode != code {
			t.Fatalf("err=%v, want errcode %d", err, code)
		}
	}
	t.Run("DuplicateOutSeqNo", func(t *testing.T) {
		_, _, err := fc.GetVerifyID(ctx, service.FaceVerifyRequest{OutSeqNo: "seq-client-1", Cert: cert, OpenID: openID})
		wantErrCode(t, err, 40097)
	})
	t.Run("BadOutSeqNo", func(t *testing.T) {
		_, _, err := fc.GetVerifyID(ctx, service.FaceVerifyRequest{OutSeqNo: "a!", Cert: cert, OpenID: openID})
		wantErrCode(t, err, 40097)
	})
	t.Run("CertHashMismatch", func(t *testing.T) {
		other := cert
		other.Name = "李四"
		_, err := fc.QueryVerifyInfo(ctx, service.FaceQuery{VerifyID: vid, OutSeqNo: "seq-client-1", Cert: other, OpenID: openID})
		wantErrCode(t, err, 40097)
	})
	t.Run("OpenIDMismatch", func(t *testing.T) {
		_, err := fc.QueryVerifyInfo(ctx, service.FaceQuery{VerifyID: vid, OutSeqNo: "seq-client-1", Cert: cert, OpenID: h.sim.OpenID("x")})
		wantErrCode(t, err, 40003)
	})
	t.Run("Verified", func(t *testing.T) {
		ret, err := fc.QueryVerifyInfo(ctx, service.FaceQuery{VerifyID: vid, OutSeqNo: "seq-client-1", Cert: cert, OpenID: openID})
		if err != nil || ret != service.FaceVerifyOK {
			t.Fatalf("QueryVerifyInfo=%d,%v, want 10000", ret, err)
		}
	})
	t.Run("ExpiredVerifyID", func(t *testing.T) {
		clock.Advance(time.Hour)
		defer clock.Advance(-time.Hour)
		_, err := fc.QueryVerifyInfo(ctx, service.FaceQuery{VerifyID: vid, OutSeqNo: "seq-client-1", Cert: cert, OpenID: openID})
		wantErrCode(t, err, 40097)
	})
}

func containsHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

// userID returns the id of the user of a session token.
func userID(tb testing.TB, h *harness, token string) int64 {
	tb.Helper()
	r := h.do(tb, "GET", "/api/v1/me", token, nil)
	id, _ := r.body["id"].(float64)
	if id == 0 {
		tb.Fatalf("/me: %s", r.raw)
	}
	return int64(id)
}
