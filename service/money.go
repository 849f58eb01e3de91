package service

import (
	"fmt"
	"strings"
)

// Fen is an amount of money in fen (0.01 yuan). Money is never a float.
type Fen int64

// String formats f as yuan with two decimals, for display only: 12345 → "123.45".
func (f Fen) String() string {
	sign := ""
	v := int64(f)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// ParseYuan converts a decimal yuan string such as "123.45", "`0.10" or "7"
// exactly to fen. It refuses more than two decimals, signs other than a
// leading '-', and anything that is not a plain decimal.
func ParseYuan(s string) (Fen, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "`"))
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || len(frac) > 2 || (hasDot && frac == "") || len(intPart) > 15 {
		return 0, fmt.Errorf("parse yuan %q: not a decimal with at most two places", s)
	}
	var v int64
	for _, c := range intPart + (frac + "00")[:2] {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("parse yuan %q: bad digit %q", s, c)
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return Fen(v), nil
}
