package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// VoucherAPI lists and verifies e-vouchers (service.VoucherService).
type VoucherAPI interface {
	ListForUser(ctx context.Context, userID int64, orderNo string) ([]service.Voucher, error)
	Verify(ctx context.Context, code string) (*service.VoucherCheck, error)
}

type voucherJSON struct {
	Kind       string                  `json:"kind"`
	Title      string                  `json:"title"`
	OutTradeNo string                  `json:"out_trade_no"`
	AmountFen  int64                   `json:"amount_fen"`
	IssuedAt   time.Time               `json:"issued_at"`
	KeptUntil  *time.Time              `json:"kept_until"` // null: long-term
	Expired    bool                    `json:"expired"`
	Content    *service.VoucherContent `json:"content,omitempty"`
	VerifyCode string                  `json:"verify_code"`
}

func toVoucherJSON(v service.Voucher) voucherJSON {
	return voucherJSON{Kind: string(v.Kind), Title: v.Kind.Title(), OutTradeNo: v.OutTradeNo, AmountFen: int64(v.AmountFen),
		IssuedAt: v.IssuedAt.UTC(), KeptUntil: optTime(v.ExpiresAt), Expired: v.Purged(), Content: v.Content, VerifyCode: v.Code}
}

// toVerifyJSON is the public answer of a voucher check.
func toVerifyJSON(v *service.VoucherCheck) gin.H {
	status := "valid"
	if v.Expired {
		status = "expired"
	}
	return gin.H{"status": status, "kind": v.Kind, "title": v.Title, "amount_fen": int64(v.AmountFen),
		"issued_on": v.IssuedOn, "order_no": v.OrderNo, "summary": v.Summary}
}

func (s *Server) listVouchers(c *gin.Context) {
	vs, err := s.deps.Vouchers.ListForUser(c.Request.Context(), currentUser(c).ID, c.Param("order_no"))
	replyList(c, "vouchers", vs, err, toVoucherJSON)
}

func (s *Server) verifyVoucher(c *gin.Context) {
	v, err := s.deps.Vouchers.Verify(c.Request.Context(), c.Query("code"))
	reply(c, http.StatusOK, v, err, toVerifyJSON)
}

// refundViewJSON is a batch's refund as the order views show it.
type refundViewJSON struct {
	OutRefundNo     string     `json:"out_refund_no"`
	Status          string     `json:"status"`
	AmountFen       int64      `json:"amount_fen"`
	Reason          string     `json:"reason"`
	ReasonText      string     `json:"reason_text"`
	ExpectedArrival string     `json:"expected_arrival"`
	SucceededAt     *time.Time `json:"succeeded_at,omitempty"`
}

// ToRefundViewJSON converts a refund view for order responses.
func ToRefundViewJSON(r *service.RefundView) refundViewJSON {
	j := refundViewJSON{OutRefundNo: r.OutRefundNo, Status: string(r.Status), AmountFen: int64(r.AmountFen), Reason: string(r.Reason),
		ReasonText: r.ReasonText, ExpectedArrival: r.ExpectedArrival}
	j.SucceededAt = optTime(r.SuccessAt)
	return j
}
