package api

import (
	"context"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// CountingAuthenticator authenticates and counts a per-user rate limit in
// one step (service.AuthService); Deps.Auth may implement it.
type CountingAuthenticator interface {
	AuthenticateCounting(ctx context.Context, token string, l service.UserLimit) (*service.User, service.LimitVerdict, error)
}

// CachedAuthenticator is a CountingAuthenticator that can answer with the
// user's cached snapshot (service.AuthService.AuthenticateCached) on the
// routes whose use cases take one (cachedUserRoutes).
type CachedAuthenticator interface {
	AuthenticateCached(ctx context.Context, token string, l service.UserLimit) (*service.User, service.LimitVerdict, error)
}

// cachedUserRoutes are the routes, by "METHOD /full/path", whose use cases
// take a cached user (ID, OpenID, PersonID and Self only, Self a lower
// bound: see service.AuthService.AuthenticateCached): a quote and an order,
// the hot paths, which for "self" need nothing else of the user, and
// re-read the evidence before refusing on it. Each must be a userRoute.
var cachedUserRoutes = map[string]bool{
	"POST /api/v1/quotes": true,
	"POST /api/v1/orders": true,
}

// userRoute mounts an authenticated route of g (a group behind
// authenticate) limited to perMinute requests a minute per user under name.
// The route is recorded so that authenticate counts the limit with the
// session lookup; limit counts it when that did not (a token of the old
// format, an Authenticator that cannot).
func (s *Server) userRoute(g *gin.RouterGroup, method, relPath, name string, perMinute int, h ...gin.HandlerFunc) {
	if s.userLimits == nil {
		s.userLimits = map[string]service.UserLimit{}
	}
	full := path.Join(g.BasePath(), relPath)
	if strings.HasSuffix(relPath, "/") && !strings.HasSuffix(full, "/") {
		full += "/"
	}
	s.userLimits[method+" "+full] = service.UserLimit{Route: name, Limit: perMinute, Window: time.Minute}
	g.Handle(method, relPath, append([]gin.HandlerFunc{s.limit(name, perMinute)}, h...)...)
}

// checkUserLimits panics unless every route userRoute recorded is one the
// router serves under that method and path (authenticate finds a route's
// limit by c.FullPath(); a mismatch would quietly count in two steps).
func (s *Server) checkUserLimits() {
	served := map[string]bool{}
	for _, r := range s.engine.Routes() {
		served[r.Method+" "+r.Path] = true
	}
	for k := range s.userLimits {
		if !served[k] {
			panic("api: userRoute recorded " + k + ", which the router does not serve")
		}
	}
	for k := range cachedUserRoutes {
		if _, ok := s.userLimits[k]; served[k] && !ok {
			panic("api: cached-user route " + k + " is not a userRoute")
		}
	}
}
