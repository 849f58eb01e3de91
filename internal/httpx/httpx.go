// Package httpx builds the transport of our outbound HTTP clients (WeChat
// Pay, the provincial platform, the mini-program API).
package httpx

import "net/http"

// IdleConnsPerHost is how many idle keep-alive connections a client keeps
// to one host. http.DefaultTransport keeps 2, so a burst of concurrent calls
// (64 orders at once, each asking WeChat Pay for a prepay id) dialed, and in
// production shook hands over TLS, afresh for all but 2 of them every time.
// 64 matches the concurrency the server is measured at (docs/performance.md).
const IdleConnsPerHost = 64

// NewTransport returns a clone of http.DefaultTransport (proxy from the
// environment, its dial, TLS handshake and idle timeouts, HTTP/2) that keeps
// IdleConnsPerHost idle connections per host. Give each client its own: a
// client's connections then stay with the host it calls.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = IdleConnsPerHost
	// The platform client calls one host per region; leave room for a few.
	t.MaxIdleConns = 4 * IdleConnsPerHost
	return t
}
