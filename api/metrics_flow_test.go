package api_test

import (
	"net/http"
	"net/http/httptest"
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
