// Package paysim is an in-process WeChat Pay API v3 simulator: JSAPI prepay,
// query, close, domestic refunds and the trade bill, with WeChat's request
// signature checks, signed responses, and signed, encrypted notifications
// re-sent on WeChat's retry schedule. Tests and the demo drive it through Go
// methods or the HTTP control API under /sim/pay/.
package paysim

import (
	"crypto/rsa"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/shebao/sipay/service"
)

// DefaultSchedule is WeChat Pay's documented notification retry schedule:
// 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h (24h4m in total).
var DefaultSchedule = []time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 60 * time.Minute,
	3 * time.Hour, 3 * time.Hour, 3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

// Config configures the simulator.
type Config struct {
	AppID, MchID string
	// MerchantPublicKey and MerchantSerial verify our Authorization headers
	// and paySign.
	MerchantPublicKey *rsa.PublicKey
	MerchantSerial    string
	// PlatformKey is the "WeChat Pay public key" pair: the simulator signs
	// responses and notifications with it, naming PublicKeyID.
	PlatformKey *rsa.PrivateKey
	PublicKeyID string
	APIv3Key    string
	// Clock is the business clock (success_time, expiry, notification
	// timestamps, bill dates). Request/response signatures use wall time, as
	// the SDK does.
	Clock service.Clock
	// NotifyClient posts notifications (default: 5s timeout).
	NotifyClient *http.Client
	// Schedule is the wait before each retry (default DefaultSchedule);
	// ScheduleScale multiplies it (0 means 1) so tests can compress it.
	Schedule      []time.Duration
	ScheduleScale float64
	// RefundDelay is the wall time a refund stays PROCESSING before it ends
	// (0: it ends right after the create call answers).
	RefundDelay time.Duration
	Logger      *slog.Logger
	// PayScoreServiceID and PayScoreAPIv2Key are the merchant's Pay Score
	// service id and the key that signs the confirmation extraData.
	PayScoreServiceID string
	PayScoreAPIv2Key  string
}

// Sim is the simulator. It is safe for concurrent use.
type Sim struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client

	mu         sync.Mutex
	trades     map[string]*trade  // by out_trade_no
	tradeOrder []string           // creation order
	prepays    map[string]*prepay // by prepay_id
	refunds    map[string]*refund // by out_refund_no
	refundSeq  []string           // creation order
	byTxID     map[string]*trade  // by transaction_id
	refundBeh  map[string]RefundBehavior
	notifyBeh  NotifyBehavior
	held       []*delivery
	deliveries []*delivery
	bills      map[string]billFile // by token
	billAlter  map[string]service.Fen
	seq        int64
	stopped    bool
	enqueued   chan struct{} // closed and replaced on every new delivery
	scores     *scoreState   // Pay Score service orders (payscore.go)

	stop chan struct{}
	wg   sync.WaitGroup
}

type trade struct {
	AppID, MchID, OutTradeNo, Description, Attach, NotifyURL, OpenID string
	Total                                                            int64
	TimeExpire                                                       time.Time
	CreatedAt                                                        time.Time
	State                                                            string
	TransactionID                                                    string
	SuccessTime                                                      time.Time
	refunds                                                          []*refund
}

type prepay struct {
	ID         string
	OutTradeNo string
	CreatedAt  time.Time
}

type refund struct {
	RefundID, OutRefundNo, OutTradeNo, TransactionID, Reason, NotifyURL string
	Refund, Total                                                       int64
	Status                                                              string
	CreateTime, SuccessTime                                             time.Time
}

// New returns a simulator. Call Stop when done.
func New(cfg Config) *Sim {
	if cfg.Clock == nil {
		cfg.Clock = service.SystemClock{}
	}
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.ScheduleScale <= 0 {
		cfg.ScheduleScale = 1
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	client := cfg.NotifyClient
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return &Sim{cfg: cfg, log: log, client: client,
		trades: map[string]*trade{}, prepays: map[string]*prepay{}, refunds: map[string]*refund{},
		byTxID: map[string]*trade{}, refundBeh: map[string]RefundBehavior{}, bills: map[string]billFile{},
		billAlter: map[string]service.Fen{}, stop: make(chan struct{}), enqueued: make(chan struct{})}
}

// Stop stops background deliveries and refund timers and waits for them.
// It is safe to call more than once.
func (s *Sim) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait()
}

// goBackground runs f in a tracked goroutine unless the simulator stopped.
// The caller holds s.mu.
func (s *Sim) goBackground(f func()) {
	if s.stopped {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// sleep waits d or until Stop; it reports false when stopped.
func (s *Sim) sleep(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-s.stop:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.stop:
		return false
	case <-t.C:
		return true
	}
}

// Handler serves the v3 API and the /sim/pay/ control API.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v3/pay/transactions/jsapi", s.v3(jsonBody(s.handlePrepay)))
	mux.Handle("GET /v3/pay/transactions/out-trade-no/{no}", s.v3(s.handleQuery))
	mux.Handle("POST /v3/pay/transactions/out-trade-no/{no}/close", s.v3(s.handleClose))
	mux.Handle("POST /v3/refund/domestic/refunds", s.v3(jsonBody(s.handleCreateRefund)))
	mux.Handle("GET /v3/refund/domestic/refunds/{no}", s.v3(s.handleQueryRefund))
	mux.Handle("GET /v3/bill/tradebill", s.v3(s.handleTradeBill))
	mux.Handle("GET /v3/billdownload/file", s.v3(s.handleBillDownload))
	mux.Handle("/v3/", s.v3(func(*http.Request, []byte) reply {
		return apiError(http.StatusNotFound, "NOT_FOUND", "接口不存在")
	}))
	s.payScoreRoutes(mux)
	s.controlRoutes(mux)
	return mux
}

// Errors returned by the control methods.
var (
	ErrUnknownPrepay  = errors.New("paysim: unknown prepay_id")
	ErrPrepayExpired  = errors.New("paysim: prepay_id older than 2 hours")
	ErrTradeExpired   = errors.New("paysim: order past time_expire")
	ErrTradeClosed    = errors.New("paysim: order closed")
	ErrAlreadyPaid    = errors.New("paysim: order already paid")
	ErrBadPaySign     = errors.New("paysim: wx.requestPayment parameters do not verify")
	ErrUnknownTrade   = errors.New("paysim: unknown out_trade_no")
	ErrNoSuchDelivery = errors.New("paysim: no such delivery")
)
