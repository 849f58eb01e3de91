package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// loadSpec loads and validates an OpenAPI document with kin-openapi.
func loadSpec(t *testing.T, path string) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI 3 document: %v", path, err)
	}
	return doc
}

// TestOpenAPIDocumentsValidate: both API descriptions are valid OpenAPI 3,
// and every success reply with a body has a JSON schema.
func TestOpenAPIDocumentsValidate(t *testing.T) {
	for _, path := range []string{"../docs/openapi.yaml", "../docs/simulator-openapi.yaml"} {
		doc := loadSpec(t, path)
		for p, item := range doc.Paths.Map() {
			for m, op := range item.Operations() {
				for code, r := range op.Responses.Map() {
					if strings.HasPrefix(code, "2") && code != "204" && (r.Value.Content == nil || r.Value.Content.Get("application/json") == nil ||
						r.Value.Content.Get("application/json").Schema == nil) {
						t.Errorf("%s: %s %s answers %s without a JSON schema", path, m, p, code)
					}
				}
			}
		}
	}
}

// specChecker validates every reply that passes through it against the
// document and records which documented (operation, status) pairs were seen.
type specChecker struct {
	t      *testing.T
	router routers.Router
	next   http.RoundTripper
	mu     sync.Mutex
	seen   map[string]bool
	errs   []string
}

func newSpecChecker(t *testing.T, doc *openapi3.T) *specChecker {
	doc.Servers = nil // match any host
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &specChecker{t: t, router: r, seen: map[string]bool{}}
}

func (c *specChecker) wrap(next http.RoundTripper) http.RoundTripper { c.next = next; return c }

func (c *specChecker) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := c.next.RoundTrip(req)
	if err != nil {
		return res, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))

	route, params, ferr := c.router.FindRoute(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ferr != nil {
		if !strings.HasPrefix(req.URL.Path, "/sim/pay/") { // the WeChat Pay simulator: docs/simulator-openapi.yaml
			c.errs = append(c.errs, fmt.Sprintf("%s %s: not in the document: %v", req.Method, req.URL.Path, ferr))
		}
		return res, nil
	}
	key := fmt.Sprintf("%s %s %d", req.Method, route.Path, res.StatusCode)
	c.seen[key] = true
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		c.errs = append(c.errs, fmt.Sprintf("%s: reply does not match docs/openapi.yaml: %v\n    body: %.300s", key, err, body))
	}
	return res, nil
}

// TestOpenAPIResponsesMatchTheDocument walks the main flow against the real
// app and checks every reply (status, headers, body) against the schema
// documented for it; it also fails when a documented reply of the flow was
// never produced, so the check cannot pass vacuously.
func TestOpenAPIResponsesMatchTheDocument(t *testing.T) {
	checker := newSpecChecker(t, loadSpec(t, "../docs/openapi.yaml"))
	f := startFlowServer(t, nil, checker.wrap)
	runMainFlow(t, f)

	checker.mu.Lock()
	defer checker.mu.Unlock()
	for _, e := range checker.errs {
		t.Error(e)
	}
	want := []string{
		"GET /healthz 200", "GET /readyz 200",
		"POST /api/v1/auth/login 200", "POST /api/v1/auth/login 400",
		"GET /api/v1/me 200", "GET /api/v1/me 401", "PATCH /api/v1/me 200",
		"POST /api/v1/identity/face/start 200", "POST /api/v1/identity/face/start 400",
		"POST /api/v1/identity/face/result 200", "POST /api/v1/identity/face/result 400",
		"GET /api/v1/regions 200", "GET /api/v1/regions/{code} 200", "GET /api/v1/regions/{code} 404",
		"GET /api/v1/insured 200", "GET /api/v1/insured 400", "GET /api/v1/insured 404",
		"GET /api/v1/pension/estimate 200", "GET /api/v1/pension/estimate 400",
		"POST /api/v1/quotes 201", "POST /api/v1/quotes 400",
		"GET /api/v1/quotes/{id} 200", "GET /api/v1/quotes/{id} 404",
		"POST /api/v1/orders 201", "POST /api/v1/orders 400", "POST /api/v1/orders 404", "POST /api/v1/orders 409", "POST /api/v1/orders 422",
		"GET /api/v1/orders 200", "GET /api/v1/orders/{order_no} 200", "GET /api/v1/orders/{order_no} 404",
		"POST /api/v1/orders/{order_no}/batches/{seq}/pay 200",
		"POST /api/v1/orders/{order_no}/cancel 200", "POST /api/v1/orders/{order_no}/cancel 404",
		"GET /api/v1/orders/{order_no}/vouchers 200", "GET /api/v1/orders/{order_no}/vouchers 401",
		"GET /api/v1/vouchers/verify 200", "GET /api/v1/vouchers/verify 400",
		"GET /api/v1/admin/holds 200", "GET /api/v1/admin/holds 401", "GET /api/v1/admin/alerts 200",
		"GET /api/v1/admin/orders/{order_no} 200", "GET /api/v1/admin/orders/{order_no} 404",
		"GET /api/v1/admin/recon 400", "POST /api/v1/admin/holds/{out_trade_no}/release 404",
		"GET /sim/clock 200",
	}
	var missing []string
	for _, k := range want {
		if !checker.seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented replies the flow never produced (checked nothing for them):\n  %s", strings.Join(missing, "\n  "))
	}
}
