package service

import "github.com/shebao/sipay/redact"

// MaskAlertDetail masks what operations do not need in an alert's detail
// (redact.Personal): the payer's openid and unionid keep 4 characters,
// names are hidden, resident ID numbers keep their region and check digits,
// phone numbers their first 3 and last 4 digits. Trade numbers, amounts and
// times stay readable. The store masks every alert before writing it; the
// console masks again for alerts written before that.
func MaskAlertDetail(s string) string { return redact.Personal(s) }
