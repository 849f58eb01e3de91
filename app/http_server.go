package app

import (
	"net/http"
	"time"
)

// NewHTTPServer returns the http.Server that serves h in production: its
// timeouts bound slow clients (headers 5 s, body 15 s, reply 30 s, idle
// keep-alive 60 s). cmd/server uses it, and cmd/bench, so that what it
// measures is served the same way.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
}
