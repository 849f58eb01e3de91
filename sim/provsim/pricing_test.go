package provsim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/regions"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/provsim"
)

// The simulator prices arrears by each region's rules in force that month
// (bounds, rate, base rule), not a fixed 20 %/8 %: every arrears line is
// self-consistent and within that month's bounds.
func TestSim_ArrearsPricedByTheRegionsRules(t *testing.T) {
	now := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	clock := service.NewManualClock(now)
	s := provsim.New(provsim.Config{Shared: creds, Clock: clock, Seed: 1})
	h := s.Handler()
	rs, err := regions.Load()
	if err != nil {
		t.Fatal(err)
	}
	floorLines := 0
	for _, c := range []struct{ code, id string }{{"hunan", "110101199003074514"}, {"hunan", "110101199003077777"}, {"hunan", "110101199003078888"},
		{"shanghai", "110101199003074514"}, {"beijing", "110101199003074514"}, {"guangdong-guangzhou", "110101199003074514"}} {
		code := c.code
		t.Run(code+"/"+c.id, func(t *testing.T) {
			body := `{"region":"` + code + `","person":{"name":"欠费张三","id_type":"resident_id","id_number":"` + c.id + `"}}`
			w := do(t, h, creds, clock.Now(), platform.NewNonce(), "POST", "/si/v1/profile", body)
			if w.Code != http.StatusOK {
				t.Fatalf("profile: %d %s", w.Code, w.Body)
			}
			var p platform.WireProfile
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			r, _ := service.FindRegion(rs, code)
			if len(p.Arrears) == 0 {
				t.Fatalf("got no arrears for a person marked 欠费")
			}
			for _, a := range p.Arrears {
				period, ok := r.PeriodFor(a.Month)
				rate, rok := r.RateFor(a.Insurance, a.Month)
				if !ok || !rok {
					t.Fatalf("arrears %+v in a month without rules", a)
				}
				if a.RateBP != rate.RateBP || a.AmountFen != int64(service.LineAmount(service.Fen(a.BaseFen), a.RateBP)) ||
					a.BaseFen < int64(period.MinFen) || a.BaseFen > int64(period.MaxFen) {
					t.Errorf("arrears %+v: want rate %d, amount = base × rate, base within %d-%d", a, rate.RateBP, period.MinFen, period.MaxFen)
				}
				if rate.BaseRule == service.BaseRuleFloor {
					floorLines++
					if a.BaseFen != int64(period.MinFen) {
						t.Errorf("arrears %+v: want the floor %d as base", a, period.MinFen)
					}
				}
			}
		})
	}
	if floorLines == 0 {
		t.Fatalf("got no Hunan medical arrears to check the floor rule on")
	}
}

// The simulator accepts exactly the prepayment window of the region's rule
// in force: Beijing cap 2 takes 2027-01 and refuses 2027-02; Hunan (no
// prepayment) refuses next month.
func TestSim_PrepaymentWindowFollowsTheRegion(t *testing.T) {
	now := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	clock := service.NewManualClock(now)
	s := provsim.New(provsim.Config{Shared: creds, Clock: clock, Seed: 1})
	h := s.Handler()
	post := func(key, region, month string) (int, string) {
		t.Helper()
		p := platform.WirePosting{IdempotencyKey: key, Region: region, OrderNo: "SI1", BatchSeq: 1, OutTradeNo: key, TransactionID: "T" + key,
			AmountFen: 145400, PaidAt: now.Format(time.RFC3339),
			Person: platform.WirePerson{Name: "张三", IDType: "resident_id", IDNumber: "110101199003074514"},
			Lines:  []platform.WireLine{{Insurance: "pension", Month: month, BaseFen: 727000, RateBP: 2000, AmountFen: 145400}}}
		b, _ := json.Marshal(p)
		r := httptest.NewRequest("POST", "/si/v1/postings", strings.NewReader(string(b)))
		platform.SignHeaders(r.Header, creds, clock.Now(), platform.NewNonce(), "POST", "/si/v1/postings", b)
		r.Header.Set(platform.HeaderIdempotencyKey, key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var res platform.WirePostingResult
		_ = json.Unmarshal(w.Body.Bytes(), &res)
		if w.Code >= 400 {
			return w.Code, errCode(t, w)
		}
		return w.Code, res.Status
	}
	if code, st := post("K1", "beijing", "2027-01"); code != http.StatusOK || st != string(service.PostingAccepted) {
		t.Fatalf("beijing 2027-01: got %d %s, want accepted", code, st)
	}
	if code, st := post("K2", "beijing", "2027-02"); code != http.StatusUnprocessableEntity || st != service.RejectMonthNotPayable {
		t.Fatalf("beijing 2027-02: got %d %s, want 422 month_not_payable", code, st)
	}
	if code, st := post("K3", "hunan", "2026-12"); code != http.StatusUnprocessableEntity || st != service.RejectMonthNotPayable {
		t.Fatalf("hunan 2026-12: got %d %s, want 422 month_not_payable", code, st)
	}
}
