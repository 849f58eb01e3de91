package platform_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/provsim"
)

const testRegion = "440300"

var t0 = time.Date(2025, 6, 15, 2, 0, 0, 0, time.UTC) // 2025-06-15 10:00 in Shanghai

// harness wires our client and callback endpoint to a simulator.
type harness struct {
	clock  *service.ManualClock
	sim    *provsim.Sim
	client *platform.Client
	creds  platform.Credentials
	sink   *recordingSink
}

type harnessOpt func(*provsim.Config, *platform.Config)

func newHarness(tb testing.TB, opts ...harnessOpt) *harness {
	tb.Helper()
	h := &harness{clock: service.NewManualClock(t0), sink: &recordingSink{}}
	// Our server: the callback endpoint.
	v := &platform.CallbackVerifier{Clock: h.clock, Nonces: platform.NewMemoryNonceStore(h.clock)}
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/platform/{region}/callback", platform.CallbackHandler(v, h.sink, nil))
	ours := httptest.NewServer(mux)
	tb.Cleanup(ours.Close)

	scfg := provsim.Config{Clock: h.clock, CallbackURL: provsim.CallbackURLFor(ours.URL), Seed: 7}
	h.creds = platform.Credentials{AppID: "app-440300", Secret: "secret-440300"}
	scfg.Creds = map[string]platform.Credentials{testRegion: h.creds}
	pcfg := platform.Config{Timeout: 5 * time.Second}
	for _, o := range opts {
		o(&scfg, &pcfg)
	}
	h.sim = provsim.New(scfg)
	srv := httptest.NewServer(h.sim.Handler())
	tb.Cleanup(srv.Close)
	h.creds.BaseURL = srv.URL
	if pcfg.Regions == nil {
		pcfg.Regions = map[string]platform.Credentials{testRegion: h.creds}
	}
	for r, c := range pcfg.Regions {
		if c.BaseURL == "" {
			c.BaseURL = srv.URL
			pcfg.Regions[r] = c
		}
	}
	v.Creds = pcfg.RegionCreds(testRegion)
	client, err := platform.NewClient(pcfg, h.clock, srv.Client(), nil)
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	h.client = client
	return h
}

// recordingSink records platform events; failNext makes the next calls fail.
type recordingSink struct {
	mu       sync.Mutex
	events   []service.PlatformEvent
	failNext int
}

func (s *recordingSink) HandlePlatformEvent(_ context.Context, e service.PlatformEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return context.DeadlineExceeded
	}
	s.events = append(s.events, e)
	return nil
}

func (s *recordingSink) Events() []service.PlatformEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]service.PlatformEvent(nil), s.events...)
}

func person(name, id string) service.PersonRef {
	return service.PersonRef{Name: name, IDType: service.IDResident, IDNumber: id}
}

// mustProfile reads a profile or fails.
func mustProfile(tb testing.TB, h *harness, p service.PersonRef) service.InsuredProfile {
	tb.Helper()
	prof, err := h.client.FindProfile(context.Background(), testRegion, p)
	if err != nil {
		tb.Fatalf("FindProfile: %v", err)
	}
	return prof
}

// postingFor builds a posting paying every arrears month of prof.
func postingFor(tb testing.TB, key string, p service.PersonRef, prof service.InsuredProfile) service.Posting {
	tb.Helper()
	if len(prof.Arrears) == 0 {
		tb.Fatalf("profile has no arrears to pay")
	}
	ps := service.Posting{IdempotencyKey: key, Region: testRegion, OrderNo: "O" + key, BatchSeq: 1, OutTradeNo: key,
		TransactionID: "4200000000" + key, Person: p, PaidAt: t0}
	for _, a := range prof.Arrears {
		rate := int64(provsim.PensionRateBP)
		if a.Insurance == service.InsuranceMedical {
			rate = provsim.MedicalRateBP
		}
		ps.Lines = append(ps.Lines, service.QuoteLine{Insurance: a.Insurance, Month: a.Month, Arrears: true,
			BaseFen: a.BaseFen, RateBP: rate, AmountFen: a.AmountFen})
		ps.AmountFen += a.AmountFen
	}
	return ps
}

// mustRejection asserts err is a *service.PlatformRejection with code.
func mustRejection(tb testing.TB, err error, code string) {
	tb.Helper()
	var rej *service.PlatformRejection
	if !errorsAs(err, &rej) {
		tb.Fatalf("err = %v, want *service.PlatformRejection %s", err, code)
	}
	if rej.Code != code {
		tb.Fatalf("rejection code = %q, want %q", rej.Code, code)
	}
}

// mustTransient asserts err is a non-permanent platform_unavailable error.
func mustTransient(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		tb.Fatal("err = nil, want a transient error")
	}
	if service.IsPermanent(err) {
		tb.Fatalf("err = %v is permanent, want transient", err)
	}
	if got, want := service.ErrorCode(err), platform.CodePlatformUnavailable; got != want {
		tb.Fatalf("error code = %q, want %q (err %v)", got, want, err)
	}
	if got, want := service.ErrorKind(err), service.KindUnavailable; got != want {
		tb.Fatalf("error kind = %v, want %v", got, want)
	}
}
