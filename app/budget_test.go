package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/app/apptest"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
)

// The round-trip budget of the hot requests (docs/performance.md, "Round-trip
// budget"), counted on the real handlers: every database statement through a
// GORM callback, BEGIN/COMMIT/ROLLBACK through a counting connection pool,
// every Redis command through a go-redis hook.

// trips records the round trips of one request.
type trips struct {
	mu    sync.Mutex
	sql   []string // "BEGIN", "COMMIT", "ROLLBACK" or the statement's SQL
	redis []string // command names; a pipeline is one entry "pipeline:a,b"
}

func (t *trips) addSQL(s string) {
	t.mu.Lock()
	t.sql = append(t.sql, s)
	t.mu.Unlock()
}

func (t *trips) reset() (sqls, cmds []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sqls, cmds = t.sql, t.redis
	t.sql, t.redis = nil, nil
	return sqls, cmds
}

// countingPool counts BEGIN on a GORM handle's pool; its transactions count
// COMMIT and ROLLBACK.
type countingPool struct {
	db *sql.DB
	t  *trips
}

func (p *countingPool) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, q)
}
func (p *countingPool) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return p.db.ExecContext(ctx, q, args...)
}
func (p *countingPool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return p.db.QueryContext(ctx, q, args...)
}
func (p *countingPool) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return p.db.QueryRowContext(ctx, q, args...)
}
func (p *countingPool) GetDBConn() (*sql.DB, error) { return p.db, nil }
func (p *countingPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	p.t.addSQL("BEGIN")
	tx, err := p.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, t: p.t}, nil
}

type countingTx struct {
	*sql.Tx
	t *trips
}

func (c *countingTx) Commit() error   { c.t.addSQL("COMMIT"); return c.Tx.Commit() }
func (c *countingTx) Rollback() error { c.t.addSQL("ROLLBACK"); return c.Tx.Rollback() }

// redisCounter is a go-redis hook recording every command.
type redisCounter struct{ t *trips }

func (redisCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h redisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if handshake(cmd.Name()) {
			return next(ctx, cmd) // a new connection's setup, not the request's
		}
		err := next(ctx, cmd)
		if cmd.Name() == "evalsha" && err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			// A script's first use on this Redis: go-redis sends it with
			// EVAL next, once per Redis lifetime. The EVAL is counted.
			return err
		}
		h.t.mu.Lock()
		h.t.redis = append(h.t.redis, cmd.Name())
		h.t.mu.Unlock()
		return err
	}
}
func (h redisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		setup := true
		for i, c := range cmds {
			names[i] = c.Name()
			setup = setup && handshake(c.Name())
		}
		if setup {
			return next(ctx, cmds)
		}
		h.t.mu.Lock()
		h.t.redis = append(h.t.redis, "pipeline:"+strings.Join(names, ","))
		h.t.mu.Unlock()
		return next(ctx, cmds)
	}
}

// handshake reports the commands go-redis sends when it opens a connection.
func handshake(name string) bool {
	switch name {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

// countTrips installs the counters on every database handle and on Redis.
func countTrips(tb testing.TB, a *app.App) *trips {
	tb.Helper()
	t := &trips{}
	record := func(db *gorm.DB) {
		if db.Statement != nil && db.Statement.SQL.Len() > 0 {
			t.addSQL(db.Statement.SQL.String())
		}
	}
	for _, h := range a.DB.Handles() {
		cb := h.Callback()
		for _, err := range []error{
			cb.Create().After("gorm:create").Register("budget:count", record),
			cb.Query().After("gorm:query").Register("budget:count", record),
			cb.Update().After("gorm:update").Register("budget:count", record),
			cb.Delete().After("gorm:delete").Register("budget:count", record),
			cb.Row().After("gorm:row").Register("budget:count", record),
			cb.Raw().After("gorm:raw").Register("budget:count", record),
		} {
			if err != nil {
				tb.Fatal(err)
			}
		}
		sqlDB, err := h.DB()
		if err != nil {
			tb.Fatal(err)
		}
		h.Statement.ConnPool = &countingPool{db: sqlDB, t: t}
		h.Config.ConnPool = h.Statement.ConnPool
	}
	a.Redis.AddHook(redisCounter{t})
	return t
}

// orderBudget is the statements of POST /orders when the user comes from
// the session's snapshot: the quote read, then the order's transaction.
// On MySQL that is one round trip (START TRANSACTION, the INSERTs of the
// order, month claims, batches and event, COMMIT); on the in-process SQLite
// BEGIN, 4 INSERTs and COMMIT go one by one.
func orderBudget(mysql bool) int {
	if mysql {
		return 2
	}
	return 7
}

// budgetApp boots the whole App in simulator mode (in-process Redis; MySQL
// when TEST_MYSQL_DSN is set, else SQLite) with workers off.
func budgetApp(tb testing.TB, mysql bool) (*app.App, *service.ManualClock, string) {
	tb.Helper()
	dir := tb.TempDir()
	clock := service.NewManualClock(time.Now().UTC().Truncate(time.Second))
	a := apptest.New(tb, apptest.Options{Env: map[string]string{"DATA_DIR": dir, "WORKERS": "off", "PUBLIC_BASE_URL": "http://127.0.0.1:9", "LOG_LEVEL": "error"},
		MySQL: mysql, App: app.Options{Clock: clock}})
	return a, clock, dir
}

// budgetUser stores a verified user, as after login and identity check:
// its person, and a verified face attempt (a method Beijing accepts;
// quotes and orders check it).
func budgetUser(t *testing.T, a *app.App, clock *service.ManualClock, openID string) *service.User {
	t.Helper()
	ctx := context.Background()
	p, err := model.NewPersonStore(a.DB, a.PII).EnsurePerson(ctx, service.Person{Name: "预算", IDType: service.IDResident,
		IDNumber: "32010219900101002X", Phone: "13900000000"})
	if err != nil {
		t.Fatal(err)
	}
	users := model.NewUserStore(a.DB)
	u, err := users.UpsertUserByOpenID(ctx, openID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := users.UpdateUser(ctx, u.ID, func(u *service.User) error { u.PersonID = p.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := a.DB.Exec(`INSERT INTO face_attempts (user_id, flow, out_seq_no, cert_enc, status, person_id, day, created_at, expires_at, updated_at)
		VALUES (?, 'v2', ?, 'x', ?, ?, ?, ?, ?, ?)`, u.ID, openID+"-seq", service.FaceVerified, p.ID, clock.Now().Format("2006-01-02"),
		clock.Now(), clock.Now(), clock.Now()).Error; err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRoundTripBudget(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { roundTripBudget(t, false) })
	t.Run("mysql", func(t *testing.T) {
		modeltest.MySQLDSN(t) // skips without TEST_MYSQL_DSN
		roundTripBudget(t, true)
	})
}

func roundTripBudget(t *testing.T, mysql bool) {
	a, clock, dir := budgetApp(t, mysql)
	ctx := context.Background()
	u := budgetUser(t, a, clock, "obudget-user")
	token, err := cache.NewSessionStore(a.Redis, clock).CreateSession(ctx, u.ID, clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tr := countTrips(t, a)
	call := func(method, path, body string, hdr map[string]string) (int, []byte) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		a.Handler.ServeHTTP(w, req)
		return w.Code, w.Body.Bytes()
	}
	auth := map[string]string{"Authorization": "Bearer " + token}

	// Quote: the user row read at most once, one INSERT.
	month := clock.Now().In(service.Shanghai).Format("2006-01")
	tr.reset()
	code, body := call(http.MethodPost, "/api/v1/quotes", fmt.Sprintf(`{"region":"beijing","person":"self","insurances":[{"type":"pension","base_fen":800000},{"type":"medical","base_fen":800000}],"start_month":%q,"months":1}`, month), auth)
	if code != http.StatusCreated {
		t.Fatalf("quote: %d %s", code, body)
	}
	sqls, cmds := tr.reset()
	t.Logf("quote: %d statements %q; %d redis %q", len(sqls), sqls, len(cmds), cmds)
	if n := countMatching(sqls, "FROM `users`", `FROM "users"`, "FROM users"); n > 1 {
		t.Errorf("quote read the user row %d times, budget 1", n)
	}
	if n := countMatching(sqls, "BEGIN"); n != 0 {
		t.Errorf("quote opened %d transactions, budget 0 (one INSERT)", n)
	}
	// The user read (authentication) carries the person's ID type and
	// identity evidence: no person read, no evidence read.
	for _, q := range sqls {
		if !strings.Contains(q, "FROM users u") && (strings.Contains(q, "persons") || strings.Contains(q, "face_attempts") || strings.Contains(q, "identity_checks")) {
			t.Errorf("quote for self read %q besides the user read", q)
		}
	}
	if len(sqls) > 2 || len(cmds) > 1 {
		t.Errorf("quote: %d statements and %d redis commands, budget 2 (user with its person's ID type and evidence, INSERT) and 1 (one script: session, its generation, rate limit)", len(sqls), len(cmds))
	}
	var q struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &q); err != nil || q.ID == "" {
		t.Fatalf("quote reply %s: %v", body, err)
	}

	// Order: create, prepay, store the prepay_id; nothing read back.
	code, body = call(http.MethodPost, "/api/v1/orders", `{"quote_id":"`+q.ID+`"}`,
		map[string]string{"Authorization": auth["Authorization"], "Idempotency-Key": "budget-order-1"})
	if code != http.StatusCreated || !strings.Contains(string(body), `"paySign"`) {
		t.Fatalf("order: %d %s", code, body)
	}
	sqls, cmds = tr.reset()
	t.Logf("order: %d statements %q; %d redis %q", len(sqls), sqls, len(cmds), cmds)
	if n := countMatching(sqls, "FROM `users`", `FROM "users"`, "FROM users"); n > 1 {
		t.Errorf("order read the user row %d times, budget 1: the authenticated user is passed down", n)
	}
	if n := countMatching(sqls, "FOR UPDATE"); n > 0 {
		t.Errorf("order took %d row locks: a full UpdateBatch to store the prepay_id", n)
	}
	if i := indexMatching(sqls, "INSERT INTO `orders`", `INSERT INTO "orders"`, "INSERT INTO orders "); i < 0 {
		t.Errorf("order: no INSERT INTO orders")
	} else if n := countMatching(sqls[i:], "FROM `orders`", `FROM "orders"`, "FROM `batches`", `FROM "batches"`); n > 0 {
		t.Errorf("order read back orders or batches %d times after writing them", n)
	}
	// Batch 1 is prepaid before the order's one write: its prepay_id goes
	// in with the batch INSERT, and no statement updates it afterwards.
	if n := countMatching(sqls, "UPDATE batches", "UPDATE `batches`", `UPDATE "batches"`); n != 0 {
		t.Errorf("order: %d batch UPDATEs, want none (the prepay_id is written with the batch)", n)
	}
	for _, q := range sqls {
		if !strings.Contains(q, "FROM users u") && (strings.Contains(q, "face_attempts") || strings.Contains(q, "identity_checks")) {
			t.Errorf("order for self read %q besides the user read", q)
		}
	}
	if budget := orderBudget(mysql); len(sqls) > budget || len(cmds) > 3 {
		t.Errorf("order: %d statements and %d redis commands, budget %d (the user comes from its snapshot, stored by the quote's session lookup) and 3 (one script: session, its generation, rate limit; idempotency lock and save)", len(sqls), len(cmds), budget)
	}
	var o struct {
		Batches []struct {
			OutTradeNo string      `json:"out_trade_no"`
			AmountFen  service.Fen `json:"amount_fen"`
		} `json:"batches"`
	}
	if err := json.Unmarshal(body, &o); err != nil || len(o.Batches) != 1 {
		t.Fatalf("order reply %s: %v", body, err)
	}
	b := o.Batches[0]
	var prepayID string
	if err := a.DB.Raw("SELECT prepay_id FROM batches WHERE out_trade_no = ?", b.OutTradeNo).Scan(&prepayID).Error; err != nil || prepayID == "" {
		t.Fatalf("batch %s stored prepay_id %q (%v), want the prepay_id of the answer", b.OutTradeNo, prepayID, err)
	}
	tr.reset()

	// Notify, first delivery: BEGIN, one conditional UPDATE, the INSERTs in
	// one round trip (MySQL; one per table on the in-process SQLite),
	// COMMIT, and no Redis.
	keys, err := wxpay.LoadOrCreateDevKeys(filepath.Join(dir, "devkeys"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	res := map[string]any{"appid": keys.AppID, "mchid": keys.MchID, "out_trade_no": b.OutTradeNo, "transaction_id": "4200000000202612060000000001",
		"trade_type": "JSAPI", "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
		"success_time": now.In(service.Shanghai).Format(time.RFC3339), "payer": map[string]any{"openid": "obudget-user"},
		"amount": map[string]any{"total": b.AmountFen, "payer_total": b.AmountFen, "currency": "CNY", "payer_currency": "CNY"}}
	h, nb, err := wxpay.SignNotification("TRANSACTION.SUCCESS", res, "transaction", keys.PlatformKey, keys.PublicKeyID, keys.APIv3Key, now)
	if err != nil {
		t.Fatal(err)
	}
	deliver := func() (int, []string, []string) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/wxpay/notify", strings.NewReader(string(nb)))
		for k, v := range h {
			req.Header[k] = v
		}
		w := httptest.NewRecorder()
		a.Handler.ServeHTTP(w, req)
		s, c := tr.reset()
		return w.Code, s, c
	}
	code, sqls, cmds = deliver()
	if code != http.StatusNoContent {
		t.Fatalf("notify: %d", code)
	}
	t.Logf("notify: %d statements %q; %d redis %q", len(sqls), sqls, len(cmds), cmds)
	inserts := 1
	if !mysql {
		inserts = 3 // order_events, payment_events, outbox, one statement each
	}
	want := 3 + inserts
	if len(sqls) != want || sqls[0] != "BEGIN" || !strings.HasPrefix(sqls[1], "UPDATE batches SET status") ||
		!strings.Contains(sqls[1], "AND status = ? AND amount_fen = ?") || sqls[len(sqls)-1] != "COMMIT" ||
		countMatching(sqls[2:len(sqls)-1], "INSERT INTO") != inserts {
		t.Errorf("first notify: %q\nwant BEGIN, one conditional UPDATE of the batch, %d INSERT round trip(s), COMMIT", sqls, inserts)
	}
	if len(cmds) != 0 {
		t.Errorf("first notify made %d Redis calls %q, budget 0", len(cmds), cmds)
	}
	// The money moved, exactly once, and a repeat changes nothing.
	code, sqls, cmds = deliver()
	t.Logf("repeat notify: %d statements %q; %d redis %q", len(sqls), sqls, len(cmds), cmds)
	if code != http.StatusNoContent {
		t.Fatalf("repeat notify: %d", code)
	}
	ord, err := model.NewOrderStore(a.DB).FindOrder(ctx, strings.Split(b.OutTradeNo, "_")[0])
	if err != nil {
		t.Fatal(err)
	}
	if ord.Status != service.StatusPaid || ord.Batches[0].Status != service.StatusPaid {
		t.Errorf("after notify: order %s batch %s, want paid", ord.Status, ord.Batches[0].Status)
	}
	var jobs, events int64
	a.DB.Raw("SELECT COUNT(*) FROM outbox WHERE ref = ?", b.OutTradeNo).Scan(&jobs)
	a.DB.Raw("SELECT COUNT(*) FROM order_events WHERE type = 'paid'").Scan(&events)
	if jobs != 1 || events != 1 {
		t.Errorf("after two deliveries: %d posting jobs, %d paid events, want 1 and 1", jobs, events)
	}
}

func countMatching(ss []string, subs ...string) int {
	n := 0
	for _, s := range ss {
		for _, sub := range subs {
			if strings.Contains(s, sub) {
				n++
				break
			}
		}
	}
	return n
}

func indexMatching(ss []string, subs ...string) int {
	for i, s := range ss {
		for _, sub := range subs {
			if strings.Contains(s, sub) {
				return i
			}
		}
	}
	return -1
}
