package paysim

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shebao/sipay/wxpay"
)

// reply is what a v3 handler answers; v3 signs and writes it.
type reply struct {
	status      int
	body        []byte
	contentType string
	unsigned    bool // bill download: WeChat does not sign it
}

func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		return apiError(http.StatusInternalServerError, "SYSTEM_ERROR", err.Error())
	}
	return reply{status: status, body: b, contentType: "application/json"}
}

// apiError is WeChat Pay's error body {"code","message"}.
func apiError(status int, code, message string) reply {
	return jsonReply(status, map[string]string{"code": code, "message": message})
}

func paramError(format string, args ...any) reply {
	return apiError(http.StatusBadRequest, "PARAM_ERROR", fmt.Sprintf(format, args...))
}

const maxRequestBody = 1 << 20

// jsonBody decodes the request body into a T for h; a body that is not JSON
// is answered PARAM_ERROR, as WeChat Pay does.
func jsonBody[T any](h func(r *http.Request, b T) reply) func(*http.Request, []byte) reply {
	return func(r *http.Request, body []byte) reply {
		var b T
		if err := json.Unmarshal(body, &b); err != nil {
			return paramError("请求体不是合法的JSON：%v", err)
		}
		return h(r, b)
	}
}

// v3 verifies the Authorization header as WeChat Pay does, runs h, and signs
// the answer with the platform key (wall-clock timestamp).
func (s *Sim) v3(h func(r *http.Request, body []byte) reply) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
		var rep reply
		switch {
		case err != nil:
			rep = paramError("读取请求失败")
		case len(body) > maxRequestBody:
			rep = paramError("请求体过大")
		default:
			if err := s.verifyAuthorization(r, body); err != nil {
				s.log.Info("paysim: authorization refused", "path", r.URL.Path, "err", err)
				rep = apiError(http.StatusUnauthorized, "SIGN_ERROR", err.Error())
			} else {
				rep = h(r, body)
			}
		}
		s.write(w, rep)
	})
}

func (s *Sim) write(w http.ResponseWriter, rep reply) {
	if !rep.unsigned {
		hdr, err := wxpay.SignResponseHeaders(s.cfg.PlatformKey, s.cfg.PublicKeyID, time.Now(), rep.body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for k, v := range hdr {
			w.Header()[k] = v
		}
	}
	if rep.contentType != "" && len(rep.body) > 0 {
		w.Header().Set("Content-Type", rep.contentType)
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// verifyAuthorization checks
// WECHATPAY2-SHA256-RSA2048 mchid="",nonce_str="",timestamp="",serial_no="",signature=""
// over METHOD\nURI\ntimestamp\nnonce\nbody\n with the merchant public key.
func (s *Sim) verifyAuthorization(r *http.Request, body []byte) error {
	authz := r.Header.Get("Authorization")
	scheme, params, ok := strings.Cut(authz, " ")
	if !ok || scheme != "WECHATPAY2-SHA256-RSA2048" {
		return errors.New("错误的签名方式，请使用 WECHATPAY2-SHA256-RSA2048")
	}
	kv := map[string]string{}
	for _, part := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return errors.New("Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》")
		}
		kv[k] = v[1 : len(v)-1]
	}
	for _, k := range []string{"mchid", "nonce_str", "timestamp", "serial_no", "signature"} {
		if kv[k] == "" {
			return fmt.Errorf("Http头Authorization缺少%s", k)
		}
	}
	if kv["mchid"] != s.cfg.MchID {
		return errors.New("Http头Authorization中的mchid与请求的商户号不匹配")
	}
	if kv["serial_no"] != s.cfg.MerchantSerial {
		return errors.New("商户证书序列号有误。请使用签名私钥匹配的证书序列号")
	}
	ts, err := strconv.ParseInt(kv["timestamp"], 10, 64)
	if err != nil {
		return errors.New("Http头Authorization中的timestamp格式错误")
	}
	if d := time.Since(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("Http头Authorization中的timestamp与发起请求的时间不得超过5分钟")
	}
	msg := r.Method + "\n" + r.RequestURI + "\n" + kv["timestamp"] + "\n" + kv["nonce_str"] + "\n" + string(body) + "\n"
	sig, err := base64.StdEncoding.DecodeString(kv["signature"])
	if err != nil {
		return errors.New("签名错误，请检查后再试")
	}
	sum := sha256.Sum256([]byte(msg))
	if err := rsa.VerifyPKCS1v15(s.cfg.MerchantPublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return errors.New("签名错误，请检查后再试")
	}
	return nil
}
