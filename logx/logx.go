// Package logx builds the process logger from LOG_FORMAT and LOG_LEVEL and
// prints the start-up configuration.
package logx

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing format ("json" or "text") at level ("debug",
// "info", "warn", "error"; anything else is info).
func New(w io.Writer, format, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Config logs the effective configuration (name/value pairs, secrets already
// masked). In text mode it is one readable block, a name per line, with unset
// values shown as "-"; in JSON mode one "configuration" record.
func Config(w io.Writer, log *slog.Logger, format string, fields []any) {
	if format != "text" {
		log.Info("configuration", fields...)
		return
	}
	width := 0
	for i := 0; i+1 < len(fields); i += 2 {
		if n := len(fmt.Sprint(fields[i])); n > width {
			width = n
		}
	}
	var b strings.Builder
	b.WriteString("configuration (secrets masked):\n")
	for i := 0; i+1 < len(fields); i += 2 {
		v := fmt.Sprint(fields[i+1])
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(&b, "  %-*s  %s\n", width, fields[i], v)
	}
	io.WriteString(w, b.String())
}
