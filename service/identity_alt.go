package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RegionIdentityRules tells which identity methods a region accepts. The
// region catalogue implements it.
type RegionIdentityRules interface {
	// IdentityMethods returns the region's accepted methods (IdentityFace,
	// IdentitySMS, ...) and false when the region is unknown.
	IdentityMethods(region string) ([]string, bool)
}

// Identity check purposes.
const (
	CheckForSelf   = "self"   // the user proves their own identity
	CheckForFamily = "family" // the user has a family member confirm theirs (consent)
)

// CheckStatus is the status of an alternative identity check: pending
// until verified or failed.
type CheckStatus string

// Identity check statuses.
const (
	CheckPending  CheckStatus = "pending"
	CheckVerified CheckStatus = "verified"
	CheckFailed   CheckStatus = "failed"
)

// IdentityCheckRecord is one alternative identity check.
type IdentityCheckRecord struct {
	ID              int64
	PublicID        string // the id the client sees
	UserID          int64
	Region          string
	Method          string
	Purpose         string
	PlatformCheckID string
	Person          PersonRef
	Phone           string
	Status          CheckStatus
	FailedTries     int
	PersonID        int64 // set when verified
	CreatedAt       time.Time
	ExpiresAt       time.Time
	UpdatedAt       time.Time
}

// IdentityCheckStore persists alternative identity checks.
type IdentityCheckStore interface {
	// CreateIdentityCheck inserts c and sets c.ID.
	CreateIdentityCheck(ctx context.Context, c *IdentityCheckRecord) error
	// FindIdentityCheck returns ErrNotFound for an unknown public id.
	FindIdentityCheck(ctx context.Context, publicID string) (*IdentityCheckRecord, error)
	// UpdateIdentityCheck applies fn under a row lock.
	UpdateIdentityCheck(ctx context.Context, id int64, fn func(*IdentityCheckRecord) error) (*IdentityCheckRecord, error)
}

// AltIdentityService verifies identities through a region's platform (SMS
// code, e-card password, national platform) for people WeChat face
// verification cannot serve.
type AltIdentityService struct {
	rules    RegionIdentityRules
	platform Platform
	checks   IdentityCheckStore
	users    UserStore
	persons  PersonStore
	clock    Clock

	// Abuse limits (WithAbuseLimits): nil limiter means none.
	limiter RateLimiter
	family  FamilyStore
}

// Abuse limits of alternative checks (each sends a text or asks the
// platform about a person), on top of the per-user route limit.
const (
	AltChecksPerTargetHour = 3
	AltChecksPerTargetDay  = 6
	AltChecksPerPhoneHour  = 3
	AltChecksPerPhoneDay   = 6
	AltChecksPerUserDay    = 20
)

// WithAbuseLimits adds limits per target person, per phone number and per
// user (hour and day), and makes purpose "family" require a binding or
// invitation of the user for that person. It returns s.
func (s *AltIdentityService) WithAbuseLimits(limiter RateLimiter, family FamilyStore) *AltIdentityService {
	s.limiter, s.family = limiter, family
	return s
}

// ErrFamilyBindingRequired refuses a family check for a person the user has
// not added as a family member.
var ErrFamilyBindingRequired = &Error{Kind: KindForbidden, Code: "family_binding_required",
	Message: "请先在“家人”中添加该家人，再为其核验身份", Fields: []FieldError{{Field: "purpose", Code: "binding_required", Message: "需要已添加的家人或邀请"}}}

// abuseKey hashes an identifier for a rate-limit key: no personal data in
// Redis keys.
func abuseKey(kind, v string) string {
	h := sha256.Sum256([]byte("sipay-alt:" + v))
	return "altcheck:" + kind + ":" + hex.EncodeToString(h[:12])
}

// checkAbuse counts one check against every limit and refuses the first
// one exceeded.
func (s *AltIdentityService) checkAbuse(ctx context.Context, userID int64, ref PersonRef, phone string) error {
	if s.limiter == nil {
		return nil
	}
	type lim struct {
		key    string
		limit  int
		window time.Duration
	}
	target := string(ref.IDType) + ":" + ref.IDNumber
	lims := []lim{
		{abuseKey("person-h", target), AltChecksPerTargetHour, time.Hour},
		{abuseKey("person-d", target), AltChecksPerTargetDay, 24 * time.Hour},
		{"altcheck:user-d:" + strconv.FormatInt(userID, 10), AltChecksPerUserDay, 24 * time.Hour},
	}
	if phone != "" {
		lims = append(lims, lim{abuseKey("phone-h", phone), AltChecksPerPhoneHour, time.Hour},
			lim{abuseKey("phone-d", phone), AltChecksPerPhoneDay, 24 * time.Hour})
	}
	for _, l := range lims {
		ok, retry, err := s.limiter.Allow(ctx, l.key, l.limit, l.window)
		if err != nil {
			// Unlike page limits, these protect third parties: fail closed.
			return Unavailable("认证服务暂时不可用，请稍后重试", 10*time.Second, err)
		}
		if !ok {
			return &Error{Kind: KindRateLimited, Code: CodeRateLimited, RetryAfter: retry,
				Message: "该证件或手机号的认证请求过于频繁，请稍后再试"}
		}
	}
	return nil
}

// AltIdentityDeps are the dependencies of an AltIdentityService; all are
// required.
type AltIdentityDeps struct {
	Rules    RegionIdentityRules
	Platform Platform
	Checks   IdentityCheckStore
	Users    UserStore
	Persons  PersonStore
	Clock    Clock
}

// NewAltIdentityService returns an AltIdentityService. It panics on nil
// dependencies.
func NewAltIdentityService(d AltIdentityDeps) *AltIdentityService {
	if d.Rules == nil || d.Platform == nil || d.Checks == nil || d.Users == nil || d.Persons == nil || d.Clock == nil {
		panic("service: NewAltIdentityService: missing dependency")
	}
	return &AltIdentityService{rules: d.Rules, platform: d.Platform, checks: d.Checks, users: d.Users, persons: d.Persons, clock: d.Clock}
}

// AltStartInput starts an alternative check.
type AltStartInput struct {
	Region  string
	Method  string
	Purpose string // CheckForSelf (default) or CheckForFamily
	IdentityInput
	Phone string
}

// AltCheck is a started check.
type AltCheck struct {
	CheckID   string
	Method    string
	ExpiresIn time.Duration
}

// AltResult is a finished, successful check.
type AltResult struct {
	CheckID string
	Purpose string
	Person  *Person // the verified person
}

// Alternative-check error codes.
const (
	CodeMethodNotSupported   = "method_not_supported"
	CodeIdentityCheckFailed  = "identity_check_failed"
	CodeIdentityCheckLocked  = "identity_check_locked"
	CodeIdentityCheckExpired = "identity_check_expired"
)

// altCheckTTL is how long a started check can be finished.
const altCheckTTL = 10 * time.Minute

// altMaxTries is how many wrong secrets end a check.
const altMaxTries = 5

var methodNames = map[string]string{IdentityFace: "微信人脸核验", IdentitySMS: "短信验证码",
	IdentityCardPwd: "电子社保卡密码", IdentityNational: "国家社会保险公共服务平台认证"}

// normalizePhone keeps digits (and a leading +); mainland numbers are 11
// digits starting with 1, others 6 to 15 digits with a country code.
func normalizePhone(s string) (string, *Error) {
	s = strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	digits := strings.TrimPrefix(s, "+")
	bad := Invalid("invalid_phone", "手机号码格式不正确", FieldError{Field: "phone", Code: "format", Message: "请填写 11 位手机号，境外号码请带国家或地区区号"})
	if !allDigits(digits) || len(digits) < 6 || len(digits) > 15 {
		return "", bad
	}
	if !strings.HasPrefix(s, "+") && (len(digits) != 11 || digits[0] != '1') {
		return "", bad
	}
	return s, nil
}

// Start checks the request against the region's accepted methods and asks
// the platform to start the check. Errors: unknown_region,
// method_not_supported, invalid_name, invalid_id_number, invalid_phone,
// platform errors.
func (s *AltIdentityService) Start(ctx context.Context, userID int64, in AltStartInput) (*AltCheck, error) {
	now := s.clock.Now()
	methods, ok := s.rules.IdentityMethods(strings.TrimSpace(in.Region))
	if !ok {
		return nil, Invalid(CodeUnknownRegion, "不支持该参保地", FieldError{Field: "region", Code: "unknown", Message: "请选择支持的参保地"})
	}
	if in.Purpose == "" {
		in.Purpose = CheckForSelf
	}
	if in.Purpose != CheckForSelf && in.Purpose != CheckForFamily {
		return nil, Invalid("invalid_purpose", "核验用途无效", FieldError{Field: "purpose", Code: "enum", Message: "应为 self 或 family"})
	}
	accepted := false
	var names []string
	for _, m := range methods {
		if m == in.Method {
			accepted = true
		}
		if m != IdentityFace {
			names = append(names, methodNames[m])
		}
	}
	if in.Method == IdentityFace {
		return nil, Invalid(CodeMethodNotSupported, "人脸核验请使用人脸核验接口", FieldError{Field: "method", Code: "use_face", Message: "请调用 /api/v1/identity/face/start"})
	}
	if !accepted || methodNames[in.Method] == "" {
		msg := "该参保地不支持此认证方式"
		if len(names) > 0 {
			msg += "，可选：" + strings.Join(names, "、")
		}
		return nil, Invalid(CodeMethodNotSupported, msg, FieldError{Field: "method", Code: "not_accepted", Message: msg})
	}
	ref, verr := validateIdentity(in.IdentityInput, now)
	if verr != nil {
		return nil, verr
	}
	phone, perr := normalizePhone(in.Phone)
	if perr != nil {
		return nil, perr
	}
	if in.Purpose == CheckForFamily && s.family != nil {
		bs, err := s.family.ListFamilyBindings(ctx, userID)
		if err != nil {
			return nil, err
		}
		bound := false
		for _, b := range bs {
			if b.Member.IDType == ref.IDType && b.Member.IDNumber == ref.IDNumber {
				bound = true
			}
		}
		if !bound {
			return nil, ErrFamilyBindingRequired
		}
	}
	if err := s.checkAbuse(ctx, userID, ref, phone); err != nil {
		return nil, err
	}
	if in.Purpose == CheckForSelf {
		if _, err := userForCheck(ctx, s.users, s.persons, userID, ref); err != nil {
			return nil, err
		}
	}
	pid, err := s.platform.StartIdentityCheck(ctx, in.Region, IdentityCheck{Method: in.Method, Person: ref, Phone: phone})
	if err != nil {
		return nil, platformIdentityError(err)
	}
	c := &IdentityCheckRecord{PublicID: newSeqNo("ck"), UserID: userID, Region: in.Region, Method: in.Method, Purpose: in.Purpose,
		PlatformCheckID: pid, Person: ref, Phone: phone, Status: CheckPending, CreatedAt: now, ExpiresAt: now.Add(altCheckTTL), UpdatedAt: now}
	if err := s.checks.CreateIdentityCheck(ctx, c); err != nil {
		return nil, err
	}
	return &AltCheck{CheckID: c.PublicID, Method: c.Method, ExpiresIn: altCheckTTL}, nil
}

func platformIdentityError(err error) error {
	var rej *PlatformRejection
	if errors.As(err, &rej) {
		return &Error{Kind: KindUnprocessable, Code: "identity_check_rejected",
			Message: "参保地平台未能核验该身份，请核对姓名和证件号码，或拨打 12333 咨询", Err: err}
	}
	if AsError(err) != nil {
		return err
	}
	return Unavailable("参保地平台暂时不可用，请稍后重试", 30*time.Second, err)
}

// ErrCheckNotFound is the answer for an unknown check or another user's.
var ErrCheckNotFound = &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "核验记录不存在，请重新发起认证"}

// Finish submits the secret. A check for the user's own identity binds the
// verified person to the user; a family check records the person for a
// later consent (FamilyService.ConsentWithCheck). Finishing a verified check
// again returns the same result. Errors: not_found, identity_check_failed
// (wrong secret), identity_check_locked (too many wrong secrets),
// identity_check_expired, already_verified.
func (s *AltIdentityService) Finish(ctx context.Context, userID int64, checkID, secret string) (*AltResult, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" || len(secret) > 256 {
		return nil, Invalid("invalid_secret", "请填写验证码或密码", FieldError{Field: "secret", Code: "required", Message: "请填写验证码、密码或授权码"})
	}
	c, err := s.checks.FindIdentityCheck(ctx, strings.TrimSpace(checkID))
	if errors.Is(err, ErrNotFound) || (err == nil && c.UserID != userID) {
		return nil, ErrCheckNotFound
	}
	if err != nil {
		return nil, err
	}
	switch c.Status {
	case CheckVerified:
		return s.finishVerified(ctx, c)
	case CheckFailed:
		return nil, checkLocked()
	}
	now := s.clock.Now()
	if !now.Before(c.ExpiresAt) {
		return nil, &Error{Kind: KindConflict, Code: CodeIdentityCheckExpired, Message: "验证已过期，请重新获取验证码"}
	}
	ok, err := s.platform.FinishIdentityCheck(ctx, c.Region, c.PlatformCheckID, secret)
	if err != nil {
		return nil, platformIdentityError(err)
	}
	if !ok {
		var left int
		if _, err := s.checks.UpdateIdentityCheck(ctx, c.ID, func(x *IdentityCheckRecord) error {
			left = x.FailTry(altMaxTries, now)
			return nil
		}); err != nil {
			return nil, err
		}
		if left <= 0 {
			return nil, checkLocked()
		}
		return nil, &Error{Kind: KindUnprocessable, Code: CodeIdentityCheckFailed,
			Message: fmt.Sprintf("验证码或密码不正确，还可尝试 %d 次", left)}
	}
	c, err = s.checks.UpdateIdentityCheck(ctx, c.ID, func(x *IdentityCheckRecord) error { return x.Verify(now) })
	if err != nil {
		return nil, err
	}
	return s.finishVerified(ctx, c)
}

func checkLocked() *Error {
	return &Error{Kind: KindUnprocessable, Code: CodeIdentityCheckLocked, Message: "错误次数过多，本次验证已失效，请重新发起认证"}
}

func (s *AltIdentityService) finishVerified(ctx context.Context, c *IdentityCheckRecord) (*AltResult, error) {
	verified := Person{Name: c.Person.Name, IDType: c.Person.IDType, IDNumber: c.Person.IDNumber}
	if c.Method == IdentitySMS {
		verified.Phone = c.Phone
	}
	var p *Person
	var err error
	if c.Purpose == CheckForSelf {
		p, err = bindVerifiedPerson(ctx, s.users, s.persons, c.UserID, verified)
	} else {
		p, err = s.persons.EnsurePerson(ctx, verified)
	}
	if err != nil {
		return nil, err
	}
	if c.PersonID != p.ID {
		if _, err := s.checks.UpdateIdentityCheck(ctx, c.ID, func(x *IdentityCheckRecord) error { x.PersonID = p.ID; return nil }); err != nil {
			return nil, err
		}
	}
	return &AltResult{CheckID: c.PublicID, Purpose: c.Purpose, Person: p}, nil
}
