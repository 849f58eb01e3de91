package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
)

// refNotifyOp posts the next notification of p to the reference server.
func refNotifyOp(p *notifyPool, c *http.Client, base string) op {
	return func(ctx context.Context, _ int) error {
		k := int(p.next.Add(1) - 1)
		if k >= len(p.items) {
			return errExhausted
		}
		it := p.items[k]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/notify", bytes.NewReader(it.body))
		if err != nil {
			return err
		}
		for name, v := range it.header {
			req.Header[name] = v
		}
		_, err = do(c, req, http.StatusNoContent)
		return err
	}
}

// refQuoteOp asks the reference server for the same quote as the real
// scenario, by the same users in turn.
func refQuoteOp(users []benchUser, c *http.Client, base string) op {
	return quoteOp(users, c, base+"/quotes", "reference quote")
}

// refOrderOp turns the next reference quote id into an order at the
// reference server (same amount, payer and month as the real scenario's
// quotes).
func refOrderOp(n int, users []benchUser, c *http.Client, base string) op {
	var next atomic.Int64
	return func(ctx context.Context, _ int) error {
		k := int(next.Add(1) - 1)
		if k >= n {
			return errExhausted
		}
		u := users[k%len(users)]
		body := fmt.Sprintf(`{"quote_id":"QREF%016d","amount_fen":140000,"openid":%q,"month":%q}`, k, u.OpenID, seedMonth(k, len(users)))
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/orders", bytes.NewReader([]byte(body)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := do(c, req, http.StatusCreated)
		if err != nil {
			return err
		}
		if !bytes.Contains(resp, []byte(`"paySign"`)) {
			return fmt.Errorf("reference order reply without paySign: %.200s", resp)
		}
		return nil
	}
}
