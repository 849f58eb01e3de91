package wxsim_test

import (
	"testing"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/wxsim"
)

// Every message the service builds fits its template's keywords, in both
// wordings (care mode is the short one), for every event that sends one.
func TestEveryBuiltMessageFitsItsTemplate(t *testing.T) {
	at := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	o := &service.Order{No: "SP26030200000001", Region: "guangdong-shenzhen"}
	b := &service.Batch{Seq: 1, OutTradeNo: "SP26030200000001_1", AmountFen: 123456789, PaidAt: at}
	check := func(key string, data map[string]string) {
		t.Helper()
		tpl, ok := service.FindTemplate(key)
		if !ok {
			t.Fatalf("no template %s", key)
		}
		if msg := wxsim.CheckTemplateData(tpl.Fields, data); msg != "" {
			t.Errorf("%s: %s", key, msg)
		}
	}
	seen := map[string]bool{}
	for _, care := range []bool{false, true} {
		for _, ev := range []string{"paid", "posted", "refunding", "refunded", "posting_confirming", "info_delay"} {
			key, _, data, ok := service.BatchMessage(ev, o, b, "广东省深圳市（含深汕特别合作区）", at, care)
			if !ok {
				t.Fatalf("event %s sends nothing", ev)
			}
			seen[key] = true
			check(key, data)
		}
		check(service.TplTicketAnswered, service.TicketAnsweredData("TK20260302ABCDEFGHJK", at, care))
		check(service.TplLapseReminder, service.LapseData("内蒙古自治区呼和浩特市", "2026-03", at, care))
		seen[service.TplTicketAnswered], seen[service.TplLapseReminder] = true, true
	}
	for _, tpl := range service.SubscribeTemplates {
		if !seen[tpl.Key] {
			t.Errorf("template %s is never built", tpl.Key)
		}
	}
}

func TestCheckTemplateDataRefusesWrongShapes(t *testing.T) {
	fields := []string{"thing1", "amount2", "phrase3", "time4", "character_string5"}
	ok := map[string]string{"thing1": "社保缴费", "amount2": "100.00元", "phrase3": "已支付", "time4": "2026年03月02日 10:00", "character_string5": "SP1_1"}
	if msg := wxsim.CheckTemplateData(fields, ok); msg != "" {
		t.Fatalf("valid data refused: %s", msg)
	}
	for name, mut := range map[string]func(m map[string]string){
		"thing too long": func(m map[string]string) {
			m["thing1"] = "一二三四五六七八九十一二三四五六七八九十一"
		},
		"amount with words": func(m map[string]string) { m["amount2"] = "一百元" },
		"phrase too long":   func(m map[string]string) { m["phrase3"] = "已经支付成功了" },
		"phrase not Han":    func(m map[string]string) { m["phrase3"] = "paid" },
		"bad time":          func(m map[string]string) { m["time4"] = "yesterday" },
		"char_string space": func(m map[string]string) { m["character_string5"] = "SP 1" },
		"missing key":       func(m map[string]string) { delete(m, "thing1") },
		"extra key":         func(m map[string]string) { m["thing9"] = "x" },
	} {
		m := map[string]string{}
		for k, v := range ok {
			m[k] = v
		}
		mut(m)
		if msg := wxsim.CheckTemplateData(fields, m); msg == "" {
			t.Errorf("%s: accepted", name)
		}
	}
}
