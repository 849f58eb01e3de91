package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/app/apptest"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/provsim"
)

const consoleOperatorToken = "alice-console-token-for-tests"

// consoleApp boots the App like simApp, with an operator "alice" for the
// console.
func consoleApp(tb testing.TB) (*app.App, *service.ManualClock) {
	tb.Helper()
	sum := sha256.Sum256([]byte(consoleOperatorToken))
	clock := service.NewManualClock(time.Now().UTC().Truncate(time.Second))
	a := apptest.New(tb, apptest.Options{Env: map[string]string{"WORKERS": "off", "PUBLIC_BASE_URL": "http://127.0.0.1:9",
		"OPS_OPERATORS": "alice:" + hex.EncodeToString(sum[:])}, App: app.Options{Clock: clock}})
	return a, clock
}

// residentID builds a valid 18-digit resident ID number from a 17-digit body.
var residentID = service.CompleteResidentID

// browserPath finds Debian's chromium (or CHROME_PATH).
func browserPath() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts headless chromium with a fresh profile. The test is
// skipped only when no browser is installed and REQUIRE_BROWSER is unset.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := browserPath()
	if path == "" {
		if os.Getenv("REQUIRE_BROWSER") != "" {
			t.Fatal("REQUIRE_BROWSER is set but no chromium was found (apt-get install chromium)")
		}
		t.Skip("no chromium installed; set REQUIRE_BROWSER=1 to make this a failure")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.WindowSize(1200, 900),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shot saves a PNG of the page to CONSOLE_SCREENSHOTS (docs/console when
// refreshing the README's pictures) or a temporary directory.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(png) < 1000 {
		t.Fatalf("screenshot %s: %d bytes", name, len(png))
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatalf("read page: %v", err)
	}
	return s
}

// TestConsoleInBrowserReleasesAHeldPaymentAndShowsItPosted drives the
// operations console in headless chromium against the real flow: a payment
// over the risk-hold amount is paid at the WeChat Pay simulator and held by
// the posting worker; an operator signs in, releases it from the holds
// page, the worker posts it to the platform simulator and the order page
// shows it posted; the reconciliation page lists the day's differences.
func TestConsoleInBrowserReleasesAHeldPaymentAndShowsItPosted(t *testing.T) {
	bctx := newBrowser(t)
	a, clock := consoleApp(t)
	ctx := context.Background()
	dir := os.Getenv("CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}

	// The real flow: one ordinary payment (posted), one the platform
	// refuses (refunded), one it leaves pending (an unknown outcome), one
	// over the amount rule (held).
	okNo, _ := paidAsPerson(t, a, clock, "王五", residentID("11010119850101101"), 120000)
	rejNo, _ := paidAsPerson(t, a, clock, "李四"+provsim.MarkerNotInsured, residentID("11010119860202202"), 90000)
	pendNo, _ := paidAsPerson(t, a, clock, "赵六"+provsim.MarkerPending, residentID("11010119870303304"), 150000)
	heldNo, heldOTN := paidAsPerson(t, a, clock, "张三", residentID("11010119870303305"), 2500000)
	if _, err := a.After.Posting.RunOnce(ctx); err != nil {
		t.Fatalf("posting: %v", err)
	}
	for i := 0; i < 3 && batchStatus(t, a, rejNo) != service.StatusRefunded; i++ {
		if _, err := a.After.Refunds.RunOnce(ctx); err != nil {
			t.Fatalf("refunds: %v", err)
		}
		clock.Advance(service.RefundPollProcessing)
	}
	for no, want := range map[string]service.OrderStatus{okNo: service.StatusPosted, pendNo: service.StatusPosting, rejNo: service.StatusRefunded, heldNo: service.StatusHeld} {
		if got := batchStatus(t, a, no); got != want {
			ev, _ := model.NewOrderStore(a.DB).OrderEvents(ctx, no)
			p, _ := model.NewAfterStore(a.DB).FindPosting(ctx, service.OutTradeNo(no, 1))
			t.Fatalf("order %s: status %s, want %s; events %+v; posting %+v", no, got, want, ev, p)
		}
	}
	// A payment WeChat has and we never booked: reconciliation must list it.
	stray := "SPSTRAY" + time.Now().Format("150405") + "_01"
	pp, err := a.Pay.Prepay(ctx, service.Prepay{OutTradeNo: stray, Description: "社保缴费", PayerOpenID: "openid-stray", AmountFen: 3300,
		ExpireAt: clock.Now().Add(30 * time.Minute)})
	if err != nil {
		t.Fatalf("prepay: %v", err)
	}
	if _, err := a.Sims.Pay.Pay(pp.PrepayID); err != nil {
		t.Fatalf("pay: %v", err)
	}

	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	base := srv.URL

	// Sign in as alice.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/ops/"),
		chromedp.WaitVisible(chromedp.ID("token")),
	); err != nil {
		t.Fatalf("open console: %v", err)
	}
	shot(t, bctx, dir, "login")
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.ID("operator"), "alice"),
		chromedp.SendKeys(chromedp.ID("token"), consoleOperatorToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("kpi-h")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if s := bodyText(t, bctx); !strings.Contains(s, "alice") || !strings.Contains(s, heldOTN) {
		t.Fatalf("dashboard lacks the operator or the held payment:\n%s", s)
	}
	shot(t, bctx, dir, "dashboard")

	// Release the held payment from the holds page, with the keyboard-
	// reachable button the page labels with its out_trade_no.
	release := `button[aria-label="放行 ` + heldOTN + `"]`
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/ops/holds"),
		chromedp.WaitVisible(chromedp.CSS(release)),
	); err != nil {
		t.Fatalf("holds page: %v", err)
	}
	shot(t, bctx, dir, "holds")
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(release)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	); err != nil {
		t.Fatalf("release: %v", err)
	}
	if s := bodyText(t, bctx); !strings.Contains(s, "已放行") || strings.Contains(s, heldOTN) {
		t.Fatalf("after release the page should confirm and no longer list %s:\n%s", heldOTN, s)
	}
	if got := batchStatus(t, a, heldNo); got == service.StatusHeld {
		t.Fatalf("batch still held after the release")
	}

	// The posting worker books it; the order page shows it posted.
	if _, err := a.After.Posting.RunOnce(ctx); err != nil {
		t.Fatalf("posting: %v", err)
	}
	if got := batchStatus(t, a, heldNo); got != service.StatusPosted {
		t.Fatalf("released batch: %s, want posted", got)
	}
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/ops/orders"),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), heldOTN),
		chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(chromedp.CSS(`ol.timeline`)),
	); err != nil {
		t.Fatalf("order search: %v", err)
	}
	s := bodyText(t, bctx)
	if !strings.Contains(s, heldNo) || !strings.Contains(s, "已入账") || !strings.Contains(s, "ops:alice") {
		t.Fatalf("order page should show %s posted and released by ops:alice:\n%s", heldNo, s)
	}
	if strings.Contains(s, residentID("11010119870303305")) || !strings.Contains(s, "张*") {
		t.Fatalf("order page must mask the person until revealed:\n%s", s)
	}
	shot(t, bctx, dir, "order")

	// Reconciliation of today: WeChat's bill against our books.
	today := service.Day(clock.Now())
	if _, err := a.After.Recon.Reconcile(ctx, clock.Now()); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/ops/recon?date="+today),
		chromedp.WaitVisible(chromedp.ID("date")),
	); err != nil {
		t.Fatalf("recon page: %v", err)
	}
	if s := bodyText(t, bctx); !strings.Contains(s, stray) || !strings.Contains(s, "账单行数") {
		t.Fatalf("recon page should list the stray payment %s:\n%s", stray, s)
	}
	shot(t, bctx, dir, "recon")

	// The other pages render with the same data.
	for _, p := range []struct{ path, name, want string }{
		{"/ops/refunds?status=all", "refunds", rejNo},
		{"/ops/alerts?status=all", "alerts", "告警"},
		{"/ops/unknown", "unknown", pendNo},
		{"/ops/audit", "audit", "release_hold"},
	} {
		if err := chromedp.Do(bctx, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		if s := bodyText(t, bctx); !strings.Contains(s, p.want) {
			t.Fatalf("%s should show %q:\n%s", p.path, p.want, s)
		}
		shot(t, bctx, dir, p.name)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/ops/"), chromedp.WaitVisible(chromedp.ID("kpi-h"))); err != nil {
		t.Fatal(err)
	}
	shot(t, bctx, dir, "dashboard")

	// Keyboard: the first Tab reaches the skip link, the next the first
	// navigation link; Enter on a focused link follows it.
	focused := func() string {
		s, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.textContent.trim() : ""`))
		if err != nil {
			t.Fatalf("active element: %v", err)
		}
		return s
	}
	if err := chromedp.Do(bctx, chromedp.KeyEvent("\t")); err != nil {
		t.Fatal(err)
	}
	if got := focused(); got != "跳到主要内容" {
		t.Fatalf("first Tab focuses %q, want the skip link", got)
	}
	for i := 0; i < 3; i++ { // skip link, 概览, 风控冻结
		if err := chromedp.Do(bctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
	}
	if got := focused(); got != "结果未知" {
		t.Fatalf("fourth Tab focuses %q, want the third navigation link", got)
	}
	if err := chromedp.Do(bctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS(`a[href="/ops/unknown"][aria-current="page"]`))); err != nil {
		t.Fatalf("Enter on a navigation link: %v", err)
	}

	// 200 % zoom of a 1200 px window is a 600 CSS px viewport: no page may
	// need horizontal scrolling (wide tables scroll inside their own box).
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(600, 900)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/ops/", "/ops/holds?status=", "/ops/unknown", "/ops/refunds?status=all", "/ops/alerts?status=all",
		"/ops/recon?date=" + today, "/ops/orders/" + heldNo, "/ops/audit"} {
		if err := chromedp.Do(bctx, chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
			t.Fatal(err)
		}
		over, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		if err != nil {
			t.Fatal(err)
		}
		if over {
			t.Errorf("%s scrolls sideways at 600 CSS px (200%% zoom)", p)
		}
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/ops/holds?status="), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
		t.Fatal(err)
	}
	shot(t, bctx, dir, "holds-zoom200")

	// The release is in the audit trail under the operator's name, written
	// by the same AdminService the JSON API uses.
	es, err := model.NewAfterStore(a.DB).FindAudit(ctx, heldOTN, 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range es {
		found = found || (e.Action == "release_hold" && e.Actor == "ops:alice")
	}
	if !found {
		t.Fatalf("audit for %s: %+v, want release_hold by ops:alice", heldOTN, es)
	}
}

// TestConsoleInBrowserShowsAnOverdueTicketAndAnswersIt drives the ticket
// desk in headless chromium: a ticket opened from a paid order passes its
// 45-minute first-response SLA on the moved clock and is marked overdue
// above a fresh one; the operator replies from the ticket page, sees it
// answered, and finds the reply in the audit log under their name.
func TestConsoleInBrowserShowsAnOverdueTicketAndAnswersIt(t *testing.T) {
	bctx := newBrowser(t)
	a, clock := consoleApp(t)
	ctx := context.Background()
	dir := os.Getenv("CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}

	orderNo, _ := paidAsPerson(t, a, clock, "孙七", residentID("11010119880404406"), 120000)
	o, err := model.NewOrderStore(a.DB).FindOrder(ctx, orderNo)
	if err != nil {
		t.Fatal(err)
	}
	late, err := a.Help.Tickets.Open(ctx, o.UserID, service.TicketInput{OrderNo: orderNo, Category: "payment", Body: "付款成功但社保没有到账"})
	if err != nil {
		t.Fatalf("open ticket: %v", err)
	}
	clock.Advance(service.TicketSLA + time.Minute) // HELP_HOURS 24x7: one minute overdue
	if n, err := a.Help.Tickets.SweepSLA(ctx); err != nil || n != 1 {
		t.Fatalf("SLA sweep: %d, %v; want the ticket marked breached", n, err)
	}
	fresh, err := a.Help.Tickets.Open(ctx, o.UserID, service.TicketInput{Category: "refund", Body: "退款多久到账"})
	if err != nil {
		t.Fatalf("open ticket: %v", err)
	}

	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	base := srv.URL
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/ops/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("operator"), "alice"),
		chromedp.SendKeys(chromedp.ID("token"), consoleOperatorToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("kpi-h")),
		chromedp.Click(chromedp.CSS(`nav a[href="/ops/tickets"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ops/tickets/`+late.No+`"]`)),
	); err != nil {
		t.Fatalf("sign in and open the tickets page: %v", err)
	}
	row := func(no string) string {
		s, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('a[href="/ops/tickets/`+no+`"]').closest('tr').innerText`))
		if err != nil {
			t.Fatalf("row of %s: %v", no, err)
		}
		return s
	}
	if s := row(late.No); !strings.Contains(s, "已超时 1分钟") || !strings.Contains(s, "待处理") || !strings.Contains(s, orderNo) {
		t.Fatalf("overdue ticket row: %q, want it marked 已超时 1分钟", s)
	}
	if s := row(fresh.No); !strings.Contains(s, "剩余 45分钟") || strings.Contains(s, "已超时") {
		t.Fatalf("fresh ticket row: %q, want 45 minutes left", s)
	}
	order, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('tbody th a')].map(a => a.textContent)`))
	if err != nil || len(order) != 2 || order[0] != late.No {
		t.Fatalf("queue order %v (%v), want the overdue ticket first", order, err)
	}
	shot(t, bctx, dir, "tickets")

	// Reply from the ticket page.
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`a[href="/ops/tickets/`+late.No+`"]`)),
		chromedp.WaitVisible(chromedp.ID("body")),
		chromedp.SendKeys(chromedp.ID("body"), "已联系经办机构，今日内入账"),
		chromedp.Submit(chromedp.ID("body")),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	); err != nil {
		t.Fatalf("reply: %v", err)
	}
	status, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelectorAll('dl.facts dd')[1].textContent`))
	if err != nil || status != "已回复" {
		t.Fatalf("status after the reply: %q (%v), want 已回复", status, err)
	}
	if s := bodyText(t, bctx); !strings.Contains(s, "已联系经办机构，今日内入账") || !strings.Contains(s, "（超时后）") || !strings.Contains(s, "孙*") || strings.Contains(s, "孙七") {
		t.Fatalf("ticket page after the reply should show it, the late first response and the masked person:\n%s", s)
	}
	shot(t, bctx, dir, "ticket")
	if got, err := a.Help.Tickets.AdminTicket(ctx, "test", late.No); err != nil || got.Status != service.TicketAnswered {
		t.Fatalf("ticket after the reply: %+v, %v; want answered", got, err)
	}

	// The SLA alert links to the ticket.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/ops/alerts"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ops/tickets/`+late.No+`"]`)),
	); err != nil {
		t.Fatalf("alerts page should link the ticket_sla_breached alert to the ticket: %v", err)
	}

	// The reply is in the audit log under the operator.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/ops/audit?q=ticket:"+late.No),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)),
	); err != nil {
		t.Fatal(err)
	}
	entries, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('tbody tr')].map(r => r.innerText)`))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		found = found || (strings.Contains(e, "ops:alice") && strings.Contains(e, "ticket_reply"))
	}
	if !found {
		t.Fatalf("audit page for ticket:%s: %q, want ticket_reply by ops:alice", late.No, entries)
	}

	// The credit-pay list renders; no page scrolls sideways at 200 % zoom.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/ops/credit"), chromedp.WaitVisible(chromedp.ID("state"))); err != nil {
		t.Fatalf("credit page: %v", err)
	}
	shot(t, bctx, dir, "credit")
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(600, 900)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/ops/tickets", "/ops/tickets/" + late.No, "/ops/credit"} {
		if err := chromedp.Do(bctx, chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
			t.Fatal(err)
		}
		over, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		if err != nil {
			t.Fatal(err)
		}
		if over {
			t.Errorf("%s scrolls sideways at 600 CSS px (200%% zoom)", p)
		}
	}
}
