package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

type bindInner struct {
	Type    string `json:"type"`
	BaseFen int64  `json:"base_fen"`
}

type bindOuter struct {
	Region     string      `json:"region"`
	Months     int         `json:"months"`
	Insurances []bindInner `json:"insurances"`
	Nested     struct {
		Flag bool `json:"flag"`
	} `json:"nested"`
}

func bindBody(t *testing.T, body string) (int, string) {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("POST", "/", strings.NewReader(body))
	var v bindOuter
	if bind(c, &v) {
		return http.StatusOK, ""
	}
	return w.Code, w.Body.String()
}

func TestBindStrict(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"TrailingValue", `{"region":"a"} {"region":"b"}`, "invalid_json"},
		{"TrailingBracket", `{"region":"a"}]`, "invalid_json"},
		{"TrailingGarbage", `{"region":"a"}x`, "invalid_json"},
		{"DuplicateKey", `{"region":"a","region":"b"}`, "duplicate_field"},
		{"CaseDuplicate", `{"region":"a","Region":"b"}`, "duplicate_field"},
		{"NestedDuplicate", `{"insurances":[{"type":"pension","TYPE":"medical"}]}`, `"field":"insurances[0].TYPE"`},
		{"TypeInArray", `{"insurances":[{"base_fen":1},{"base_fen":"x"}]}`, `"field":"insurances[1].base_fen"`},
		{"TypeNested", `{"nested":{"flag":"yes"}}`, `"field":"nested.flag"`},
		{"TypeObjectForInt", `{"months":{"a":1}}`, `"field":"months"`},
		{"TypeArrayForString", `{"region":[1,2]}`, `"field":"region"`},
		{"TypeArrayInArray", `{"insurances":[{"type":"a"},{"base_fen":[1]}]}`, `"field":"insurances[1].base_fen"`},
		{"TypeStringForArray", `{"insurances":"x"}`, `"field":"insurances"`},
		{"TypeNumberForObjectInArray", `{"insurances":[{},7]}`, `"field":"insurances[1]"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := bindBody(t, c.body)
			if status != http.StatusBadRequest || !strings.Contains(body, c.want) {
				t.Fatalf("got %d %s, want 400 with %s", status, body, c.want)
			}
			for _, goName := range []string{"api.", "service.", "bindInner", "int64", "string", "struct"} {
				if strings.Contains(body, goName) {
					t.Fatalf("reply exposes Go type name %q: %s", goName, body)
				}
			}
		})
	}
	if status, body := bindBody(t, " {\"region\":\"a\",\"insurances\":[{\"type\":\"x\",\"base_fen\":1}]} \n"); status != http.StatusOK {
		t.Fatalf("valid body refused: %d %s", status, body)
	}
}
