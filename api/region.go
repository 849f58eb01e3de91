package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

type figureResponse struct {
	Source string `json:"source"` // sourced | illustrative
	Note   string `json:"source_note"`
}

type tierResponse struct {
	Code    string         `json:"code"`
	Name    string         `json:"name"`
	BaseFen service.Fen    `json:"base_fen"`
	Figure  figureResponse `json:"figure"`
}

type periodResponse struct {
	From   string         `json:"from"`
	To     string         `json:"to,omitempty"`
	MinFen service.Fen    `json:"min_fen"`
	MaxFen service.Fen    `json:"max_fen"`
	Tiers  []tierResponse `json:"tiers,omitempty"`
	Figure figureResponse `json:"figure"`
}

type rateResponse struct {
	Insurance         string         `json:"insurance"`
	RateBP            int64          `json:"rate_bp"`
	PersonalAccountBP int64          `json:"personal_account_bp,omitempty"`
	Figure            figureResponse `json:"figure"`
}

type regionSummaryResponse struct {
	Code            string      `json:"code"`
	Name            string      `json:"name"`
	BaseMode        string      `json:"base_mode"`
	MedicalBundled  bool        `json:"medical_bundled"`
	PeriodMonths    []int       `json:"period_months"`
	PrepayCapMonths int         `json:"prepay_cap_months"`
	ArrearsView     string      `json:"arrears_view"`
	IdentityMethods []string    `json:"identity_methods"`
	PaymentChannels []string    `json:"payment_channels"`
	MutualAid       bool        `json:"mutual_aid"`
	PaymentLimitFen service.Fen `json:"payment_limit_fen"`
	IDTypes         []string    `json:"id_types"`
}

type regionResponse struct {
	regionSummaryResponse
	PolicyNote         string           `json:"policy_note"`
	Periods            []periodResponse `json:"periods"`
	Rates              []rateResponse   `json:"rates"`
	PaymentLimitFigure figureResponse   `json:"payment_limit_figure"`
	AvgWageFen         service.Fen      `json:"avg_wage_fen"`
	AvgWageFigure      figureResponse   `json:"avg_wage_figure"`
}

func toFigureResponse(f service.Figure) figureResponse {
	return figureResponse{Source: string(f.Source), Note: f.Note}
}

func toRegionSummary(r *service.Region) regionSummaryResponse {
	out := regionSummaryResponse{Code: r.Code, Name: r.Name, BaseMode: string(r.BaseMode), MedicalBundled: r.MedicalBundled,
		PeriodMonths: r.PeriodMonths, PrepayCapMonths: r.PrepayCapMonths, ArrearsView: string(r.ArrearsView),
		IdentityMethods: r.IdentityMethods, PaymentChannels: r.PaymentChannels, MutualAid: r.MutualAid,
		PaymentLimitFen: r.PaymentLimitFen, IDTypes: []string{}}
	for _, t := range r.IDTypes {
		out.IDTypes = append(out.IDTypes, string(t))
	}
	return out
}

func toRegionResponse(r *service.Region) regionResponse {
	out := regionResponse{regionSummaryResponse: toRegionSummary(r), PolicyNote: r.PolicyNote,
		PaymentLimitFigure: toFigureResponse(r.PaymentLimitSource), AvgWageFen: r.AvgWageFen,
		AvgWageFigure: toFigureResponse(r.AvgWageSource), Periods: []periodResponse{}, Rates: []rateResponse{}}
	for _, p := range r.Periods {
		pr := periodResponse{From: p.From, To: p.To, MinFen: p.MinFen, MaxFen: p.MaxFen, Figure: toFigureResponse(p.Figure)}
		for _, t := range p.Tiers {
			pr.Tiers = append(pr.Tiers, tierResponse{Code: t.Code, Name: t.Name, BaseFen: t.BaseFen, Figure: toFigureResponse(t.Figure)})
		}
		out.Periods = append(out.Periods, pr)
	}
	for _, x := range r.Rates {
		out.Rates = append(out.Rates, rateResponse{Insurance: x.Insurance, RateBP: x.RateBP,
			PersonalAccountBP: x.PersonalAccountBP, Figure: toFigureResponse(x.Figure)})
	}
	return out
}

// listRegions answers GET /api/v1/regions.
func (h *quoteHandlers) listRegions(c *gin.Context) {
	regions := h.deps.Quotes.Regions()
	out := make([]regionSummaryResponse, 0, len(regions))
	for i := range regions {
		out = append(out, toRegionSummary(&regions[i]))
	}
	c.JSON(http.StatusOK, gin.H{"regions": out})
}

// getRegion answers GET /api/v1/regions/:code with the policy note and
// every figure and its source.
func (h *quoteHandlers) getRegion(c *gin.Context) {
	r, err := h.deps.Quotes.FindRegion(c.Param("code"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toRegionResponse(r))
}
