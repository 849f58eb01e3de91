package service

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shebao/sipay/redact"
)

// QuoteStore persists quotes. A stored quote is never changed.
type QuoteStore interface {
	// CreateQuote stores a new quote with its lines and batch plan.
	CreateQuote(ctx context.Context, q *Quote) error
	// FindQuoteByID returns an error wrapping ErrNotFound when no quote has id.
	FindQuoteByID(ctx context.Context, id string) (*Quote, error)
}

// PersonResolver finds the insured person a user acts for. person is "self"
// (the user's own verified identity) or the id of one of the user's family
// members. It returns *Error values: code not_verified (403) when the user has
// not proved who they are, not_found (404) for a member that is not the
// user's, consent_pending when the member has not consented to the binding.
type PersonResolver interface {
	ResolvePerson(ctx context.Context, userID int64, person string) (*Person, error)
}

// IdentityEvidence tells which identity methods a user has passed for a
// person (face verification, SMS code, e-card password, national platform).
// The model stores implement it from the face attempts and identity checks.
type IdentityEvidence interface {
	// VerifiedMethods returns the methods the user passed for the person,
	// in the region for region-bound methods (SMS, e-card, national).
	VerifiedMethods(ctx context.Context, userID, personID int64, region string) ([]string, error)
}

// MutualAidCommitments reports the family mutual-aid balance already
// spent by orders the platform has not booked yet.
type MutualAidCommitments interface {
	// CommittedMutualAid returns the mutual-aid fen of the person's open
	// orders in region (paid or unpaid, not yet posted, refunded or closed).
	CommittedMutualAid(ctx context.Context, personID int64, region string) (Fen, error)
}

// AlertRecorder stores an alert for operations. OrderStore implements it.
type AlertRecorder interface {
	RecordAlert(ctx context.Context, a Alert) error
}

// Error codes returned by the quote use cases.
const (
	CodeQuoteInvalid           = "quote_invalid"               // field errors in Fields
	CodePaymentLimitExceeded   = "month_exceeds_payment_limit" // one month alone exceeds the per-payment limit
	CodePlatformRejected       = "platform_rejected"           // the provincial platform refused the person
	CodeUnknownRegion          = "unknown_region"
	CodeQuoteNotFound          = "quote_not_found"
	CodeMonthNotPayable        = "month_not_payable"             // 422: a past month the platform does not list as arrears
	CodePlatformFigure         = "platform_figure_out_of_bounds" // 422: the platform's base or amount is implausible
	CodeIllustrativeFigures    = "illustrative_figures"          // 422: QUOTE_REQUIRE_SOURCED and a figure is a placeholder
	CodeIdentityNotAccepted    = "identity_method_not_accepted"  // 403: not verified by a method the region accepts
	FieldRequired              = "required"
	FieldUnknownInsurance      = "unknown_insurance"
	FieldDuplicate             = "duplicate"
	FieldMedicalNeedsPension   = "medical_needs_pension"
	FieldPensionNeedsMedical   = "pension_needs_medical"
	FieldPeriodNotAllowed      = "period_not_allowed"
	FieldPrepayCapExceeded     = "prepay_cap_exceeded"
	FieldStartInPast           = "start_in_past"
	FieldBadMonth              = "bad_month"
	FieldArrearsNotShown       = "arrears_not_shown"
	FieldMutualAidNotAllowed   = "mutual_aid_not_allowed"
	FieldMutualAidNeedsMedical = "mutual_aid_needs_medical"
	FieldIDTypeNotAccepted     = "id_type_not_accepted"
	FieldBaseRequired          = "base_required"
	FieldBaseOutOfBounds       = "base_out_of_bounds"
	FieldNoBounds              = "no_bounds_in_force"
	FieldNoRate                = "no_rate_in_force"
	FieldTierRequired          = "tier_required"
	FieldUnknownTier           = "unknown_tier"
	FieldBaseAssessed          = "base_assessed"
	FieldTierNotAllowed        = "tier_not_allowed"
	FieldBaseNotAllowed        = "base_not_allowed"
	FieldAlreadyPaid           = "already_paid"
	FieldMonthNotPayable       = "month_not_payable"
	FieldNotInsured            = "not_insured"
)

// InsuranceChoice is one insurance the payer wants to pay, with the base in
// free mode (BaseFen) or the tier code in tiers mode (Tier). In assessed mode
// both must be empty, and so for an insurance whose base the region fixes
// (base_rule floor, 湖南 medical).
type InsuranceChoice struct {
	Type    string
	BaseFen Fen
	Tier    string
}

// QuoteInput asks for a quote.
type QuoteInput struct {
	Region         string
	Person         string // "self" or a family member id
	Insurances     []InsuranceChoice
	StartMonth     string // YYYY-MM
	Months         int
	IncludeArrears bool // add the platform's arrears (regions that show history only)
	UseMutualAid   bool // offset medical lines from the family mutual-aid account
}

// QuoteService prices payments by region rules and issues quotes.
//
// Rounding: the amount of a line is base_fen × rate_bp / 10000 rounded half
// up to the fen, computed in integers: (base_fen × rate_bp + 5000) / 10000.
// For example 727000 × 2000 / 10000 = 145400 exactly, and 410600 × 560 /
// 10000 = 22993.6 → 22994. Totals are sums of rounded lines.
//
// Who prices what: the current and future months are priced by the region's
// rules in force in each month (priced_by "region"); past months are what
// the platform lists as arrears, with the platform's own base, rate and
// amount (priced_by "platform"), checked against the region's bounds and
// against themselves. Every line's amount = LineAmount(base, rate).
type QuoteService struct {
	regions  []Region
	store    QuoteStore
	persons  PersonResolver
	platform Platform
	clock    Clock
	ttl      time.Duration

	requireSourced bool
	evidence       IdentityEvidence
	commitments    MutualAidCommitments
	alerts         AlertRecorder
}

// QuoteDeps are the dependencies of a QuoteService. Regions, Store,
// Persons, Platform, Clock and a positive TTL are required.
type QuoteDeps struct {
	Regions  []Region
	Store    QuoteStore
	Persons  PersonResolver
	Platform Platform
	Clock    Clock
	TTL      time.Duration // how long a quote can be ordered
	// RequireSourced makes CreateQuote refuse quotes resting on an
	// illustrative figure (QUOTE_REQUIRE_SOURCED=on).
	RequireSourced bool
	// Evidence (optional) makes CreateQuote require the person verified by
	// a method the region accepts.
	Evidence IdentityEvidence
	// Commitments (optional) makes CreateQuote deduct the mutual-aid
	// balance already committed to other open orders.
	Commitments MutualAidCommitments
	// Alerts (optional) records platform faults for operations.
	Alerts AlertRecorder
}

// NewQuoteService returns a QuoteService. It panics on a missing dependency
// or a non-positive TTL, which are wiring bugs.
func NewQuoteService(d QuoteDeps) *QuoteService {
	if len(d.Regions) == 0 || d.Store == nil || d.Persons == nil || d.Platform == nil || d.Clock == nil || d.TTL <= 0 {
		panic("service: NewQuoteService: missing dependency")
	}
	return &QuoteService{regions: d.Regions, store: d.Store, persons: d.Persons, platform: d.Platform, clock: d.Clock, ttl: d.TTL,
		requireSourced: d.RequireSourced, evidence: d.Evidence, commitments: d.Commitments, alerts: d.Alerts}
}

// CurrentMonth returns the current month (YYYY-MM, China Standard Time).
func (s *QuoteService) CurrentMonth() string { return Month(s.clock.Now()) }

// RequiresSourced reports whether quotes resting on illustrative figures are refused.
func (s *QuoteService) RequiresSourced() bool { return s.requireSourced }

// Regions returns every region, in load order.
func (s *QuoteService) Regions() []Region { return s.regions }

// FindRegion returns the region with code. Errors: not_found.
func (s *QuoteService) FindRegion(code string) (*Region, error) {
	r, ok := FindRegion(s.regions, code)
	if !ok {
		return nil, NotFound("不支持该地区")
	}
	return r, nil
}

// FindQuote returns a quote of the user. Errors: quote_not_found (404) when
// the quote does not exist or belongs to another user. Expired quotes are
// returned; orders check the expiry.
func (s *QuoteService) FindQuote(ctx context.Context, userID int64, id string) (*Quote, error) {
	q, err := s.store.FindQuoteByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindNotFound, CodeQuoteNotFound, "报价不存在")
	}
	if err != nil {
		return nil, fmt.Errorf("find quote: %w", err)
	}
	if q.UserID != userID {
		return nil, Errorf(KindNotFound, CodeQuoteNotFound, "报价不存在")
	}
	return q, nil
}

// CheckIdentity returns nil when the user has passed, for the person, the
// identity methods the region accepts (all of them where the region needs
// several). Errors: identity_method_not_accepted (403).
func (s *QuoteService) CheckIdentity(ctx context.Context, userID, personID int64, region *Region) error {
	if s.evidence == nil {
		return nil
	}
	var passed []string
	self := selfIdentity(ctx, userID, personID)
	if self != nil {
		// Read with the authenticated user, in the same statement.
		passed = self.MethodsIn(region.Code)
	}
	// A cached identity is a lower bound of the evidence: it may allow,
	// never refuse.
	if self == nil || (self.Cached && !region.AcceptsIdentity(passed)) {
		var err error
		if passed, err = s.evidence.VerifiedMethods(ctx, userID, personID, region.Code); err != nil {
			return fmt.Errorf("identity evidence: %w", err)
		}
	}
	if region.AcceptsIdentity(passed) {
		return nil
	}
	names := make([]string, len(region.IdentityMethods))
	for i, m := range region.IdentityMethods {
		names[i] = identityName(m)
	}
	join := "或"
	if region.IdentityAll {
		join = "和"
	}
	return &Error{Kind: KindForbidden, Code: CodeIdentityNotAccepted,
		Message: fmt.Sprintf("%s要求参保人通过%s验证身份后才能缴费", region.Name, strings.Join(names, join))}
}

// CheckPersonIdentity is CheckIdentity by region code (implements IdentityGate).
func (s *QuoteService) CheckPersonIdentity(ctx context.Context, userID, personID int64, region string) error {
	r, err := s.FindRegion(region)
	if err != nil {
		return err
	}
	return s.CheckIdentity(ctx, userID, personID, r)
}

func identityName(m string) string {
	switch m {
	case IdentityFace:
		return "人脸识别"
	case IdentitySMS:
		return "短信验证"
	case IdentityCardPwd:
		return "电子社保卡密码"
	case IdentityNational:
		return "国家社会保险公共服务平台认证"
	}
	return m
}

// CreateQuote validates the input by the region's rules in force in each
// month, prices every insurance for every month (plus the platform's arrears
// when asked), applies the mutual-aid offset, plans the batches and stores
// the quote.
//
// Errors: quote_invalid (400) with field errors; the PersonResolver's errors;
// identity_method_not_accepted (403); month_not_payable (422) for a past
// month the platform does not list as arrears; platform_figure_out_of_bounds
// (422, alert raised) when the platform's base or arrears are implausible;
// illustrative_figures (422) when sourced figures are required;
// month_exceeds_payment_limit (422) when a single month is above the
// region's per-payment limit; platform_rejected (422); unavailable (503)
// when the platform cannot be reached.
func (s *QuoteService) CreateQuote(ctx context.Context, userID int64, in QuoteInput) (*Quote, error) {
	region, ok := FindRegion(s.regions, in.Region)
	if !ok {
		return nil, Invalid(CodeQuoteInvalid, "不支持该地区", FieldError{Field: "region", Code: CodeUnknownRegion, Message: "不支持该地区"})
	}
	now := s.clock.Now()
	cur := Month(now)
	if fields := validateShape(region, in, cur); len(fields) > 0 {
		return nil, Invalid(CodeQuoteInvalid, "缴费信息有误", fields...)
	}
	end := AddMonths(in.StartMonth, in.Months-1)
	var months []string // the months priced by the region: current and later
	var past []string   // requested months before the current one
	for m := in.StartMonth; m <= end; m = AddMonths(m, 1) {
		if m < cur {
			past = append(past, m)
		} else {
			months = append(months, m)
		}
	}
	// The platform needs the person's name and ID number; without it the
	// quote needs only the person's id and ID type.
	needsPlatform := (region.BaseMode == BaseAssessed && len(months) > 0) || in.IncludeArrears || in.UseMutualAid || len(past) > 0
	person, err := s.resolvePerson(ctx, userID, in.Person, needsPlatform)
	if err != nil {
		return nil, err
	}
	if !region.AcceptsIDType(person.IDType) {
		return nil, Invalid(CodeQuoteInvalid, "该地区不支持此证件类型参保缴费",
			FieldError{Field: "person", Code: FieldIDTypeNotAccepted, Message: "该地区不支持此证件类型参保缴费"})
	}
	if err := s.CheckIdentity(ctx, userID, person.ID, region); err != nil {
		return nil, err
	}

	// Region-priced lines: the rule in force in each month.
	var lines []QuoteLine
	var fields []FieldError
	var assessed Fen
	if region.BaseMode == BaseAssessed && len(months) > 0 {
		base, err := s.platform.AssessBase(ctx, region.Code, person.Ref())
		if err != nil {
			return nil, platformError("assess base", err)
		}
		// The platform's figure is checked like a user's: an assessed base
		// outside the bounds in force is a platform fault, never priced.
		for _, m := range months {
			if p, ok := region.PeriodFor(m); !ok || base < p.MinFen || base > p.MaxFen {
				return nil, s.platformFault(ctx, region, fmt.Sprintf("assessed base %d outside the bounds of %s", base, m))
			}
		}
		assessed = base
	}
	for i, c := range in.Insurances {
		ls, fe := priceChoice(region, i, c, months, assessed)
		if fe != nil {
			fields = append(fields, *fe)
			continue
		}
		lines = append(lines, ls...)
	}
	if len(fields) > 0 {
		return nil, Invalid(CodeQuoteInvalid, "缴费基数有误", fields...)
	}

	var profile *InsuredProfile
	if in.IncludeArrears || in.UseMutualAid || len(past) > 0 {
		p, err := s.platform.FindProfile(ctx, region.Code, person.Ref())
		if err != nil {
			return nil, platformError("find profile", err)
		}
		profile = &p
	}

	if in.IncludeArrears {
		arrears, err := s.arrearsLines(ctx, region, in, profile, past, cur)
		if err != nil {
			return nil, err
		}
		lines = append(lines, arrears...)
	}
	sort.SliceStable(lines, func(a, b int) bool {
		if lines[a].Month != lines[b].Month {
			return lines[a].Month < lines[b].Month
		}
		return insuranceOrder(lines[a].Insurance) < insuranceOrder(lines[b].Insurance)
	})

	if s.requireSourced {
		if err := requireSourced(region, lines, cur, end); err != nil {
			return nil, err
		}
	}

	q := &Quote{ID: newQuoteID(), UserID: userID, PersonID: person.ID, Region: region.Code, Lines: lines,
		CreatedAt: now, ExpiresAt: now.Add(s.ttl)}
	var medical Fen
	for _, l := range lines {
		q.TotalFen += l.AmountFen
		if l.Insurance == InsuranceMedical {
			medical += l.AmountFen
		}
	}
	if in.UseMutualAid {
		balance := max(profile.MutualAidBalanceFen, 0)
		q.MutualAidBalanceFen = balance
		if s.commitments != nil {
			committed, err := s.commitments.CommittedMutualAid(ctx, person.ID, region.Code)
			if err != nil {
				return nil, fmt.Errorf("create quote: mutual aid commitments: %w", err)
			}
			// A balance already promised to another unposted order is
			// not there to spend again.
			balance = max(balance-committed, 0)
		}
		q.MutualAidFen = min(balance, medical)
	}
	q.PayableFen = q.TotalFen - q.MutualAidFen
	batches, err := PlanBatches(lines, q.MutualAidFen, region.PaymentLimitFen)
	if err != nil {
		return nil, err
	}
	q.Batches = batches
	if err := s.store.CreateQuote(ctx, q); err != nil {
		return nil, fmt.Errorf("create quote: %w", err)
	}
	return q, nil
}

// resolvePerson resolves who the quote is for. For "self", when the
// platform is not asked and the authenticated user carries its person's ID
// type (read with the user), the person is that id and ID type only: no
// person row is read or decrypted. Otherwise the PersonResolver decides.
func (s *QuoteService) resolvePerson(ctx context.Context, userID int64, person string, needsPlatform bool) (*Person, error) {
	if !needsPlatform && strings.TrimSpace(person) == "self" {
		if u := AuthenticatedUser(ctx, userID); u != nil && u.Verified() && u.Self != nil && u.Self.IDType != "" {
			return &Person{ID: u.PersonID, IDType: u.Self.IDType}, nil
		}
	}
	return s.persons.ResolvePerson(ctx, userID, person)
}

// arrearsLines returns the platform's arrears of the chosen insurances as
// lines priced by the platform, after checking every requested past month is
// listed and every figure is plausible.
func (s *QuoteService) arrearsLines(ctx context.Context, region *Region, in QuoteInput, profile *InsuredProfile, past []string, cur string) ([]QuoteLine, error) {
	listed := map[string]ArrearsMonth{}
	for _, a := range profile.Arrears {
		listed[a.Insurance+"|"+a.Month] = a
	}
	status := map[string]InsuranceStatus{}
	for _, st := range profile.Insurances {
		status[st.Insurance] = st
	}
	var lines []QuoteLine
	for _, c := range in.Insurances {
		st := status[c.Type]
		if st.Status == InsuredNotInsured {
			return nil, notPayable(fmt.Sprintf("%s未参保，不能补缴往月；请先到当地社保经办机构办理参保登记", insuranceName(c.Type)), FieldNotInsured)
		}
		for _, m := range past {
			if _, ok := listed[c.Type+"|"+m]; ok {
				continue
			}
			if st.PaidThrough != "" && m <= st.PaidThrough {
				return nil, Invalid(CodeQuoteInvalid, "所选月份已缴费", FieldError{Field: "start_month", Code: FieldAlreadyPaid,
					Message: fmt.Sprintf("%s %s 已缴至 %s", insuranceName(c.Type), m, st.PaidThrough)})
			}
			return nil, notPayable(fmt.Sprintf("社保平台未列出%s %s 的欠费，该月不能补缴；如有疑问请联系当地社保经办机构", insuranceName(c.Type), m), FieldMonthNotPayable)
		}
	}
	chosen := map[string]bool{}
	for _, c := range in.Insurances {
		chosen[c.Type] = true
	}
	for _, a := range profile.Arrears {
		if !chosen[a.Insurance] {
			continue
		}
		if !ValidMonth(a.Month) || a.Month >= cur {
			return nil, s.platformFault(ctx, region, fmt.Sprintf("arrears month %q is not before %s", a.Month, cur))
		}
		p, ok := region.PeriodFor(a.Month)
		if !ok {
			return nil, Invalid(CodeQuoteInvalid, "往月欠费无法在线补缴", FieldError{Field: "include_arrears", Code: FieldNoBounds,
				Message: fmt.Sprintf("%s 尚无缴费基数标准，请到当地社保经办机构补缴", a.Month)})
		}
		// The platform is the authority for what is owed, but its figures
		// must still hold together: a base within that month's bounds, a
		// rate of 0-100 %, and an amount equal to base × rate.
		if a.BaseFen < p.MinFen || a.BaseFen > p.MaxFen || a.RateBP <= 0 || a.RateBP > 10000 ||
			a.AmountFen <= 0 || a.AmountFen != LineAmount(a.BaseFen, a.RateBP) {
			return nil, s.platformFault(ctx, region, fmt.Sprintf("arrears %s %s: base %d rate %d amount %d (bounds %d-%d)",
				a.Insurance, a.Month, a.BaseFen, a.RateBP, a.AmountFen, p.MinFen, p.MaxFen))
		}
		lines = append(lines, QuoteLine{Insurance: a.Insurance, Month: a.Month, Arrears: true,
			BaseFen: a.BaseFen, RateBP: a.RateBP, AmountFen: a.AmountFen, PricedBy: PricedByPlatform, Source: SourcePlatform})
	}
	return lines, nil
}

func notPayable(msg, fieldCode string) *Error {
	return &Error{Kind: KindUnprocessable, Code: CodeMonthNotPayable, Message: msg,
		Fields: []FieldError{{Field: "start_month", Code: fieldCode, Message: msg}}}
}

// platformFault answers a platform figure outside the bounds: retrying does
// not help, so it is not a 503; the user is sent to the local office and
// operations get an alert.
func (s *QuoteService) platformFault(ctx context.Context, region *Region, detail string) error {
	if s.alerts != nil {
		_ = s.alerts.RecordAlert(ctx, Alert{Kind: AlertPlatformFigure, Ref: region.Code, Detail: redact.Clip(detail, 2000)})
	}
	return &Error{Kind: KindUnprocessable, Code: CodePlatformFigure,
		Message: "社保平台返回的缴费数据异常，暂不能在线缴费，请联系当地社保经办机构（12333）核实",
		Err:     errors.New("platform figure: " + detail)}
}

// requireSourced refuses a quote resting on an illustrative figure: a
// line's base or rate, or the prepayment window when the quote reaches past
// the current month.
func requireSourced(region *Region, lines []QuoteLine, cur, end string) error {
	var what []string
	for _, l := range lines {
		if l.Source == SourceIllustrative {
			what = append(what, l.Insurance+" "+l.Month)
		}
	}
	if end > cur && region.PrepayFor(cur).Source == SourceIllustrative {
		what = append(what, "prepay")
	}
	if len(what) == 0 {
		return nil
	}
	if len(what) > 6 {
		what = append(what[:6], "…")
	}
	return &Error{Kind: KindUnprocessable, Code: CodeIllustrativeFigures,
		Message: fmt.Sprintf("%s的部分缴费标准尚未核实（%s），暂不能在线缴费，请以当地社保经办机构公布为准", region.Name, strings.Join(what, "，"))}
}

// LineAmount is base_fen × rate_bp / 10000 rounded half up to the fen, in
// integer arithmetic. Bases and rates are never negative.
func LineAmount(base Fen, rateBP int64) Fen {
	return Fen((int64(base)*rateBP + 5000) / 10000)
}

// PlanBatches splits what WeChat Pay collects into payments of at most limit
// fen, on month boundaries in chronological order (arrears come first because
// they are the earliest months). The mutual-aid offset is taken from the
// medical lines of the earliest months first. A quote within the limit has
// one batch; a quote with nothing to pay has none. A single month above the
// limit cannot be split and is refused (month_exceeds_payment_limit).
func PlanBatches(lines []QuoteLine, mutualAid, limit Fen) ([]BatchPlan, error) {
	var order []string
	due := map[string]Fen{}
	for _, l := range lines {
		if _, ok := due[l.Month]; !ok {
			order = append(order, l.Month)
		}
		amount := l.AmountFen
		if l.Insurance == InsuranceMedical && mutualAid > 0 {
			off := min(mutualAid, amount)
			amount -= off
			mutualAid -= off
		}
		due[l.Month] += amount
	}
	sort.Strings(order)
	var batches []BatchPlan
	var open *BatchPlan
	var total Fen
	for _, m := range order {
		d := due[m]
		total += d
		if d > limit {
			return nil, &Error{Kind: KindUnprocessable, Code: CodePaymentLimitExceeded,
				Message: fmt.Sprintf("%s 应缴 %s 元，超过单笔支付限额 %s 元，请到线下窗口办理", m, d, limit)}
		}
		if open != nil && open.AmountFen+d > limit {
			batches = append(batches, *open)
			open = nil
		}
		if open == nil {
			open = &BatchPlan{Seq: len(batches) + 1, FromMonth: m}
		}
		open.AmountFen += d
		open.ToMonth = m
	}
	if total == 0 {
		return nil, nil
	}
	// A zero month never closes a batch and a batch is only closed by a
	// month with something to pay, so no batch is empty.
	return append(batches, *open), nil
}

// validateShape checks what needs no lookup: insurances, bundling, period,
// prepay cap, start month, arrears and mutual-aid switches.
func validateShape(region *Region, in QuoteInput, cur string) []FieldError {
	var fields []FieldError
	add := func(field, code, msg string) {
		fields = append(fields, FieldError{Field: field, Code: code, Message: msg})
	}
	if in.Person == "" {
		add("person", FieldRequired, "请选择参保人")
	}
	if len(in.Insurances) == 0 {
		add("insurances", FieldRequired, "请选择险种")
	}
	has := map[string]bool{}
	for i, c := range in.Insurances {
		f := fmt.Sprintf("insurances[%d]", i)
		if !region.Collects(c.Type) {
			add(f+".type", FieldUnknownInsurance, "该地区不支持此险种")
			continue
		}
		if has[c.Type] {
			add(f+".type", FieldDuplicate, "险种重复")
			continue
		}
		has[c.Type] = true
		if fixedBase(region, c.Type) {
			if c.BaseFen != 0 {
				add(f+".base_fen", FieldBaseNotAllowed, "该地区此险种按社平工资60%的基数缴纳，无需填写基数")
			}
			if c.Tier != "" {
				add(f+".tier", FieldTierNotAllowed, "该地区此险种按社平工资60%的基数缴纳，无需选择档次")
			}
			continue
		}
		switch region.BaseMode {
		case BaseFree:
			if c.Tier != "" {
				add(f+".tier", FieldTierNotAllowed, "该地区自选缴费基数，无需选择档次")
			}
			if c.BaseFen <= 0 {
				add(f+".base_fen", FieldBaseRequired, "请填写缴费基数")
			}
		case BaseTiers:
			if c.BaseFen != 0 {
				add(f+".base_fen", FieldBaseNotAllowed, "该地区按固定档次缴费，请选择档次")
			}
			if c.Tier == "" {
				add(f+".tier", FieldTierRequired, "请选择缴费档次")
			}
		case BaseAssessed:
			if c.BaseFen != 0 {
				add(f+".base_fen", FieldBaseAssessed, "该地区缴费基数由社保平台核定，无需填写")
			}
			if c.Tier != "" {
				add(f+".tier", FieldBaseAssessed, "该地区缴费基数由社保平台核定，无需选择档次")
			}
		}
	}
	if ValidMonth(in.StartMonth) && in.Months > 0 && in.Months <= 12 {
		// The bundling rule in force in each month; one error per kind.
		var medNeeds, penNeeds bool
		for k := 0; k < in.Months; k++ {
			b := region.BundlingFor(AddMonths(in.StartMonth, k))
			medNeeds = medNeeds || (b.MedicalNeedsPension && has[InsuranceMedical] && !has[InsurancePension])
			penNeeds = penNeeds || (b.PensionNeedsMedical && has[InsurancePension] && !has[InsuranceMedical])
		}
		if medNeeds {
			add("insurances", FieldMedicalNeedsPension, "该地区医疗保险须与养老保险同步缴纳")
		}
		if penNeeds {
			add("insurances", FieldPensionNeedsMedical, "该地区养老保险须与医疗保险同步缴纳")
		}
	}
	if !region.AllowsPeriod(in.Months) {
		add("months", FieldPeriodNotAllowed, fmt.Sprintf("该地区可选缴费周期为 %v 个月", region.PeriodMonths))
	}
	if !ValidMonth(in.StartMonth) {
		add("start_month", FieldBadMonth, "起始月份格式应为 YYYY-MM")
	} else {
		if in.StartMonth < cur && !in.IncludeArrears {
			add("start_month", FieldStartInPast, "起始月份早于当前月份；补缴往月请选择包含欠费")
		}
		if in.Months > 0 {
			end := AddMonths(in.StartMonth, in.Months-1)
			if cap := region.PrepayFor(cur).CapMonths; MonthsBetween(cur, end) > cap {
				if cap == 0 {
					add("months", FieldPrepayCapExceeded, "该地区不支持预缴，只能缴纳当月及以前的费用")
				} else {
					add("months", FieldPrepayCapExceeded, fmt.Sprintf("该地区最多预缴至当前月份后 %d 个月", cap))
				}
			}
		}
	}
	if in.IncludeArrears && !region.ShowsArrears() {
		add("include_arrears", FieldArrearsNotShown, "该地区仅支持缴纳当期费用，往月欠费请咨询当地社保经办机构")
	}
	if in.UseMutualAid {
		if !region.MutualAid {
			add("use_mutual_aid", FieldMutualAidNotAllowed, "该地区不支持家庭共济账户抵扣")
		} else if !has[InsuranceMedical] {
			add("use_mutual_aid", FieldMutualAidNeedsMedical, "家庭共济账户仅可抵扣医疗保险")
		}
	}
	return fields
}

// fixedBase reports whether the region fixes the base of an insurance
// (base_rule floor) in every rate it has for it.
func fixedBase(region *Region, insurance string) bool {
	n := 0
	for _, x := range region.Rates {
		if x.Insurance == insurance {
			if x.BaseRule != BaseRuleFloor {
				return false
			}
			n++
		}
	}
	return n > 0
}

// priceChoice prices choice i for every month by the rules in force in that
// month, or returns a field error (no bounds or no rate in force; free mode:
// base outside the bounds; tiers mode: unknown tier).
func priceChoice(region *Region, i int, c InsuranceChoice, months []string, assessed Fen) ([]QuoteLine, *FieldError) {
	f := fmt.Sprintf("insurances[%d]", i)
	out := make([]QuoteLine, 0, len(months))
	for _, m := range months {
		p, ok := region.PeriodFor(m)
		if !ok {
			return nil, &FieldError{Field: "start_month", Code: FieldNoBounds, Message: fmt.Sprintf("%s 尚无缴费基数标准", m)}
		}
		rate, ok := region.RateFor(c.Type, m)
		if !ok {
			return nil, &FieldError{Field: f + ".type", Code: FieldNoRate, Message: fmt.Sprintf("%s 尚无%s费率标准", m, insuranceName(c.Type))}
		}
		var base Fen
		source := worse(rate.Source, p.Source)
		switch {
		case rate.BaseRule == BaseRuleFloor:
			base = p.MinFen
		case region.BaseMode == BaseAssessed:
			// The base is the platform's (checked against the bounds);
			// the bounds' own grade does not price it.
			base, source = assessed, rate.Source
		case region.BaseMode == BaseFree:
			if c.BaseFen < p.MinFen || c.BaseFen > p.MaxFen {
				return nil, &FieldError{Field: f + ".base_fen", Code: FieldBaseOutOfBounds,
					Message: fmt.Sprintf("%s 缴费基数应在 %s 至 %s 元之间", m, p.MinFen, p.MaxFen)}
			}
			base = c.BaseFen
		case region.BaseMode == BaseTiers:
			t, ok := p.Tier(c.Tier)
			if !ok {
				return nil, &FieldError{Field: f + ".tier", Code: FieldUnknownTier, Message: fmt.Sprintf("%s 无此缴费档次", m)}
			}
			base, source = t.BaseFen, worse(rate.Source, t.Source)
		}
		out = append(out, QuoteLine{Insurance: c.Type, Month: m, BaseFen: base, RateBP: rate.RateBP,
			AmountFen: LineAmount(base, rate.RateBP), PricedBy: PricedByRegion, Source: source})
	}
	return out, nil
}

// worse returns the weaker of two source grades.
func worse(a, b SourceTag) SourceTag {
	if a == SourceIllustrative || b == SourceIllustrative {
		return SourceIllustrative
	}
	return a
}

func platformError(op string, err error) error {
	var rej *PlatformRejection
	if errors.As(err, &rej) {
		return &Error{Kind: KindUnprocessable, Code: CodePlatformRejected, Message: "社保平台未受理：" + rej.Reason, Err: err}
	}
	return Unavailable("社保平台暂时无法访问，请稍后再试", time.Minute, fmt.Errorf("%s: %w", op, err))
}

func insuranceOrder(ins string) int {
	if ins == InsurancePension {
		return 0
	}
	return 1
}

func insuranceName(ins string) string {
	if ins == InsurancePension {
		return "养老保险"
	}
	return "医疗保险"
}

var quoteIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newQuoteID returns "Q" followed by 20 random base32 characters (100 bits).
func newQuoteID() string {
	b := make([]byte, 13)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return "Q" + quoteIDEncoding.EncodeToString(b)[:20]
}
