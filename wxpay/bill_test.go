package wxpay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
)

// A bill in WeChat Pay's layout, written by hand (not by the simulator).
const sampleBill = "\ufeff交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n" +
	"`2025-03-01 09:15:02,`wx8888888888888888,`1900000109,`0,`,`4200001234202503011234567890,`SB0001,`oUpF8uMu,`JSAPI,`SUCCESS,`OTHERS,`CNY,`1.15,`0.00,`0,`0,`0.00,`0.00,`,`,`养老保险,2025年度,`attach,`0.00690,`0.60%,`1.15,`0.00,`\r\n" +
	"`2025-03-01 11:00:00,`wx8888888888888888,`1900000109,`0,`,`4200001234202503011234567890,`SB0001,`oUpF8uMu,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000001,`RF0001,`0.10,`0.00,`ORIGINAL,`SUCCESS,`养老保险,2025年度,`attach,`-0.00060,`0.60%,`1.15,`0.10,`\r\n" +
	"总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n" +
	"`2,`1.15,`0.10,`0.00,`0.00630,`2.30,`0.10\r\n"

func TestParseTradeBill_ExactFen(t *testing.T) {
	rows, sum, err := wxpay.ParseTradeBill([]byte(sampleBill))
	if err != nil {
		t.Fatalf("ParseTradeBill: %v", err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(rows))
	}
	if got, want := rows[0].TotalFen, service.Fen(115); got != want { // float 1.15*100 truncates to 114
		t.Errorf("TotalFen=%d, want %d", got, want)
	}
	if r := rows[1]; r.RefundFen != 10 || r.OutRefundNo != "RF0001" || r.RefundID != "50300000001" || r.TradeState != "REFUND" {
		t.Errorf("refund row %+v", r)
	}
	if rows[0].RefundID != "" || rows[0].OutRefundNo != "" {
		t.Errorf("success row refund ids %q %q, want empty", rows[0].RefundID, rows[0].OutRefundNo)
	}
	if want := time.Date(2025, 3, 1, 1, 15, 2, 0, time.UTC); !rows[0].TradeTime.Equal(want) {
		t.Errorf("TradeTime=%v, want %v", rows[0].TradeTime, want)
	}
	if sum.Count != 2 || sum.SettleTotal != 115 || sum.RefundTotal != 10 || sum.OrderTotal != 230 {
		t.Errorf("summary %+v", sum)
	}
}

func TestParseTradeBill_Refused(t *testing.T) {
	for name, bill := range map[string]string{
		"CountMismatch":   strings.Replace(sampleBill, "`2,`1.15", "`3,`1.15", 1),
		"ThreeDecimals":   strings.Replace(sampleBill, "`0.60%,`1.15,`0.00,`\r\n", "`0.60%,`1.150,`0.00,`\r\n", 1),
		"NoSummary":       sampleBill[:strings.Index(sampleBill, "总交易单数")],
		"MissingColumn":   strings.Replace(sampleBill, "商户订单号", "订单号", 1),
		"BadTradeTime":    strings.Replace(sampleBill, "2025-03-01 09:15:02", "2025/03/01 09:15", 1),
		"FloatingAmount":  strings.Replace(sampleBill, "`0.60%,`1.15,`0.00,`\r\n", "`0.60%,`1.15e0,`0.00,`\r\n", 1),
		"TruncatedFields": strings.Replace(sampleBill, ",`0.60%,`1.15,`0.00,`\r\n", "\r\n", 1),
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := wxpay.ParseTradeBill([]byte(bill)); err == nil {
				t.Errorf("ParseTradeBill succeeded, want an error")
			}
		})
	}
}
