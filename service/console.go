package service

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// OpsAlert is an alert with its operations decision: open → acked →
// resolved, by a named operator, with a note.
type OpsAlert struct {
	Alert
	DecidedBy  string
	AckedAt    time.Time
	ResolvedAt time.Time
	Note       string
}

// AlertStatus is the decision state of an alert (Alert.Status).
type AlertStatus string

// Alert decision states.
const (
	AlertOpen     AlertStatus = "open"
	AlertAcked    AlertStatus = "acked"
	AlertResolved AlertStatus = "resolved"
)

// Activity is what happened in a time range: when batches were paid, when
// postings were accepted or rejected by the platform and when refunds
// succeeded.
type Activity struct {
	Paid, Posted, Rejected, Refunded []time.Time
}

// AuditFilter selects audit entries. Empty fields match everything; Query
// matches actor, action or target exactly.
type AuditFilter struct {
	Query  string
	Offset int
	Limit  int
}

// UnknownOutcome is a posting whose result at the platform we do not know:
// the platform answered pending and has not called back, or our calls
// ended without a definite answer and are being retried.
type UnknownOutcome struct {
	OutTradeNo string
	OrderNo    string
	Region     string
	Status     string // the posting's PostingStatus, or "confirming" once the batch is
	Reference  string
	Failures   int
	LastError  string
	Since      time.Time
}

// ConsoleStore is the read side of the operations console and the alert
// decisions (model.AfterStore implements it).
type ConsoleStore interface {
	// ActivityBetween returns the event times in [from, to).
	ActivityBetween(ctx context.Context, from, to time.Time) (*Activity, error)
	// FindUnknownOutcomes lists postings without a definite outcome, oldest first.
	FindUnknownOutcomes(ctx context.Context, limit int) ([]UnknownOutcome, error)
	// FindRefundsByStatus lists refunds in a status ("" = all), newest first.
	FindRefundsByStatus(ctx context.Context, status RefundState, limit int) ([]Refund, error)
	// FindOrderNoByRef resolves an order_no, out_trade_no or transaction_id
	// to its order_no; ErrNotFound when none matches.
	FindOrderNoByRef(ctx context.Context, ref string) (string, error)
	// SearchAudit returns a page of entries, newest first, and the total.
	SearchAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, int, error)
	// FindOpsAlerts lists alerts in a status ("" = all), newest first.
	FindOpsAlerts(ctx context.Context, status AlertStatus, limit int) ([]OpsAlert, error)
	// FindOpsAlert returns ErrNotFound when there is no such alert.
	FindOpsAlert(ctx context.Context, id int64) (*OpsAlert, error)
	// DecideAlert moves an alert from one of the from statuses to to, in one
	// conditional update; ok=false when it was not in a from status.
	DecideAlert(ctx context.Context, id int64, from []AlertStatus, to AlertStatus, by, note string, at time.Time) (ok bool, err error)
	// FindCreditOrders lists credit-pay orders in a state ("" = all),
	// newest first.
	FindCreditOrders(ctx context.Context, state CreditState, limit int) ([]CreditOrder, error)
}

// OpsDeps are the dependencies of the OpsService.
type OpsDeps struct {
	Admin   *AdminService
	Store   ConsoleStore
	Persons PersonFinder
	Holds   *HoldService
	Clock   Clock
}

// OpsService is what the operations console adds to the AdminService:
// the dashboard, queues, alert decisions, order search by any reference,
// audited PII reveal and the audit log. Actions that the JSON admin API
// also offers are the AdminService's own methods; this service never
// re-implements them. Every call is audited like the AdminService's.
type OpsService struct {
	d OpsDeps
}

// NewOpsService returns an OpsService.
func NewOpsService(d OpsDeps) *OpsService {
	if d.Admin == nil || d.Store == nil || d.Persons == nil || d.Holds == nil || d.Clock == nil {
		panic("service: NewOpsService: missing dependency")
	}
	return &OpsService{d: d}
}

// Admin returns the AdminService the console's actions go through.
func (s *OpsService) Admin() *AdminService { return s.d.Admin }

// HourStats counts one hour's events (Asia/Shanghai hour).
type HourStats struct {
	Start                            time.Time
	Paid, Posted, Rejected, Refunded int
}

// DayStats is one Asia/Shanghai day.
type DayStats struct {
	Day                              string // YYYY-MM-DD
	Hours                            []HourStats
	Paid, Posted, Rejected, Refunded int
}

// SuccessRate is the share of definite platform answers that were
// acceptances, in basis points (10000 = 100 %); -1 when there was none.
func (d DayStats) SuccessRate() int {
	if d.Posted+d.Rejected == 0 {
		return -1
	}
	return d.Posted * 10000 / (d.Posted + d.Rejected)
}

// Dashboard is the console's first page.
type Dashboard struct {
	Now     time.Time
	Days    []DayStats // the last 7 days, oldest first; the last is today
	Unknown []UnknownOutcome
	Holds   []Hold
	Alerts  []OpsAlert // open and acknowledged
}

// Today is the last day of d.Days.
func (d *Dashboard) Today() DayStats { return d.Days[len(d.Days)-1] }

// Dashboard returns today's and the last 7 days' activity by hour, the
// unknown outcomes, the open holds and the open alerts.
func (s *OpsService) Dashboard(ctx context.Context, actor string) (*Dashboard, error) {
	now := s.d.Clock.Now()
	todayStart, todayEnd := ShanghaiDay(now)
	from := todayStart.AddDate(0, 0, -6)
	act, err := s.d.Store.ActivityBetween(ctx, from, todayEnd)
	if err != nil {
		return nil, err
	}
	d := &Dashboard{Now: now}
	for i := 0; i < 7; i++ {
		start := from.AddDate(0, 0, i)
		ds := DayStats{Day: start.In(Shanghai).Format("2006-01-02"), Hours: make([]HourStats, 24)}
		for h := range ds.Hours {
			ds.Hours[h].Start = start.Add(time.Duration(h) * time.Hour)
		}
		d.Days = append(d.Days, ds)
	}
	bucket := func(t time.Time, inc func(*DayStats, *HourStats)) {
		if t.Before(from) || !t.Before(todayEnd) {
			return
		}
		h := int(t.Sub(from) / time.Hour)
		day := &d.Days[h/24]
		inc(day, &day.Hours[h%24])
	}
	for _, t := range act.Paid {
		bucket(t, func(d *DayStats, h *HourStats) { d.Paid++; h.Paid++ })
	}
	for _, t := range act.Posted {
		bucket(t, func(d *DayStats, h *HourStats) { d.Posted++; h.Posted++ })
	}
	for _, t := range act.Rejected {
		bucket(t, func(d *DayStats, h *HourStats) { d.Rejected++; h.Rejected++ })
	}
	for _, t := range act.Refunded {
		bucket(t, func(d *DayStats, h *HourStats) { d.Refunded++; h.Refunded++ })
	}
	if d.Unknown, err = s.d.Store.FindUnknownOutcomes(ctx, 50); err != nil {
		return nil, err
	}
	if d.Holds, err = s.d.Holds.List(ctx, HoldOpen, 50); err != nil {
		return nil, err
	}
	for _, st := range []AlertStatus{AlertOpen, AlertAcked} {
		as, err := s.d.Store.FindOpsAlerts(ctx, st, 50)
		if err != nil {
			return nil, err
		}
		d.Alerts = append(d.Alerts, as...)
	}
	return d, s.d.Admin.Audit(ctx, actor, "view_dashboard", "", nil, nil)
}

// UnknownOutcomes lists the postings whose platform outcome is unknown.
func (s *OpsService) UnknownOutcomes(ctx context.Context, actor string) ([]UnknownOutcome, error) {
	us, err := s.d.Store.FindUnknownOutcomes(ctx, 200)
	return audited(ctx, s.d.Admin, actor, "list_unknown_outcomes", "", us, err)
}

// CanResolveUnknown reports whether unknown outcomes can be resolved here:
// the posting flow's audited action is wired into the AdminService.
func (s *OpsService) CanResolveUnknown() bool { return s.d.Admin.CanResolvePostings() }

// ResolveUnknown records what the platform confirmed for a confirming
// batch through the JSON admin API's own audited action
// (AdminService.ResolvePosting): outcome "refund" or "posted" with the
// platform reference.
func (s *OpsService) ResolveUnknown(ctx context.Context, actor, outTradeNo, outcome, reference, note string) error {
	_, err := s.d.Admin.ResolvePosting(ctx, actor, outTradeNo, outcome, reference, note)
	return err
}

// Refunds lists refunds in a state ("" = all).
func (s *OpsService) Refunds(ctx context.Context, actor string, status RefundState) ([]Refund, error) {
	switch status {
	case "", RefundStatePending, RefundStateProcessing, RefundStateSuccess, RefundStateAbnormal, RefundStateClosed:
	default:
		return nil, Invalid("invalid_request", "退款状态无效", FieldError{Field: "status", Code: "invalid", Message: "未知的退款状态"})
	}
	rs, err := s.d.Store.FindRefundsByStatus(ctx, status, 200)
	return audited(ctx, s.d.Admin, actor, "list_refunds", string(status), rs, err)
}

// CreditOrders lists credit-pay (Pay Score) orders in a state ("" = all),
// newest first; read-only.
func (s *OpsService) CreditOrders(ctx context.Context, actor string, state CreditState) ([]CreditOrder, error) {
	switch state {
	case "", CreditCreated, CreditConfirmed, CreditPosted, CreditCollectionDue, CreditCollected, CreditCollectionFailed, CreditCancelled:
	default:
		return nil, Invalid("invalid_request", "信用付状态无效", FieldError{Field: "state", Code: "invalid", Message: "未知的信用付状态"})
	}
	cs, err := s.d.Store.FindCreditOrders(ctx, state, 200)
	return audited(ctx, s.d.Admin, actor, "list_credit_orders", string(state), cs, err)
}

// Alerts lists alerts with their decisions in a status ("" = all).
func (s *OpsService) Alerts(ctx context.Context, actor string, status AlertStatus) ([]OpsAlert, error) {
	switch status {
	case "", AlertOpen, AlertAcked, AlertResolved:
	default:
		return nil, Invalid("invalid_request", "告警状态无效", FieldError{Field: "status", Code: "invalid", Message: "应为 open、acked 或 resolved"})
	}
	as, err := s.d.Store.FindOpsAlerts(ctx, status, 200)
	return audited(ctx, s.d.Admin, actor, "list_alerts", string(status), as, err)
}

// AckAlert acknowledges an open alert: someone is on it.
func (s *OpsService) AckAlert(ctx context.Context, actor string, id int64, note string) (*OpsAlert, error) {
	return s.decideAlert(ctx, actor, id, []AlertStatus{AlertOpen}, AlertAcked, "ack_alert", note)
}

// ResolveAlert closes an open or acknowledged alert with a note.
func (s *OpsService) ResolveAlert(ctx context.Context, actor string, id int64, note string) (*OpsAlert, error) {
	return s.decideAlert(ctx, actor, id, []AlertStatus{AlertOpen, AlertAcked}, AlertResolved, "resolve_alert", note)
}

func (s *OpsService) decideAlert(ctx context.Context, actor string, id int64, from []AlertStatus, to AlertStatus, action, note string) (*OpsAlert, error) {
	note = strings.TrimSpace(note)
	if len([]rune(note)) > 200 {
		return nil, Invalid("invalid_request", "备注过长", FieldError{Field: "note", Code: "too_long", Message: "最多200字"})
	}
	before, err := s.d.Store.FindOpsAlert(ctx, id)
	if isNotFound(err) {
		return nil, NotFound("告警不存在")
	}
	if err != nil {
		return nil, err
	}
	ok, err := s.d.Store.DecideAlert(ctx, id, from, to, actor, note, s.d.Clock.Now())
	if err != nil {
		return nil, err
	}
	after, err := s.d.Store.FindOpsAlert(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		if after.Status == to {
			return after, nil // a repeated click: already done, nothing to audit
		}
		return nil, &Error{Kind: KindConflict, Code: "alert_state", Message: "告警状态已变化，请刷新后重试"}
	}
	return after, s.d.Admin.Audit(ctx, actor, action, alertTarget(id), before, after)
}

func alertTarget(id int64) string { return "alert:" + strconv.FormatInt(id, 10) }

// FindOrder looks an order up by order_no, out_trade_no or transaction_id
// and returns it through AdminService.Order (audited as view_order).
func (s *OpsService) FindOrder(ctx context.Context, actor, ref string) (*AdminOrder, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" || len(ref) > 64 {
		return nil, Invalid("invalid_request", "请输入订单号、商户单号或微信支付单号", FieldError{Field: "q", Code: "invalid", Message: "1–64个字符"})
	}
	no, err := s.d.Store.FindOrderNoByRef(ctx, ref)
	if isNotFound(err) {
		return nil, NotFound("订单不存在")
	}
	if err != nil {
		return nil, err
	}
	return s.d.Admin.Order(ctx, actor, no)
}

// Person returns the order's person, masked unless reveal is set; a
// reveal is audited with the order it was for.
func (s *OpsService) Person(ctx context.Context, actor, orderNo string, personID int64, reveal bool) (*Person, error) {
	p, err := s.d.Persons.FindPerson(ctx, personID)
	if isNotFound(err) {
		return nil, NotFound("参保人不存在")
	}
	if err != nil {
		return nil, err
	}
	if !reveal {
		m := *p
		m.Name, m.IDNumber, m.Phone = MaskMiddle(p.Name, 1, 0), MaskMiddle(p.IDNumber, 3, 4), MaskMiddle(p.Phone, 3, 4)
		return &m, nil
	}
	return p, s.d.Admin.Audit(ctx, actor, "reveal_pii", orderNo, nil, map[string]any{"person_id": personID})
}

// AuditLog returns a page of the audit log. Reading it is itself audited.
func (s *OpsService) AuditLog(ctx context.Context, actor string, f AuditFilter) ([]AuditEntry, int, error) {
	f.Query = strings.TrimSpace(f.Query)
	if len(f.Query) > 80 {
		return nil, 0, Invalid("invalid_request", "查询条件过长", FieldError{Field: "q", Code: "too_long", Message: "最多80个字符"})
	}
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 50
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	es, n, err := s.d.Store.SearchAudit(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	return es, n, s.d.Admin.Audit(ctx, actor, "view_audit", f.Query, nil, nil)
}

// OpsSession is a signed-in operations console session: the operator
// recorded in the audit log, the CSRF token every form carries, and when it
// started and was last used (the idle timeout).
type OpsSession struct {
	Operator string    `json:"op"`
	CSRF     string    `json:"csrf"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"seen"`
}
