package provsim

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
)

// Name markers. A person whose name contains one of these behaves as
// documented, whatever the ID number says.
const (
	// MarkerNotInsured: profile shows not_insured, postings are rejected
	// with not_insured.
	MarkerNotInsured = "未参保"
	// MarkerMismatch: every call naming the person is refused with
	// person_mismatch (name and ID number do not belong together).
	MarkerMismatch = "不符"
	// MarkerPending: postings are answered pending and accepted later by
	// callback, whatever the posting mode.
	MarkerPending = "挂起"
	// MarkerNoArrears: paid through last month; no arrears.
	MarkerNoArrears = "无欠费"
	// MarkerArrears: six months of arrears before the current month.
	MarkerArrears = "欠费"
)

// Fixed secrets accepted by identity checks.
const (
	// DevSMSCode is accepted for every SMS check besides the generated code.
	DevSMSCode = "123456"
	// ECardPassword is the e-social-security-card password of everyone.
	ECardPassword = "147258"
	// NationalToken is the national-platform token that passes.
	NationalToken = "national-ok"
)

// Rates the simulator uses to price months of a region it has no rules
// for (illustrative, basis points). Known regions are priced by their rules
// in force each month (Sim.price).
const (
	PensionRateBP = 2000 // 20 %
	MedicalRateBP = 800  // 8 %
)

// persona is what the hash of a person decides.
type persona struct {
	baseFen      int64
	lag          int // months between paid-through and the current month (≥1)
	medicalNever bool
	mutualAidFen int64
	notInsured   bool
	mismatch     bool
	pending      bool
}

var (
	simBases = []int64{450000, 600000, 800000, 1000000}
	simLags  = []int{1, 1, 2, 4, 7, 13} // arrears = lag-1: 0,0,1,3,6,12
	simAid   = []int64{0, 50000, 200000}
)

// personaOf derives a person's data from region and ID number, then applies
// the name markers.
func personaOf(region string, p platform.WirePerson) persona {
	h := sha256.Sum256([]byte(region + "|" + p.IDType + "|" + p.IDNumber))
	ps := persona{
		baseFen:      simBases[int(h[0])%len(simBases)],
		lag:          simLags[int(h[1])%len(simLags)],
		medicalNever: h[2]%5 == 0,
		mutualAidFen: simAid[int(h[3])%len(simAid)],
	}
	switch {
	case strings.Contains(p.Name, MarkerNoArrears):
		ps.lag = 1
	case strings.Contains(p.Name, MarkerArrears):
		ps.lag = 7
	}
	ps.notInsured = strings.Contains(p.Name, MarkerNotInsured)
	ps.mismatch = strings.Contains(p.Name, MarkerMismatch)
	ps.pending = strings.Contains(p.Name, MarkerPending)
	return ps
}

func rateOf(insurance string) int64 {
	if insurance == service.InsuranceMedical {
		return MedicalRateBP
	}
	return PensionRateBP
}

// price prices one month of an insurance by the region's rules in force
// that month: the person's base kept within the month's bounds (the floor
// where the region fixes it), the rate in force, the amount rounded half up.
// It returns false when the region has no bounds or rate for the month.
func (s *Sim) price(region, ins, month string, base int64) (platform.WireArrears, bool) {
	r, ok := service.FindRegion(s.cfg.Regions, region)
	if !ok {
		rate := rateOf(ins)
		return platform.WireArrears{Insurance: ins, Month: month, BaseFen: base, RateBP: rate,
			AmountFen: int64(service.LineAmount(service.Fen(base), rate))}, true
	}
	p, ok := r.PeriodFor(month)
	if !ok {
		return platform.WireArrears{}, false
	}
	rate, ok := r.RateFor(ins, month)
	if !ok {
		return platform.WireArrears{}, false
	}
	base = min(max(base, int64(p.MinFen)), int64(p.MaxFen))
	if rate.BaseRule == service.BaseRuleFloor {
		base = int64(p.MinFen)
	}
	return platform.WireArrears{Insurance: ins, Month: month, BaseFen: base, RateBP: rate.RateBP,
		AmountFen: int64(service.LineAmount(service.Fen(base), rate.RateBP))}, true
}

// prepayCap returns how many months after the current month the platform
// accepts for a region: the region's prepayment rule in force, 0 for a
// region it has no rules for.
func (s *Sim) prepayCap(region, cur string) int {
	r, ok := service.FindRegion(s.cfg.Regions, region)
	if !ok {
		return 0
	}
	return r.PrepayFor(cur).CapMonths
}

// personKey identifies one insurance of one person in one region.
func personKey(region string, p platform.WirePerson, insurance string) string {
	h := sha256.Sum256([]byte(region + "|" + p.IDType + "|" + p.IDNumber + "|" + insurance))
	return fmt.Sprintf("%x", h[:12])
}

// profile builds the profile of p at now, taking booked months into account.
func (s *Sim) profile(region string, p platform.WirePerson, now time.Time) platform.WireProfile {
	ps := personaOf(region, p)
	cur := service.Month(now)
	out := platform.WireProfile{Region: region, CurrentMonth: cur, Insurances: []platform.WireInsurance{}, Arrears: []platform.WireArrears{}}
	if ps.notInsured {
		for _, ins := range []string{service.InsurancePension, service.InsuranceMedical} {
			out.Insurances = append(out.Insurances, platform.WireInsurance{Insurance: ins, Status: "not_insured"})
		}
		return out
	}
	out.MutualAidBalanceFen = max(ps.mutualAidFen-s.aidSpent[aidKey(region, p)], 0)
	for _, ins := range []string{service.InsurancePension, service.InsuranceMedical} {
		if ins == service.InsuranceMedical && ps.medicalNever {
			out.Insurances = append(out.Insurances, platform.WireInsurance{Insurance: ins, Status: "not_insured"})
			continue
		}
		booked := s.booked[personKey(region, p, ins)]
		paidThrough := service.AddMonths(cur, -ps.lag)
		for m := range booked {
			if m > paidThrough {
				paidThrough = m
			}
		}
		out.Insurances = append(out.Insurances, platform.WireInsurance{Insurance: ins, Status: "active",
			PaidThrough: paidThrough, BaseFen: ps.baseFen})
		for i := ps.lag - 1; i >= 1; i-- {
			m := service.AddMonths(cur, -i)
			if booked[m] {
				continue
			}
			if a, ok := s.price(region, ins, m, ps.baseFen); ok {
				out.Arrears = append(out.Arrears, a)
			}
		}
		if a, ok := s.price(region, ins, cur, ps.baseFen); ok && !booked[cur] {
			out.CurrentDueFen += a.AmountFen
		}
	}
	return out
}
