package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/shebao/sipay/evidence"
)

// evidenceAndStepUp shows the payment evidence (存证) of the posted order
// whose voucher code is code, checked offline, and the step-up face
// verification (生物识别二次验证) that releases a held payment. It ends
// logged in as a fresh user, so the failure path that follows pays as
// someone without a payment today (the demo server holds a payer's second
// payment of the day: HOLD_VELOCITY_PER_DAY=1).
func (d *demo) evidenceAndStepUp(region, month, code string) error {
	d.title("存证 (tamper-evident evidence: the record, its Merkle inclusion proof, a signed tree head)")
	var raw []byte
	err := d.waitFor("the evidence record", 60*time.Second, func() (bool, error) {
		status, body, err := d.get("/api/v1/evidence/" + code)
		if err != nil {
			return false, err
		}
		switch {
		case status == http.StatusOK:
			raw = body
			return true, nil
		case status == http.StatusNotFound && strings.Contains(string(body), "evidence_not_found"):
			return false, nil // recorded by the evidence worker within seconds
		}
		return false, fmt.Errorf("GET /api/v1/evidence/…: status %d: %s", status, body)
	})
	if err != nil {
		return err
	}
	var b evidence.Bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return fmt.Errorf("evidence bundle: %w", err)
	}
	// The demo takes the key from the bundle; a real verifier pins the key
	// the operator published (docs/evidence.md).
	pub := base64.StdEncoding.EncodeToString(b.PublicKey)
	r, err := evidence.Verify(b, b.PublicKey)
	if err != nil {
		return fmt.Errorf("the evidence bundle does not verify: %w", err)
	}
	say("record: batch %s, %s, transaction %s, platform reference %s, %d voucher hashes",
		r.OutTradeNo, yuanOf(r.AmountFen), r.TransactionID, r.PlatformReference, len(r.Vouchers))
	say("leaf %d of a tree of %d, %d proof hashes, tree head signed %s by key %s",
		b.LeafIndex, b.TreeHead.Size, len(b.Proof), b.TreeHead.Timestamp.Format(time.RFC3339), b.TreeHead.KeyID)
	if f, err := os.CreateTemp("", "sipay-evidence-*.json"); err == nil {
		f.Write(raw)
		f.Close()
		say("offline: go run ./cmd/evidence-verify -pubkey %s %s", pub, f.Name())
	}
	forged := b
	forged.Record = []byte(strings.Replace(string(b.Record), fmt.Sprintf(`"amount_fen":%d`, r.AmountFen), fmt.Sprintf(`"amount_fen":%d`, r.AmountFen-1), 1))
	if _, err := evidence.Verify(forged, b.PublicKey); err == nil {
		return fmt.Errorf("a record with its amount lowered by 1 fen still verified")
	}
	say("the same record with 1 fen less does not verify")

	d.title("资金冻结 → 生物识别二次验证 (a held payment released by the payer's fresh face verification)")
	next, _ := time.Parse("2006-01", month)
	orderNo, err := d.quoteOrderPay(region, next.AddDate(0, 1, 0).Format("2006-01"))
	if err != nil {
		return err
	}
	o, err := d.waitStatus(orderNo, "held|posting|posted", 30*time.Second)
	if err != nil {
		return err
	}
	if str(o, "status") != "held" {
		say("order %s was not held (the server's HOLD_* rules); nothing to step up", orderNo)
	} else {
		b0 := list(o, "batches")[0]
		choice, _ := b0["hold_choice"].(map[string]any)
		if str(choice, "choice") != "step_up" {
			return fmt.Errorf("held batch offers %q, want step_up: %v", str(choice, "choice"), choice)
		}
		say("held until %s; the order view offers: %s", str(b0, "held_until"), str(choice, "note"))
		st, err := d.call("POST", "/api/v1/orders/"+orderNo+"/batches/1/step-up", nil, 200)
		if err != nil {
			return err
		}
		say("step-up attempt %s started for the identity of the original verification; %s attempt(s) left", str(st, "attempt_no"), str(st, "attempts_left"))
		res, err := d.call("POST", "/api/v1/orders/"+orderNo+"/batches/1/step-up/result", obj{"verify_id": str(st, "verify_id")}, 200)
		if err != nil {
			return err
		}
		if str(res, "released") != "true" {
			return fmt.Errorf("step-up passed but the hold is %s", str(res, "hold_status"))
		}
		say("verified by WeChat (verify_ret 10000, same cert_hash and person): hold %s", str(res, "hold_status"))
		if _, err := d.waitStatus(orderNo, "posted", 60*time.Second); err != nil {
			return err
		}
		say("order %s is posted; the release is in the audit log as stepup_passed", orderNo)
	}

	// A fresh payer for the failure path (see above).
	for attempt := 1; ; attempt++ {
		prof, err := d.loginAndVerify(region)
		if err != nil {
			return err
		}
		if insuredFor(prof, "pension") && insuredFor(prof, "medical") {
			return nil
		}
		if attempt == 10 {
			return fmt.Errorf("no simulated person insured for pension and medical in 10 tries")
		}
	}
}

// get sends an authenticated GET and returns the status and raw body.
func (d *demo) get(path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(d.ctx, "GET", d.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	res, err := d.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, body, err
}

func yuanOf(fen int64) string { return fmt.Sprintf("%d.%02d 元", fen/100, fen%100) }
