package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/internal/childproc"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim/paysim"
	"github.com/shebao/sipay/wxpay"
)

// The reference implementations: the least a correct, durable request
// does, written by hand in their own process (-ref), served over HTTP to
// the same load generator, on the same database and Redis. The real path
// is measured against them in alternated rounds.
//
//   - notify: read the body, RSA-verify the signature with the 5-minute
//     timestamp window, AES-256-GCM decrypt, one transaction holding the
//     conditional UPDATE … WHERE out_trade_no=? AND status='pending_payment'
//     AND amount_fen=? and one outbox INSERT.
//   - order: one INSERT transaction (order and batch), the signed prepay call
//     to the pay simulator with its answer's signature verified, paySign.
//   - quote: the session lookup in Redis (cache.SessionStore.FindSession:
//     one MGET of the session and its generation for a token of the current
//     format, the least a lookup honouring "log out everywhere" needs; no
//     rate limit), the region's rates in memory, one INSERT.

type refServer struct {
	db       *sql.DB
	sessions *cache.SessionStore
	keys     *wxpay.DevKeys
	payURL   string
	hc       *http.Client
}

// serveRef runs the reference server until stdin closes.
func serveRef() error {
	ctx := childproc.UntilStdinCloses()
	db, err := openSQL(os.Getenv("MYSQL_DSN"))
	if err != nil {
		return err
	}
	defer db.Close()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), DB: benchRedisDB})
	defer rdb.Close()
	keys, err := wxpay.LoadOrCreateDevKeys(filepath.Join(os.Getenv("DATA_DIR"), "devkeys"))
	if err != nil {
		return err
	}
	// The pay simulator in this process, as the server runs its own.
	sim := paysim.New(paysim.Config{AppID: keys.AppID, MchID: keys.MchID, MerchantPublicKey: &keys.MerchantKey.PublicKey,
		MerchantSerial: keys.MerchantSerial, PlatformKey: keys.PlatformKey, PublicKeyID: keys.PublicKeyID, APIv3Key: keys.APIv3Key,
		Clock: service.SystemClock{}})
	defer sim.Stop()
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(simLn, sim.Handler())
	r := &refServer{db: db, sessions: cache.NewSessionStore(rdb, service.SystemClock{}), keys: keys,
		payURL: "http://" + simLn.Addr().String(), hc: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 128}}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /notify", r.notify)
	mux.HandleFunc("POST /orders", r.order)
	mux.HandleFunc("POST /quotes", r.quote)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return serveLocal(ctx, mux)
}

func refFail(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": "FAIL", "message": err.Error()})
}

// verifySigned checks a Wechatpay-* signature over ts\nnonce\nbody\n and
// the 5-minute window.
func verifySigned(h http.Header, body []byte, pub *rsa.PublicKey) error {
	ts := h.Get(wxpay.HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad timestamp")
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp outside the 5-minute window")
	}
	sig, err := base64.StdEncoding.DecodeString(h.Get(wxpay.HeaderSignature))
	if err != nil {
		return errors.New("bad signature encoding")
	}
	sum := sha256.Sum256([]byte(ts + "\n" + h.Get(wxpay.HeaderNonce) + "\n" + string(body) + "\n"))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}

func (r *refServer) notify(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		refFail(w, http.StatusBadRequest, err)
		return
	}
	if err := verifySigned(req.Header, body, &r.keys.PlatformKey.PublicKey); err != nil {
		refFail(w, http.StatusUnauthorized, err)
		return
	}
	var env struct {
		ID       string `json:"id"`
		Resource struct {
			Ciphertext     string `json:"ciphertext"`
			AssociatedData string `json:"associated_data"`
			Nonce          string `json:"nonce"`
		} `json:"resource"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		refFail(w, http.StatusBadRequest, err)
		return
	}
	ct, err := base64.StdEncoding.DecodeString(env.Resource.Ciphertext)
	if err != nil {
		refFail(w, http.StatusBadRequest, err)
		return
	}
	block, _ := aes.NewCipher([]byte(r.keys.APIv3Key))
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, []byte(env.Resource.Nonce), ct, []byte(env.Resource.AssociatedData))
	if err != nil {
		refFail(w, http.StatusUnauthorized, err)
		return
	}
	var tr struct {
		OutTradeNo    string `json:"out_trade_no"`
		TransactionID string `json:"transaction_id"`
		Amount        struct {
			Total int64 `json:"total"`
		} `json:"amount"`
	}
	if err := json.Unmarshal(plain, &tr); err != nil {
		refFail(w, http.StatusBadRequest, err)
		return
	}
	if err := r.notifyTx(req.Context(), tr.OutTradeNo, tr.TransactionID, tr.Amount.Total); err != nil {
		refFail(w, http.StatusInternalServerError, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// notifyTx is the minimal durable transition: one conditional UPDATE, one
// outbox INSERT (only when the UPDATE changed the row), commit.
func (r *refServer) notifyTx(ctx context.Context, otn, txID string, amount int64) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UTC().Truncate(time.Microsecond)
	res, err := tx.ExecContext(ctx, "UPDATE batches SET status = 'paid', transaction_id = ?, paid_at = ?, updated_at = ? WHERE out_trade_no = ? AND status = 'pending_payment' AND amount_fen = ?",
		txID, now, now, otn, amount)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		if _, err := tx.ExecContext(ctx, "INSERT INTO outbox (kind,ref,payload,status,attempts,next_attempt_at,deadline_at,lease_owner,lease_until,last_error,created_at,updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON DUPLICATE KEY UPDATE id = id",
			service.JobPostBatch, otn, "", "pending", 0, now, now.Add(service.PostDeadline), "", nil, "", now, now); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func nonceStr() string {
	b := make([]byte, 16)
	rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

func (r *refServer) sign(msg string) (string, error) {
	sum := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, r.keys.MerchantKey, crypto.SHA256, sum[:])
	return base64.StdEncoding.EncodeToString(sig), err
}

func (r *refServer) order(w http.ResponseWriter, req *http.Request) {
	var in struct {
		QuoteID string `json:"quote_id"`
		Amount  int64  `json:"amount_fen"`
		OpenID  string `json:"openid"`
		Month   string `json:"month"`
	}
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<16)).Decode(&in); err != nil || in.QuoteID == "" {
		refFail(w, http.StatusBadRequest, fmt.Errorf("bad request: %v", err))
		return
	}
	ctx := req.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	no := "RF" + strings.TrimPrefix(in.QuoteID, "QREF") // the reference pool's quote ids are QREF + 16 digits
	otn := service.OutTradeNo(no, 1)
	expire := now.Add(30 * time.Minute).Truncate(time.Second)
	err := func() error {
		tx, err := r.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "INSERT INTO orders (order_no,user_id,person_id,quote_id,region,amount_fen,status,created_at,updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
			no, 1, 1, in.QuoteID, "jiangsu", in.Amount, "pending_payment", now, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO batches (order_no,seq,out_trade_no,amount_fen,from_month,to_month,status,prepay_id,expire_at,payer_open_id,updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			no, 1, otn, in.Amount, in.Month, in.Month, "pending_payment", "", expire, in.OpenID, now); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		refFail(w, http.StatusInternalServerError, err)
		return
	}
	// The prepay call, signed, its answer verified.
	body, _ := json.Marshal(map[string]any{"appid": r.keys.AppID, "mchid": r.keys.MchID, "description": "社保缴费", "out_trade_no": otn,
		"time_expire": expire.In(service.Shanghai).Format(time.RFC3339), "notify_url": "https://example.com/notify",
		"amount": map[string]any{"total": in.Amount, "currency": "CNY"}, "payer": map[string]any{"openid": in.OpenID}})
	const path = "/v3/pay/transactions/jsapi"
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), nonceStr()
	sig, err := r.sign("POST\n" + path + "\n" + ts + "\n" + nonce + "\n" + string(body) + "\n")
	if err != nil {
		refFail(w, http.StatusInternalServerError, err)
		return
	}
	preq, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.payURL+path, bytes.NewReader(body))
	preq.Header.Set("Content-Type", "application/json")
	preq.Header.Set("Accept", "application/json")
	preq.Header.Set("Authorization", fmt.Sprintf(`WECHATPAY2-SHA256-RSA2048 mchid="%s",nonce_str="%s",timestamp="%s",serial_no="%s",signature="%s"`,
		r.keys.MchID, nonce, ts, r.keys.MerchantSerial, sig))
	resp, err := r.hc.Do(preq)
	if err != nil {
		refFail(w, http.StatusServiceUnavailable, err)
		return
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		refFail(w, http.StatusServiceUnavailable, fmt.Errorf("prepay: HTTP %d %s %v", resp.StatusCode, rb, err))
		return
	}
	if err := verifySigned(resp.Header, rb, &r.keys.PlatformKey.PublicKey); err != nil {
		refFail(w, http.StatusServiceUnavailable, fmt.Errorf("prepay answer: %w", err))
		return
	}
	var pr struct {
		PrepayID string `json:"prepay_id"`
	}
	if err := json.Unmarshal(rb, &pr); err != nil || pr.PrepayID == "" {
		refFail(w, http.StatusServiceUnavailable, fmt.Errorf("prepay answer %s", rb))
		return
	}
	pts, pnonce := strconv.FormatInt(time.Now().Unix(), 10), nonceStr()
	paySign, err := r.sign(r.keys.AppID + "\n" + pts + "\n" + pnonce + "\nprepay_id=" + pr.PrepayID + "\n")
	if err != nil {
		refFail(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"order_no": no, "pay_params": map[string]string{"appId": r.keys.AppID, "timeStamp": pts,
		"nonceStr": pnonce, "package": "prepay_id=" + pr.PrepayID, "signType": "RSA", "paySign": paySign}})
}

// refRates are Jiangsu's employee rates in basis points, in memory.
var refRates = map[string]int64{"pension": 2000, "medical": 800}

func (r *refServer) quote(w http.ResponseWriter, req *http.Request) {
	token, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	uid, _, err := r.sessions.FindSession(req.Context(), token)
	if err != nil {
		refFail(w, http.StatusUnauthorized, err)
		return
	}
	var in struct {
		Region     string `json:"region"`
		Insurances []struct {
			Type    string `json:"type"`
			BaseFen int64  `json:"base_fen"`
		} `json:"insurances"`
		StartMonth string `json:"start_month"`
	}
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<16)).Decode(&in); err != nil {
		refFail(w, http.StatusBadRequest, err)
		return
	}
	type line struct {
		Insurance string `json:"insurance"`
		Month     string `json:"month"`
		BaseFen   int64  `json:"base_fen"`
		RateBP    int64  `json:"rate_bp"`
		AmountFen int64  `json:"amount_fen"`
	}
	var lines []line
	var total int64
	for _, c := range in.Insurances {
		rate, ok := refRates[c.Type]
		if !ok || c.BaseFen <= 0 {
			refFail(w, http.StatusBadRequest, fmt.Errorf("insurance %q", c.Type))
			return
		}
		amt := c.BaseFen * rate / 10000
		lines = append(lines, line{c.Type, in.StartMonth, c.BaseFen, rate, amt})
		total += amt
	}
	b := make([]byte, 10)
	rand.Read(b)
	id := "QR" + strings.ToUpper(hex.EncodeToString(b))
	lj, _ := json.Marshal(lines)
	bj, _ := json.Marshal([]map[string]any{{"seq": 1, "amount_fen": total, "from_month": in.StartMonth, "to_month": in.StartMonth}})
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := r.db.ExecContext(req.Context(), "INSERT INTO quotes (id,user_id,person_id,region,total_fen,mutual_aid_fen,payable_fen,lines_json,batches_json,created_at,expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
		id, uid, uid, in.Region, total, 0, total, string(lj), string(bj), now, now.Add(30*time.Minute)); err != nil {
		refFail(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"id": id, "lines": lines, "total_fen": total, "payable_fen": total})
}
