package app

import (
	"strconv"
	"strings"
	"time"
)

// parseDuration accepts Go durations plus a day suffix ("3d", "72h").
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}
