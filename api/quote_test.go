package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/regions"
	"github.com/shebao/sipay/service"
)

// quoteTestAuth accepts token "t1" as user 1 and "t2" as user 2, whole rows
// as the real Authenticate returns them (the handlers pass them down).
type quoteTestAuth struct{}

func (quoteTestAuth) Login(context.Context, string) (*service.Session, error) {
	return nil, service.ErrUnauthenticated
}

func (quoteTestAuth) Authenticate(_ context.Context, token string) (*service.User, error) {
	switch token {
	case "t1":
		return &service.User{ID: 1, OpenID: "openid-1", PersonID: 42}, nil
	case "t2":
		return &service.User{ID: 2, OpenID: "openid-2"}, nil
	}
	return nil, service.ErrUnauthenticated
}

func (quoteTestAuth) SetCareMode(context.Context, int64, bool) (*service.User, error) {
	return nil, service.ErrUnauthenticated
}

type quoteTestStore struct {
	mu sync.Mutex
	m  map[string]service.Quote
}

func (s *quoteTestStore) CreateQuote(_ context.Context, q *service.Quote) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[q.ID] = *q
	return nil
}

func (s *quoteTestStore) FindQuoteByID(_ context.Context, id string) (*service.Quote, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.m[id]
	if !ok {
		return nil, service.ErrNotFound
	}
	return &q, nil
}

type quoteTestPersons struct{}

func (quoteTestPersons) ResolvePerson(_ context.Context, userID int64, person string) (*service.Person, error) {
	if userID == 1 && person == "self" {
		return &service.Person{ID: 42, Name: "张三", IDType: service.IDResident, IDNumber: "110101199003077777"}, nil
	}
	if person == "self" {
		return nil, &service.Error{Kind: service.KindForbidden, Code: "not_verified", Message: "请先完成实名认证"}
	}
	return nil, service.NotFound("家庭成员不存在")
}

type quoteTestPlatform struct{ service.Platform }

func (quoteTestPlatform) FindProfile(_ context.Context, region string, _ service.PersonRef) (service.InsuredProfile, error) {
	return service.InsuredProfile{Region: region, CurrentMonth: "2026-11", CurrentDue: 140000,
		Insurances: []service.InsuranceStatus{{Insurance: "pension", Status: "active", PaidThrough: "2026-10", BaseFen: 500000}},
		Arrears:    []service.ArrearsMonth{{Insurance: "pension", Month: "2026-08", BaseFen: 500000, AmountFen: 100000}}}, nil
}

func newQuoteTestServer(tb testing.TB) *api.Server {
	tb.Helper()
	rs, err := regions.Load()
	if err != nil {
		tb.Fatal(err)
	}
	clock := service.NewManualClock(time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC))
	persons, platform := quoteTestPersons{}, quoteTestPlatform{}
	return api.NewServer(api.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: quoteTestAuth{},
		Quotes:  service.NewQuoteService(service.QuoteDeps{Regions: rs, Store: &quoteTestStore{m: map[string]service.Quote{}}, Persons: persons, Platform: platform, Clock: clock, TTL: 30 * time.Minute}),
		Insured: service.NewInsuredService(rs, persons, platform, clock),
		Pension: service.NewPensionService(rs, clock),
	})
}

func quoteTestDo(tb testing.TB, srv http.Handler, method, path, token, body string) (int, map[string]any) {
	tb.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var out map[string]any
	dec := json.NewDecoder(rec.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		tb.Fatalf("%s %s: decode body: %v", method, path, err)
	}
	return rec.Code, out
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestRegionRoutes(t *testing.T) {
	srv := newQuoteTestServer(t)
	t.Run("ListIsPublic", func(t *testing.T) {
		code, body := quoteTestDo(t, srv, "GET", "/api/v1/regions", "", "")
		list, _ := body["regions"].([]any)
		if code != 200 || len(list) != 9 {
			t.Fatalf("got %d with %d regions, want 200 with 9", code, len(list))
		}
	})
	t.Run("DetailHasPolicyNoteAndCrossBorderID", func(t *testing.T) {
		code, body := quoteTestDo(t, srv, "GET", "/api/v1/regions/guangdong-shenzhen", "", "")
		note, _ := body["policy_note"].(string)
		if code != 200 || !strings.Contains(note, "回乡证") || !strings.Contains(fmt.Sprint(body["id_types"]), "hk_macau_travel") {
			t.Fatalf("got %d %v, want 200 with the cross-border note and hk_macau_travel", code, body)
		}
	})
	t.Run("IllustrativeFiguresShown", func(t *testing.T) {
		// Beijing's rates are placeholders; Shanghai's are S1 from 2024-03
		// and it alone bundles both ways; Guangzhou needs face and SMS.
		code, body := quoteTestDo(t, srv, "GET", "/api/v1/regions/beijing", "", "")
		ill := fmt.Sprint(body["illustrative"])
		if code != 200 || !strings.Contains(ill, "rates[0]") || !strings.Contains(ill, "rates[1]") || body["pension_needs_medical"] != false || body["medical_needs_pension"] != true {
			t.Fatalf("beijing: got %d %v, want illustrative rates listed and one-way bundling", code, body)
		}
		code, body = quoteTestDo(t, srv, "GET", "/api/v1/regions/shanghai", "", "")
		ill = fmt.Sprint(body["illustrative"])
		if code != 200 || strings.Contains(ill, "rates[") || body["pension_needs_medical"] != true {
			t.Fatalf("shanghai: got %d %v, want sourced rates and two-way bundling", code, body)
		}
		code, body = quoteTestDo(t, srv, "GET", "/api/v1/regions", "", "")
		for _, r := range body["regions"].([]any) {
			m := r.(map[string]any)
			if m["code"] == "guangdong-guangzhou" && m["identity_all"] != true {
				t.Fatalf("guangzhou: got %v, want identity_all (face and SMS)", m)
			}
			if _, ok := m["illustrative"].([]any); !ok {
				t.Fatalf("%v: want an illustrative list", m["code"])
			}
		}
	})
	t.Run("UnknownRegion", func(t *testing.T) {
		code, body := quoteTestDo(t, srv, "GET", "/api/v1/regions/atlantis", "", "")
		if code != 404 || errorCode(body) != service.CodeNotFound {
			t.Fatalf("got %d %v, want 404 not_found", code, body)
		}
	})
}

func TestQuoteRoutes(t *testing.T) {
	srv := newQuoteTestServer(t)
	const good = `{"region":"jiangsu","person":"self","insurances":[{"type":"pension","base_fen":500000},{"type":"medical","base_fen":500000}],"start_month":"2026-11","months":1}`
	t.Run("NeedsLogin", func(t *testing.T) {
		code, body := quoteTestDo(t, srv, "POST", "/api/v1/quotes", "", good)
		if code != 401 || errorCode(body) != service.CodeUnauthenticated {
			t.Fatalf("got %d %v, want 401", code, body)
		}
	})
	var id string
	t.Run("Created", func(t *testing.T) {
		code, body := quoteTestDo(t, srv, "POST", "/api/v1/quotes", "t1", good)
		// 500000 × 20 % + 500000 × 8 % = 100000 + 40000 = 140000 fen, as integers in JSON.
		if code != 201 || body["total_fen"] != json.Number("140000") || body["payable_fen"] != json.Number("140000") {
			t.Fatalf("got %d %v, want 201 with total_fen 140000", code, body)
		}
		id, _ = body["id"].(string)
	})
	t.Run("FieldErrors", func(t *testing.T) {
		bad := strings.Replace(good, `"base_fen":500000}`, `"base_fen":100}`, 1)
		code, body := quoteTestDo(t, srv, "POST", "/api/v1/quotes", "t1", bad)
		if code != 400 || errorCode(body) != service.CodeQuoteInvalid || !strings.Contains(fmt.Sprint(body["error"]), "insurances[0].base_fen") {
			t.Fatalf("got %d %v, want 400 quote_invalid naming insurances[0].base_fen", code, body)
		}
	})
	t.Run("UnknownJSONField", func(t *testing.T) {
		code, body := quoteTestDo(t, srv, "POST", "/api/v1/quotes", "t1", `{"region":"jiangsu","amount":1}`)
		if code != 400 || errorCode(body) != "unknown_field" {
			t.Fatalf("got %d %v, want 400 unknown_field", code, body)
		}
	})
	t.Run("UnverifiedUser", func(t *testing.T) {
		code, body := quoteTestDo(t, srv, "POST", "/api/v1/quotes", "t2", good)
		if code != 403 || errorCode(body) != "not_verified" {
			t.Fatalf("got %d %v, want 403 not_verified", code, body)
		}
	})
	t.Run("ReadOwn", func(t *testing.T) {
		code, body := quoteTestDo(t, srv, "GET", "/api/v1/quotes/"+id, "t1", "")
		if code != 200 || body["id"] != id {
			t.Fatalf("got %d %v, want 200 with the quote", code, body)
		}
	})
	t.Run("OtherUsersQuoteIs404", func(t *testing.T) {
		code, body := quoteTestDo(t, srv, "GET", "/api/v1/quotes/"+id, "t2", "")
		if code != 404 || errorCode(body) != service.CodeQuoteNotFound {
			t.Fatalf("got %d %v, want 404 quote_not_found", code, body)
		}
	})
}

func TestInsuredRoute(t *testing.T) {
	srv := newQuoteTestServer(t)
	code, body := quoteTestDo(t, srv, "GET", "/api/v1/insured?region=jiangsu&person=self", "t1", "")
	if code != 200 || body["arrears_shown"] != false || body["current_due_fen"] != json.Number("140000") {
		t.Fatalf("got %d %v, want 200, arrears hidden in Jiangsu, due 140000", code, body)
	}
	code, body = quoteTestDo(t, srv, "GET", "/api/v1/insured?region=beijing&person=self", "t1", "")
	if code != 200 || body["arrears_shown"] != true || body["arrears_fen"] != json.Number("100000") {
		t.Fatalf("got %d %v, want 200 with Beijing arrears 100000", code, body)
	}
}

func TestPensionRoute(t *testing.T) {
	srv := newQuoteTestServer(t)
	code, body := quoteTestDo(t, srv, "GET", "/api/v1/pension/estimate?region=beijing&current_age=40&retirement_age=60&years_paid=15&planned_years=20&base_ratio_bp=10000&account_balance_fen=5000000", "", "")
	// See service TestEstimatePensionBeijingAverageBase: 424060 + 203329 = 627389.
	if code != 200 || body["monthly_pension_fen"] != json.Number("627389") || body["divisor"] != json.Number("139") {
		t.Fatalf("got %d %v, want 200 with monthly 627389 and divisor 139", code, body)
	}
	code, body = quoteTestDo(t, srv, "GET", "/api/v1/pension/estimate?current_age=forty&retirement_age=60&years_paid=15&base_ratio_bp=10000", "", "")
	if code != 400 || !strings.Contains(fmt.Sprint(body["error"]), "current_age") {
		t.Fatalf("got %d %v, want 400 naming current_age", code, body)
	}
}
