package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
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
		c.JSON(http.StatusBadRequest, gin.H{"error": gin.H{"code": "invalid_json", "message": "需要 duration"}})
		return
	}
	d, err := parseDuration(req.Duration)
	if err != nil || d <= 0 {
		c.JSON(http.StatusBadRequest, gin.H{"error": gin.H{"code": "invalid_duration", "message": "duration 无效"}})
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
