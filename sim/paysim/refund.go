package paysim

import (
	"net/http"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
)

// RefundBehavior injects WeChat-side refund outcomes.
type RefundBehavior struct {
	// FailCode makes create answer an error: "SYSTEM_ERROR" (HTTP 500) or
	// "NOT_ENOUGH" (HTTP 403); other codes answer 400.
	FailCode string `json:"fail_code"`
	// FailTimes limits FailCode to the next N create calls (0: every call).
	FailTimes int `json:"fail_times"`
	// FailAfterAccept records the refund before answering FailCode: the
	// ambiguous case where a retry with the same out_refund_no must find it.
	FailAfterAccept bool `json:"fail_after_accept"`
	// EndStatus is the final status: SUCCESS (default), ABNORMAL or CLOSED.
	EndStatus string `json:"end_status"`
	// Hold keeps refunds PROCESSING until SettleRefund is called.
	Hold bool `json:"hold"`
}

// SetRefundBehavior sets the behaviour for refunds of outTradeNo, or for
// all refunds when outTradeNo is "". A per-trade behaviour wins.
func (s *Sim) SetRefundBehavior(outTradeNo string, b RefundBehavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refundBeh[outTradeNo] = b
}

type refundBody struct {
	TransactionID string `json:"transaction_id"`
	OutTradeNo    string `json:"out_trade_no"`
	OutRefundNo   string `json:"out_refund_no"`
	Reason        string `json:"reason"`
	NotifyURL     string `json:"notify_url"`
	Amount        *struct {
		Refund   *int64 `json:"refund"`
		Total    *int64 `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

func (s *Sim) handleCreateRefund(_ *http.Request, b refundBody) reply {
	switch {
	case !outRefundNoRe.MatchString(b.OutRefundNo):
		return paramError("out_refund_no 格式错误")
	case b.OutTradeNo == "" && b.TransactionID == "":
		return paramError("out_trade_no 和 transaction_id 必须二选一")
	case b.Amount == nil || b.Amount.Refund == nil || b.Amount.Total == nil || *b.Amount.Refund <= 0:
		return paramError("amount.refund 和 amount.total 必填且退款金额须大于0")
	case b.Amount.Currency != "CNY":
		return paramError("amount.currency 只支持 CNY")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var tr *trade
	if b.OutTradeNo != "" {
		tr = s.trades[b.OutTradeNo]
	} else {
		tr = s.byTxID[b.TransactionID]
	}
	if tr == nil {
		return apiError(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "订单不存在")
	}
	if r, ok := s.refunds[b.OutRefundNo]; ok {
		if r.OutTradeNo != tr.OutTradeNo || r.Refund != *b.Amount.Refund {
			return apiError(http.StatusBadRequest, "INVALID_REQUEST", "同一退款单号的退款参数与原请求不一致")
		}
		return jsonReply(http.StatusOK, refundJSON(r))
	}
	beh, ok := s.refundBeh[tr.OutTradeNo]
	if !ok {
		beh = s.refundBeh[""]
	}
	failCode := beh.FailCode
	failNow := failCode != ""
	if failNow && beh.FailTimes > 0 {
		beh.FailTimes--
		if beh.FailTimes == 0 {
			beh.FailCode = ""
		}
		if _, per := s.refundBeh[tr.OutTradeNo]; per {
			s.refundBeh[tr.OutTradeNo] = beh
		} else {
			s.refundBeh[""] = beh
		}
	}
	if failNow && !beh.FailAfterAccept {
		return refundFailure(failCode)
	}

	switch {
	case tr.TransactionID == "":
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "订单未支付，无法退款")
	case *b.Amount.Total != tr.Total:
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "订单金额与原订单不一致")
	}
	var taken int64
	for _, r := range tr.refunds {
		if r.Status != "CLOSED" {
			taken += r.Refund
		}
	}
	if taken+*b.Amount.Refund > tr.Total {
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
	}
	if len(tr.refunds) >= 50 {
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "部分退款次数超过50次")
	}
	now := s.cfg.Clock.Now()
	notifyURL := b.NotifyURL
	if notifyURL == "" {
		notifyURL = tr.NotifyURL
	}
	r := &refund{RefundID: s.newRefundID(now), OutRefundNo: b.OutRefundNo, OutTradeNo: tr.OutTradeNo,
		TransactionID: tr.TransactionID, Reason: b.Reason, NotifyURL: notifyURL, Refund: *b.Amount.Refund,
		Total: tr.Total, Status: "PROCESSING", CreateTime: now.Truncate(time.Second)}
	s.refunds[r.OutRefundNo] = r
	s.refundSeq = append(s.refundSeq, r.OutRefundNo)
	tr.refunds = append(tr.refunds, r)
	tr.State = "REFUND"
	if !beh.Hold {
		end := beh.EndStatus
		s.goBackground(func() {
			if s.sleep(s.cfg.RefundDelay) {
				_ = s.SettleRefund(r.OutRefundNo, end)
			}
		})
	}
	if failNow {
		return refundFailure(failCode)
	}
	return jsonReply(http.StatusOK, refundJSON(r))
}

func refundFailure(code string) reply {
	switch code {
	case "SYSTEM_ERROR":
		return apiError(http.StatusInternalServerError, code, "系统超时，请使用相同参数稍后重新调用")
	case "NOT_ENOUGH":
		return apiError(http.StatusForbidden, code, "基本账户余额不足，请充值后重新发起")
	case "FREQUENCY_LIMITED":
		return apiError(http.StatusTooManyRequests, code, "请求频率超限")
	}
	return apiError(http.StatusBadRequest, code, "模拟的退款失败")
}

// SettleRefund ends a PROCESSING refund with status (SUCCESS when empty,
// ABNORMAL or CLOSED) and sends the REFUND.* notification. Ending a refund
// that already ended does nothing.
func (s *Sim) SettleRefund(outRefundNo, status string) error {
	if status == "" {
		status = "SUCCESS"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[outRefundNo]
	if !ok {
		return ErrUnknownTrade
	}
	if r.Status != "PROCESSING" {
		return nil
	}
	r.Status = status
	if status == "SUCCESS" {
		r.SuccessTime = s.cfg.Clock.Now().Truncate(time.Second)
	}
	n := wxpay.RefundNotification{MchID: s.cfg.MchID, TransactionID: r.TransactionID, OutTradeNo: r.OutTradeNo,
		RefundID: r.RefundID, OutRefundNo: r.OutRefundNo, RefundStatus: r.Status, UserReceivedAccount: "支付用户零钱",
		Amount: wxpay.RefundNotifyAmount{Total: r.Total, Refund: r.Refund, PayerTotal: r.Total, PayerRefund: r.Refund}}
	if !r.SuccessTime.IsZero() {
		n.SuccessTime = r.SuccessTime.In(service.Shanghai).Format(time.RFC3339)
	}
	s.enqueue("REFUND."+status, "refund", r.OutRefundNo, r.NotifyURL, n)
	return nil
}

func refundJSON(r *refund) map[string]any {
	m := map[string]any{
		"refund_id": r.RefundID, "out_refund_no": r.OutRefundNo, "transaction_id": r.TransactionID,
		"out_trade_no": r.OutTradeNo, "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
		"create_time": r.CreateTime.In(service.Shanghai).Format(time.RFC3339), "status": r.Status,
		"funds_account": "AVAILABLE", "promotion_detail": []any{},
		"amount": map[string]any{"total": r.Total, "refund": r.Refund, "payer_total": r.Total, "payer_refund": r.Refund,
			"settlement_refund": r.Refund, "settlement_total": r.Total, "discount_refund": 0, "currency": "CNY", "from": []any{}},
	}
	if !r.SuccessTime.IsZero() {
		m["success_time"] = r.SuccessTime.In(service.Shanghai).Format(time.RFC3339)
	}
	return m
}

func (s *Sim) handleQueryRefund(r *http.Request, _ []byte) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	rf, ok := s.refunds[r.PathValue("no")]
	if !ok {
		return apiError(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "退款单不存在")
	}
	return jsonReply(http.StatusOK, refundJSON(rf))
}
