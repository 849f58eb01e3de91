package service

import (
	"context"
	"errors"
	"time"
)

// PaymentGateway is WeChat Pay v3 as the service needs it. wxpay.Client
// implements it; tests use fakes.
type PaymentGateway interface {
	// Prepay creates the JSAPI transaction and returns the parameters for
	// wx.requestPayment, signed with the merchant key.
	Prepay(ctx context.Context, p Prepay) (PayParams, error)
	// QueryTrade asks WeChat for a transaction by out_trade_no. It returns an
	// error wrapping ErrTradeNotFound when WeChat answers ORDER_NOT_EXIST.
	QueryTrade(ctx context.Context, outTradeNo string) (Trade, error)
	// CloseTrade closes an unpaid transaction.
	CloseTrade(ctx context.Context, outTradeNo string) error
	// CreateRefund asks for a refund. Retrying with the same OutRefundNo never
	// refunds twice. Errors are *GatewayError when WeChat answered.
	CreateRefund(ctx context.Context, r RefundRequest) (RefundResult, error)
	// QueryRefund reads a refund by out_refund_no.
	QueryRefund(ctx context.Context, outRefundNo string) (RefundResult, error)
	// TradeBill downloads, checks (SHA1) and parses the trade bill of one day
	// (Asia/Shanghai date).
	TradeBill(ctx context.Context, day time.Time) ([]BillRow, error)
}

// ErrTradeNotFound means WeChat knows no transaction with that out_trade_no.
// It never means "closed".
var ErrTradeNotFound = errors.New("trade not found at wechat pay")

// GatewayError is an error answer from WeChat Pay.
type GatewayError struct {
	Status  int    // HTTP status
	Code    string // e.g. SYSTEM_ERROR, NOT_ENOUGH, ORDER_NOT_EXIST
	Message string
}

func (e *GatewayError) Error() string { return "wechat pay: " + e.Code + ": " + e.Message }

// Prepay is a JSAPI prepay request.
type Prepay struct {
	OutTradeNo  string
	Description string
	Attach      string
	PayerOpenID string
	AmountFen   Fen
	ExpireAt    time.Time // time_expire
}

// PayParams are the wx.requestPayment parameters.
type PayParams struct {
	PrepayID  string `json:"-"`
	AppID     string `json:"appId"`
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
}

// TradeState is a trade's trade_state as WeChat Pay reports it. It is
// WeChat's word, not ours: a state outside the list below is possible and
// is alerted where it matters.
type TradeState string

// Trade states reported by WeChat Pay.
const (
	TradeSuccess    TradeState = "SUCCESS"
	TradeRefund     TradeState = "REFUND"
	TradeNotPay     TradeState = "NOTPAY"
	TradeClosed     TradeState = "CLOSED"
	TradeRevoked    TradeState = "REVOKED"
	TradeUserPaying TradeState = "USERPAYING"
	TradePayError   TradeState = "PAYERROR"
)

// Trade is a WeChat Pay transaction as queried or notified.
type Trade struct {
	AppID         string
	MchID         string
	OutTradeNo    string
	TransactionID string
	State         TradeState
	Attach        string
	PayerOpenID   string
	TotalFen      Fen
	Currency      string
	SuccessTime   time.Time
}

// TransactionEvent is a verified, decrypted TRANSACTION.SUCCESS notification.
type TransactionEvent struct {
	EventID   string
	EventType string
	Trade     Trade
	Plaintext []byte // decrypted resource, kept in the raw-event log
}

// RefundStatus is a refund's status as WeChat Pay reports it (ours is
// RefundState).
type RefundStatus string

// Refund statuses reported by WeChat Pay.
const (
	RefundSuccess    RefundStatus = "SUCCESS"
	RefundClosed     RefundStatus = "CLOSED"
	RefundProcessing RefundStatus = "PROCESSING"
	RefundAbnormal   RefundStatus = "ABNORMAL"
)

// RefundEvent is a verified, decrypted REFUND.* notification.
type RefundEvent struct {
	EventID   string
	EventType string // REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED
	Refund    RefundResult
	Plaintext []byte
}

// RefundRequest asks for a refund of one batch.
type RefundRequest struct {
	OutTradeNo  string
	OutRefundNo string
	Reason      string
	RefundFen   Fen
	TotalFen    Fen
}

// RefundResult is a refund as WeChat reports it.
type RefundResult struct {
	MchID               string // set by notifications only (create/query answers carry none)
	OutRefundNo         string
	RefundID            string
	OutTradeNo          string
	TransactionID       string
	Status              RefundStatus
	Channel             string
	UserReceivedAccount string
	RefundFen           Fen
	TotalFen            Fen
	SuccessTime         time.Time
}

// BillRow is one line of the WeChat Pay trade bill, amounts exact in fen.
type BillRow struct {
	TradeTime     time.Time
	AppID         string
	MchID         string
	TransactionID string
	OutTradeNo    string
	TradeState    TradeState // SUCCESS or REFUND
	TotalFen      Fen
	RefundID      string
	OutRefundNo   string
	RefundFen     Fen
	RefundStatus  RefundStatus
}
