// Package sim runs the development simulators — WeChat mini-program APIs,
// WeChat Pay v3 and the provincial platform — behind one loopback HTTP
// server, so the product's real clients talk HTTP to them exactly as they
// would to the real services.
package sim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Server is a loopback HTTP server for the simulators.
type Server struct {
	URL string
	srv *http.Server
	ln  net.Listener
}

// Start serves h on addr (use "127.0.0.1:0" for a free port).
func Start(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), ln: ln,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
