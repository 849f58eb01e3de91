package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

type insuranceStatusResponse struct {
	Insurance   string                `json:"insurance"`
	Status      service.InsuredStatus `json:"status"`
	PaidThrough string                `json:"paid_through"`
	BaseFen     service.Fen           `json:"base_fen"`
}

type arrearsMonthResponse struct {
	Insurance string      `json:"insurance"`
	Month     string      `json:"month"`
	BaseFen   service.Fen `json:"base_fen"`
	RateBP    int64       `json:"rate_bp"`
	AmountFen service.Fen `json:"amount_fen"`
}

type insuredResponse struct {
	Region              string                    `json:"region"`
	PersonID            int64                     `json:"person_id"`
	CurrentMonth        string                    `json:"current_month"`
	Insurances          []insuranceStatusResponse `json:"insurances"`
	ArrearsShown        bool                      `json:"arrears_shown"`
	Arrears             []arrearsMonthResponse    `json:"arrears"`
	ArrearsFen          service.Fen               `json:"arrears_fen"`
	CurrentDueFen       service.Fen               `json:"current_due_fen"`
	MutualAidBalanceFen service.Fen               `json:"mutual_aid_balance_fen"`
}

// insuredProfile answers GET /api/v1/insured?region=&person=.
func (s *Server) insuredProfile(c *gin.Context) {
	v, err := s.deps.Insured.Profile(c.Request.Context(), currentUser(c).ID, c.Query("region"), c.Query("person"))
	reply(c, http.StatusOK, v, err, toInsuredResponse)
}

func toInsuredResponse(v *service.InsuredView) insuredResponse {
	out := insuredResponse{Region: v.Region, PersonID: v.PersonID, CurrentMonth: v.CurrentMonth, ArrearsShown: v.ArrearsShown,
		ArrearsFen: v.ArrearsFen, CurrentDueFen: v.CurrentDue, MutualAidBalanceFen: v.MutualAidBalanceFen,
		Insurances: []insuranceStatusResponse{}, Arrears: []arrearsMonthResponse{}}
	for _, s := range v.Insurances {
		out.Insurances = append(out.Insurances, insuranceStatusResponse(s))
	}
	for _, a := range v.Arrears {
		out.Arrears = append(out.Arrears, arrearsMonthResponse(a))
	}
	return out
}
