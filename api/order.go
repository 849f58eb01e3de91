package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// OrderService is what the order routes need (service.OrderService).
type OrderService interface {
	CreateOrder(ctx context.Context, userID int64, quoteID string) (*service.PayResult, error)
	ResumeOrder(ctx context.Context, userID int64, orderNo string) (*service.PayResult, error)
	PayBatch(ctx context.Context, userID int64, orderNo string, seq int) (*service.PayResult, error)
	FindOrders(ctx context.Context, userID int64, page, pageSize int) ([]*service.Order, int, error)
	FindOrderDetail(ctx context.Context, userID int64, orderNo string) (*service.OrderDetail, error)
	CancelOrder(ctx context.Context, userID int64, orderNo string) (*service.CancelResult, error)
}

// AfterViewer shows what happened to an order's batches after payment.
type AfterViewer interface {
	View(ctx context.Context, o *service.Order) ([]service.BatchAfterView, error)
}

type batchResponse struct {
	Seq        int         `json:"seq"`
	OutTradeNo string      `json:"out_trade_no"`
	AmountFen  service.Fen `json:"amount_fen"`
	Status     string      `json:"status"`
	FromMonth  string      `json:"from_month"`
	ToMonth    string      `json:"to_month"`
	ExpireAt   *time.Time  `json:"expire_at,omitempty"`
	PaidAt     *time.Time  `json:"paid_at,omitempty"`
	// TransactionID is WeChat's transaction id once paid (for a credit
	// batch, the Pay Score service order id).
	TransactionID string `json:"transaction_id,omitempty"`
	// Funding is "credit" for a batch paid by credit pay.
	Funding string `json:"funding,omitempty"`
	// After payment (order GET only).
	Reference string          `json:"platform_reference,omitempty"`
	Refund    *refundViewJSON `json:"refund,omitempty"`
	HeldUntil *time.Time      `json:"held_until,omitempty"`
	// HoldChoice tells the payer of a held batch what they may do.
	HoldChoice  *holdChoiceJSON `json:"hold_choice,omitempty"`
	Delayed     bool            `json:"delayed,omitempty"`
	DelayAdvice string          `json:"delay_advice,omitempty"`
	// OutcomeNote explains a confirming batch (待确认) to the user.
	OutcomeNote string `json:"outcome_note,omitempty"`
}

type orderResponse struct {
	OrderNo   string          `json:"order_no"`
	QuoteID   string          `json:"quote_id"`
	Region    string          `json:"region"`
	AmountFen service.Fen     `json:"amount_fen"`
	Status    string          `json:"status"`
	CreatedAt time.Time       `json:"created_at"`
	Batches   []batchResponse `json:"batches"`
}

type createOrderResponse struct {
	orderResponse
	PaySeq    int               `json:"pay_seq"`
	PayParams service.PayParams `json:"pay_params"`
}

type payResponse struct {
	OrderNo   string            `json:"order_no"`
	Seq       int               `json:"seq"`
	PayParams service.PayParams `json:"pay_params"`
}

// lineResponse is an order's line: the quote line's amounts; priced_by and
// source are left out where the stored line has none.
type lineResponse struct {
	lineAmounts
	PricedBy string `json:"priced_by,omitempty"`
	Source   string `json:"source,omitempty"`
}

type eventResponse struct {
	BatchSeq  int       `json:"batch_seq,omitempty"`
	Type      string    `json:"type"`
	Detail    string    `json:"detail"`
	CreatedAt time.Time `json:"created_at"`
}

type orderDetailResponse struct {
	orderResponse
	Lines    []lineResponse  `json:"lines"`
	Timeline []eventResponse `json:"timeline"`
}

type orderListResponse struct {
	Orders   []orderResponse `json:"orders"`
	Total    int             `json:"total"`
	Page     int             `json:"page"`
	PageSize int             `json:"page_size"`
}

type cancelResponse struct {
	orderResponse
	FullyCancelled bool   `json:"fully_cancelled"`
	Message        string `json:"message"`
}

// optTime is t in UTC, or nil (the field left out) when t is zero.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func toOrderResponse(o *service.Order) orderResponse {
	r := orderResponse{OrderNo: o.No, QuoteID: o.QuoteID, Region: o.Region, AmountFen: o.AmountFen,
		Status: string(o.Status), CreatedAt: o.CreatedAt.UTC(), Batches: []batchResponse{}}
	for _, b := range o.Batches {
		r.Batches = append(r.Batches, batchResponse{Seq: b.Seq, OutTradeNo: b.OutTradeNo, AmountFen: b.AmountFen,
			Status: string(b.Status), FromMonth: b.FromMonth, ToMonth: b.ToMonth, ExpireAt: optTime(b.ExpireAt), PaidAt: optTime(b.PaidAt),
			TransactionID: b.TransactionID, Funding: string(b.Funding)})
	}
	return r
}

type createOrderRequest struct {
	QuoteID string `json:"quote_id"`
}

func (s *Server) createOrder(c *gin.Context, req createOrderRequest) {
	res, err := s.deps.Orders.CreateOrder(c.Request.Context(), currentUser(c).ID, req.QuoteID)
	if res != nil && res.Order != nil {
		// An order exists (also after a 503 prepay_failed): a retry with the
		// same Idempotency-Key resumes it instead of replaying this reply.
		c.Set(resumeOrderKey, res.Order.No)
	}
	reply(c, http.StatusCreated, res, err, toCreateOrderResponse)
}

func toCreateOrderResponse(res *service.PayResult) createOrderResponse {
	return createOrderResponse{orderResponse: toOrderResponse(res.Order), PaySeq: res.Seq, PayParams: res.PayParams}
}

// resumeOrder answers a retry of a create-order request whose order exists
// (the first reply was 201, or 503 prepay_failed). The saved 201 is replayed
// byte for byte while its prepay_id is still the batch's usable one;
// otherwise the order is resumed (WeChat asked, prepaid again under the same
// out_trade_no and time_expire) and a fresh 201 is written, or the error
// that stops payment (409 batch_paid, 422 batch_expired, 503 to retry).
func (s *Server) resumeOrder(c *gin.Context, saved *service.SavedResponse) {
	res, err := s.deps.Orders.ResumeOrder(c.Request.Context(), currentUser(c).ID, saved.Resume)
	c.Header("Idempotent-Replayed", "true")
	if err != nil {
		fail(c, err)
		return
	}
	if saved.Status == http.StatusCreated && res.PayParams.PrepayID != "" {
		var first createOrderResponse
		if json.Unmarshal(saved.Body, &first) == nil && first.PaySeq == res.Seq && first.PayParams.Package == "prepay_id="+res.PayParams.PrepayID {
			c.Data(saved.Status, saved.ContentType, saved.Body)
			c.Abort()
			return
		}
	}
	c.AbortWithStatusJSON(http.StatusCreated, toCreateOrderResponse(res))
}

func (s *Server) payBatch(c *gin.Context) {
	seq, ok := batchSeq(c)
	if !ok {
		return
	}
	res, err := s.deps.Orders.PayBatch(c.Request.Context(), currentUser(c).ID, c.Param("order_no"), seq)
	reply(c, http.StatusOK, res, err, func(res *service.PayResult) payResponse {
		return payResponse{OrderNo: res.Order.No, Seq: res.Seq, PayParams: res.PayParams}
	})
}

func (s *Server) listOrders(c *gin.Context) {
	page, ok := queryCount(c, "page", 1, service.MaxPage)
	if !ok {
		return
	}
	pageSize, ok := queryCount(c, "page_size", service.DefaultPageSize, service.MaxPageSize)
	if !ok {
		return
	}
	orders, total, err := s.deps.Orders.FindOrders(c.Request.Context(), currentUser(c).ID, page, pageSize)
	reply(c, http.StatusOK, orders, err, func(orders []*service.Order) orderListResponse {
		return orderListResponse{Orders: listJSON(orders, toOrderResponse), Total: total, Page: page, PageSize: pageSize}
	})
}

// queryCount reads the optional query parameter name, a whole number from
// 1 to max; def when it is absent.
func queryCount(c *gin.Context, name string, def, max int) (int, bool) {
	v := c.Query(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		fail(c, service.Invalid(service.CodeInvalid, name+" 无效", service.FieldError{Field: name, Code: "invalid", Message: fmt.Sprintf("应为 1 到 %d", max)}))
		return 0, false
	}
	return n, true
}

func (s *Server) getOrder(c *gin.Context) {
	d, err := s.deps.Orders.FindOrderDetail(c.Request.Context(), currentUser(c).ID, c.Param("order_no"))
	if err != nil {
		fail(c, err)
		return
	}
	r := orderDetailResponse{orderResponse: toOrderResponse(d.Order),
		Lines: listJSON(d.Lines, func(l service.QuoteLine) lineResponse {
			return lineResponse{lineAmounts: toLineAmounts(l), PricedBy: l.PricedBy, Source: string(l.Source)}
		}),
		Timeline: listJSON(d.Timeline, func(e service.OrderEvent) eventResponse {
			return eventResponse{BatchSeq: e.BatchSeq, Type: e.Type, Detail: e.Detail, CreatedAt: e.CreatedAt.UTC()}
		})}
	if s.deps.After != nil {
		views, err := s.deps.After.View(c.Request.Context(), d.Order)
		if err != nil {
			fail(c, err)
			return
		}
		for i := range r.Batches {
			if i >= len(views) || views[i].OutTradeNo != r.Batches[i].OutTradeNo {
				continue
			}
			v := views[i]
			b := &r.Batches[i]
			b.Reference, b.Delayed, b.DelayAdvice, b.OutcomeNote = v.Reference, v.Delayed, v.DelayAdvice, v.OutcomeNote
			if v.Refund != nil {
				j := ToRefundViewJSON(v.Refund)
				b.Refund = &j
			}
			b.HeldUntil = optTime(v.HeldUntil)
			b.HoldChoice = toHoldChoiceJSON(v.HoldChoice)
		}
	}
	c.JSON(http.StatusOK, r)
}

func (s *Server) cancelOrder(c *gin.Context) {
	res, err := s.deps.Orders.CancelOrder(c.Request.Context(), currentUser(c).ID, c.Param("order_no"))
	reply(c, http.StatusOK, res, err, func(res *service.CancelResult) cancelResponse {
		return cancelResponse{orderResponse: toOrderResponse(res.Order), FullyCancelled: res.FullyCancelled, Message: res.Message}
	})
}
