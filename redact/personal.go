package redact

import (
	"regexp"
	"strings"
)

var (
	// personalOpenID matches WeChat user identifiers in JSON (a
	// notification body), possibly escaped, or as name=value.
	personalOpenID = regexp.MustCompile(`(?i)(\\?"?(?:sp_openid|sub_openid|openid|unionid|payer_openid|touser)\\?"?\s*[:=]\s*\\?"?)([A-Za-z0-9_-]{4,})`)
	// personalName matches a person's name in JSON or as name=value: the
	// field names the provincial platform, WeChat face verification and
	// our own requests use.
	personalName = regexp.MustCompile(`(?i)(\\?"?\b(?:name|cert_name|real_name|payer_name|insured_name|member_name|nickname|nick_name|user_name)\\?"?\s*[:=]\s*\\?"?)([^"\\&,;\s}]+)`)
	// personalIDNumber matches an 18-character resident ID number.
	personalIDNumber = regexp.MustCompile(`\b(\d{6})\d{8}(\d{3}[\dXx])\b`)
	// personalPhone matches a mainland mobile number.
	personalPhone = regexp.MustCompile(`\b(1[3-9]\d)\d{4}(\d{4})\b`)
)

// Personal masks personal data in free text that is kept for operations
// (alert details): openids and unionids keep their first 4 characters,
// names are replaced by ***, resident ID numbers keep their region and
// check digits, phone numbers their first 3 and last 4 digits. Trade
// numbers, transaction ids, amounts, codes and times stay readable. Masking
// twice changes nothing.
func Personal(s string) string {
	s = personalOpenID.ReplaceAllStringFunc(s, func(m string) string {
		p := personalOpenID.FindStringSubmatch(m)
		if len(p[2]) <= 4 {
			return m // already masked (or too short to be an openid)
		}
		return p[1] + p[2][:4] + strings.Repeat("*", len(p[2])-4)
	})
	s = personalName.ReplaceAllStringFunc(s, func(m string) string {
		p := personalName.FindStringSubmatch(m)
		return p[1] + "***"
	})
	s = personalIDNumber.ReplaceAllString(s, "$1********$2")
	return personalPhone.ReplaceAllString(s, "$1****$2")
}
