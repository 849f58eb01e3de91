// Package payscore is a small WeChat Pay Score (微信支付分) client for credit
// pay: service orders in confirm mode (create, query, complete, cancel) and
// the mini-program confirmation parameters. wechatpay-go v0.2.21 has no Pay
// Score service, so it calls the v3 endpoints through the SDK's core.Client
// (the same merchant signature on requests and the same verification of
// WeChat's signed answers as every other call); the wire shapes are
// wxpay.ServiceOrderJSON. It implements service.PayScore.
//
// Sources: pay.weixin.qq.com/docs/merchant/apis/weixin-pay-score/service-order/
// (create-service-order, get-service-order, complete-service-order,
// cancel-service-order), summarised in shared/reference/wechat.md §7; the
// confirmation page's extraData (mch_id, package, timestamp, nonce_str,
// sign_type HMAC-SHA256, sign) from the 调起支付分-确认订单（小程序）page
// (pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter6_1_13.shtml) as quoted by
// the Taro typings of wx.openBusinessView.
package payscore

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
)

// Config is what the client needs besides the SDK client.
type Config struct {
	AppID     string
	MchID     string
	ServiceID string // 32 digits, issued when the Pay Score service is approved
	NotifyURL string // receives PAYSCORE.USER_CONFIRM and PAYSCORE.USER_PAID
	// APIv2Key signs the confirmation page's extraData (HMAC-SHA256).
	APIv2Key string
}

// Client implements service.PayScore.
type Client struct {
	api   *core.Client
	cfg   Config
	clock service.Clock
}

var _ service.PayScore = (*Client)(nil)

// New returns a client over api (wxpay.Client.API()).
func New(api *core.Client, cfg Config, clock service.Clock) (*Client, error) {
	switch {
	case api == nil || clock == nil:
		return nil, errors.New("payscore: nil api client or clock")
	case cfg.AppID == "" || cfg.MchID == "" || cfg.ServiceID == "" || cfg.NotifyURL == "":
		return nil, errors.New("payscore: appid, mchid, service_id and notify url are required")
	case cfg.APIv2Key == "":
		return nil, errors.New("payscore: the APIv2 key (confirmation signature) is required")
	}
	return &Client{api: api, cfg: cfg, clock: clock}, nil
}

// CreateServiceOrder creates a service order in confirm mode
// (need_user_confirm true). WeChat answers the same order for a repeat
// with the same parameters.
func (c *Client) CreateServiceOrder(ctx context.Context, r service.ServiceOrderRequest) (service.ServiceOrder, error) {
	confirm := true
	body := wxpay.ServiceOrderJSON{AppID: c.cfg.AppID, ServiceID: c.cfg.ServiceID, OutOrderNo: r.OutOrderNo,
		ServiceIntroduction: r.Introduction,
		PostPayments:        []wxpay.PostPayment{{Name: r.ItemName, Amount: int64(r.AmountFen), Description: "社保缴费，次月扣款", Count: 1}},
		RiskFund:            &wxpay.RiskFund{Name: "ESTIMATE_ORDER_COST", Amount: int64(r.AmountFen)},
		TimeRange:           &wxpay.TimeRange{StartTime: "OnAccept"},
		NotifyURL:           c.cfg.NotifyURL, OpenID: r.OpenID, NeedUserConfirm: &confirm}
	res, err := c.api.Post(ctx, wxpay.APIURL("/v3/payscore/serviceorder"), body)
	if err != nil {
		return service.ServiceOrder{}, wxpay.GatewayErr("payscore create "+r.OutOrderNo, err)
	}
	return decode("create "+r.OutOrderNo, res.Response.Body)
}

// QueryServiceOrder reads a service order by out_order_no. WeChat's "no
// such order" answer gives an error wrapping service.ErrServiceOrderNotFound.
func (c *Client) QueryServiceOrder(ctx context.Context, outOrderNo string) (service.ServiceOrder, error) {
	q := url.Values{"service_id": {c.cfg.ServiceID}, "appid": {c.cfg.AppID}, "out_order_no": {outOrderNo}}
	res, err := c.api.Get(ctx, wxpay.APIURL("/v3/payscore/serviceorder?"+q.Encode()))
	if err != nil {
		var apiErr *core.APIError
		if errors.As(err, &apiErr) && (apiErr.Code == "ORDER_NOT_EXIST" || apiErr.Code == "RESOURCE_NOT_EXISTS") {
			return service.ServiceOrder{}, fmt.Errorf("payscore query %s: %w (%s)", outOrderNo, service.ErrServiceOrderNotFound, apiErr.Message)
		}
		return service.ServiceOrder{}, wxpay.GatewayErr("payscore query "+outOrderNo, err)
	}
	return decode("query "+outOrderNo, res.Response.Body)
}

// CompleteServiceOrder completes the order with the actual amount (one
// post_payments item, no discounts, total_amount = amount) and the end of
// the service; WeChat then collects from the user.
func (c *Client) CompleteServiceOrder(ctx context.Context, outOrderNo string, amount service.Fen, itemName string, end time.Time) (service.ServiceOrder, error) {
	body := wxpay.ServiceOrderJSON{AppID: c.cfg.AppID, ServiceID: c.cfg.ServiceID,
		PostPayments: []wxpay.PostPayment{{Name: itemName, Amount: int64(amount), Count: 1}},
		TotalAmount:  int64(amount),
		TimeRange:    &wxpay.TimeRange{EndTime: end.In(service.Shanghai).Format(wxpay.PayScoreTimeLayout)}}
	res, err := c.api.Post(ctx, wxpay.APIURL("/v3/payscore/serviceorder/"+url.PathEscape(outOrderNo)+"/complete"), body)
	if err != nil {
		return service.ServiceOrder{}, wxpay.GatewayErr("payscore complete "+outOrderNo, err)
	}
	return decode("complete "+outOrderNo, res.Response.Body)
}

// CancelServiceOrder cancels an order that is not completed.
func (c *Client) CancelServiceOrder(ctx context.Context, outOrderNo, reason string) error {
	body := wxpay.ServiceOrderJSON{AppID: c.cfg.AppID, ServiceID: c.cfg.ServiceID, Reason: reason}
	res, err := c.api.Post(ctx, wxpay.APIURL("/v3/payscore/serviceorder/"+url.PathEscape(outOrderNo)+"/cancel"), body)
	if err != nil {
		return wxpay.GatewayErr("payscore cancel "+outOrderNo, err)
	}
	var w wxpay.ServiceOrderJSON
	if err := json.NewDecoder(io.LimitReader(res.Response.Body, 1<<20)).Decode(&w); err != nil {
		return fmt.Errorf("payscore cancel %s: answer: %w", outOrderNo, err)
	}
	if w.OutOrderNo != outOrderNo {
		return fmt.Errorf("payscore cancel %s: answer names %q", outOrderNo, w.OutOrderNo)
	}
	return nil
}

func decode(op string, body io.Reader) (service.ServiceOrder, error) {
	var w wxpay.ServiceOrderJSON
	if err := json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&w); err != nil {
		return service.ServiceOrder{}, fmt.Errorf("payscore %s: answer: %w", op, err)
	}
	o, err := w.ServiceOrder()
	if err != nil {
		return service.ServiceOrder{}, fmt.Errorf("payscore %s: %w", op, err)
	}
	return o, nil
}

// BusinessType opens the Pay Score confirmation page (wx.openBusinessView).
const BusinessType = "wxpayScoreUse"

// ConfirmParams signs the wx.openBusinessView extraData for a package from
// the create answer (valid one hour).
func (c *Client) ConfirmParams(pkg string) (service.CreditConfirm, error) {
	if pkg == "" {
		return service.CreditConfirm{}, errors.New("payscore: empty package")
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return service.CreditConfirm{}, err
	}
	data := map[string]string{"mch_id": c.cfg.MchID, "package": pkg,
		"timestamp": strconv.FormatInt(c.clock.Now().Unix(), 10),
		"nonce_str": strconv.FormatInt(n.Int64(), 36), "sign_type": "HMAC-SHA256"}
	data["sign"] = SignExtraData(c.cfg.APIv2Key, data)
	return service.CreditConfirm{BusinessType: BusinessType, ExtraData: data}, nil
}

// SignExtraData is WeChat Pay's v2 signature with HMAC-SHA256: the fields
// other than sign, sorted by name, joined as k=v with &, then "&key=" and
// the APIv2 key; HMAC-SHA256 keyed with the APIv2 key, upper-case hex.
// Empty values are left out.
func SignExtraData(apiV2Key string, data map[string]string) string {
	keys := make([]string, 0, len(data))
	for k, v := range data {
		if k != "sign" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + data[k] + "&")
	}
	b.WriteString("key=" + apiV2Key)
	m := hmac.New(sha256.New, []byte(apiV2Key))
	m.Write([]byte(b.String()))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// VerifyExtraData checks extraData's sign as WeChat's Pay Score page does.
func VerifyExtraData(apiV2Key string, data map[string]string) bool {
	want := SignExtraData(apiV2Key, data)
	return data["sign_type"] == "HMAC-SHA256" && hmac.Equal([]byte(want), []byte(data["sign"]))
}
