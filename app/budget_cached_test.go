package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// TestRoundTripBudgetCachedUser: a verified user's session, created as
// login creates it, carries the user's snapshot: a quote is then the
// session script and the INSERT (no user read), an order reads no user
// either (docs/performance.md, "Round-trip budget").
func TestRoundTripBudgetCachedUser(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { roundTripBudgetCached(t, false) })
	t.Run("mysql", func(t *testing.T) {
		modeltest.MySQLDSN(t) // skips without TEST_MYSQL_DSN
		roundTripBudgetCached(t, true)
	})
}

func roundTripBudgetCached(t *testing.T, mysql bool) {
	a, clock, _ := budgetApp(t, mysql)
	ctx := context.Background()
	u := budgetUser(t, a, clock, "obudget-cached")
	full, err := model.NewUserStore(a.DB).FindUserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	token, err := cache.NewSessionStore(a.Redis, clock).CreateSessionFor(ctx, full, clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tr := countTrips(t, a)
	call := func(path, body string, hdr map[string]string) (int, []byte) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		a.Handler.ServeHTTP(w, req)
		return w.Code, w.Body.Bytes()
	}

	month := clock.Now().In(service.Shanghai).Format("2006-01")
	tr.reset()
	code, body := call("/api/v1/quotes", fmt.Sprintf(`{"region":"beijing","person":"self","insurances":[{"type":"pension","base_fen":800000},{"type":"medical","base_fen":800000}],"start_month":%q,"months":1}`, month), nil)
	if code != http.StatusCreated {
		t.Fatalf("quote: %d %s", code, body)
	}
	sqls, cmds := tr.reset()
	t.Logf("quote: %d statements %q; %d redis %q", len(sqls), sqls, len(cmds), cmds)
	if len(sqls) > 1 || len(cmds) > 1 {
		t.Errorf("quote with a cached user: %d statements and %d redis commands, budget 1 (INSERT) and 1 (one script: session, its generation, rate limit, the user's snapshot)", len(sqls), len(cmds))
	}
	var q struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &q); err != nil || q.ID == "" {
		t.Fatalf("quote reply %s: %v", body, err)
	}

	code, body = call("/api/v1/orders", `{"quote_id":"`+q.ID+`"}`, map[string]string{"Idempotency-Key": "budget-cached-1"})
	if code != http.StatusCreated || !strings.Contains(string(body), `"paySign"`) {
		t.Fatalf("order: %d %s", code, body)
	}
	sqls, cmds = tr.reset()
	t.Logf("order: %d statements %q; %d redis %q", len(sqls), sqls, len(cmds), cmds)
	if n := countMatching(sqls, "FROM `users`", `FROM "users"`, "FROM users"); n > 0 {
		t.Errorf("order with a cached user read the user row %d times", n)
	}
	if budget := orderBudget(mysql); len(sqls) > budget || len(cmds) > 3 {
		t.Errorf("order with a cached user: %d statements and %d redis commands, budget %d and 3", len(sqls), len(cmds), budget)
	}
}
