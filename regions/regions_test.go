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
		if r.BaseMode != service.BaseFree || !r.MedicalBundled || !r.AllowsPeriod(3) || r.AllowsPeriod(6) {
			t.Errorf("%s: got mode %s bundled %v periods %v, want free, bundled, monthly/quarterly", code, r.BaseMode, r.MedicalBundled, r.PeriodMonths)
		}
	}
	for _, code := range []string{"sichuan", "hunan"} {
		r := get(code)
		if r.BaseMode != service.BaseTiers || r.MedicalBundled || len(r.PeriodMonths) != 1 || r.PeriodMonths[0] != 1 {
			t.Errorf("%s: got mode %s bundled %v periods %v, want tiers, medical alone, monthly only", code, r.BaseMode, r.MedicalBundled, r.PeriodMonths)
		}
	}
	for _, code := range []string{"guangdong-guangzhou", "guangdong-shenzhen", "zhejiang-hangzhou"} {
		r := get(code)
		if r.BaseMode != service.BaseAssessed || !r.MutualAid || r.PrepayCapMonths != 6 {
			t.Errorf("%s: got mode %s mutual aid %v cap %d, want assessed, mutual aid, 6", code, r.BaseMode, r.MutualAid, r.PrepayCapMonths)
		}
	}
	gz := get("guangdong-guangzhou")
	if !gz.ShowsArrears() || strings.Join(gz.IdentityMethods, ",") != "face,sms" {
		t.Errorf("guangzhou: got arrears %s identity %v, want history and face,sms", gz.ArrearsView, gz.IdentityMethods)
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
	if p.MinFen != 727000 || p.MaxFen != 3634800 || p.Source != service.SourceSourced {
		t.Errorf("beijing 2026-11: got %d-%d %s, want 727000-3634800 sourced", p.MinFen, p.MaxFen, p.Source)
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
