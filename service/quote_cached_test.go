package service_test

import (
	"context"
	"testing"

	"github.com/shebao/sipay/service"
)

// countingEvidence is fakeEvidence that counts its reads.
type countingEvidence struct {
	fakeEvidence
	reads int
}

func (f *countingEvidence) VerifiedMethods(ctx context.Context, userID, personID int64, region string) ([]string, error) {
	f.reads++
	return f.fakeEvidence.VerifiedMethods(ctx, userID, personID, region)
}

// A cached identity (the user's snapshot in the session store) is a lower
// bound of the evidence: what it allows is allowed without a read, and a
// refusal is decided on the evidence store. Jiangsu wants the e-card
// password.
func TestCreateQuoteCachedIdentityAllowsButNeverRefuses(t *testing.T) {
	jiangsu := service.QuoteInput{Region: "jiangsu", Person: "self", Insurances: both(500000), StartMonth: "2026-11", Months: 1}
	cases := []struct {
		name   string
		cached bool
		self   []service.RegionMethod // what the user carries
		store  []string               // what the evidence store says now
		ok     bool
		reads  int
	}{
		{"CachedHasTheMethod", true, []service.RegionMethod{{Region: "jiangsu", Method: "ecard_password"}}, nil, true, 0},
		{"CachedLacksItStoreHasIt", true, nil, []string{"ecard_password"}, true, 1},
		{"CachedLacksItStoreToo", true, nil, []string{"face"}, false, 1},
		{"CachedHasItForAnotherRegion", true, []service.RegionMethod{{Region: "beijing", Method: "ecard_password"}}, nil, false, 1},
		{"ReadWithTheUserLacksIt", false, nil, []string{"ecard_password"}, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			ev := &countingEvidence{fakeEvidence: fakeEvidence{methods: c.store}}
			e.rebuild(func(d *service.QuoteDeps) { d.Evidence = ev })
			u := &service.User{ID: 1, OpenID: "o1", PersonID: 42,
				Self: &service.SelfIdentity{IDType: service.IDResident, Checks: c.self, Cached: c.cached}}
			ctx := service.WithAuthenticatedUser(context.Background(), u)
			q, err := e.svc.CreateQuote(ctx, 1, jiangsu)
			if c.ok && err != nil {
				t.Fatalf("got %v, want a quote", err)
			}
			if !c.ok && (q != nil || service.ErrorCode(err) != service.CodeIdentityNotAccepted) {
				t.Fatalf("got %+v %v, want 403 %s", q, err, service.CodeIdentityNotAccepted)
			}
			if ev.reads != c.reads {
				t.Errorf("evidence read %d times, want %d", ev.reads, c.reads)
			}
		})
	}
}
