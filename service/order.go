package service

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OrderStatus is the status of an order and of each of its batches. It is a
// closed set; batches never take the order-only StatusPartiallyPaid and
// StatusPartiallyRefunded, and move only through the Batch transition
// methods (the table is batchTransitions).
type OrderStatus string

// Statuses. The after-payment flow drives the ones after paid.
const (
	StatusPendingPayment OrderStatus = "pending_payment" // waiting for WeChat Pay
	StatusPartiallyPaid  OrderStatus = "partially_paid"  // order only: some batches paid, some pending
	StatusPaid           OrderStatus = "paid"            // WeChat confirmed payment; posting queued
	StatusHeld           OrderStatus = "held"            // risk hold (资金冻结) for up to 24 h before posting
	StatusPosting        OrderStatus = "posting"         // being posted to the provincial platform
	StatusPosted         OrderStatus = "posted"          // accepted by the provincial platform
	// StatusConfirming: the posting's outcome is unknown (the 72-hour window
	// ended while the platform's answers were lost, unsigned, 5xx or
	// configuration faults). The money is kept; we ask the platform to void
	// the posting until it confirms, or operations resolve it (待确认).
	StatusConfirming OrderStatus = "confirming"
	StatusRefunding  OrderStatus = "refunding" // refund to the original route in progress
	StatusRefunded   OrderStatus = "refunded"  // refund succeeded
	// StatusPartiallyRefunded is an order-only status: every batch is final,
	// at least one posted and at least one refunded.
	StatusPartiallyRefunded OrderStatus = "partially_refunded"
	StatusClosed            OrderStatus = "closed" // never paid; closed at WeChat
)

// AllStatuses lists every status, in lifecycle order.
var AllStatuses = []OrderStatus{StatusPendingPayment, StatusPartiallyPaid, StatusPaid, StatusHeld,
	StatusPosting, StatusConfirming, StatusPosted, StatusRefunding, StatusRefunded, StatusPartiallyRefunded, StatusClosed}

// Valid reports whether s is one of the statuses.
func (s OrderStatus) Valid() bool {
	for _, v := range AllStatuses {
		if v == s {
			return true
		}
	}
	return false
}

// batchTransitions is the one table of allowed batch transitions.
var batchTransitions = map[OrderStatus][]OrderStatus{
	StatusPendingPayment: {StatusPaid, StatusClosed},
	StatusPaid:           {StatusHeld, StatusPosting, StatusRefunding},
	StatusHeld:           {StatusPosting, StatusRefunding},
	StatusPosting:        {StatusPosted, StatusRefunding, StatusConfirming},
	StatusConfirming:     {StatusPosted, StatusRefunding},
	StatusRefunding:      {StatusRefunded},
}

// CanTransition reports whether a batch may move from one status to another.
func CanTransition(from, to OrderStatus) bool {
	return slices.Contains(batchTransitions[from], to)
}

// CodeInvalidTransition is the 409 of a batch change the state machine
// does not allow; nothing is written.
const CodeInvalidTransition = "invalid_transition"

func invalidTransition(from, to OrderStatus) *Error {
	return Errorf(KindConflict, CodeInvalidTransition, "订单状态不允许从 %s 变为 %s", from, to)
}

// Order is a payment for one quote. It has one or more batches, each paid by
// its own WeChat transaction.
type Order struct {
	No        string
	UserID    int64 // the payer
	PersonID  int64 // the insured person
	QuoteID   string
	Region    string
	AmountFen Fen // sum of the batches
	Status    OrderStatus
	Batches   []Batch
	// Claims are the (insurance, month) pairs the order covers for its
	// person, written with the order (order_months) and never loaded: one
	// open order per person, insurance and month.
	Claims []MonthClaim
	// MutualAidFen and MutualAidBalanceFen come from the quote and are
	// never loaded: when MutualAidFen > 0 the store checks, in the order's
	// transaction, that the person's other open orders in the region plus
	// MutualAidFen stay within MutualAidBalanceFen (409 mutual_aid_committed).
	MutualAidFen        Fen
	MutualAidBalanceFen Fen
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// MonthClaim is one insurance month an order covers, with the batch that
// pays it. A claim is released when its batch is closed or refunded.
type MonthClaim struct {
	Insurance  string
	Month      string
	OutTradeNo string
}

// CodeMonthAlreadyOrdered is the 409 when another open order already covers
// one of the months; the message names that order.
const CodeMonthAlreadyOrdered = "month_already_ordered"

// MonthAlreadyOrdered returns the 409 naming the open order holding a month.
func MonthAlreadyOrdered(insurance, month, orderNo string) *Error {
	return &Error{Kind: KindConflict, Code: CodeMonthAlreadyOrdered,
		Message: fmt.Sprintf("%s %s 已在订单 %s 中待支付或处理中，请先完成或取消该订单", insuranceName(insurance), month, orderNo)}
}

// CodeMutualAidCommitted is the 409 when the family mutual-aid balance a
// quote spends is already committed to another open order of the person.
const CodeMutualAidCommitted = "mutual_aid_committed"

// MutualAidCommitted returns the 409 refusing an order whose mutual aid is
// no longer available; a new quote deducts only what is left.
func MutualAidCommitted() *Error {
	return &Error{Kind: KindConflict, Code: CodeMutualAidCommitted,
		Message: "家庭共济账户余额已被其他待处理订单占用，请重新获取报价"}
}

// Batch is one WeChat Pay transaction of an order.
type Batch struct {
	OrderNo     string
	Seq         int
	OutTradeNo  string
	AmountFen   Fen
	FromMonth   string
	ToMonth     string
	Status      OrderStatus
	PrepayID    string
	PrepayAt    time.Time // when the current prepay_id was issued (valid 2 h)
	ExpireAt    time.Time // time_expire sent to WeChat
	PayerOpenID string
	// Set when paid.
	TransactionID string
	PaidAt        time.Time // WeChat success_time; the 72-hour window starts here
	UpdatedAt     time.Time
}

// The transitions of a batch. Each one enforces batchTransitions and
// returns a KindConflict error (invalid_transition, or not_refundable for
// BeginRefund) without changing the batch when it is not allowed. Use cases
// call them inside an OrderStore.UpdateBatch closure and decide there what
// a repeat means (usually ErrNoChange); the store only persists the result.

func (b *Batch) moveTo(to OrderStatus) error {
	if !CanTransition(b.Status, to) {
		return invalidTransition(b.Status, to)
	}
	b.Status = to
	return nil
}

// MarkPaid records WeChat's payment of a pending batch: its transaction
// and success time, where the 72-hour window starts.
func (b *Batch) MarkPaid(transactionID string, at time.Time) error {
	if err := b.moveTo(StatusPaid); err != nil {
		return err
	}
	b.TransactionID, b.PaidAt = transactionID, at.UTC()
	return nil
}

// Close closes a batch that was never paid.
func (b *Batch) Close() error { return b.moveTo(StatusClosed) }

// Hold puts a paid batch on risk hold (资金冻结) before posting.
func (b *Batch) Hold() error {
	if b.Status != StatusPaid {
		return invalidTransition(b.Status, StatusHeld)
	}
	return b.moveTo(StatusHeld)
}

// StartPosting sends a paid batch that passed the risk screen to posting.
func (b *Batch) StartPosting() error {
	if b.Status != StatusPaid {
		return invalidTransition(b.Status, StatusPosting)
	}
	return b.moveTo(StatusPosting)
}

// Release sends a held batch to posting (operations, or the hold's expiry).
func (b *Batch) Release() error {
	if b.Status != StatusHeld {
		return invalidTransition(b.Status, StatusPosting)
	}
	return b.moveTo(StatusPosting)
}

// AwaitConfirmation marks a posting whose outcome is unknown at the end of
// its window: the money is kept until the platform or operations confirm.
func (b *Batch) AwaitConfirmation() error { return b.moveTo(StatusConfirming) }

// Post records that the platform booked the batch.
func (b *Batch) Post() error { return b.moveTo(StatusPosted) }

// codeNotRefundable is the 409 of a refund the batch's status forbids.
const codeNotRefundable = "not_refundable"

// BeginRefund moves the batch to refunding. from, when given, narrows the
// statuses it may start from (a decision taken on a held batch must not
// refund a batch released meanwhile); any status the state machine allows
// otherwise.
func (b *Batch) BeginRefund(from ...OrderStatus) error {
	if (len(from) > 0 && !slices.Contains(from, b.Status)) || !CanTransition(b.Status, StatusRefunding) {
		return Errorf(KindConflict, codeNotRefundable, "订单状态为 %s，不能退款", b.Status)
	}
	return b.moveTo(StatusRefunding)
}

// MarkRefunded records that WeChat returned the batch's money.
func (b *Batch) MarkRefunded() error { return b.moveTo(StatusRefunded) }

// Refunding reports whether the money of the batch is being or was
// returned, so no refund may begin again.
func (b *Batch) Refunding() bool { return b.Status == StatusRefunding || b.Status == StatusRefunded }

// Batch returns the batch of o with out_trade_no, or nil.
func (o *Order) Batch(outTradeNo string) *Batch {
	for i := range o.Batches {
		if o.Batches[i].OutTradeNo == outTradeNo {
			return &o.Batches[i]
		}
	}
	return nil
}

// SyncStatus sets the order's status from its batches (DeriveOrderStatus).
// Stores call it on every read and before every write of the order row.
func (o *Order) SyncStatus() { o.Status = DeriveOrderStatus(o.Batches) }

// Settle checks a change a BatchUpdater made to batch b, whose status was
// from before, against the state machine (a closure that assigned a status
// instead of calling a transition is caught here), and recomputes the
// order's status. The store calls it before writing; an error means
// nothing is written.
func (o *Order) Settle(b *Batch, from OrderStatus) error {
	if b.Status != from && !CanTransition(from, b.Status) {
		return invalidTransition(from, b.Status)
	}
	o.SyncStatus()
	return nil
}

// DeriveOrderStatus computes an order's status from its batches. The order
// row stores the result, written in the same transaction as any batch change.
func DeriveOrderStatus(batches []Batch) OrderStatus {
	count := map[OrderStatus]int{}
	open := 0
	for _, b := range batches {
		count[b.Status]++
		if b.Status != StatusClosed {
			open++
		}
	}
	switch {
	case open == 0:
		return StatusClosed
	case count[StatusPendingPayment] == open:
		return StatusPendingPayment
	case count[StatusPendingPayment] > 0:
		return StatusPartiallyPaid
	}
	// Every open batch is paid or beyond: the least advanced wins, so the user
	// sees what is still in progress.
	for _, s := range []OrderStatus{StatusRefunding, StatusConfirming, StatusHeld, StatusPaid, StatusPosting} {
		if count[s] > 0 {
			return s
		}
	}
	// Every open batch is final.
	switch {
	case count[StatusRefunded] == open:
		return StatusRefunded
	case count[StatusRefunded] > 0:
		return StatusPartiallyRefunded // one posted, another refunded: say both
	}
	return StatusPosted
}

// OutTradeNo returns the out_trade_no of batch seq of an order: the order
// number plus a two-digit batch number, 6 to 32 characters of [0-9A-Za-z_-].
func OutTradeNo(orderNo string, seq int) string {
	return fmt.Sprintf("%s_%02d", orderNo, seq)
}

// OutRefundNo returns the out_refund_no of a batch's first refund attempt,
// reused on every retry of that attempt as WeChat requires.
func OutRefundNo(outTradeNo string) string { return "RF" + outTradeNo }

// RefundAttemptNo returns the deterministic out_refund_no of refund attempt
// n of a batch: RF<out_trade_no> for the first, RF<out_trade_no>_R<n> after
// a CLOSED refund (WeChat never reopens a closed out_refund_no). At most
// 2+32+4 characters, within WeChat's 64.
func RefundAttemptNo(outTradeNo string, n int) string {
	if n <= 1 {
		return OutRefundNo(outTradeNo)
	}
	return fmt.Sprintf("RF%s_R%d", outTradeNo, n)
}

// SplitOutTradeNo returns the order number and batch seq of an out_trade_no
// made by OutTradeNo.
func SplitOutTradeNo(outTradeNo string) (string, int, bool) {
	i := strings.LastIndexByte(outTradeNo, '_')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.Atoi(outTradeNo[i+1:])
	if err != nil || seq < 1 {
		return "", 0, false
	}
	return outTradeNo[:i], seq, true
}
