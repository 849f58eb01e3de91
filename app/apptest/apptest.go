// Package apptest is the one harness that boots the whole App for tests
// (api, app, securitytest), with the small helpers those tests share.
package apptest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/config"
	"github.com/shebao/sipay/model/modeltest"
)

// Options say how to boot the App.
type Options struct {
	// Env are the settings; DATA_DIR defaults to a temporary folder.
	Env map[string]string
	// MySQL sets MYSQL_DSN to a fresh database on TEST_MYSQL_DSN's server.
	MySQL bool
	// Log is the logger (default: one that discards).
	Log *slog.Logger
	// App are the options passed to app.New (clock, simulator front).
	App app.Options
}

// New loads the configuration from o.Env, builds the App and closes it at
// cleanup. Cleanups the caller registers later (stopping workers, closing a
// server in front) run before the App is closed.
func New(tb testing.TB, o Options) *app.App {
	tb.Helper()
	vars := map[string]string{"DATA_DIR": tb.TempDir()}
	for k, v := range o.Env {
		vars[k] = v
	}
	if o.MySQL {
		vars["MYSQL_DSN"] = modeltest.FreshMySQLDSN(tb)
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a, err := app.New(context.Background(), cfg, log, o.App)
	if err != nil {
		tb.Fatalf("app.New: %v", err)
	}
	tb.Cleanup(a.Close)
	return a
}

// SyncBuffer is a bytes.Buffer safe for a logger and the test reading it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
