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
	From              string         `json:"from,omitempty"`
	To                string         `json:"to,omitempty"`
	BaseRule          string         `json:"base_rule,omitempty"` // floor: the base is the floor of the period in force
	RateBP            int64          `json:"rate_bp"`
	PersonalAccountBP int64          `json:"personal_account_bp,omitempty"`
	Figure            figureResponse `json:"figure"`
}

type regionSummaryResponse struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	BaseMode string `json:"base_mode"`
	// MedicalNeedsPension and PensionNeedsMedical are the bundling rule in
	// force this month; PrepayCapMonths the prepayment window in force.
	MedicalNeedsPension bool        `json:"medical_needs_pension"`
	PensionNeedsMedical bool        `json:"pension_needs_medical"`
	PeriodMonths        []int       `json:"period_months"`
	PrepayCapMonths     int         `json:"prepay_cap_months"`
	ArrearsView         string      `json:"arrears_view"`
	IdentityMethods     []string    `json:"identity_methods"`
	IdentityAll         bool        `json:"identity_all"` // every method is required, not any one
	PaymentChannels     []string    `json:"payment_channels"`
	MutualAid           bool        `json:"mutual_aid"`
	PaymentLimitFen     service.Fen `json:"payment_limit_fen"`
	IDTypes             []string    `json:"id_types"`
	// Illustrative lists the data paths of placeholder figures and rules
	// (for example "rates[1]"); quotes resting on them are refused when
	// RequireSourced is on.
	Illustrative   []string `json:"illustrative"`
	RequireSourced bool     `json:"require_sourced"`
}

type ruleResponse struct {
	From                string         `json:"from,omitempty"`
	To                  string         `json:"to,omitempty"`
	MedicalNeedsPension *bool          `json:"medical_needs_pension,omitempty"`
	PensionNeedsMedical *bool          `json:"pension_needs_medical,omitempty"`
	CapMonths           *int           `json:"cap_months,omitempty"`
	Figure              figureResponse `json:"figure"`
}

type regionResponse struct {
	regionSummaryResponse
	PolicyNote         string                    `json:"policy_note"`
	Periods            []periodResponse          `json:"periods"`
	Rates              []rateResponse            `json:"rates"`
	Bundling           []ruleResponse            `json:"bundling"`
	Prepay             []ruleResponse            `json:"prepay"`
	Sources            map[string]figureResponse `json:"sources"` // period_months, arrears_view, identity, payment_channels, mutual_aid
	PaymentLimitFigure figureResponse            `json:"payment_limit_figure"`
	AvgWageFen         service.Fen               `json:"avg_wage_fen"`
	AvgWageFigure      figureResponse            `json:"avg_wage_figure"`
	PaymentDeadlineDay int                       `json:"payment_deadline_day"`
}

func toFigureResponse(f service.Figure) figureResponse {
	return figureResponse{Source: string(f.Source), Note: f.Note}
}

func (s *Server) toRegionSummary(r *service.Region) regionSummaryResponse {
	cur := s.deps.Quotes.CurrentMonth()
	b := r.BundlingFor(cur)
	out := regionSummaryResponse{Code: r.Code, Name: r.Name, BaseMode: string(r.BaseMode),
		MedicalNeedsPension: b.MedicalNeedsPension, PensionNeedsMedical: b.PensionNeedsMedical,
		PeriodMonths: r.PeriodMonths, PrepayCapMonths: r.PrepayFor(cur).CapMonths, ArrearsView: string(r.ArrearsView),
		IdentityMethods: r.IdentityMethods, IdentityAll: r.IdentityAll, PaymentChannels: r.PaymentChannels, MutualAid: r.MutualAid,
		PaymentLimitFen: r.PaymentLimitFen, IDTypes: []string{}, Illustrative: r.Illustrative(),
		RequireSourced: s.deps.Quotes.RequiresSourced()}
	if out.Illustrative == nil {
		out.Illustrative = []string{}
	}
	for _, t := range r.IDTypes {
		out.IDTypes = append(out.IDTypes, string(t))
	}
	return out
}

func (s *Server) toRegionResponse(r *service.Region) regionResponse {
	out := regionResponse{regionSummaryResponse: s.toRegionSummary(r), PolicyNote: r.PolicyNote,
		PaymentLimitFigure: toFigureResponse(r.PaymentLimitSource), AvgWageFen: r.AvgWageFen,
		AvgWageFigure: toFigureResponse(r.AvgWageSource), Periods: []periodResponse{}, Rates: []rateResponse{},
		Bundling: []ruleResponse{}, Prepay: []ruleResponse{}, Sources: map[string]figureResponse{
			"period_months": toFigureResponse(r.PeriodMonthsSource), "arrears_view": toFigureResponse(r.ArrearsViewSource),
			"identity": toFigureResponse(r.IdentitySource), "payment_channels": toFigureResponse(r.PaymentChannelsSource),
			"mutual_aid": toFigureResponse(r.MutualAidSource), "payment_deadline": toFigureResponse(r.PaymentDeadlineSource)},
		PaymentDeadlineDay: r.PaymentDeadlineDay}
	for _, b := range r.Bundling {
		mp, pm := b.MedicalNeedsPension, b.PensionNeedsMedical
		out.Bundling = append(out.Bundling, ruleResponse{From: b.From, To: b.To, MedicalNeedsPension: &mp, PensionNeedsMedical: &pm, Figure: toFigureResponse(b.Figure)})
	}
	for _, p := range r.Prepay {
		c := p.CapMonths
		out.Prepay = append(out.Prepay, ruleResponse{From: p.From, To: p.To, CapMonths: &c, Figure: toFigureResponse(p.Figure)})
	}
	for _, p := range r.Periods {
		pr := periodResponse{From: p.From, To: p.To, MinFen: p.MinFen, MaxFen: p.MaxFen, Figure: toFigureResponse(p.Figure)}
		for _, t := range p.Tiers {
			pr.Tiers = append(pr.Tiers, tierResponse{Code: t.Code, Name: t.Name, BaseFen: t.BaseFen, Figure: toFigureResponse(t.Figure)})
		}
		out.Periods = append(out.Periods, pr)
	}
	for _, x := range r.Rates {
		out.Rates = append(out.Rates, rateResponse{Insurance: x.Insurance, From: x.From, To: x.To, BaseRule: x.BaseRule, RateBP: x.RateBP,
			PersonalAccountBP: x.PersonalAccountBP, Figure: toFigureResponse(x.Figure)})
	}
	return out
}

// listRegions answers GET /api/v1/regions.
func (s *Server) listRegions(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"regions": listJSON(s.deps.Quotes.Regions(), byValue(s.toRegionSummary))})
}

// getRegion answers GET /api/v1/regions/:code with the policy note and
// every figure and its source.
func (s *Server) getRegion(c *gin.Context) {
	r, err := s.deps.Quotes.FindRegion(c.Param("code"))
	reply(c, http.StatusOK, r, err, s.toRegionResponse)
}
