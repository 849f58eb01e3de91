package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/service"
)

// quotesLoad prepares POST /api/v1/quotes: a verified user (round-robin
// over the seeded users, whose quote limit is 30 a minute each) asks for a
// one-month pension + medical quote in Jiangsu (free base mode, so the
// provincial platform is not called); the server resolves the person,
// prices, plans the batch and stores the quote. nil when the route is not
// mounted.
func quotesLoad(ctx context.Context, b *bench, rep *report, db *benchDB, rdb *redis.Client, srv *child, c *http.Client) (*load, error) {
	if !routeExists(ctx, c, srv.URL(), "/api/v1/quotes") {
		rep.note("quotes: POST /api/v1/quotes is not mounted in this build; skipped")
		return nil, nil
	}
	users, err := benchUsers(ctx, b, rep, db, rdb)
	if err != nil {
		return nil, err
	}
	return &load{"quotes", b.o.Conc, srv, quoteOp(users, c, srv.URL()+"/api/v1/quotes", "quote")}, nil
}

// quoteOp posts the same one-month Jiangsu quote (pension and medical on
// 5000 yuan: 1400 yuan payable) by the users in turn: the real scenario and
// its reference ask the very same thing.
func quoteOp(users []benchUser, c *http.Client, url, who string) op {
	month := time.Now().In(service.Shanghai).Format("2006-01")
	body := []byte(fmt.Sprintf(`{"region":"jiangsu","person":"self","insurances":[{"type":"pension","base_fen":500000},{"type":"medical","base_fen":500000}],"start_month":%q,"months":1}`, month))
	var next atomic.Int64
	return func(ctx context.Context, _ int) error {
		u := users[int(next.Add(1)-1)%len(users)]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+u.Token)
		resp, err := do(c, req, http.StatusCreated)
		if err != nil {
			return err
		}
		if !bytes.Contains(resp, []byte(`"payable_fen":140000`)) {
			return fmt.Errorf("%s reply without payable_fen 140000: %.200s", who, resp)
		}
		return nil
	}
}
