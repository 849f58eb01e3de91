package service_test

import (
	"strings"
	"testing"

	"github.com/shebao/sipay/regions"
	"github.com/shebao/sipay/service"
)

func TestPensionDivisorFollowsTheOfficialTable(t *testing.T) {
	for age, want := range map[int]int{40: 233, 47: 208, 50: 195, 55: 170, 60: 139, 63: 117, 65: 101, 70: 56} {
		if got, ok := service.PensionDivisor(age); !ok || got != want {
			t.Errorf("age %d: got %d %v, want %d", age, got, ok, want)
		}
	}
	for _, age := range []int{39, 71} {
		if _, ok := service.PensionDivisor(age); ok {
			t.Errorf("age %d: got a divisor, want none", age)
		}
	}
}

func newPension(tb testing.TB) *service.PensionService {
	tb.Helper()
	rs, err := regions.Load()
	if err != nil {
		tb.Fatal(err)
	}
	return service.NewPensionService(rs, service.NewManualClock(now))
}

func TestEstimatePensionBeijingAverageBase(t *testing.T) {
	e, err := newPension(t).Estimate(service.PensionInput{Region: "beijing", CurrentAge: 40, RetirementAge: 60,
		YearsPaid: 15, PlannedYears: 20, BaseRatioBP: 10000, AccountBalanceFen: 5000000})
	if err != nil {
		t.Fatal(err)
	}
	// avg 1211600 (Beijing data). basic = 1211600 × (1 + 1) / 2 × 35 × 1 % = 424060.
	// account = 5000000 + 1211600 × 100 % × 8 % × 12 × 20 = 5000000 + 23262720 = 28262720.
	// personal = 28262720 / 139 = 203328.92 → 203329. monthly = 627389.
	if e.AvgWageFen != 1211600 || e.BasicPensionFen != 424060 || e.AccountAtRetirementFen != 28262720 ||
		e.Divisor != 139 || e.PersonalPensionFen != 203329 || e.MonthlyPensionFen != 627389 {
		t.Fatalf("got %+v, want basic 424060 account 28262720 personal 203329 monthly 627389", e)
	}
	// Retiring in 2026 + 20 = 2046: minimum 180 + (2046 - 2029) × 6 = 282 → capped at 240 months.
	if e.RetirementYear != 2046 || e.MinMonthsRequired != 240 || !e.MeetsMinimum {
		t.Errorf("got year %d min %d meets %v, want 2046 240 true", e.RetirementYear, e.MinMonthsRequired, e.MeetsMinimum)
	}
	if len(e.Assumptions) < 6 || !strings.Contains(strings.Join(e.Assumptions, ""), "计发月数 139") {
		t.Errorf("got assumptions %q, want the list naming divisor 139", e.Assumptions)
	}
}

func TestEstimatePensionIllustrativeDefaultShortOfMinimum(t *testing.T) {
	e, err := newPension(t).Estimate(service.PensionInput{CurrentAge: 50, RetirementAge: 55, YearsPaid: 10, PlannedYears: 5, BaseRatioBP: 6000})
	if err != nil {
		t.Fatal(err)
	}
	// avg 750000 (illustrative default). basic = 750000 × 1.6 / 2 × 15 % = 90000.
	// account = 750000 × 60 % × 8 % × 12 × 5 = 2160000; / 170 = 12705.88 → 12706. monthly 102706.
	// Retiring 2031: minimum 180 + 2 × 6 = 192 months > 15 years (180).
	if e.BasicPensionFen != 90000 || e.PersonalPensionFen != 12706 || e.MonthlyPensionFen != 102706 || e.MinMonthsRequired != 192 || e.MeetsMinimum {
		t.Fatalf("got %+v, want basic 90000 personal 12706 monthly 102706 min 192 not met", e)
	}
	joined := strings.Join(e.Assumptions, "")
	if !strings.Contains(joined, "示意默认值") || !strings.Contains(joined, "不足最低缴费年限") {
		t.Errorf("got assumptions %q, want the illustrative default and the shortfall stated", e.Assumptions)
	}
}

func TestEstimatePensionRefusesBadInput(t *testing.T) {
	cases := []struct {
		name  string
		in    service.PensionInput
		field string
	}{
		{"UnknownRegion", service.PensionInput{Region: "atlantis", CurrentAge: 40, RetirementAge: 60, YearsPaid: 5, BaseRatioBP: 10000}, "region"},
		{"RetirementAgeOffTable", service.PensionInput{CurrentAge: 40, RetirementAge: 72, YearsPaid: 5, BaseRatioBP: 10000}, "retirement_age"},
		{"RetiredAlready", service.PensionInput{CurrentAge: 62, RetirementAge: 60, YearsPaid: 5, BaseRatioBP: 10000}, "retirement_age"},
		{"PlannedBeyondRetirement", service.PensionInput{CurrentAge: 55, RetirementAge: 60, YearsPaid: 5, PlannedYears: 6, BaseRatioBP: 10000}, "planned_years"},
		{"RatioBelowSixty", service.PensionInput{CurrentAge: 40, RetirementAge: 60, YearsPaid: 5, BaseRatioBP: 5999}, "base_ratio_bp"},
		{"NegativeBalance", service.PensionInput{CurrentAge: 40, RetirementAge: 60, YearsPaid: 5, BaseRatioBP: 10000, AccountBalanceFen: -1}, "account_balance_fen"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := newPension(t).Estimate(c.in)
			assertField(t, err, c.field, "")
		})
	}
}

// Every input is bounded and impossible combinations are refused: the
// review got a negative pension from a huge avg_wage_fen (int64 overflow),
// and 55 years paid at age 20 and retirement at 40 were accepted.
func TestEstimatePensionBoundsEveryInput(t *testing.T) {
	ok := service.PensionInput{CurrentAge: 40, RetirementAge: 60, YearsPaid: 5, PlannedYears: 20, BaseRatioBP: 10000}
	with := func(f func(*service.PensionInput)) service.PensionInput { in := ok; f(&in); return in }
	refused := map[string]struct {
		in    service.PensionInput
		field string
	}{
		"AvgWageAboveMax":        {with(func(in *service.PensionInput) { in.AvgWageFen = service.MaxAvgWageFen + 1 }), "avg_wage_fen"},
		"AvgWageHuge":            {with(func(in *service.PensionInput) { in.AvgWageFen = 1 << 62 }), "avg_wage_fen"},
		"BalanceAboveMax":        {with(func(in *service.PensionInput) { in.AccountBalanceFen = service.MaxAccountBalanceFen + 1 }), "account_balance_fen"},
		"FiftyFiveYearsAtTwenty": {with(func(in *service.PensionInput) { in.CurrentAge, in.YearsPaid, in.PlannedYears = 20, 55, 0 }), "years_paid"},
		"YearsBeforeSixteen":     {with(func(in *service.PensionInput) { in.CurrentAge, in.YearsPaid = 30, 15 }), "years_paid"},
		"RetirementAtForty":      {with(func(in *service.PensionInput) { in.CurrentAge, in.RetirementAge, in.PlannedYears = 30, 40, 5 }), "retirement_age"},
		"RetirementAt44":         {with(func(in *service.PensionInput) { in.CurrentAge, in.RetirementAge, in.PlannedYears = 30, 44, 5 }), "retirement_age"},
		"RetirementAt71":         {with(func(in *service.PensionInput) { in.RetirementAge = 71 }), "retirement_age"},
		"AgeBelowSixteen":        {with(func(in *service.PensionInput) { in.CurrentAge, in.YearsPaid = 15, 0 }), "current_age"},
		"RatioAboveThreeHundred": {with(func(in *service.PensionInput) { in.BaseRatioBP = 30001 }), "base_ratio_bp"},
	}
	for name, c := range refused {
		t.Run(name, func(t *testing.T) {
			_, err := newPension(t).Estimate(c.in)
			assertField(t, err, c.field, "")
		})
	}
	// The edges themselves are accepted, and the largest inputs give a
	// positive pension (no overflow): avg 10,000,000 fen, 300 %, 54 years
	// planned from 16 to 70, balance 1e9 fen.
	edges := map[string]service.PensionInput{
		"RetirementAt45": with(func(in *service.PensionInput) {
			in.CurrentAge, in.RetirementAge, in.YearsPaid, in.PlannedYears = 30, 45, 14, 15
		}),
		"AllAtMax": {CurrentAge: 16, RetirementAge: 70, YearsPaid: 0, PlannedYears: 54, BaseRatioBP: 30000,
			AvgWageFen: service.MaxAvgWageFen, AccountBalanceFen: service.MaxAccountBalanceFen},
		"SixteenFirstYear": {CurrentAge: 16, RetirementAge: 60, YearsPaid: 0, PlannedYears: 44, BaseRatioBP: 6000},
	}
	for name, in := range edges {
		t.Run(name, func(t *testing.T) {
			e, err := newPension(t).Estimate(in)
			if err != nil {
				t.Fatalf("got %v, want an estimate", err)
			}
			if e.MonthlyPensionFen <= 0 || e.BasicPensionFen <= 0 || e.AccountAtRetirementFen < in.AccountBalanceFen {
				t.Fatalf("got %+v, want positive amounts", e)
			}
		})
	}
	// AllAtMax by hand: basic = 10,000,000 × 4 / 2 × 54 % = 10,800,000;
	// added = 10,000,000 × 3 × 8 % × 12 × 54 = 1,555,200,000;
	// account = 2,555,200,000; / 56 = 45,628,571.43 → 45,628,571.
	e, _ := newPension(t).Estimate(edges["AllAtMax"])
	if e.BasicPensionFen != 10800000 || e.AccountAtRetirementFen != 2555200000 || e.PersonalPensionFen != 45628571 {
		t.Fatalf("got basic %d account %d personal %d, want 10800000 2555200000 45628571", e.BasicPensionFen, e.AccountAtRetirementFen, e.PersonalPensionFen)
	}
}
