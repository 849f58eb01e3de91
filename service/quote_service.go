package service

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"sort"
	"time"
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

// Error codes returned by the quote use cases.
const (
	CodeQuoteInvalid           = "quote_invalid"               // field errors in Fields
	CodePaymentLimitExceeded   = "month_exceeds_payment_limit" // one month alone exceeds the per-payment limit
	CodePlatformRejected       = "platform_rejected"           // the provincial platform refused the person
	CodeUnknownRegion          = "unknown_region"
	CodeQuoteNotFound          = "quote_not_found"
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
	FieldTierRequired          = "tier_required"
	FieldUnknownTier           = "unknown_tier"
	FieldBaseAssessed          = "base_assessed"
	FieldTierNotAllowed        = "tier_not_allowed"
	FieldBaseNotAllowed        = "base_not_allowed"
	FieldAlreadyPaid           = "already_paid"
)

// InsuranceChoice is one insurance the payer wants to pay, with the base in
// free mode (BaseFen) or the tier code in tiers mode (Tier). In assessed mode
// both must be empty.
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
type QuoteService struct {
	regions  []Region
	store    QuoteStore
	persons  PersonResolver
	platform Platform
	clock    Clock
	ttl      time.Duration
}

// NewQuoteService returns a QuoteService. It panics on a missing dependency
// or a non-positive ttl, which are wiring bugs.
func NewQuoteService(regions []Region, store QuoteStore, persons PersonResolver, platform Platform, clock Clock, ttl time.Duration) *QuoteService {
	if len(regions) == 0 || store == nil || persons == nil || platform == nil || clock == nil || ttl <= 0 {
		panic("service: NewQuoteService: missing dependency")
	}
	return &QuoteService{regions: regions, store: store, persons: persons, platform: platform, clock: clock, ttl: ttl}
}

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

// CreateQuote validates the input by the region's rules, prices every
// insurance for every month (plus the platform's arrears when asked), applies
// the mutual-aid offset, plans the batches and stores the quote.
//
// Errors: quote_invalid (400) with field errors; the PersonResolver's errors;
// month_exceeds_payment_limit (422) when a single month is above the region's
// per-payment limit; platform_rejected (422); unavailable (503) when the
// platform cannot be reached.
func (s *QuoteService) CreateQuote(ctx context.Context, userID int64, in QuoteInput) (*Quote, error) {
	region, ok := FindRegion(s.regions, in.Region)
	if !ok {
		return nil, Invalid(CodeQuoteInvalid, "不支持该地区", FieldError{Field: "region", Code: CodeUnknownRegion, Message: "不支持该地区"})
	}
	now := s.clock.Now()
	cur := monthOf(now)
	if fields := validateShape(region, in, cur); len(fields) > 0 {
		return nil, Invalid(CodeQuoteInvalid, "缴费信息有误", fields...)
	}
	person, err := s.persons.ResolvePerson(ctx, userID, in.Person)
	if err != nil {
		return nil, err
	}
	if !region.AcceptsIDType(person.IDType) {
		return nil, Invalid(CodeQuoteInvalid, "该地区不支持此证件类型参保缴费",
			FieldError{Field: "person", Code: FieldIDTypeNotAccepted, Message: "该地区不支持此证件类型参保缴费"})
	}

	end := monthAdd(in.StartMonth, in.Months-1)
	months := make([]string, 0, in.Months)
	for m := in.StartMonth; m <= end; m = monthAdd(m, 1) {
		months = append(months, m)
	}

	// Bases per insurance per month.
	bases := make([][]Fen, len(in.Insurances))
	var fields []FieldError
	if region.BaseMode == BaseAssessed {
		base, err := s.platform.AssessBase(ctx, region.Code, person.Ref())
		if err != nil {
			return nil, platformError("assess base", err)
		}
		// The platform's figure is checked like a user's: an assessed base
		// outside the bounds in force is a platform fault, never priced.
		for _, m := range months {
			if p, ok := region.PeriodFor(m); !ok || base < p.MinFen || base > p.MaxFen {
				return nil, Unavailable("社保平台返回的核定基数异常，请稍后再试或联系12333", time.Minute,
					fmt.Errorf("assess base: %d outside the bounds for %s", base, m))
			}
		}
		for i := range in.Insurances {
			bases[i] = make([]Fen, len(months))
			for k := range months {
				bases[i][k] = base
			}
		}
	} else {
		for i, c := range in.Insurances {
			b, fe := choiceBases(region, i, c, months)
			if fe != nil {
				fields = append(fields, *fe)
			}
			bases[i] = b
		}
	}
	if len(fields) > 0 {
		return nil, Invalid(CodeQuoteInvalid, "缴费基数有误", fields...)
	}

	var profile *InsuredProfile
	if in.IncludeArrears || in.UseMutualAid {
		p, err := s.platform.FindProfile(ctx, region.Code, person.Ref())
		if err != nil {
			return nil, platformError("find profile", err)
		}
		profile = &p
	}

	var lines []QuoteLine
	for i, c := range in.Insurances {
		rate, _ := region.Rate(c.Type)
		paidThrough := ""
		if profile != nil {
			for _, st := range profile.Insurances {
				if st.Insurance == c.Type {
					paidThrough = st.PaidThrough
				}
			}
		}
		for k, m := range months {
			if m < cur && paidThrough != "" && m <= paidThrough {
				return nil, Invalid(CodeQuoteInvalid, "所选月份已缴费", FieldError{Field: "start_month", Code: FieldAlreadyPaid,
					Message: fmt.Sprintf("%s %s 已缴至 %s", insuranceName(c.Type), m, paidThrough)})
			}
			lines = append(lines, QuoteLine{Insurance: c.Type, Month: m, Arrears: m < cur,
				BaseFen: bases[i][k], RateBP: rate.RateBP, AmountFen: LineAmount(bases[i][k], rate.RateBP)})
		}
	}
	if in.IncludeArrears {
		chosen := map[string]bool{}
		for _, c := range in.Insurances {
			chosen[c.Type] = true
		}
		for _, a := range profile.Arrears {
			if !chosen[a.Insurance] || (a.Month >= in.StartMonth && a.Month <= end) {
				continue
			}
			rate, _ := region.Rate(a.Insurance)
			// The platform's amount stands: it knows the base and rate of
			// that past month. It must still be a plausible charge.
			if a.AmountFen <= 0 || a.BaseFen <= 0 || a.AmountFen > a.BaseFen {
				return nil, Unavailable("社保平台返回的欠费数据异常，请稍后再试或联系12333", time.Minute,
					fmt.Errorf("arrears %s %s: amount %d base %d", a.Insurance, a.Month, a.AmountFen, a.BaseFen))
			}
			lines = append(lines, QuoteLine{Insurance: a.Insurance, Month: a.Month, Arrears: true,
				BaseFen: a.BaseFen, RateBP: rate.RateBP, AmountFen: a.AmountFen})
		}
	}
	sort.SliceStable(lines, func(a, b int) bool {
		if lines[a].Month != lines[b].Month {
			return lines[a].Month < lines[b].Month
		}
		return insuranceOrder(lines[a].Insurance) < insuranceOrder(lines[b].Insurance)
	})

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
		q.MutualAidFen = min(max(profile.MutualAidBalanceFen, 0), medical)
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
		if _, ok := region.Rate(c.Type); !ok {
			add(f+".type", FieldUnknownInsurance, "该地区不支持此险种")
			continue
		}
		if has[c.Type] {
			add(f+".type", FieldDuplicate, "险种重复")
			continue
		}
		has[c.Type] = true
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
	if region.MedicalBundled {
		if has[InsuranceMedical] && !has[InsurancePension] {
			add("insurances", FieldMedicalNeedsPension, "该地区医疗保险须与养老保险同步缴纳")
		}
		if has[InsurancePension] && !has[InsuranceMedical] {
			add("insurances", FieldPensionNeedsMedical, "该地区养老保险须与医疗保险同步缴纳")
		}
	}
	if !region.AllowsPeriod(in.Months) {
		add("months", FieldPeriodNotAllowed, fmt.Sprintf("该地区可选缴费周期为 %v 个月", region.PeriodMonths))
	}
	if !monthValid(in.StartMonth) {
		add("start_month", FieldBadMonth, "起始月份格式应为 YYYY-MM")
	} else {
		if in.StartMonth < cur && !in.IncludeArrears {
			add("start_month", FieldStartInPast, "起始月份早于当前月份；补缴往月请选择包含欠费")
		}
		if in.Months > 0 {
			end := monthAdd(in.StartMonth, in.Months-1)
			if ahead := monthDiff(cur, end); ahead > region.PrepayCapMonths {
				add("months", FieldPrepayCapExceeded, fmt.Sprintf("该地区最多预缴至当前月份后 %d 个月", region.PrepayCapMonths))
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

// choiceBases returns the base of choice i for every month, or a field error
// (free mode: within the bounds in force each month; tiers mode: the tier
// exists in every month's period).
func choiceBases(region *Region, i int, c InsuranceChoice, months []string) ([]Fen, *FieldError) {
	f := fmt.Sprintf("insurances[%d]", i)
	out := make([]Fen, len(months))
	for k, m := range months {
		p, ok := region.PeriodFor(m)
		if !ok {
			return nil, &FieldError{Field: "start_month", Code: FieldNoBounds, Message: fmt.Sprintf("%s 尚无缴费基数标准", m)}
		}
		switch region.BaseMode {
		case BaseFree:
			if c.BaseFen < p.MinFen || c.BaseFen > p.MaxFen {
				return nil, &FieldError{Field: f + ".base_fen", Code: FieldBaseOutOfBounds,
					Message: fmt.Sprintf("%s 缴费基数应在 %s 至 %s 元之间", m, p.MinFen, p.MaxFen)}
			}
			out[k] = c.BaseFen
		case BaseTiers:
			t, ok := p.Tier(c.Tier)
			if !ok {
				return nil, &FieldError{Field: f + ".tier", Code: FieldUnknownTier, Message: fmt.Sprintf("%s 无此缴费档次", m)}
			}
			out[k] = t.BaseFen
		}
	}
	return out, nil
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
