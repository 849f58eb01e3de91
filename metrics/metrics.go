// Package metrics exposes the service's Prometheus metrics on their own
// listener (METRICS_ADDR): HTTP latency by route template and status, the
// counters the code sees (notification outcomes, posting attempts, unknown
// outcomes) and gauges read from the database at scrape time (outbox depth
// and oldest job, open holds and alerts, refunds and postings by state,
// reconciliation mismatches). It implements service.Metrics, so service/
// never imports Prometheus.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// Snapshotter reads the operations snapshot (model.DB implements it).
type Snapshotter interface {
	OpsSnapshot(ctx context.Context, now time.Time) (*model.OpsSnapshot, error)
}

// Metrics is the registry and the instruments.
type Metrics struct {
	reg      *prometheus.Registry
	http     *prometheus.HistogramVec
	notify   *prometheus.CounterVec
	postings *prometheus.CounterVec
	unknown  *prometheus.CounterVec
}

var _ service.Metrics = (*Metrics)(nil)

// New builds the registry. db is read at every scrape (each query is a
// grouped COUNT on an indexed column); clock gives "now" for ages.
func New(db Snapshotter, clock service.Clock, log *slog.Logger) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sipay_http_request_duration_seconds",
			Help:    "HTTP request latency by route template, method and status.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		notify: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipay_wxpay_notifications_total",
			Help: "WeChat Pay notifications by outcome (first, duplicate, refused, mismatch, unknown_trade, paid_after_close, error) and refusal reason.",
		}, []string{"outcome", "reason"}),
		postings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipay_posting_attempts_total",
			Help: "Calls to the provincial platform by result (accepted, pending, rejected, unknown).",
		}, []string{"result"}),
		unknown: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipay_unknown_outcomes_total",
			Help: "Calls to a peer whose outcome is unknown (timeout, 5xx, unsigned reply, configuration error), by operation; retried, never taken as a no.",
		}, []string{"operation"}),
	}
	// Pre-create the series dashboards and alerts read, so they exist at 0.
	for _, o := range []string{service.NotifyFirst, service.NotifyDuplicate, service.NotifyMismatch, service.NotifyUnknownTrade, service.NotifyError} {
		m.notify.WithLabelValues(o, "")
	}
	for _, r := range []string{"signature", "malformed"} {
		m.notify.WithLabelValues(service.NotifyRefused, r)
	}
	for _, r := range []string{"accepted", "pending", "rejected", "unknown"} {
		m.postings.WithLabelValues(r)
	}
	for _, op := range []string{"posting", "refund"} {
		m.unknown.WithLabelValues(op)
	}
	m.reg.MustRegister(m.http, m.notify, m.postings, m.unknown,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&dbCollector{db: db, clock: clock, log: log})
	return m
}

// NotifyOutcome implements service.Metrics.
func (m *Metrics) NotifyOutcome(outcome, reason string) {
	m.notify.WithLabelValues(outcome, reason).Inc()
}

// PostingAttempt implements service.Metrics.
func (m *Metrics) PostingAttempt(result string) { m.postings.WithLabelValues(result).Inc() }

// UnknownOutcome implements service.Metrics.
func (m *Metrics) UnknownOutcome(op string) { m.unknown.WithLabelValues(op).Inc() }

// Middleware observes every request's latency under its route template
// (c.FullPath(), "unmatched" for 404s of unknown paths, so ids never become
// labels).
func (m *Metrics) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		m.http.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
	}
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return mux
}

var (
	descOutboxPending = prometheus.NewDesc("sipay_outbox_pending_jobs", "Pending outbox jobs by kind.", []string{"kind"}, nil)
	descOutboxOverdue = prometheus.NewDesc("sipay_outbox_overdue_jobs", "Pending outbox jobs whose next attempt is due, by kind.", []string{"kind"}, nil)
	descOutboxOldest  = prometheus.NewDesc("sipay_outbox_oldest_job_age_seconds", "Age of the oldest pending outbox job by kind (0 when none).", []string{"kind"}, nil)
	descHolds         = prometheus.NewDesc("sipay_holds_open", "Risk holds (资金冻结) not yet decided.", nil, nil)
	descAlerts        = prometheus.NewDesc("sipay_alerts_open", "Open operations alerts by kind.", []string{"kind"}, nil)
	descRefunds       = prometheus.NewDesc("sipay_refunds", "Refunds by state.", []string{"state"}, nil)
	descPostings      = prometheus.NewDesc("sipay_postings", "Postings to the provincial platform by status.", []string{"status"}, nil)
	descRecon         = prometheus.NewDesc("sipay_recon_mismatches", "Reconciliation findings of the latest reconciled bill date, by kind.", []string{"kind"}, nil)
	descScrapeErr     = prometheus.NewDesc("sipay_db_scrape_error", "1 when the database snapshot could not be read at this scrape.", nil, nil)
)

// outboxKinds are reported even when empty, so alerts see 0, not absence.
var outboxKinds = []string{service.JobPostBatch, service.JobRefundBatch, service.JobReconDay}

// alertKinds are reported at 0 when none is open, so alert rules see a
// series; a kind added later is reported when one is open.
var alertKinds = []string{service.AlertNotifyMismatch, service.AlertUnknownTrade, service.AlertPaidAfterClose,
	service.AlertRefundAbnormal, service.AlertRefundFailed, service.AlertRefundClosed, service.AlertUnknownRefund,
	service.AlertPostedAfterRefund, service.AlertUnknownPosting, service.AlertPostingDelayed, service.AlertReconMismatch,
	service.AlertPaymentState, service.AlertRefundState, service.AlertRefundMismatch, service.AlertVoucherMismatch,
	service.AlertTicketSLABreached, service.AlertSubscribeRejected}

// dbCollector reads the database at scrape time.
type dbCollector struct {
	db    Snapshotter
	clock service.Clock
	log   *slog.Logger
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOutboxPending, descOutboxOverdue, descOutboxOldest, descHolds, descAlerts, descRefunds, descPostings, descRecon, descScrapeErr} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := c.clock.Now()
	s, err := c.db.OpsSnapshot(ctx, now)
	if err != nil {
		c.log.Warn("metrics: database snapshot", "err", err)
		ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, 0)
	seen := map[string]bool{}
	for _, o := range s.Outbox {
		seen[o.Kind] = true
		age := 0.0
		if !o.Oldest.IsZero() {
			age = max(now.Sub(o.Oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(descOutboxPending, prometheus.GaugeValue, float64(o.Pending), o.Kind)
		ch <- prometheus.MustNewConstMetric(descOutboxOverdue, prometheus.GaugeValue, float64(o.Overdue), o.Kind)
		ch <- prometheus.MustNewConstMetric(descOutboxOldest, prometheus.GaugeValue, age, o.Kind)
	}
	for _, k := range outboxKinds {
		if !seen[k] {
			ch <- prometheus.MustNewConstMetric(descOutboxPending, prometheus.GaugeValue, 0, k)
			ch <- prometheus.MustNewConstMetric(descOutboxOverdue, prometheus.GaugeValue, 0, k)
			ch <- prometheus.MustNewConstMetric(descOutboxOldest, prometheus.GaugeValue, 0, k)
		}
	}
	ch <- prometheus.MustNewConstMetric(descHolds, prometheus.GaugeValue, float64(s.OpenHolds))
	for _, k := range alertKinds {
		ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.GaugeValue, float64(s.OpenAlerts[k]), k)
	}
	for k, n := range s.OpenAlerts {
		if !isKnownAlert(k) {
			ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.GaugeValue, float64(n), k)
		}
	}
	emitAll(ch, descRefunds, s.Refunds, []string{string(service.RefundStatePending), string(service.RefundStateProcessing),
		string(service.RefundStateSuccess), string(service.RefundStateAbnormal), string(service.RefundStateClosed)})
	for k, n := range s.Postings {
		ch <- prometheus.MustNewConstMetric(descPostings, prometheus.GaugeValue, float64(n), k)
	}
	emitAll(ch, descRecon, s.ReconMismatches, []string{service.ReconMissingLocal, service.ReconMissingRemote, service.ReconAmountDiff, service.ReconStatusDiff})
}

// emitAll reports counts by label, known labels at 0 when absent.
func emitAll(ch chan<- prometheus.Metric, d *prometheus.Desc, counts map[string]int64, known []string) {
	for _, k := range known {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(counts[k]), k)
	}
	for k, n := range counts {
		if !slices.Contains(known, k) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(n), k)
		}
	}
}

func isKnownAlert(k string) bool {
	for _, a := range alertKinds {
		if a == k {
			return true
		}
	}
	return false
}
