package paysim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/shebao/sipay/wxpay"
)

// NotifyBehavior changes how notifications are delivered.
type NotifyBehavior struct {
	// DropFirst loses the first N deliveries of each event (never sent).
	DropFirst int `json:"drop_first"`
	// Duplicates sends every delivery this many extra times.
	Duplicates int `json:"duplicates"`
	// Concurrent sends the duplicates at the same time as the original.
	Concurrent bool `json:"concurrent"`
	// Hold queues new events until ReleaseHeld is called, so tests can
	// deliver them out of order.
	Hold bool `json:"hold"`
}

// SetNotifyBehavior replaces the delivery behaviour for new events.
func (s *Sim) SetNotifyBehavior(b NotifyBehavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyBeh = b
}

// Delivery reports one event's delivery.
type Delivery struct {
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	Key        string `json:"key"` // out_trade_no or out_refund_no
	URL        string `json:"url"`
	Sent       int    `json:"sent"`    // HTTP requests made (including duplicates)
	Dropped    int    `json:"dropped"` // attempts lost on purpose
	Acked      bool   `json:"acked"`   // a 200/204 was received
	GaveUp     bool   `json:"gave_up"` // the schedule ran out
	LastStatus int    `json:"last_status"`
}

type delivery struct {
	Delivery
	body []byte
	beh  NotifyBehavior
	done chan struct{} // closed when acked or given up
}

// enqueue builds the notification and starts (or holds) its delivery.
// The caller holds s.mu.
func (s *Sim) enqueue(eventType, originalType, key, url string, resource any) {
	_, body, err := wxpay.SignNotification(eventType, resource, originalType, s.cfg.PlatformKey, s.cfg.PublicKeyID, s.cfg.APIv3Key, s.cfg.Clock.Now())
	if err != nil {
		s.log.Error("paysim: build notification", "err", err)
		return
	}
	var env struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &env)
	d := &delivery{Delivery: Delivery{EventID: env.ID, EventType: eventType, Key: key, URL: url},
		body: body, beh: s.notifyBeh, done: make(chan struct{})}
	s.deliveries = append(s.deliveries, d)
	close(s.enqueued)
	s.enqueued = make(chan struct{})
	if d.beh.Hold {
		s.held = append(s.held, d)
		return
	}
	s.goBackground(func() { s.run(d) })
}

// ReleaseHeld starts the held deliveries: in reverse order when reverse is
// true, all at once when concurrent is true (then order is up to the
// scheduler). It returns how many were released.
func (s *Sim) ReleaseHeld(reverse, concurrent bool) int {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	if reverse {
		for i, j := 0, len(held)-1; i < j; i, j = i+1, j-1 {
			held[i], held[j] = held[j], held[i]
		}
	}
	if concurrent {
		s.mu.Lock()
		for _, d := range held {
			s.goBackground(func() { s.run(d) })
		}
		s.mu.Unlock()
		return len(held)
	}
	s.mu.Lock()
	s.goBackground(func() {
		for _, d := range held {
			s.run(d)
		}
	})
	s.mu.Unlock()
	return len(held)
}

// run delivers d: first attempt now, then a retry after each schedule step
// until a 200/204 arrives.
func (s *Sim) run(d *delivery) {
	defer close(d.done)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if attempt > len(s.cfg.Schedule) {
				s.mu.Lock()
				d.GaveUp = true
				s.mu.Unlock()
				s.log.Warn("paysim: notification given up", "event", d.EventType, "key", d.Key)
				return
			}
			wait := time.Duration(float64(s.cfg.Schedule[attempt-1]) * s.cfg.ScheduleScale)
			if !s.sleep(wait) {
				return
			}
		}
		s.mu.Lock()
		drop := d.Dropped < d.beh.DropFirst
		if drop {
			d.Dropped++
		}
		s.mu.Unlock()
		if drop {
			continue
		}
		if s.attempt(d) {
			return
		}
	}
}

// attempt sends one delivery plus its duplicates; it reports whether any
// got 200/204.
func (s *Sim) attempt(d *delivery) bool {
	n := 1 + d.beh.Duplicates
	results := make([]bool, n)
	if d.beh.Concurrent {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = s.post(d)
			}()
		}
		wg.Wait()
	} else {
		for i := range n {
			results[i] = s.post(d)
		}
	}
	for _, ok := range results {
		if ok {
			return true
		}
	}
	return false
}

// post makes one HTTP request, signed now with the injected clock.
func (s *Sim) post(d *delivery) bool {
	hdr, err := wxpay.SignResponseHeaders(s.cfg.PlatformKey, s.cfg.PublicKeyID, s.cfg.Clock.Now(), d.body)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.body))
	if err != nil {
		return false
	}
	req.Header = hdr
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mozilla/4.0")
	status := 0
	resp, err := s.client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		status = resp.StatusCode
	}
	ok := status == http.StatusOK || status == http.StatusNoContent
	s.mu.Lock()
	d.Sent++
	d.LastStatus = status
	if ok {
		d.Acked = true
	}
	s.mu.Unlock()
	s.log.Info("paysim: notification sent", "event", d.EventType, "key", d.Key, "status", status, "err", err)
	return ok
}

// Deliveries returns a snapshot of every event's delivery, oldest first.
func (s *Sim) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.deliveries))
	for i, d := range s.deliveries {
		out[i] = d.Delivery
	}
	return out
}

// WaitDelivery waits until an event of eventType for key (an out_trade_no
// or out_refund_no) exists and its delivery was acknowledged or given up,
// and returns its report (the latest such event). It fails when ctx ends
// first.
func (s *Sim) WaitDelivery(ctx context.Context, eventType, key string) (Delivery, error) {
	var d *delivery
	for d == nil {
		s.mu.Lock()
		for _, x := range s.deliveries {
			if x.EventType == eventType && x.Key == key {
				d = x
			}
		}
		next := s.enqueued
		s.mu.Unlock()
		if d != nil {
			break
		}
		select {
		case <-next:
		case <-ctx.Done():
			return Delivery{}, fmt.Errorf("%w: %s %s: %v", ErrNoSuchDelivery, eventType, key, ctx.Err())
		case <-s.stop:
			return Delivery{}, errors.New("paysim stopped")
		}
	}
	select {
	case <-d.done:
	case <-ctx.Done():
		return Delivery{}, ctx.Err()
	case <-s.stop:
		return Delivery{}, errors.New("paysim stopped")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return d.Delivery, nil
}
