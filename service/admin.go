package service

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// AuditEntry is one operations action: who, what, when, state before and
// after (JSON).
type AuditEntry struct {
	ID        int64
	Actor     string
	Action    string
	Target    string
	Before    string
	After     string
	CreatedAt time.Time
}

// AuditStore persists the audit log.
type AuditStore interface {
	WriteAudit(ctx context.Context, e AuditEntry) error
	FindAudit(ctx context.Context, target string, limit int) ([]AuditEntry, error)
}

// AdminDeps are the dependencies of the AdminService.
type AdminDeps struct {
	Orders   OrderStore
	Alerts   AlertFinder
	Holds    *HoldService
	Refunds  *RefundService
	Recon    *ReconService
	Postings PostingStore
	Audit    AuditStore
	Clock    Clock
	// Posting resolves unknown posting outcomes (ResolvePosting); optional,
	// without it ResolvePosting answers 503.
	Posting *PostingService
}

// AdminService is the operations API. Every call is written to the audit
// log, reads included (they show personal order data).
type AdminService struct {
	d AdminDeps
}

// NewAdminService returns an AdminService.
func NewAdminService(d AdminDeps) *AdminService {
	if d.Orders == nil || d.Alerts == nil || d.Holds == nil || d.Refunds == nil || d.Recon == nil || d.Postings == nil || d.Audit == nil || d.Clock == nil {
		panic("service: NewAdminService: missing dependency")
	}
	return &AdminService{d: d}
}

// Audit writes one audit-log entry: who (actor), what (action, target) and
// the state before and after as JSON (nil for reads). The console's own
// actions (OpsService) are audited through it as well.
func (s *AdminService) Audit(ctx context.Context, actor, action, target string, before, after any) error {
	enc := func(v any) string {
		if v == nil {
			return ""
		}
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	return s.d.Audit.WriteAudit(ctx, AuditEntry{Actor: actor, Action: action, Target: target, Before: enc(before), After: enc(after), CreatedAt: s.d.Clock.Now()})
}

// audited returns what a read found once the read is in the audit log
// (actor, action, target); a failed read returns its error and records
// nothing.
func audited[T any](ctx context.Context, a *AdminService, actor, action, target string, found T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return found, a.Audit(ctx, actor, action, target, nil, nil)
}

// Holds lists holds in a status ("" = all).
func (s *AdminService) Holds(ctx context.Context, actor string, status HoldStatus) ([]Hold, error) {
	hs, err := s.d.Holds.List(ctx, status, 200)
	return audited(ctx, s, actor, "list_holds", string(status), hs, err)
}

// Alerts lists alerts in a status ("" = all).
func (s *AdminService) Alerts(ctx context.Context, actor string, status AlertStatus) ([]Alert, error) {
	as, err := s.d.Alerts.FindAlerts(ctx, status, 200)
	if err != nil {
		return nil, err
	}
	for i := range as {
		as[i].Detail = MaskAlertDetail(as[i].Detail)
		as[i].Ref = MaskAlertDetail(as[i].Ref)
	}
	return as, s.Audit(ctx, actor, "list_alerts", string(status), nil, nil)
}

// Recon returns a day's reconciliation report.
func (s *AdminService) Recon(ctx context.Context, actor, day string) (*ReconReport, error) {
	t, err := ParseDay(day)
	if err != nil {
		return nil, err
	}
	r, err := s.d.Recon.Report(ctx, t)
	return audited(ctx, s, actor, "view_recon", day, r, err)
}

type holdState struct {
	Hold        *Hold       `json:"hold"`
	BatchStatus OrderStatus `json:"batch_status"`
}

func (s *AdminService) holdState(ctx context.Context, outTradeNo string) (*holdState, error) {
	h, err := s.d.Holds.Find(ctx, outTradeNo)
	if err != nil {
		return nil, err
	}
	_, b, err := findBatch(ctx, s.d.Orders, outTradeNo)
	if err != nil {
		return nil, err
	}
	return &holdState{Hold: h, BatchStatus: b.Status}, nil
}

// ReleaseHold releases a held batch to posting.
func (s *AdminService) ReleaseHold(ctx context.Context, actor, outTradeNo string) (*Hold, error) {
	return s.decideHold(ctx, actor, "release_hold", outTradeNo, func() (*Hold, error) {
		return s.d.Holds.Release(ctx, outTradeNo, actor)
	})
}

// RejectHold refunds a held batch.
func (s *AdminService) RejectHold(ctx context.Context, actor, outTradeNo, note string) (*Hold, error) {
	return s.decideHold(ctx, actor, "reject_hold", outTradeNo, func() (*Hold, error) {
		return s.d.Holds.Reject(ctx, outTradeNo, actor, RefundHoldRejected, note)
	})
}

// decideHold applies an operator's decision on a held batch and audits it
// as action with the hold's state before and after.
func (s *AdminService) decideHold(ctx context.Context, actor, action, outTradeNo string, decide func() (*Hold, error)) (*Hold, error) {
	before, err := s.holdState(ctx, outTradeNo)
	if err != nil {
		return nil, err
	}
	h, err := decide()
	if err != nil {
		return nil, err
	}
	after, err := s.holdState(ctx, outTradeNo)
	if err != nil {
		return nil, err
	}
	return h, s.Audit(ctx, actor, action, outTradeNo, before, after)
}

// PostingState is a batch's status with its posting record, for the audit
// log of a resolution.
type PostingState struct {
	BatchStatus OrderStatus    `json:"batch_status"`
	Posting     *PostingRecord `json:"posting,omitempty"`
}

func (s *AdminService) postingState(ctx context.Context, outTradeNo string) (*PostingState, error) {
	_, b, err := findBatch(ctx, s.d.Orders, outTradeNo)
	if isNotFound(err) {
		return nil, NotFound("订单批次不存在")
	}
	if err != nil {
		return nil, err
	}
	st := &PostingState{BatchStatus: b.Status}
	p, err := s.d.Postings.FindPosting(ctx, outTradeNo)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	st.Posting = p
	return st, nil
}

// CanResolvePostings reports whether the posting flow is wired, so
// ResolvePosting can act.
func (s *AdminService) CanResolvePostings() bool { return s.d.Posting != nil }

// ResolvePosting records what the platform confirmed out of band for a
// batch whose posting outcome is unknown (confirming): outcome "refund"
// (not booked: the money goes back) or "posted" with the platform's
// reference. The note says how it was confirmed (who at the platform, when).
// Audited with the state before and after.
func (s *AdminService) ResolvePosting(ctx context.Context, actor, outTradeNo, outcome, reference, note string) (*PostingState, error) {
	if s.d.Posting == nil {
		return nil, Unavailable("暂不可用", time.Minute, nil)
	}
	if strings.TrimSpace(note) == "" || len(note) > 500 {
		return nil, Invalid("invalid_note", "请说明与社保经办机构核实的情况",
			FieldError{Field: "note", Code: "required", Message: "请填写核实说明（最多500字节）"})
	}
	before, err := s.postingState(ctx, outTradeNo)
	if err != nil {
		return nil, err
	}
	if err := s.d.Posting.ResolvePosting(ctx, outTradeNo, outcome, reference, note); err != nil {
		return nil, err
	}
	after, err := s.postingState(ctx, outTradeNo)
	if err != nil {
		return nil, err
	}
	return after, s.Audit(ctx, actor, "resolve_posting:"+outcome, outTradeNo, before,
		map[string]any{"state": after, "reference": reference, "note": note})
}

// RetryRefund re-sends a stuck refund with the same out_refund_no.
func (s *AdminService) RetryRefund(ctx context.Context, actor, outRefundNo string) (*Refund, error) {
	before, after, err := s.d.Refunds.Retry(ctx, outRefundNo)
	if err != nil {
		return nil, err
	}
	return after, s.Audit(ctx, actor, "retry_refund", outRefundNo, before, after)
}

// AdminOrder is an order with everything operations need.
type AdminOrder struct {
	Order    *Order
	Events   []OrderEvent
	Postings map[string]*PostingRecord
	Refunds  map[string]*RefundView
	Holds    map[string]*Hold
}

// Order returns an order with its full timeline, postings, holds and
// refunds.
func (s *AdminService) Order(ctx context.Context, actor, orderNo string) (*AdminOrder, error) {
	o, err := s.d.Orders.FindOrder(ctx, orderNo)
	if isNotFound(err) {
		return nil, NotFound("订单不存在")
	}
	if err != nil {
		return nil, err
	}
	ev, err := s.d.Orders.OrderEvents(ctx, orderNo)
	if err != nil {
		return nil, err
	}
	out := &AdminOrder{Order: o, Events: ev, Postings: map[string]*PostingRecord{}, Refunds: map[string]*RefundView{}, Holds: map[string]*Hold{}}
	for _, b := range o.Batches {
		if p, err := s.d.Postings.FindPosting(ctx, b.OutTradeNo); err == nil {
			out.Postings[b.OutTradeNo] = p
		} else if !isNotFound(err) {
			return nil, err
		}
		if h, err := s.d.Holds.Find(ctx, b.OutTradeNo); err == nil {
			out.Holds[b.OutTradeNo] = h
		} else if !isNotFound(err) {
			return nil, err
		}
		rv, err := s.d.Refunds.View(ctx, b.OutTradeNo)
		if err != nil {
			return nil, err
		}
		if rv != nil {
			out.Refunds[b.OutTradeNo] = rv
		}
	}
	return out, s.Audit(ctx, actor, "view_order", orderNo, nil, nil)
}

// AlertFinder lists operations alerts.
type AlertFinder interface {
	FindAlerts(ctx context.Context, status AlertStatus, limit int) ([]Alert, error)
}
