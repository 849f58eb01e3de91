package paysim

import (
	"fmt"
	"strings"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wxpay"
)

// Pay plays the user paying prepayID: the trade becomes SUCCESS with a new
// transaction_id and success_time = Clock.Now(), and a TRANSACTION.SUCCESS
// notification goes to its notify_url.
func (s *Sim) Pay(prepayID string) (outTradeNo string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.prepays[prepayID]
	if !ok {
		return "", ErrUnknownPrepay
	}
	tr := s.trades[p.OutTradeNo]
	now := s.cfg.Clock.Now()
	switch {
	case tr.State == "SUCCESS" || tr.State == "REFUND":
		return tr.OutTradeNo, ErrAlreadyPaid
	case tr.State == "CLOSED":
		return tr.OutTradeNo, ErrTradeClosed
	case now.After(tr.TimeExpire):
		return tr.OutTradeNo, ErrTradeExpired
	case now.Sub(p.CreatedAt) > 2*time.Hour:
		return tr.OutTradeNo, ErrPrepayExpired
	}
	tr.State = "SUCCESS"
	tr.TransactionID = s.newTransactionID(now)
	tr.SuccessTime = now.Truncate(time.Second)
	s.byTxID[tr.TransactionID] = tr
	s.enqueue("TRANSACTION.SUCCESS", "transaction", tr.OutTradeNo, tr.NotifyURL, transactionJSON(tr))
	return tr.OutTradeNo, nil
}

// RequestPayment plays wx.requestPayment: it checks the parameters as
// WeChat's client does (appId, signType RSA, package, paySign verified with
// the merchant public key) and then pays.
func (s *Sim) RequestPayment(p service.PayParams) (outTradeNo string, err error) {
	prepayID, ok := strings.CutPrefix(p.Package, "prepay_id=")
	if p.AppID != s.cfg.AppID || p.SignType != "RSA" || !ok {
		return "", fmt.Errorf("%w: appId, signType or package", ErrBadPaySign)
	}
	if err := wxpay.VerifyPaySign(s.cfg.MerchantPublicKey, p); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadPaySign, err)
	}
	return s.Pay(prepayID)
}

// PrepayIDs returns the prepay_ids issued for outTradeNo, oldest first.
func (s *Sim) PrepayIDs(outTradeNo string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []*prepay
	for _, p := range s.prepays {
		if p.OutTradeNo == outTradeNo {
			ids = append(ids, p)
		}
	}
	out := make([]string, 0, len(ids))
	for len(ids) > 0 {
		min := 0
		for i, p := range ids {
			if p.CreatedAt.Before(ids[min].CreatedAt) || (p.CreatedAt.Equal(ids[min].CreatedAt) && p.ID < ids[min].ID) {
				min = i
			}
		}
		out = append(out, ids[min].ID)
		ids = append(ids[:min], ids[min+1:]...)
	}
	return out
}

// TradeRecord is one trade in the ledger.
type TradeRecord struct {
	OutTradeNo        string      `json:"out_trade_no"`
	TransactionID     string      `json:"transaction_id"`
	State             string      `json:"trade_state"`
	TotalFen          service.Fen `json:"total_fen"`
	SuccessTime       time.Time   `json:"success_time"`
	SuccessfulRefunds int         `json:"successful_refunds"`
	RefundedFen       service.Fen `json:"refunded_fen"` // sum of SUCCESS refunds
}

// RefundRecord is one refund in the ledger.
type RefundRecord struct {
	OutRefundNo string      `json:"out_refund_no"`
	RefundID    string      `json:"refund_id"`
	OutTradeNo  string      `json:"out_trade_no"`
	Status      string      `json:"status"`
	RefundFen   service.Fen `json:"refund_fen"`
	CreateTime  time.Time   `json:"create_time"`
	SuccessTime time.Time   `json:"success_time"`
}

// Ledger is everything the simulator processed: the witness that no trade
// was refunded more than once or beyond its total.
type Ledger struct {
	Trades  []TradeRecord  `json:"trades"`
	Refunds []RefundRecord `json:"refunds"`
}

// Trade returns the record of outTradeNo.
func (l Ledger) Trade(outTradeNo string) (TradeRecord, bool) {
	for _, t := range l.Trades {
		if t.OutTradeNo == outTradeNo {
			return t, true
		}
	}
	return TradeRecord{}, false
}

// Ledger returns a snapshot of all trades and refunds in creation order.
func (s *Sim) Ledger() Ledger {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l Ledger
	for _, no := range s.tradeOrder {
		tr := s.trades[no]
		rec := TradeRecord{OutTradeNo: tr.OutTradeNo, TransactionID: tr.TransactionID, State: tr.State,
			TotalFen: service.Fen(tr.Total), SuccessTime: tr.SuccessTime}
		for _, r := range tr.refunds {
			if r.Status == "SUCCESS" {
				rec.SuccessfulRefunds++
				rec.RefundedFen += service.Fen(r.Refund)
			}
		}
		l.Trades = append(l.Trades, rec)
	}
	for _, no := range s.refundSeq {
		r := s.refunds[no]
		l.Refunds = append(l.Refunds, RefundRecord{OutRefundNo: r.OutRefundNo, RefundID: r.RefundID, OutTradeNo: r.OutTradeNo,
			Status: r.Status, RefundFen: service.Fen(r.Refund), CreateTime: r.CreateTime, SuccessTime: r.SuccessTime})
	}
	return l
}
