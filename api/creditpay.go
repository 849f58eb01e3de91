package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// CreditPay is credit pay (社保信用付) as the API needs it
// (service.CreditService). Its PAYSCORE.* notifications arrive through
// Deps.Notify like every other WeChat Pay notification.
type CreditPay interface {
	Offers() []service.CreditOffer
	Start(ctx context.Context, userID int64, quoteID string) (*service.CreditStart, error)
	Resume(ctx context.Context, userID int64, orderNo string) (*service.CreditStart, error)
	View(ctx context.Context, userID int64, orderNo string) (*service.CreditView, error)
}

type creditOfferResponse struct {
	Region            string      `json:"region"`
	Name              string      `json:"name"`
	LimitFen          service.Fen `json:"limit_fen"`
	CollectionDay     int         `json:"collection_day"`
	BackPayments      bool        `json:"back_payments"`
	IllustrativeItems []string    `json:"illustrative"`
}

func (s *Server) creditRegions(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"regions": listJSON(s.deps.Credit.Offers(), toCreditOfferResponse)})
}

func toCreditOfferResponse(o service.CreditOffer) creditOfferResponse {
	return creditOfferResponse{Region: o.Region, Name: o.Name, LimitFen: o.Rule.LimitFen,
		CollectionDay: o.Rule.CollectionDay, BackPayments: o.Rule.BackPayments, IllustrativeItems: append([]string{}, o.Illustrative...)}
}

type creditOrderResponse struct {
	OutOrderNo  string      `json:"out_order_no"`
	State       string      `json:"state"`
	AmountFen   service.Fen `json:"amount_fen"`
	ConfirmBy   time.Time   `json:"confirm_by"`
	DueAt       *time.Time  `json:"due_at,omitempty"`
	CollectedAt *time.Time  `json:"collected_at,omitempty"`
	Notice      string      `json:"notice,omitempty"`
}

func toCreditResponse(c *service.CreditOrder, notice string) creditOrderResponse {
	return creditOrderResponse{OutOrderNo: c.OutOrderNo, State: string(c.State), AmountFen: c.AmountFen,
		ConfirmBy: c.ConfirmBy.UTC(), DueAt: optTime(c.DueAt), CollectedAt: optTime(c.CollectedAt), Notice: notice}
}

type creditStartResponse struct {
	orderResponse
	Credit  creditOrderResponse   `json:"credit"`
	Confirm service.CreditConfirm `json:"confirm"`
}

func toCreditStartResponse(res *service.CreditStart) creditStartResponse {
	return creditStartResponse{orderResponse: toOrderResponse(res.Order),
		Credit: toCreditResponse(res.Credit, "请在微信支付分页面确认"), Confirm: res.Confirm}
}

func (s *Server) startCredit(c *gin.Context, req createOrderRequest) {
	res, err := s.deps.Credit.Start(c.Request.Context(), currentUser(c).ID, req.QuoteID)
	reply(c, http.StatusCreated, res, err, toCreditStartResponse)
}

func (s *Server) resumeCredit(c *gin.Context) {
	res, err := s.deps.Credit.Resume(c.Request.Context(), currentUser(c).ID, c.Param("order_no"))
	reply(c, http.StatusOK, res, err, toCreditStartResponse)
}

func (s *Server) getCredit(c *gin.Context) {
	v, err := s.deps.Credit.View(c.Request.Context(), currentUser(c).ID, c.Param("order_no"))
	reply(c, http.StatusOK, v, err, func(v *service.CreditView) creditOrderResponse { return toCreditResponse(v.Credit, v.Notice) })
}
