package service_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/regions"
	"github.com/shebao/sipay/service"
)

// fzStore keeps created quotes.
type fzStore struct {
	mu     sync.Mutex
	quotes map[string]service.Quote
}

func (s *fzStore) CreateQuote(_ context.Context, q *service.Quote) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quotes[q.ID] = *q
	return nil
}

func (s *fzStore) FindQuoteByID(_ context.Context, id string) (*service.Quote, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.quotes[id]
	if !ok {
		return nil, service.ErrNotFound
	}
	return &q, nil
}

// fzPersons resolves "self" and member "7" (with a travel permit, which some
// regions refuse); everything else is not found.
type fzPersons struct{}

func (fzPersons) ResolvePerson(_ context.Context, userID int64, person string) (*service.Person, error) {
	switch person {
	case "self":
		return &service.Person{ID: 42, Name: "张三", IDType: service.IDResident, IDNumber: "11010519491231002X"}, nil
	case "7":
		return &service.Person{ID: 43, Name: "李四", IDType: service.IDHKMacauTravel, IDNumber: "H12345678"}, nil
	}
	return nil, service.NotFound("家庭成员不存在")
}

// fzPlatform answers what the fuzzer decided: an assessed base, a profile
// with paid-through months, arrears and a mutual-aid balance, or an error.
type fzPlatform struct {
	service.Platform // other methods are not used by quotes
	base             service.Fen
	profile          service.InsuredProfile
	err              error
}

func (p *fzPlatform) FindProfile(_ context.Context, region string, _ service.PersonRef) (service.InsuredProfile, error) {
	pr := p.profile
	pr.Region = region
	return pr, p.err
}

func (p *fzPlatform) AssessBase(context.Context, string, service.PersonRef) (service.Fen, error) {
	return p.base, p.err
}

// fzMonth returns the month n months from 2026-11.
func fzMonth(n int) string {
	return time.Date(2026, time.Month(11+n), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}

// FuzzCreateQuote drives QuoteService.CreateQuote with arbitrary input and
// platform answers (non-negative amounts, as the platform documents). It
// must never panic; an error must be a *service.Error with a code that is
// not internal; an accepted quote must be consistent: lines sum to the
// total, payable = total − mutual aid, batches sum to payable, every batch
// is positive and within the region's per-payment limit, batches run in
// month order without overlap, all money is non-negative, and the stored
// quote is the one returned.
func FuzzCreateQuote(f *testing.F) {
	rs, err := regions.Load()
	if err != nil {
		f.Fatal(err)
	}
	// region, person, insurances, base A, base B, tier, start offset, months, arrears, mutual aid,
	// assessed base, mutual-aid balance, paid-through offset, arrears spec, platform error
	f.Add(uint8(4), uint8(0), uint8(3), int64(500000), int64(500000), uint8(0), int8(0), int8(1), false, false, uint32(0), uint32(0), uint8(0), []byte{}, uint8(0))
	f.Add(uint8(0), uint8(0), uint8(3), int64(727000), int64(727000), uint8(0), int8(-6), int8(3), true, false, uint32(0), uint32(0), uint8(8), []byte{0, 1, 200, 1, 2, 100}, uint8(0))
	f.Add(uint8(1), uint8(0), uint8(3), int64(0), int64(0), uint8(0), int8(0), int8(6), false, true, uint32(800000), uint32(30000), uint8(0), []byte{}, uint8(0))
	f.Add(uint8(3), uint8(0), uint8(1), int64(0), int64(0), uint8(2), int8(0), int8(1), false, false, uint32(0), uint32(0), uint8(0), []byte{}, uint8(0))
	f.Add(uint8(5), uint8(0), uint8(3), int64(2000000), int64(2000000), uint8(0), int8(0), int8(12), false, false, uint32(0), uint32(0), uint8(0), []byte{}, uint8(0))
	f.Add(uint8(5), uint8(1), uint8(0x13), int64(-1), int64(1<<62), uint8(9), int8(-100), int8(-1), true, true, uint32(1<<31), uint32(1<<31), uint8(255), []byte{255, 255, 255}, uint8(2))
	f.Add(uint8(0), uint8(0), uint8(3), int64(727000), int64(727000), uint8(0), int8(-30), int8(3), true, false, uint32(0), uint32(0), uint8(40), []byte{0, 30, 255, 1, 30, 255, 0, 31, 255}, uint8(0))

	f.Fuzz(func(t *testing.T, regionIdx, personSel, insMask uint8, baseA, baseB int64, tierSel uint8, startOff, months int8,
		includeArrears, useMutualAid bool, assessed, mutualBal uint32, paidBack uint8, arrearsSpec []byte, platformErr uint8) {
		region := &rs[int(regionIdx)%len(rs)]
		in := service.QuoteInput{Region: region.Code, Person: []string{"self", "7", "", "99", "self"}[int(personSel)%5],
			StartMonth: fzMonth(int(startOff)), Months: int(months), IncludeArrears: includeArrears, UseMutualAid: useMutualAid}
		if personSel >= 200 {
			in.Region = "atlantis"
		}
		if personSel%7 == 6 {
			in.StartMonth = "2026-13"
		}
		var tiers []string
		for _, p := range region.Periods {
			for _, tr := range p.Tiers {
				tiers = append(tiers, tr.Code)
			}
		}
		tier := "bogus"
		if len(tiers) > 0 && int(tierSel) < 4*len(tiers) {
			tier = tiers[int(tierSel)%len(tiers)]
		}
		choice := func(typ string, base int64) service.InsuranceChoice {
			c := service.InsuranceChoice{Type: typ}
			switch {
			case insMask&0x10 != 0: // both, or whatever the fuzzer says
				c.BaseFen, c.Tier = service.Fen(base), tier
			case region.BaseMode == service.BaseFree:
				c.BaseFen = service.Fen(base)
			case region.BaseMode == service.BaseTiers:
				c.Tier = tier
			}
			return c
		}
		if insMask&1 != 0 {
			in.Insurances = append(in.Insurances, choice(service.InsurancePension, baseA))
		}
		if insMask&2 != 0 {
			in.Insurances = append(in.Insurances, choice(service.InsuranceMedical, baseB))
		}
		if insMask&4 != 0 {
			in.Insurances = append(in.Insurances, choice(service.InsurancePension, baseB))
		}
		if insMask&8 != 0 {
			in.Insurances = append(in.Insurances, choice("injury", baseA))
		}

		pf := &fzPlatform{base: service.Fen(assessed), profile: service.InsuredProfile{CurrentMonth: "2026-11", MutualAidBalanceFen: service.Fen(mutualBal)}}
		switch platformErr % 8 {
		case 1:
			pf.err = errors.New("connection refused")
		case 2:
			pf.err = &service.PlatformRejection{Code: "not_insured", Reason: "未参保"}
		}
		if paidBack > 0 {
			through := fzMonth(-int(paidBack % 40))
			pf.profile.Insurances = []service.InsuranceStatus{
				{Insurance: service.InsurancePension, Status: "active", PaidThrough: through},
				{Insurance: service.InsuranceMedical, Status: "active", PaidThrough: through},
			}
		}
		for i := 0; i+2 < len(arrearsSpec) && i < 3*40; i += 3 {
			ins := service.InsurancePension
			if arrearsSpec[i]%2 == 1 {
				ins = service.InsuranceMedical
			}
			m := fzMonth(-1 - int(arrearsSpec[i+1]%36))
			pf.profile.Arrears = append(pf.profile.Arrears, service.ArrearsMonth{Insurance: ins, Month: m,
				BaseFen: 500000, AmountFen: service.Fen(arrearsSpec[i+2]) * 1000})
		}

		store := &fzStore{quotes: map[string]service.Quote{}}
		clock := service.NewManualClock(now)
		svc := service.NewQuoteService(service.QuoteDeps{Regions: rs, Store: store, Persons: fzPersons{}, Platform: pf, Clock: clock, TTL: 30 * time.Minute})
		q, err := svc.CreateQuote(context.Background(), 1, in)
		if err != nil {
			e := service.AsError(err)
			if e == nil || e.Code == "" || e.Message == "" || e.Kind == service.KindInternal {
				t.Fatalf("CreateQuote(%+v) error %v (%#v), want a *service.Error with a code, a message and a non-internal kind", in, err, e)
			}
			if q != nil {
				t.Fatalf("CreateQuote returned both a quote and %v", err)
			}
			return
		}
		checkQuote(t, region, in, q)
		stored, ferr := svc.FindQuote(context.Background(), 1, q.ID)
		if ferr != nil || fmt.Sprint(*stored) != fmt.Sprint(*q) {
			t.Fatalf("stored quote %+v, %v; want the returned one %+v", stored, ferr, q)
		}
		if _, ferr := svc.FindQuote(context.Background(), 2, q.ID); service.ErrorCode(ferr) != service.CodeQuoteNotFound {
			t.Fatalf("another user's FindQuote: %v, want quote_not_found", ferr)
		}
	})
}

// checkQuote asserts the invariants of an accepted quote.
func checkQuote(t *testing.T, region *service.Region, in service.QuoteInput, q *service.Quote) {
	t.Helper()
	if q.Region != region.Code || q.UserID != 1 || q.ID == "" || !q.ExpiresAt.Equal(now.Add(30*time.Minute)) {
		t.Fatalf("quote header %+v, want region %s, user 1, an id and expiry in 30 min", q, region.Code)
	}
	if len(q.Lines) == 0 {
		t.Fatalf("accepted quote without lines: %+v (input %+v)", q, in)
	}
	var sum, medical service.Fen
	for i, l := range q.Lines {
		if l.AmountFen < 0 || l.BaseFen < 0 || l.RateBP < 0 {
			t.Fatalf("line %d has negative money: %+v", i, l)
		}
		if i > 0 && l.Month < q.Lines[i-1].Month {
			t.Fatalf("lines out of month order: %+v", q.Lines)
		}
		sum += l.AmountFen
		if l.Insurance == service.InsuranceMedical {
			medical += l.AmountFen
		}
	}
	if sum != q.TotalFen {
		t.Fatalf("lines sum to %d, total_fen %d", sum, q.TotalFen)
	}
	if q.MutualAidFen < 0 || q.MutualAidFen > medical || (!in.UseMutualAid && q.MutualAidFen != 0) {
		t.Fatalf("mutual aid %d with medical %d (use_mutual_aid %v)", q.MutualAidFen, medical, in.UseMutualAid)
	}
	if q.PayableFen != q.TotalFen-q.MutualAidFen || q.PayableFen < 0 {
		t.Fatalf("payable %d, want total %d − mutual aid %d ≥ 0", q.PayableFen, q.TotalFen, q.MutualAidFen)
	}
	var bsum service.Fen
	prevTo := ""
	for i, b := range q.Batches {
		if b.Seq != i+1 {
			t.Fatalf("batch %d has seq %d", i, b.Seq)
		}
		if b.AmountFen <= 0 || b.AmountFen > region.PaymentLimitFen {
			t.Fatalf("batch %d amount %d, want 1..%d (the region's limit)", b.Seq, b.AmountFen, region.PaymentLimitFen)
		}
		if b.FromMonth > b.ToMonth || (prevTo != "" && b.FromMonth <= prevTo) {
			t.Fatalf("batches overlap or run backwards: %+v", q.Batches)
		}
		prevTo = b.ToMonth
		bsum += b.AmountFen
	}
	if bsum != q.PayableFen {
		t.Fatalf("batches sum to %d, payable_fen %d", bsum, q.PayableFen)
	}
	if q.PayableFen > 0 && len(q.Batches) == 0 {
		t.Fatalf("payable %d without batches", q.PayableFen)
	}
	if q.PayableFen <= region.PaymentLimitFen && len(q.Batches) > 1 {
		t.Fatalf("payable %d within the limit %d split into %d batches", q.PayableFen, region.PaymentLimitFen, len(q.Batches))
	}
}
