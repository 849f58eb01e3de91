package service_test

import (
	"context"
	"strings"
	"testing"

	"github.com/shebao/sipay/faq"
	"github.com/shebao/sipay/service"
)

func mustHelp(tb testing.TB, orders service.HelpOrders) *service.HelpService {
	tb.Helper()
	kb, err := faq.Load()
	if err != nil {
		tb.Fatal(err)
	}
	if orders == nil {
		orders = noOrders{}
	}
	return service.NewHelpService(kb, orders)
}

type noOrders struct{}

func (noOrders) FindOrder(context.Context, string) (*service.Order, error) {
	return nil, service.ErrNotFound
}
func (noOrders) OrderEvents(context.Context, string) ([]service.OrderEvent, error) { return nil, nil }

// The ranking is tested on questions as users type them (short, colloquial,
// with typos of register but not of characters), each with the answer that
// must come first. None of them repeats an FAQ question verbatim.
func TestHelpSearchRanksTheExpectedAnswerFirst(t *testing.T) {
	h := mustHelp(t, nil)
	cases := []struct{ q, want string }{
		{"刷脸老是不通过", "face_failed"},
		{"人脸识别失败了还能用别的方法验证吗", "face_failed"},
		{"活体检测过不去怎么办", "face_failed"},
		{"江苏能不能用社保卡密码验证", "face_failed"},
		{"打不开摄像头没法刷脸", "face_camera"},
		{"银行卡超额了交不了", "card_limit"},
		{"信用卡有限额怎么办", "card_limit"},
		{"一次补缴12个月金额太大付不了", "card_limit"},
		{"交完钱三天了社保局还查不到记录", "info_delay"},
		{"缴费后好几天都没到账", "info_delay"},
		{"要不要打12333", "info_delay"},
		{"退的钱什么时候能收到", "refund_arrival"},
		{"退款到银行卡要几天", "refund_arrival"},
		{"为什么钱被退回来了", "refund_why"},
		{"72小时后自动退款是怎么回事", "refund_why"},
		{"我的钱被冻结了", "hold"},
		{"风控审核要多久", "hold"},
		{"显示待确认是成功了还是失败了", "confirming"},
		{"电子发票在哪下载", "posted_voucher"},
		{"报销要用的票据去哪找", "posted_voucher"},
		{"怕忘了交社保能提醒我吗", "lapse"},
		{"每个月截止日期前提醒", "lapse"},
		{"找人工客服", "ticket"},
		{"我要投诉", "ticket"},
		{"能给我妈交社保吗", "family"},
		{"帮父母代缴", "family"},
		{"老人看不清字", "care_mode"},
		{"付款失败会扣钱吗", "payment_failed"},
		{"卡里扣了钱订单还是没付款", "payment_failed"},
		{"订单一直待支付", "pending_payment"},
	}
	for _, c := range cases {
		hits, err := h.Search(c.q, 3, false)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		if len(hits) == 0 {
			t.Errorf("%q: no answer, want %s", c.q, c.want)
			continue
		}
		if got := hits[0].ID; got != c.want {
			var ids []string
			for _, x := range hits {
				ids = append(ids, x.ID)
			}
			t.Errorf("%q: top answer %s, want %s (ranked %s)", c.q, got, c.want, strings.Join(ids, ","))
		}
	}
}

func TestHelpSearchInCareModeAnswersPlainly(t *testing.T) {
	h := mustHelp(t, nil)
	full, _ := h.Search("退款多久到账", 1, false)
	plain, _ := h.Search("退款多久到账", 1, true)
	if len(full) != 1 || len(plain) != 1 {
		t.Fatalf("got %d and %d hits, want 1 and 1", len(full), len(plain))
	}
	if full[0].ID != plain[0].ID {
		t.Fatalf("care mode ranks %s, normal %s: want the same answer", plain[0].ID, full[0].ID)
	}
	if len([]rune(plain[0].Answer)) >= len([]rune(full[0].Answer)) || len([]rune(plain[0].Answer)) > 40 {
		t.Fatalf("care answer %q is not the short variant of %q", plain[0].Answer, full[0].Answer)
	}
}

func TestHelpSearchRefusesEmptyAndLongQueries(t *testing.T) {
	h := mustHelp(t, nil)
	for _, q := range []string{"", "   ", strings.Repeat("社", service.MaxHelpQuery+1)} {
		_, err := h.Search(q, 3, false)
		if got := service.ErrorCode(err); got != "help_query_invalid" {
			t.Errorf("Search(%d chars): code %q, want help_query_invalid", len([]rune(q)), got)
		}
	}
}

func TestHelpSearchFindsNothingForUnrelatedText(t *testing.T) {
	h := mustHelp(t, nil)
	hits, err := h.Search("xyzzy", 3, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 0 {
		t.Fatalf("got %d hits for an unrelated word, want 0", len(hits))
	}
}
