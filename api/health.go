package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := gin.H{}
	ok := true
	for name, p := range s.deps.Ready {
		if err := p.Ping(ctx); err != nil {
			checks[name] = "down"
			ok = false
			logger(c).Warn("readiness check failed", "dependency", name, "err", err)
			continue
		}
		checks[name] = "ok"
	}
	if !ok {
		c.Header("Retry-After", "5")
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": gin.H{"code": "not_ready", "message": "服务依赖暂不可用", "request_id": requestIDOf(c)}, "checks": checks})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": checks})
}
