package service_test

import (
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

// today is 2026-11-24 in Asia/Shanghai (the UTC instant is still the 24th).
var today = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

func TestValidateID(t *testing.T) {
	for _, c := range []struct {
		name      string
		typ       service.IDType
		in        string
		want      string // normalised; empty when an error is expected
		fieldCode string // FieldError code when invalid
	}{
		{"ResidentGBSample", service.IDResident, "11010519491231002X", "11010519491231002X", ""},
		{"ResidentLowerX", service.IDResident, "11010519491231002x", "11010519491231002X", ""},
		{"ResidentSpaces", service.IDResident, " 110101 19900307 1233 ", "110101199003071233", ""},
		{"ResidentBornToday", service.IDResident, "440301202611240012", "440301202611240012", ""},
		{"ResidentBornTomorrow", service.IDResident, "440301202611250018", "", "birth_date"},
		{"ResidentBadChecksum", service.IDResident, "110101199003071234", "", "checksum"},
		{"ResidentDocFaceSampleHasBadChecksum", service.IDResident, "310101199801011234", "", "checksum"},
		{"ResidentFeb30", service.IDResident, "110101199002301236", "", "birth_date"},
		{"ResidentBefore1900", service.IDResident, "440524188001010014", "", "birth_date"},
		{"ResidentUnknownProvince", service.IDResident, "990101199003071233", "", "region"},
		{"ResidentHKPrefixPointsToPermit", service.IDResident, "810000199001011230", "", "region"},
		{"ResidentTooShort", service.IDResident, "11010119900307123", "", "format"},
		{"ResidentLetterInside", service.IDResident, "1101011990A3071233", "", "format"},
		{"ResidentEmpty", service.IDResident, "  ", "", "required"},
		{"HKResidence", service.IDHKMacauResidence, "810000199001011230", "810000199001011230", ""},
		{"MacauResidence", service.IDHKMacauResidence, "820000198506154568", "820000198506154568", ""},
		{"HKResidenceWrongPrefix", service.IDHKMacauResidence, "830000199201300022", "", "format"},
		{"HKResidenceBadChecksum", service.IDHKMacauResidence, "810000199001011231", "", "checksum"},
		{"TaiwanResidenceSample", service.IDTaiwanResidence, "830000199201300022", "830000199201300022", ""},
		{"TaiwanResidenceResidentNumber", service.IDTaiwanResidence, "110101199003071233", "", "format"},
		{"HKTravelNew", service.IDHKMacauTravel, "h12345678", "H12345678", ""},
		{"MacauTravelOld", service.IDHKMacauTravel, "M1234567890", "M1234567890", ""},
		{"HKTravelBadLetter", service.IDHKMacauTravel, "K12345678", "", "format"},
		{"HKTravelTenDigitsNoLetter", service.IDHKMacauTravel, "1234567890", "", "format"},
		{"TaiwanTravelNew", service.IDTaiwanTravel, "12345678", "12345678", ""},
		{"TaiwanTravelOld", service.IDTaiwanTravel, "1234567890", "1234567890", ""},
		{"TaiwanTravelOldWithIssueLetter", service.IDTaiwanTravel, "1234567890（b）", "1234567890(B)", ""},
		{"TaiwanTravelNineDigits", service.IDTaiwanTravel, "123456789", "", "format"},
		{"ForeignNew", service.IDForeignPermanent, "91184019900307121x", "91184019900307121X", ""},
		{"ForeignNewChineseNationality", service.IDForeignPermanent, "911156199003071212", "", "format"},
		{"ForeignNewBadProvince", service.IDForeignPermanent, "971840199003071210", "", "region"},
		{"ForeignNewBadChecksum", service.IDForeignPermanent, "911840199003071211", "", "checksum"},
		{"ForeignNewNot9", service.IDForeignPermanent, "110101199003071233", "", "format"},
		{"ForeignOld", service.IDForeignPermanent, "usa110090030712", "USA110090030712", ""},
		{"ForeignOldBadDate", service.IDForeignPermanent, "USA110090133712", "", "birth_date"},
		{"ForeignOldDigitsInNationality", service.IDForeignPermanent, "U5A110090030712", "", "format"},
		{"ForeignWrongLength", service.IDForeignPermanent, "USA11009003071", "", "format"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := service.ValidateID(c.typ, c.in, today)
			if c.fieldCode == "" {
				if err != nil {
					t.Fatalf("err=%v, want valid", err)
				}
				if got != c.want {
					t.Fatalf("normalised=%q, want %q", got, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("valid (%q), want field error %s", got, c.fieldCode)
			}
			if err.Kind != service.KindInvalid || err.Code != "invalid_id_number" {
				t.Fatalf("kind/code=%v/%s, want invalid/invalid_id_number", err.Kind, err.Code)
			}
			if len(err.Fields) != 1 || err.Fields[0].Field != "id_number" || err.Fields[0].Code != c.fieldCode {
				t.Fatalf("fields=%+v, want id_number/%s", err.Fields, c.fieldCode)
			}
			if err.Message == "" {
				t.Fatalf("empty user message")
			}
		})
	}
}

func TestValidateIDUnknownType(t *testing.T) {
	_, err := service.ValidateID("passport", "E12345678", today)
	if err == nil || err.Code != "invalid_id_type" || err.Fields[0].Field != "id_type" {
		t.Fatalf("err=%v, want invalid_id_type on id_type", err)
	}
}

func TestValidateIDBirthDayBoundaryIsChinaTime(t *testing.T) {
	// 2026-11-24 20:00 UTC is already the 25th in Shanghai.
	late := time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)
	if _, err := service.ValidateID(service.IDResident, "440301202611250018", late); err != nil {
		t.Fatalf("born on the Shanghai date of today: err=%v, want valid", err)
	}
}

var allTypes = []service.IDType{service.IDResident, service.IDHKMacauResidence, service.IDTaiwanResidence,
	service.IDHKMacauTravel, service.IDTaiwanTravel, service.IDForeignPermanent, "bogus"}

func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "810000199001011230", "H12345678", "1234567890(B)",
		"91184019900307121X", "USA110090030712", "", "x", "８１００００"} {
		for i := range allTypes {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, ti uint8, s string) {
		typ := allTypes[int(ti)%len(allTypes)]
		got, err := service.ValidateID(typ, s, today)
		if err != nil {
			if len(err.Fields) == 0 || err.Message == "" {
				t.Fatalf("error without field or message: %+v", err)
			}
			return
		}
		again, err := service.ValidateID(typ, got, today)
		if err != nil || again != got {
			t.Fatalf("normalised %q re-validates to %q, %v; want itself, nil", got, again, err)
		}
		// An accepted 18-character number carries a correct GB 11643 check
		// character and a real birth date not after today, checked here
		// independently of the code under test.
		switch typ {
		case service.IDResident, service.IDHKMacauResidence, service.IDTaiwanResidence:
			if len(got) != 18 || got[17] != mod11Check(got[:17]) {
				t.Fatalf("accepted %q with a wrong check character", got)
			}
			birth, perr := time.Parse("20060102", got[6:14])
			if perr != nil || birth.After(today) {
				t.Fatalf("accepted %q with birth date %q", got, got[6:14])
			}
		}
	})
}

// mod11Check is the ISO 7064 MOD 11-2 check character of 17 digits.
func mod11Check(d string) byte {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(d[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11]
}
