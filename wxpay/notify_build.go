package wxpay

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/shebao/sipay/service"
)

// SignNotification builds a notification exactly as WeChat Pay sends it:
// resource (marshalled to JSON unless it is []byte) encrypted with AES-256-GCM
// under apiV3Key with associated_data = originalType, wrapped in the event
// envelope, and the headers signed with key over "ts\nnonce\nbody\n".
// Wechatpay-Serial is serial. The simulator and tests use it; production code
// never does.
func SignNotification(eventType string, resource any, originalType string, key *rsa.PrivateKey, serial, apiV3Key string, ts time.Time) (http.Header, []byte, error) {
	plain, ok := resource.([]byte)
	if !ok {
		var err error
		if plain, err = json.Marshal(resource); err != nil {
			return nil, nil, fmt.Errorf("sign notification: marshal resource: %w", err)
		}
	}
	aead, err := newAESGCM(apiV3Key)
	if err != nil {
		return nil, nil, err
	}
	nonce := randomAlnum(aead.NonceSize())
	ct := aead.Seal(nil, []byte(nonce), plain, []byte(originalType))
	env := notifyEnvelope{
		ID:           "EV-" + randomDigits(20),
		CreateTime:   ts.In(service.Shanghai).Format(time.RFC3339),
		ResourceType: "encrypt-resource",
		EventType:    eventType,
		Summary:      summaryOf(eventType),
		Resource: &notifyResource{
			OriginalType: originalType, Algorithm: AlgorithmAESGCM,
			Ciphertext: base64.StdEncoding.EncodeToString(ct), AssociatedData: originalType, Nonce: nonce,
		},
	}
	body, err := json.Marshal(env)
	if err != nil {
		return nil, nil, err
	}
	h, err := SignResponseHeaders(key, serial, ts, body)
	if err != nil {
		return nil, nil, err
	}
	h.Set("Content-Type", "application/json")
	return h, body, nil
}

// SignResponseHeaders returns the Wechatpay-* headers WeChat Pay puts on a
// response or notification with body, signed with key at time ts.
func SignResponseHeaders(key *rsa.PrivateKey, serial string, ts time.Time, body []byte) (http.Header, error) {
	nonce := randomAlnum(32)
	tsStr := strconv.FormatInt(ts.Unix(), 10)
	sig, err := utils.SignSHA256WithRSA(tsStr+"\n"+nonce+"\n"+string(body)+"\n", key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	h := http.Header{}
	h.Set(HeaderTimestamp, tsStr)
	h.Set(HeaderNonce, nonce)
	h.Set(HeaderSignature, sig)
	h.Set(HeaderSerial, serial)
	h.Set(HeaderSignatureType, SignatureType)
	h.Set(HeaderRequestID, newRequestID())
	return h, nil
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%X", b)
}

func summaryOf(eventType string) string {
	switch eventType {
	case "TRANSACTION.SUCCESS":
		return "支付成功"
	case "REFUND.SUCCESS":
		return "退款成功"
	case "REFUND.ABNORMAL":
		return "退款异常"
	case "REFUND.CLOSED":
		return "退款关闭"
	}
	return eventType
}
