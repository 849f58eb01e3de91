package service

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shebao/sipay/pii"
)

// Tickets (工单): a user opens one from the FAQ or from an order; the order,
// its batches, the platform reference and the timeline are attached
// (masked). Operations reply through the admin API (audited). The SLA is a
// first response within TicketSLA of business time; a breach raises one
// alert (ticket_sla_breached) and counts in metrics. Tickets are opened
// automatically when a payment hits "info delay after 3 working days" or an
// unknown platform outcome (see EventFollower).

// TicketStatus is a ticket's state: open → answered → resolved/closed, and
// reopen.
type TicketStatus string

// Ticket statuses.
const (
	TicketOpen     TicketStatus = "open"     // waiting for operations
	TicketAnswered TicketStatus = "answered" // operations replied; waiting for the user
	TicketResolved TicketStatus = "resolved" // the user's problem is solved
	TicketClosed   TicketStatus = "closed"   // closed by operations (duplicate, no answer)
)

// Ticket sources.
const (
	TicketFromFAQ   = "faq"
	TicketFromOrder = "order"
	TicketAuto      = "auto"
)

// TicketCategories are the closed list of categories; the first three are
// the product article's (身份验证失败, 支付异常, 信息延迟).
var TicketCategories = []string{"identity", "payment", "delay", "refund", "hold", "confirming", "voucher", "lapse", "family", "other"}

// Automatic ticket kinds (the category too).
const (
	AutoTicketInfoDelay      = "delay"      // info_delay: not confirmed within 3 working days
	AutoTicketUnknownOutcome = "confirming" // posting_confirming: the platform's outcome is unknown
)

// TicketSLA is the first-response target, in business time (the product
// article: 平均响应时间约45分钟).
const TicketSLA = 45 * time.Minute

// Message authors.
const (
	AuthorUser   = "user"
	AuthorOps    = "ops"
	AuthorSystem = "system"
)

// TicketMessage is one message of a ticket's conversation.
type TicketMessage struct {
	Author    string
	Actor     string // the operator (ops only)
	Body      string
	CreatedAt time.Time
}

// TicketContext is what is attached to a ticket about its order: masked,
// no ID number, no name in full.
type TicketContext struct {
	OrderNo   string        `json:"order_no"`
	Status    string        `json:"status"`
	Region    string        `json:"region"`
	AmountFen Fen           `json:"amount_fen"`
	Person    string        `json:"person,omitempty"` // masked name
	Batches   []TicketBatch `json:"batches"`
	Timeline  []TicketEvent `json:"timeline"`
}

// TicketBatch is one batch in a ticket's context.
type TicketBatch struct {
	Seq           int       `json:"seq"`
	OutTradeNo    string    `json:"out_trade_no"`
	Status        string    `json:"status"`
	AmountFen     Fen       `json:"amount_fen"`
	Months        string    `json:"months"`
	TransactionID string    `json:"transaction_id,omitempty"`
	PaidAt        time.Time `json:"paid_at,omitzero"`
	Reference     string    `json:"platform_reference,omitempty"`
}

// TicketEvent is one timeline line in a ticket's context.
type TicketEvent struct {
	At     time.Time `json:"at"`
	Seq    int       `json:"seq"`
	Type   string    `json:"type"`
	Detail string    `json:"detail"`
}

// Ticket is a customer-service ticket.
type Ticket struct {
	No                 string
	UserID             int64
	OrderNo            string
	Source             string
	Category           string
	AutoKey            string // automatic tickets: "<kind>:<out_trade_no>", unique
	Status             TicketStatus
	Subject            string
	Context            *TicketContext
	OpenedAt           time.Time
	FirstResponseDueAt time.Time
	FirstResponseAt    time.Time
	SLABreachedAt      time.Time
	ResolvedAt         time.Time
	UpdatedAt          time.Time
	Messages           []TicketMessage
}

// Ticket errors.
var (
	errTicketClosed = &Error{Kind: KindConflict, Code: "ticket_closed", Message: "工单已结束，请先重新打开"}
	errTicketState  = &Error{Kind: KindConflict, Code: "ticket_state", Message: "工单当前状态不能进行此操作"}
)

// Reply is operations answering: open or answered → answered. The first
// reply records the first response.
func (t *Ticket) Reply(now time.Time) error {
	if t.Status == TicketResolved || t.Status == TicketClosed {
		return errTicketClosed
	}
	if t.FirstResponseAt.IsZero() {
		t.FirstResponseAt = now
	}
	t.Status = TicketAnswered
	return nil
}

// FollowUp is the user writing again: the ticket waits for operations.
func (t *Ticket) FollowUp() error {
	if t.Status == TicketResolved || t.Status == TicketClosed {
		return errTicketClosed
	}
	t.Status = TicketOpen
	return nil
}

// Resolve marks the problem solved (the user or operations).
func (t *Ticket) Resolve(now time.Time) error {
	if t.Status != TicketOpen && t.Status != TicketAnswered {
		return errTicketState
	}
	t.Status, t.ResolvedAt = TicketResolved, now
	return nil
}

// Close ends the ticket (operations).
func (t *Ticket) Close(now time.Time) error {
	if t.Status == TicketClosed {
		return errTicketState
	}
	t.Status = TicketClosed
	if t.ResolvedAt.IsZero() {
		t.ResolvedAt = now
	}
	return nil
}

// Reopen brings a resolved or closed ticket back to operations.
func (t *Ticket) Reopen() error {
	if t.Status != TicketResolved && t.Status != TicketClosed {
		return errTicketState
	}
	t.Status, t.ResolvedAt = TicketOpen, time.Time{}
	return nil
}

// TicketEffects are rows written in the transaction of a ticket change.
type TicketEffects struct {
	Messages []TicketMessage
	Notify   []SubscribeMessage // subscribe messages (and their send jobs)
	Alerts   []Alert
}

// TicketFilter selects tickets.
type TicketFilter struct {
	UserID int64  // 0: all users (operations)
	Status string // "" for all
	Limit  int
	// ByDue lists the earliest first-response due time first (the SLA
	// queue) instead of newest first, so a limit drops the least urgent.
	ByDue bool
}

// TicketStore persists tickets. Subjects, messages and contexts are
// encrypted at rest.
type TicketStore interface {
	// CreateTicket inserts t with its first message. ErrDuplicate: a ticket
	// with t.AutoKey exists.
	CreateTicket(ctx context.Context, t *Ticket, first TicketMessage) error
	// FindTicket returns the ticket with its messages, or ErrNotFound.
	FindTicket(ctx context.Context, no string) (*Ticket, error)
	// FindTickets lists tickets newest first, without messages.
	FindTickets(ctx context.Context, f TicketFilter) ([]Ticket, error)
	// UpdateTicket locks the ticket, calls fn and writes what it changed
	// with fx in one transaction. fn returning ErrNoChange commits nothing.
	UpdateTicket(ctx context.Context, no string, fn func(t *Ticket, fx *TicketEffects) error) (*Ticket, error)
	// FindOverdueTickets lists open tickets without a first response whose
	// due time is before now and that are not yet marked breached.
	FindOverdueTickets(ctx context.Context, now time.Time, limit int) ([]Ticket, error)
}

// PostingFinder reads a batch's posting (the platform reference).
type PostingFinder interface {
	FindPosting(ctx context.Context, outTradeNo string) (*PostingRecord, error)
}

// TicketDeps are what TicketService needs.
type TicketDeps struct {
	Store    TicketStore
	Orders   HelpOrders
	Postings PostingFinder // optional: platform references in the context
	Persons  PersonFinder  // optional: the masked name in the context
	Users    UserFinder
	Audit    AuditStore
	Hours    BusinessHours
	Clock    Clock
	Metrics  HelpMetrics
	// TemplateIDs says whether ticket_answered is configured.
	TemplateIDs map[string]string
}

// TicketService opens, answers and tracks tickets.
type TicketService struct {
	d TicketDeps
}

// NewTicketService returns a TicketService. It panics on a missing
// dependency.
func NewTicketService(d TicketDeps) *TicketService {
	if d.Store == nil || d.Orders == nil || d.Users == nil || d.Audit == nil || d.Clock == nil {
		panic("service: NewTicketService: missing dependency")
	}
	if d.Metrics == nil {
		d.Metrics = NopHelpMetrics{}
	}
	return &TicketService{d: d}
}

// TicketInput is what a user submits.
type TicketInput struct {
	OrderNo  string
	Category string
	Body     string
	FAQID    string // the FAQ answer the user came from, if any
}

// MaxTicketBody bounds one message, in characters.
const MaxTicketBody = 1000

func checkBody(body string) (string, error) {
	body = strings.TrimSpace(body)
	if body == "" || utf8.RuneCountInString(body) > MaxTicketBody {
		return "", Invalid("ticket_invalid", fmt.Sprintf("请描述您的问题（1到%d个字）", MaxTicketBody),
			FieldError{Field: "body", Code: "length", Message: fmt.Sprintf("1到%d个字", MaxTicketBody)})
	}
	return body, nil
}

// newTicketNo returns "TK" + yyyymmdd (Shanghai) + 10 random characters.
func newTicketNo(now time.Time) string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 10)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "TK" + now.In(Shanghai).Format("20060102") + string(b)
}

// Open creates a user's ticket. With an order, the order must be the
// user's and its context is attached.
//
// Errors: ticket_invalid (400); not_found (404) for another user's order.
func (s *TicketService) Open(ctx context.Context, userID int64, in TicketInput) (*Ticket, error) {
	body, err := checkBody(in.Body)
	if err != nil {
		return nil, err
	}
	if !validCategory(in.Category) {
		return nil, Invalid("ticket_invalid", "请选择问题类型",
			FieldError{Field: "category", Code: "unknown", Message: "可选：" + strings.Join(TicketCategories, "、")})
	}
	t := &Ticket{UserID: userID, Source: TicketFromFAQ, Category: in.Category, Subject: clip(body, 40)}
	if in.OrderNo != "" {
		o, err := findUserOrder(ctx, s.d.Orders, userID, in.OrderNo, "订单不存在")
		if err != nil {
			return nil, err
		}
		if t.Context, err = s.context(ctx, o); err != nil {
			return nil, err
		}
		t.OrderNo, t.Source = o.No, TicketFromOrder
	}
	if in.FAQID != "" {
		body = body + "\n（来自帮助：" + clip(in.FAQID, 40) + "）"
	}
	if err := s.create(ctx, t, TicketMessage{Author: AuthorUser, Body: body}); err != nil {
		return nil, err
	}
	return s.d.Store.FindTicket(ctx, t.No)
}

func validCategory(c string) bool {
	for _, x := range TicketCategories {
		if x == c {
			return true
		}
	}
	return false
}

func (s *TicketService) create(ctx context.Context, t *Ticket, first TicketMessage) error {
	now := s.d.Clock.Now().UTC()
	t.No, t.Status, t.OpenedAt, t.UpdatedAt = newTicketNo(now), TicketOpen, now, now
	t.FirstResponseDueAt = s.d.Hours.Add(now, TicketSLA)
	first.CreatedAt = now
	return s.d.Store.CreateTicket(ctx, t, first)
}

// OpenAuto opens the automatic ticket of kind for a batch, once: a repeat
// (the same kind and out_trade_no) returns the existing ticket's absence
// quietly.
func (s *TicketService) OpenAuto(ctx context.Context, o *Order, b *Batch, kind string) error {
	subject := map[string]string{
		AutoTicketInfoDelay:      "入账延迟：社保经办机构3个工作日未确认",
		AutoTicketUnknownOutcome: "缴费结果待确认：社保经办机构未答复是否入账",
	}[kind]
	if subject == "" {
		return fmt.Errorf("open auto ticket: unknown kind %q", kind)
	}
	c, err := s.context(ctx, o)
	if err != nil {
		return err
	}
	t := &Ticket{UserID: o.UserID, OrderNo: o.No, Source: TicketAuto, Category: kind, AutoKey: kind + ":" + b.OutTradeNo,
		Subject: subject, Context: c}
	err = s.create(ctx, t, TicketMessage{Author: AuthorSystem, Body: subject + "（系统自动创建，商户单号 " + b.OutTradeNo + "）"})
	if errors.Is(err, ErrDuplicate) {
		return nil
	}
	return err
}

// maxContextEvents bounds the timeline attached to a ticket.
const maxContextEvents = 40

// context builds the masked order context of a ticket.
func (s *TicketService) context(ctx context.Context, o *Order) (*TicketContext, error) {
	c := &TicketContext{OrderNo: o.No, Status: string(o.Status), Region: o.Region, AmountFen: o.AmountFen}
	if s.d.Persons != nil && o.PersonID != 0 {
		if p, err := s.d.Persons.FindPerson(ctx, o.PersonID); err == nil {
			c.Person = pii.MaskName(p.Name)
		}
	}
	for _, b := range o.Batches {
		tb := TicketBatch{Seq: b.Seq, OutTradeNo: b.OutTradeNo, Status: string(b.Status), AmountFen: b.AmountFen,
			Months: b.FromMonth + "~" + b.ToMonth, TransactionID: b.TransactionID, PaidAt: b.PaidAt}
		if s.d.Postings != nil {
			if r, err := s.d.Postings.FindPosting(ctx, b.OutTradeNo); err == nil {
				tb.Reference = r.Reference
			}
		}
		c.Batches = append(c.Batches, tb)
	}
	events, err := s.d.Orders.OrderEvents(ctx, o.No)
	if err != nil {
		return nil, err
	}
	if len(events) > maxContextEvents {
		events = events[len(events)-maxContextEvents:]
	}
	for _, e := range events {
		c.Timeline = append(c.Timeline, TicketEvent{At: e.CreatedAt, Seq: e.BatchSeq, Type: e.Type, Detail: clip(e.Detail, 300)})
	}
	return c, nil
}

// Mine lists the user's tickets, newest first.
func (s *TicketService) Mine(ctx context.Context, userID int64) ([]Ticket, error) {
	return s.d.Store.FindTickets(ctx, TicketFilter{UserID: userID, Limit: 50})
}

// Get returns the user's ticket with its messages; another user's is not
// found.
//
// Errors: not_found (404).
func (s *TicketService) Get(ctx context.Context, userID int64, no string) (*Ticket, error) {
	t, err := s.d.Store.FindTicket(ctx, no)
	if isNotFound(err) || (err == nil && t.UserID != userID) {
		return nil, NotFound("工单不存在")
	}
	return t, err
}

// userUpdate changes the user's ticket.
func (s *TicketService) userUpdate(ctx context.Context, userID int64, no string, fn func(t *Ticket, fx *TicketEffects) error) (*Ticket, error) {
	if _, err := s.Get(ctx, userID, no); err != nil {
		return nil, err
	}
	if _, err := s.d.Store.UpdateTicket(ctx, no, fn); err != nil {
		return nil, err
	}
	return s.d.Store.FindTicket(ctx, no)
}

// FollowUp adds the user's message; the ticket waits for operations.
//
// Errors: ticket_invalid (400), not_found (404), ticket_closed (409).
func (s *TicketService) FollowUp(ctx context.Context, userID int64, no, body string) (*Ticket, error) {
	body, err := checkBody(body)
	if err != nil {
		return nil, err
	}
	return s.userUpdate(ctx, userID, no, func(t *Ticket, fx *TicketEffects) error {
		if err := t.FollowUp(); err != nil {
			return err
		}
		fx.Messages = append(fx.Messages, TicketMessage{Author: AuthorUser, Body: body, CreatedAt: s.d.Clock.Now()})
		return nil
	})
}

// SetStatus is the user resolving ("resolved") or reopening ("open").
//
// Errors: ticket_invalid (400), not_found (404), ticket_state (409).
func (s *TicketService) SetStatus(ctx context.Context, userID int64, no, status string) (*Ticket, error) {
	return s.userUpdate(ctx, userID, no, func(t *Ticket, fx *TicketEffects) error {
		switch TicketStatus(status) {
		case TicketResolved:
			return t.Resolve(s.d.Clock.Now())
		case TicketOpen:
			return t.Reopen()
		}
		return Invalid("ticket_invalid", "状态只能是 resolved 或 open", FieldError{Field: "status", Code: "invalid", Message: "resolved 或 open"})
	})
}

// ---- operations -------------------------------------------------------------

// AdminTickets lists tickets for operations (numbers, subjects, statuses).
func (s *TicketService) AdminTickets(ctx context.Context, actor, status string) ([]Ticket, error) {
	return s.d.Store.FindTickets(ctx, TicketFilter{Status: status, Limit: 200})
}

// TicketDue is a ticket's first-response SLA at a moment: while nobody
// from operations has answered (Waiting), the business time Left until
// FirstResponseDueAt, or how Late it is once Overdue.
type TicketDue struct {
	Ticket
	Waiting bool
	Overdue bool
	Left    time.Duration // business time until due (waiting, not overdue)
	Late    time.Duration // business time past due (overdue)
}

// DueState returns t's SLA now (the injected clock), in business time
// (HELP_HOURS).
func (s *TicketService) DueState(t *Ticket) TicketDue {
	now := s.d.Clock.Now()
	d := TicketDue{Ticket: *t, Waiting: t.FirstResponseAt.IsZero() && t.Status == TicketOpen}
	if !d.Waiting {
		return d
	}
	if d.Overdue = now.After(t.FirstResponseDueAt); d.Overdue {
		d.Late = s.d.Hours.Between(t.FirstResponseDueAt, now)
	} else {
		d.Left = s.d.Hours.Between(now, t.FirstResponseDueAt)
	}
	return d
}

// Queue is operations' work list: the open and answered tickets (up to
// 200 of each, the earliest due first), those waiting for a first response
// first, each by its SLA due time. Listing is audited (list_tickets) like
// the console's other lists.
func (s *TicketService) Queue(ctx context.Context, actor string) ([]TicketDue, error) {
	var out []TicketDue
	for _, st := range []TicketStatus{TicketOpen, TicketAnswered} {
		ts, err := s.d.Store.FindTickets(ctx, TicketFilter{Status: string(st), Limit: 200, ByDue: true})
		if err != nil {
			return nil, err
		}
		for i := range ts {
			out = append(out, s.DueState(&ts[i]))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Waiting != out[j].Waiting {
			return out[i].Waiting
		}
		return out[i].FirstResponseDueAt.Before(out[j].FirstResponseDueAt)
	})
	return out, s.d.Audit.WriteAudit(ctx, AuditEntry{Actor: actor, Action: "list_tickets", CreatedAt: s.d.Clock.Now()})
}

// AdminTicket returns one ticket with its messages and context, audited
// (view_ticket) like viewing an order.
//
// Errors: not_found (404).
func (s *TicketService) AdminTicket(ctx context.Context, actor, no string) (*Ticket, error) {
	t, err := s.find(ctx, no)
	if err != nil {
		return nil, err
	}
	return t, s.d.Audit.WriteAudit(ctx, AuditEntry{Actor: actor, Action: "view_ticket", Target: "ticket:" + no, CreatedAt: s.d.Clock.Now()})
}

func (s *TicketService) find(ctx context.Context, no string) (*Ticket, error) {
	t, err := s.d.Store.FindTicket(ctx, no)
	if isNotFound(err) {
		return nil, NotFound("工单不存在")
	}
	return t, err
}

// Reply answers a ticket as operations: audited (state before and after),
// the first reply records the first response (and its time against the
// SLA), and the user gets a ticket_answered subscribe message, written in
// the same transaction (one per reply).
//
// Errors: ticket_invalid (400), not_found (404), ticket_closed (409).
func (s *TicketService) Reply(ctx context.Context, actor, no, body string) (*Ticket, error) {
	body, err := checkBody(body)
	if err != nil {
		return nil, err
	}
	before, err := s.find(ctx, no)
	if err != nil {
		return nil, err
	}
	care := false // read before the transaction: no other query runs inside it
	if u, err := s.d.Users.FindUserByID(ctx, before.UserID); err == nil {
		care = u.CareMode
	}
	var first bool
	var replyAt time.Time
	after, err := s.d.Store.UpdateTicket(ctx, no, func(t *Ticket, fx *TicketEffects) error {
		now := s.d.Clock.Now().UTC()
		first = t.FirstResponseAt.IsZero()
		if err := t.Reply(now); err != nil {
			return err
		}
		replyAt = now
		fx.Messages = append(fx.Messages, TicketMessage{Author: AuthorOps, Actor: actor, Body: body, CreatedAt: now})
		if s.d.TemplateIDs[TplTicketAnswered] != "" {
			fx.Notify = append(fx.Notify, SubscribeMessage{UserID: t.UserID, Template: TplTicketAnswered, Status: MsgQueued,
				EventKey: fmt.Sprintf("ticket_answered:%s:%d", t.No, len(t.Messages)+1),
				Page:     "pages/help/ticket?ticket_no=" + t.No,
				Data:     TicketAnsweredData(t.No, now, care)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if first {
		s.d.Metrics.TicketFirstResponse(s.d.Hours.Between(before.OpenedAt, replyAt))
	}
	if err := s.audit(ctx, actor, "ticket_reply", no, before, after); err != nil {
		return nil, err
	}
	return s.d.Store.FindTicket(ctx, no)
}

// AdminSetStatus resolves or closes a ticket as operations (audited).
//
// Errors: ticket_invalid (400), not_found (404), ticket_state (409).
func (s *TicketService) AdminSetStatus(ctx context.Context, actor, no, status, note string) (*Ticket, error) {
	before, err := s.find(ctx, no)
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(note) > 500 {
		return nil, Invalid("ticket_invalid", "备注最多500字", FieldError{Field: "note", Code: "length", Message: "最多500字"})
	}
	after, err := s.d.Store.UpdateTicket(ctx, no, func(t *Ticket, fx *TicketEffects) error {
		now := s.d.Clock.Now().UTC()
		switch TicketStatus(status) {
		case TicketResolved:
			if err := t.Resolve(now); err != nil {
				return err
			}
		case TicketClosed:
			if err := t.Close(now); err != nil {
				return err
			}
		case TicketOpen:
			if err := t.Reopen(); err != nil {
				return err
			}
		default:
			return Invalid("ticket_invalid", "状态只能是 resolved、closed 或 open", FieldError{Field: "status", Code: "invalid", Message: "resolved、closed 或 open"})
		}
		if strings.TrimSpace(note) != "" {
			fx.Messages = append(fx.Messages, TicketMessage{Author: AuthorSystem, Actor: actor, Body: "备注：" + strings.TrimSpace(note), CreatedAt: now})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, actor, "ticket_"+status, no, before, after); err != nil {
		return nil, err
	}
	return s.d.Store.FindTicket(ctx, no)
}

// ticketAudit is a ticket's state in the audit log: no message bodies
// (they may hold what the user typed about themselves).
type ticketAudit struct {
	Status          TicketStatus `json:"status"`
	FirstResponseAt time.Time    `json:"first_response_at,omitzero"`
	Messages        int          `json:"messages"`
}

func (s *TicketService) audit(ctx context.Context, actor, action, no string, before, after *Ticket) error {
	enc := func(t *Ticket) string {
		if t == nil {
			return ""
		}
		b, _ := json.Marshal(ticketAudit{Status: t.Status, FirstResponseAt: t.FirstResponseAt, Messages: len(t.Messages)})
		return string(b)
	}
	return s.d.Audit.WriteAudit(ctx, AuditEntry{Actor: actor, Action: action, Target: "ticket:" + no, Before: enc(before),
		After: enc(after), CreatedAt: s.d.Clock.Now()})
}

// SweepSLA marks tickets whose first response is overdue: once each, with
// one ticket_sla_breached alert (in the same transaction) and a metric.
func (s *TicketService) SweepSLA(ctx context.Context) (int, error) {
	now := s.d.Clock.Now().UTC()
	due, err := s.d.Store.FindOverdueTickets(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range due {
		marked := false
		_, err := s.d.Store.UpdateTicket(ctx, c.No, func(t *Ticket, fx *TicketEffects) error {
			if !t.SLABreachedAt.IsZero() || !t.FirstResponseAt.IsZero() || !now.After(t.FirstResponseDueAt) {
				return ErrNoChange
			}
			t.SLABreachedAt = now
			fx.Alerts = append(fx.Alerts, Alert{Kind: AlertTicketSLABreached, Ref: t.No,
				Detail: fmt.Sprintf("no first response by %s (opened %s, category %s, source %s)",
					t.FirstResponseDueAt.Format(time.RFC3339), t.OpenedAt.Format(time.RFC3339), t.Category, t.Source)})
			marked = true
			return nil
		})
		if err != nil && !errors.Is(err, ErrNoChange) {
			return n, err
		}
		if marked {
			s.d.Metrics.TicketSLABreached()
			n++
		}
	}
	return n, nil
}
