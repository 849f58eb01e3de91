package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

const (
	ctxRequestID = "request_id"
	ctxUser      = "user"
	ctxLogger    = "logger"
	// ctxLimitCounted marks a request whose per-user limit authenticate
	// counted.
	ctxLimitCounted = "limit_counted"
)

// hygiene sets the headers every reply carries: no MIME sniffing, and no
// caching of API replies (session tokens, personal data).
func (s *Server) hygiene(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		h.Set("Cache-Control", "no-store")
	}
	c.Next()
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID takes a well-formed X-Request-ID or makes one, and echoes it.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !requestIDPattern.MatchString(id) {
		b := make([]byte, 12)
		rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Set(ctxRequestID, id)
	c.Set(ctxLogger, s.log.With("request_id", id))
	c.Header("X-Request-ID", id)
	c.Next()
}

func requestIDOf(c *gin.Context) string { return c.GetString(ctxRequestID) }

func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			fail(c, fmt.Errorf("panic: %v", r))
		}
	}()
	c.Next()
}

// accessLog logs one line per request. Paths carry no personal data; query
// strings are not logged.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	logger(c).Info("http", "method", c.Request.Method, "route", c.FullPath(), "status", c.Writer.Status(),
		"dur_ms", time.Since(start).Milliseconds())
}

// authenticate requires a Bearer session token. On a route with a per-user
// limit (userRoute) it counts the limit in the session lookup's round trip
// when Auth can (CountingAuthenticator), answering 429 before the user is
// read; limit then counts nothing more. On a cachedUserRoutes route the
// same round trip also brings the user's snapshot (CachedAuthenticator),
// and the user row is not read when there is one.
func (s *Server) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		fail(c, service.ErrUnauthenticated)
		return
	}
	token = strings.TrimSpace(token)
	var u *service.User
	var err error
	ca, counting := s.deps.Auth.(CountingAuthenticator)
	route := c.Request.Method + " " + c.FullPath()
	l, limited := s.userLimits[route]
	if counting && limited && s.deps.Limiter != nil {
		var v service.LimitVerdict
		if cached, ok := s.deps.Auth.(CachedAuthenticator); ok && cachedUserRoutes[route] {
			u, v, err = cached.AuthenticateCached(c.Request.Context(), token, l)
		} else {
			u, v, err = ca.AuthenticateCounting(c.Request.Context(), token, l)
		}
		if err == nil && v.Counted {
			if !v.Allowed {
				fail(c, rateLimited(v.RetryAfter))
				return
			}
			c.Set(ctxLimitCounted, true)
		}
	} else {
		u, err = s.deps.Auth.Authenticate(c.Request.Context(), token)
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.Set(ctxUser, u)
	// The use cases take the user from the request context instead of
	// reading the row again.
	c.Request = c.Request.WithContext(service.WithAuthenticatedUser(c.Request.Context(), u))
	c.Next()
}

func currentUser(c *gin.Context) *service.User {
	return c.MustGet(ctxUser).(*service.User)
}

// limit allows perMinute requests per minute per user (when authenticated)
// or per client IP, answering 429 with Retry-After beyond it. A request
// authenticate already counted is not counted again.
func (s *Server) limit(name string, perMinute int) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.deps.Limiter == nil || c.GetBool(ctxLimitCounted) {
			c.Next()
			return
		}
		key := name + ":ip:" + c.ClientIP()
		if u, ok := c.Get(ctxUser); ok {
			key = service.UserLimitKey(u.(*service.User).ID, name)
		}
		ok, retry, err := s.deps.Limiter.Allow(c.Request.Context(), key, perMinute, time.Minute)
		if err != nil {
			// Redis trouble must not lock users out; log and go on.
			logger(c).Warn("rate limiter unavailable", "err", err)
			c.Next()
			return
		}
		if !ok {
			fail(c, rateLimited(retry))
			return
		}
		c.Next()
	}
}

func rateLimited(retry time.Duration) error {
	return &service.Error{Kind: service.KindRateLimited, Code: service.CodeRateLimited,
		Message: "操作过于频繁，请稍后再试", RetryAfter: retry}
}
