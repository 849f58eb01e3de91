package config

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Ops configures the operations console (/ops/), mounted wherever the
// admin API is (ADMIN_TOKEN set).
type Ops struct {
	// Operators maps an operator name to the SHA-256 of that operator's
	// token (OPS_OPERATORS="alice:<sha256 hex>,bob:<sha256 hex>"). The
	// tokens themselves are never configured; the console records the name
	// in the audit log. ADMIN_TOKEN also signs in, as operator "admin".
	Operators map[string][32]byte
	// SessionIdle ends a console session after this long without a request
	// (OPS_SESSION_IDLE, default 15m).
	SessionIdle time.Duration
}

var opsNamePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// parseOps reads OPS_OPERATORS and OPS_SESSION_IDLE; it reports every
// problem through bad.
func parseOps(env func(string, string) string, bad func(name, format string, args ...any)) Ops {
	o := Ops{Operators: map[string][32]byte{}, SessionIdle: 15 * time.Minute}
	if v := env("OPS_SESSION_IDLE", ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > 12*time.Hour {
			bad("OPS_SESSION_IDLE", "want a duration between 1m and 12h, got %q", v)
		} else {
			o.SessionIdle = d
		}
	}
	for _, item := range splitList(env("OPS_OPERATORS", "")) {
		name, sum, ok := strings.Cut(item, ":")
		name, sum = strings.TrimSpace(name), strings.ToLower(strings.TrimSpace(sum))
		b, err := hex.DecodeString(sum)
		switch {
		case !ok || !opsNamePattern.MatchString(name):
			bad("OPS_OPERATORS", "want name:sha256hex entries with names of letters, digits, . _ -; got %q", redactOps(item))
			continue
		case name == "admin":
			bad("OPS_OPERATORS", "the name admin is reserved for ADMIN_TOKEN")
			continue
		case err != nil || len(b) != 32:
			bad("OPS_OPERATORS", "operator %s: want the token's SHA-256 as 64 hex characters", name)
			continue
		}
		if _, dup := o.Operators[name]; dup {
			bad("OPS_OPERATORS", "operator %s listed twice", name)
			continue
		}
		var h [32]byte
		copy(h[:], b)
		o.Operators[name] = h
	}
	return o
}

// redactOps keeps an entry's name only, so a token pasted by mistake in
// place of its hash never reaches the error message.
func redactOps(item string) string {
	name, _, _ := strings.Cut(item, ":")
	if len(name) > 32 {
		name = name[:32]
	}
	return fmt.Sprintf("%s:…", name)
}
