// Package httpxtest serves a handler to concurrent waves of calls and counts
// the connections the clients open, to check that they keep them alive.
package httpxtest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is an httptest server that holds every request until Wave requests
// are in flight together, so a wave of Wave concurrent calls needs Wave
// connections at once, and counts the connections opened.
type Server struct {
	*httptest.Server
	Wave int

	opened atomic.Int64

	mu      sync.Mutex
	waiting int
	release chan struct{}
}

// NewServer starts a Server for next (closed by tb.Cleanup).
func NewServer(tb testing.TB, wave int, next http.Handler) *Server {
	tb.Helper()
	s := &Server{Wave: wave, release: make(chan struct{})}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-s.arrive():
		case <-r.Context().Done():
			return
		}
		next.ServeHTTP(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.opened.Add(1)
		}
	}
	s.Start()
	tb.Cleanup(s.Close)
	return s
}

// arrive counts a request in and returns the channel that releases its wave.
func (s *Server) arrive() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.release
	if s.waiting++; s.waiting == s.Wave {
		close(s.release)
		s.release, s.waiting = make(chan struct{}), 0
	}
	return ch
}

// Opened returns how many connections clients have opened so far.
func (s *Server) Opened() int { return int(s.opened.Load()) }

// NewConnsPerWave runs two waves of s.Wave concurrent calls of call(i) and
// returns the connections each wave opened. call must make exactly one
// request to s and read its response to the end; its error fails tb.
func (s *Server) NewConnsPerWave(tb testing.TB, call func(i int) error) (first, second int) {
	tb.Helper()
	wave := func(base int) int {
		before := s.Opened()
		errs := make([]error, s.Wave)
		var wg sync.WaitGroup
		for i := range s.Wave {
			wg.Go(func() { errs[i] = call(base + i) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				tb.Fatalf("call %d: %v", base+i, err)
			}
		}
		return s.Opened() - before
	}
	return wave(0), wave(s.Wave)
}
