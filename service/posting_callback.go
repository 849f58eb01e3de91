package service

import (
	"context"
	"fmt"
)

// HandlePlatformEvent applies a platform posting callback: posting.accepted
// → posted with vouchers, posting.rejected → refund. Repeats change nothing.
// Identity-check events are not ours and are ignored.
func (s *PostingService) HandlePlatformEvent(ctx context.Context, ev PlatformEvent) error {
	status := ev.Result.Status
	switch ev.Type {
	case EventPostingAccepted:
		status = PostingAccepted
	case EventPostingRejected:
		status = PostingRejected
	case EventIdentityCheckCompleted:
		return nil
	}
	o, b, err := findBatch(ctx, s.d.Orders, ev.IdempotencyKey)
	if isNotFound(err) {
		return s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertUnknownPosting, Ref: ev.IdempotencyKey, Detail: "platform callback " + ev.EventID + " for an unknown batch"})
	}
	if err != nil {
		return err
	}
	// Region authority: only the batch's own region may settle it. The URL,
	// the event and the credentials that signed it must all name it.
	if ev.Region != o.Region || ev.URLRegion != o.Region || ev.CredentialRegion != o.Region {
		return s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertCallbackRegionMismatch, Ref: b.OutTradeNo,
			Detail: fmt.Sprintf("callback %s %s for a %s batch arrived with event region %q, URL region %q, credentials of %q; ignored",
				ev.EventID, ev.Type, o.Region, ev.Region, ev.URLRegion, ev.CredentialRegion)})
	}
	rec, err := s.record(ctx, o, b)
	if err != nil {
		return err
	}
	switch status {
	case PostingAccepted:
		res := ev.Result
		res.Status = PostingAccepted
		if res.Reference == "" {
			res.Reference = rec.Reference
		}
		return s.accept(ctx, rec, b.OutTradeNo, res)
	case PostingRejected:
		if b.Status != StatusPosting && b.Status != StatusConfirming && b.Status != StatusPaid && b.Status != StatusHeld {
			return nil
		}
		reason := ev.Reason
		if reason == "" {
			reason = ev.Result.Reason
		}
		rec.Reject(reason)
		if err := s.d.Postings.SavePosting(ctx, rec); err != nil {
			return err
		}
		_, err := s.d.Refunds.Begin(ctx, b.OutTradeNo, RefundPlatformRejected, reason)
		return err
	}
	return nil
}
