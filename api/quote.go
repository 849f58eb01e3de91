package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// Quoter is what the region and quote routes need (service.QuoteService).
type Quoter interface {
	Regions() []service.Region
	FindRegion(code string) (*service.Region, error)
	CreateQuote(ctx context.Context, userID int64, in service.QuoteInput) (*service.Quote, error)
	FindQuote(ctx context.Context, userID int64, id string) (*service.Quote, error)
	// CurrentMonth is the month (YYYY-MM, China time) whose rules are in force.
	CurrentMonth() string
	// RequiresSourced reports whether quotes resting on illustrative figures are refused.
	RequiresSourced() bool
}

// InsuredViewer is what the insured-profile route needs (service.InsuredService).
type InsuredViewer interface {
	Profile(ctx context.Context, userID int64, region, person string) (*service.InsuredView, error)
}

// PensionEstimator is what the pension route needs (service.PensionService).
type PensionEstimator interface {
	Estimate(in service.PensionInput) (service.PensionEstimate, error)
}

type insuranceChoiceRequest struct {
	Type    string      `json:"type"`
	BaseFen service.Fen `json:"base_fen"`
	Tier    string      `json:"tier"`
}

type createQuoteRequest struct {
	Region         string                   `json:"region"`
	Person         string                   `json:"person"`
	Insurances     []insuranceChoiceRequest `json:"insurances"`
	StartMonth     string                   `json:"start_month"`
	Months         int                      `json:"months"`
	IncludeArrears bool                     `json:"include_arrears"`
	UseMutualAid   bool                     `json:"use_mutual_aid"`
}

// lineAmounts is the priced part of a quote line, the same in a quote and
// in an order's detail.
type lineAmounts struct {
	Insurance string      `json:"insurance"`
	Month     string      `json:"month"`
	Arrears   bool        `json:"arrears"`
	BaseFen   service.Fen `json:"base_fen"`
	RateBP    int64       `json:"rate_bp"`
	AmountFen service.Fen `json:"amount_fen"`
}

func toLineAmounts(l service.QuoteLine) lineAmounts {
	return lineAmounts{Insurance: l.Insurance, Month: l.Month, Arrears: l.Arrears,
		BaseFen: l.BaseFen, RateBP: l.RateBP, AmountFen: l.AmountFen}
}

type quoteLineResponse struct {
	lineAmounts
	PricedBy string `json:"priced_by"` // region | platform
	Source   string `json:"source"`    // sourced | illustrative | platform
}

type batchPlanResponse struct {
	Seq       int         `json:"seq"`
	AmountFen service.Fen `json:"amount_fen"`
	FromMonth string      `json:"from_month"`
	ToMonth   string      `json:"to_month"`
}

type quoteResponse struct {
	ID           string              `json:"id"`
	Region       string              `json:"region"`
	PersonID     int64               `json:"person_id"`
	Lines        []quoteLineResponse `json:"lines"`
	TotalFen     service.Fen         `json:"total_fen"`
	MutualAidFen service.Fen         `json:"mutual_aid_fen"`
	PayableFen   service.Fen         `json:"payable_fen"`
	Batches      []batchPlanResponse `json:"batches"`
	CreatedAt    time.Time           `json:"created_at"`
	ExpiresAt    time.Time           `json:"expires_at"`
}

func toQuoteResponse(q *service.Quote) quoteResponse {
	out := quoteResponse{ID: q.ID, Region: q.Region, PersonID: q.PersonID, TotalFen: q.TotalFen,
		MutualAidFen: q.MutualAidFen, PayableFen: q.PayableFen, CreatedAt: q.CreatedAt.UTC(), ExpiresAt: q.ExpiresAt.UTC(),
		Lines: []quoteLineResponse{}, Batches: []batchPlanResponse{}}
	for _, l := range q.Lines {
		out.Lines = append(out.Lines, quoteLineResponse{lineAmounts: toLineAmounts(l), PricedBy: l.PricedBy, Source: string(l.Source)})
	}
	for _, b := range q.Batches {
		out.Batches = append(out.Batches, batchPlanResponse(b))
	}
	return out
}

// createQuote answers POST /api/v1/quotes with 201 and the quote.
func (s *Server) createQuote(c *gin.Context, req createQuoteRequest) {
	in := service.QuoteInput{Region: req.Region, Person: req.Person, StartMonth: req.StartMonth, Months: req.Months,
		IncludeArrears: req.IncludeArrears, UseMutualAid: req.UseMutualAid}
	for _, x := range req.Insurances {
		in.Insurances = append(in.Insurances, service.InsuranceChoice(x))
	}
	q, err := s.deps.Quotes.CreateQuote(c.Request.Context(), currentUser(c).ID, in)
	reply(c, http.StatusCreated, q, err, toQuoteResponse)
}

// getQuote answers GET /api/v1/quotes/:id; another user's quote is 404.
func (s *Server) getQuote(c *gin.Context) {
	q, err := s.deps.Quotes.FindQuote(c.Request.Context(), currentUser(c).ID, c.Param("id"))
	reply(c, http.StatusOK, q, err, toQuoteResponse)
}
