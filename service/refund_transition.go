package service

import (
	"fmt"
	"slices"
	"time"
)

// refundTransitions is the state machine of a refund row. pending (our row,
// WeChat's answer not yet known) and processing may move to any state WeChat
// reports; abnormal (a refund stuck at the bank, fixed by hand at WeChat)
// may still become processing, success or closed; success and closed are
// final.
var refundTransitions = map[RefundState][]RefundState{
	RefundStatePending:    {RefundStateProcessing, RefundStateSuccess, RefundStateAbnormal, RefundStateClosed},
	RefundStateProcessing: {RefundStateSuccess, RefundStateAbnormal, RefundStateClosed},
	RefundStateAbnormal:   {RefundStateProcessing, RefundStateSuccess, RefundStateClosed},
}

// Final reports whether a refund in state s can never move again.
func (s RefundState) Final() bool { return s == RefundStateSuccess || s == RefundStateClosed }

// CanRefundTransition reports whether a refund may move from one state to
// another.
func CanRefundTransition(from, to RefundState) bool {
	return slices.Contains(refundTransitions[from], to)
}

// refundStateOf maps WeChat's refund status to ours.
func refundStateOf(status RefundStatus) (RefundState, bool) {
	switch status {
	case RefundSuccess:
		return RefundStateSuccess, true
	case RefundProcessing:
		return RefundStateProcessing, true
	case RefundAbnormal:
		return RefundStateAbnormal, true
	case RefundClosed:
		return RefundStateClosed, true
	}
	return "", false
}

// The transitions of a refund row. Like Batch's, each enforces
// refundTransitions and returns a KindConflict invalid_transition error
// without changing the refund when the move is not allowed. Use cases call
// them inside a RefundStore.UpdateRefund closure and decide there what a
// repeat means (ErrNoChange); the store only persists the result.

func (r *Refund) moveTo(to RefundState) error {
	if !CanRefundTransition(r.Status, to) {
		return Errorf(KindConflict, CodeInvalidTransition, "退款状态不允许从 %s 变为 %s", r.Status, to)
	}
	r.Status = to
	return nil
}

// Record moves the refund to the state WeChat reports in res (a reply to
// the refund call, a query or a notification), keeping the refund id,
// channel and receiving account WeChat names. A success takes WeChat's
// success time, or now when WeChat sent none. An unknown status is an
// error; so is a move the state machine forbids (a repeat of the current
// state, or any move out of success or closed).
func (r *Refund) Record(res RefundResult, now time.Time) error {
	to, ok := refundStateOf(res.Status)
	if !ok {
		return fmt.Errorf("refund %s: unknown status %q", r.OutRefundNo, res.Status)
	}
	if err := r.moveTo(to); err != nil {
		return err
	}
	if res.RefundID != "" {
		r.RefundID = res.RefundID
	}
	if res.Channel != "" {
		r.Channel = res.Channel
	}
	if res.UserReceivedAccount != "" {
		r.UserReceivedAccount = res.UserReceivedAccount
	}
	if to == RefundStateSuccess {
		r.SuccessAt = res.SuccessTime
		if r.SuccessAt.IsZero() {
			r.SuccessAt = now
		}
	}
	return nil
}

// RecordFailedCall counts a refund call whose outcome is unknown (an error,
// a timeout, SYSTEM_ERROR, ...) and keeps its text; the state does not
// change, and the next call reuses the same out_refund_no.
func (r *Refund) RecordFailedCall(text string) {
	r.Attempts++
	r.LastError = text
}
