package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// SimClock is the simulator's movable business clock (service.OffsetClock).
type SimClock interface {
	Now() time.Time
	Advance(d time.Duration) time.Duration
}

func (s *Server) simClock(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"now": s.deps.SimClock.Now().UTC()})
}

// simAdvanceClock moves the business clock forward by {"duration":"72h"}
// (Go durations plus a day suffix, "3d").
func (s *Server) simAdvanceClock(c *gin.Context) {
	var req struct {
		Duration string `json:"duration"`
	}
	if err := c.ShouldBindJSON(&req); err != nil {
		fail(c, service.Invalid("invalid_json", "需要 duration"))
		return
	}
	d, err := parseDuration(req.Duration)
	if err != nil || d <= 0 {
		fail(c, service.Invalid("invalid_duration", "duration 无效",
			service.FieldError{Field: "duration", Code: "invalid", Message: "如 72h 或 3d"}))
		return
	}
	off := s.deps.SimClock.Advance(d)
	c.JSON(http.StatusOK, gin.H{"now": s.deps.SimClock.Now().UTC(), "offset": off.String()})
}

// parseDuration accepts Go durations plus a day suffix ("3d", "72h").
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}
