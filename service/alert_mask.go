package service

import "regexp"

var (
	// alertOpenID matches WeChat user identifiers in JSON (a notification
	// body) or as name=value.
	alertOpenID = regexp.MustCompile(`(?i)("?(?:sp_openid|sub_openid|openid|unionid|payer_openid)"?\s*[:=]\s*"?)([A-Za-z0-9_-]{4,})`)
	// alertIDNumber matches an 18-character resident ID number.
	alertIDNumber = regexp.MustCompile(`\b(\d{6})\d{8}(\d{3}[\dXx])\b`)
	// alertPhone matches a mainland mobile number.
	alertPhone = regexp.MustCompile(`\b(1[3-9]\d)\d{4}(\d{4})\b`)
)

// MaskAlertDetail masks what operations do not need in an alert's detail:
// the payer's openid and unionid keep 4 characters, resident ID numbers
// their region and check digits, phone numbers their first 3 and last 4
// digits. Trade numbers, amounts and times stay readable.
func MaskAlertDetail(s string) string {
	s = alertOpenID.ReplaceAllStringFunc(s, func(m string) string {
		p := alertOpenID.FindStringSubmatch(m)
		return p[1] + MaskMiddle(p[2], 4, 0)
	})
	s = alertIDNumber.ReplaceAllString(s, "$1********$2")
	return alertPhone.ReplaceAllString(s, "$1****$2")
}
