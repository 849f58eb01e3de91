package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Subscribe messages (微信订阅消息). The mini-program asks the user with
// wx.requestSubscribeMessage and reports what was accepted; each acceptance
// of a one-time template allows WeChat to deliver exactly one message, so
// grants are counted per (user, template) and one is taken per send. A
// message is keyed by (user, event): the same event never reaches a user
// twice. Sends go through the outbox (kind subscribe_send) with retries;
// errcode 43101 (the user refused, or the grant is used up) is "no grant",
// never retried. Messages carry no ID number and no name: order numbers,
// amounts, times and fixed wording only.

// Template keys: the closed list of what we send. Each has a template id
// from configuration (SUBSCRIBE_TEMPLATES).
const (
	TplPaymentReceived   = "payment_received"
	TplPosted            = "posted"
	TplRefundIssued      = "refund_issued"
	TplRefundArrived     = "refund_arrived"
	TplOutcomeConfirming = "outcome_confirming"
	TplInfoDelay         = "info_delay"
	TplTicketAnswered    = "ticket_answered"
	TplLapseReminder     = "lapse_reminder"
)

// Template field kinds, as WeChat's template keywords are typed
// (thing1, amount2, ...): the key's prefix is its kind.
const (
	FieldThing     = "thing"            // up to 20 characters
	FieldCharStr   = "character_string" // up to 32 letters, digits and symbols
	FieldAmount    = "amount"           // a number with up to two decimals, optionally ending in 元
	FieldTime      = "time"             // 2006年01月02日 15:04
	FieldDate      = "date"             // 2006年01月02日
	FieldPhrase    = "phrase"           // up to 5 Chinese characters
	FieldNumberStr = "number"           // up to 32 digits
)

// SubscribeTemplate is one message type: its key, its title in the WeChat
// console, and the keywords (data keys) the template in the console must
// have, in order.
type SubscribeTemplate struct {
	Key    string
	Title  string
	Fields []string
}

// SubscribeTemplates is the one list of templates and their fields. The
// templates chosen in the mini-program console must have exactly these
// keywords (docs/operations.md, "Subscribe messages").
var SubscribeTemplates = []SubscribeTemplate{
	{TplPaymentReceived, "缴费成功通知", []string{"character_string1", "amount2", "time3", "thing4", "phrase5"}},
	{TplPosted, "社保入账通知", []string{"character_string1", "amount2", "thing3", "phrase4"}},
	{TplRefundIssued, "退款发起通知", []string{"character_string1", "amount2", "thing3", "phrase4"}},
	{TplRefundArrived, "退款到账通知", []string{"character_string1", "amount2", "time3", "thing4"}},
	{TplOutcomeConfirming, "缴费结果核实通知", []string{"character_string1", "thing2", "phrase3"}},
	{TplInfoDelay, "入账延迟提醒", []string{"character_string1", "thing2", "thing3"}},
	{TplTicketAnswered, "工单回复通知", []string{"character_string1", "thing2", "time3"}},
	{TplLapseReminder, "断缴提醒", []string{"thing1", "date2", "thing3"}},
}

// FindTemplate returns the template of key.
func FindTemplate(key string) (SubscribeTemplate, bool) {
	for _, t := range SubscribeTemplates {
		if t.Key == key {
			return t, true
		}
	}
	return SubscribeTemplate{}, false
}

// FieldKind returns the kind of a data key: "thing3" → "thing".
func FieldKind(key string) string {
	return strings.TrimRight(key, "0123456789")
}

// Message statuses.
const (
	MsgQueued  = "queued"   // waiting for the send worker
	MsgSent    = "sent"     // WeChat accepted it
	MsgNoGrant = "no_grant" // no acceptance left (ours or WeChat's 43101); not sent
	MsgFailed  = "failed"   // WeChat refused it for good (template, data, openid) or retries ran out
)

// SubscribeMessage is one message to one user for one event.
type SubscribeMessage struct {
	ID         int64
	UserID     int64
	EventKey   string // unique per user: "paid:<out_trade_no>", "lapse:<person>:<month>", ...
	Template   string // template key
	Page       string // mini-program page opened from the message
	Data       map[string]string
	Status     string
	GrantTaken bool
	ErrCode    int
	CreatedAt  time.Time
	SentAt     time.Time
}

// JobSubscribeSend is the outbox kind of a message send; Ref is the
// message id.
const JobSubscribeSend = "subscribe_send"

// SubscribeStore keeps grants and messages.
type SubscribeStore interface {
	// AddGrants adds n to the user's remaining grants of template key.
	AddGrants(ctx context.Context, userID int64, key string, n int) error
	// ClearGrants sets the user's remaining grants of key to 0.
	ClearGrants(ctx context.Context, userID int64, key string) error
	// Grants returns the remaining grants per template key.
	Grants(ctx context.Context, userID int64) (map[string]int, error)
	// EnqueueMessage inserts m and its send job in one transaction. It
	// returns false, writing nothing, when (user, event) already exists.
	EnqueueMessage(ctx context.Context, m *SubscribeMessage) (bool, error)
	// HasMessage reports whether (user, event) has a message already.
	HasMessage(ctx context.Context, userID int64, eventKey string) (bool, error)
	// FindMessage returns a message, or ErrNotFound.
	FindMessage(ctx context.Context, id int64) (*SubscribeMessage, error)
	// FindMessages lists a user's messages, newest first.
	FindMessages(ctx context.Context, userID int64, limit int) ([]SubscribeMessage, error)
	// TakeGrant takes one of the user's grants of the message's template
	// for a queued message that has none yet, in one transaction; false
	// when none is left (or the message is not queued).
	TakeGrant(ctx context.Context, id int64) (bool, error)
	// FinishMessage moves a queued message to status (sent, no_grant,
	// failed) with WeChat's errcode.
	FinishMessage(ctx context.Context, id int64, status string, errCode int, at time.Time) error
}

// SubscribeError is WeChat's answer to a send that was not accepted.
type SubscribeError struct {
	ErrCode int
	ErrMsg  string
}

func (e *SubscribeError) Error() string {
	return fmt.Sprintf("subscribe send: errcode=%d errmsg=%s", e.ErrCode, e.ErrMsg)
}

// WeChat errcodes of subscribeMessage.send that decide what we do.
const (
	ErrCodeNoGrant         = 43101 // user refused, or the one-time grant is used up
	ErrCodeInvalidTemplate = 40037
	ErrCodeInvalidData     = 47003
	ErrCodeInvalidOpenID   = 40003
	ErrCodeInvalidPage     = 41030
)

// subscribePermanent are the errcodes that no retry can fix: our
// configuration or data is wrong. They fail the message and alert.
var subscribePermanent = map[int]bool{ErrCodeInvalidTemplate: true, ErrCodeInvalidData: true, ErrCodeInvalidOpenID: true, ErrCodeInvalidPage: true}

// SubscribeSender sends one message through WeChat (silenceper's
// miniprogram/subscribe). A refusal is a *SubscribeError; anything else
// (timeout, 5xx, -1) is transient.
type SubscribeSender interface {
	SendSubscribe(ctx context.Context, openID, templateID, page string, data map[string]string) error
}

// HelpMetrics counts what customer service and notifications do; package
// metrics implements it.
type HelpMetrics interface {
	// SubscribeSend counts one send outcome by template key: sent,
	// no_grant, failed, retry.
	SubscribeSend(template, result string)
	// TicketSLABreached counts a ticket whose first response is late.
	TicketSLABreached()
	// TicketFirstResponse observes the business time to a first response.
	TicketFirstResponse(d time.Duration)
}

// NopHelpMetrics discards every event.
type NopHelpMetrics struct{}

func (NopHelpMetrics) SubscribeSend(string, string)      {}
func (NopHelpMetrics) TicketSLABreached()                {}
func (NopHelpMetrics) TicketFirstResponse(time.Duration) {}

// SubscribeDeps are what SubscribeService needs.
type SubscribeDeps struct {
	Store  SubscribeStore
	Outbox Outbox
	Users  UserFinder
	Sender SubscribeSender
	// TemplateIDs maps template keys to the console's template ids; a key
	// without an id is never enqueued.
	TemplateIDs map[string]string
	Clock       Clock
	Log         *slog.Logger
	Metrics     HelpMetrics
	Alerts      AlertRecorder
	Owner       string // outbox lease owner
}

// SubscribeService records grants, enqueues and sends messages.
type SubscribeService struct {
	d SubscribeDeps
}

// NewSubscribeService returns a SubscribeService. It panics on a missing
// dependency.
func NewSubscribeService(d SubscribeDeps) *SubscribeService {
	if d.Store == nil || d.Outbox == nil || d.Users == nil || d.Sender == nil || d.Clock == nil || d.Alerts == nil {
		panic("service: NewSubscribeService: missing dependency")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = NopHelpMetrics{}
	}
	if d.Owner == "" {
		d.Owner = "subscribe"
	}
	return &SubscribeService{d: d}
}

// TemplateGrant is a template as the mini-program sees it.
type TemplateGrant struct {
	Key        string
	TemplateID string
	Title      string
	Remaining  int
}

// Templates lists the configured templates with the user's remaining
// grants, for wx.requestSubscribeMessage's tmplIds.
func (s *SubscribeService) Templates(ctx context.Context, userID int64) ([]TemplateGrant, error) {
	grants, err := s.d.Store.Grants(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []TemplateGrant
	for _, t := range SubscribeTemplates {
		id := s.d.TemplateIDs[t.Key]
		if id == "" {
			continue
		}
		out = append(out, TemplateGrant{Key: t.Key, TemplateID: id, Title: t.Title, Remaining: grants[t.Key]})
	}
	return out, nil
}

// Results of wx.requestSubscribeMessage per template id.
const (
	SubAccept = "accept"
	SubReject = "reject"
	SubBan    = "ban"    // the user turned the template off in settings
	SubFilter = "filter" // WeChat filtered the template (title duplicates)
)

// RecordResults applies what wx.requestSubscribeMessage returned: each
// "accept" adds one grant; "ban" clears the template's grants. It returns
// the templates with their new counts.
//
// Errors: subscription_invalid (400) for an unknown template id or result.
func (s *SubscribeService) RecordResults(ctx context.Context, userID int64, results map[string]string) ([]TemplateGrant, error) {
	if len(results) == 0 || len(results) > len(SubscribeTemplates) {
		return nil, Invalid("subscription_invalid", "请提供订阅结果", FieldError{Field: "results", Code: "required", Message: "订阅结果不能为空"})
	}
	byID := map[string]string{}
	for k, id := range s.d.TemplateIDs {
		byID[id] = k
	}
	type change struct {
		key    string
		result string
	}
	var changes []change
	for id, res := range results {
		key, ok := byID[id]
		if !ok {
			return nil, Invalid("subscription_invalid", "未知的订阅消息模板",
				FieldError{Field: "results." + clipField(id), Code: "unknown_template", Message: "未知的模板"})
		}
		switch res {
		case SubAccept, SubReject, SubBan, SubFilter:
		default:
			return nil, Invalid("subscription_invalid", "订阅结果只能是 accept、reject、ban 或 filter",
				FieldError{Field: "results." + clipField(id), Code: "invalid_result", Message: "无效的订阅结果"})
		}
		changes = append(changes, change{key, res})
	}
	for _, c := range changes {
		var err error
		switch c.result {
		case SubAccept:
			err = s.d.Store.AddGrants(ctx, userID, c.key, 1)
		case SubBan:
			err = s.d.Store.ClearGrants(ctx, userID, c.key)
		}
		if err != nil {
			return nil, err
		}
	}
	return s.Templates(ctx, userID)
}

func clipField(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// Notify enqueues the message of template key for (user, eventKey). It is
// idempotent: a repeat of the event for the user writes nothing. Templates
// without a configured id, and users without a grant of the template, are
// skipped.
func (s *SubscribeService) Notify(ctx context.Context, userID int64, eventKey, key, page string, data map[string]string) error {
	if ok, err := s.Wants(ctx, userID, key); !ok || err != nil {
		return err
	}
	m := &SubscribeMessage{UserID: userID, EventKey: eventKey, Template: key, Page: page, Data: data, Status: MsgQueued}
	_, err := s.d.Store.EnqueueMessage(ctx, m)
	return err
}

// Wants reports whether a message of template key could be sent to the
// user now: the template is configured and the user has a grant for it.
// Without an acceptance nothing could be sent: Notify writes no row and
// no job (most users never subscribe to most templates), and a caller may
// skip building the message (the timeline follower skips the user read).
// The worker checks again when it sends, taking the grant.
func (s *SubscribeService) Wants(ctx context.Context, userID int64, key string) (bool, error) {
	if s.d.TemplateIDs[key] == "" {
		return false, nil
	}
	if _, ok := FindTemplate(key); !ok {
		return false, fmt.Errorf("notify: unknown template %q", key)
	}
	grants, err := s.d.Store.Grants(ctx, userID)
	if err != nil {
		return false, err
	}
	if grants[key] <= 0 {
		s.d.Metrics.SubscribeSend(key, MsgNoGrant)
		return false, nil
	}
	return true, nil
}

// Notified reports whether the user has a message for eventKey already.
func (s *SubscribeService) Notified(ctx context.Context, userID int64, eventKey string) (bool, error) {
	return s.d.Store.HasMessage(ctx, userID, eventKey)
}

// Messages lists the user's messages, newest first (for the mini-program's
// message centre and tests).
func (s *SubscribeService) Messages(ctx context.Context, userID int64, limit int) ([]SubscribeMessage, error) {
	return s.d.Store.FindMessages(ctx, userID, limit)
}

// subscribeLease is the outbox lease of one send.
const subscribeLease = time.Minute

// subscribeMaxAttempts bounds the retries of a transient failure.
const subscribeMaxAttempts = 8

// RunOnce claims and sends due messages; it returns how many jobs it
// worked.
func (s *SubscribeService) RunOnce(ctx context.Context) (int, error) {
	jobs, err := s.d.Outbox.Claim(ctx, JobSubscribeSend, s.d.Owner, subscribeLease, 20)
	if err != nil {
		return 0, err
	}
	for _, j := range jobs {
		if err := s.work(ctx, j); err != nil {
			s.d.Log.Warn("subscribe send", "job", j.Ref, "err", err)
		}
	}
	return len(jobs), nil
}

func (s *SubscribeService) complete(ctx context.Context, j OutboxJob) error {
	if err := s.d.Outbox.Complete(ctx, j.ID, s.d.Owner); err != nil && !errors.Is(err, ErrStale) {
		return err
	}
	return nil
}

func (s *SubscribeService) work(ctx context.Context, j OutboxJob) error {
	id, err := strconv.ParseInt(j.Ref, 10, 64)
	if err != nil {
		return s.complete(ctx, j)
	}
	m, err := s.d.Store.FindMessage(ctx, id)
	if isNotFound(err) {
		return s.complete(ctx, j)
	}
	if err != nil {
		return err
	}
	if m.Status != MsgQueued {
		return s.complete(ctx, j)
	}
	now := s.d.Clock.Now()
	if m.Template == TplLapseReminder {
		// Reminders are read in daytime: one found late is held until morning.
		if next, ok := nextDaytime(now); !ok {
			return s.d.Outbox.Retry(ctx, j.ID, s.d.Owner, next, "outside daytime hours")
		}
	}
	if !m.GrantTaken {
		ok, err := s.d.Store.TakeGrant(ctx, m.ID)
		if err != nil {
			return err
		}
		if !ok {
			s.d.Metrics.SubscribeSend(m.Template, MsgNoGrant)
			if err := s.d.Store.FinishMessage(ctx, m.ID, MsgNoGrant, 0, now); err != nil {
				return err
			}
			return s.complete(ctx, j)
		}
	}
	u, err := s.d.Users.FindUserByID(ctx, m.UserID)
	if err != nil {
		return err
	}
	callCtx, cancel, err := leaseCall(ctx, s.d.Outbox, j, s.d.Owner, subscribeLease)
	if err != nil {
		return nil // the lease is lost: someone else has the job
	}
	sendErr := s.d.Sender.SendSubscribe(callCtx, u.OpenID, s.d.TemplateIDs[m.Template], m.Page, m.Data)
	cancel()
	var se *SubscribeError
	switch {
	case sendErr == nil:
		s.d.Metrics.SubscribeSend(m.Template, MsgSent)
		if err := s.d.Store.FinishMessage(ctx, m.ID, MsgSent, 0, s.d.Clock.Now()); err != nil {
			return err
		}
	case errors.As(sendErr, &se) && se.ErrCode == ErrCodeNoGrant:
		// WeChat holds no acceptance for this user and template: our count
		// was ahead of WeChat's. Never retried.
		s.d.Metrics.SubscribeSend(m.Template, MsgNoGrant)
		if err := s.d.Store.ClearGrants(ctx, m.UserID, m.Template); err != nil {
			return err
		}
		if err := s.d.Store.FinishMessage(ctx, m.ID, MsgNoGrant, se.ErrCode, s.d.Clock.Now()); err != nil {
			return err
		}
	case errors.As(sendErr, &se) && subscribePermanent[se.ErrCode]:
		s.d.Metrics.SubscribeSend(m.Template, MsgFailed)
		if err := s.d.Store.FinishMessage(ctx, m.ID, MsgFailed, se.ErrCode, s.d.Clock.Now()); err != nil {
			return err
		}
		if err := s.d.Alerts.RecordAlert(ctx, Alert{Kind: AlertSubscribeRejected, Ref: m.Template,
			Detail: fmt.Sprintf("WeChat refused template %s (errcode %d): check SUBSCRIBE_TEMPLATES and the template's keywords", m.Template, se.ErrCode)}); err != nil {
			return err
		}
	default:
		code := 0
		if se != nil {
			code = se.ErrCode
		}
		if j.Attempts >= subscribeMaxAttempts {
			s.d.Metrics.SubscribeSend(m.Template, MsgFailed)
			if err := s.d.Store.FinishMessage(ctx, m.ID, MsgFailed, code, s.d.Clock.Now()); err != nil {
				return err
			}
			break
		}
		s.d.Metrics.SubscribeSend(m.Template, "retry")
		return s.d.Outbox.Retry(ctx, j.ID, s.d.Owner, s.d.Clock.Now().Add(RetryDelay(j.Attempts)), ErrorText(sendErr, 400))
	}
	return s.complete(ctx, j)
}

// Daytime is when reminders go out, Asia/Shanghai: 09:00 to 20:00.
const (
	DaytimeStartHour = 9
	DaytimeEndHour   = 20
)

// nextDaytime reports whether t is in daytime; when not, it returns the
// next daytime start.
func nextDaytime(t time.Time) (time.Time, bool) {
	l := t.In(Shanghai)
	if l.Hour() >= DaytimeStartHour && l.Hour() < DaytimeEndHour {
		return t, true
	}
	start := time.Date(l.Year(), l.Month(), l.Day(), DaytimeStartHour, 0, 0, 0, Shanghai)
	if l.Hour() >= DaytimeEndHour {
		start = start.AddDate(0, 0, 1)
	}
	return start.UTC(), false
}

// ---- message content ------------------------------------------------------

// clip cuts s to n characters (thing fields hold 20).
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// msgAmount formats fen as WeChat's amount keyword: "123.45元".
func msgAmount(f Fen) string { return f.String() + "元" }

// msgTime formats t as WeChat's time keyword in Asia/Shanghai.
func msgTime(t time.Time) string { return t.In(Shanghai).Format("2006年01月02日 15:04") }

// msgDate formats t as WeChat's date keyword in Asia/Shanghai.
func msgDate(t time.Time) string { return t.In(Shanghai).Format("2006年01月02日") }

// wording picks the care-mode (plain) or the normal text.
func wording(care bool, normal, plain string) string {
	if care {
		return plain
	}
	return normal
}

// orderPage is the order's page in the mini-program.
func orderPage(orderNo string) string { return "pages/order/detail?order_no=" + orderNo }

// BatchMessage builds the message of an order timeline event for the
// payer, or reports false when the event type sends none. regionName is
// the region's display name (never a person's).
func BatchMessage(eventType string, o *Order, b *Batch, regionName string, at time.Time, care bool) (key, page string, data map[string]string, ok bool) {
	amount := msgAmount(b.AmountFen)
	page = orderPage(o.No)
	paidAt := b.PaidAt
	if paidAt.IsZero() {
		paidAt = at
	}
	switch eventType {
	case "paid":
		return TplPaymentReceived, page, map[string]string{
			"character_string1": o.No, "amount2": amount, "time3": msgTime(paidAt),
			"thing4": clip(regionName+" 社保缴费", 20), "phrase5": "已支付"}, true
	case "posted":
		return TplPosted, "pages/order/vouchers?order_no=" + o.No, map[string]string{
			"character_string1": o.No, "amount2": amount,
			"thing3":  wording(care, "已入账，点此查看电子票据和凭证", "交上了，点这里看票据"),
			"phrase4": "已入账"}, true
	case "refunding":
		return TplRefundIssued, page, map[string]string{
			"character_string1": o.No, "amount2": amount,
			"thing3":  wording(care, "未能入账，资金正原路退回", "没交上，钱在退回"),
			"phrase4": "退款中"}, true
	case "refunded":
		return TplRefundArrived, page, map[string]string{
			"character_string1": o.No, "amount2": amount, "time3": msgTime(at),
			"thing4": wording(care, "已原路退回：零钱即时，银行卡1-3工作日", "钱已退回，请查收")}, true
	case "posting_confirming":
		return TplOutcomeConfirming, page, map[string]string{
			"character_string1": o.No,
			"thing2":            wording(care, "正在核实入账结果，请勿重复缴费", "在核实，请不要重复交"),
			"phrase3":           "待确认"}, true
	case "info_delay":
		return TplInfoDelay, page, map[string]string{
			"character_string1": o.No,
			"thing2":            wording(care, "社保局3个工作日未确认入账", "3天还没到账"),
			"thing3":            wording(care, "请拨打12333核验，客服已跟进", "请打12333，我们在跟进")}, true
	}
	return "", "", nil, false
}

// TicketAnsweredData is the ticket_answered message.
func TicketAnsweredData(ticketNo string, at time.Time, care bool) map[string]string {
	return map[string]string{"character_string1": ticketNo,
		"thing2": wording(care, "客服已回复您的工单，点此查看", "客服回复您了"), "time3": msgTime(at)}
}

// LapseData is the lapse_reminder message: the region's name and the
// month, never the person's name.
func LapseData(regionName, month string, due time.Time, care bool) map[string]string {
	return map[string]string{
		"thing1": clip(regionName+" "+month+" 社保未缴", 20),
		"date2":  msgDate(due),
		"thing3": wording(care, "截止日前缴费，避免断缴", "快到截止日了，请去交"),
	}
}
