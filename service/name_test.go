package service

import (
	"strings"
	"testing"
)

func TestValidateNameByUnicodeClass(t *testing.T) {
	for in, want := range map[string]string{
		"王小明": "王小明", " 柏杨 ": "柏杨", "买买提·艾力": "买买提·艾力", "买买提・艾力": "买买提·艾力",
		"JOHN SMITH": "JOHN SMITH", "José Müller": "José Müller", "Zoë 王": "Zoë 王", "𠮷田": "𠮷田",
		"JEAN-LUC PICARD": "JEAN-LUC PICARD", "O'BRIEN": "O'BRIEN", "D’ARCY": "D'ARCY",
		strings.Repeat("王", MaxNameRunes): strings.Repeat("王", MaxNameRunes),
	} {
		got, err := validateName(in)
		if err != nil || got != want {
			t.Errorf("validateName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "   ", "王\u202e明", "王\u200b明", "王\u200d明", "王\ufeff明", "王\u0000明", "王\n明", "王\u0007明",
		"王\ue000明", "王😀", "王\ufffd明", "王\xff明", "王1", "王明!", "<b>王</b>", "王  明", "·王", "王·", "王··明",
		"Иван", "محمد", "王\u0301", strings.Repeat("王", MaxNameRunes+1), "王\u00a0明", "王\u3000明",
		"-JEAN", "JEAN-", "JEAN--LUC", "JEAN -LUC", "JEAN- LUC", "O''BRIEN", "'O", "JEAN-·LUC", "王·-明",
	} {
		if got, err := validateName(in); err == nil {
			t.Errorf("validateName(%q) = %q, want refused", in, got)
		}
	}
}
