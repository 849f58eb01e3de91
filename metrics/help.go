package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shebao/sipay/service"
)

// TicketCounter counts tickets by status at scrape time (model.HelpStore).
type TicketCounter interface {
	CountTickets(ctx context.Context) (map[string]int64, error)
}

// Help implements service.HelpMetrics: subscribe-message sends, ticket SLA
// breaches and first-response times, and tickets by status read from the
// database at scrape time.
type Help struct {
	sends    *prometheus.CounterVec
	breaches prometheus.Counter
	first    prometheus.Histogram
}

var _ service.HelpMetrics = (*Help)(nil)

var descTickets = prometheus.NewDesc("sipay_tickets", "Customer-service tickets by status.", []string{"status"}, nil)

// RegisterHelp registers the customer-service metrics; tickets is read at
// every scrape. Call it once.
func (m *Metrics) RegisterHelp(tickets TicketCounter, log *slog.Logger) *Help {
	h := &Help{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sipay_subscribe_sends_total",
			Help: "Subscribe-message send outcomes by template: sent, no_grant, failed, retry.",
		}, []string{"template", "result"}),
		breaches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sipay_ticket_sla_breaches_total",
			Help: "Tickets without a first response within the SLA (45 minutes of business time).",
		}),
		first: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sipay_ticket_first_response_seconds",
			Help:    "Business time from opening a ticket to the first operations reply.",
			Buckets: []float64{60, 300, 900, 1800, 2700, 3600, 7200, 14400, 86400},
		}),
	}
	m.reg.MustRegister(h.sends, h.breaches, h.first, &ticketCollector{src: tickets, log: log})
	return h
}

// SubscribeSend counts one send outcome.
func (h *Help) SubscribeSend(template, result string) {
	h.sends.WithLabelValues(template, result).Inc()
}

// TicketSLABreached counts one breach.
func (h *Help) TicketSLABreached() { h.breaches.Inc() }

// TicketFirstResponse observes one first response.
func (h *Help) TicketFirstResponse(d time.Duration) { h.first.Observe(d.Seconds()) }

type ticketCollector struct {
	src TicketCounter
	log *slog.Logger
}

func (c *ticketCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descTickets }

func (c *ticketCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.src.CountTickets(ctx)
	if err != nil {
		c.log.Warn("metrics: ticket counts", "err", err)
		return
	}
	emitAll(ch, descTickets, counts, []string{string(service.TicketOpen), string(service.TicketAnswered),
		string(service.TicketResolved), string(service.TicketClosed)})
}
