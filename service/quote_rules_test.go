package service_test

import (
	"context"
	"strings"
	"testing"

	"github.com/shebao/sipay/regions"
	"github.com/shebao/sipay/service"
)

// A past month is quotable only when the platform lists it as arrears; a
// person the platform lists as not insured gets no back-payment quote.
func TestCreateQuoteBackPaymentNeedsThePlatformsArrears(t *testing.T) {
	in := service.QuoteInput{Region: "beijing", Person: "self", Insurances: both(800000), StartMonth: "2024-01", Months: 3, IncludeArrears: true}
	t.Run("NotListed", func(t *testing.T) {
		e := newEnv(t)
		e.platform.profile = service.InsuredProfile{Insurances: []service.InsuranceStatus{
			{Insurance: "pension", Status: "active", PaidThrough: "2026-10"}, {Insurance: "medical", Status: "active", PaidThrough: "2026-10"}}}
		q, err := e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "beijing", Person: "self",
			Insurances: both(800000), StartMonth: "2026-11", Months: 1, IncludeArrears: true})
		if err != nil || len(q.Lines) != 2 {
			t.Fatalf("current month: got %v %v, want a quote of the current month only", q, err)
		}
		// 2024-01..03 are neither listed nor paid (paid through is later,
		// but the platform says what is owed): month_not_payable.
		e.platform.profile.Insurances = []service.InsuranceStatus{{Insurance: "pension", Status: "suspended", PaidThrough: "2023-06"},
			{Insurance: "medical", Status: "suspended", PaidThrough: "2023-06"}}
		q, err = e.svc.CreateQuote(context.Background(), 1, in)
		if q != nil || service.ErrorCode(err) != service.CodeMonthNotPayable || service.ErrorKind(err) != service.KindUnprocessable {
			t.Fatalf("got %+v %v, want 422 month_not_payable", q, err)
		}
		assertField(t, err, "start_month", service.FieldMonthNotPayable)
	})
	t.Run("NotInsured", func(t *testing.T) {
		e := newEnv(t)
		e.platform.profile = service.InsuredProfile{Insurances: []service.InsuranceStatus{
			{Insurance: "pension", Status: "not_insured"}, {Insurance: "medical", Status: "not_insured"}}}
		q, err := e.svc.CreateQuote(context.Background(), 1, in)
		if q != nil || service.ErrorCode(err) != service.CodeMonthNotPayable {
			t.Fatalf("got %+v %v, want month_not_payable", q, err)
		}
		assertField(t, err, "start_month", service.FieldNotInsured)
	})
	t.Run("MedicalNeverJoined", func(t *testing.T) {
		// A medical quote 28 months back for someone not in medical insurance.
		e := newEnv(t)
		e.persons.member = &service.Person{ID: 77, Name: "李四", IDType: service.IDResident, IDNumber: "110101199003078888"}
		e.platform.base = 551000
		e.platform.profile = service.InsuredProfile{Insurances: []service.InsuranceStatus{
			{Insurance: "pension", Status: "active", PaidThrough: "2026-10"}, {Insurance: "medical", Status: "not_insured"}}}
		q, err := e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "guangdong-guangzhou", Person: "7",
			Insurances: []service.InsuranceChoice{{Type: "medical"}}, StartMonth: "2024-07", Months: 1, IncludeArrears: true})
		if q != nil || service.ErrorCode(err) != service.CodeMonthNotPayable {
			t.Fatalf("got %+v %v, want month_not_payable", q, err)
		}
	})
}

// withRegion returns an env whose only region is the shipped one with code,
// changed by edit.
func withRegion(t *testing.T, code string, edit func(*service.Region)) *env {
	t.Helper()
	rs, err := regions.Load()
	if err != nil {
		t.Fatal(err)
	}
	r, ok := service.FindRegion(rs, code)
	if !ok {
		t.Fatalf("no region %s", code)
	}
	edit(r)
	if err := r.Validate(); err != nil {
		t.Fatalf("edited region invalid: %v", err)
	}
	e := newEnv(t)
	e.rebuild(func(d *service.QuoteDeps) { d.Regions = []service.Region{*r} })
	return e
}

// Rates, bundling and prepayment rules have effective dates; each month is
// priced by the rule in force that month.
func TestCreateQuotePicksTheRuleInForceEachMonth(t *testing.T) {
	sourced := service.Figure{Source: service.SourceSourced, Note: "test"}
	e := withRegion(t, "shanghai", func(r *service.Region) {
		// Medical 10 % until 2026-12, then 11 %; bundling both ways until
		// 2026-12, then medical-needs-pension only.
		for i := range r.Rates {
			if r.Rates[i].Insurance == service.InsuranceMedical {
				r.Rates[i].To = "2026-12"
			}
		}
		r.Rates = append(r.Rates, service.InsuranceRate{Insurance: service.InsuranceMedical, From: "2027-01", RateBP: 1100, Figure: sourced})
		r.Bundling[0].To = "2026-12"
		r.Bundling = append(r.Bundling, service.BundlingRule{From: "2027-01", MedicalNeedsPension: true, Figure: sourced})
	})
	q := mustQuote(t, e, service.QuoteInput{Region: "shanghai", Person: "self", Insurances: both(800000), StartMonth: "2026-11", Months: 3})
	// medical 800000 × 10 % = 80000 in 2026-11/12, × 11 % = 88000 in 2027-01.
	assertLines(t, q, []line{
		{"pension", "2026-11", false, 800000, 2000, 160000}, {"medical", "2026-11", false, 800000, 1000, 80000},
		{"pension", "2026-12", false, 800000, 2000, 160000}, {"medical", "2026-12", false, 800000, 1000, 80000},
		{"pension", "2027-01", false, 800000, 2000, 160000}, {"medical", "2027-01", false, 800000, 1100, 88000},
	})
	// Pension alone is refused while the two-way rule is in force (2026-11)
	// and allowed once only medical needs pension (2027-01, one month
	// ahead: within the prepayment window).
	_, err := e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "shanghai", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension", BaseFen: 800000}}, StartMonth: "2026-11", Months: 1})
	assertField(t, err, "insurances", service.FieldPensionNeedsMedical)
	mustQuote(t, e, service.QuoteInput{Region: "shanghai", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension", BaseFen: 800000}}, StartMonth: "2027-01", Months: 1})

	// A month with no rate in force is refused, not priced at a later rate.
	e = withRegion(t, "shanghai", func(r *service.Region) {
		for i := range r.Rates {
			if r.Rates[i].Insurance == service.InsuranceMedical {
				r.Rates[i].To = "2026-11"
			}
		}
	})
	_, err = e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "shanghai", Person: "self", Insurances: both(800000), StartMonth: "2026-11", Months: 3})
	assertField(t, err, "insurances[1].type", service.FieldNoRate)

	// The prepayment window in force in the current month decides.
	e = withRegion(t, "beijing", func(r *service.Region) {
		r.Prepay = []service.PrepayRule{{To: "2026-10", CapMonths: 2, Figure: sourced}, {From: "2026-11", CapMonths: 0, Figure: sourced}}
	})
	_, err = e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "beijing", Person: "self", Insurances: both(800000), StartMonth: "2026-11", Months: 3})
	assertField(t, err, "months", service.FieldPrepayCapExceeded)
}

// Bundling is one-way unless the region's source says otherwise: Beijing
// takes pension alone (the review's person with pension active and medical
// not insured could never pay), not medical alone; Shanghai takes neither
// alone.
func TestCreateQuoteBundlingIsOneWayOutsideShanghai(t *testing.T) {
	e := newEnv(t)
	q := mustQuote(t, e, service.QuoteInput{Region: "beijing", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension", BaseFen: 800000}}, StartMonth: "2026-11", Months: 1})
	assertLines(t, q, []line{{"pension", "2026-11", false, 800000, 2000, 160000}})
	_, err := e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "beijing", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "medical", BaseFen: 800000}}, StartMonth: "2026-11", Months: 1})
	assertField(t, err, "insurances", service.FieldMedicalNeedsPension)
	_, err = e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "shanghai", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension", BaseFen: 800000}}, StartMonth: "2026-11", Months: 1})
	assertField(t, err, "insurances", service.FieldPensionNeedsMedical)
}

// Each line carries its source grade; with sourced figures required, a
// quote resting on an illustrative base, rate or prepayment window is
// refused, and a fully sourced one is issued.
func TestCreateQuoteSourceGradesAndRequireSourced(t *testing.T) {
	e := newEnv(t)
	q := mustQuote(t, e, service.QuoteInput{Region: "shanghai", Person: "self", Insurances: both(800000), StartMonth: "2026-11", Months: 1})
	for _, l := range q.Lines {
		if l.Source != service.SourceSourced {
			t.Errorf("shanghai line %+v: want sourced (S2 bounds 2026-07, S1 rates)", l)
		}
	}
	q = mustQuote(t, e, service.QuoteInput{Region: "jiangsu", Person: "self", Insurances: both(500000), StartMonth: "2026-11", Months: 1})
	for _, l := range q.Lines {
		if l.Source != service.SourceIllustrative {
			t.Errorf("jiangsu line %+v: want illustrative (2026 bounds carried forward)", l)
		}
	}

	e.rebuild(func(d *service.QuoteDeps) { d.RequireSourced = true })
	mustQuote(t, e, service.QuoteInput{Region: "shanghai", Person: "self", Insurances: both(800000), StartMonth: "2026-11", Months: 1})
	for name, in := range map[string]service.QuoteInput{
		"IllustrativeRate":   {Region: "beijing", Person: "self", Insurances: both(800000), StartMonth: "2026-11", Months: 1},
		"IllustrativePrepay": {Region: "shanghai", Person: "self", Insurances: both(800000), StartMonth: "2026-11", Months: 3},
	} {
		t.Run(name, func(t *testing.T) {
			q, err := e.svc.CreateQuote(context.Background(), 1, in)
			if q != nil || service.ErrorCode(err) != service.CodeIllustrativeFigures || service.ErrorKind(err) != service.KindUnprocessable {
				t.Fatalf("got %+v %v, want 422 %s", q, err, service.CodeIllustrativeFigures)
			}
		})
	}
}

// Quoting needs the person verified by a method the region accepts:
// Jiangsu only the e-card password, Guangdong face and SMS both.
func TestCreateQuoteNeedsTheRegionsIdentityMethod(t *testing.T) {
	cases := []struct {
		name    string
		region  string
		ins     []service.InsuranceChoice
		methods []string
		ok      bool
	}{
		{"JiangsuFaceOnly", "jiangsu", both(500000), []string{"face"}, false},
		{"JiangsuECard", "jiangsu", both(500000), []string{"ecard_password"}, true},
		{"GuangzhouFaceOnly", "guangdong-guangzhou", []service.InsuranceChoice{{Type: "pension"}}, []string{"face"}, false},
		{"GuangzhouFaceAndSMS", "guangdong-guangzhou", []service.InsuranceChoice{{Type: "pension"}}, []string{"face", "sms"}, true},
		{"NationalNothing", "national", both(500000), nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.platform.base = 551000
			e.rebuild(func(d *service.QuoteDeps) { d.Evidence = &fakeEvidence{methods: c.methods} })
			q, err := e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: c.region, Person: "self",
				Insurances: c.ins, StartMonth: "2026-11", Months: 1})
			if c.ok {
				if err != nil {
					t.Fatalf("got %v, want a quote", err)
				}
				return
			}
			if q != nil || service.ErrorCode(err) != service.CodeIdentityNotAccepted || service.ErrorKind(err) != service.KindForbidden {
				t.Fatalf("got %+v %v, want 403 %s", q, err, service.CodeIdentityNotAccepted)
			}
			if e.platform.assessCalls != 0 {
				t.Errorf("got %d platform calls, want none before identity is settled", e.platform.assessCalls)
			}
		})
	}
}

// A quote must not spend a mutual-aid balance already committed to another
// unposted order.
func TestCreateQuoteMutualAidLeavesCommittedBalance(t *testing.T) {
	e := newEnv(t)
	e.platform.base = 551000
	e.platform.profile = service.InsuredProfile{MutualAidBalanceFen: 100000}
	in := service.QuoteInput{Region: "guangdong-guangzhou", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension"}, {Type: "medical"}}, StartMonth: "2026-11", Months: 3, UseMutualAid: true}
	commit := &fakeCommitments{fen: 70000}
	e.rebuild(func(d *service.QuoteDeps) { d.Commitments = commit })
	q := mustQuote(t, e, in)
	// Balance 100000 - committed 70000 = 30000 ≤ medical 3 × 44080.
	assertTotals(t, q, 462840, 30000, 432840)
	if q.MutualAidBalanceFen != 100000 {
		t.Errorf("got recorded balance %d, want the platform's 100000 (the order re-checks the commitments)", q.MutualAidBalanceFen)
	}
	commit.fen = 150000 // more committed than the platform's balance: nothing left
	q = mustQuote(t, e, in)
	assertTotals(t, q, 462840, 0, 462840)
	if !strings.HasPrefix(q.ID, "Q") {
		t.Errorf("got id %q", q.ID)
	}
}

type refuseGate struct{ calls int }

func (g *refuseGate) CheckPersonIdentity(context.Context, int64, int64, string) error {
	g.calls++
	return &service.Error{Kind: service.KindForbidden, Code: service.CodeIdentityNotAccepted, Message: "no"}
}

// Ordering checks the region's identity method too: a quote may outlive a
// change of the rules, and nothing is written when it fails.
func TestCreateOrderNeedsTheRegionsIdentityMethod(t *testing.T) {
	e := newSQLiteOrderEnv(t)
	gate := &refuseGate{}
	e.deps.Identity = gate
	e.svc = service.NewOrderService(e.deps)
	e.addQuote(t, "qg", 1, 1000)
	_, err := e.svc.CreateOrder(context.Background(), 1, "qg")
	if service.ErrorCode(err) != service.CodeIdentityNotAccepted || gate.calls != 1 {
		t.Fatalf("got %v after %d gate calls, want %s", err, gate.calls, service.CodeIdentityNotAccepted)
	}
	if _, err := e.store.FindOrderByQuote(context.Background(), "qg"); err == nil {
		t.Fatalf("got an order, want none")
	}
}
