package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

// postedVouchers posts one batch and returns its vouchers by kind.
func postedVouchers(t *testing.T, h *harness, no string) (int64, map[service.VoucherKind]service.Voucher) {
	t.Helper()
	uid := h.user("o-"+no, 11)
	h.paid(no, uid, 11, 150000)
	h.run()
	vs, err := h.vouchers.ListForUser(context.Background(), uid, no)
	if err != nil || len(vs) != 3 {
		t.Fatalf("vouchers: got %d, %v; want 3", len(vs), err)
	}
	out := map[service.VoucherKind]service.Voucher{}
	for _, v := range vs {
		out[v.Kind] = v
	}
	return uid, out
}

func TestVoucherCodeVerifiesAndForgedOrAlteredCodesAreRefused(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid, vs := postedVouchers(t, h, orderNo(40))
		fiscal := vs[service.VoucherFiscal]
		c, err := h.vouchers.Verify(ctx, fiscal.Code)
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if c.Kind != service.VoucherFiscal || c.AmountFen != 150000 || c.Expired || strings.Contains(c.OrderNo, orderNo(40)[4:12]) {
			t.Fatalf("check: got %+v, want fiscal 150000 with a masked order number", c)
		}
		for k, v := range c.Summary {
			if strings.Contains(v, "440106199001011234") || strings.Contains(v, "张三") || strings.Contains(v, "0001234567") {
				t.Fatalf("summary %s=%q shows personal or unmasked data", k, v)
			}
		}
		parts := strings.Split(fiscal.Code, ".")
		altered := parts[0] + "." + parts[1] + ".1." + parts[3] + "." + parts[4] // amount changed to 1 fen
		other := vs[service.VoucherTransaction].Code
		swapped := strings.Join(strings.Split(other, ".")[:4], ".") + "." + parts[4] // another voucher's payload, this MAC
		forged := parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[3] + ".AAAAAAAAAAAAAAAAAAAAAA"
		for name, code := range map[string]string{"altered": altered, "swapped": swapped, "forged": forged, "garbage": "hello", "empty": ""} {
			if _, err := h.vouchers.Verify(ctx, code); service.ErrorCode(err) != "voucher_invalid" {
				t.Errorf("%s code: got %v, want voucher_invalid", name, err)
			}
		}
		// Another key (another deployment) cannot mint codes we accept.
		otherSvc := service.NewVoucherService(h.store, h.orders, h.clock, service.DeriveVoucherKey([]byte("another-secret-abcdefgh")))
		if _, err := h.vouchers.Verify(ctx, otherSvc.Sign(&fiscal)); service.ErrorCode(err) != "voucher_invalid" {
			t.Fatalf("code signed with another key: got %v, want voucher_invalid", err)
		}
		// Only the payer sees the vouchers.
		if _, err := h.vouchers.ListForUser(ctx, uid+1000, orderNo(40)); service.ErrorKind(err) != service.KindNotFound {
			t.Fatalf("another user's list: got %v, want not found", err)
		}
	})
}

func TestRetentionSweeperPurgesExpiredVouchersAndVerifySaysExpired(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		_, vs := postedVouchers(t, h, orderNo(41))
		h.clock.Advance(24 * time.Hour * 30 * 18) // 540 days: a few days before 18 months
		if n, err := h.vouchers.PurgeExpired(ctx); err != nil || n != 0 {
			t.Fatalf("purge before 18 months: got %d, %v; want 0", n, err)
		}
		h.clock.Set(vs[service.VoucherTransaction].ExpiresAt)
		if n, err := h.vouchers.PurgeExpired(ctx); err != nil || n != 1 {
			t.Fatalf("purge at 18 months: got %d, %v; want 1", n, err)
		}
		c, err := h.vouchers.Verify(ctx, vs[service.VoucherTransaction].Code)
		if err != nil || !c.Expired || c.Summary != nil {
			t.Fatalf("verify purged: got %+v, %v; want expired without content", c, err)
		}
		if c, err := h.vouchers.Verify(ctx, vs[service.VoucherAcceptance].Code); err != nil || c.Expired {
			t.Fatalf("acceptance receipt at 18 months: got %+v, %v; want valid", c, err)
		}
		h.clock.Set(vs[service.VoucherAcceptance].ExpiresAt)
		if n, err := h.vouchers.PurgeExpired(ctx); err != nil || n != 1 {
			t.Fatalf("purge at 2 years: got %d, %v; want 1", n, err)
		}
		h.clock.Advance(24 * time.Hour * 365 * 30)
		if n, _ := h.vouchers.PurgeExpired(ctx); n != 0 {
			t.Fatalf("purge of the long-term fiscal receipt: got %d, want 0", n)
		}
		if c, err := h.vouchers.Verify(ctx, vs[service.VoucherFiscal].Code); err != nil || c.Expired {
			t.Fatalf("fiscal receipt after 30 years: got %+v, %v; want valid", c, err)
		}
	})
}

func TestReconciliationFindsInjectedMismatchesAndRerunReplacesThem(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("o1", 11)
		ok := h.paid(orderNo(50), uid, 11, 10000)
		short := h.paid(orderNo(51), uid, 11, 20000)
		missing := h.paid(orderNo(52), uid, 11, 30000)
		h.run()
		h.gw.bill = []service.BillRow{
			{OutTradeNo: ok, TransactionID: "4200" + orderNo(50), TradeState: service.TradeSuccess, TotalFen: 10000},
			{OutTradeNo: short, TransactionID: "4200" + orderNo(51), TradeState: service.TradeSuccess, TotalFen: 19999},
			{OutTradeNo: "SPUNKNOWN_01", TransactionID: "4200999", TradeState: service.TradeSuccess, TotalFen: 500},
		}
		rep, err := h.recon.Reconcile(ctx, h.clock.Now())
		if err != nil {
			t.Fatalf("reconcile: %v", err)
		}
		got := map[string]string{}
		for _, f := range rep.Findings {
			got[f.OutTradeNo] = f.Kind
		}
		want := map[string]string{short: service.ReconAmountDiff, missing: service.ReconMissingRemote, "SPUNKNOWN_01": service.ReconMissingLocal}
		if len(got) != len(want) {
			t.Fatalf("findings: got %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("finding of %s: got %q, want %q (all %v)", k, got[k], v, got)
			}
		}
		if _, err := h.recon.Reconcile(ctx, h.clock.Now()); err != nil {
			t.Fatalf("re-run: %v", err)
		}
		stored, err := h.admin.Recon(ctx, "admin:carol", service.Day(h.clock.Now()))
		if err != nil || len(stored.Findings) != 3 {
			t.Fatalf("stored report after re-run: got %v, %v; want 3 findings", stored, err)
		}
		if n := len(h.alerts(service.AlertReconMismatch)); n != 1 {
			t.Fatalf("recon alerts after two runs: got %d, want 1", n)
		}
		// The bill is fixed upstream: a re-run clears the day.
		h.gw.bill[1].TotalFen = 20000
		h.gw.bill = append(h.gw.bill[:2], service.BillRow{OutTradeNo: missing, TradeState: service.TradeSuccess, TotalFen: 30000})
		rep, err = h.recon.Reconcile(ctx, h.clock.Now())
		if err != nil || len(rep.Findings) != 0 {
			t.Fatalf("clean re-run: got %+v, %v; want no findings", rep, err)
		}
	})
}

// A fiscal receipt for another amount than the batch (the platform booked
// or billed something else) is never turned into a voucher: the batch is
// posted, operations get a voucher_mismatch alert, and the vouchers made of
// our own figures still carry the batch amount.
func TestFiscalReceiptForAnotherAmountIssuesNoFiscalVoucherAndAlerts(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.platform.answer = func(n int, p service.Posting) (service.PostingResult, error) {
			return acceptedResult(p.IdempotencyKey, p.AmountFen-100), nil // one yuan short
		}
		uid := h.user("o1", 11)
		otn := h.paid(orderNo(41), uid, 11, 150000)
		h.run()
		h.wantStatus(otn, service.StatusPosted)
		vs, err := h.vouchers.ListForUser(ctx, uid, orderNo(41))
		if err != nil {
			t.Fatalf("vouchers: %v", err)
		}
		for _, v := range vs {
			if v.Kind == service.VoucherFiscal {
				t.Fatalf("a fiscal voucher of %d fen was issued for a 150000 fen batch", v.AmountFen)
			}
			if v.AmountFen != 150000 {
				t.Fatalf("%s voucher: got %d fen, want 150000", v.Kind, v.AmountFen)
			}
		}
		if len(vs) != 2 {
			t.Fatalf("vouchers: got %d, want 2 (acceptance and transaction)", len(vs))
		}
		as := h.alerts(service.AlertVoucherMismatch)
		if len(as) != 1 || as[0].Ref != otn || !strings.Contains(as[0].Detail, "149900") {
			t.Fatalf("voucher_mismatch alerts: got %+v, want one for %s naming 149900", as, otn)
		}
	})
}
