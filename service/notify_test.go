package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/shebao/sipay/service"
)

type notifyParser struct {
	ev  service.PayEvent
	err error
}

func (p notifyParser) Parse(http.Header, []byte) (service.PayEvent, error) { return p.ev, p.err }

type notifyOrders struct{ err error }

func (o notifyOrders) HandleTransaction(context.Context, service.TransactionEvent) error {
	return o.err
}

type notifyRefunds struct {
	calls int
	err   error
}

func (r *notifyRefunds) HandleRefundEvent(context.Context, service.RefundEvent) error {
	r.calls++
	return r.err
}

type notifyDedupe struct{ seen map[string]bool }

func (d *notifyDedupe) Seen(_ context.Context, id string) (bool, error) { return d.seen[id], nil }
func (d *notifyDedupe) Mark(_ context.Context, id string) error         { d.seen[id] = true; return nil }

type notifyMetrics struct {
	service.NopMetrics
	mu  sync.Mutex
	got []string
}

func (m *notifyMetrics) NotifyOutcome(outcome, reason string) {
	m.mu.Lock()
	m.got = append(m.got, outcome+"/"+reason)
	m.mu.Unlock()
}

func newNotify(p notifyParser, orders notifyOrders, refunds *notifyRefunds, m *notifyMetrics) (*service.NotifyService, *notifyDedupe) {
	d := &notifyDedupe{seen: map[string]bool{}}
	deps := service.NotifyDeps{Parser: p, Orders: orders, Dedupe: d, Metrics: m, Log: slog.New(slog.DiscardHandler)}
	if refunds != nil {
		deps.Refunds = refunds
	}
	return service.NewNotifyService(deps), d
}

func TestNotifyParseFailuresAreRefusedByKind(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		kind   service.Kind
		reason string
	}{
		{"Malformed", service.NotifyMalformed(errors.New("no resource")), service.KindInvalid, "malformed"},
		{"Unverified", service.NotifyUnverified(errors.New("bad signature")), service.KindUnauthenticated, "signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &notifyMetrics{}
			s, _ := newNotify(notifyParser{err: c.err}, notifyOrders{}, nil, m)
			err := s.Receive(context.Background(), http.Header{}, strings.NewReader("{}"))
			if got := service.ErrorKind(err); got != c.kind {
				t.Fatalf("kind=%v (%v), want %v", got, err, c.kind)
			}
			if got, want := fmt.Sprint(m.got), "[refused/"+c.reason+"]"; got != want {
				t.Fatalf("metrics=%s, want %s", got, want)
			}
		})
	}
}

// A body over MaxNotifyBody is refused as malformed before parsing.
func TestNotifyBodyOverTheLimitIsMalformed(t *testing.T) {
	m := &notifyMetrics{}
	s, _ := newNotify(notifyParser{ev: service.TransactionEvent{}}, notifyOrders{}, nil, m)
	body := io.LimitReader(strings.NewReader(strings.Repeat("x", service.MaxNotifyBody+10)), service.MaxNotifyBody+1)
	err := s.Receive(context.Background(), http.Header{}, body)
	if service.ErrorCode(err) != service.CodeNotifyMalformed {
		t.Fatalf("err=%v, want %s", err, service.CodeNotifyMalformed)
	}
}

// An out_trade_no that is not ours is acknowledged (alerted by the order
// service); a mismatch is a refusal; a write failure is internal.
func TestNotifyTransactionOutcomes(t *testing.T) {
	ev := service.TransactionEvent{EventID: "EV-1", Trade: service.Trade{OutTradeNo: "X_01"}}
	for _, c := range []struct {
		name string
		err  error
		kind service.Kind // -1: nil
	}{
		{"UnknownTradeAcknowledged", fmt.Errorf("X_01: %w", service.ErrUnknownTrade), -1},
		{"MismatchRefused", service.Invalid(service.CodeNotifyMismatch, "amount"), service.KindInvalid},
		{"WriteFailureInternal", errors.New("db down"), service.KindInternal},
		{"OtherKindsInternal", service.Unavailable("busy", 0, nil), service.KindInternal},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := newNotify(notifyParser{ev: ev}, notifyOrders{err: c.err}, nil, &notifyMetrics{})
			err := s.Receive(context.Background(), http.Header{}, strings.NewReader("{}"))
			if c.kind == -1 {
				if err != nil {
					t.Fatalf("err=%v, want nil", err)
				}
				return
			}
			if got := service.ErrorKind(err); err == nil || got != c.kind {
				t.Fatalf("err=%v kind=%v, want kind %v", err, got, c.kind)
			}
		})
	}
}

// Refund notifications use the dedupe fast path: a repeat of a processed
// event id is answered without the refund service; without a refund
// service they are internal errors (WeChat retries).
func TestNotifyRefundDedupe(t *testing.T) {
	ev := service.RefundEvent{EventID: "EV-r1"}
	m := &notifyMetrics{}
	refunds := &notifyRefunds{}
	s, d := newNotify(notifyParser{ev: ev}, notifyOrders{}, refunds, m)
	for i := 0; i < 2; i++ {
		if err := s.Receive(context.Background(), http.Header{}, strings.NewReader("{}")); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	if refunds.calls != 1 || !d.seen["EV-r1"] {
		t.Fatalf("refund handler calls=%d marked=%v, want 1 and true", refunds.calls, d.seen["EV-r1"])
	}
	if got, want := fmt.Sprint(m.got), "[duplicate/]"; got != want {
		t.Fatalf("metrics=%s, want %s", got, want)
	}

	failing := &notifyRefunds{err: errors.New("db down")}
	s, d = newNotify(notifyParser{ev: ev}, notifyOrders{}, failing, &notifyMetrics{})
	if err := s.Receive(context.Background(), http.Header{}, strings.NewReader("{}")); service.ErrorKind(err) != service.KindInternal || d.seen["EV-r1"] {
		t.Fatalf("failed refund: err=%v marked=%v, want internal and not marked", err, d.seen["EV-r1"])
	}

	s, _ = newNotify(notifyParser{ev: ev}, notifyOrders{}, nil, &notifyMetrics{})
	if err := s.Receive(context.Background(), http.Header{}, strings.NewReader("{}")); service.ErrorKind(err) != service.KindInternal {
		t.Fatalf("no refund handler: err=%v, want internal", err)
	}
}
