package securitytest

import (
	"net/http"
	"strings"
	"testing"
)

// helpOwnershipCases are the ownership cases of customer service and
// notifications (FAQ, order help, lapse reminders, tickets): user B never
// reaches A's orders, persons or tickets.
func helpOwnershipCases() []ownershipCase {
	return []ownershipCase{
		{"GET /api/v1/help/for/orders/:order_no", func(t *testing.T, f *fixture) {
			for _, no := range []string{f.order1, f.order2} {
				f.notFound(t, "B asks help for A's order", f.e.do(t, "GET", "/api/v1/help/for/orders/"+no, f.b, nil))
			}
		}},
		{"POST /api/v1/lapse-reminders", func(t *testing.T, f *fixture) {
			f.notFound(t, "B opts in for A's mother", f.e.do(t, "POST", "/api/v1/lapse-reminders", f.b,
				map[string]string{"region": "beijing", "person": f.mumBinding}))
		}},
		{"DELETE /api/v1/lapse-reminders/:region/:person", func(t *testing.T, f *fixture) {
			want(t, "A opts in for her mother", f.e.do(t, "POST", "/api/v1/lapse-reminders", f.a,
				map[string]string{"region": "beijing", "person": f.mumBinding}), http.StatusOK, "")
			f.notFound(t, "B opts A's mother out", f.e.do(t, "DELETE", "/api/v1/lapse-reminders/beijing/"+f.mumBinding, f.b, nil))
			if r := f.e.do(t, "GET", "/api/v1/lapse-reminders", f.a, nil); !strings.Contains(r.raw, `"region":"beijing"`) {
				t.Errorf("A's reminders after B's DELETE = %s, want still there", r.raw)
			}
		}},
		{"GET /api/v1/lapse-reminders", func(t *testing.T, f *fixture) {
			f.e.do(t, "POST", "/api/v1/lapse-reminders", f.a, map[string]string{"region": "beijing", "person": "self"})
			r := f.e.do(t, "GET", "/api/v1/lapse-reminders", f.b, nil)
			want(t, "B's reminders", r, http.StatusOK, "")
			if strings.Contains(r.raw, "beijing") {
				t.Errorf("B's reminders = %s, want none of A's", r.raw)
			}
		}},
		{"POST /api/v1/tickets", func(t *testing.T, f *fixture) {
			f.notFound(t, "B opens a ticket on A's order", f.e.do(t, "POST", "/api/v1/tickets", f.b,
				map[string]string{"order_no": f.order1, "category": "delay", "body": "查一下"}))
		}},
		{"GET /api/v1/tickets", func(t *testing.T, f *fixture) {
			no := f.aTicket(t)
			r := f.e.do(t, "GET", "/api/v1/tickets", f.b, nil)
			want(t, "B's tickets", r, http.StatusOK, "")
			if strings.Contains(r.raw, no) || strings.Contains(r.raw, f.order1) {
				t.Errorf("B's tickets = %s, want none of A's", r.raw)
			}
		}},
		{"GET /api/v1/tickets/:ticket_no", func(t *testing.T, f *fixture) {
			f.notFound(t, "B reads A's ticket", f.e.do(t, "GET", "/api/v1/tickets/"+f.aTicket(t), f.b, nil))
		}},
		{"POST /api/v1/tickets/:ticket_no/messages", func(t *testing.T, f *fixture) {
			f.notFound(t, "B writes on A's ticket", f.e.do(t, "POST", "/api/v1/tickets/"+f.aTicket(t)+"/messages", f.b, map[string]string{"body": "hi"}))
		}},
		{"POST /api/v1/tickets/:ticket_no/status", func(t *testing.T, f *fixture) {
			f.notFound(t, "B resolves A's ticket", f.e.do(t, "POST", "/api/v1/tickets/"+f.aTicket(t)+"/status", f.b, map[string]string{"status": "resolved"}))
		}},
	}
}

// helpSelfOnlyRoutes read or change only the caller's own data.
var helpSelfOnlyRoutes = []string{
	"GET /api/v1/help/search",   // the knowledge base, worded by the caller's care mode
	"GET /api/v1/subscriptions", // the caller's own grants
	"POST /api/v1/subscriptions",
}

// aTicket opens a ticket of A's on order1 and returns its number.
func (f *fixture) aTicket(t *testing.T) string {
	t.Helper()
	r := f.e.do(t, "POST", "/api/v1/tickets", f.a, map[string]string{"order_no": f.order1, "category": "delay", "body": "缴费没到账"})
	want(t, "A opens a ticket", r, http.StatusCreated, "")
	return r.str("ticket_no")
}
