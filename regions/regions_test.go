package regions

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/shebao/sipay/service"
)

func TestLoadReturnsEveryShippedRegionValid(t *testing.T) {
	rs, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []string{"beijing", "guangdong-guangzhou", "guangdong-shenzhen", "hunan", "jiangsu", "national", "shanghai", "sichuan", "zhejiang-hangzhou"}
	var got []string
	for _, r := range rs {
		got = append(got, r.Code)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got regions %v, want %v", got, want)
	}
	for _, r := range rs {
		// Today is 2026-11; every region must price the current month and
		// the following half year.
		for _, m := range []string{"2026-11", "2027-05"} {
			if _, ok := r.PeriodFor(m); !ok {
				t.Errorf("%s: got no base period for %s, want one", r.Code, m)
			}
		}
	}
}

func TestLoadEncodesTheProductArticleRules(t *testing.T) {
	rs, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	get := func(code string) service.Region {
		r, ok := service.FindRegion(rs, code)
		if !ok {
			t.Fatalf("region %s missing", code)
		}
		return *r
	}
	for _, code := range []string{"beijing", "shanghai"} {
		r := get(code)
		if r.BaseMode != service.BaseFree || !r.BundlingFor("2026-11").MedicalNeedsPension || !r.AllowsPeriod(3) || r.AllowsPeriod(6) {
			t.Errorf("%s: got mode %s bundling %+v periods %v, want free, medical needs pension, monthly/quarterly", code, r.BaseMode, r.BundlingFor("2026-11"), r.PeriodMonths)
		}
	}
	// Bundling is one-way unless the source says otherwise: only Shanghai's
	// source has pension needing medical too.
	for _, r := range rs {
		if got, want := r.BundlingFor("2026-11").PensionNeedsMedical, r.Code == "shanghai"; got != want {
			t.Errorf("%s: got pension_needs_medical %v, want %v", r.Code, got, want)
		}
	}
	for _, code := range []string{"sichuan", "hunan"} {
		r := get(code)
		b := r.BundlingFor("2026-11")
		if r.BaseMode != service.BaseTiers || b.MedicalNeedsPension || b.PensionNeedsMedical || len(r.PeriodMonths) != 1 || r.PeriodMonths[0] != 1 {
			t.Errorf("%s: got mode %s bundling %+v periods %v, want tiers, medical alone, monthly only", code, r.BaseMode, b, r.PeriodMonths)
		}
	}
	for _, code := range []string{"guangdong-guangzhou", "guangdong-shenzhen", "zhejiang-hangzhou"} {
		r := get(code)
		if r.BaseMode != service.BaseAssessed || !r.MutualAid || r.PrepayFor("2026-11").CapMonths != 6 {
			t.Errorf("%s: got mode %s mutual aid %v cap %d, want assessed, mutual aid, 6", code, r.BaseMode, r.MutualAid, r.PrepayFor("2026-11").CapMonths)
		}
	}
	gz := get("guangdong-guangzhou")
	if !gz.ShowsArrears() || strings.Join(gz.IdentityMethods, ",") != "face,sms" || !gz.IdentityAll {
		t.Errorf("guangzhou: got arrears %s identity %v all %v, want history and face+sms both", gz.ArrearsView, gz.IdentityMethods, gz.IdentityAll)
	}
	if gz.AcceptsIdentity([]string{"face"}) || !gz.AcceptsIdentity([]string{"sms", "face"}) {
		t.Errorf("guangzhou: face alone accepted or face+sms refused, want both required")
	}
	// Shanghai's rates are in force from 2024-03 (S1); nothing before.
	sh := get("shanghai")
	if _, ok := sh.RateFor(service.InsurancePension, "2024-02"); ok {
		t.Errorf("shanghai: got a pension rate for 2024-02, want none before 2024-03")
	}
	if x, ok := sh.RateFor(service.InsuranceMedical, "2024-03"); !ok || x.RateBP != 1000 {
		t.Errorf("shanghai: got medical %+v %v for 2024-03, want 1000 bp", x, ok)
	}
	// Hunan medical: 5.6 % of the floor (60 % of the average), whatever the tier.
	hn := get("hunan")
	if x, ok := hn.RateFor(service.InsuranceMedical, "2026-11"); !ok || x.RateBP != 560 || x.BaseRule != service.BaseRuleFloor {
		t.Errorf("hunan: got medical %+v, want 560 bp on the floor", x)
	}
	js := get("jiangsu")
	if js.ShowsArrears() || strings.Join(js.IdentityMethods, ",") != "ecard_password" || strings.Join(js.PaymentChannels, ",") != "wechat_pay" {
		t.Errorf("jiangsu: got arrears %s identity %v channels %v, want current_only, ecard_password, wechat_pay", js.ArrearsView, js.IdentityMethods, js.PaymentChannels)
	}
	nat := get("national")
	if strings.Join(nat.IdentityMethods, ",") != "national" || !contains(nat.PaymentChannels, service.ChannelUnionPay) {
		t.Errorf("national: got identity %v channels %v, want national and union_pay", nat.IdentityMethods, nat.PaymentChannels)
	}
	sz := get("guangdong-shenzhen")
	if !sz.AcceptsIDType(service.IDHKMacauTravel) || gz.AcceptsIDType(service.IDHKMacauTravel) {
		t.Errorf("got home-return permit accepted outside Shenzhen or refused in Shenzhen, want Shenzhen only")
	}
	bj := get("beijing")
	p, _ := bj.PeriodFor("2026-11")
	// The source gives the year 2026 only: the July start is assumed, so
	// the period is illustrative.
	if p.MinFen != 727000 || p.MaxFen != 3634800 || p.Source != service.SourceIllustrative {
		t.Errorf("beijing 2026-11: got %d-%d %s, want 727000-3634800 illustrative", p.MinFen, p.MaxFen, p.Source)
	}
}

// The review's derived figures are downgraded: Sichuan's 60 %/100 % tiers,
// Hunan's tier 100, windows whose source gives only a year, and every
// average wage derived from a ceiling.
func TestLoadDowngradesDerivedFigures(t *testing.T) {
	rs, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, r := range rs {
		for i, p := range r.Periods {
			for _, tier := range p.Tiers {
				if (r.Code == "sichuan" || tier.Code == "100") && tier.Source != service.SourceIllustrative {
					t.Errorf("%s periods[%d] tier %s: got %s, want illustrative (derived)", r.Code, i, tier.Code, tier.Source)
				}
			}
			if p.Source == service.SourceSourced && !strings.Contains(p.Note, "S1") && !strings.Contains(p.Note, "S2") && !strings.Contains(p.Note, "S3") {
				t.Errorf("%s periods[%d]: sourced without a grade in %q", r.Code, i, p.Note)
			}
		}
		if strings.Contains(r.AvgWageSource.Note, "derived") && r.AvgWageSource.Source != service.SourceIllustrative {
			t.Errorf("%s: got a derived average wage tagged %s, want illustrative", r.Code, r.AvgWageSource.Source)
		}
		if len(r.Illustrative()) == 0 {
			t.Errorf("%s: got no illustrative figures listed, want the placeholders listed", r.Code)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func validFile(tb testing.TB) string {
	tb.Helper()
	b, err := data.ReadFile("data/national.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestLoadFSRefusesBadFilesNamingFileAndField(t *testing.T) {
	good := validFile(t)
	cases := []struct {
		name, file, body, wantInErr string
	}{
		{"UnknownKey", "x/national.yaml", strings.Replace(good, "mutual_aid:", "mutual_aids:", 1), "field mutual_aids not found"},
		{"UntaggedIdentity", "x/national.yaml", strings.Replace(good, "  source_note: \"S3 product article 一 (全国标准版: 国家政务平台统一认证)\"", "", 1), "identity_source.source_note"},
		{"OverlappingRates", "x/national.yaml", strings.Replace(good, "rates:\n", "rates:\n  - {insurance: pension, rate_bp: 1000, source: illustrative, source_note: x}\n", 1), "rates[1].from"},
		{"BadPrepayCap", "x/national.yaml", strings.Replace(good, "cap_months: 12", "cap_months: 13", 1), "prepay[0].cap_months"},
		{"BadBaseMode", "x/national.yaml", strings.Replace(good, "base_mode: free", "base_mode: chosen", 1), "base_mode"},
		{"MaxBelowMin", "x/national.yaml", strings.Replace(good, "max_fen: 2250000", "max_fen: 100", 1), "periods[0].max_fen"},
		{"UnknownSourceTag", "x/national.yaml", strings.Replace(good, "source: illustrative", "source: guessed", 1), "periods[0].source"},
		{"BadIDType", "x/national.yaml", strings.Replace(good, "resident_id,", "passport,", 1), "id_types[0]"},
		{"BadPeriodLength", "x/national.yaml", strings.Replace(good, "[1, 3, 6, 12]", "[1, 2]", 1), "period_months[1]"},
		{"CodeNotFileName", "x/other.yaml", good, "does not match the file name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadFS(fstest.MapFS{c.file: {Data: []byte(c.body)}}, "x")
			if err == nil {
				t.Fatalf("got no error, want one containing %q", c.wantInErr)
			}
			if !strings.Contains(err.Error(), c.file) || !strings.Contains(err.Error(), c.wantInErr) {
				t.Fatalf("got error %q, want it to name %s and %q", err, c.file, c.wantInErr)
			}
		})
	}
}

func TestLoadFSRefusesOverlappingPeriods(t *testing.T) {
	body := strings.Replace(validFile(t), `  - from: "2024-01"`, `  - from: "2024-01"
    to: "2024-12"
    min_fen: 1
    max_fen: 2
    source: illustrative
    source_note: x
  - from: "2024-06"`, 1)
	_, err := LoadFS(fstest.MapFS{"x/national.yaml": {Data: []byte(body)}}, "x")
	if err == nil || !strings.Contains(err.Error(), "periods[1].from") {
		t.Fatalf("got %v, want an error naming periods[1].from", err)
	}
}
