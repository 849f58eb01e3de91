package service

import (
	"context"
	"sort"
)

// InsuredService shows a person's standing in a region as the region's
// platform presents it.
type InsuredService struct {
	regions  []Region
	persons  PersonResolver
	platform Platform
	clock    Clock
}

// NewInsuredService returns an InsuredService. It panics on a missing dependency.
func NewInsuredService(regions []Region, persons PersonResolver, platform Platform, clock Clock) *InsuredService {
	if len(regions) == 0 || persons == nil || platform == nil || clock == nil {
		panic("service: NewInsuredService: missing dependency")
	}
	return &InsuredService{regions: regions, persons: persons, platform: platform, clock: clock}
}

// InsuredView is a person's standing in a region after the region's arrears
// view is applied: regions that show only the current period (current_only)
// never reveal arrears history.
type InsuredView struct {
	Region       string
	PersonID     int64
	CurrentMonth string
	Insurances   []InsuranceStatus // status, paid-through month and base per insurance
	ArrearsShown bool
	Arrears      []ArrearsMonth // oldest first; empty unless ArrearsShown
	ArrearsFen   Fen            // sum of Arrears
	CurrentDue   Fen
	// MutualAidBalanceFen is zero where the region has no family mutual aid.
	MutualAidBalanceFen Fen
}

// Profile resolves the person (see PersonResolver for its errors), checks
// the region accepts their ID type and reads the platform profile.
//
// Errors: quote_invalid with field region or person (400); the resolver's
// errors; platform_rejected (422); unavailable (503).
func (s *InsuredService) Profile(ctx context.Context, userID int64, region, person string) (*InsuredView, error) {
	r, ok := FindRegion(s.regions, region)
	if !ok {
		return nil, Invalid(CodeQuoteInvalid, "不支持该地区", FieldError{Field: "region", Code: CodeUnknownRegion, Message: "不支持该地区"})
	}
	if person == "" {
		return nil, Invalid(CodeQuoteInvalid, "请选择参保人", FieldError{Field: "person", Code: FieldRequired, Message: "请选择参保人"})
	}
	p, err := s.persons.ResolvePerson(ctx, userID, person)
	if err != nil {
		return nil, err
	}
	if !r.AcceptsIDType(p.IDType) {
		return nil, Invalid(CodeQuoteInvalid, "该地区不支持此证件类型参保缴费",
			FieldError{Field: "person", Code: FieldIDTypeNotAccepted, Message: "该地区不支持此证件类型参保缴费"})
	}
	prof, err := s.platform.FindProfile(ctx, r.Code, p.Ref())
	if err != nil {
		return nil, platformError("find profile", err)
	}
	v := &InsuredView{Region: r.Code, PersonID: p.ID, CurrentMonth: prof.CurrentMonth,
		Insurances: prof.Insurances, CurrentDue: prof.CurrentDue}
	if v.CurrentMonth == "" {
		v.CurrentMonth = Month(s.clock.Now())
	}
	if r.MutualAid {
		v.MutualAidBalanceFen = prof.MutualAidBalanceFen
	}
	if r.ShowsArrears() {
		v.ArrearsShown = true
		v.Arrears = append([]ArrearsMonth(nil), prof.Arrears...)
		sort.SliceStable(v.Arrears, func(a, b int) bool { return v.Arrears[a].Month < v.Arrears[b].Month })
		for _, a := range v.Arrears {
			v.ArrearsFen += a.AmountFen
		}
	}
	return v, nil
}
