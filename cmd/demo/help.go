package main

import (
	"fmt"
	"strings"
	"time"
)

// helpStep walks customer service and notifications on the paid order: the
// smart FAQ, the user accepting a subscribe message, contextual help for the
// order, a ticket from the order with the order attached, an operations
// reply within the 45-minute SLA, and the ticket_answered message as the
// WeChat simulator delivered it.
func (d *demo) helpStep(orderNo string) error {
	d.title("智能客服: FAQ 搜索")
	q := "缴费后好几天都没到账"
	res, err := d.call("GET", "/api/v1/help/search?q="+q, nil, 200)
	if err != nil {
		return err
	}
	answers := list(res, "answers")
	if len(answers) == 0 || str(answers[0], "id") != "info_delay" {
		return fmt.Errorf("FAQ search %q: top answer %v, want info_delay", q, answers)
	}
	say("%q → %s: %s…", q, str(answers[0], "question"), clipRunes(str(answers[0], "answer"), 40))

	d.title("订阅消息: the user accepts ticket replies (wx.requestSubscribeMessage)")
	subs, err := d.call("GET", "/api/v1/subscriptions", nil, 200)
	if err != nil {
		return err
	}
	var tpl string
	for _, t := range list(subs, "templates") {
		if str(t, "key") == "ticket_answered" {
			tpl = str(t, "template_id")
		}
	}
	if tpl == "" {
		return fmt.Errorf("GET /api/v1/subscriptions lists no ticket_answered template")
	}
	accepted, err := d.call("POST", "/sim/wechat/subscribe/accept", obj{"code": d.code, "template_ids": []string{tpl}}, 200)
	if err != nil {
		return err
	}
	results, _ := accepted["results"].(map[string]any)
	granted, err := d.call("POST", "/api/v1/subscriptions", obj{"results": results}, 200)
	if err != nil {
		return err
	}
	for _, t := range list(granted, "templates") {
		if str(t, "key") == "ticket_answered" {
			say("template %s (%s): %s send(s) granted", tpl, str(t, "title"), str(t, "remaining"))
		}
	}

	d.title("订单帮助 (contextual help for %s)", orderNo)
	help, err := d.call("GET", "/api/v1/help/for/orders/"+orderNo, nil, 200)
	if err != nil {
		return err
	}
	say("%s: %s %s", str(help, "title"), str(help, "explanation"), str(help, "next_action"))

	d.title("工单: opened from the order (the order is attached, masked)")
	tk, err := d.call("POST", "/api/v1/tickets", obj{"order_no": orderNo, "category": "voucher", "body": "电子票据报销时提示无效，请帮忙核实"}, 201)
	if err != nil {
		return err
	}
	no := str(tk, "ticket_no")
	opened, _ := time.Parse(time.RFC3339Nano, str(tk, "opened_at"))
	due, _ := time.Parse(time.RFC3339Nano, str(tk, "first_response_due_at"))
	if got := due.Sub(opened); got != 45*time.Minute {
		return fmt.Errorf("ticket %s: first response due %v after opening, want 45m (7x24 hours)", no, got)
	}
	ctxObj, _ := tk["context"].(map[string]any)
	batches := list(ctxObj, "batches")
	say("ticket %s (%s), first response due %s; attached: order %s, %d batch(es), person %s",
		no, str(tk, "status"), due.Format(time.RFC3339), str(tk, "context", "order_no"), len(batches), orDash(str(tk, "context", "person")))

	d.title("运营回复 (admin API, audited) within the SLA")
	rep, err := d.call("POST", "/api/v1/admin/tickets/"+no+"/reply", obj{"body": "您好，票据已重新开具，请在订单凭证中查看。"}, 200,
		"Authorization", "Bearer dev-admin-token", "X-Operator", "demo-ops")
	if err != nil {
		return err
	}
	first, _ := time.Parse(time.RFC3339Nano, str(rep, "first_response_at"))
	if str(rep, "status") != "answered" || first.IsZero() || first.After(due) || str(rep, "sla_breached") != "false" {
		return fmt.Errorf("after the reply: status %s, first response %s, breached %s; want answered within the SLA",
			str(rep, "status"), str(rep, "first_response_at"), str(rep, "sla_breached"))
	}
	say("answered at %s, %s before the deadline", first.Format(time.RFC3339), due.Sub(first).Round(time.Second))

	d.title("订阅消息 seen in the WeChat simulator")
	var msg obj
	err = d.waitFor("the ticket_answered message", 20*time.Second, func() (bool, error) {
		sent, err := d.call("GET", "/sim/wechat/subscribe/sent?code="+d.code, nil, 200)
		if err != nil {
			return false, err
		}
		for _, m := range list(sent, "sent") {
			if str(m, "template_id") == tpl && str(m, "data", "character_string1") == no {
				msg = m
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	say("template %s → page %s: %s / %s / %s", tpl, str(msg, "page"), str(msg, "data", "character_string1"),
		str(msg, "data", "thing2"), str(msg, "data", "time3"))
	return nil
}

func clipRunes(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) > n {
		return string(r[:n])
	}
	return string(r)
}
