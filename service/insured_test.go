package service_test

import (
	"context"
	"testing"

	"github.com/shebao/sipay/regions"
	"github.com/shebao/sipay/service"
)

func newInsured(tb testing.TB) (*service.InsuredService, *fakePersons, *fakePlatform) {
	tb.Helper()
	rs, err := regions.Load()
	if err != nil {
		tb.Fatal(err)
	}
	persons := &fakePersons{self: &service.Person{ID: 42, IDType: service.IDResident}}
	platform := &fakePlatform{profile: service.InsuredProfile{
		CurrentMonth: "2026-11",
		Insurances:   []service.InsuranceStatus{{Insurance: "pension", Status: "suspended", PaidThrough: "2026-08", BaseFen: 551000}},
		Arrears: []service.ArrearsMonth{
			{Insurance: "pension", Month: "2026-10", BaseFen: 551000, AmountFen: 110200},
			{Insurance: "pension", Month: "2026-09", BaseFen: 551000, AmountFen: 110200},
		},
		CurrentDue:          110200,
		MutualAidBalanceFen: 30000,
	}}
	return service.NewInsuredService(rs, persons, platform, service.NewManualClock(now)), persons, platform
}

func TestInsuredProfileShowsHistoryWhereTheRegionDoes(t *testing.T) {
	s, _, _ := newInsured(t)
	v, err := s.Profile(context.Background(), 1, "guangdong-guangzhou", "self")
	if err != nil {
		t.Fatal(err)
	}
	// Arrears sorted oldest first; 110200 + 110200 = 220400.
	if !v.ArrearsShown || len(v.Arrears) != 2 || v.Arrears[0].Month != "2026-09" || v.ArrearsFen != 220400 {
		t.Fatalf("got shown %v arrears %+v sum %d, want 2026-09 then 2026-10 summing 220400", v.ArrearsShown, v.Arrears, v.ArrearsFen)
	}
	if v.CurrentDue != 110200 || v.MutualAidBalanceFen != 30000 || v.Insurances[0].PaidThrough != "2026-08" || v.PersonID != 42 {
		t.Errorf("got %+v, want due 110200, mutual aid 30000, paid through 2026-08, person 42", v)
	}
}

func TestInsuredProfileHidesHistoryWhereCurrentOnly(t *testing.T) {
	s, _, _ := newInsured(t)
	v, err := s.Profile(context.Background(), 1, "jiangsu", "self")
	if err != nil {
		t.Fatal(err)
	}
	if v.ArrearsShown || len(v.Arrears) != 0 || v.ArrearsFen != 0 {
		t.Fatalf("got shown %v arrears %+v sum %d, want history hidden", v.ArrearsShown, v.Arrears, v.ArrearsFen)
	}
	if v.MutualAidBalanceFen != 0 {
		t.Errorf("got mutual aid %d, want 0 where the region has none", v.MutualAidBalanceFen)
	}
	if v.CurrentDue != 110200 {
		t.Errorf("got current due %d, want 110200", v.CurrentDue)
	}
}

func TestInsuredProfileRefusals(t *testing.T) {
	t.Run("UnknownRegion", func(t *testing.T) {
		s, _, _ := newInsured(t)
		_, err := s.Profile(context.Background(), 1, "atlantis", "self")
		assertField(t, err, "region", service.CodeUnknownRegion)
	})
	t.Run("IDTypeNotAccepted", func(t *testing.T) {
		s, persons, platform := newInsured(t)
		persons.self.IDType = service.IDHKMacauTravel
		_, err := s.Profile(context.Background(), 1, "jiangsu", "self")
		assertField(t, err, "person", service.FieldIDTypeNotAccepted)
		if platform.profileCalls != 0 {
			t.Errorf("got %d platform calls, want 0", platform.profileCalls)
		}
	})
	t.Run("OtherUsersMember", func(t *testing.T) {
		s, _, _ := newInsured(t)
		_, err := s.Profile(context.Background(), 2, "jiangsu", "7")
		if service.ErrorKind(err) != service.KindNotFound {
			t.Fatalf("got %v, want not found", err)
		}
	})
}
