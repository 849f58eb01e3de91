package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/service"
)

type fakeAdmin struct{ actors []string }

func (f *fakeAdmin) Holds(_ context.Context, actor string, status service.HoldStatus) ([]service.Hold, error) {
	f.actors = append(f.actors, actor)
	return []service.Hold{{OutTradeNo: "SP1_01", Rules: []string{"amount"}, Status: status, HeldAt: time.Unix(0, 0)}}, nil
}
func (f *fakeAdmin) Alerts(context.Context, string, service.AlertStatus) ([]service.Alert, error) {
	return nil, nil
}
func (f *fakeAdmin) Recon(context.Context, string, string) (*service.ReconReport, error) {
	return nil, service.Invalid("invalid_date", "日期格式应为 YYYY-MM-DD")
}
func (f *fakeAdmin) ReleaseHold(_ context.Context, actor, otn string) (*service.Hold, error) {
	f.actors = append(f.actors, actor)
	return nil, service.ErrHoldNotOpen
}
func (f *fakeAdmin) RejectHold(context.Context, string, string, string) (*service.Hold, error) {
	return &service.Hold{Status: service.HoldRejected}, nil
}
func (f *fakeAdmin) RetryRefund(context.Context, string, string) (*service.Refund, error) {
	return nil, service.NotFound("退款单不存在")
}
func (f *fakeAdmin) ResolvePosting(context.Context, string, string, string, string, string) (*service.PostingState, error) {
	return &service.PostingState{BatchStatus: service.StatusRefunding}, nil
}
func (f *fakeAdmin) Order(context.Context, string, string) (*service.AdminOrder, error) {
	return nil, service.NotFound("订单不存在")
}

type fakeVouchers struct{}

func (fakeVouchers) ListForUser(context.Context, int64, string) ([]service.Voucher, error) {
	return nil, nil
}
func (fakeVouchers) Verify(_ context.Context, code string) (*service.VoucherCheck, error) {
	if code != "good" {
		return nil, service.ErrVoucherInvalid
	}
	return &service.VoucherCheck{Kind: service.VoucherFiscal, AmountFen: 150000, Expired: false, OrderNo: "SP26****0001"}, nil
}

func newAdminServer(tb testing.TB) (*fakeAdmin, *testServer) {
	tb.Helper()
	base := newTestServer(tb)
	fa := &fakeAdmin{}
	h := api.NewServer(api.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: stubAuth{},
		Admin: fa, AdminToken: "s3cret-admin-token", Vouchers: fakeVouchers{}})
	return fa, &testServer{h: h, clock: base.clock}
}

type stubAuth struct{}

func (stubAuth) Login(context.Context, string) (*service.Session, error) {
	return nil, service.ErrUnauthenticated
}
func (stubAuth) Authenticate(context.Context, string) (*service.User, error) {
	return nil, service.ErrUnauthenticated
}
func (stubAuth) SetCareMode(context.Context, int64, bool) (*service.User, error) {
	return nil, service.ErrUnauthenticated
}

func TestAdminAPIRequiresTheAdminToken(t *testing.T) {
	fa, s := newAdminServer(t)
	for name, tok := range map[string]string{"missing": "", "wrong": "s3cret-admin-tokem", "prefix": "s3cret"} {
		w, m := s.do(t, "GET", "/api/v1/admin/holds", tok, "")
		if w.Code != 401 || errCode(m) != "admin_unauthenticated" {
			t.Errorf("%s token: got %d %q, want 401 admin_unauthenticated", name, w.Code, errCode(m))
		}
	}
	req := httptest.NewRequest("GET", "/api/v1/admin/holds?status=open", nil)
	req.Header.Set("Authorization", "Bearer s3cret-admin-token")
	req.Header.Set("X-Operator", "alice")
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"out_trade_no":"SP1_01"`) {
		t.Fatalf("holds: got %d %s, want 200 with the hold", w.Code, w.Body)
	}
	if len(fa.actors) != 1 || !strings.HasPrefix(fa.actors[0], "token:") || !strings.HasSuffix(fa.actors[0], "/alice") || strings.Contains(fa.actors[0], "s3cret") {
		t.Fatalf("actor: got %v, want token id and operator, never the token", fa.actors)
	}
	w, m := s.do(t, "POST", "/api/v1/admin/holds/SP1_01/release", "s3cret-admin-token", "")
	if w.Code != 409 || errCode(m) != "hold_not_open" {
		t.Fatalf("release of a decided hold: got %d %q, want 409 hold_not_open", w.Code, errCode(m))
	}
}

func TestVoucherVerifyRefusesInvalidCodesAndShowsAMaskedSummary(t *testing.T) {
	_, s := newAdminServer(t)
	w, m := s.do(t, "GET", "/api/v1/vouchers/verify?code=forged", "", "")
	if w.Code != 400 || errCode(m) != "voucher_invalid" {
		t.Fatalf("forged: got %d %q, want 400 voucher_invalid", w.Code, errCode(m))
	}
	w, m = s.do(t, "GET", "/api/v1/vouchers/verify?code=good", "", "")
	if w.Code != 200 || m["status"] != "valid" || m["amount_fen"] != float64(150000) {
		t.Fatalf("good: got %d %v, want 200 valid 150000", w.Code, m)
	}
	w, _ = s.do(t, "GET", "/api/v1/orders/SP1/vouchers", "", "")
	if w.Code != 401 {
		t.Fatalf("vouchers without login: got %d, want 401", w.Code)
	}
}
