package wxpay

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"

	"github.com/shebao/sipay/service"
)

// The WeChat Pay Score (微信支付分) service order as it travels on the wire:
// the answer of create, query and complete, and the resource of the
// PAYSCORE.USER_CONFIRM / PAYSCORE.USER_PAID notifications. wechatpay-go
// v0.2.21 has no Pay Score service; wxpay/payscore calls the endpoints
// through the same core.Client, and the simulator (sim/paysim) serves these
// shapes. Field names follow the merchant documentation
// (pay.weixin.qq.com/docs/merchant/apis/weixin-pay-score/service-order/),
// cross-checked with go-pay/gopay wechat/v3/model_score.go.

// ServiceOrderJSON is a Pay Score service order.
type ServiceOrderJSON struct {
	AppID               string          `json:"appid"`
	MchID               string          `json:"mchid,omitempty"`
	ServiceID           string          `json:"service_id"`
	OutOrderNo          string          `json:"out_order_no"`
	ServiceIntroduction string          `json:"service_introduction,omitempty"`
	State               string          `json:"state,omitempty"`
	StateDescription    string          `json:"state_description,omitempty"`
	TotalAmount         int64           `json:"total_amount,omitempty"`
	PostPayments        []PostPayment   `json:"post_payments,omitempty"`
	RiskFund            *RiskFund       `json:"risk_fund,omitempty"`
	TimeRange           *TimeRange      `json:"time_range,omitempty"`
	NotifyURL           string          `json:"notify_url,omitempty"`
	OrderID             string          `json:"order_id,omitempty"`
	Package             string          `json:"package,omitempty"`
	NeedCollection      bool            `json:"need_collection,omitempty"`
	Collection          *CollectionJSON `json:"collection,omitempty"`
	OpenID              string          `json:"openid,omitempty"`
	NeedUserConfirm     *bool           `json:"need_user_confirm,omitempty"` // create request only
	Reason              string          `json:"reason,omitempty"`            // cancel request only
}

// PostPayment is a post_payments item (amount in fen).
type PostPayment struct {
	Name        string `json:"name"`
	Amount      int64  `json:"amount"`
	Description string `json:"description,omitempty"`
	Count       int    `json:"count,omitempty"`
}

// RiskFund is the order's risk_fund: name DEPOSIT, ADVANCE, CASH_DEPOSIT or
// ESTIMATE_ORDER_COST, amount in fen.
type RiskFund struct {
	Name        string `json:"name"`
	Amount      int64  `json:"amount"`
	Description string `json:"description,omitempty"`
}

// TimeRange is the service time: yyyyMMddHHmmss (Asia/Shanghai) or OnAccept.
type TimeRange struct {
	StartTime string `json:"start_time,omitempty"`
	EndTime   string `json:"end_time,omitempty"`
}

// CollectionJSON is the collection block: state USER_PAYING or USER_PAID.
type CollectionJSON struct {
	State        string             `json:"state"`
	TotalAmount  int64              `json:"total_amount,omitempty"`
	PayingAmount int64              `json:"paying_amount,omitempty"`
	PaidAmount   int64              `json:"paid_amount,omitempty"`
	Details      []CollectionDetail `json:"details,omitempty"`
}

// CollectionDetail is one collection: paid_type NEWTON (Pay Score) or MCH,
// paid_time yyyyMMddHHmmss, and the transaction_id of the collection.
type CollectionDetail struct {
	Seq           int    `json:"seq,omitempty"`
	Amount        int64  `json:"amount,omitempty"`
	PaidType      string `json:"paid_type,omitempty"`
	PaidTime      string `json:"paid_time,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
}

// PayScoreTimeLayout is Pay Score's time format, in Asia/Shanghai.
const PayScoreTimeLayout = "20060102150405"

// ServiceOrder converts the wire form into the service's.
func (w *ServiceOrderJSON) ServiceOrder() (service.ServiceOrder, error) {
	o := service.ServiceOrder{AppID: w.AppID, MchID: w.MchID, ServiceID: w.ServiceID, OutOrderNo: w.OutOrderNo,
		OrderID: w.OrderID, State: w.State, StateDescription: w.StateDescription, TotalFen: service.Fen(w.TotalAmount),
		Package: w.Package, OpenID: w.OpenID}
	if w.RiskFund != nil {
		o.RiskFundFen = service.Fen(w.RiskFund.Amount)
	}
	if c := w.Collection; c != nil {
		o.Collection.State = c.State
		o.Collection.PaidFen = service.Fen(c.PaidAmount)
		for _, d := range c.Details {
			if d.TransactionID == "" {
				continue
			}
			o.Collection.TransactionID = d.TransactionID
			if d.PaidTime != "" {
				t, err := time.ParseInLocation(PayScoreTimeLayout, d.PaidTime, service.Shanghai)
				if err != nil {
					return service.ServiceOrder{}, fmt.Errorf("collection paid_time %q: %v", d.PaidTime, err)
				}
				o.Collection.PaidAt = t.UTC()
			}
		}
	}
	if o.OutOrderNo == "" {
		return service.ServiceOrder{}, fmt.Errorf("service order without out_order_no")
	}
	return o, nil
}

// payScoreEvent decodes the resource of a PAYSCORE.* notification.
func payScoreEvent(id, eventType string, plain []byte) (service.PayScoreEvent, error) {
	var w ServiceOrderJSON
	if err := json.Unmarshal(plain, &w); err != nil {
		return service.PayScoreEvent{}, err
	}
	o, err := w.ServiceOrder()
	if err != nil {
		return service.PayScoreEvent{}, err
	}
	return service.PayScoreEvent{EventID: id, EventType: eventType, Order: o, Plaintext: plain}, nil
}

// API returns the signing and verifying SDK client, for the v3 APIs that
// wechatpay-go has no service for (Pay Score: wxpay/payscore).
func (c *Client) API() *core.Client { return c.api }

// GatewayErr turns an SDK error into a *service.GatewayError when WeChat
// answered, wrapped with op; other errors (network, signature) are wrapped
// as they are.
func GatewayErr(op string, err error) error { return gatewayErr(op, err) }

// APIURL is the full URL of a v3 path at the real host (the transport
// rewrites it to APIBase).
func APIURL(pathAndQuery string) string { return apiURL(pathAndQuery) }
