package paysim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
)

var (
	outTradeNoRe  = regexp.MustCompile(`^[0-9A-Za-z_\-|*]{6,32}$`)
	outRefundNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,64}$`)
)

type prepayBody struct {
	AppID       string `json:"appid"`
	MchID       string `json:"mchid"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	TimeExpire  string `json:"time_expire"`
	Attach      string `json:"attach"`
	NotifyURL   string `json:"notify_url"`
	Amount      *struct {
		Total    *int64 `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Payer *struct {
		OpenID string `json:"openid"`
	} `json:"payer"`
}

func (s *Sim) handlePrepay(r *http.Request, b prepayBody) reply {
	switch {
	case b.AppID == "" || b.MchID == "":
		return paramError("缺少参数 appid 或 mchid")
	case b.MchID != s.cfg.MchID:
		return paramError("mchid与请求头中的商户号不匹配")
	case b.AppID != s.cfg.AppID:
		return paramError("appid和mch_id不匹配")
	case b.Description == "" || utf8.RuneCountInString(b.Description) > 127:
		return paramError("description 长度须为1到127个字符")
	case !outTradeNoRe.MatchString(b.OutTradeNo):
		return paramError("out_trade_no 须为6-32位数字、大小写字母、_-|*")
	case b.Amount == nil || b.Amount.Total == nil || *b.Amount.Total <= 0:
		return paramError("amount.total 必须大于0")
	case b.Amount.Currency != "" && b.Amount.Currency != "CNY":
		return paramError("amount.currency 只支持 CNY")
	case b.Payer == nil || b.Payer.OpenID == "":
		return paramError("缺少参数 payer.openid")
	case utf8.RuneCountInString(b.Attach) > 128:
		return paramError("attach 长度不能超过128")
	}
	if u, err := url.Parse(b.NotifyURL); b.NotifyURL == "" || err != nil || !u.IsAbs() || u.RawQuery != "" || len(b.NotifyURL) > 255 {
		return paramError("notify_url 须为不带参数的完整URL")
	}
	now := s.cfg.Clock.Now()
	var expire time.Time
	if b.TimeExpire != "" {
		t, err := time.Parse(time.RFC3339, b.TimeExpire)
		if err != nil {
			return paramError("time_expire 格式错误，须为 RFC3339")
		}
		expire = t
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	tr, exists := s.trades[b.OutTradeNo]
	if exists {
		switch {
		case tr.Total != *b.Amount.Total || tr.OpenID != b.Payer.OpenID:
			return apiError(http.StatusBadRequest, "INVALID_REQUEST", "201 商户订单号重复")
		case tr.State == "SUCCESS" || tr.State == "REFUND":
			return apiError(http.StatusBadRequest, "ORDERPAID", "该订单已支付")
		case tr.State == "CLOSED":
			return apiError(http.StatusBadRequest, "ORDER_CLOSED", "当前订单已关闭，请重新下单")
		}
		// time_expire only counts on the first request.
	} else {
		if expire.IsZero() {
			expire = now.Add(7 * 24 * time.Hour)
		} else if expire.Before(now.Add(time.Minute)) || expire.After(now.Add(90*24*time.Hour)) {
			return paramError("time_expire 须晚于下单时间1分钟且不超过90天")
		}
		tr = &trade{AppID: b.AppID, MchID: b.MchID, OutTradeNo: b.OutTradeNo, Description: b.Description,
			Attach: b.Attach, NotifyURL: b.NotifyURL, OpenID: b.Payer.OpenID, Total: *b.Amount.Total,
			TimeExpire: expire, CreatedAt: now, State: "NOTPAY"}
		s.trades[tr.OutTradeNo] = tr
		s.tradeOrder = append(s.tradeOrder, tr.OutTradeNo)
	}
	id := "wx" + now.In(service.Shanghai).Format("02150405") + randomHex(13)
	s.prepays[id] = &prepay{ID: id, OutTradeNo: tr.OutTradeNo, CreatedAt: now}
	return jsonReply(http.StatusOK, map[string]string{"prepay_id": id})
}

// transactionJSON renders a trade as the query API and notification do.
func transactionJSON(tr *trade) map[string]any {
	m := map[string]any{
		"appid": tr.AppID, "mchid": tr.MchID, "out_trade_no": tr.OutTradeNo,
		"trade_state": tr.State, "trade_state_desc": stateDesc(tr.State), "attach": tr.Attach,
		"promotion_detail": []any{},
	}
	amount := map[string]any{"total": tr.Total, "currency": "CNY"}
	if tr.TransactionID != "" {
		m["transaction_id"] = tr.TransactionID
		m["trade_type"] = "JSAPI"
		m["bank_type"] = "OTHERS"
		m["success_time"] = tr.SuccessTime.In(service.Shanghai).Format(time.RFC3339)
		m["payer"] = map[string]string{"openid": tr.OpenID}
		amount["payer_total"] = tr.Total
		amount["payer_currency"] = "CNY"
	}
	m["amount"] = amount
	return m
}

func stateDesc(state string) string {
	switch state {
	case "SUCCESS":
		return "支付成功"
	case "NOTPAY":
		return "订单未支付"
	case "CLOSED":
		return "订单已关闭"
	case "REFUND":
		return "订单发生过退款"
	}
	return state
}

func (s *Sim) handleQuery(r *http.Request, _ []byte) reply {
	if m := r.URL.Query().Get("mchid"); m != s.cfg.MchID {
		return paramError("mchid 与商户号不匹配")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, ok := s.trades[r.PathValue("no")]
	if !ok {
		return apiError(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	}
	return jsonReply(http.StatusOK, transactionJSON(tr))
}

func (s *Sim) handleClose(r *http.Request, body []byte) reply {
	var b struct {
		MchID string `json:"mchid"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.MchID != s.cfg.MchID {
		return paramError("mchid 与商户号不匹配")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, ok := s.trades[r.PathValue("no")]
	if !ok {
		return apiError(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	}
	switch tr.State {
	case "SUCCESS", "REFUND":
		return apiError(http.StatusBadRequest, "ORDERPAID", "订单已支付")
	}
	tr.State = "CLOSED"
	return reply{status: http.StatusNoContent}
}

// randomHex returns n random lowercase hex digits.
func randomHex(n int) string { return wxpay.RandomString("0123456789abcdef", n) }

func randomDigits(n int) string { return wxpay.RandomString("0123456789", n) }

// nextSeq returns a process-unique number; the caller holds s.mu.
func (s *Sim) nextSeq() int64 {
	s.seq++
	return s.seq
}

func (s *Sim) newTransactionID(now time.Time) string {
	return fmt.Sprintf("4200%s%06d%s", now.In(service.Shanghai).Format("20060102"), s.nextSeq()%1000000, randomDigits(10))
}

func (s *Sim) newRefundID(now time.Time) string {
	return fmt.Sprintf("5030%s%06d%s", now.In(service.Shanghai).Format("20060102"), s.nextSeq()%1000000, randomDigits(11))
}
