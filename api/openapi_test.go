package api_test

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/app/apptest"
)

var pathParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// TestOpenAPIMatchesRouter checks docs/openapi.yaml against the real router
// of the fully wired app, both ways, so the two cannot drift.
func TestOpenAPIMatchesRouter(t *testing.T) {
	raw, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi=%q, want 3.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "put", "patch", "delete":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}

	a := apptest.New(t, apptest.Options{})
	routed := map[string]bool{}
	for _, r := range a.Handler.(*api.Server).Engine().Routes() {
		// The simulators' own control APIs are proxied through; they are
		// documented in their packages, not here.
		if strings.HasPrefix(r.Path, "/sim/pay/") || strings.HasPrefix(r.Path, "/sim/platform/") {
			continue
		}
		// The operations console serves HTML pages, not the JSON API; its
		// routes are described in docs/operations.md.
		if r.Path == "/ops" || strings.HasPrefix(r.Path, "/ops/") {
			continue
		}
		routed[r.Method+" "+pathParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	var missing, stale []string
	for k := range routed {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !routed[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("routes not in docs/openapi.yaml:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("docs/openapi.yaml describes routes the router lacks:\n  %s", strings.Join(stale, "\n  "))
	}
}

// The pension estimate's documented parameters are the ones the code reads:
// a request built from the document's required parameters (at their
// minimum where one is given) is answered 200, a request missing any one of
// them is 400 naming it, and a value above a documented maximum is 400.
func TestOpenAPIPensionParametersMatchTheCode(t *testing.T) {
	raw, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name     string `yaml:"name"`
				Required bool   `yaml:"required"`
				Schema   struct {
					Minimum *int64 `yaml:"minimum"`
					Maximum *int64 `yaml:"maximum"`
				} `yaml:"schema"`
			} `yaml:"parameters"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	params := doc.Paths["/api/v1/pension/estimate"]["get"].Parameters
	// A valid person: 40 years old, retiring at 60, 15 years paid.
	value := map[string]string{"current_age": "40", "retirement_age": "60", "years_paid": "15", "base_ratio_bp": "10000",
		"planned_years": "20", "account_balance_fen": "0", "avg_wage_fen": "0", "region": "beijing"}
	srv := newQuoteTestServer(t)
	query := func(skip string, override map[string]string) string {
		var parts []string
		for _, p := range params {
			if p.Name == skip {
				continue
			}
			v, ok := override[p.Name]
			if !ok {
				v, ok = value[p.Name]
			}
			if !ok {
				t.Fatalf("documented parameter %q is unknown to this test (and to the code?)", p.Name)
			}
			parts = append(parts, p.Name+"="+v)
		}
		return "/api/v1/pension/estimate?" + strings.Join(parts, "&")
	}
	if code, body := quoteTestDo(t, srv, "GET", query("", nil), "", ""); code != 200 {
		t.Fatalf("documented request: got %d %v, want 200", code, body)
	}
	for _, p := range params {
		if p.Required {
			if code, body := quoteTestDo(t, srv, "GET", query(p.Name, nil), "", ""); code != 400 || !strings.Contains(fmt.Sprint(body), p.Name) {
				t.Errorf("without %s: got %d %v, want 400 naming it", p.Name, code, body)
			}
		}
		if p.Schema.Maximum != nil {
			over := map[string]string{p.Name: strconv.FormatInt(*p.Schema.Maximum+1, 10)}
			if code, body := quoteTestDo(t, srv, "GET", query("", over), "", ""); code != 400 || !strings.Contains(fmt.Sprint(body), p.Name) {
				t.Errorf("%s above its maximum: got %d %v, want 400 naming it", p.Name, code, body)
			}
		}
	}
}
