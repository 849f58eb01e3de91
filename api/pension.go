package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

type pensionResponse struct {
	AvgWageFen             service.Fen `json:"avg_wage_fen"`
	TotalYears             int         `json:"total_years"`
	BaseRatioBP            int64       `json:"base_ratio_bp"`
	BasicPensionFen        service.Fen `json:"basic_pension_fen"`
	AccountAtRetirementFen service.Fen `json:"account_at_retirement_fen"`
	Divisor                int         `json:"divisor"`
	PersonalPensionFen     service.Fen `json:"personal_pension_fen"`
	MonthlyPensionFen      service.Fen `json:"monthly_pension_fen"`
	RetirementYear         int         `json:"retirement_year"`
	MinMonthsRequired      int         `json:"min_months_required"`
	MeetsMinimum           bool        `json:"meets_minimum"`
	Assumptions            []string    `json:"assumptions"`
}

// estimatePension answers GET /api/v1/pension/estimate?region=&current_age=
// &retirement_age=&years_paid=&planned_years=&base_ratio_bp=
// &account_balance_fen=&avg_wage_fen= (the last two optional).
func (s *Server) estimatePension(c *gin.Context) {
	var fields []service.FieldError
	num := func(name string, required bool) int64 {
		q := c.Query(name)
		if q == "" {
			if required {
				fields = append(fields, service.FieldError{Field: name, Code: "required", Message: "缺少参数 " + name})
			}
			return 0
		}
		v, err := strconv.ParseInt(q, 10, 64)
		if err != nil || v < -1<<40 || v > 1<<40 {
			fields = append(fields, service.FieldError{Field: name, Code: "type", Message: name + " 应为整数"})
			return 0
		}
		return v
	}
	in := service.PensionInput{
		Region:            c.Query("region"),
		CurrentAge:        int(num("current_age", true)),
		RetirementAge:     int(num("retirement_age", true)),
		YearsPaid:         int(num("years_paid", true)),
		PlannedYears:      int(num("planned_years", false)),
		BaseRatioBP:       num("base_ratio_bp", true),
		AccountBalanceFen: service.Fen(num("account_balance_fen", false)),
		AvgWageFen:        service.Fen(num("avg_wage_fen", false)),
	}
	if len(fields) > 0 {
		fail(c, service.Invalid("pension_invalid", "测算参数有误", fields...))
		return
	}
	e, err := s.deps.Pension.Estimate(in)
	reply(c, http.StatusOK, e, err, toPensionResponse)
}

func toPensionResponse(e service.PensionEstimate) pensionResponse {
	return pensionResponse{AvgWageFen: e.AvgWageFen, TotalYears: e.TotalYears, BaseRatioBP: e.BaseRatioBP,
		BasicPensionFen: e.BasicPensionFen, AccountAtRetirementFen: e.AccountAtRetirementFen, Divisor: e.Divisor,
		PersonalPensionFen: e.PersonalPensionFen, MonthlyPensionFen: e.MonthlyPensionFen, RetirementYear: e.RetirementYear,
		MinMonthsRequired: e.MinMonthsRequired, MeetsMinimum: e.MeetsMinimum, Assumptions: e.Assumptions}
}
