package ops

import (
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// luminance is the WCAG 2.1 relative luminance of #rrggbb.
func luminance(tb testing.TB, hex string) float64 {
	tb.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 {
		tb.Fatalf("bad colour %q", hex)
	}
	ch := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(v>>16&0xff) + 0.7152*ch(v>>8&0xff) + 0.0722*ch(v&0xff)
}

func contrast(tb testing.TB, a, b string) float64 {
	la, lb := luminance(tb, a), luminance(tb, b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// TestStylesheetMeetsWCAGContrast checks every foreground/background pair
// the stylesheet uses: 4.5:1 for text (1.4.3), 3:1 for chart marks, focus
// ring and control borders (1.4.11). Each declaration must be in ops.css,
// so a colour changed there without this table fails here.
func TestStylesheetMeetsWCAGContrast(t *testing.T) {
	css, err := os.ReadFile("static/ops.css")
	if err != nil {
		t.Fatal(err)
	}
	text := string(css)
	for _, c := range []struct {
		what, decl, fg, bg string
		min                float64
	}{
		{"body text", "color: #1b1b1b", "#1b1b1b", "#ffffff", 4.5},
		{"links", "a { color: #0645ad; }", "#0645ad", "#ffffff", 4.5},
		{"links on the header", "background: #f3f5f8", "#0645ad", "#f3f5f8", 4.5},
		{"visited links", "a:visited { color: #5a2e8c; }", "#5a2e8c", "#f3f5f8", 4.5},
		{"help text", ".help { color: #4a4a4a;", "#4a4a4a", "#ffffff", 4.5},
		{"footer", "color: #4a4a4a; font-size: .875rem; }", "#4a4a4a", "#ffffff", 4.5},
		{"button", "background: #0b57d0; color: #fff;", "#ffffff", "#0b57d0", 4.5},
		{"button hover", "background: #0842a0;", "#ffffff", "#0842a0", 4.5},
		{"secondary button", "button.secondary { background: #fff; color: #0b57d0; }", "#0b57d0", "#ffffff", 4.5},
		{"danger button", "button.danger { background: #b3261e;", "#ffffff", "#b3261e", 4.5},
		{"flash", ".flash { background: #e6f4ea; color: #0d5217;", "#0d5217", "#e6f4ea", 4.5},
		{"error", ".error { background: #fce8e6; color: #8c1d18;", "#8c1d18", "#fce8e6", 4.5},
		{"overdue ticket", ".overdue { color: #8c1d18;", "#8c1d18", "#ffffff", 4.5},
		{"note", ".note { background: #fff4e5; color: #5c3a00;", "#5c3a00", "#fff4e5", 4.5},
		{"table head", "thead th { background: #f3f5f8;", "#1b1b1b", "#f3f5f8", 4.5},
		{"chart ticks", ".chart .tick { fill: #333;", "#333333", "#ffffff", 4.5},
		{"focus ring", "outline: 3px solid #c05600;", "#c05600", "#ffffff", 3},
		{"input border", "border: 1px solid #6b7280;", "#6b7280", "#ffffff", 3},
		{"payments series", "rect.s-paid { fill: #1a56b8; }", "#1a56b8", "#ffffff", 3},
		{"postings series", "rect.s-posted { fill: #18794e; }", "#18794e", "#ffffff", 3},
		{"refunds series", "rect.s-refunded { fill: #b3261e; }", "#b3261e", "#ffffff", 3},
		{"success rate bars", "rect.s-rate { fill: #5b3cc4; }", "#5b3cc4", "#ffffff", 3},
	} {
		if !strings.Contains(text, c.decl) {
			t.Errorf("%s: ops.css no longer declares %q; update this table", c.what, c.decl)
			continue
		}
		if r := contrast(t, c.fg, c.bg); r < c.min {
			t.Errorf("%s: %s on %s is %.2f:1, want at least %.1f:1", c.what, c.fg, c.bg, r, c.min)
		}
	}
}
