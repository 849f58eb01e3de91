package service

import (
	"fmt"
	"time"
)

// BaseMode says how the contribution base of a region is chosen.
type BaseMode string

// Base modes.
const (
	BaseFree     BaseMode = "free"     // the payer chooses any base within the bounds in force
	BaseTiers    BaseMode = "tiers"    // the payer chooses one of the fixed tiers (档次) in force
	BaseAssessed BaseMode = "assessed" // the platform assesses the base (网厅实时核算); the payer chooses nothing
)

// ArrearsView says how much of a person's payment history a region shows.
type ArrearsView string

// Arrears views.
const (
	ArrearsHistory     ArrearsView = "history"      // arrears months are shown and may be back-paid
	ArrearsCurrentOnly ArrearsView = "current_only" // only the current period's due is shown
)

// SourceTag says whether a figure in the region data comes from a source.
type SourceTag string

// Source tags. Every figure carries one; illustrative figures are
// placeholders a developer must confirm before production.
const (
	SourceSourced      SourceTag = "sourced"
	SourceIllustrative SourceTag = "illustrative"
)

// Payment channels a region's platform accepts (shown to the user; WeChat Pay
// collects the money in every case).
const (
	ChannelWeChatBalance = "wechat_balance" // 微信零钱
	ChannelBankCard      = "bank_card"      // bank card bound in WeChat
	ChannelWeChatPay     = "wechat_pay"     // WeChat Pay only, no other channel
	ChannelUnionPay      = "union_pay"      // 银联通道
)

// Region is the set of rules of one region (a province, a city or the national
// standard profile). It is data: regions/ loads it from YAML and nothing in
// the code branches on a region code.
type Region struct {
	Code       string
	Name       string
	PolicyNote string // Chinese, shown to users
	BaseMode   BaseMode
	// Periods are the effective periods of the base bounds (and tiers), in
	// chronological order without overlap.
	Periods []BasePeriod
	Rates   []InsuranceRate
	// MedicalBundled means medical and pension must be paid together (必须与养老同步缴纳).
	MedicalBundled bool
	// PeriodMonths are the allowed lengths of one payment, in months (1, 3, 6, 12).
	PeriodMonths []int
	// PrepayCapMonths is how many months after the current month one quote may cover.
	PrepayCapMonths int
	ArrearsView     ArrearsView
	IdentityMethods []string // IdentityFace, IdentitySMS, IdentityCardPwd, IdentityNational
	PaymentChannels []string // Channel*
	MutualAid       bool     // family mutual-aid account (家庭共济) may offset the amount
	// PaymentLimitFen is the largest amount of one WeChat payment; larger
	// quotes are split into batches on month boundaries.
	PaymentLimitFen    Fen
	PaymentLimitSource Figure
	IDTypes            []IDType
	// AvgWageFen is the monthly average wage (社平工资) used by pension estimates.
	AvgWageFen    Fen
	AvgWageSource Figure
}

// Figure records where a figure comes from.
type Figure struct {
	Source SourceTag
	Note   string
}

// BasePeriod is the base bounds (and tiers) in force from From to To, both
// inclusive months (YYYY-MM). An empty To means "until further notice".
type BasePeriod struct {
	From   string
	To     string
	MinFen Fen
	MaxFen Fen
	Tiers  []Tier // only in tiers mode
	Figure
}

// Tier is one fixed contribution base (档次) a payer may choose.
type Tier struct {
	Code    string
	Name    string
	BaseFen Fen
	Figure
}

// InsuranceRate is the rate of one insurance in basis points (1/10000) of the
// base: pension 2000 = 20 %. PersonalAccountBP is the part of the pension rate
// credited to the personal account (8 % = 800); zero for medical.
type InsuranceRate struct {
	Insurance         string
	RateBP            int64
	PersonalAccountBP int64
	Figure
}

// Covers reports whether month (YYYY-MM) falls in the period.
func (p BasePeriod) Covers(month string) bool {
	return month >= p.From && (p.To == "" || month <= p.To)
}

// Tier returns the tier with code in the period, or false.
func (p BasePeriod) Tier(code string) (Tier, bool) {
	for _, t := range p.Tiers {
		if t.Code == code {
			return t, true
		}
	}
	return Tier{}, false
}

// PeriodFor returns the base period in force in month, or false.
func (r *Region) PeriodFor(month string) (BasePeriod, bool) {
	for _, p := range r.Periods {
		if p.Covers(month) {
			return p, true
		}
	}
	return BasePeriod{}, false
}

// Rate returns the rate of an insurance, or false when the region does not
// collect it.
func (r *Region) Rate(insurance string) (InsuranceRate, bool) {
	for _, x := range r.Rates {
		if x.Insurance == insurance {
			return x, true
		}
	}
	return InsuranceRate{}, false
}

// AllowsPeriod reports whether a payment may cover months months.
func (r *Region) AllowsPeriod(months int) bool {
	for _, m := range r.PeriodMonths {
		if m == months {
			return true
		}
	}
	return false
}

// AcceptsIDType reports whether the region's platform accepts the document.
func (r *Region) AcceptsIDType(t IDType) bool {
	for _, x := range r.IDTypes {
		if x == t {
			return true
		}
	}
	return false
}

// ShowsArrears reports whether the region shows (and back-pays) arrears.
func (r *Region) ShowsArrears() bool { return r.ArrearsView == ArrearsHistory }

var (
	validIDTypes = map[IDType]bool{IDResident: true, IDHKMacauResidence: true, IDTaiwanResidence: true,
		IDHKMacauTravel: true, IDTaiwanTravel: true, IDForeignPermanent: true}
	validIdentity = map[string]bool{IdentityFace: true, IdentitySMS: true, IdentityCardPwd: true, IdentityNational: true}
	validChannels = map[string]bool{ChannelWeChatBalance: true, ChannelBankCard: true, ChannelWeChatPay: true, ChannelUnionPay: true}
	validPeriods  = map[int]bool{1: true, 3: true, 6: true, 12: true}
)

// Validate checks the region's rules and returns an error naming the first
// invalid field by its data path (for example "periods[1].max_fen").
func (r *Region) Validate() error {
	fail := func(field, format string, args ...any) error {
		return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
	}
	if r.Code == "" {
		return fail("code", "required")
	}
	if r.Name == "" {
		return fail("name", "required")
	}
	if r.PolicyNote == "" {
		return fail("policy_note", "required")
	}
	switch r.BaseMode {
	case BaseFree, BaseTiers, BaseAssessed:
	default:
		return fail("base_mode", "%q is not free, tiers or assessed", r.BaseMode)
	}
	if len(r.Periods) == 0 {
		return fail("periods", "at least one effective period is required")
	}
	for i, p := range r.Periods {
		f := fmt.Sprintf("periods[%d]", i)
		if !monthValid(p.From) {
			return fail(f+".from", "%q is not a month YYYY-MM", p.From)
		}
		if p.To != "" && (!monthValid(p.To) || p.To < p.From) {
			return fail(f+".to", "%q is not a month YYYY-MM at or after from", p.To)
		}
		if i > 0 {
			prev := r.Periods[i-1]
			if prev.To == "" || prev.To >= p.From {
				return fail(f+".from", "%s overlaps periods[%d] (periods must be chronological and disjoint)", p.From, i-1)
			}
		}
		if p.MinFen <= 0 {
			return fail(f+".min_fen", "must be positive")
		}
		if p.MaxFen < p.MinFen {
			return fail(f+".max_fen", "%d is below min_fen %d", p.MaxFen, p.MinFen)
		}
		if err := validFigure(f, p.Figure); err != nil {
			return err
		}
		if r.BaseMode == BaseTiers && len(p.Tiers) == 0 {
			return fail(f+".tiers", "base_mode tiers needs at least one tier in every period")
		}
		if r.BaseMode != BaseTiers && len(p.Tiers) > 0 {
			return fail(f+".tiers", "tiers are only allowed with base_mode tiers")
		}
		seen := map[string]bool{}
		for j, t := range p.Tiers {
			tf := fmt.Sprintf("%s.tiers[%d]", f, j)
			if t.Code == "" || seen[t.Code] {
				return fail(tf+".code", "%q is empty or repeated", t.Code)
			}
			seen[t.Code] = true
			if t.Name == "" {
				return fail(tf+".name", "required")
			}
			if t.BaseFen <= 0 {
				return fail(tf+".base_fen", "must be positive")
			}
			if err := validFigure(tf, t.Figure); err != nil {
				return err
			}
		}
	}
	if len(r.Rates) == 0 {
		return fail("rates", "at least one insurance rate is required")
	}
	seenIns := map[string]bool{}
	for i, x := range r.Rates {
		f := fmt.Sprintf("rates[%d]", i)
		if x.Insurance != InsurancePension && x.Insurance != InsuranceMedical {
			return fail(f+".insurance", "%q is not pension or medical", x.Insurance)
		}
		if seenIns[x.Insurance] {
			return fail(f+".insurance", "%q repeated", x.Insurance)
		}
		seenIns[x.Insurance] = true
		if x.RateBP <= 0 || x.RateBP > 10000 {
			return fail(f+".rate_bp", "%d is not in 1..10000", x.RateBP)
		}
		if x.PersonalAccountBP < 0 || x.PersonalAccountBP > x.RateBP {
			return fail(f+".personal_account_bp", "%d is not in 0..rate_bp", x.PersonalAccountBP)
		}
		if x.Insurance != InsurancePension && x.PersonalAccountBP != 0 {
			return fail(f+".personal_account_bp", "only pension has a personal-account share")
		}
		if err := validFigure(f, x.Figure); err != nil {
			return err
		}
	}
	if r.MedicalBundled && (!seenIns[InsurancePension] || !seenIns[InsuranceMedical]) {
		return fail("medical_bundled", "needs both pension and medical rates")
	}
	if len(r.PeriodMonths) == 0 {
		return fail("period_months", "at least one period length is required")
	}
	for i, m := range r.PeriodMonths {
		if !validPeriods[m] {
			return fail(fmt.Sprintf("period_months[%d]", i), "%d is not 1, 3, 6 or 12", m)
		}
	}
	if r.PrepayCapMonths < 0 || r.PrepayCapMonths > 12 {
		return fail("prepay_cap_months", "%d is not in 0..12", r.PrepayCapMonths)
	}
	switch r.ArrearsView {
	case ArrearsHistory, ArrearsCurrentOnly:
	default:
		return fail("arrears_view", "%q is not history or current_only", r.ArrearsView)
	}
	if len(r.IdentityMethods) == 0 {
		return fail("identity_methods", "at least one identity method is required")
	}
	for i, m := range r.IdentityMethods {
		if !validIdentity[m] {
			return fail(fmt.Sprintf("identity_methods[%d]", i), "%q is not face, sms, ecard_password or national", m)
		}
	}
	if len(r.PaymentChannels) == 0 {
		return fail("payment_channels", "at least one payment channel is required")
	}
	for i, c := range r.PaymentChannels {
		if !validChannels[c] {
			return fail(fmt.Sprintf("payment_channels[%d]", i), "%q is not a known channel", c)
		}
	}
	if r.PaymentLimitFen <= 0 {
		return fail("payment_limit_fen", "must be positive")
	}
	if err := validFigure("payment_limit_source", r.PaymentLimitSource); err != nil {
		return err
	}
	if len(r.IDTypes) == 0 {
		return fail("id_types", "at least one accepted ID type is required")
	}
	for i, t := range r.IDTypes {
		if !validIDTypes[t] {
			return fail(fmt.Sprintf("id_types[%d]", i), "%q is not a known ID type", t)
		}
	}
	if r.AvgWageFen <= 0 {
		return fail("avg_wage_fen", "must be positive")
	}
	return validFigure("avg_wage_source", r.AvgWageSource)
}

func validFigure(field string, f Figure) error {
	switch f.Source {
	case SourceSourced, SourceIllustrative:
	default:
		return fmt.Errorf("%s.source: %q is not sourced or illustrative", field, f.Source)
	}
	if f.Note == "" {
		return fmt.Errorf("%s.source_note: required (say where the figure comes from, or why it is illustrative)", field)
	}
	return nil
}

// monthValid reports whether s is a month written YYYY-MM.
func monthValid(s string) bool {
	_, err := time.Parse("2006-01", s)
	return err == nil && len(s) == 7
}

// monthAdd returns the month n months after month (YYYY-MM); n may be negative.
func monthAdd(month string, n int) string {
	t, err := time.Parse("2006-01", month)
	if err != nil {
		return month
	}
	return t.AddDate(0, n, 0).Format("2006-01")
}

// monthDiff returns the number of months from a to b (b - a); both YYYY-MM.
func monthDiff(a, b string) int {
	ta, err1 := time.Parse("2006-01", a)
	tb, err2 := time.Parse("2006-01", b)
	if err1 != nil || err2 != nil {
		return 0
	}
	return (tb.Year()-ta.Year())*12 + int(tb.Month()-ta.Month())
}

// businessZone is China Standard Time, in which months begin and end.
var businessZone = time.FixedZone("CST", 8*3600)

// monthOf returns the month (YYYY-MM) of t in China Standard Time.
func monthOf(t time.Time) string { return t.In(businessZone).Format("2006-01") }

// FindRegion returns the region with code, or false.
func FindRegion(regions []Region, code string) (*Region, bool) {
	for i := range regions {
		if regions[i].Code == code {
			return &regions[i], true
		}
	}
	return nil, false
}

// RegionCatalog is the loaded set of regions.
type RegionCatalog []Region

// IdentityMethods returns a region's accepted identity methods and false
// when the region is unknown (implements RegionIdentityRules).
func (c RegionCatalog) IdentityMethods(code string) ([]string, bool) {
	r, ok := FindRegion(c, code)
	if !ok {
		return nil, false
	}
	return r.IdentityMethods, true
}
