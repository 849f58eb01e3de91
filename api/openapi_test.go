package api_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/config"
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

	env := map[string]string{"DATA_DIR": t.TempDir()}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
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
