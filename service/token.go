package service

import "strings"

// ValidToken reports whether s has min to max bytes, each an ASCII letter,
// a digit or one of extra. Identifiers that are echoed, logged or sent on
// (login codes, nonces, idempotency keys, request ids) are checked with it.
func ValidToken(s string, min, max int, extra string) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}
