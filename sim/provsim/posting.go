package provsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
)

// canonicalHash hashes a JSON body so that key order and whitespace do not
// matter ("same body" in the idempotency rule).
func canonicalHash(b []byte) ([32]byte, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return [32]byte{}, err
	}
	c, err := json.Marshal(v)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(c), nil
}

func (s *Sim) handlePost(c *call) reply {
	key := c.r.Header.Get(platform.HeaderIdempotencyKey)
	if !platform.ValidIdempotencyKey(key) {
		return invalid("缺少或无效的 Idempotency-Key")
	}
	hash, err := canonicalHash(c.body)
	if err != nil {
		return invalid("请求格式错误")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.ledger[key]; ok {
		if e.voided {
			return errReply(http.StatusUnprocessableEntity, "posting_voided", "该缴费已作废，不会入账", false)
		}
		if s.dark {
			return errReply(http.StatusServiceUnavailable, "temporarily_unavailable", "系统繁忙，请稍后再试", true)
		}
		if e.hash != hash {
			return errReply(http.StatusConflict, service.RejectIdempotencyConflict, "同一幂等键的请求内容不一致", false)
		}
		return e.reply()
	}
	if s.failNext > 0 {
		s.failNext--
		return errReply(http.StatusServiceUnavailable, "temporarily_unavailable", "系统繁忙，请稍后再试", true)
	}
	var p platform.WirePosting
	if err := decodeStrict(c.body, &p); err != nil {
		return invalid("请求格式错误")
	}
	if p.IdempotencyKey != key {
		return invalid("幂等键与请求体不一致")
	}
	if !c.regionAllowed(p.Region) {
		return errReply(http.StatusForbidden, "region_not_allowed", "无权访问该地区", false)
	}
	now := s.cfg.Clock.Now()
	e := &entry{key: key, region: p.Region, hash: hash, posting: p, at: now}
	s.ledger[key] = e
	s.order = append(s.order, key)
	if code, msg := s.check(p); code != "" {
		e.reject(code, msg)
		return e.reply()
	}
	ps := personaOf(p.Region, p.Person)
	switch {
	case s.mode == ModeReject:
		e.reject(s.rejCode, s.rejReason)
		return e.reply()
	case s.mode == ModePending || ps.pending:
		s.seq++
		e.status = http.StatusAccepted
		e.result = platform.WirePostingResult{IdempotencyKey: key, Status: string(service.PostingPending),
			Reference: fmt.Sprintf("SI%s%08d", digits(p.Region, 6), s.seq), MutualAidFen: p.MutualAidFen}
		s.book(e)
		if s.cfg.PendingDelay > 0 {
			time.AfterFunc(s.cfg.PendingDelay, func() {
				_, _ = s.settle(context.Background(), key, true, "", "")
			})
		}
		return e.reply()
	}
	s.seq++
	e.status = http.StatusOK
	e.result = platform.WirePostingResult{IdempotencyKey: key, Status: string(service.PostingAccepted),
		Reference: fmt.Sprintf("SI%s%08d", digits(p.Region, 6), s.seq), Receipt: s.receipt(p, now), MutualAidFen: p.MutualAidFen}
	s.book(e)
	if s.dark {
		// Booked, and the answer is lost.
		return errReply(http.StatusServiceUnavailable, "temporarily_unavailable", "系统繁忙，请稍后再试", true)
	}
	return e.reply()
}

// check validates a posting and returns a rejection code and message, or "".
func (s *Sim) check(p platform.WirePosting) (string, string) {
	if !validPerson(p.Person) || len(p.Lines) == 0 || p.AmountFen <= 0 || p.OutTradeNo == "" || p.TransactionID == "" {
		return service.RejectInvalidRequest, "缴费信息不完整"
	}
	if _, err := time.Parse(time.RFC3339, p.PaidAt); err != nil {
		return service.RejectInvalidRequest, "支付时间格式错误"
	}
	ps := personaOf(p.Region, p.Person)
	if ps.mismatch {
		return service.RejectPersonMismatch, "姓名与证件号码不一致"
	}
	if ps.notInsured {
		return service.RejectNotInsured, "未查询到参保信息，请先办理参保登记"
	}
	var sum int64
	seen := map[string]bool{}
	for _, l := range p.Lines {
		if l.Insurance != service.InsurancePension && l.Insurance != service.InsuranceMedical || !service.ValidMonth(l.Month) || l.AmountFen <= 0 {
			return service.RejectInvalidRequest, "缴费明细格式错误"
		}
		if l.Insurance == service.InsuranceMedical && ps.medicalNever {
			return service.RejectNotInsured, "未参加职工医疗保险"
		}
		k := l.Insurance + "|" + l.Month
		if seen[k] || s.booked[personKey(p.Region, p.Person, l.Insurance)][l.Month] {
			return service.RejectMonthNotPayable, "所缴月份已缴费或正在处理"
		}
		// Future months: exactly the region's prepayment window in force.
		if cur := service.Month(s.cfg.Clock.Now()); l.Month > cur && service.MonthsBetween(cur, l.Month) > s.prepayCap(p.Region, cur) {
			return service.RejectMonthNotPayable, "超出预缴期限，不能预缴该月份"
		}
		seen[k] = true
		sum += l.AmountFen
	}
	if p.MutualAidFen < 0 || sum != p.AmountFen+p.MutualAidFen {
		return service.RejectAmountMismatch, "缴费金额与家庭共济抵扣之和与明细合计不一致"
	}
	if p.MutualAidFen > 0 {
		if p.MutualAidAccount == nil || !validPerson(*p.MutualAidAccount) {
			return service.RejectInvalidRequest, "缺少家庭共济账户"
		}
		acc := *p.MutualAidAccount
		if bal := personaOf(p.Region, acc).mutualAidFen - s.aidSpent[aidKey(p.Region, acc)]; p.MutualAidFen > bal {
			return "mutual_aid_insufficient", "家庭共济账户余额不足"
		}
	}
	return "", ""
}

// aidKey identifies a family mutual-aid account.
func aidKey(region string, p platform.WirePerson) string {
	return personKey(region, p, "mutual_aid")
}

// book marks the posting's months paid and draws its mutual aid, once per
// key (the ledger holds one entry per key).
func (s *Sim) book(e *entry) {
	p := e.posting
	for _, l := range p.Lines {
		k := personKey(p.Region, p.Person, l.Insurance)
		if s.booked[k] == nil {
			s.booked[k] = map[string]bool{}
		}
		s.booked[k][l.Month] = true
	}
	if p.MutualAidFen > 0 && p.MutualAidAccount != nil && e.aidFen == 0 {
		e.aidKey, e.aidFen = aidKey(p.Region, *p.MutualAidAccount), p.MutualAidFen
		s.aidSpent[e.aidKey] += e.aidFen
	}
}

// unbook frees the months and restores the mutual aid of a posting that
// will never be booked (rejected while pending, or voided).
func (s *Sim) unbook(e *entry) {
	p := e.posting
	for _, l := range p.Lines {
		delete(s.booked[personKey(p.Region, p.Person, l.Insurance)], l.Month)
	}
	if e.aidFen > 0 {
		s.aidSpent[e.aidKey] -= e.aidFen
		e.aidFen = 0
	}
}

// MutualAidBalance returns what the family mutual-aid account of person
// can still offset in region.
func (s *Sim) MutualAidBalance(region string, person platform.WirePerson) service.Fen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return service.Fen(personaOf(region, person).mutualAidFen - s.aidSpent[aidKey(region, person)])
}

// handleVoid answers POST /si/v1/postings/{key}/void: a key never seen,
// rejected or still pending is voided for good (a pending one's months and
// mutual aid are freed); a booked posting is answered as it stands.
func (s *Sim) handleVoid(c *call) reply {
	key := c.r.PathValue("key")
	var in platform.WireVoid
	if err := decodeStrict(c.body, &in); err != nil || in.IdempotencyKey != key || !platform.ValidIdempotencyKey(key) {
		return invalid("请求格式错误")
	}
	if !c.regionAllowed(in.Region) {
		return errReply(http.StatusForbidden, "region_not_allowed", "无权访问该地区", false)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dark {
		return errReply(http.StatusServiceUnavailable, "temporarily_unavailable", "系统繁忙，请稍后再试", true)
	}
	e, ok := s.ledger[key]
	if ok && e.region != in.Region {
		return errReply(http.StatusForbidden, "region_not_allowed", "无权访问该地区", false)
	}
	if !ok {
		e = &entry{key: key, region: in.Region, at: s.cfg.Clock.Now()}
		s.ledger[key] = e
		s.order = append(s.order, key)
	}
	switch {
	case e.voided:
	case e.result.Status == string(service.PostingAccepted):
		return reply{http.StatusOK, e.result}
	case e.result.Status == string(service.PostingPending):
		s.unbook(e)
		fallthrough
	default:
		e.voided = true
		e.status = http.StatusOK
		e.errBody = nil
		e.result = platform.WirePostingResult{IdempotencyKey: key, Status: string(service.PostingVoided), Reason: "已作废，不会入账"}
	}
	return reply{http.StatusOK, e.result}
}

func (e *entry) reject(code, msg string) {
	if code == "" {
		code = service.RejectNotInsured
	}
	if msg == "" {
		msg = "平台拒绝受理"
	}
	e.status = http.StatusUnprocessableEntity
	if code == service.RejectInvalidRequest {
		e.status = http.StatusBadRequest
	}
	e.errBody = &platform.WireError{Error: platform.WireErrorBody{Code: code, Message: msg}}
	e.result = platform.WirePostingResult{IdempotencyKey: e.key, Status: string(service.PostingRejected), Code: code, Reason: msg}
}

// reply is the stored answer to the first request with this key.
func (e *entry) reply() reply {
	if e.errBody != nil {
		return reply{e.status, *e.errBody}
	}
	return reply{e.status, e.result}
}

// digits derives n decimal digits from s: s itself when it is n digits.
func digits(s string, n int) string {
	if len(s) == n && strings.Trim(s, "0123456789") == "" {
		return s
	}
	h := fnv.New64a()
	h.Write([]byte(s))
	v := h.Sum64()
	out := make([]byte, n)
	for i := range out {
		out[i] = byte('0' + v%10)
		v /= 10
	}
	return string(out)
}

// receipt issues the 受理回执 and the fiscal e-receipt of an accepted posting.
func (s *Sim) receipt(p platform.WirePosting, now time.Time) *platform.WireReceipt {
	day := now.In(service.Shanghai)
	m := hmac.New(sha256.New, []byte("provsim-check-code"))
	m.Write([]byte(p.IdempotencyKey))
	return &platform.WireReceipt{
		AcceptanceNo: fmt.Sprintf("SL%s%s%06d", digits(p.Region, 6), day.Format("20060102"), s.seq),
		AcceptedAt:   now.Format(time.RFC3339),
		Fiscal: platform.WireFiscal{
			Code:      digits(p.Region, 2) + "01" + day.Format("06") + "01",
			Number:    fmt.Sprintf("%010d", s.seq),
			CheckCode: strings.ToUpper(fmt.Sprintf("%x", m.Sum(nil)[:3])),
			IssuedOn:  day.Format(time.DateOnly),
			AmountFen: p.AmountFen,
		},
	}
}

func (s *Sim) handleQuery(c *call) reply {
	key := c.r.PathValue("key")
	region := c.r.URL.Query().Get("region")
	if !c.regionAllowed(region) {
		return errReply(http.StatusForbidden, "region_not_allowed", "无权访问该地区", false)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dark {
		return errReply(http.StatusServiceUnavailable, "temporarily_unavailable", "系统繁忙，请稍后再试", true)
	}
	e, ok := s.ledger[key]
	if !ok || e.region != region {
		return errReply(http.StatusNotFound, service.RejectPostingNotFound, "未找到该缴费记录", false)
	}
	return reply{http.StatusOK, e.result}
}

// settle accepts (or rejects) one pending posting and sends its callback.
// It reports whether the posting was pending.
func (s *Sim) settle(ctx context.Context, key string, accept bool, code, reason string) (bool, error) {
	s.mu.Lock()
	e, ok := s.ledger[key]
	if !ok || e.result.Status != string(service.PostingPending) {
		s.mu.Unlock()
		return false, nil
	}
	now := s.cfg.Clock.Now()
	typ := service.EventPostingAccepted
	if accept {
		e.status = http.StatusOK
		e.result.Status = string(service.PostingAccepted)
		e.result.Receipt = s.receipt(e.posting, now)
	} else {
		typ = service.EventPostingRejected
		s.unbook(e)
		e.reject(code, reason)
		e.result.Reference = ""
	}
	r := e.result
	ev := s.newEvent(e.region, typ, now, platform.WireEventData{IdempotencyKey: key, Status: r.Status,
		Reference: r.Reference, Reason: r.Reason, Receipt: r.Receipt, MutualAidFen: r.MutualAidFen})
	s.mu.Unlock()
	return true, s.deliver(ctx, ev)
}

// CompletePending accepts every pending posting and sends a signed
// posting.accepted callback for each. It returns how many it accepted;
// failed deliveries stay queued for FlushCallbacks.
func (s *Sim) CompletePending(ctx context.Context) (int, error) {
	return s.settleAll(ctx, true, "", "")
}

// RejectPending refuses every pending posting for good (posting.rejected
// callbacks with code and reason).
func (s *Sim) RejectPending(ctx context.Context, code, reason string) (int, error) {
	return s.settleAll(ctx, false, code, reason)
}

func (s *Sim) settleAll(ctx context.Context, accept bool, code, reason string) (int, error) {
	s.mu.Lock()
	keys := append([]string(nil), s.order...)
	s.mu.Unlock()
	n := 0
	var errs []error
	for _, k := range keys {
		ok, err := s.settle(ctx, k, accept, code, reason)
		if ok {
			n++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// Booking is one ledger row, for tests.
type Booking struct {
	IdempotencyKey string
	Region         string
	AmountFen      service.Fen
	Months         []string // insurance:month
	Result         service.PostingResult
	BookedAt       time.Time
}

// Bookings returns every ledger row in arrival order, including rejected
// ones (Result.Status says which). One key appears at most once.
func (s *Sim) Bookings() []Booking {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Booking, 0, len(s.order))
	for _, k := range s.order {
		e := s.ledger[k]
		b := Booking{IdempotencyKey: k, Region: e.region, AmountFen: service.Fen(e.posting.AmountFen), BookedAt: e.at}
		for _, l := range e.posting.Lines {
			b.Months = append(b.Months, l.Insurance+":"+l.Month)
		}
		r := e.result
		if r.Status == string(service.PostingAccepted) && r.Receipt != nil {
			b.Result, _ = platform.ToPostingResult(r)
		} else {
			b.Result = service.PostingResult{Status: service.PostingStatus(r.Status), Reference: r.Reference, Reason: r.Reason}
		}
		out = append(out, b)
	}
	return out
}

// Attempts returns how many authenticated posting requests arrived with key,
// including resends and injected failures.
func (s *Sim) Attempts(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[key]
}
