package service

import "fmt"

// pensionDivisors is the official table of months over which the personal
// account is paid out (个人账户养老金计发月数), by retirement age 40 to 70,
// from the attachment of 国发〔2005〕38号.
var pensionDivisors = [...]int{
	233, 230, 226, 223, 220, 216, 212, 208, 204, 199, // 40-49
	195, 190, 185, 180, 175, 170, 164, 158, 152, 145, // 50-59
	139, 132, 125, 117, 109, 101, 93, 84, 75, 65, // 60-69
	56, // 70
}

// PensionDivisor returns the payout months of the personal account for a
// retirement age, or false outside 40-70.
func PensionDivisor(retirementAge int) (int, bool) {
	if retirementAge < 40 || retirementAge > 70 {
		return 0, false
	}
	return pensionDivisors[retirementAge-40], true
}

// DefaultAvgWageFen is the illustrative monthly average wage used when no
// region is given: 7500 yuan, a placeholder, not a published figure.
const DefaultAvgWageFen Fen = 750000

// Bounds of the pension estimate inputs. With them every product in
// EstimatePension stays far below the int64 range (the largest,
// avg × ratio × account share × 12 × years, is under 2e18).
const (
	MaxAvgWageFen        Fen = 10000000   // 100,000 yuan a month
	MaxAccountBalanceFen Fen = 1000000000 // 10 million yuan
	MinWorkingAge            = 16         // no contributions before 16 (劳动法 art.15)
	MinCurrentAge            = 16
	MaxCurrentAge            = 70
	// MinRetirementAge is the earliest statutory retirement (women in
	// special-type jobs, 45); the payout table starts at 40, but nobody
	// retires with a monthly pension before 45.
	MinRetirementAge = 45
	MaxRetirementAge = 70
)

// DefaultPersonalAccountBP is the national personal-account share of the
// pension contribution: 8 % (S2, national rule).
const DefaultPersonalAccountBP int64 = 800

// PensionInput asks for a monthly pension estimate.
type PensionInput struct {
	Region            string // optional; its average wage is the default
	AvgWageFen        Fen    // optional monthly average wage; overrides the region's
	CurrentAge        int
	RetirementAge     int
	YearsPaid         int   // contribution years so far
	PlannedYears      int   // further years the person plans to pay
	BaseRatioBP       int64 // chosen base as a share of the average wage: 6000 (60 %) to 30000 (300 %)
	AccountBalanceFen Fen   // personal account balance today
	// Filled by PensionService: the personal-account share and the year.
	PersonalAccountBP int64
	CurrentYear       int
	AvgWageSource     string // where AvgWageFen comes from, for the assumptions
}

// PensionEstimate is a monthly pension estimate in fen, with every
// assumption spelled out in Chinese.
type PensionEstimate struct {
	AvgWageFen             Fen
	TotalYears             int
	BaseRatioBP            int64
	BasicPensionFen        Fen // 基础养老金
	AccountAtRetirementFen Fen
	Divisor                int
	PersonalPensionFen     Fen // 个人账户养老金
	MonthlyPensionFen      Fen
	RetirementYear         int
	MinMonthsRequired      int // minimum contribution months for a monthly pension in RetirementYear
	MeetsMinimum           bool
	Assumptions            []string
}

// EstimatePension computes, in integer fen with half-up rounding:
//
//	basic    = avg × (1 + ratio) / 2 × years × 1 %
//	         = (avg × (10000 + ratio_bp) × years + 1000000) / 2000000
//	account  = balance + avg × ratio_bp/10000 × account_bp/10000 × 12 × planned years
//	personal = account / divisor(retirement age)
//
// It expects a validated input (see PensionService.Estimate): AvgWageFen > 0
// and a retirement age in 40-70.
func EstimatePension(in PensionInput) PensionEstimate {
	accountBP := in.PersonalAccountBP
	if accountBP == 0 {
		accountBP = DefaultPersonalAccountBP
	}
	years := in.YearsPaid + in.PlannedYears
	w := int64(in.AvgWageFen)
	basic := divRound(w*(10000+in.BaseRatioBP)*int64(years), 2*10000*100)
	added := divRound(w*in.BaseRatioBP*accountBP*12*int64(in.PlannedYears), 10000*10000)
	account := int64(in.AccountBalanceFen) + added
	divisor, _ := PensionDivisor(in.RetirementAge)
	personal := divRound(account, int64(divisor))
	retireYear := in.CurrentYear + in.RetirementAge - in.CurrentAge
	minMonths := 180
	if retireYear > 2029 {
		minMonths = min(240, 180+(retireYear-2029)*6)
	}
	e := PensionEstimate{
		AvgWageFen: in.AvgWageFen, TotalYears: years, BaseRatioBP: in.BaseRatioBP,
		BasicPensionFen: Fen(basic), AccountAtRetirementFen: Fen(account), Divisor: divisor,
		PersonalPensionFen: Fen(personal), MonthlyPensionFen: Fen(basic + personal),
		RetirementYear: retireYear, MinMonthsRequired: minMonths, MeetsMinimum: years*12 >= minMonths,
	}
	src := in.AvgWageSource
	if src == "" {
		src = "由用户提供"
	}
	e.Assumptions = []string{
		fmt.Sprintf("退休时社平工资按 %s 元/月估算（%s），未计工资增长，结果为当前价格水平。", in.AvgWageFen, src),
		fmt.Sprintf("平均缴费指数按缴费基数为社平工资的 %d.%02d%% 计算，假设以往各年与今后各年相同。", in.BaseRatioBP/100, in.BaseRatioBP%100),
		fmt.Sprintf("基础养老金 = 社平工资 ×（1 + 平均缴费指数）÷ 2 × 缴费年限（%d 年）× 1%%。", years),
		fmt.Sprintf("今后 %d 年每月按缴费基数的 %d%% 计入个人账户，未计记账利息。", in.PlannedYears, accountBP/100),
		fmt.Sprintf("个人账户养老金 = 退休时个人账户余额 ÷ 计发月数 %d（%d 岁退休，国发〔2005〕38号附件计发月数表）。", divisor, in.RetirementAge),
		"未计过渡性养老金、视同缴费年限、退休后养老金调整及各地差异，仅供参考，以社保经办机构核定为准。",
		"金额以分为单位整数计算，四舍五入到分。",
		fmt.Sprintf("按 %d 年退休计，领取按月养老金的最低缴费年限为 %d 个月（2030年起每年提高6个月，最高20年）。", retireYear, minMonths),
	}
	if !e.MeetsMinimum {
		e.Assumptions = append(e.Assumptions, fmt.Sprintf("注意：累计缴费 %d 年不足最低缴费年限，退休时可延长缴费至满足要求（《社会保险法》第十六条）。", years))
	}
	return e
}

// divRound is n / d rounded half up, for n ≥ 0 and d > 0.
func divRound(n, d int64) int64 { return (n + d/2) / d }

// PensionService validates estimate requests and fills region defaults.
type PensionService struct {
	regions []Region
	clock   Clock
}

// NewPensionService returns a PensionService. It panics on a missing clock.
func NewPensionService(regions []Region, clock Clock) *PensionService {
	if clock == nil {
		panic("service: NewPensionService: missing clock")
	}
	return &PensionService{regions: regions, clock: clock}
}

// Estimate validates the input and returns the estimate. The average wage
// is in.AvgWageFen, else the region's, else DefaultAvgWageFen (illustrative).
//
// Errors: pension_invalid (400) with field errors.
func (s *PensionService) Estimate(in PensionInput) (PensionEstimate, error) {
	var fields []FieldError
	add := func(field, code, msg string) {
		fields = append(fields, FieldError{Field: field, Code: code, Message: msg})
	}
	in.PersonalAccountBP = DefaultPersonalAccountBP
	if in.AvgWageFen < 0 || in.AvgWageFen > MaxAvgWageFen {
		add("avg_wage_fen", "out_of_range", fmt.Sprintf("社平工资应在 0 至 %s 元之间（0 表示使用地区数据）", MaxAvgWageFen))
	}
	switch {
	case in.AvgWageFen > 0:
		in.AvgWageSource = "由用户提供"
	case in.Region != "":
		r, ok := FindRegion(s.regions, in.Region)
		if !ok {
			add("region", CodeUnknownRegion, "不支持该地区")
			break
		}
		in.AvgWageFen = r.AvgWageFen
		in.AvgWageSource = r.Name + "地区数据，" + sourceLabel(r.AvgWageSource.Source)
		if rate, ok := r.RateFor(InsurancePension, Month(s.clock.Now())); ok && rate.PersonalAccountBP > 0 {
			in.PersonalAccountBP = rate.PersonalAccountBP
		}
	default:
		in.AvgWageFen = DefaultAvgWageFen
		in.AvgWageSource = "示意默认值，非公布数据"
	}
	if in.CurrentAge < MinCurrentAge || in.CurrentAge > MaxCurrentAge {
		add("current_age", "out_of_range", "当前年龄应在 16 至 70 岁之间")
	}
	if _, ok := PensionDivisor(in.RetirementAge); !ok || in.RetirementAge < MinRetirementAge || in.RetirementAge > MaxRetirementAge {
		add("retirement_age", "out_of_range", "退休年龄应在 45 至 70 岁之间")
	} else if in.RetirementAge < in.CurrentAge {
		add("retirement_age", "out_of_range", "退休年龄不能小于当前年龄")
	}
	if in.YearsPaid < 0 || in.YearsPaid > 55 {
		add("years_paid", "out_of_range", "已缴费年限应在 0 至 55 年之间")
	} else if in.CurrentAge >= MinCurrentAge && in.YearsPaid > in.CurrentAge-MinWorkingAge {
		add("years_paid", "out_of_range", fmt.Sprintf("已缴费年限不能超过 %d 年（16 岁起缴费）", in.CurrentAge-MinWorkingAge))
	}
	if in.PlannedYears < 0 || (in.RetirementAge >= in.CurrentAge && in.PlannedYears > in.RetirementAge-in.CurrentAge) {
		add("planned_years", "out_of_range", "计划继续缴费年限不能超过距退休的年数")
	}
	if in.YearsPaid+in.PlannedYears <= 0 {
		add("planned_years", "out_of_range", "累计缴费年限须大于 0")
	}
	if in.BaseRatioBP < 6000 || in.BaseRatioBP > 30000 {
		add("base_ratio_bp", "out_of_range", "缴费基数比例应在 60%（6000）至 300%（30000）之间")
	}
	if in.AccountBalanceFen < 0 || in.AccountBalanceFen > MaxAccountBalanceFen {
		add("account_balance_fen", "out_of_range", fmt.Sprintf("个人账户余额应在 0 至 %s 元之间", MaxAccountBalanceFen))
	}
	if len(fields) > 0 {
		return PensionEstimate{}, Invalid("pension_invalid", "测算参数有误", fields...)
	}
	in.CurrentYear = s.clock.Now().In(Shanghai).Year()
	return EstimatePension(in), nil
}

func sourceLabel(t SourceTag) string {
	if t == SourceSourced {
		return "有公开来源"
	}
	return "示意值，非公布数据"
}
