package paysim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
	"github.com/shebao/sipay/wxpay/payscore"
)

// WeChat Pay Score (微信支付分) service orders in confirm mode, for credit
// pay: create, query, complete and cancel behind the same merchant
// signature check and signed answers as the payment API; the user's
// confirmation in the Pay Score mini-program (ConfirmServiceOrder, which
// verifies the extraData signature as WeChat's page does); collection
// after completion with WeChat's retries; PAYSCORE.USER_CONFIRM and
// PAYSCORE.USER_PAID notifications. Failure injection: collections that
// fail (FailCollections), and answers that fail before or after the call
// took effect (SetPayScoreFaults). Shapes: wxpay.ServiceOrderJSON.

// CollectionRetry is how long the simulator waits before retrying a failed
// collection (WeChat retries on its own schedule; illustrative).
const CollectionRetry = 24 * time.Hour

var outOrderNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-|*]{1,32}$`)

type scoreOrder struct {
	w          wxpay.ServiceOrderJSON
	packageAt  time.Time
	completes  int // successful complete calls
	attempts   int // collection attempts
	failNext   int // collection attempts still to fail
	nextTry    time.Time
	cancelled  bool
	collecting bool
}

// PayScoreFaults injects failures into the Pay Score API. Each counter is
// used up one call at a time.
type PayScoreFaults struct {
	// CompleteLost completes the order and then answers 500 (the answer
	// is lost: the outcome is unknown to the caller).
	CompleteLost int
	// CompleteFail answers 500 without completing.
	CompleteFail int
	// CancelFail answers 500 without cancelling.
	CancelFail int
	// QueryFail answers 500.
	QueryFail int
}

type scoreState struct {
	orders map[string]*scoreOrder
	seq    []string
	faults PayScoreFaults
	// failFor holds FailCollections of orders not created yet.
	failFor map[string]int
}

func (s *Sim) score() *scoreState {
	if s.scores == nil {
		s.scores = &scoreState{orders: map[string]*scoreOrder{}, failFor: map[string]int{}}
	}
	return s.scores
}

// SetPayScoreFaults replaces the injected Pay Score faults.
func (s *Sim) SetPayScoreFaults(f PayScoreFaults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.score().faults = f
}

func (s *Sim) payScoreRoutes(mux *http.ServeMux) {
	mux.Handle("POST /v3/payscore/serviceorder", s.v3(jsonBody(s.handleScoreCreate)))
	mux.Handle("GET /v3/payscore/serviceorder", s.v3(s.handleScoreQuery))
	mux.Handle("POST /v3/payscore/serviceorder/{no}/complete", s.v3(jsonBody(s.handleScoreComplete)))
	mux.Handle("POST /v3/payscore/serviceorder/{no}/cancel", s.v3(jsonBody(s.handleScoreCancel)))
	payControl(mux, "POST /sim/pay/payscore/confirm", s.ConfirmServiceOrder)
	control(mux, "POST /sim/pay/payscore/faults", func(_ *http.Request, b struct {
		CompleteLost int `json:"complete_lost"`
		CompleteFail int `json:"complete_fail"`
		CancelFail   int `json:"cancel_fail"`
		QueryFail    int `json:"query_fail"`
	}) error {
		s.SetPayScoreFaults(PayScoreFaults{CompleteLost: b.CompleteLost, CompleteFail: b.CompleteFail, CancelFail: b.CancelFail, QueryFail: b.QueryFail})
		return nil
	})
	control(mux, "POST /sim/pay/payscore/{no}/fail-collections", func(r *http.Request, b struct {
		N int `json:"n"`
	}) error {
		s.FailCollections(r.PathValue("no"), b.N)
		return nil
	})
	mux.HandleFunc("POST /sim/pay/payscore/{no}/collect", func(w http.ResponseWriter, r *http.Request) {
		paid, err := s.CollectNow(r.PathValue("no"))
		if err != nil {
			writeJSON(w, http.StatusConflict, map[string]string{"code": "COLLECT_REFUSED", "message": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"paid": paid})
	})
	mux.HandleFunc("GET /sim/pay/payscore", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.ServiceOrders())
	})
}

func (s *Sim) handleScoreCreate(r *http.Request, b wxpay.ServiceOrderJSON) reply {
	switch {
	case b.AppID != s.cfg.AppID:
		return paramError("appid和mch_id不匹配")
	case b.ServiceID == "" || b.ServiceID != s.cfg.PayScoreServiceID:
		return paramError("service_id 不存在或未授权")
	case !outOrderNoRe.MatchString(b.OutOrderNo):
		return paramError("out_order_no 须为1-32位数字、大小写字母、_-|*")
	case b.ServiceIntroduction == "" || utf8.RuneCountInString(b.ServiceIntroduction) > 20:
		return paramError("service_introduction 长度须为1到20个字符")
	case len(b.PostPayments) == 0 || len(b.PostPayments) > 100:
		return paramError("post_payments 须为1到100项")
	case b.RiskFund == nil || b.RiskFund.Amount <= 0:
		return paramError("risk_fund.amount 必须大于0")
	case b.RiskFund.Name != "DEPOSIT" && b.RiskFund.Name != "ADVANCE" && b.RiskFund.Name != "CASH_DEPOSIT" && b.RiskFund.Name != "ESTIMATE_ORDER_COST":
		return paramError("risk_fund.name 无效")
	case b.TimeRange == nil || b.TimeRange.StartTime == "":
		return paramError("缺少参数 time_range.start_time")
	case b.NeedUserConfirm == nil || !*b.NeedUserConfirm || b.OpenID == "":
		return paramError("确认模式须传 need_user_confirm=true 和 openid")
	}
	if u, err := url.Parse(b.NotifyURL); b.NotifyURL == "" || err != nil || !u.IsAbs() {
		return paramError("notify_url 须为完整URL")
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.score()
	o, ok := st.orders[b.OutOrderNo]
	if ok {
		// Re-entrant: the same parameters answer the same order (with a
		// fresh package while it waits for confirmation).
		if o.w.RiskFund.Amount != b.RiskFund.Amount || o.w.OpenID != b.OpenID {
			return apiError(http.StatusBadRequest, "INVALID_REQUEST", "商户订单号重复，参数不一致")
		}
	} else {
		b.MchID = s.cfg.MchID
		b.State = "CREATED"
		b.OrderID = "1000000000" + now.In(service.Shanghai).Format("20060102") + randomDigits(14)
		b.NeedUserConfirm = nil
		o = &scoreOrder{w: b, failNext: st.failFor[b.OutOrderNo]}
		delete(st.failFor, b.OutOrderNo)
		st.orders[b.OutOrderNo] = o
		st.seq = append(st.seq, b.OutOrderNo)
	}
	if o.w.State == "CREATED" && (o.w.Package == "" || now.Sub(o.packageAt) >= time.Hour) {
		// A package is valid one hour; within it a repeat answers the same.
		o.w.Package = "DWPS" + randomHex(40)
		o.packageAt = now
	}
	return jsonReply(http.StatusOK, o.w)
}

func (s *Sim) handleScoreQuery(r *http.Request, _ []byte) reply {
	q := r.URL.Query()
	if q.Get("appid") != s.cfg.AppID || q.Get("service_id") != s.cfg.PayScoreServiceID {
		return paramError("appid 或 service_id 不匹配")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.score()
	if st.faults.QueryFail > 0 {
		st.faults.QueryFail--
		return apiError(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
	}
	o, ok := st.orders[q.Get("out_order_no")]
	if !ok {
		return apiError(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	}
	s.collectDue(o)
	return jsonReply(http.StatusOK, s.scoreView(o))
}

// scoreView is the order as the query API shows it (no package).
func (s *Sim) scoreView(o *scoreOrder) wxpay.ServiceOrderJSON {
	w := o.w
	w.Package = ""
	return w
}

func (s *Sim) handleScoreComplete(r *http.Request, b wxpay.ServiceOrderJSON) reply {
	if b.AppID != s.cfg.AppID || b.ServiceID != s.cfg.PayScoreServiceID {
		return paramError("appid 或 service_id 不匹配")
	}
	var sum int64
	for _, p := range b.PostPayments {
		sum += p.Amount
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.score()
	o, ok := st.orders[r.PathValue("no")]
	switch {
	case !ok:
		return apiError(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	case len(b.PostPayments) == 0 || sum != b.TotalAmount || b.TotalAmount <= 0:
		return paramError("total_amount 须等于 post_payments 金额之和")
	case b.TotalAmount > o.w.RiskFund.Amount:
		return paramError("total_amount 不能超过 risk_fund.amount")
	case b.TimeRange == nil || b.TimeRange.EndTime == "":
		return paramError("缺少参数 time_range.end_time")
	case o.w.State != "DOING" || o.w.StateDescription != "USER_CONFIRM":
		return apiError(http.StatusBadRequest, "INVALID_ORDER_STATE", "订单状态不允许完结："+o.w.State+"/"+o.w.StateDescription)
	}
	if st.faults.CompleteFail > 0 {
		st.faults.CompleteFail--
		return apiError(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
	}
	o.completes++
	o.w.StateDescription = "MCH_COMPLETE"
	o.w.TotalAmount = b.TotalAmount
	o.w.PostPayments = b.PostPayments
	o.w.NeedCollection = true
	o.w.Collection = &wxpay.CollectionJSON{State: "USER_PAYING", TotalAmount: b.TotalAmount, PayingAmount: b.TotalAmount}
	o.collecting = true
	o.nextTry = s.cfg.Clock.Now()
	if st.faults.CompleteLost > 0 {
		st.faults.CompleteLost--
		return apiError(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
	}
	answer := s.scoreView(o) // as completed, before the collection
	s.collectDue(o)
	return jsonReply(http.StatusOK, answer)
}

func (s *Sim) handleScoreCancel(r *http.Request, b wxpay.ServiceOrderJSON) reply {
	if b.AppID != s.cfg.AppID || b.ServiceID != s.cfg.PayScoreServiceID || b.Reason == "" {
		return paramError("appid、service_id 不匹配或缺少 reason")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.score()
	o, ok := st.orders[r.PathValue("no")]
	switch {
	case !ok:
		return apiError(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	case o.w.State == "REVOKED":
	case o.w.State == "CREATED" || (o.w.State == "DOING" && o.w.StateDescription == "USER_CONFIRM"):
		if st.faults.CancelFail > 0 {
			st.faults.CancelFail--
			return apiError(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
		}
		o.w.State, o.w.StateDescription, o.cancelled = "REVOKED", "", true
	default:
		return apiError(http.StatusBadRequest, "INVALID_ORDER_STATE", "订单已完结，不能取消")
	}
	return jsonReply(http.StatusOK, map[string]string{"appid": o.w.AppID, "mchid": o.w.MchID, "service_id": o.w.ServiceID,
		"out_order_no": o.w.OutOrderNo, "order_id": o.w.OrderID})
}

// Errors of the Pay Score controls.
var (
	ErrUnknownPackage = errors.New("paysim: unknown or expired pay score package")
	ErrBadExtraData   = errors.New("paysim: pay score extraData does not verify")
	ErrNotCollecting  = errors.New("paysim: service order is not being collected")
)

// ConfirmServiceOrder plays the user confirming in the Pay Score
// mini-program: extraData (from wx.openBusinessView) must carry our mch_id,
// a package issued within the hour and a sign that verifies with the APIv2
// key. The order becomes DOING/USER_CONFIRM and PAYSCORE.USER_CONFIRM is
// sent to its notify_url.
func (s *Sim) ConfirmServiceOrder(extraData map[string]string) (outOrderNo string, err error) {
	if extraData["mch_id"] != s.cfg.MchID || !payscore.VerifyExtraData(s.cfg.PayScoreAPIv2Key, extraData) {
		return "", ErrBadExtraData
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Clock.Now()
	for _, no := range s.score().seq {
		o := s.score().orders[no]
		if o.w.Package == "" || o.w.Package != extraData["package"] {
			continue
		}
		switch {
		case now.Sub(o.packageAt) > time.Hour:
			return no, ErrUnknownPackage
		case o.w.State != "CREATED":
			return no, fmt.Errorf("paysim: service order is %s", o.w.State)
		}
		o.w.State, o.w.StateDescription = "DOING", "USER_CONFIRM"
		s.enqueue("PAYSCORE.USER_CONFIRM", "payscore", no, o.w.NotifyURL, s.scoreView(o))
		return no, nil
	}
	return "", ErrUnknownPackage
}

// FailCollections makes the next n collection attempts of an order fail
// (insufficient balance); WeChat retries after CollectionRetry.
func (s *Sim) FailCollections(outOrderNo string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.score().orders[outOrderNo]; ok {
		o.failNext = n
	} else {
		s.score().failFor[outOrderNo] = n // for an order not created yet
	}
}

// CollectNow runs one collection attempt now (WeChat's retry), whatever
// the schedule; it reports whether the order is paid.
func (s *Sim) CollectNow(outOrderNo string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.score().orders[outOrderNo]
	if !ok || !o.collecting {
		return false, ErrNotCollecting
	}
	o.nextTry = time.Time{}
	s.collectDue(o)
	return !o.collecting, nil
}

// collectDue runs a due collection attempt. The caller holds s.mu.
func (s *Sim) collectDue(o *scoreOrder) {
	now := s.cfg.Clock.Now()
	if !o.collecting || now.Before(o.nextTry) {
		return
	}
	o.attempts++
	if o.failNext > 0 {
		o.failNext--
		o.nextTry = now.Add(CollectionRetry)
		return
	}
	o.collecting = false
	tx := s.newTransactionID(now)
	paid := now.Truncate(time.Second)
	o.w.State, o.w.StateDescription = "DONE", "MCH_COMPLETE"
	o.w.Collection = &wxpay.CollectionJSON{State: "USER_PAID", TotalAmount: o.w.TotalAmount, PaidAmount: o.w.TotalAmount,
		Details: []wxpay.CollectionDetail{{Seq: 1, Amount: o.w.TotalAmount, PaidType: "NEWTON",
			PaidTime: paid.In(service.Shanghai).Format(wxpay.PayScoreTimeLayout), TransactionID: tx}}}
	// The collection is a WeChat Pay transaction: it appears in the trade
	// bill (out_trade_no column = out_order_no in this simulator).
	tr := &trade{AppID: o.w.AppID, MchID: o.w.MchID, OutTradeNo: o.w.OutOrderNo, Description: o.w.ServiceIntroduction,
		OpenID: o.w.OpenID, Total: o.w.TotalAmount, CreatedAt: now, State: "SUCCESS", TransactionID: tx, SuccessTime: paid,
		TimeExpire: now}
	s.trades[tr.OutTradeNo] = tr
	s.tradeOrder = append(s.tradeOrder, tr.OutTradeNo)
	s.byTxID[tx] = tr
	s.enqueue("PAYSCORE.USER_PAID", "payscore", o.w.OutOrderNo, o.w.NotifyURL, s.scoreView(o))
}

// ServiceOrderRecord is one service order in the ledger.
type ServiceOrderRecord struct {
	OutOrderNo         string `json:"out_order_no"`
	State              string `json:"state"`
	StateDescription   string `json:"state_description"`
	RiskFundFen        int64  `json:"risk_fund_fen"`
	TotalFen           int64  `json:"total_fen"`
	Completes          int    `json:"completes"`
	CollectionAttempts int    `json:"collection_attempts"`
	CollectedFen       int64  `json:"collected_fen"`
	TransactionID      string `json:"transaction_id"`
}

// ServiceOrders lists the service orders, oldest first.
func (s *Sim) ServiceOrders() []ServiceOrderRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ServiceOrderRecord
	for _, no := range s.score().seq {
		o := s.score().orders[no]
		r := ServiceOrderRecord{OutOrderNo: no, State: o.w.State, StateDescription: o.w.StateDescription,
			TotalFen: o.w.TotalAmount, Completes: o.completes, CollectionAttempts: o.attempts}
		if o.w.RiskFund != nil {
			r.RiskFundFen = o.w.RiskFund.Amount
		}
		if c := o.w.Collection; c != nil && c.State == "USER_PAID" {
			r.CollectedFen = c.PaidAmount
			if len(c.Details) > 0 {
				r.TransactionID = c.Details[0].TransactionID
			}
		}
		out = append(out, r)
	}
	return out
}

// ServiceOrder returns one service order's record.
func (s *Sim) ServiceOrder(outOrderNo string) (ServiceOrderRecord, bool) {
	for _, r := range s.ServiceOrders() {
		if r.OutOrderNo == outOrderNo {
			return r, true
		}
	}
	return ServiceOrderRecord{}, false
}
