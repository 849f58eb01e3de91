package securitytest

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/sim/provsim"
)

// Personal data of the PII flow. Every string here must never be stored or
// logged in plaintext.
var (
	piiSelfName   = "慕容秀"
	piiSelfID     = residentID("11010519721212567") // ends in a letter or digit; both cases are checked
	piiMumName    = "慕容欠费"                          // the simulated platform gives her six months of arrears
	piiMumID      = residentID("11010519480202345")
	piiSpouseName = "端木青"
	piiSpouseID   = "830000199201300022" // Taiwan residence permit
	piiPhone      = "13987654321"
	piiBadName    = "司马无效"
	piiBadID      = "110101199003071234" // wrong check character
	piiCancelName = "上官取消"               // the face simulator cancels
	piiCancelID   = residentID("11010519660606789")
)

// piiFlow runs everything a user does, with personal data in every request
// that takes it: face verification (a cancelled attempt and a success),
// invalid requests, family bindings with both consent paths (the member's
// own face verification; an SMS check with a phone number), insured
// profiles, quotes with arrears, orders, payment in the simulator and
// cancellation.
func piiFlow(t *testing.T, e *env) (orderNos, tokens []string) {
	t.Helper()
	tok := e.login(t, "pii-self")
	vid := e.faceStart(t, tok, piiCancelName, piiCancelID)
	if r := e.do(t, "POST", "/api/v1/identity/face/result", tok, map[string]string{"verify_id": vid}); r.status == http.StatusOK {
		t.Fatalf("cancelled face verification succeeded: %s", r.raw)
	}
	e.do(t, "POST", "/api/v1/identity/face/start", tok, map[string]string{"name": piiBadName, "id_type": "resident_id", "id_number": piiBadID})
	e.verify(t, tok, piiSelfName, strings.ToLower(piiSelfID))
	e.do(t, "POST", "/api/v1/family", tok, map[string]string{"name": piiBadName, "id_type": "resident_id", "id_number": piiBadID, "relation": "parent"})
	e.do(t, "POST", "/api/v1/family", tok, map[string]string{"name": piiBadName, "id_type": "resident_id", "id_number": piiMumID, "relation": "friend"})

	add := e.do(t, "POST", "/api/v1/family", tok, map[string]string{"name": piiMumName, "id_type": "resident_id", "id_number": piiMumID, "relation": "parent"})
	want(t, "add mother", add, http.StatusCreated, "")
	mum := add.str("id")
	mumTok := e.login(t, "pii-mum")
	tokens = []string{tok, mumTok}
	e.verify(t, mumTok, piiMumName, piiMumID)
	want(t, "mother accepts", e.do(t, "POST", "/api/v1/family/invitations/"+add.str("invitation")+"/accept", mumTok, nil), http.StatusOK, "")

	add = e.do(t, "POST", "/api/v1/family", tok, map[string]string{"name": piiSpouseName, "id_type": "taiwan_residence", "id_number": piiSpouseID, "relation": "spouse"})
	want(t, "add spouse", add, http.StatusCreated, "")
	spouse := add.str("id")
	start := e.do(t, "POST", "/api/v1/identity/alt/start", tok, map[string]string{"region": "beijing", "method": "sms", "purpose": "family",
		"name": piiSpouseName, "id_type": "taiwan_residence", "id_number": piiSpouseID, "phone": piiPhone})
	want(t, "sms check", start, http.StatusOK, "")
	e.do(t, "POST", "/api/v1/identity/alt/finish", tok, map[string]string{"check_id": start.str("check_id"), "secret": "000000"})
	want(t, "sms finish", e.do(t, "POST", "/api/v1/identity/alt/finish", tok, map[string]string{"check_id": start.str("check_id"), "secret": "123456"}), http.StatusOK, "")
	want(t, "spouse consent", e.do(t, "POST", "/api/v1/family/"+spouse+"/consent", tok, map[string]string{"check_id": start.str("check_id")}), http.StatusOK, "")

	for _, p := range []string{"self", mum, spouse} {
		want(t, "insured "+p, e.do(t, "GET", "/api/v1/insured?region=beijing&person="+p, tok, nil), http.StatusOK, "")
	}
	q := e.do(t, "POST", "/api/v1/quotes", tok, map[string]any{"region": "beijing", "person": mum, "start_month": "2026-11", "months": 1,
		"include_arrears": true, "insurances": []map[string]any{{"type": "pension", "base_fen": 727000}, {"type": "medical", "base_fen": 727000}}})
	want(t, "quote with arrears", q, http.StatusCreated, "")
	o := e.order(t, tok, q.str("id"), "pii-1")
	e.payInSimulator(t, tok, o)
	o2 := e.order(t, tok, e.do(t, "POST", "/api/v1/quotes", tok, quoteBody(spouse)).str("id"), "pii-2")
	want(t, "cancel", e.do(t, "POST", "/api/v1/orders/"+o2.str("order_no")+"/cancel", tok, nil), http.StatusOK, "")
	orderNos = []string{o.str("order_no"), o2.str("order_no")}
	// The workers post the paid order to the simulated platform (outbox,
	// postings, vouchers), or hold it for review (a family member's payment).
	status := e.waitStatus(t, tok, o.str("order_no"), "posted", "held").str("status")
	paths := []string{"/api/v1/me", "/api/v1/family", "/api/v1/orders", "/api/v1/orders/" + o.str("order_no"), "/api/v1/orders/" + o.str("order_no") + "/vouchers"}
	if status == "held" {
		t.Logf("the proxy payment is held for review; no vouchers yet")
	}

	// A payment the platform rejects is refunded; WeChat reports the refund
	// ABNORMAL, which raises an alert for operations.
	e.app.Sims.Platform.RejectPostings("not_insured", "平台拒绝受理")
	e.app.Sims.Pay.SetRefundBehavior("", paysim.RefundBehavior{EndStatus: "ABNORMAL"})
	o3 := e.order(t, tok, e.do(t, "POST", "/api/v1/quotes", tok, quoteBody("self")).str("id"), "pii-3")
	e.payInSimulator(t, tok, o3)
	admin := e.app.Cfg.AdminToken
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := e.send(t, req{method: "GET", path: "/api/v1/admin/alerts", token: admin, header: map[string]string{"X-Operator": "pii-test"}})
		want(t, "admin alerts", r, http.StatusOK, "")
		if strings.Contains(r.raw, "refund_abnormal") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no refund_abnormal alert after 30 s: %s", r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.app.Sims.Platform.SetPostingMode(provsim.ModeAccept)
	orderNos = append(orderNos, o3.str("order_no"))
	for _, path := range []string{"/api/v1/admin/alerts", "/api/v1/admin/holds", "/api/v1/admin/orders/" + o.str("order_no"), "/api/v1/admin/orders/" + o3.str("order_no")} {
		r := e.send(t, req{method: "GET", path: path, token: admin, header: map[string]string{"X-Operator": "pii-test"}})
		want(t, path, r, http.StatusOK, "")
		for _, s := range piiSecrets() {
			if strings.Contains(r.raw, s) {
				t.Errorf("GET %s (admin) shows plaintext %q", path, s)
			}
		}
	}
	paths = append(paths, "/api/v1/orders/"+o3.str("order_no"))
	for _, path := range paths {
		r := e.do(t, "GET", path, tok, nil)
		want(t, path, r, http.StatusOK, "")
		for _, s := range piiSecrets() {
			if strings.Contains(r.raw, s) {
				t.Errorf("GET %s shows plaintext %q", path, s)
			}
		}
	}
	return orderNos, tokens
}

func piiSecrets() []string {
	out := []string{piiPhone}
	for _, s := range []string{piiSelfName, piiSelfID, piiMumName, piiMumID, piiSpouseName, piiSpouseID, piiBadName, piiBadID, piiCancelName, piiCancelID} {
		out = append(out, s, strings.ToLower(s))
	}
	return out
}

// TestNoPlaintextPIIAnywhere runs piiFlow through the real App on SQLite
// and on MySQL, then reads every row of every table, every Redis key
// (sessions, idempotency replies, limits) and every log line (debug level,
// simulators included): no name, ID number or phone number
// may appear in plaintext.
func TestNoPlaintextPIIAnywhere(t *testing.T) {
	for _, db := range []string{"sqlite", "mysql"} {
		t.Run(db, func(t *testing.T) {
			e := newEnv(t, envOptions{mysql: db == "mysql", workers: true})
			orders, tokens := piiFlow(t, e)
			dump := dumpTables(t, e.app.DB)
			for _, no := range orders {
				if !strings.Contains(dump, no) {
					t.Fatalf("dump does not show order %s: rows are not being read", no)
				}
			}
			dump += dumpRedis(t, e.app.Redis)
			for _, table := range []string{"users", "persons", "family_bindings", "face_attempts", "identity_checks", "quotes", "orders",
				"batches", "payment_events", "outbox", "order_events", "postings", "refunds", "alerts", "vouchers", "audit_log"} {
				if rowsOf(dump, table) == 0 {
					t.Errorf("table %s is missing or empty after the flow; tables: %s", table, tableNames(dump))
				}
			}
			logs := e.logs.String()
			if !strings.Contains(logs, `"msg":"http"`) || strings.Count(logs, "\n") < 40 {
				t.Fatalf("log capture looks empty (%d lines)", strings.Count(logs, "\n"))
			}
			// Session tokens are credentials: Redis keys them by hash.
			for _, s := range append(piiSecrets(), tokens...) {
				if strings.Contains(dump, s) {
					t.Errorf("database or Redis holds plaintext %q: %s", s, around(dump, s))
				}
				if strings.Contains(logs, s) {
					t.Errorf("log holds plaintext %q: %s", s, around(logs, s))
				}
			}
		})
	}
}

// rowsOf counts the dumped rows of table.
func rowsOf(dump, table string) int {
	_, rest, ok := strings.Cut(dump, "\n"+table+":\n")
	if !ok || rest == "" || rest[0] == '\n' {
		return 0
	}
	if i := strings.Index(rest, "\n\n"); i >= 0 {
		rest = rest[:i+1]
	}
	return strings.Count(rest, "\n")
}

// around returns the line of text that holds s.
func around(text, s string) string {
	i := strings.Index(text, s)
	start := strings.LastIndex(text[:i], "\n") + 1
	end := strings.Index(text[i:], "\n")
	if end < 0 {
		end = len(text) - i
	}
	line := text[start : i+end]
	if len(line) > 400 {
		line = line[:400] + "…"
	}
	return line
}

func tableNames(dump string) string {
	var names []string
	for _, l := range strings.Split(dump, "\n") {
		if strings.HasSuffix(l, ":") && !strings.Contains(l, " ") {
			names = append(names, strings.TrimSuffix(l, ":"))
		}
	}
	return strings.Join(names, ",")
}

// dumpRedis returns every string and hash in Redis as text.
func dumpRedis(tb testing.TB, rdb redis.UniversalClient) string {
	tb.Helper()
	ctx := context.Background()
	var out strings.Builder
	out.WriteString("\nredis:\n")
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		tb.Fatal(err)
	}
	if len(keys) == 0 {
		tb.Fatalf("redis holds no keys; want sessions at least")
	}
	for _, k := range keys {
		fmt.Fprintf(&out, "%s ", k)
		switch rdb.Type(ctx, k).Val() {
		case "string":
			out.WriteString(rdb.Get(ctx, k).Val())
		case "hash":
			fmt.Fprint(&out, rdb.HGetAll(ctx, k).Val())
		case "list":
			fmt.Fprint(&out, rdb.LRange(ctx, k, 0, -1).Val())
		case "set":
			fmt.Fprint(&out, rdb.SMembers(ctx, k).Val())
		case "zset":
			fmt.Fprint(&out, rdb.ZRange(ctx, k, 0, -1).Val())
		}
		out.WriteString("\n")
	}
	return out.String()
}

// dumpTables returns every row of every table (listed by the database) as
// text, one "table:" header line per table.
func dumpTables(tb testing.TB, db *model.DB) string {
	tb.Helper()
	var tables []string
	q := "SELECT name FROM sqlite_master WHERE type = 'table'"
	if db.Dialect == model.MySQL {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
	}
	if err := db.Raw(q).Scan(&tables).Error; err != nil {
		tb.Fatal(err)
	}
	if len(tables) < 8 {
		tb.Fatalf("database lists %d tables: %v", len(tables), tables)
	}
	sqlDB, err := db.DB.DB()
	if err != nil {
		tb.Fatal(err)
	}
	var out strings.Builder
	for _, table := range tables {
		out.WriteString("\n" + table + ":\n")
		rows, err := sqlDB.Query("SELECT * FROM " + table)
		if err != nil {
			tb.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			for i, v := range vals {
				fmt.Fprintf(&out, "%s=%s ", cols[i], v)
			}
			out.WriteString("\n")
		}
		if err := rows.Err(); err != nil {
			tb.Fatal(err)
		}
		rows.Close()
	}
	return out.String()
}
