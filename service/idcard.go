package service

import (
	"strings"
	"time"
)

// ValidIDType reports whether t is one of the accepted identity documents.
func ValidIDType(t IDType) bool {
	switch t {
	case IDResident, IDHKMacauResidence, IDTaiwanResidence, IDHKMacauTravel, IDTaiwanTravel, IDForeignPermanent:
		return true
	}
	return false
}

// Province codes of GB/T 2260 that issue resident ID numbers.
var residentProvinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
}

// idField returns the invalid_id_number error for the id_number field.
func idField(code, msg string) *Error {
	return Invalid("invalid_id_number", msg, FieldError{Field: "id_number", Code: code, Message: msg})
}

// ValidateID checks an identity document number and returns it normalised
// (spaces removed, letters upper-case). today is the current time (from the
// injected clock); birth dates after today's date in Asia/Shanghai are
// refused. Errors are *Error with code invalid_id_number (or invalid_id_type)
// and a FieldError on id_number (id_type).
//
// Formats:
//   - resident_id: 18 digits, GB 11643-1999: province code, birth date
//     YYYYMMDD, sequence, ISO 7064 MOD 11-2 check character (0-9 or X).
//   - hk_macau_residence / taiwan_residence: the same format with prefix
//     810000 / 820000 (Hong Kong / Macau) or 830000 (Taiwan).
//   - hk_macau_travel (回乡证): H or M + 8 digits; the older card H or M + 10
//     digits.
//   - taiwan_travel (台胞证): 8 digits; the older card 10 digits, optionally
//     followed by the issue letter in parentheses, e.g. 1234567890(B).
//   - foreign_permanent: new card (from 2023-12-01) 18 characters: 9, a
//     2-digit province of issue, a 3-digit ISO nationality, birth date, 3
//     digits, MOD 11-2 check; old card 15 characters: ISO alpha-3 nationality
//     and 12 digits (4-digit region, YYMMDD birth date, sequence, check).
func ValidateID(t IDType, number string, today time.Time) (string, *Error) {
	n := normalizeID(number)
	if n == "" {
		return "", idField("required", "请填写证件号码")
	}
	if len(n) > 32 {
		return "", idField("format", "证件号码过长")
	}
	switch t {
	case IDResident:
		return n, validateResident(n, today)
	case IDHKMacauResidence:
		if len(n) != 18 || !(strings.HasPrefix(n, "810000") || strings.HasPrefix(n, "820000")) {
			return n, idField("format", "港澳居民居住证号码应为以 810000 或 820000 开头的 18 位号码")
		}
		return n, validate18(n, today)
	case IDTaiwanResidence:
		if len(n) != 18 || !strings.HasPrefix(n, "830000") {
			return n, idField("format", "台湾居民居住证号码应为以 830000 开头的 18 位号码")
		}
		return n, validate18(n, today)
	case IDHKMacauTravel:
		if (n[0] == 'H' || n[0] == 'M') && (len(n) == 9 || len(n) == 11) && allDigits(n[1:]) {
			return n, nil
		}
		return n, idField("format", "港澳居民来往内地通行证号码应为 H 或 M 加 8 位数字（旧版为 10 位数字）")
	case IDTaiwanTravel:
		if (len(n) == 8 || len(n) == 10) && allDigits(n) {
			return n, nil
		}
		if len(n) == 13 && allDigits(n[:10]) && n[10] == '(' && n[11] >= 'A' && n[11] <= 'Z' && n[12] == ')' {
			return n, nil
		}
		return n, idField("format", "台湾居民来往大陆通行证号码应为 8 位数字（旧版为 10 位数字）")
	case IDForeignPermanent:
		return n, validateForeign(n, today)
	}
	return n, Invalid("invalid_id_type", "不支持的证件类型",
		FieldError{Field: "id_type", Code: "unknown", Message: "证件类型应为 resident_id、hk_macau_residence、taiwan_residence、hk_macau_travel、taiwan_travel 或 foreign_permanent"})
}

// normalizeID removes spaces and upper-cases letters, so a lower-case x
// check character becomes X. Full-width parentheses become ASCII.
func normalizeID(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\u3000':
			continue
		case r == '（':
			r = '('
		case r == '）':
			r = ')'
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func validateResident(n string, today time.Time) *Error {
	if len(n) != 18 {
		return idField("format", "居民身份证号码应为 18 位")
	}
	if strings.HasPrefix(n, "8") {
		return idField("region", "以 81、82、83 开头的号码是港澳台居民居住证，请选择对应的证件类型")
	}
	if !residentProvinces[n[:2]] || n[2:6] == "0000" {
		return idField("region", "身份证号码的地区码无效，请核对前 6 位")
	}
	return validate18(n, today)
}

// validate18 checks the shape, birth date and check character of an
// 18-character GB 11643 style number.
func validate18(n string, today time.Time) *Error {
	if len(n) != 18 || !allDigits(n[:17]) || !(n[17] == 'X' || (n[17] >= '0' && n[17] <= '9')) {
		return idField("format", "证件号码应为 17 位数字加 1 位数字或 X")
	}
	if !validBirthDate(n[6:14], today) {
		return idField("birth_date", "证件号码中的出生日期无效，请核对第 7 至 14 位")
	}
	if mod112(n[:17]) != n[17] {
		return idField("checksum", "证件号码校验位不正确，请核对是否输错")
	}
	return nil
}

var mod112Weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// CompleteResidentID returns the 18-digit resident ID number whose first 17
// digits are first17 (GB 11643: the ISO 7064 MOD 11-2 check character
// appended), for demos, tests and load generators.
func CompleteResidentID(first17 string) string { return first17 + string(mod112(first17)) }

// mod112 returns the ISO 7064 MOD 11-2 check character of 17 digits.
func mod112(d string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(d[i]-'0') * mod112Weights[i]
	}
	return "10X98765432"[sum%11]
}

// validBirthDate checks a YYYYMMDD date from 1900-01-01 to today's date in
// Asia/Shanghai.
func validBirthDate(s string, today time.Time) bool {
	d, err := time.ParseInLocation("20060102", s, Shanghai)
	if err != nil || d.Format("20060102") != s || d.Year() < 1900 {
		return false
	}
	return s <= today.In(Shanghai).Format("20060102")
}

func validateForeign(n string, today time.Time) *Error {
	switch len(n) {
	case 18:
		if n[0] != '9' {
			return idField("format", "新版外国人永久居留身份证号码应以 9 开头")
		}
		if err := validate18(n, today); err != nil {
			return err
		}
		if !residentProvinces[n[1:3]] {
			return idField("region", "外国人永久居留身份证号码中的受理地代码无效")
		}
		if n[3:6] == "000" || n[3:6] == "156" {
			return idField("format", "外国人永久居留身份证号码中的国籍代码无效")
		}
		return nil
	case 15:
		for i := 0; i < 3; i++ {
			if n[i] < 'A' || n[i] > 'Z' {
				return idField("format", "旧版外国人永久居留身份证号码应为 3 位国籍字母加 12 位数字")
			}
		}
		if !allDigits(n[3:]) {
			return idField("format", "旧版外国人永久居留身份证号码应为 3 位国籍字母加 12 位数字")
		}
		if n[:3] == "CHN" {
			return idField("format", "外国人永久居留身份证号码中的国籍代码无效")
		}
		// YYMMDD: either century, whichever is not in the future.
		yymmdd := n[7:13]
		if !validBirthDate("19"+yymmdd, today) && !validBirthDate("20"+yymmdd, today) {
			return idField("birth_date", "证件号码中的出生日期无效")
		}
		return nil
	}
	return idField("format", "外国人永久居留身份证号码应为 18 位（新版）或 15 位（旧版）")
}
