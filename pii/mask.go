package pii

import "strings"

// MaskName keeps the first character of a name: 张三 → 张*, 欧阳娜娜 → 欧***.
// A one-character name becomes "*".
func MaskName(name string) string {
	r := []rune(strings.TrimSpace(name))
	switch len(r) {
	case 0:
		return ""
	case 1:
		return "*"
	}
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}

// MaskIDNumber keeps the first 3 and last 4 characters of an ID number:
// 110101199003071234 → 110***********1234. Numbers of 8 characters or fewer
// keep only their last 2.
func MaskIDNumber(id string) string { return maskMiddle(id, 8) }

// MaskPhone keeps the first 3 and last 4 digits: 13812345678 → 138****5678.
// Numbers of 7 characters or fewer keep only their last 2.
func MaskPhone(phone string) string { return maskMiddle(phone, 7) }

// maskMiddle keeps the first 3 and last 4 characters of s; when s has short
// characters or fewer it keeps only its last 2.
func maskMiddle(s string, short int) string {
	r := []rune(strings.TrimSpace(s))
	n := len(r)
	switch {
	case n == 0:
		return ""
	case n <= 2:
		return strings.Repeat("*", n)
	case n <= short:
		return strings.Repeat("*", n-2) + string(r[n-2:])
	}
	return string(r[:3]) + strings.Repeat("*", n-7) + string(r[n-4:])
}
