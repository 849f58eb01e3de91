package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// Personal data a raw body or a platform answer may carry into an alert.
const (
	piiOpenID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	piiName   = "欧阳明月"
	piiID     = "110105194802023456"
	piiPhone  = "13987654321"
)

// TestAlertsAreStoredWithoutPersonalData raises every alert that can carry
// a raw WeChat body or a platform answer (notify_mismatch, paid_after_close
// and unknown_trade through the payment transition, payment_state, and
// every other kind through RecordAlert with a platform-style body) and
// reads the stored rows: no openid, name, ID number or phone number, while
// the out_trade_no, transaction id and amounts stay readable. SQLite and
// MySQL.
func TestAlertsAreStoredWithoutPersonalData(t *testing.T) {
	clock := service.NewManualClock(orderNow)
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		e := newOrderEnv(t, db, clock)
		e.addQuote(t, "Q-pii", 1, 10000, 20000)
		o := e.mustCreate(t, 1, "Q-pii")
		body := func(otn, tx string, fen service.Fen) []byte {
			return fmt.Appendf(nil, `{"appid":%q,"mchid":%q,"out_trade_no":%q,"transaction_id":%q,"trade_state":"SUCCESS","attach":"name=%s","payer":{"openid":%q},"amount":{"total":%d,"currency":"CNY"}}`,
				testAppID, testMchID, otn, tx, piiName, piiOpenID, fen)
		}
		notify := func(otn, tx string, fen service.Fen) error {
			tr := service.Trade{AppID: testAppID, MchID: testMchID, OutTradeNo: otn, TransactionID: tx, State: service.TradeSuccess,
				PayerOpenID: piiOpenID, TotalFen: fen, Currency: "CNY", SuccessTime: clock.Now()}
			return e.svc.HandleTransaction(ctx, service.TransactionEvent{EventID: "ev-" + otn + tx, EventType: "TRANSACTION.SUCCESS",
				Trade: tr, Plaintext: body(otn, tx, fen)})
		}

		// notify_mismatch: the amount differs.
		otnMismatch := service.OutTradeNo(o.No, 1)
		if err := notify(otnMismatch, "4200000001202611240000000001", 9999); service.ErrorCode(err) != service.CodeNotifyMismatch {
			t.Fatalf("mismatched notification: %v, want notify_mismatch", err)
		}
		// paid_after_close: money for a batch closed here.
		otnClosed := service.OutTradeNo(o.No, 2)
		if err := e.svc.MarkClosed(ctx, otnClosed, "test"); err != nil {
			t.Fatalf("close: %v", err)
		}
		if err := notify(otnClosed, "4200000002202611240000000002", 20000); err != nil {
			t.Fatalf("paid after close: %v", err)
		}
		// unknown_trade: an out_trade_no we never issued.
		if err := notify("SI20261124999999999999_01", "4200000003202611240000000003", 500); err == nil {
			t.Fatalf("unknown trade accepted")
		}
		// payment_state, with WeChat's answer quoted.
		e.svc.AlertPaymentState(ctx, otnClosed, "query answered "+string(body(otnClosed, "4200000002202611240000000002", 20000)))
		// Every other kind, as raised with a platform answer or an error text.
		platform := fmt.Sprintf(`platform 400: {"name":"%s","cert_name":"%s","id_number":"%s","phone":"%s","openid":"%s","out_trade_no":"%s","amount_fen":20000}`,
			piiName, piiName, piiID, piiPhone, piiOpenID, otnClosed)
		for _, kind := range []string{service.AlertRefundAbnormal, service.AlertRefundFailed, service.AlertRefundClosed,
			service.AlertUnknownRefund, service.AlertPostedAfterRefund, service.AlertUnknownPosting, service.AlertPostingDelayed,
			service.AlertReconMismatch, service.AlertRefundState, service.AlertRefundMismatch, service.AlertVoucherMismatch,
			service.AlertPlatformFigure, service.AlertPostingOutcomeUnknown, service.AlertPlatformConfigFault,
			service.AlertCallbackRegionMismatch, service.AlertPostingAfterNonPaid, service.AlertMutualAidMismatch,
			service.AlertTicketSLABreached, service.AlertSubscribeRejected, service.AlertStepUpMismatch, service.AlertEvidenceTampered,
			service.AlertCreditOutcomeUnknown, service.AlertCreditCollectionFailed, service.AlertCreditMismatch, service.AlertCreditReverseManual} {
			if err := e.store.RecordAlert(ctx, service.Alert{Kind: kind, Ref: "ref-" + kind, Detail: platform + " name=" + piiName}); err != nil {
				t.Fatalf("record %s: %v", kind, err)
			}
		}

		alerts, err := e.store.FindAlerts(ctx, "", 200)
		if err != nil {
			t.Fatalf("FindAlerts: %v", err)
		}
		seen := map[string]string{}
		for _, a := range alerts {
			seen[a.Kind] += a.Ref + " " + a.Detail + "\n"
			for _, pii := range []string{piiOpenID, piiName, piiID, piiPhone} {
				if strings.Contains(a.Ref+a.Detail, pii) {
					t.Errorf("%s alert stored %q: ref %q detail %q", a.Kind, pii, a.Ref, a.Detail)
				}
			}
		}
		for kind, keep := range map[string][]string{
			service.AlertNotifyMismatch:      {otnMismatch, "4200000001202611240000000001", "9999", "amount.total"},
			service.AlertPaidAfterClose:      {otnClosed, "4200000002202611240000000002", "20000"},
			service.AlertUnknownTrade:        {"SI20261124999999999999_01", "4200000003202611240000000003"},
			service.AlertPaymentState:        {otnClosed, "4200000002202611240000000002"},
			service.AlertPlatformConfigFault: {otnClosed, "20000", "platform 400"},
		} {
			for _, k := range keep {
				if !strings.Contains(seen[kind], k) {
					t.Errorf("%s alert lost %q: %s", kind, k, seen[kind])
				}
			}
		}
	})
}
