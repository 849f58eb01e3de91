package api_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsAfterTheFlow scrapes /metrics (the METRICS_ADDR handler) after
// the main flow and checks that every family exists and that the ones the
// flow must move have non-zero samples.
func TestMetricsAfterTheFlow(t *testing.T) {
	f := startFlowServer(t, nil, nil)
	orderNo := runMainFlow(t, f)

	srv := httptest.NewServer(f.app.Metrics.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %d", res.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	// value sums the samples of a family whose labels include want.
	value := func(name string, want map[string]string) (float64, bool) {
		fam, ok := fams[name]
		if !ok {
			return 0, false
		}
		sum := 0.0
	next:
		for _, m := range fam.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			sum += sampleValue(m)
		}
		return sum, true
	}
	for _, c := range []struct {
		name    string
		labels  map[string]string
		nonZero bool
	}{
		{"sipay_http_request_duration_seconds", map[string]string{"route": "/api/v1/orders/:order_no", "method": "GET", "status": "200"}, true},
		{"sipay_http_request_duration_seconds", map[string]string{"route": "/api/v1/wxpay/notify", "status": "204"}, true},
		{"sipay_http_request_duration_seconds", map[string]string{"route": "unmatched"}, false},
		{"sipay_wxpay_notifications_total", map[string]string{"outcome": "first"}, true},
		{"sipay_wxpay_notifications_total", map[string]string{"outcome": "refused", "reason": "signature"}, false},
		{"sipay_posting_attempts_total", map[string]string{"result": "accepted"}, true},
		{"sipay_unknown_outcomes_total", map[string]string{"operation": "posting"}, false},
		{"sipay_postings", map[string]string{"status": "accepted"}, true},
		{"sipay_outbox_pending_jobs", map[string]string{"kind": "post_batch"}, false},
		{"sipay_outbox_oldest_job_age_seconds", map[string]string{"kind": "refund_batch"}, false},
		{"sipay_holds_open", nil, false},
		{"sipay_alerts_open", map[string]string{"kind": "notify_mismatch"}, false},
		{"sipay_db_scrape_error", nil, false},
	} {
		v, ok := value(c.name, c.labels)
		if !ok {
			t.Errorf("family %s missing from /metrics", c.name)
			continue
		}
		if c.nonZero && v == 0 {
			t.Errorf("%s%v is 0 after a posted order (%s)", c.name, c.labels, orderNo)
		}
	}
	if v, _ := value("sipay_db_scrape_error", nil); v != 0 {
		t.Errorf("the database snapshot failed at scrape")
	}
	for name := range fams {
		if strings.Contains(name, "order_no") {
			t.Errorf("a metric name carries an id: %s", name)
		}
	}
	checkDeployFiles(t, fams)
	for _, m := range fams["sipay_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && strings.Contains(l.GetValue(), orderNo) {
				t.Errorf("route label holds an order number: %s", l.GetValue())
			}
		}
	}
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

// checkDeployFiles: the dashboard and the alert rules under deploy/ use only
// metric families the service exports, and every alert kind of
// docs/operations.md has a rule.
func checkDeployFiles(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	name := regexp.MustCompile(`sipay_[a-z_]+`)
	rules, err := os.ReadFile("../deploy/prometheus-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"../deploy/prometheus-alerts.yml", "../deploy/grafana-dashboard.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range name.FindAllString(string(b), -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
			if _, ok := fams[base]; !ok && !strings.HasPrefix(n, "sipay_overview") {
				t.Errorf("%s uses %s, which /metrics does not export", file, n)
			}
		}
	}
	ops, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	kinds := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(string(ops), -1)
	if len(kinds) < 5 {
		t.Fatalf("found %d alert kinds in docs/operations.md; the table format changed?", len(kinds))
	}
	for _, k := range kinds {
		if !strings.Contains(string(rules), `kind="`+k[1]+`"`) {
			t.Errorf("alert kind %s (docs/operations.md) has no rule in deploy/prometheus-alerts.yml", k[1])
		}
	}
}
