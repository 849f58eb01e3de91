package provsim

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
)

// Identity check rules.
const (
	CheckTTL         = 5 * time.Minute
	CheckMaxFailures = 5
)

func validPhone(p string) bool {
	if len(p) != 11 || p[0] != '1' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

func (s *Sim) handleStartCheck(c *call) reply {
	var in platform.WireIdentityStart
	if err := decodeStrict(c.body, &in); err != nil {
		return invalid("请求格式错误")
	}
	if !c.regionAllowed(in.Region) {
		return regionNotAllowed()
	}
	switch in.Method {
	case service.IdentitySMS:
		if !validPhone(in.Phone) {
			return invalid("手机号码格式错误")
		}
	case service.IdentityCardPwd, service.IdentityNational:
	default:
		return invalid("不支持的核验方式")
	}
	if !validPerson(in.Person) {
		return invalid("证件信息不完整")
	}
	ps := personaOf(in.Region, in.Person)
	if ps.mismatch {
		return errReply(http.StatusUnprocessableEntity, service.RejectPersonMismatch, "姓名与证件号码不一致", false)
	}
	if ps.notInsured && in.Method == service.IdentityCardPwd {
		return errReply(http.StatusUnprocessableEntity, service.RejectNotInsured, "未申领电子社保卡", false)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	now := s.cfg.Clock.Now()
	ck := &check{
		id:      fmt.Sprintf("ic_%06d_%08x", s.seq, s.rng.Uint32()),
		region:  in.Region,
		method:  in.Method,
		person:  in.Person,
		expires: now.Add(CheckTTL),
	}
	if in.Method == service.IdentitySMS {
		ck.code = fmt.Sprintf("%06d", s.rng.IntN(1000000))
		s.log.Info("provsim: sms sent", "check_id", ck.id, "id", maskID(in.Person.IDNumber))
	}
	s.checks[ck.id] = ck
	return reply{http.StatusOK, platform.WireIdentityStarted{CheckID: ck.id, Method: ck.method,
		ExpiresAt: ck.expires.Format(time.RFC3339)}}
}

func eq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Sim) handleFinishCheck(c *call) reply {
	var in platform.WireIdentityFinish
	if err := decodeStrict(c.body, &in); err != nil {
		return invalid("请求格式错误")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ck, ok := s.checks[c.r.PathValue("check_id")]
	if !ok || ck.region != in.Region || !c.regionAllowed(in.Region) {
		return errReply(http.StatusNotFound, service.RejectCheckNotFound, "核验不存在或已过期", false)
	}
	if ck.passed {
		return reply{http.StatusOK, platform.WireIdentityFinished{CheckID: ck.id, Passed: true, AttemptsLeft: CheckMaxFailures - ck.failures}}
	}
	if !s.cfg.Clock.Now().Before(ck.expires) {
		return errReply(http.StatusNotFound, service.RejectCheckNotFound, "核验不存在或已过期", false)
	}
	if ck.failures >= CheckMaxFailures {
		return errReply(http.StatusUnprocessableEntity, service.RejectCheckLocked, "错误次数过多，请稍后重新发起核验", false)
	}
	var pass bool
	switch ck.method {
	case service.IdentitySMS:
		pass = eq(in.Secret, ck.code) || eq(in.Secret, DevSMSCode)
	case service.IdentityCardPwd:
		pass = eq(in.Secret, ECardPassword)
	case service.IdentityNational:
		pass = eq(in.Secret, NationalToken)
	}
	if pass {
		ck.passed = true
	} else {
		ck.failures++
	}
	return reply{http.StatusOK, platform.WireIdentityFinished{CheckID: ck.id, Passed: pass, AttemptsLeft: CheckMaxFailures - ck.failures}}
}

// LastSMSCode returns the code "sent" for an SMS check, or "".
func (s *Sim) LastSMSCode(checkID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ck, ok := s.checks[checkID]; ok {
		return ck.code
	}
	return ""
}

// CompleteIdentityCheck ends a check asynchronously, as the national
// platform does after the person confirms in its app, and sends a signed
// identity_check.completed callback.
func (s *Sim) CompleteIdentityCheck(ctx context.Context, checkID string, passed bool) error {
	s.mu.Lock()
	ck, ok := s.checks[checkID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("provsim: no identity check %q", checkID)
	}
	ck.passed = ck.passed || passed
	reason := ""
	if !passed {
		reason = "用户未完成授权"
	}
	ev := s.newEvent(ck.region, service.EventIdentityCheckCompleted, s.cfg.Clock.Now(),
		platform.WireEventData{CheckID: ck.id, Passed: &passed, Reason: reason})
	s.mu.Unlock()
	return s.deliver(ctx, ev)
}
