package service

import (
	"context"
)

// Posting resolutions operations may record (ResolvePosting).
const (
	ResolveRefund = "refund" // the platform confirmed out of band it did not (and will not) book
	ResolvePosted = "posted" // the platform confirmed out of band it booked, under a reference
)

// ResolvePosting records what the platform confirmed out of band for a batch
// whose outcome is unknown (confirming, or posting without an answer):
// refund it, or mark it posted with the platform's reference. The admin
// service writes the audit entry.
func (s *PostingService) ResolvePosting(ctx context.Context, outTradeNo, outcome, reference, note string) error {
	o, b, err := findBatch(ctx, s.d.Orders, outTradeNo)
	if isNotFound(err) {
		return NotFound("订单批次不存在")
	}
	if err != nil {
		return err
	}
	if b.Status != StatusConfirming && b.Status != StatusPosting {
		return Errorf(KindConflict, "posting_not_unresolved", "批次状态为 %s，无需人工确认", b.Status)
	}
	rec, err := s.record(ctx, o, b)
	if err != nil {
		return err
	}
	switch outcome {
	case ResolveRefund:
		rec.Void("resolved by operations: not booked. " + note)
		if err := s.d.Postings.SavePosting(ctx, rec); err != nil {
			return err
		}
		_, err := s.d.Refunds.BeginFrom(ctx, outTradeNo, RefundRetryExpired, note, StatusPosting, StatusConfirming)
		return err
	case ResolvePosted:
		if reference == "" || len(reference) > 64 {
			return Invalid("invalid_reference", "请填写社保经办机构的受理编号",
				FieldError{Field: "reference", Code: "required", Message: "请填写受理编号（最多64个字符）"})
		}
		return s.accept(ctx, rec, outTradeNo, PostingResult{Status: PostingAccepted, Reference: reference})
	}
	return Invalid("invalid_outcome", "处理结果只能是 refund 或 posted",
		FieldError{Field: "outcome", Code: "invalid", Message: "处理结果只能是 refund 或 posted"})
}
