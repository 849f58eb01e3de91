package wxpay

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// Causes of NotifyParser.Parse errors: Parse returns a *service.Error
// (service.NotifyMalformed for ErrMalformed, service.NotifyUnverified for the
// others) wrapping one of them. Every one of them means "answer WeChat with
// 4XX and do not act on the body".
var (
	// ErrMalformed means headers are missing, the body is too large or not
	// the JSON WeChat sends, or the resource uses an unknown algorithm.
	ErrMalformed = errors.New("malformed wechat pay notification")
	// ErrSignatureProbe means the signature starts with WECHATPAY/SIGNTEST/:
	// WeChat Pay checking that we do verify signatures.
	ErrSignatureProbe = errors.New("wechat pay signature probe")
	// ErrUnknownSerial means Wechatpay-Serial names no key we hold.
	ErrUnknownSerial = errors.New("unknown wechat pay serial")
	// ErrBadSignature means the RSA-SHA256 signature does not verify.
	ErrBadSignature = errors.New("bad wechat pay signature")
	// ErrStaleTimestamp means Wechatpay-Timestamp is more than 5 minutes
	// away from our clock (replay or skew).
	ErrStaleTimestamp = errors.New("stale wechat pay timestamp")
	// ErrDecrypt means the AES-256-GCM resource did not open with the APIv3 key.
	ErrDecrypt = errors.New("cannot decrypt wechat pay notification")
)

// Notification header names and fixed values.
const (
	HeaderTimestamp     = "Wechatpay-Timestamp"
	HeaderNonce         = "Wechatpay-Nonce"
	HeaderSignature     = "Wechatpay-Signature"
	HeaderSerial        = "Wechatpay-Serial"
	HeaderSignatureType = "Wechatpay-Signature-Type"
	HeaderRequestID     = "Request-ID"

	SignatureType   = "WECHATPAY2-SHA256-RSA2048"
	AlgorithmAESGCM = "AEAD_AES_256_GCM"
	signTestPrefix  = "WECHATPAY/SIGNTEST/"
)

// MaxClockSkew is how far Wechatpay-Timestamp may be from our clock.
const MaxClockSkew = 5 * time.Minute

// VerifyKeys are the WeChat Pay keys that sign responses and notifications.
// Wechatpay-Serial chooses one: the public key when it equals PublicKeyID,
// otherwise the platform certificate with that serial. During a migration
// from certificates to the public key both are set.
type VerifyKeys struct {
	PublicKeyID   string
	PublicKey     *rsa.PublicKey
	PlatformCerts []*x509.Certificate
}

func (k VerifyKeys) byserial() map[string]*rsa.PublicKey {
	m := map[string]*rsa.PublicKey{}
	for _, c := range k.PlatformCerts {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok {
			m[utils.GetCertificateSerialNumber(*c)] = pub
		}
	}
	if k.PublicKeyID != "" && k.PublicKey != nil {
		m[k.PublicKeyID] = k.PublicKey
	}
	return m
}

// NotifyParser verifies and decrypts WeChat Pay v3 notifications. It checks
// the timestamp against the injected clock, unlike the SDK's handler, which
// reads the wall clock.
type NotifyParser struct {
	aead  cipher.AEAD
	keys  map[string]*rsa.PublicKey
	clock service.Clock
}

// NewNotifyParser returns a parser that decrypts with apiV3Key (32 bytes)
// and verifies with keys.
func NewNotifyParser(apiV3Key string, keys VerifyKeys, clock service.Clock) (*NotifyParser, error) {
	aead, err := newAESGCM(apiV3Key)
	if err != nil {
		return nil, err
	}
	m := keys.byserial()
	if len(m) == 0 {
		return nil, errors.New("wxpay notify: no verification key (public key or platform certificate) given")
	}
	if clock == nil {
		return nil, errors.New("wxpay notify: nil clock")
	}
	return &NotifyParser{aead: aead, keys: m, clock: clock}, nil
}

func newAESGCM(apiV3Key string) (cipher.AEAD, error) {
	if len(apiV3Key) != 32 {
		return nil, fmt.Errorf("wxpay: APIv3 key must be 32 bytes, got %d", len(apiV3Key))
	}
	block, err := aes.NewCipher([]byte(apiV3Key))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// notifyEnvelope is the outer JSON of a notification.
type notifyEnvelope struct {
	ID           string          `json:"id"`
	CreateTime   string          `json:"create_time"`
	ResourceType string          `json:"resource_type"`
	EventType    string          `json:"event_type"`
	Summary      string          `json:"summary"`
	Resource     *notifyResource `json:"resource"`
}

type notifyResource struct {
	OriginalType   string `json:"original_type"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

// RefundNotification is the decrypted resource of a REFUND.* notification.
// The state field is refund_status, not status as in the refund API.
type RefundNotification struct {
	MchID               string             `json:"mchid"`
	TransactionID       string             `json:"transaction_id"`
	OutTradeNo          string             `json:"out_trade_no"`
	RefundID            string             `json:"refund_id"`
	OutRefundNo         string             `json:"out_refund_no"`
	RefundStatus        string             `json:"refund_status"`
	SuccessTime         string             `json:"success_time,omitempty"`
	UserReceivedAccount string             `json:"user_received_account"`
	Amount              RefundNotifyAmount `json:"amount"`
}

// RefundNotifyAmount is the amount block of a refund notification, in fen.
type RefundNotifyAmount struct {
	Total       int64 `json:"total"`
	Refund      int64 `json:"refund"`
	PayerTotal  int64 `json:"payer_total"`
	PayerRefund int64 `json:"payer_refund"`
}

// Parse verifies and decrypts one notification and returns a
// service.TransactionEvent or a service.RefundEvent. h and body must be
// exactly what arrived (raw body bytes). Errors are service.NotifyMalformed
// (cause ErrMalformed) or service.NotifyUnverified (the other Err* causes).
func (p *NotifyParser) Parse(h http.Header, body []byte) (service.PayEvent, error) {
	ev, err := p.parse(h, body)
	switch {
	case err == nil:
		return ev, nil
	case errors.Is(err, ErrMalformed):
		return nil, service.NotifyMalformed(err)
	default:
		return nil, service.NotifyUnverified(err)
	}
}

func (p *NotifyParser) parse(h http.Header, body []byte) (service.PayEvent, error) {
	if len(body) > service.MaxNotifyBody {
		return nil, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrMalformed, len(body), service.MaxNotifyBody)
	}
	tsStr := strings.TrimSpace(h.Get(HeaderTimestamp))
	nonce := strings.TrimSpace(h.Get(HeaderNonce))
	sig := strings.TrimSpace(h.Get(HeaderSignature))
	serial := strings.TrimSpace(h.Get(HeaderSerial))
	for name, v := range map[string]string{HeaderTimestamp: tsStr, HeaderNonce: nonce, HeaderSignature: sig, HeaderSerial: serial} {
		if v == "" {
			return nil, fmt.Errorf("%w: missing header %s", ErrMalformed, name)
		}
	}
	if st := strings.TrimSpace(h.Get(HeaderSignatureType)); st != "" && st != SignatureType {
		return nil, fmt.Errorf("%w: unsupported %s %q", ErrMalformed, HeaderSignatureType, st)
	}
	ts, err := strconv.ParseInt(tsStr, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %q is not an integer", ErrMalformed, HeaderTimestamp, tsStr)
	}
	if strings.HasPrefix(sig, signTestPrefix) {
		return nil, fmt.Errorf("%w (serial %s)", ErrSignatureProbe, serial)
	}
	pub, ok := p.keys[serial]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSerial, serial)
	}
	if err := verifySHA256WithRSA(pub, tsStr+"\n"+nonce+"\n"+string(body)+"\n", sig); err != nil {
		return nil, fmt.Errorf("%w: serial %s: %v", ErrBadSignature, serial, err)
	}
	skew := p.clock.Now().Sub(time.Unix(ts, 0))
	if skew > MaxClockSkew || skew < -MaxClockSkew {
		return nil, fmt.Errorf("%w: timestamp %d is %v away from now", ErrStaleTimestamp, ts, skew.Round(time.Second))
	}

	var env notifyEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	if env.Resource == nil {
		return nil, fmt.Errorf("%w: no resource", ErrMalformed)
	}
	if env.Resource.Algorithm != AlgorithmAESGCM {
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrMalformed, env.Resource.Algorithm)
	}
	plain, err := p.decrypt(env.Resource)
	if err != nil {
		return nil, err
	}

	switch {
	case strings.HasPrefix(env.EventType, "TRANSACTION."):
		var tx payments.Transaction
		if err := json.Unmarshal(plain, &tx); err != nil {
			return nil, fmt.Errorf("%w: transaction: %v", ErrMalformed, err)
		}
		trade, err := tradeFromTransaction(&tx)
		if err != nil {
			return nil, fmt.Errorf("%w: transaction: %v", ErrMalformed, err)
		}
		return service.TransactionEvent{EventID: env.ID, EventType: env.EventType, Trade: trade, Plaintext: plain}, nil
	case strings.HasPrefix(env.EventType, "REFUND."):
		var rn RefundNotification
		if err := json.Unmarshal(plain, &rn); err != nil {
			return nil, fmt.Errorf("%w: refund: %v", ErrMalformed, err)
		}
		if rn.OutRefundNo == "" || rn.RefundStatus == "" {
			return nil, fmt.Errorf("%w: refund without out_refund_no or refund_status", ErrMalformed)
		}
		res := service.RefundResult{
			MchID:       rn.MchID,
			OutRefundNo: rn.OutRefundNo, RefundID: rn.RefundID, OutTradeNo: rn.OutTradeNo,
			TransactionID: rn.TransactionID, Status: service.RefundStatus(rn.RefundStatus),
			UserReceivedAccount: rn.UserReceivedAccount,
			RefundFen:           service.Fen(rn.Amount.Refund), TotalFen: service.Fen(rn.Amount.Total),
		}
		if rn.SuccessTime != "" {
			t, err := time.Parse(time.RFC3339, rn.SuccessTime)
			if err != nil {
				return nil, fmt.Errorf("%w: refund success_time %q", ErrMalformed, rn.SuccessTime)
			}
			res.SuccessTime = t
		}
		return service.RefundEvent{EventID: env.ID, EventType: env.EventType, Refund: res, Plaintext: plain}, nil
	default:
		return nil, fmt.Errorf("%w: unknown event_type %q", ErrMalformed, env.EventType)
	}
}

func (p *NotifyParser) decrypt(r *notifyResource) ([]byte, error) {
	if len(r.Nonce) != p.aead.NonceSize() {
		return nil, fmt.Errorf("%w: nonce of %d bytes", ErrDecrypt, len(r.Nonce))
	}
	ct, err := base64.StdEncoding.DecodeString(r.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64", ErrDecrypt)
	}
	plain, err := p.aead.Open(nil, []byte(r.Nonce), ct, []byte(r.AssociatedData))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	return plain, nil
}

// verifySHA256WithRSA checks a base64 PKCS#1 v1.5 SHA-256 signature.
func verifySHA256WithRSA(pub *rsa.PublicKey, message, sigB64 string) error {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return errors.New("signature is not base64")
	}
	sum := sha256.Sum256([]byte(message))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}

// tradeFromTransaction converts the SDK transaction (query answer or
// notification resource) into a service.Trade.
func tradeFromTransaction(tx *payments.Transaction) (service.Trade, error) {
	if tx == nil || tx.OutTradeNo == nil || *tx.OutTradeNo == "" {
		return service.Trade{}, errors.New("transaction without out_trade_no")
	}
	t := service.Trade{
		AppID: deref(tx.Appid), MchID: deref(tx.Mchid), OutTradeNo: deref(tx.OutTradeNo),
		TransactionID: deref(tx.TransactionId), State: service.TradeState(deref(tx.TradeState)), Attach: deref(tx.Attach),
	}
	if tx.Payer != nil {
		t.PayerOpenID = deref(tx.Payer.Openid)
	}
	if tx.Amount != nil {
		if tx.Amount.Total != nil {
			t.TotalFen = service.Fen(*tx.Amount.Total)
		}
		t.Currency = deref(tx.Amount.Currency)
	}
	if s := deref(tx.SuccessTime); s != "" {
		st, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return service.Trade{}, fmt.Errorf("success_time %q: %v", s, err)
		}
		t.SuccessTime = st
	}
	return t, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
