package main

import (
	"fmt"
	"time"
)

// creditPay walks credit pay (社保信用付) in Hangzhou: a quote, the Pay Score
// service order, the user's confirmation in the Pay Score simulator, the
// posting at once, then the simulated clock moves to next month's
// collection day and WeChat collects, exactly once.
func (d *demo) creditPay() error {
	region := "zhejiang-hangzhou"
	prof, err := d.insuredPerson(region, "pension")
	if err != nil {
		return err
	}
	d.title("社保信用付 (credit pay): quote in 杭州")
	offers, err := d.call("GET", "/api/v1/credit/regions", nil, 200)
	if err != nil {
		return err
	}
	for _, o := range list(offers, "regions") {
		say("%s offers credit pay up to %s, collected on day %s of the next month", str(o, "name"), yuan(o, "limit_fen"), str(o, "collection_day"))
	}
	q, err := d.call("POST", "/api/v1/quotes", obj{"region": region, "person": "self", "start_month": str(prof, "current_month"), "months": 1,
		"insurances": []obj{{"type": "pension"}}}, 201)
	if err != nil {
		return err
	}
	say("quote %s: %s for %s (base assessed by the platform)", str(q, "id"), yuan(q, "payable_fen"), str(prof, "current_month"))

	d.title("微信支付分下单 → 用户确认 (Pay Score service order, confirmed in the Pay Score mini-program)")
	start, err := d.call("POST", "/api/v1/credit/orders", obj{"quote_id": str(q, "id")}, 201)
	if err != nil {
		return err
	}
	orderNo := str(start, "order_no")
	outOrderNo := str(start, "credit", "out_order_no")
	confirm, _ := start["confirm"].(map[string]any)
	extra, _ := confirm["extra_data"].(map[string]any)
	say("order %s, service order %s; wx.openBusinessView businessType=%s, sign_type=%s", orderNo, outOrderNo, str(confirm, "business_type"), str(extra, "sign_type"))
	if _, err := d.call("POST", "/api/v1/orders/"+orderNo+"/batches/1/pay", nil, 409); err != nil {
		return fmt.Errorf("a credit batch could be paid with wx.requestPayment: %w", err)
	}
	say("the same batch cannot also be paid with wx.requestPayment (409 credit_pay_chosen)")
	if _, err := d.call("POST", "/sim/pay/payscore/confirm", extra, 200); err != nil {
		return err
	}
	say("the simulator verified the extraData signature; PAYSCORE.USER_CONFIRM was sent, signed and encrypted")

	d.title("先缴费入账 (posted to the platform at once)")
	if _, err := d.waitStatus(orderNo, "posted", 60*time.Second); err != nil {
		return err
	}
	// The credit job looks at a confirmed order's posting every 10 minutes.
	if err := d.advance("11m"); err != nil {
		return err
	}
	c, err := d.waitCredit(orderNo, "posted", 60*time.Second)
	if err != nil {
		return err
	}
	say("credit %s: %s; due %s", str(c, "state"), str(c, "notice"), str(c, "due_at"))

	d.title("次月扣款日 → 微信支付分扣款 (the collection day)")
	clock, err := d.call("GET", "/sim/clock", nil, 200)
	if err != nil {
		return err
	}
	now, _ := time.Parse(time.RFC3339Nano, str(clock, "now"))
	due, err := time.Parse(time.RFC3339Nano, str(c, "due_at"))
	if err != nil {
		return fmt.Errorf("due_at %q: %w", str(c, "due_at"), err)
	}
	if err := d.advance(due.Sub(now).Round(time.Second).String()); err != nil {
		return err
	}
	say("simulated clock moved %s to %s", due.Sub(now).Round(time.Hour), due.Format(time.RFC3339))
	// A month later the session has expired: the user logs in again.
	res, err := d.call("POST", "/api/v1/auth/login", obj{"code": d.code}, 200)
	if err != nil {
		return err
	}
	d.token = str(res, "token")
	c, err = d.waitCredit(orderNo, "collected", 60*time.Second)
	if err != nil {
		return err
	}
	say("credit %s: %s", str(c, "state"), str(c, "notice"))
	ledger, err := d.call("GET", "/sim/pay/payscore", nil, 200)
	if err != nil {
		return err
	}
	for _, r := range list(ledger, "items") {
		if str(r, "out_order_no") != outOrderNo {
			continue
		}
		if str(r, "completes") != "1" || str(r, "state") != "DONE" {
			return fmt.Errorf("Pay Score ledger: %v; want one completion, DONE", r)
		}
		say("Pay Score ledger: completed once, collected %s, transaction %s", yuan(r, "collected_fen"), str(r, "transaction_id"))
		return nil
	}
	return fmt.Errorf("service order %s is not in the Pay Score ledger", outOrderNo)
}

// waitCredit polls the credit order until its state is want.
func (d *demo) waitCredit(orderNo, want string, limit time.Duration) (obj, error) {
	var c obj
	err := d.waitFor("credit order "+orderNo+" to be "+want, limit, func() (bool, error) {
		var err error
		c, err = d.call("GET", "/api/v1/credit/orders/"+orderNo, nil, 200)
		return err == nil && str(c, "state") == want, err
	})
	if err != nil && c != nil {
		err = fmt.Errorf("%w (last state %s)", err, str(c, "state"))
	}
	return c, err
}
