package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shebao/sipay/service"
)

// residentID returns a valid 18-digit resident ID for the 17 leading digits.
var residentID = service.CompleteResidentID

func (d *demo) run() error {
	// ---- the happy path ---------------------------------------------
	// The platform simulator derives each person's record from the ID
	// number; about one in five has never joined medical insurance, which
	// Beijing requires together with pension. The demo keeps the first
	// simulated person insured for both.
	region := "beijing"
	prof, err := d.insuredPerson(region, "pension", "medical")
	if err != nil {
		return err
	}
	say("北京: current month %s, current due %s, arrears %s", str(prof, "current_month"), yuan(prof, "current_due_fen"), yuan(prof, "arrears_fen"))

	orderNo, err := d.quoteOrderPay(region, str(prof, "current_month"))
	if err != nil {
		return err
	}

	d.title("缴费成功通知 → 入账 (posting to the provincial platform)")
	order, err := d.waitStatus(orderNo, "posted", 60*time.Second)
	if err != nil {
		return err
	}
	b := list(order, "batches")[0]
	say("order %s is %s; transaction_id %s", orderNo, str(order, "status"), str(b, "transaction_id"))

	d.title("电子凭证 (fiscal e-receipt, acceptance receipt, transaction detail)")
	// Vouchers follow acceptance: the posting worker records "posted", then
	// issues them (idempotently, retried by its job), so they may trail the
	// status by a moment.
	var vouchers []obj
	if err := d.waitFor("the vouchers of "+orderNo, 30*time.Second, func() (bool, error) {
		vres, err := d.call("GET", "/api/v1/orders/"+orderNo+"/vouchers", nil, 200)
		if err != nil {
			return false, err
		}
		vouchers = list(vres, "vouchers")
		return len(vouchers) >= 3, nil
	}); err != nil && len(vouchers) == 0 {
		return err
	}
	if len(vouchers) != 3 {
		return fmt.Errorf("got %d vouchers, want 3", len(vouchers))
	}
	for _, v := range vouchers {
		say("%-20s %s  %s, kept until %s, code %s…", str(v, "kind"), str(v, "title"), yuan(v, "amount_fen"), orDash(str(v, "kept_until")), str(v, "verify_code")[:min(16, len(str(v, "verify_code")))])
	}
	code := str(vouchers[0], "verify_code")
	ver, err := d.call("GET", "/api/v1/vouchers/verify?code="+code, nil, 200)
	if err != nil {
		return err
	}
	if str(ver, "status") != "valid" {
		return fmt.Errorf("voucher verify says %q, want valid", str(ver, "status"))
	}
	say("verify: %s %s, %s, order %s (masked)", str(ver, "status"), str(ver, "title"), yuan(ver, "amount_fen"), str(ver, "order_no"))
	if _, err := d.call("GET", "/api/v1/vouchers/verify?code="+tamper(code), nil, 400); err != nil {
		return fmt.Errorf("a tampered voucher code was not refused: %w", err)
	}
	say("a tampered code is refused")
	if err := d.helpStep(orderNo); err != nil {
		return err
	}
	// The step-up part ends logged in as a fresh payer (the failure path
	// below runs as that payer), so it comes after the steps on orderNo.
	if err := d.evidenceAndStepUp(region, str(prof, "current_month"), code); err != nil {
		return err
	}

	// ---- the failure path ---------------------------------------------
	d.title("故障路径: the provincial platform goes down")
	clock, err := d.call("GET", "/sim/clock", nil, 200)
	if err != nil {
		return err
	}
	now, _ := time.Parse(time.RFC3339Nano, str(clock, "now"))
	if _, err := d.call("POST", "/sim/platform/down", obj{"from": now.Add(-time.Minute), "to": now.Add(74 * time.Hour)}, 200); err != nil {
		return err
	}
	say("platform down from %s for 74 hours (simulated clock)", now.Format(time.RFC3339))
	// The current month is paid (one open order per person, insurance and
	// month); the failure path prepays next month, within Beijing's window.
	cur, _ := time.Parse("2006-01", str(prof, "current_month"))
	orderNo2, err := d.quoteOrderPay(region, cur.AddDate(0, 1, 0).Format("2006-01"))
	if err != nil {
		return err
	}
	if _, err := d.waitStatus(orderNo2, "posting", 30*time.Second); err != nil {
		return err
	}
	say("order %s is posting: every attempt fails, retries follow the back-off schedule", orderNo2)

	d.title("72 小时后 → 原路退款")
	if err := d.advance("71h"); err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	o, err := d.call("GET", "/api/v1/orders/"+orderNo2, nil, 200)
	if err != nil {
		return err
	}
	if s := str(o, "status"); s != "posting" {
		return fmt.Errorf("at 71 h the order is %s, want still posting (no refund before 72 h)", s)
	}
	say("at +71 h: still %s (no refund before the deadline)", str(o, "status"))
	// At the deadline we stop posting and ask the platform to void the
	// posting. It is still down, so nobody knows whether it booked an
	// attempt: the money stays, the user sees 待确认, operations get one alert.
	o, err = d.advanceUntil("2h", orderNo2, "confirming")
	if err != nil {
		return err
	}
	say("at +73 h: %s (待确认): the platform is still down, so the void is unconfirmed and no money moves", str(o, "status"))
	o, err = d.advanceUntil("2h", orderNo2, "refunded")
	if err != nil {
		return err
	}
	say("at +75 h: the platform is back and confirms the void → %s", str(o, "status"))
	for _, e := range list(o, "timeline") {
		say("  %s  %-18s %s", str(e, "created_at"), str(e, "type"), str(e, "detail"))
	}
	ledger, err := d.call("GET", "/sim/pay/ledger", nil, 200)
	if err != nil {
		return err
	}
	refunds := 0
	for _, r := range list(ledger, "refunds") {
		if str(r, "status") == "SUCCESS" && str(r, "out_trade_no") == str(list(o, "batches")[0], "out_trade_no") {
			refunds++
		}
	}
	if refunds != 1 {
		return fmt.Errorf("WeChat Pay simulator ledger shows %d successful refunds for the batch, want exactly 1", refunds)
	}
	say("WeChat Pay ledger: exactly one refund, to the original route")
	return d.creditPay()
}

// quoteOrderPay quotes one month of pension + medical, orders it with an
// Idempotency-Key and pays it in the WeChat Pay simulator.
func (d *demo) quoteOrderPay(region, month string) (string, error) {
	d.title("报价 (quote)")
	q, err := d.call("POST", "/api/v1/quotes", obj{"region": region, "person": "self", "start_month": month, "months": 1,
		"insurances": []obj{{"type": "pension", "base_fen": 800000}, {"type": "medical", "base_fen": 800000}}}, 201)
	if err != nil {
		return "", err
	}
	for _, l := range list(q, "lines") {
		say("%-8s %s base %s × %s‱ = %s", str(l, "insurance"), str(l, "month"), yuan(l, "base_fen"), str(l, "rate_bp"), yuan(l, "amount_fen"))
	}
	say("total %s, payable %s, quote %s expires %s", yuan(q, "total_fen"), yuan(q, "payable_fen"), str(q, "id"), str(q, "expires_at"))

	d.title("下单 (order with an Idempotency-Key) and WeChat Pay prepay")
	key := "demo-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	o, err := d.call("POST", "/api/v1/orders", obj{"quote_id": str(q, "id")}, 201, "Idempotency-Key", key)
	if err != nil {
		return "", err
	}
	again, err := d.call("POST", "/api/v1/orders", obj{"quote_id": str(q, "id")}, 201, "Idempotency-Key", key)
	if err != nil {
		return "", err
	}
	if str(again, "order_no") != str(o, "order_no") {
		return "", fmt.Errorf("the same Idempotency-Key gave order %s then %s", str(o, "order_no"), str(again, "order_no"))
	}
	orderNo := str(o, "order_no")
	say("order %s, %s in %d batch(es); retry with the same key replays the same order", orderNo, yuan(o, "amount_fen"), len(list(o, "batches")))
	pp, _ := o["pay_params"].(map[string]any)
	say("wx.requestPayment params: package=%s signType=%s paySign=%s…", str(pp, "package"), str(pp, "signType"), str(pp, "paySign")[:16])

	d.title("在模拟器中支付 (the simulator plays wx.requestPayment; WeChat then notifies us)")
	if _, err := d.call("POST", "/sim/pay/request-payment", pp, 200); err != nil {
		return "", err
	}
	if _, err := d.waitStatus(orderNo, "paid|held|posting|posted", 30*time.Second); err != nil {
		return "", err
	}
	say("a signed TRANSACTION.SUCCESS notification arrived and was verified; the front end was never trusted")
	return orderNo, nil
}

// insuredPerson logs in and verifies simulated persons (at most 10) until
// one is insured in region for every one of funds, and returns that
// person's profile.
func (d *demo) insuredPerson(region string, funds ...string) (obj, error) {
	for attempt := 1; ; attempt++ {
		prof, err := d.loginAndVerify(region)
		if err != nil {
			return nil, err
		}
		missing := ""
		for _, f := range funds {
			if !insuredFor(prof, f) {
				missing = f
				break
			}
		}
		if missing == "" {
			return prof, nil
		}
		if attempt == 10 {
			return nil, fmt.Errorf("no simulated person insured for %s in 10 tries", strings.Join(funds, " and "))
		}
		say("this simulated person has no %s insurance in %s; trying another person", missing, region)
	}
}

// advance moves the simulated clock forward by a Go duration ("2h").
func (d *demo) advance(by string) error {
	_, err := d.call("POST", "/sim/clock/advance", obj{"duration": by}, 200)
	return err
}

// advanceUntil moves the simulated clock forward by and waits (up to 60 s)
// until the order's status is want.
func (d *demo) advanceUntil(by, orderNo, want string) (obj, error) {
	if err := d.advance(by); err != nil {
		return nil, err
	}
	return d.waitStatus(orderNo, want, 60*time.Second)
}

// waitStatus polls the order until its status is one of want ("a|b").
func (d *demo) waitStatus(orderNo, want string, limit time.Duration) (obj, error) {
	var o obj
	err := d.waitFor("order "+orderNo+" to be "+want, limit, func() (bool, error) {
		var err error
		o, err = d.call("GET", "/api/v1/orders/"+orderNo, nil, 200)
		if err != nil {
			return false, err
		}
		for _, w := range splitBar(want) {
			if str(o, "status") == w {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil && o != nil {
		err = fmt.Errorf("%w (last status %s)", err, str(o, "status"))
	}
	return o, err
}

func splitBar(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '|' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func tamper(code string) string {
	b := []byte(code)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func orDash(s string) string {
	if s == "" {
		return "长期"
	}
	return s
}

// loginAndVerify logs a new user in, verifies a fresh simulated person by
// face, reads the regions and returns the person's insured profile.
func (d *demo) loginAndVerify(region string) (obj, error) {
	d.token = ""
	d.title("登录 (wx.login → code2session)")
	d.code = "demo-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	res, err := d.call("POST", "/api/v1/auth/login", obj{"code": d.code}, 200)
	if err != nil {
		return nil, err
	}
	d.token = str(res, "token")
	say("user id %s, session expires %s (session_key stays on the server)", str(res, "user", "id"), str(res, "expires_at"))

	d.title("人脸核身 2.0 (getverifyid → wx.requestFacialVerify → queryverifyinfo)")
	idNo := residentID("11010519880312" + fmt.Sprintf("%03d", time.Now().Nanosecond()%1000))
	res, err = d.call("POST", "/api/v1/identity/face/start", obj{"name": "张三", "id_type": "resident_id", "id_number": idNo}, 200)
	if err != nil {
		return nil, err
	}
	verifyID := str(res, "verify_id")
	say("verify_id %s… valid %s s", verifyID[:min(12, len(verifyID))], str(res, "expires_in"))
	if _, err = d.call("POST", "/api/v1/identity/face/result", obj{"verify_id": verifyID}, 200); err != nil {
		return nil, err
	}
	me, err := d.call("GET", "/api/v1/me", nil, 200)
	if err != nil {
		return nil, err
	}
	if str(me, "verified") != "true" {
		return nil, fmt.Errorf("after face verification /me says verified=%s", str(me, "verified"))
	}
	say("verified as %s %s (masked; the ID number is encrypted at rest)", str(me, "identity", "name"), str(me, "identity", "id_number"))

	d.title("地区规则与参保信息")
	regions, err := d.call("GET", "/api/v1/regions", nil, 200)
	if err != nil {
		return nil, err
	}
	items := list(regions, "regions")
	if len(items) == 0 {
		return nil, fmt.Errorf("GET /api/v1/regions listed no regions")
	}
	say("%d regions, e.g. %s (%s)", len(items), str(items[0], "name"), str(items[0], "code"))
	return d.call("GET", "/api/v1/insured?region="+region+"&person=self", nil, 200)
}

// insuredFor reports whether the profile shows the insurance active.
func insuredFor(prof obj, insurance string) bool {
	for _, i := range list(prof, "insurances") {
		if str(i, "insurance") == insurance {
			return str(i, "status") == "active"
		}
	}
	return false
}
