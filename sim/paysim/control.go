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
	mux.HandleFunc("POST /sim/pay/pay", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			PrepayID string `json:"prepay_id"`
		}
		if !decode(w, r, &b) {
			return
		}
		no, err := s.Pay(b.PrepayID)
		payAnswer(w, no, err)
	})
	mux.HandleFunc("POST /sim/pay/request-payment", func(w http.ResponseWriter, r *http.Request) {
		var b service.PayParams // the wx.requestPayment parameters, as the mini-program passes them
		if !decode(w, r, &b) {
			return
		}
		no, err := s.RequestPayment(b)
		payAnswer(w, no, err)
	})
	mux.HandleFunc("GET /sim/pay/ledger", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Ledger())
	})
	mux.HandleFunc("GET /sim/pay/deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Deliveries())
	})
	mux.HandleFunc("POST /sim/pay/refund-behavior", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			OutTradeNo      string `json:"out_trade_no"`
			FailCode        string `json:"fail_code"`
			FailTimes       int    `json:"fail_times"`
			FailAfterAccept bool   `json:"fail_after_accept"`
			EndStatus       string `json:"end_status"`
			Hold            bool   `json:"hold"`
		}
		if !decode(w, r, &b) {
			return
		}
		s.SetRefundBehavior(b.OutTradeNo, RefundBehavior{FailCode: b.FailCode, FailTimes: b.FailTimes,
			FailAfterAccept: b.FailAfterAccept, EndStatus: b.EndStatus, Hold: b.Hold})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sim/pay/notify-behavior", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			DropFirst  int  `json:"drop_first"`
			Duplicates int  `json:"duplicates"`
			Concurrent bool `json:"concurrent"`
			Hold       bool `json:"hold"`
		}
		if !decode(w, r, &b) {
			return
		}
		s.SetNotifyBehavior(NotifyBehavior{DropFirst: b.DropFirst, Duplicates: b.Duplicates, Concurrent: b.Concurrent, Hold: b.Hold})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /sim/pay/settle-refund", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			OutRefundNo string `json:"out_refund_no"`
			Status      string `json:"status"`
		}
		if !decode(w, r, &b) {
			return
		}
		if err := s.SettleRefund(b.OutRefundNo, b.Status); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"code": "NOT_FOUND", "message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
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
	mux.HandleFunc("POST /sim/pay/bill-mismatch", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			OutTradeNo string      `json:"out_trade_no"`
			TotalFen   service.Fen `json:"total_fen"`
		}
		if !decode(w, r, &b) {
			return
		}
		s.InjectBillMismatch(b.OutTradeNo, b.TotalFen)
		w.WriteHeader(http.StatusNoContent)
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
