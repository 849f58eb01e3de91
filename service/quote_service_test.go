package service_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/regions"
	"github.com/shebao/sipay/service"
)

// now is 2026-11-24 10:00 in China; the current month is 2026-11.
var now = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)

type fakeQuoteStore struct {
	mu     sync.Mutex
	quotes map[string]service.Quote
}

func (s *fakeQuoteStore) CreateQuote(_ context.Context, q *service.Quote) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.quotes[q.ID]; dup {
		return service.ErrDuplicate
	}
	s.quotes[q.ID] = *q
	return nil
}

func (s *fakeQuoteStore) FindQuoteByID(_ context.Context, id string) (*service.Quote, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.quotes[id]
	if !ok {
		return nil, fmt.Errorf("quote %s: %w", id, service.ErrNotFound)
	}
	return &q, nil
}

// fakePersons resolves "self" of user 1 and member "7" of user 1.
type fakePersons struct {
	self   *service.Person
	member *service.Person
	err    error
}

func (f *fakePersons) ResolvePerson(_ context.Context, userID int64, person string) (*service.Person, error) {
	if f.err != nil {
		return nil, f.err
	}
	switch {
	case userID == 1 && person == "self":
		return f.self, nil
	case userID == 1 && person == "7" && f.member != nil:
		return f.member, nil
	}
	return nil, service.NotFound("家庭成员不存在")
}

type fakePlatform struct {
	service.Platform // unused methods panic
	profile          service.InsuredProfile
	base             service.Fen
	err              error
	profileCalls     int
	assessCalls      int
}

func (f *fakePlatform) FindProfile(_ context.Context, region string, _ service.PersonRef) (service.InsuredProfile, error) {
	f.profileCalls++
	p := f.profile
	p.Region = region
	return p, f.err
}

func (f *fakePlatform) AssessBase(context.Context, string, service.PersonRef) (service.Fen, error) {
	f.assessCalls++
	return f.base, f.err
}

type fakeAlerts struct {
	mu     sync.Mutex
	alerts []service.Alert
}

func (f *fakeAlerts) RecordAlert(_ context.Context, a service.Alert) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts = append(f.alerts, a)
	return nil
}

// fakeEvidence answers the identity methods passed, for any person.
type fakeEvidence struct{ methods []string }

func (f *fakeEvidence) VerifiedMethods(context.Context, int64, int64, string) ([]string, error) {
	return f.methods, nil
}

type fakeCommitments struct{ fen service.Fen }

func (f *fakeCommitments) CommittedMutualAid(context.Context, int64, string) (service.Fen, error) {
	return f.fen, nil
}

type env struct {
	svc      *service.QuoteService
	deps     service.QuoteDeps // what svc was built from
	store    *fakeQuoteStore
	persons  *fakePersons
	platform *fakePlatform
	clock    *service.ManualClock
	alerts   *fakeAlerts
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	rs, err := regions.Load()
	if err != nil {
		tb.Fatalf("load regions: %v", err)
	}
	e := &env{
		store:    &fakeQuoteStore{quotes: map[string]service.Quote{}},
		persons:  &fakePersons{self: &service.Person{ID: 42, Name: "张三", IDType: service.IDResident, IDNumber: "110101199003077777"}},
		platform: &fakePlatform{},
		clock:    service.NewManualClock(now),
		alerts:   &fakeAlerts{},
	}
	e.deps = service.QuoteDeps{Regions: rs, Store: e.store, Persons: e.persons, Platform: e.platform, Clock: e.clock,
		TTL: 30 * time.Minute, Alerts: e.alerts}
	e.svc = service.NewQuoteService(e.deps)
	return e
}

// rebuild makes e.svc again from e.deps changed by edit.
func (e *env) rebuild(edit func(*service.QuoteDeps)) {
	edit(&e.deps)
	e.svc = service.NewQuoteService(e.deps)
}

func mustQuote(tb testing.TB, e *env, in service.QuoteInput) *service.Quote {
	tb.Helper()
	q, err := e.svc.CreateQuote(context.Background(), 1, in)
	if err != nil {
		tb.Fatalf("CreateQuote: %v (fields %+v)", err, fieldsOf(err))
	}
	return q
}

func fieldsOf(err error) []service.FieldError {
	if e := service.AsError(err); e != nil {
		return e.Fields
	}
	return nil
}

// line is a compact expected quote line: insurance, month, arrears, base, rate, amount.
type line struct {
	ins     string
	month   string
	arrears bool
	base    service.Fen
	rate    int64
	amount  service.Fen
}

func assertLines(tb testing.TB, q *service.Quote, want []line) {
	tb.Helper()
	if len(q.Lines) != len(want) {
		tb.Fatalf("got %d lines %+v, want %d", len(q.Lines), q.Lines, len(want))
	}
	for i, w := range want {
		g := q.Lines[i]
		if g.Insurance != w.ins || g.Month != w.month || g.Arrears != w.arrears || g.BaseFen != w.base || g.RateBP != w.rate || g.AmountFen != w.amount {
			tb.Errorf("line %d: got %+v, want %+v", i, g, w)
		}
	}
}

func assertTotals(tb testing.TB, q *service.Quote, total, mutualAid, payable service.Fen) {
	tb.Helper()
	if q.TotalFen != total || q.MutualAidFen != mutualAid || q.PayableFen != payable {
		tb.Errorf("got total %d mutual aid %d payable %d, want %d %d %d", q.TotalFen, q.MutualAidFen, q.PayableFen, total, mutualAid, payable)
	}
}

func assertBatches(tb testing.TB, q *service.Quote, want []service.BatchPlan) {
	tb.Helper()
	if len(q.Batches) != len(want) {
		tb.Fatalf("got batches %+v, want %+v", q.Batches, want)
	}
	for i := range want {
		if q.Batches[i] != want[i] {
			tb.Errorf("batch %d: got %+v, want %+v", i, q.Batches[i], want[i])
		}
	}
}

func both(base service.Fen) []service.InsuranceChoice {
	return []service.InsuranceChoice{{Type: "pension", BaseFen: base}, {Type: "medical", BaseFen: base}}
}

func TestCreateQuoteBeijingQuarterAtChosenBase(t *testing.T) {
	e := newEnv(t)
	q := mustQuote(t, e, service.QuoteInput{Region: "beijing", Person: "self", Insurances: both(1000000), StartMonth: "2026-11", Months: 3})
	// Base 10000.00 yuan is within 7270-36348 (2026-07 window).
	// pension 1000000 × 2000 / 10000 = 200000; medical 1000000 × 800 / 10000 = 80000.
	// 3 months × (200000 + 80000) = 840000.
	assertLines(t, q, []line{
		{"pension", "2026-11", false, 1000000, 2000, 200000}, {"medical", "2026-11", false, 1000000, 800, 80000},
		{"pension", "2026-12", false, 1000000, 2000, 200000}, {"medical", "2026-12", false, 1000000, 800, 80000},
		{"pension", "2027-01", false, 1000000, 2000, 200000}, {"medical", "2027-01", false, 1000000, 800, 80000},
	})
	assertTotals(t, q, 840000, 0, 840000)
	assertBatches(t, q, []service.BatchPlan{{Seq: 1, AmountFen: 840000, FromMonth: "2026-11", ToMonth: "2027-01"}})
	if q.PersonID != 42 || q.UserID != 1 || q.Region != "beijing" {
		t.Errorf("got person %d user %d region %s, want 42 1 beijing", q.PersonID, q.UserID, q.Region)
	}
	if !regexp.MustCompile(`^Q[A-Z2-7]{20}$`).MatchString(q.ID) {
		t.Errorf("got id %q, want Q + 20 base32 characters", q.ID)
	}
	if !q.CreatedAt.Equal(now) || !q.ExpiresAt.Equal(now.Add(30*time.Minute)) {
		t.Errorf("got created %v expires %v, want %v and 30 min later", q.CreatedAt, q.ExpiresAt, now)
	}
	if _, err := e.store.FindQuoteByID(context.Background(), q.ID); err != nil {
		t.Errorf("got %v looking up the stored quote, want it stored", err)
	}
}

// Past months are what the platform lists as arrears, priced with the
// platform's own base, rate and amount; the current month is priced by the
// region's rules. Every line's amount equals base × rate.
func TestCreateQuoteBeijingBackPaymentCarriesThePlatformsFigures(t *testing.T) {
	e := newEnv(t)
	e.platform.profile = service.InsuredProfile{CurrentMonth: "2026-11", Insurances: []service.InsuranceStatus{
		{Insurance: "pension", Status: "suspended", PaidThrough: "2026-08"}, {Insurance: "medical", Status: "suspended", PaidThrough: "2026-08"}},
		Arrears: []service.ArrearsMonth{
			// 730000 × 20 % = 146000; × 8 % = 58400 (within 727000-3634800 of 2026-07).
			{Insurance: "pension", Month: "2026-09", BaseFen: 730000, RateBP: 2000, AmountFen: 146000},
			{Insurance: "medical", Month: "2026-09", BaseFen: 730000, RateBP: 800, AmountFen: 58400},
			{Insurance: "pension", Month: "2026-10", BaseFen: 730000, RateBP: 2000, AmountFen: 146000},
			{Insurance: "medical", Month: "2026-10", BaseFen: 730000, RateBP: 800, AmountFen: 58400},
		}}
	q := mustQuote(t, e, service.QuoteInput{Region: "beijing", Person: "self", Insurances: both(1000000), StartMonth: "2026-09", Months: 3, IncludeArrears: true})
	assertLines(t, q, []line{
		{"pension", "2026-09", true, 730000, 2000, 146000}, {"medical", "2026-09", true, 730000, 800, 58400},
		{"pension", "2026-10", true, 730000, 2000, 146000}, {"medical", "2026-10", true, 730000, 800, 58400},
		{"pension", "2026-11", false, 1000000, 2000, 200000}, {"medical", "2026-11", false, 1000000, 800, 80000},
	})
	for _, l := range q.Lines {
		want := service.PricedByRegion
		if l.Arrears {
			want = service.PricedByPlatform
		}
		if l.PricedBy != want || l.AmountFen != service.LineAmount(l.BaseFen, l.RateBP) {
			t.Errorf("line %+v: want priced_by %s and amount = base × rate", l, want)
		}
	}
	// 2 × 204400 + 280000 = 688800.
	assertTotals(t, q, 688800, 0, 688800)
}

func TestCreateQuoteShanghaiRoundsHalfUp(t *testing.T) {
	e := newEnv(t)
	q := mustQuote(t, e, service.QuoteInput{Region: "shanghai", Person: "self", Insurances: both(800005), StartMonth: "2026-11", Months: 1})
	// pension 800005 × 2000 / 10000 = 160001.0 → 160001
	// medical 800005 × 1000 / 10000 = 80000.5 → 80001 (half up)
	assertLines(t, q, []line{{"pension", "2026-11", false, 800005, 2000, 160001}, {"medical", "2026-11", false, 800005, 1000, 80001}})
	assertTotals(t, q, 240002, 0, 240002)
}

func TestCreateQuoteGuangzhouAssessedHalfYearWithMutualAid(t *testing.T) {
	e := newEnv(t)
	e.platform.base = 551000
	e.platform.profile = service.InsuredProfile{MutualAidBalanceFen: 100000}
	q := mustQuote(t, e, service.QuoteInput{Region: "guangdong-guangzhou", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension"}, {Type: "medical"}}, StartMonth: "2026-11", Months: 6, UseMutualAid: true})
	// Assessed base 551000. pension 551000 × 0.20 = 110200; medical 551000 × 0.08 = 44080.
	// 6 × (110200 + 44080) = 6 × 154280 = 925680.
	// Mutual aid: min(balance 100000, medical 6 × 44080 = 264480) = 100000; payable 825680.
	if len(q.Lines) != 12 || q.Lines[11] != (service.QuoteLine{Insurance: "medical", Month: "2027-04", BaseFen: 551000, RateBP: 800, AmountFen: 44080,
		PricedBy: service.PricedByRegion, Source: service.SourceIllustrative}) {
		t.Fatalf("got lines %+v, want 12 ending with medical 2027-04 44080", q.Lines)
	}
	assertTotals(t, q, 925680, 100000, 825680)
	if q.MutualAidBalanceFen != 100000 {
		t.Errorf("got recorded balance %d, want 100000 (checked again when ordering)", q.MutualAidBalanceFen)
	}
	assertBatches(t, q, []service.BatchPlan{{Seq: 1, AmountFen: 825680, FromMonth: "2026-11", ToMonth: "2027-04"}})
	if e.platform.assessCalls != 1 {
		t.Errorf("got %d AssessBase calls, want 1", e.platform.assessCalls)
	}
}

func TestCreateQuoteGuangzhouMutualAidCappedByMedical(t *testing.T) {
	e := newEnv(t)
	e.platform.base = 551000
	e.platform.profile = service.InsuredProfile{MutualAidBalanceFen: 999999}
	q := mustQuote(t, e, service.QuoteInput{Region: "guangdong-guangzhou", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension"}, {Type: "medical"}}, StartMonth: "2026-11", Months: 1, UseMutualAid: true})
	// Balance 999999 exceeds medical 44080: deduction 44080, payable 110200 (pension only).
	assertTotals(t, q, 154280, 44080, 110200)
}

func TestCreateQuoteGuangzhouArrearsFirstAndSplitByLimit(t *testing.T) {
	e := newEnv(t)
	e.platform.base = 551000
	var arrears []service.ArrearsMonth
	// Twelve months of pension arrears from 2025-10 to 2026-09 at 400000 fen each
	// (an old back payment the platform assessed), and one medical month it lists too.
	for m := 0; m < 12; m++ {
		month := fmt.Sprintf("%04d-%02d", 2025+(9+m)/12, (9+m)%12+1)
		arrears = append(arrears, service.ArrearsMonth{Insurance: "pension", Month: month, BaseFen: 2000000, RateBP: 2000, AmountFen: 400000})
	}
	arrears = append(arrears, service.ArrearsMonth{Insurance: "medical", Month: "2026-09", BaseFen: 551000, RateBP: 800, AmountFen: 44080})
	e.platform.profile = service.InsuredProfile{Arrears: arrears, Insurances: []service.InsuranceStatus{{Insurance: "pension", PaidThrough: "2025-09"}}}
	q := mustQuote(t, e, service.QuoteInput{Region: "guangdong-guangzhou", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension"}}, StartMonth: "2026-11", Months: 1, IncludeArrears: true})
	// Medical arrears are skipped (not chosen). Lines: 12 pension arrears
	// (400000 each, platform amounts) then 2026-11 pension 551000 × 0.20 = 110200.
	// Total 12 × 400000 + 110200 = 4910200 ≤ limit 5000000: one batch.
	if len(q.Lines) != 13 || !q.Lines[0].Arrears || q.Lines[0].Month != "2025-10" || q.Lines[12].Month != "2026-11" || q.Lines[12].Arrears {
		t.Fatalf("got lines %+v, want 12 arrears from 2025-10 then 2026-11", q.Lines)
	}
	assertTotals(t, q, 4910200, 0, 4910200)
	assertBatches(t, q, []service.BatchPlan{{Seq: 1, AmountFen: 4910200, FromMonth: "2025-10", ToMonth: "2026-11"}})

	// With medical too: + medical arrears 2026-09 44080 + 2026-11 medical 44080.
	// Months in order: 2025-10..2026-08 400000 each (11 months = 4400000),
	// 2026-09 400000 + 44080 = 444080 → 4844080, 2026-11 110200 + 44080 = 154280
	// → 4998360 ≤ 5000000: still one batch.
	q = mustQuote(t, e, service.QuoteInput{Region: "guangdong-guangzhou", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension"}, {Type: "medical"}}, StartMonth: "2026-11", Months: 3, IncludeArrears: true})
	// 3 months from 2026-11: + 2026-12 and 2027-01 at 154280 each = 5306920 in all.
	// Greedy: batch 1 = 2025-10..2026-11 = 4998360; 2026-12 would make 5152640 > limit,
	// so batch 2 = 2026-12..2027-01 = 308560.
	assertTotals(t, q, 5306920, 0, 5306920)
	assertBatches(t, q, []service.BatchPlan{
		{Seq: 1, AmountFen: 4998360, FromMonth: "2025-10", ToMonth: "2026-11"},
		{Seq: 2, AmountFen: 308560, FromMonth: "2026-12", ToMonth: "2027-01"},
	})
}

func TestCreateQuoteShenzhenHomeReturnPermitMedicalAlone(t *testing.T) {
	e := newEnv(t)
	e.persons.member = &service.Person{ID: 77, Name: "陈大文", IDType: service.IDHKMacauTravel, IDNumber: "H12345678"}
	e.platform.base = 600025
	q := mustQuote(t, e, service.QuoteInput{Region: "guangdong-shenzhen", Person: "7",
		Insurances: []service.InsuranceChoice{{Type: "medical"}}, StartMonth: "2026-11", Months: 1})
	// medical 600025 × 600 / 10000 = 36001.5 → 36002 (half up).
	assertLines(t, q, []line{{"medical", "2026-11", false, 600025, 600, 36002}})
	assertTotals(t, q, 36002, 0, 36002)
	if q.PersonID != 77 {
		t.Errorf("got person %d, want 77", q.PersonID)
	}
}

func TestCreateQuoteHangzhouAssessedQuarterPensionOnly(t *testing.T) {
	e := newEnv(t)
	e.platform.base = 498600
	q := mustQuote(t, e, service.QuoteInput{Region: "zhejiang-hangzhou", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension"}}, StartMonth: "2026-11", Months: 3})
	// pension 498600 × 0.20 = 99720; × 3 = 299160.
	assertTotals(t, q, 299160, 0, 299160)
	assertBatches(t, q, []service.BatchPlan{{Seq: 1, AmountFen: 299160, FromMonth: "2026-11", ToMonth: "2027-01"}})
}

func TestCreateQuoteJiangsuCurrentMonth(t *testing.T) {
	e := newEnv(t)
	q := mustQuote(t, e, service.QuoteInput{Region: "jiangsu", Person: "self", Insurances: both(500000), StartMonth: "2026-11", Months: 1})
	// 500000 within 495200-2476200. pension 500000 × 0.20 = 100000; medical 500000 × 0.08 = 40000.
	assertLines(t, q, []line{{"pension", "2026-11", false, 500000, 2000, 100000}, {"medical", "2026-11", false, 500000, 800, 40000}})
	assertTotals(t, q, 140000, 0, 140000)
	if e.platform.profileCalls != 0 {
		t.Errorf("got %d profile calls, want none when neither arrears nor mutual aid is asked", e.platform.profileCalls)
	}
}

func TestCreateQuoteSichuanTierMedicalAlone(t *testing.T) {
	e := newEnv(t)
	q := mustQuote(t, e, service.QuoteInput{Region: "sichuan", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "medical", Tier: "100"}}, StartMonth: "2026-11", Months: 1})
	// Tier 100 in the 2026-07 period = 764600. medical 764600 × 800 / 10000 = 61168.
	assertLines(t, q, []line{{"medical", "2026-11", false, 764600, 800, 61168}})
	assertTotals(t, q, 61168, 0, 61168)
}

func TestCreateQuoteHunanTiersPerInsurance(t *testing.T) {
	e := newEnv(t)
	q := mustQuote(t, e, service.QuoteInput{Region: "hunan", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension", Tier: "100"}, {Type: "medical"}}, StartMonth: "2026-11", Months: 1})
	// pension tier 100 = 684300 × 0.20 = 136860.
	// medical on the floor (60 %) = 410600 × 560 / 10000 = 22993.6 → 22994.
	assertLines(t, q, []line{{"pension", "2026-11", false, 684300, 2000, 136860}, {"medical", "2026-11", false, 410600, 560, 22994}})
	assertTotals(t, q, 159854, 0, 159854)
}

// Hunan medical is 5.6 % of a base of 60 % of the average, whatever the
// pension tier (the review saw 5.6 % of tier 300: 114962 instead of 22994).
func TestCreateQuoteHunanMedicalOnTheFloorWhateverThePensionTier(t *testing.T) {
	e := newEnv(t)
	q := mustQuote(t, e, service.QuoteInput{Region: "hunan", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension", Tier: "300"}, {Type: "medical"}}, StartMonth: "2026-11", Months: 1})
	// pension 2052900 × 0.20 = 410580; medical 410600 × 0.056 = 22994.
	assertLines(t, q, []line{{"pension", "2026-11", false, 2052900, 2000, 410580}, {"medical", "2026-11", false, 410600, 560, 22994}})
	_, err := e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "hunan", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "medical", Tier: "300"}}, StartMonth: "2026-11", Months: 1})
	assertField(t, err, "insurances[0].tier", service.FieldTierNotAllowed)
}

func TestCreateQuoteNationalYearSplitIntoBatches(t *testing.T) {
	e := newEnv(t)
	q := mustQuote(t, e, service.QuoteInput{Region: "national", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension", BaseFen: 2250000}}, StartMonth: "2026-11", Months: 12})
	// 2250000 × 0.20 = 450000 a month; 12 months = 5400000 > limit 5000000.
	// Greedy on month boundaries: 11 months = 4950000 (2026-11..2027-09), then 450000 (2027-10).
	assertTotals(t, q, 5400000, 0, 5400000)
	assertBatches(t, q, []service.BatchPlan{
		{Seq: 1, AmountFen: 4950000, FromMonth: "2026-11", ToMonth: "2027-09"},
		{Seq: 2, AmountFen: 450000, FromMonth: "2027-10", ToMonth: "2027-10"},
	})
}

func assertField(tb testing.TB, err error, field, code string) {
	tb.Helper()
	e := service.AsError(err)
	if e == nil {
		tb.Fatalf("got error %v, want a field error %s/%s", err, field, code)
	}
	for _, f := range e.Fields {
		if f.Field == field && (code == "" || f.Code == code) {
			if f.Message == "" {
				tb.Errorf("field %s: got an empty message, want one", field)
			}
			return
		}
	}
	tb.Fatalf("got %s with fields %+v, want field %s code %s", e.Code, e.Fields, field, code)
}

func TestCreateQuoteRefusesByRegionRules(t *testing.T) {
	pension := func(base service.Fen, tier string) []service.InsuranceChoice {
		return []service.InsuranceChoice{{Type: "pension", BaseFen: base, Tier: tier}}
	}
	medical := func(base service.Fen, tier string) []service.InsuranceChoice {
		return []service.InsuranceChoice{{Type: "medical", BaseFen: base, Tier: tier}}
	}
	cases := []struct {
		name        string
		in          service.QuoteInput
		field, code string
	}{
		{"UnknownRegion", service.QuoteInput{Region: "atlantis", Person: "self", Insurances: both(800000), StartMonth: "2026-11", Months: 1}, "region", service.CodeUnknownRegion},
		{"UnknownInsurance", service.QuoteInput{Region: "jiangsu", Person: "self", Insurances: []service.InsuranceChoice{{Type: "unemployment", BaseFen: 500000}}, StartMonth: "2026-11", Months: 1}, "insurances[0].type", service.FieldUnknownInsurance},
		{"DuplicateInsurance", service.QuoteInput{Region: "jiangsu", Person: "self", Insurances: append(pension(500000, ""), pension(500000, "")...), StartMonth: "2026-11", Months: 1}, "insurances[1].type", service.FieldDuplicate},
		{"FreeBaseMissing", service.QuoteInput{Region: "jiangsu", Person: "self", Insurances: pension(0, ""), StartMonth: "2026-11", Months: 1}, "insurances[0].base_fen", service.FieldBaseRequired},
		{"FreeBaseBelowFloor", service.QuoteInput{Region: "jiangsu", Person: "self", Insurances: pension(495199, ""), StartMonth: "2026-11", Months: 1}, "insurances[0].base_fen", service.FieldBaseOutOfBounds},
		{"FreeBaseAboveCeiling", service.QuoteInput{Region: "jiangsu", Person: "self", Insurances: pension(2476201, ""), StartMonth: "2026-11", Months: 1}, "insurances[0].base_fen", service.FieldBaseOutOfBounds},
		{"FreeTierGiven", service.QuoteInput{Region: "jiangsu", Person: "self", Insurances: pension(500000, "60"), StartMonth: "2026-11", Months: 1}, "insurances[0].tier", service.FieldTierNotAllowed},
		{"TierMissing", service.QuoteInput{Region: "sichuan", Person: "self", Insurances: medical(0, ""), StartMonth: "2026-11", Months: 1}, "insurances[0].tier", service.FieldTierRequired},
		{"TierUnknown", service.QuoteInput{Region: "sichuan", Person: "self", Insurances: medical(0, "150"), StartMonth: "2026-11", Months: 1}, "insurances[0].tier", service.FieldUnknownTier},
		{"TierModeBaseGiven", service.QuoteInput{Region: "hunan", Person: "self", Insurances: medical(410600, "60"), StartMonth: "2026-11", Months: 1}, "insurances[0].base_fen", service.FieldBaseNotAllowed},
		{"AssessedBaseGiven", service.QuoteInput{Region: "guangdong-guangzhou", Person: "self", Insurances: pension(551000, ""), StartMonth: "2026-11", Months: 1}, "insurances[0].base_fen", service.FieldBaseAssessed},
		{"MedicalWithoutPensionBundled", service.QuoteInput{Region: "beijing", Person: "self", Insurances: medical(800000, ""), StartMonth: "2026-11", Months: 1}, "insurances", service.FieldMedicalNeedsPension},
		{"PensionWithoutMedicalBundled", service.QuoteInput{Region: "shanghai", Person: "self", Insurances: pension(800000, ""), StartMonth: "2026-11", Months: 1}, "insurances", service.FieldPensionNeedsMedical},
		{"QuarterWhereMonthlyOnly", service.QuoteInput{Region: "sichuan", Person: "self", Insurances: medical(0, "60"), StartMonth: "2026-11", Months: 3}, "months", service.FieldPeriodNotAllowed},
		{"HalfYearWhereQuarterMax", service.QuoteInput{Region: "beijing", Person: "self", Insurances: both(800000), StartMonth: "2026-11", Months: 6}, "months", service.FieldPeriodNotAllowed},
		{"BeyondPrepayCap", service.QuoteInput{Region: "beijing", Person: "self", Insurances: both(800000), StartMonth: "2026-12", Months: 3}, "months", service.FieldPrepayCapExceeded},
		{"NextMonthWhereNoPrepay", service.QuoteInput{Region: "hunan", Person: "self", Insurances: medical(0, "60"), StartMonth: "2026-12", Months: 1}, "months", service.FieldPrepayCapExceeded},
		{"StartInPastWithoutArrears", service.QuoteInput{Region: "beijing", Person: "self", Insurances: both(800000), StartMonth: "2026-10", Months: 1}, "start_month", service.FieldStartInPast},
		{"BadStartMonth", service.QuoteInput{Region: "beijing", Person: "self", Insurances: both(800000), StartMonth: "2026-13", Months: 1}, "start_month", service.FieldBadMonth},
		{"ArrearsWhereCurrentOnly", service.QuoteInput{Region: "jiangsu", Person: "self", Insurances: pension(500000, ""), StartMonth: "2026-11", Months: 1, IncludeArrears: true}, "include_arrears", service.FieldArrearsNotShown},
		{"MutualAidNotAllowed", service.QuoteInput{Region: "beijing", Person: "self", Insurances: both(800000), StartMonth: "2026-11", Months: 1, UseMutualAid: true}, "use_mutual_aid", service.FieldMutualAidNotAllowed},
		{"MutualAidWithoutMedical", service.QuoteInput{Region: "zhejiang-hangzhou", Person: "self", Insurances: pension(0, ""), StartMonth: "2026-11", Months: 1, UseMutualAid: true}, "use_mutual_aid", service.FieldMutualAidNeedsMedical},
		{"PersonMissing", service.QuoteInput{Region: "jiangsu", Insurances: pension(500000, ""), StartMonth: "2026-11", Months: 1}, "person", service.FieldRequired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.platform.base = 551000
			q, err := e.svc.CreateQuote(context.Background(), 1, c.in)
			if q != nil {
				t.Fatalf("got quote %+v, want a refusal", q)
			}
			if service.ErrorKind(err) != service.KindInvalid || service.ErrorCode(err) != service.CodeQuoteInvalid {
				t.Fatalf("got kind %v code %s, want invalid quote_invalid", service.ErrorKind(err), service.ErrorCode(err))
			}
			assertField(t, err, c.field, c.code)
			if len(e.store.quotes) != 0 {
				t.Errorf("got %d stored quotes, want none", len(e.store.quotes))
			}
		})
	}
}

func TestCreateQuoteRefusesMonthsWithoutBounds(t *testing.T) {
	// Sichuan's first period starts 2024-07; arrears of 2024-06 have no
	// bounds to check the platform's figures against.
	e := newEnv(t)
	e.platform.profile = service.InsuredProfile{Arrears: []service.ArrearsMonth{
		{Insurance: "medical", Month: "2024-06", BaseFen: 451100, RateBP: 800, AmountFen: 36088}}}
	_, err := e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "sichuan", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "medical", Tier: "60"}}, StartMonth: "2024-06", Months: 1, IncludeArrears: true})
	assertField(t, err, "include_arrears", service.FieldNoBounds)
}

func TestCreateQuoteRefusesIDTypeTheRegionDoesNotAccept(t *testing.T) {
	e := newEnv(t)
	e.persons.member = &service.Person{ID: 77, IDType: service.IDHKMacauTravel}
	e.platform.base = 551000
	_, err := e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "guangdong-guangzhou", Person: "7",
		Insurances: []service.InsuranceChoice{{Type: "pension"}}, StartMonth: "2026-11", Months: 1})
	assertField(t, err, "person", service.FieldIDTypeNotAccepted)
	if e.platform.assessCalls != 0 {
		t.Errorf("got %d platform calls, want none before the ID type is accepted", e.platform.assessCalls)
	}
}

func TestCreateQuoteRefusesMonthsAlreadyPaid(t *testing.T) {
	e := newEnv(t)
	e.platform.profile = service.InsuredProfile{Insurances: []service.InsuranceStatus{
		{Insurance: "pension", PaidThrough: "2026-09"}, {Insurance: "medical", PaidThrough: "2026-09"}},
		Arrears: []service.ArrearsMonth{{Insurance: "pension", Month: "2026-10", BaseFen: 730000, RateBP: 2000, AmountFen: 146000},
			{Insurance: "medical", Month: "2026-10", BaseFen: 730000, RateBP: 800, AmountFen: 58400}}}
	_, err := e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "beijing", Person: "self",
		Insurances: both(800000), StartMonth: "2026-09", Months: 3, IncludeArrears: true})
	assertField(t, err, "start_month", service.FieldAlreadyPaid)
}

func TestPlanBatchesRefusesSingleMonthAboveLimit(t *testing.T) {
	_, err := service.PlanBatches([]service.QuoteLine{{Insurance: "pension", Month: "2026-01", AmountFen: 5000001}}, 0, 5000000)
	if service.ErrorCode(err) != service.CodePaymentLimitExceeded || service.ErrorKind(err) != service.KindUnprocessable {
		t.Fatalf("got %v, want %s (unprocessable)", err, service.CodePaymentLimitExceeded)
	}
	if msg := service.AsError(err).Message; !strings.Contains(msg, "2026-01") || !strings.Contains(msg, "50000.01") {
		t.Errorf("got message %q, want it to name the month and the amount", msg)
	}
}

func TestCreateQuotePassesPersonErrorsThrough(t *testing.T) {
	e := newEnv(t)
	e.persons.err = &service.Error{Kind: service.KindForbidden, Code: "not_verified", Message: "请先完成实名认证"}
	_, err := e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "jiangsu", Person: "self",
		Insurances: both(500000), StartMonth: "2026-11", Months: 1})
	if service.ErrorCode(err) != "not_verified" {
		t.Fatalf("got %v, want not_verified", err)
	}
	e.persons.err = nil
	_, err = e.svc.CreateQuote(context.Background(), 1, service.QuoteInput{Region: "jiangsu", Person: "8",
		Insurances: both(500000), StartMonth: "2026-11", Months: 1})
	if service.ErrorKind(err) != service.KindNotFound {
		t.Fatalf("got %v, want not found for another user's member", err)
	}
}

func TestCreateQuoteMapsPlatformErrors(t *testing.T) {
	in := service.QuoteInput{Region: "guangdong-guangzhou", Person: "self", Insurances: []service.InsuranceChoice{{Type: "pension"}}, StartMonth: "2026-11", Months: 1}
	t.Run("Rejected", func(t *testing.T) {
		e := newEnv(t)
		e.platform.err = &service.PlatformRejection{Code: "not_insured", Reason: "未参保"}
		_, err := e.svc.CreateQuote(context.Background(), 1, in)
		if service.ErrorCode(err) != service.CodePlatformRejected || service.ErrorKind(err) != service.KindUnprocessable {
			t.Fatalf("got %v, want platform_rejected", err)
		}
	})
	t.Run("Down", func(t *testing.T) {
		e := newEnv(t)
		e.platform.err = errors.New("dial tcp: timeout")
		_, err := e.svc.CreateQuote(context.Background(), 1, in)
		if service.ErrorKind(err) != service.KindUnavailable {
			t.Fatalf("got %v, want unavailable", err)
		}
	})
}

func TestFindQuote(t *testing.T) {
	e := newEnv(t)
	q := mustQuote(t, e, service.QuoteInput{Region: "jiangsu", Person: "self", Insurances: both(500000), StartMonth: "2026-11", Months: 1})
	t.Run("OwnQuoteAfterExpiry", func(t *testing.T) {
		e.clock.Advance(2 * time.Hour)
		got, err := e.svc.FindQuote(context.Background(), 1, q.ID)
		if err != nil {
			t.Fatalf("FindQuote: %v", err)
		}
		if got.TotalFen != 140000 || !got.ExpiresAt.Before(e.clock.Now()) {
			t.Errorf("got total %d expires %v, want the issued 140000 and an expiry in the past", got.TotalFen, got.ExpiresAt)
		}
	})
	t.Run("AnotherUsersQuote", func(t *testing.T) {
		_, err := e.svc.FindQuote(context.Background(), 2, q.ID)
		if service.ErrorKind(err) != service.KindNotFound {
			t.Fatalf("got %v, want not found", err)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		_, err := e.svc.FindQuote(context.Background(), 1, "QNOPE")
		if service.ErrorKind(err) != service.KindNotFound {
			t.Fatalf("got %v, want not found", err)
		}
	})
}

func TestPlanBatches(t *testing.T) {
	l := func(ins, month string, amount service.Fen) service.QuoteLine {
		return service.QuoteLine{Insurance: ins, Month: month, AmountFen: amount}
	}
	t.Run("FullyOffsetHasNoBatch", func(t *testing.T) {
		got, err := service.PlanBatches([]service.QuoteLine{l("medical", "2026-11", 44080)}, 44080, 100)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %+v, %v, want no batch", got, err)
		}
	})
	t.Run("OffsetTakenFromEarliestMedical", func(t *testing.T) {
		lines := []service.QuoteLine{l("pension", "2026-10", 60), l("medical", "2026-10", 30), l("medical", "2026-11", 30), l("pension", "2026-11", 60)}
		// Offset 40: 2026-10 medical 30 → 0, 2026-11 medical 30 → 20.
		// Month dues: 2026-10 = 60, 2026-11 = 80. Limit 100: two batches.
		got, err := service.PlanBatches(lines, 40, 100)
		want := []service.BatchPlan{{Seq: 1, AmountFen: 60, FromMonth: "2026-10", ToMonth: "2026-10"}, {Seq: 2, AmountFen: 80, FromMonth: "2026-11", ToMonth: "2026-11"}}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %+v, %v, want %+v", got, err, want)
		}
	})
	t.Run("ExactlyAtLimitStaysTogether", func(t *testing.T) {
		got, err := service.PlanBatches([]service.QuoteLine{l("pension", "2026-11", 50), l("pension", "2026-12", 50)}, 0, 100)
		if err != nil || len(got) != 1 || got[0].AmountFen != 100 {
			t.Fatalf("got %+v, %v, want one batch of 100", got, err)
		}
	})
}

func TestLineAmountRoundsHalfUp(t *testing.T) {
	cases := []struct {
		base service.Fen
		rate int64
		want service.Fen
	}{
		{800005, 1000, 80001}, // 80000.5 → 80001
		{800004, 1000, 80000}, // 80000.4 → 80000
		{410600, 560, 22994},  // 22993.6 → 22994
		{727000, 2000, 145400},
		{1, 4999, 0}, // 0.4999 → 0
		{1, 5000, 1}, // 0.5 → 1
	}
	for _, c := range cases {
		if got := service.LineAmount(c.base, c.rate); got != c.want {
			t.Errorf("LineAmount(%d, %d): got %d, want %d", c.base, c.rate, got, c.want)
		}
	}
}

// The platform's figures are checked like a user's: a faulty or
// compromised platform never gets a negative, huge or implausible amount
// priced into a quote. Retrying never helps, so the answer is a stable 422
// (platform_figure_out_of_bounds) sending the user to the local office, and
// operations get an alert; not a 503.
func TestCreateQuoteRefusesImplausiblePlatformFigures(t *testing.T) {
	in := service.QuoteInput{Region: "guangdong-guangzhou", Person: "self",
		Insurances: []service.InsuranceChoice{{Type: "pension"}}, StartMonth: "2026-11", Months: 1}
	refused := func(t *testing.T, e *env, q *service.Quote, err error) {
		t.Helper()
		if q != nil || service.ErrorKind(err) != service.KindUnprocessable || service.ErrorCode(err) != service.CodePlatformFigure {
			t.Fatalf("quote %+v err %v, want no quote and 422 %s", q, err, service.CodePlatformFigure)
		}
		if msg := service.AsError(err).Message; !strings.Contains(msg, "社保经办机构") {
			t.Errorf("got message %q, want it to send the user to the local office", msg)
		}
		if len(e.store.quotes) != 0 {
			t.Fatalf("stored %d quotes, want 0", len(e.store.quotes))
		}
		if len(e.alerts.alerts) != 1 || e.alerts.alerts[0].Kind != service.AlertPlatformFigure {
			t.Fatalf("got alerts %+v, want one %s", e.alerts.alerts, service.AlertPlatformFigure)
		}
	}
	for name, base := range map[string]service.Fen{"NegativeBase": -700000, "HugeBase": 1 << 60, "ZeroBase": 0, "BelowFloor": 550999} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.platform.base = base
			q, err := e.svc.CreateQuote(context.Background(), 1, in)
			refused(t, e, q, err)
		})
	}
	arrears := map[string]service.ArrearsMonth{
		"NegativeArrears": {Insurance: "pension", Month: "2026-09", BaseFen: 551000, RateBP: 2000, AmountFen: -110200},
		// The review's Shanghai-style line: base × rate ≠ amount.
		"AmountDisagreesWithBaseAndRate": {Insurance: "pension", Month: "2026-09", BaseFen: 600000, RateBP: 1000, AmountFen: 48000},
		"ArrearsBaseBelowFloor":          {Insurance: "pension", Month: "2026-09", BaseFen: 400000, RateBP: 2000, AmountFen: 80000},
		"ArrearsWithoutRate":             {Insurance: "pension", Month: "2026-09", BaseFen: 551000, AmountFen: 110200},
		"ArrearsInTheFuture":             {Insurance: "pension", Month: "2026-12", BaseFen: 551000, RateBP: 2000, AmountFen: 110200},
	}
	for name, a := range arrears {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.platform.base = 551000
			e.platform.profile = service.InsuredProfile{Arrears: []service.ArrearsMonth{a}}
			in := in
			in.IncludeArrears = true
			q, err := e.svc.CreateQuote(context.Background(), 1, in)
			refused(t, e, q, err)
		})
	}
}
