// Package wxpay implements service.PaymentGateway on WeChat Pay API v3 with
// the official SDK (wechatpay-go), and parses the v3 payment and refund
// notifications. It never downloads platform certificates at start-up: it
// verifies with the WeChat Pay public key, or with local certificates and the
// public key during a migration.
package wxpay

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shebao/sipay/internal/httpx"
	"github.com/shebao/sipay/service"
	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/cipher/decryptors"
	"github.com/wechatpay-apiv3/wechatpay-go/core/cipher/encryptors"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// Config holds the merchant's WeChat Pay v3 credentials and endpoints.
type Config struct {
	AppID         string // mini-program appid bound to MchID
	MchID         string
	MchCertSerial string // serial of the merchant API certificate
	MchPrivateKey *rsa.PrivateKey
	APIv3Key      string // 32 bytes
	PublicKeyID   string // PUB_KEY_ID_…
	PublicKey     *rsa.PublicKey
	// PlatformCerts are optional local platform certificates. When set, a
	// combined verifier picks the public key or a certificate by
	// Wechatpay-Serial (migration period).
	PlatformCerts []*x509.Certificate
	// APIBase replaces scheme and host of every API call (simulator). Empty
	// means the real https://api.mch.weixin.qq.com.
	APIBase string
	// NotifyURL receives payment notifications; RefundNotifyURL receives
	// refund notifications (empty: NotifyURL).
	NotifyURL       string
	RefundNotifyURL string
	HTTPTimeout     time.Duration // default 15s
	// Transport is the base round tripper (default: the client's own
	// httpx.NewTransport, which keeps connections alive for concurrent calls).
	Transport http.RoundTripper
}

// Validate reports the first missing or malformed setting.
func (c Config) Validate() error {
	switch {
	case c.AppID == "" || c.MchID == "":
		return errors.New("wxpay: appid and mchid are required")
	case c.MchCertSerial == "" || c.MchPrivateKey == nil:
		return errors.New("wxpay: merchant certificate serial and private key are required")
	case len(c.APIv3Key) != 32:
		return fmt.Errorf("wxpay: APIv3 key must be 32 bytes, got %d", len(c.APIv3Key))
	case (c.PublicKeyID == "" || c.PublicKey == nil) && len(c.PlatformCerts) == 0:
		return errors.New("wxpay: the WeChat Pay public key (and its id) or platform certificates are required")
	case c.NotifyURL == "":
		return errors.New("wxpay: notify url is required")
	}
	return nil
}

// Client is the WeChat Pay v3 gateway. It implements service.PaymentGateway.
type Client struct {
	cfg      Config
	clock    service.Clock
	api      *core.Client
	download *core.Client // no response validation: bill files are not signed
	jsapi    jsapi.JsapiApiService
	refunds  refunddomestic.RefundsApiService
}

var _ service.PaymentGateway = (*Client)(nil)

// New builds the client. It makes no network call.
func New(cfg Config, clock service.Clock) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		return nil, errors.New("wxpay: nil clock")
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = 15 * time.Second
	}
	next := cfg.Transport
	if next == nil {
		next = httpx.NewTransport()
	}
	if cfg.APIBase != "" {
		base, err := url.Parse(cfg.APIBase)
		if err != nil || base.Scheme == "" || base.Host == "" {
			return nil, fmt.Errorf("wxpay: bad api base %q", cfg.APIBase)
		}
		next = rewriteTransport{base: base, next: next}
	}
	// The timeout is applied per request by deadlineTransport, not by
	// http.Client.Timeout: wechatpay-go reads the response body and replaces
	// it with a copy without closing the original, so http.Client's timer
	// (and, for a RoundTripper it does not know, such as rewriteTransport,
	// a goroutine) would stay behind until the timeout fired, one per call.
	hc := &http.Client{Transport: deadlineTransport{timeout: cfg.HTTPTimeout, next: next}}

	var auth []core.ClientOption
	switch {
	case len(cfg.PlatformCerts) > 0 && cfg.PublicKey != nil:
		auth = []core.ClientOption{
			option.WithMerchantCredential(cfg.MchID, cfg.MchCertSerial, cfg.MchPrivateKey),
			option.WithVerifier(verifiers.NewSHA256WithRSACombinedVerifier(
				core.NewCertificateMapWithList(cfg.PlatformCerts), cfg.PublicKeyID, *cfg.PublicKey)),
			option.WithWechatPayCipher(
				encryptors.NewWechatPayPubKeyEncryptor(cfg.PublicKeyID, *cfg.PublicKey),
				decryptors.NewWechatPayDecryptor(cfg.MchPrivateKey)),
		}
	case len(cfg.PlatformCerts) > 0:
		//lint:ignore SA1019 local certificates only, no auto download.
		auth = []core.ClientOption{option.WithWechatPayAuthCipher(cfg.MchID, cfg.MchCertSerial, cfg.MchPrivateKey, cfg.PlatformCerts)}
	default:
		auth = []core.ClientOption{option.WithWechatPayPublicKeyAuthCipher(
			cfg.MchID, cfg.MchCertSerial, cfg.MchPrivateKey, cfg.PublicKeyID, cfg.PublicKey)}
	}
	ctx := context.Background()
	api, err := core.NewClient(ctx, append(auth, option.WithHTTPClient(hc))...)
	if err != nil {
		return nil, fmt.Errorf("wxpay: api client: %w", err)
	}
	dl, err := core.NewClient(ctx,
		option.WithMerchantCredential(cfg.MchID, cfg.MchCertSerial, cfg.MchPrivateKey),
		option.WithoutValidator(), option.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("wxpay: download client: %w", err)
	}
	return &Client{cfg: cfg, clock: clock, api: api, download: dl,
		jsapi: jsapi.JsapiApiService{Client: api}, refunds: refunddomestic.RefundsApiService{Client: api}}, nil
}

// NewNotifyParserFromConfig returns a NotifyParser using cfg's APIv3 key,
// public key and platform certificates.
func NewNotifyParserFromConfig(cfg Config, clock service.Clock) (*NotifyParser, error) {
	return NewNotifyParser(cfg.APIv3Key, VerifyKeys{PublicKeyID: cfg.PublicKeyID, PublicKey: cfg.PublicKey, PlatformCerts: cfg.PlatformCerts}, clock)
}

// rewriteTransport sends every request to base (scheme, host and path
// prefix). Request signatures cover only path and query, so they still hold.
type rewriteTransport struct {
	base *url.URL
	next http.RoundTripper
}

func (t rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host, r2.Host = t.base.Scheme, t.base.Host, t.base.Host
	if p := strings.TrimRight(t.base.Path, "/"); p != "" {
		r2.URL.Path = p + r.URL.Path
		if r.URL.RawPath != "" {
			r2.URL.RawPath = p + r.URL.RawPath
		}
	}
	return t.next.RoundTrip(r2)
}

// deadlineTransport bounds each request, body included, by timeout, and
// releases the deadline as soon as the body has been read to its end or
// closed: wechatpay-go reads every body to EOF but never closes it.
type deadlineTransport struct {
	timeout time.Duration
	next    http.RoundTripper
}

func (t deadlineTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), t.timeout)
	resp, err := t.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &releasingBody{rc: resp.Body, cancel: cancel}
	return resp, nil
}

// releasingBody closes the underlying body and cancels the request's
// deadline at EOF (or any read error) and on Close, whichever comes first.
type releasingBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
	done   bool
	err    error // the read error that ended the body, returned again
}

func (b *releasingBody) Read(p []byte) (int, error) {
	if b.done {
		if b.err == nil {
			return 0, http.ErrBodyReadAfterClose
		}
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.err = err
		b.release()
	}
	return n, err
}

func (b *releasingBody) Close() error {
	if b.done {
		return nil
	}
	return b.release()
}

func (b *releasingBody) release() error {
	b.done = true
	err := b.rc.Close()
	b.cancel()
	return err
}

// Prepay creates the JSAPI transaction and returns signed wx.requestPayment
// parameters.
func (c *Client) Prepay(ctx context.Context, p service.Prepay) (service.PayParams, error) {
	req := jsapi.PrepayRequest{
		Appid:       core.String(c.cfg.AppID),
		Mchid:       core.String(c.cfg.MchID),
		Description: core.String(p.Description),
		OutTradeNo:  core.String(p.OutTradeNo),
		NotifyUrl:   core.String(c.cfg.NotifyURL),
		Amount:      &jsapi.Amount{Total: core.Int64(int64(p.AmountFen)), Currency: core.String("CNY")},
		Payer:       &jsapi.Payer{Openid: core.String(p.PayerOpenID)},
	}
	if !p.ExpireAt.IsZero() {
		req.TimeExpire = core.Time(p.ExpireAt.In(service.Shanghai).Truncate(time.Second))
	}
	if p.Attach != "" {
		req.Attach = core.String(p.Attach)
	}
	resp, _, err := c.jsapi.Prepay(ctx, req)
	if err != nil {
		return service.PayParams{}, gatewayErr("prepay "+p.OutTradeNo, err)
	}
	if resp.PrepayId == nil || *resp.PrepayId == "" {
		return service.PayParams{}, fmt.Errorf("wxpay prepay %s: empty prepay_id", p.OutTradeNo)
	}
	return c.PayParamsFor(*resp.PrepayId)
}

// PayParamsFor signs fresh wx.requestPayment parameters for an existing
// prepay_id (valid 2 hours at WeChat). The timestamp comes from the clock.
func (c *Client) PayParamsFor(prepayID string) (service.PayParams, error) {
	nonce, err := utils.GenerateNonce()
	if err != nil {
		return service.PayParams{}, fmt.Errorf("wxpay pay params: %w", err)
	}
	ts := strconv.FormatInt(c.clock.Now().Unix(), 10)
	pkg := "prepay_id=" + prepayID
	sig, err := c.api.Sign(context.Background(), PaySignMessage(c.cfg.AppID, ts, nonce, pkg))
	if err != nil {
		return service.PayParams{}, fmt.Errorf("wxpay pay params: %w", err)
	}
	return service.PayParams{PrepayID: prepayID, AppID: c.cfg.AppID, TimeStamp: ts, NonceStr: nonce,
		Package: pkg, SignType: "RSA", PaySign: sig.Signature}, nil
}

// PaySignMessage is the string paySign signs:
// appId\ntimeStamp\nnonceStr\npackage\n.
func PaySignMessage(appID, timestamp, nonce, pkg string) string {
	return appID + "\n" + timestamp + "\n" + nonce + "\n" + pkg + "\n"
}

// PaySign signs wx.requestPayment parameters with the merchant private key.
func PaySign(key *rsa.PrivateKey, appID, timestamp, nonce, pkg string) (string, error) {
	return utils.SignSHA256WithRSA(PaySignMessage(appID, timestamp, nonce, pkg), key)
}

// VerifyPaySign checks a paySign with the merchant public key, as WeChat's
// client does. The simulator and tests use it.
func VerifyPaySign(pub *rsa.PublicKey, p service.PayParams) error {
	return verifySHA256WithRSA(pub, PaySignMessage(p.AppID, p.TimeStamp, p.NonceStr, p.Package), p.PaySign)
}

// QueryTrade reads a transaction by out_trade_no. ORDER_NOT_EXIST gives an
// error wrapping service.ErrTradeNotFound.
func (c *Client) QueryTrade(ctx context.Context, outTradeNo string) (service.Trade, error) {
	tx, _, err := c.jsapi.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{
		OutTradeNo: core.String(outTradeNo), Mchid: core.String(c.cfg.MchID)})
	if err != nil {
		var apiErr *core.APIError
		if errors.As(err, &apiErr) && apiErr.Code == "ORDER_NOT_EXIST" {
			return service.Trade{}, fmt.Errorf("wxpay query %s: %w (%w)", outTradeNo, service.ErrTradeNotFound, toGatewayError(apiErr))
		}
		return service.Trade{}, gatewayErr("query "+outTradeNo, err)
	}
	t, err := tradeFromTransaction(tx)
	if err != nil {
		return service.Trade{}, fmt.Errorf("wxpay query %s: %w", outTradeNo, err)
	}
	return t, nil
}

// CloseTrade closes an unpaid transaction (204 from WeChat).
func (c *Client) CloseTrade(ctx context.Context, outTradeNo string) error {
	_, err := c.jsapi.CloseOrder(ctx, jsapi.CloseOrderRequest{OutTradeNo: core.String(outTradeNo), Mchid: core.String(c.cfg.MchID)})
	if err != nil {
		return gatewayErr("close "+outTradeNo, err)
	}
	return nil
}

// CreateRefund asks for a refund; the same OutRefundNo never refunds twice.
func (c *Client) CreateRefund(ctx context.Context, r service.RefundRequest) (service.RefundResult, error) {
	notifyURL := c.cfg.RefundNotifyURL
	if notifyURL == "" {
		notifyURL = c.cfg.NotifyURL
	}
	req := refunddomestic.CreateRequest{
		OutTradeNo:  core.String(r.OutTradeNo),
		OutRefundNo: core.String(r.OutRefundNo),
		NotifyUrl:   core.String(notifyURL),
		Amount: &refunddomestic.AmountReq{Refund: core.Int64(int64(r.RefundFen)),
			Total: core.Int64(int64(r.TotalFen)), Currency: core.String("CNY")},
	}
	if r.Reason != "" {
		req.Reason = core.String(r.Reason)
	}
	resp, _, err := c.refunds.Create(ctx, req)
	if err != nil {
		return service.RefundResult{}, gatewayErr("refund "+r.OutRefundNo, err)
	}
	return refundResult(resp), nil
}

// QueryRefund reads a refund by out_refund_no.
func (c *Client) QueryRefund(ctx context.Context, outRefundNo string) (service.RefundResult, error) {
	resp, _, err := c.refunds.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String(outRefundNo)})
	if err != nil {
		return service.RefundResult{}, gatewayErr("query refund "+outRefundNo, err)
	}
	return refundResult(resp), nil
}

func refundResult(r *refunddomestic.Refund) service.RefundResult {
	res := service.RefundResult{
		OutRefundNo: deref(r.OutRefundNo), RefundID: deref(r.RefundId), OutTradeNo: deref(r.OutTradeNo),
		TransactionID: deref(r.TransactionId), UserReceivedAccount: deref(r.UserReceivedAccount),
	}
	if r.Status != nil {
		res.Status = service.RefundStatus(*r.Status)
	}
	if r.Channel != nil {
		res.Channel = string(*r.Channel)
	}
	if r.Amount != nil {
		res.RefundFen = service.Fen(deref(r.Amount.Refund))
		res.TotalFen = service.Fen(deref(r.Amount.Total))
	}
	if r.SuccessTime != nil {
		res.SuccessTime = *r.SuccessTime
	}
	return res
}

// gatewayErr turns an SDK *core.APIError into a *service.GatewayError
// (wrapped with the operation); other errors (network, signature) are
// wrapped as they are.
func gatewayErr(op string, err error) error {
	var apiErr *core.APIError
	if errors.As(err, &apiErr) {
		return fmt.Errorf("wxpay %s: %w", op, toGatewayError(apiErr))
	}
	return fmt.Errorf("wxpay %s: %w", op, err)
}

func toGatewayError(e *core.APIError) *service.GatewayError {
	return &service.GatewayError{Status: e.StatusCode, Code: e.Code, Message: e.Message}
}

// apiURL is the full URL of a v3 path at the real host; the transport
// rewrites it when APIBase is set.
func apiURL(pathAndQuery string) string { return consts.WechatPayAPIServer + pathAndQuery }
