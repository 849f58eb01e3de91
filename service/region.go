package service

import (
	"fmt"
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
	// SourcePlatform marks a quote line carrying the platform's own figures.
	SourcePlatform SourceTag = "platform"
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
	// Rates are effective-dated: an insurance may have several rates with
	// disjoint From/To months; RateFor picks the one in force.
	Rates []InsuranceRate
	// Bundling rules, effective-dated like the rates (必须与养老同步缴纳).
	Bundling []BundlingRule
	// PeriodMonths are the allowed lengths of one payment, in months (1, 3, 6, 12).
	PeriodMonths       []int
	PeriodMonthsSource Figure
	// Prepay rules, effective-dated by the current month: how many months
	// after the current month one quote may cover. The platform accepts
	// exactly this window (docs/platform-protocol.md).
	Prepay []PrepayRule
	// ArrearsView says whether arrears (the platform's list) are shown and
	// may be back-paid.
	ArrearsView       ArrearsView
	ArrearsViewSource Figure
	// IdentityMethods are the methods the region accepts (IdentityFace,
	// IdentitySMS, IdentityCardPwd, IdentityNational). With IdentityAll the
	// person must have passed every one of them (广东: 人脸识别+短信验证);
	// otherwise any one suffices.
	IdentityMethods       []string
	IdentityAll           bool
	IdentitySource        Figure
	PaymentChannels       []string // Channel*
	PaymentChannelsSource Figure
	MutualAid             bool // family mutual-aid account (家庭共济) may offset the amount
	MutualAidSource       Figure
	// PaymentLimitFen is the largest amount of one WeChat payment; larger
	// quotes are split into batches on month boundaries.
	PaymentLimitFen    Fen
	PaymentLimitSource Figure
	IDTypes            []IDType
	// AvgWageFen is the monthly average wage (社平工资) used by pension estimates.
	AvgWageFen    Fen
	AvgWageSource Figure
	// PaymentDeadlineDay is the day of the month by which the month's
	// contribution is due (a later day than the month has means its last
	// day); lapse reminders (断缴提醒) count back from it.
	PaymentDeadlineDay    int
	PaymentDeadlineSource Figure
	// CreditPay is the region's credit pay (社保信用付) rule; nil means the
	// region does not offer it.
	CreditPay *CreditPayRule
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
// credited to the personal account (8 % = 800); zero for medical. The rate is
// in force from From to To (inclusive months; empty From means "always
// before To", empty To "until further notice").
//
// BaseRule says what the base of this insurance is: BaseRuleChosen (the
// payer's base or tier, the default) or BaseRuleFloor (the floor of the
// period in force, whatever the payer chose for pension; 湖南 medical: 5.6 %
// of 60 % of the average).
type InsuranceRate struct {
	Insurance         string
	From, To          string
	RateBP            int64
	PersonalAccountBP int64
	BaseRule          string
	Figure
}

// Base rules of an insurance rate.
const (
	BaseRuleChosen = ""      // the payer's base (free), tier (tiers) or the assessed base
	BaseRuleFloor  = "floor" // the floor of the base period in force
)

// BundlingRule says which insurance requires which, from From to To.
type BundlingRule struct {
	From, To            string
	MedicalNeedsPension bool // medical only together with pension
	PensionNeedsMedical bool // pension only together with medical
	Figure
}

// PrepayRule is the prepayment window in force from From to To (current
// month): a quote may cover up to CapMonths months after the current month.
type PrepayRule struct {
	From, To  string
	CapMonths int
	Figure
}

// covers reports whether month is within from..to (empty bounds are open).
func covers(from, to, month string) bool {
	return (from == "" || month >= from) && (to == "" || month <= to)
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

// Collects reports whether the region collects an insurance at all.
func (r *Region) Collects(insurance string) bool {
	for _, x := range r.Rates {
		if x.Insurance == insurance {
			return true
		}
	}
	return false
}

// RateFor returns the rate of an insurance in force in month, or false.
func (r *Region) RateFor(insurance, month string) (InsuranceRate, bool) {
	for _, x := range r.Rates {
		if x.Insurance == insurance && covers(x.From, x.To, month) {
			return x, true
		}
	}
	return InsuranceRate{}, false
}

// BundlingFor returns the bundling rule in force in month (the zero rule,
// nothing bundled, when none is).
func (r *Region) BundlingFor(month string) BundlingRule {
	for _, b := range r.Bundling {
		if covers(b.From, b.To, month) {
			return b
		}
	}
	return BundlingRule{}
}

// PrepayFor returns the prepayment rule in force in the current month cur
// (cap 0, no prepayment, when none is).
func (r *Region) PrepayFor(cur string) PrepayRule {
	for _, p := range r.Prepay {
		if covers(p.From, p.To, cur) {
			return p
		}
	}
	return PrepayRule{}
}

// AcceptsIdentity reports whether a person who passed the methods in
// passed is verified enough for the region.
func (r *Region) AcceptsIdentity(passed []string) bool {
	has := map[string]bool{}
	for _, m := range passed {
		has[m] = true
	}
	n := 0
	for _, m := range r.IdentityMethods {
		if has[m] {
			n++
		}
	}
	if r.IdentityAll {
		return n == len(r.IdentityMethods)
	}
	return n > 0
}

// Illustrative lists the figures of the region that are placeholders, by
// data path (for example "rates[1]" or "periods[0].tiers[2]").
func (r *Region) Illustrative() []string {
	var out []string
	add := func(path string, f Figure) {
		if f.Source == SourceIllustrative {
			out = append(out, path)
		}
	}
	for i, p := range r.Periods {
		add(fmt.Sprintf("periods[%d]", i), p.Figure)
		for j, t := range p.Tiers {
			add(fmt.Sprintf("periods[%d].tiers[%d]", i, j), t.Figure)
		}
	}
	for i, x := range r.Rates {
		add(fmt.Sprintf("rates[%d]", i), x.Figure)
	}
	for i, b := range r.Bundling {
		add(fmt.Sprintf("bundling[%d]", i), b.Figure)
	}
	for i, p := range r.Prepay {
		add(fmt.Sprintf("prepay[%d]", i), p.Figure)
	}
	add("period_months", r.PeriodMonthsSource)
	add("arrears_view", r.ArrearsViewSource)
	add("identity", r.IdentitySource)
	add("payment_channels", r.PaymentChannelsSource)
	add("mutual_aid", r.MutualAidSource)
	add("payment_limit", r.PaymentLimitSource)
	add("avg_wage", r.AvgWageSource)
	add("payment_deadline", r.PaymentDeadlineSource)
	if r.CreditPay != nil {
		out = append(out, r.CreditPay.illustrative()...)
	}
	return out
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
	if r.PaymentDeadlineDay < 1 || r.PaymentDeadlineDay > 31 {
		return fail("payment_deadline.day", "must be 1..31, got %d", r.PaymentDeadlineDay)
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
		if !ValidMonth(p.From) {
			return fail(f+".from", "%q is not a month YYYY-MM", p.From)
		}
		if p.To != "" && (!ValidMonth(p.To) || p.To < p.From) {
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
		if err := validRange(f, x.From, x.To); err != nil {
			return err
		}
		for j, y := range r.Rates[:i] {
			if y.Insurance == x.Insurance && rangesOverlap(y.From, y.To, x.From, x.To) {
				return fail(f+".from", "%s rate overlaps rates[%d]", x.Insurance, j)
			}
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
		if x.BaseRule != BaseRuleChosen && x.BaseRule != BaseRuleFloor {
			return fail(f+".base_rule", "%q is not empty or floor", x.BaseRule)
		}
		if x.BaseRule == BaseRuleFloor && r.BaseMode == BaseAssessed {
			return fail(f+".base_rule", "floor is not allowed where the platform assesses the base")
		}
		if err := validFigure(f, x.Figure); err != nil {
			return err
		}
	}
	for i, b := range r.Bundling {
		f := fmt.Sprintf("bundling[%d]", i)
		if err := validSpanAt("bundling", r.Bundling, i); err != nil {
			return err
		}
		if (b.MedicalNeedsPension || b.PensionNeedsMedical) && (!seenIns[InsurancePension] || !seenIns[InsuranceMedical]) {
			return fail(f, "bundling needs both pension and medical rates")
		}
		if err := validFigure(f, b.Figure); err != nil {
			return err
		}
	}
	for i, p := range r.Prepay {
		f := fmt.Sprintf("prepay[%d]", i)
		if err := validSpanAt("prepay", r.Prepay, i); err != nil {
			return err
		}
		if p.CapMonths < 0 || p.CapMonths > 12 {
			return fail(f+".cap_months", "%d is not in 0..12", p.CapMonths)
		}
		if err := validFigure(f, p.Figure); err != nil {
			return err
		}
	}
	for _, x := range []struct {
		field string
		f     Figure
	}{{"period_months_source", r.PeriodMonthsSource}, {"arrears_view_source", r.ArrearsViewSource},
		{"identity_source", r.IdentitySource}, {"payment_channels_source", r.PaymentChannelsSource},
		{"mutual_aid_source", r.MutualAidSource}} {
		if err := validFigure(x.field, x.f); err != nil {
			return err
		}
	}
	if len(r.PeriodMonths) == 0 {
		return fail("period_months", "at least one period length is required")
	}
	for i, m := range r.PeriodMonths {
		if !validPeriods[m] {
			return fail(fmt.Sprintf("period_months[%d]", i), "%d is not 1, 3, 6 or 12", m)
		}
	}
	switch r.ArrearsView {
	case ArrearsHistory, ArrearsCurrentOnly:
	default:
		return fail("arrears_view", "%q is not history or current_only", r.ArrearsView)
	}
	if err := validSet("identity_methods", r.IdentityMethods, validIdentity, "at least one identity method is required",
		"%q is not face, sms, ecard_password or national"); err != nil {
		return err
	}
	if err := validSet("payment_channels", r.PaymentChannels, validChannels, "at least one payment channel is required",
		"%q is not a known channel"); err != nil {
		return err
	}
	if r.PaymentLimitFen <= 0 {
		return fail("payment_limit_fen", "must be positive")
	}
	if err := validFigure("payment_limit_source", r.PaymentLimitSource); err != nil {
		return err
	}
	if err := validSet("id_types", r.IDTypes, validIDTypes, "at least one accepted ID type is required",
		"%q is not a known ID type"); err != nil {
		return err
	}
	if r.AvgWageFen <= 0 {
		return fail("avg_wage_fen", "must be positive")
	}
	if r.CreditPay != nil {
		if err := r.CreditPay.validate(); err != nil {
			return err
		}
	}
	return validFigure("avg_wage_source", r.AvgWageSource)
}

// validSet checks a required list whose every value is one of valid:
// empty is the error of an empty list, unknown formats (%q) a value not in
// valid.
func validSet[T ~string](field string, xs []T, valid map[T]bool, empty, unknown string) error {
	if len(xs) == 0 {
		return fmt.Errorf("%s: %s", field, empty)
	}
	for i, x := range xs {
		if !valid[x] {
			return fmt.Errorf("%s[%d]: %s", field, i, fmt.Sprintf(unknown, x))
		}
	}
	return nil
}

// validRange checks optional from/to months of an effective-dated rule.
func validRange(field, from, to string) error {
	if from != "" && !ValidMonth(from) {
		return fmt.Errorf("%s.from: %q is not a month YYYY-MM", field, from)
	}
	if to != "" && (!ValidMonth(to) || (from != "" && to < from)) {
		return fmt.Errorf("%s.to: %q is not a month YYYY-MM at or after from", field, to)
	}
	return nil
}

// monthSpan is a rule that applies over an inclusive month range.
type monthSpan interface{ months() (from, to string) }

func (b BundlingRule) months() (string, string) { return b.From, b.To }
func (p PrepayRule) months() (string, string)   { return p.From, p.To }

// validSpanAt checks the months of entry i of a list of rules: a valid
// range that meets none of the entries before it.
func validSpanAt[T monthSpan](list string, xs []T, i int) error {
	f := fmt.Sprintf("%s[%d]", list, i)
	from, to := xs[i].months()
	if err := validRange(f, from, to); err != nil {
		return err
	}
	for j, y := range xs[:i] {
		if yf, yt := y.months(); rangesOverlap(yf, yt, from, to) {
			return fmt.Errorf("%s.from: overlaps %s[%d]", f, list, j)
		}
	}
	return nil
}

// rangesOverlap reports whether two inclusive month ranges (empty = open) meet.
func rangesOverlap(af, at, bf, bt string) bool {
	return (at == "" || bf == "" || bf <= at) && (bt == "" || af == "" || af <= bt)
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
