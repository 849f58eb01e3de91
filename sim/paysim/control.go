package paysim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/shebao/sipay/service"
)

// controlRoutes mounts the HTTP control API (no authentication: mount the
// simulator only in simulator mode).
//
//	POST /sim/pay/pay              {"prepay_id"}                → {"out_trade_no"}
//	POST /sim/pay/request-payment  wx.requestPayment params     → {"out_trade_no"}
//	GET  /sim/pay/ledger                                         → Ledger
//	GET  /sim/pay/deliveries                                     → []Delivery
//	POST /sim/pay/refund-behavior  {"out_trade_no", RefundBehavior fields}
//	POST /sim/pay/notify-behavior  NotifyBehavior fields
//	POST /sim/pay/settle-refund    {"out_refund_no","status"}
//	POST /sim/pay/release-held     {"reverse","concurrent"}
//	POST /sim/pay/bill-mismatch    {"out_trade_no","total_fen"}
func (s *Sim) controlRoutes(mux *http.ServeMux) {
	payControl(mux, "POST /sim/pay/pay", func(b struct {
		PrepayID string `json:"prepay_id"`
	}) (string, error) {
		return s.Pay(b.PrepayID)
	})
	// The wx.requestPayment parameters, as the mini-program passes them.
	payControl(mux, "POST /sim/pay/request-payment", s.RequestPayment)
	mux.HandleFunc("GET /sim/pay/ledger", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Ledger())
	})
	mux.HandleFunc("GET /sim/pay/deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Deliveries())
	})
	control(mux, "POST /sim/pay/refund-behavior", func(_ *http.Request, b struct {
		OutTradeNo string `json:"out_trade_no"`
		RefundBehavior
	}) error {
		s.SetRefundBehavior(b.OutTradeNo, b.RefundBehavior)
		return nil
	})
	control(mux, "POST /sim/pay/notify-behavior", func(_ *http.Request, b NotifyBehavior) error {
		s.SetNotifyBehavior(b)
		return nil
	})
	control(mux, "POST /sim/pay/settle-refund", func(_ *http.Request, b struct {
		OutRefundNo string `json:"out_refund_no"`
		Status      string `json:"status"`
	}) error {
		return s.SettleRefund(b.OutRefundNo, b.Status)
	})
	mux.HandleFunc("POST /sim/pay/release-held", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Reverse    bool `json:"reverse"`
			Concurrent bool `json:"concurrent"`
		}
		if !decode(w, r, &b) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"released": s.ReleaseHeld(b.Reverse, b.Concurrent)})
	})
	control(mux, "POST /sim/pay/bill-mismatch", func(_ *http.Request, b struct {
		OutTradeNo string      `json:"out_trade_no"`
		TotalFen   service.Fen `json:"total_fen"`
	}) error {
		s.InjectBillMismatch(b.OutTradeNo, b.TotalFen)
		return nil
	})
}

// control mounts a control endpoint: the JSON body is decoded into a T for
// do, answered 204, or 404 NOT_FOUND with do's error.
func control[T any](mux *http.ServeMux, pattern string, do func(r *http.Request, b T) error) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var b T
		if !decode(w, r, &b) {
			return
		}
		if err := do(r, b); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"code": "NOT_FOUND", "message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// payControl mounts a control endpoint where the user pays: the JSON body
// is decoded into a T for pay, answered by payAnswer.
func payControl[T any](mux *http.ServeMux, pattern string, pay func(b T) (outTradeNo string, err error)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var b T
		if !decode(w, r, &b) {
			return
		}
		no, err := pay(b)
		payAnswer(w, no, err)
	})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"code": "PARAM_ERROR", "message": err.Error()})
		return false
	}
	return true
}

func payAnswer(w http.ResponseWriter, outTradeNo string, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"out_trade_no": outTradeNo})
	case errors.Is(err, ErrUnknownPrepay):
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "NOT_FOUND", "message": err.Error()})
	default:
		writeJSON(w, http.StatusConflict, map[string]string{"code": "PAY_REFUSED", "message": err.Error(), "out_trade_no": outTradeNo})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
