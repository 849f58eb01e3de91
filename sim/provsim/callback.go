package provsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
)

// newEvent queues an event. Call with s.mu held.
func (s *Sim) newEvent(region, typ string, now time.Time, data platform.WireEventData) *event {
	s.seq++
	w := platform.WireEvent{
		EventID:    fmt.Sprintf("evt_%s_%08d", now.In(service.Shanghai).Format("20060102"), s.seq),
		Type:       typ,
		Region:     region,
		OccurredAt: now.Format(time.RFC3339),
		Data:       data,
	}
	b, _ := json.Marshal(w)
	ev := &event{id: w.EventID, region: region, typ: typ, body: b}
	s.events = append(s.events, ev)
	return ev
}

func (s *Sim) credsFor(region string) (platform.Credentials, bool) {
	if cr, ok := s.cfg.Creds[region]; ok && cr.Valid() {
		return cr, true
	}
	if s.cfg.Shared.Valid() {
		return s.cfg.Shared, true
	}
	return platform.Credentials{}, false
}

// deliver POSTs one event to our callback URL, signed with a fresh
// timestamp and nonce. The event id stays the same on every delivery.
func (s *Sim) deliver(ctx context.Context, ev *event) error {
	if s.cfg.CallbackURL == nil {
		return nil
	}
	cr, ok := s.credsFor(ev.region)
	if !ok {
		return fmt.Errorf("provsim: no credentials for region %q", ev.region)
	}
	u := s.cfg.CallbackURL(ev.region)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(ev.body))
	if err != nil {
		return fmt.Errorf("provsim: callback %s: %w", ev.id, err)
	}
	platform.SignHeaders(req.Header, cr, s.cfg.Clock.Now(), platform.NewNonce(), http.MethodPost, req.URL.RequestURI(), ev.body)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	s.mu.Lock()
	ev.deliveries++
	s.mu.Unlock()
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("provsim: callback %s: %w", ev.id, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("provsim: callback %s: status %d", ev.id, resp.StatusCode)
	}
	s.mu.Lock()
	ev.delivered = true
	s.mu.Unlock()
	return nil
}

// FlushCallbacks redelivers every event not yet acknowledged with a 2xx.
func (s *Sim) FlushCallbacks(ctx context.Context) error {
	s.mu.Lock()
	var todo []*event
	for _, ev := range s.events {
		if !ev.delivered {
			todo = append(todo, ev)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, ev := range todo {
		errs = append(errs, s.deliver(ctx, ev))
	}
	return errors.Join(errs...)
}

// ResendEvent delivers an event again (same event id, new nonce), as a
// platform does when it did not see our acknowledgement.
func (s *Sim) ResendEvent(ctx context.Context, eventID string) error {
	s.mu.Lock()
	var ev *event
	for _, e := range s.events {
		if e.id == eventID {
			ev = e
		}
	}
	s.mu.Unlock()
	if ev == nil {
		return fmt.Errorf("provsim: no event %q", eventID)
	}
	return s.deliver(ctx, ev)
}

// SentEvent is a callback event, for tests.
type SentEvent struct {
	EventID    string
	Type       string
	Region     string
	Body       []byte
	Delivered  bool
	Deliveries int
}

// Events returns every event in creation order.
func (s *Sim) Events() []SentEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentEvent, len(s.events))
	for i, ev := range s.events {
		out[i] = SentEvent{EventID: ev.id, Type: ev.typ, Region: ev.region, Body: ev.body, Delivered: ev.delivered, Deliveries: ev.deliveries}
	}
	return out
}

// CallbackURLFor returns a CallbackURL function for our server at base
// (e.g. http://127.0.0.1:8080): base + /api/v1/platform/{region}/callback.
func CallbackURLFor(base string) func(region string) string {
	return func(region string) string {
		return base + "/api/v1/platform/" + url.PathEscape(region) + "/callback"
	}
}
