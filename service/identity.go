package service

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// PersonStore persists persons with their name, ID number and phone
// encrypted; plaintext is never stored.
type PersonStore interface {
	// EnsurePerson finds the person with p's IDType and IDNumber or creates
	// it. The stored name becomes p.Name (it has just been verified), and
	// the phone p.Phone when that is not empty.
	EnsurePerson(ctx context.Context, p Person) (*Person, error)
	// FindPersonByID returns ErrNotFound when there is no such person.
	FindPersonByID(ctx context.Context, id int64) (*Person, error)
}

// FaceStatus is the status of a face attempt. A daily limit counts every
// attempt not in FaceError.
type FaceStatus string

// Face attempt statuses.
const (
	FaceStarting FaceStatus = "starting" // reserved; getverifyid not answered yet
	FacePending  FaceStatus = "pending"  // verify_id issued; the user is being verified
	FaceVerified FaceStatus = "verified" // WeChat confirmed the identity
	FaceFailed   FaceStatus = "failed"   // WeChat refused (cancelled, camera, timeout…)
	FaceError    FaceStatus = "error"    // our call to WeChat failed; not counted
)

// Face verification flows.
const (
	FaceFlowV2     = "v2"     // getverifyid + queryverifyinfo
	FaceFlowLegacy = "legacy" // wx.startFacialRecognitionVerify + getinfo
)

// FaceAttempt is one face verification of a user.
type FaceAttempt struct {
	ID        int64
	UserID    int64
	Flow      string
	OutSeqNo  string
	VerifyID  string // WeChat verify_id (v2), or a hash of verify_result (legacy)
	Cert      PersonRef
	Status    FaceStatus
	VerifyRet int
	PersonID  int64
	Day       string // Asia/Shanghai date of the attempt, for the daily limit
	CreatedAt time.Time
	ExpiresAt time.Time
	UpdatedAt time.Time
}

// ErrDailyLimit is returned by ReserveFaceAttempt when the user has used
// every attempt of the day.
var ErrDailyLimit = errors.New("daily attempt limit reached")

// FaceAttemptStore persists face attempts.
type FaceAttemptStore interface {
	// ReserveFaceAttempt inserts a (starting) attempt unless the user already
	// has limit attempts on a.Day that are not in status error, in which
	// case it returns ErrDailyLimit. It sets a.ID.
	ReserveFaceAttempt(ctx context.Context, a *FaceAttempt, limit int) error
	// FindFaceAttemptByVerifyID returns ErrNotFound when unknown.
	FindFaceAttemptByVerifyID(ctx context.Context, verifyID string) (*FaceAttempt, error)
	// UpdateFaceAttempt applies fn to the attempt under a row lock. A
	// VerifyID already used by another attempt gives ErrDuplicate.
	UpdateFaceAttempt(ctx context.Context, id int64, fn func(*FaceAttempt) error) (*FaceAttempt, error)
}

// FaceVerifyRequest is the getverifyid request.
type FaceVerifyRequest struct {
	OutSeqNo string
	Cert     PersonRef
	OpenID   string
}

// FaceQuery is the queryverifyinfo request.
type FaceQuery struct {
	VerifyID string
	OutSeqNo string
	Cert     PersonRef // the cert_hash is computed from it
	OpenID   string
}

// FaceLegacyInfo is the answer of the 1.0 identify/getinfo API.
type FaceLegacyInfo struct {
	IdentifyRet     int
	IdentifyTime    time.Time
	OpenID          string
	IDCardNumberMD5 string
	NameUTF8MD5     string
}

// FaceAPIError is a WeChat face API answer with errcode != 0.
type FaceAPIError struct {
	ErrCode int
	ErrMsg  string
}

func (e *FaceAPIError) Error() string {
	return fmt.Sprintf("wechat face: errcode %d: %s", e.ErrCode, e.ErrMsg)
}

// FaceVerifier is WeChat face verification (wechat.FaceClient).
type FaceVerifier interface {
	// GetVerifyID registers a verification and returns its verify_id.
	GetVerifyID(ctx context.Context, r FaceVerifyRequest) (verifyID string, expiresIn time.Duration, err error)
	// QueryVerifyInfo returns verify_ret (10000 = verified).
	QueryVerifyInfo(ctx context.Context, q FaceQuery) (verifyRet int, err error)
	// LegacyIdentifyInfo reads a 1.0 verify_result.
	LegacyIdentifyInfo(ctx context.Context, verifyResult string) (FaceLegacyInfo, error)
}

// FaceVerifyOK is the verify_ret of a successful verification.
const FaceVerifyOK = 10000

// FaceConfig configures face verification.
type FaceConfig struct {
	DailyAttempts int  // attempts per user per Asia/Shanghai day
	LegacyV1      bool // offer the 1.0 flow
}

// FaceService verifies users' identities with WeChat face verification 2.0.
// The mini-program's "success" is never trusted: only queryverifyinfo with
// errcode 0 and verify_ret 10000 verifies.
type FaceService struct {
	cfg      FaceConfig
	users    UserStore
	persons  PersonStore
	attempts FaceAttemptStore
	wx       FaceVerifier
	clock    Clock
}

// FaceDeps are the dependencies of a FaceService; all but Config are
// required.
type FaceDeps struct {
	Config   FaceConfig
	Users    UserStore
	Persons  PersonStore
	Attempts FaceAttemptStore
	WeChat   FaceVerifier
	Clock    Clock
}

// NewFaceService returns a FaceService. It panics on nil dependencies.
func NewFaceService(d FaceDeps) *FaceService {
	if d.Users == nil || d.Persons == nil || d.Attempts == nil || d.WeChat == nil || d.Clock == nil {
		panic("service: NewFaceService: missing dependency")
	}
	cfg := d.Config
	if cfg.DailyAttempts <= 0 {
		cfg.DailyAttempts = 5
	}
	return &FaceService{cfg: cfg, users: d.Users, persons: d.Persons, attempts: d.Attempts, wx: d.WeChat, clock: d.Clock}
}

// IdentityInput is a claimed identity as the user typed it.
type IdentityInput struct {
	Name     string
	IDType   IDType
	IDNumber string
}

// FaceStart is the answer to starting a verification.
type FaceStart struct {
	VerifyID  string
	ExpiresIn time.Duration
}

// Face error codes.
const (
	CodeFaceNotSupported     = "face_not_supported"
	CodeFaceLocked           = "face_locked"
	CodeFaceCancelled        = "face_cancelled"
	CodeFaceCameraPermission = "face_camera_permission"
	CodeFaceTimeout          = "face_timeout"
	CodeFaceRetryLater       = "face_retry_later"
	CodeFaceCaptureInvalid   = "face_capture_invalid"
	CodeFaceExpired          = "face_expired"
	CodeFaceMismatch         = "face_mismatch"
	CodeAlreadyVerified      = "already_verified"
)

// FaceRetError maps a verify_ret other than 10000 to the user's error.
func FaceRetError(ret int) *Error {
	e := func(code, msg string) *Error { return &Error{Kind: KindUnprocessable, Code: code, Message: msg} }
	switch {
	case ret >= 90002 && ret <= 90006:
		return e(CodeFaceCancelled, "您已取消人脸核验。如需继续缴费，请重新发起核验并按提示完成")
	case ret >= 90008 && ret <= 90010:
		return e(CodeFaceCameraPermission, "无法使用摄像头或麦克风：请在手机“设置-微信”中允许访问相机和麦克风后重试")
	case ret == 90017:
		return e(CodeFaceTimeout, "人脸核验超时，请在光线充足处正对手机，重新发起核验")
	case ret == 90011 || ret == 90013 || ret == 90014:
		return e(CodeFaceCaptureInvalid, "未能采集到清晰的人脸：请摘下帽子和眼镜、正对屏幕、保持光线充足后重试")
	}
	r := e(CodeFaceRetryLater, "人脸核验暂时未能完成，请稍后再试；如多次失败，可改用短信验证码或电子社保卡密码认证")
	r.RetryAfter = 30 * time.Second
	return r
}

// faceRetTerminal reports whether a failed verify_ret ends the attempt; the
// retry-later codes (network or system errors) may still be queried again.
func faceRetTerminal(ret int) bool { return FaceRetError(ret).Code != CodeFaceRetryLater }

// validateIdentity checks a typed identity and returns it normalised.
func validateIdentity(in IdentityInput, now time.Time) (PersonRef, *Error) {
	name, err := validateName(in.Name)
	if err != nil {
		return PersonRef{}, err
	}
	if !ValidIDType(in.IDType) {
		_, e := ValidateID(in.IDType, in.IDNumber, now)
		return PersonRef{}, e
	}
	n, e := ValidateID(in.IDType, in.IDNumber, now)
	if e != nil {
		return PersonRef{}, e
	}
	return PersonRef{Name: name, IDType: in.IDType, IDNumber: n}, nil
}

// MaxNameRunes bounds a legal name.
const MaxNameRunes = 50

// validateName is the one rule for a legal name, wherever a name enters
// (face and alternative verification, family members): by Unicode class,
// Han characters, Latin letters, the middle dot (·, also written ・ or •,
// stored as ·) and single spaces between words, 1 to MaxNameRunes
// characters, at least one letter. Everything else is refused: control,
// format and bidi characters (U+202E, U+200B), private use, emoji and other
// symbols, digits, punctuation, and U+FFFD (what invalid UTF-8 decodes to).
func validateName(s string) (string, *Error) {
	bad := func(code, msg string) *Error {
		return Invalid("invalid_name", msg, FieldError{Field: "name", Code: code, Message: msg})
	}
	if !utf8.ValidString(s) {
		return "", bad("format", "姓名包含无效字符")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", bad("required", "请填写证件上的姓名")
	}
	var b strings.Builder
	// prevSep is the joiner just written (·, - or '), 0 after a letter or a space.
	letters, prevSpace, prevSep := 0, false, rune(0)
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r) || (unicode.Is(unicode.Latin, r) && unicode.IsLetter(r)):
			b.WriteRune(r)
			letters++
			prevSpace, prevSep = false, 0
		case r == '·' || r == '・' || r == '•':
			if prevSep != 0 || prevSpace || letters == 0 {
				return "", bad("format", "间隔号（·）只能写在两个字之间")
			}
			b.WriteRune('·')
			prevSep = '·'
		case r == '-' || r == '\'' || r == '’':
			// Foreign residents' names (外国人永久居留身份证) carry hyphens and
			// apostrophes: Jean-Luc, O'Brien. Only between two letters.
			if prevSep != 0 || prevSpace || letters == 0 {
				return "", bad("format", "连字符（-）和撇号（'）只能写在两个字母之间")
			}
			if r == '’' {
				r = '\''
			}
			b.WriteRune(r)
			prevSep = r
		case r == ' ':
			if prevSpace || prevSep != 0 {
				return "", bad("format", "姓名中不能有连续的空格")
			}
			b.WriteRune(' ')
			prevSpace = true
		default:
			return "", bad("format", "姓名只能包含汉字、拉丁字母、空格、间隔号（·）、连字符（-）和撇号（'）")
		}
	}
	if prevSep == '·' {
		return "", bad("format", "间隔号（·）只能写在两个字之间")
	}
	if prevSep != 0 {
		return "", bad("format", "连字符（-）和撇号（'）只能写在两个字母之间")
	}
	if utf8.RuneCountInString(b.String()) > MaxNameRunes {
		return "", bad("format", fmt.Sprintf("姓名不能超过 %d 个字", MaxNameRunes))
	}
	return b.String(), nil
}

// faceNotSupported is the refusal for documents WeChat cannot verify by face.
func faceNotSupported(t IDType) *Error {
	return &Error{Kind: KindInvalid, Code: CodeFaceNotSupported,
		Message: "微信人脸核验仅支持居民身份证。持港澳台居民居住证、通行证或外国人永久居留身份证，请改用短信验证码、电子社保卡密码或国家社会保险公共服务平台认证",
		Fields:  []FieldError{{Field: "id_type", Code: "face_not_supported", Message: "该证件类型请使用 sms、ecard_password 或 national 认证"}}}
}

// newSeqNo returns a unique out_seq_no: 5-32 characters of [0-9A-Za-z_-].
func newSeqNo(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (s *FaceService) lockedError(now time.Time) *Error {
	return &Error{Kind: KindRateLimited, Code: CodeFaceLocked,
		Message:    fmt.Sprintf("今日人脸核验次数已用完（每天 %d 次），请明天再试，或改用短信验证码、电子社保卡密码认证", s.cfg.DailyAttempts),
		RetryAfter: NextChinaMidnight(now).Sub(now)}
}

// Start begins a face verification for the user: it checks the identity,
// counts the attempt against the daily limit and asks WeChat for a
// verify_id. Errors: invalid_name, invalid_id_number, face_not_supported,
// face_locked (429 with Retry-After until the next day), already_verified,
// wechat errors.
func (s *FaceService) Start(ctx context.Context, userID int64, in IdentityInput) (*FaceStart, error) {
	now := s.clock.Now()
	ref, verr := validateIdentity(in, now)
	if verr != nil {
		return nil, verr
	}
	if ref.IDType != IDResident {
		return nil, faceNotSupported(ref.IDType)
	}
	u, err := userForCheck(ctx, s.users, s.persons, userID, ref)
	if err != nil {
		return nil, err
	}
	_, st, err := s.begin(ctx, u, ref, FaceFlowV2)
	return st, err
}

// begin counts an attempt of flow against the user's daily limit and asks
// WeChat for a verify_id for ref. Start and the step-up of a held payment
// (StepUpService) both begin here.
func (s *FaceService) begin(ctx context.Context, u *User, ref PersonRef, flow string) (*FaceAttempt, *FaceStart, error) {
	now := s.clock.Now()
	a := &FaceAttempt{UserID: u.ID, Flow: flow, OutSeqNo: newSeqNo("fv"), Cert: ref, Status: FaceStarting,
		Day: Day(now), CreatedAt: now, ExpiresAt: now.Add(time.Hour), UpdatedAt: now}
	if err := s.attempts.ReserveFaceAttempt(ctx, a, s.cfg.DailyAttempts); err != nil {
		if errors.Is(err, ErrDailyLimit) {
			return nil, nil, s.lockedError(now)
		}
		return nil, nil, err
	}
	verifyID, expiresIn, err := s.wx.GetVerifyID(ctx, FaceVerifyRequest{OutSeqNo: a.OutSeqNo, Cert: ref, OpenID: u.OpenID})
	if err != nil {
		// Our failure to reach WeChat does not cost the user an attempt.
		s.attempts.UpdateFaceAttempt(ctx, a.ID, (*FaceAttempt).MarkError)
		return nil, nil, faceUpstream(err)
	}
	if expiresIn <= 0 {
		expiresIn = time.Hour
	}
	a, err = s.attempts.UpdateFaceAttempt(ctx, a.ID, func(a *FaceAttempt) error { return a.Issue(verifyID, now.Add(expiresIn), now) })
	if err != nil {
		return nil, nil, err
	}
	return a, &FaceStart{VerifyID: verifyID, ExpiresIn: expiresIn}, nil
}

// faceUpstream turns a WeChat failure into a user error.
func faceUpstream(err error) error {
	if AsError(err) != nil {
		return err
	}
	var fe *FaceAPIError
	if errors.As(err, &fe) {
		return &Error{Kind: KindUnavailable, Code: CodeFaceRetryLater, Message: "微信人脸核验服务暂时不可用，请稍后重试",
			RetryAfter: 10 * time.Second, Err: err}
	}
	return &Error{Kind: KindUnavailable, Code: "wechat_unavailable", Message: "暂时无法连接微信，请稍后重试",
		RetryAfter: 5 * time.Second, Err: err}
}

func alreadyVerified() *Error {
	return &Error{Kind: KindConflict, Code: CodeAlreadyVerified, Message: "您的微信已绑定其他实名身份，不能再核验另一个身份；为家人缴费请使用“亲属代缴”"}
}

// ErrFaceAttemptNotFound is the answer for an unknown verify_id or one of
// another user.
var ErrFaceAttemptNotFound = &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "核验记录不存在，请重新发起人脸核验"}

// Result asks WeChat for the result of the user's verification and, when
// verified, makes the identity the user's. Calling it again after success
// returns the same person. Errors: not_found (unknown or another user's
// verify_id), face_expired, the face_* codes of FaceRetError.
func (s *FaceService) Result(ctx context.Context, userID int64, verifyID string) (*Person, error) {
	verifyID = strings.TrimSpace(verifyID)
	if verifyID == "" || len(verifyID) > 256 {
		return nil, Invalid("invalid_verify_id", "缺少核验编号", FieldError{Field: "verify_id", Code: "required", Message: "请提供 verify_id"})
	}
	a, err := s.attempts.FindFaceAttemptByVerifyID(ctx, verifyID)
	if errors.Is(err, ErrNotFound) || (err == nil && (a.UserID != userID || a.Flow != FaceFlowV2)) {
		return nil, ErrFaceAttemptNotFound
	}
	if err != nil {
		return nil, err
	}
	switch a.Status {
	case FaceVerified:
		return s.finishVerified(ctx, a)
	case FaceFailed:
		return nil, FaceRetError(a.VerifyRet)
	}
	now := s.clock.Now()
	if !now.Before(a.ExpiresAt) {
		return nil, &Error{Kind: KindConflict, Code: CodeFaceExpired, Message: "本次人脸核验已过期，请重新发起"}
	}
	u, err := s.users.FindUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	ret, err := s.wx.QueryVerifyInfo(ctx, FaceQuery{VerifyID: a.VerifyID, OutSeqNo: a.OutSeqNo, Cert: a.Cert, OpenID: u.OpenID})
	if err != nil {
		return nil, faceUpstream(err)
	}
	return s.applyRet(ctx, a, ret)
}

// applyRet records a verify_ret and, on success, binds the person.
func (s *FaceService) applyRet(ctx context.Context, a *FaceAttempt, ret int) (*Person, error) {
	if err := s.recordRet(ctx, a, ret); err != nil {
		return nil, err
	}
	return s.finishVerified(ctx, a)
}

// recordRet records a verify_ret on the attempt: verified, or failed when
// the code ends the attempt. A failure is returned as the user's error.
func (s *FaceService) recordRet(ctx context.Context, a *FaceAttempt, ret int) error {
	now := s.clock.Now()
	if ret != FaceVerifyOK {
		if faceRetTerminal(ret) {
			if _, err := s.attempts.UpdateFaceAttempt(ctx, a.ID, func(x *FaceAttempt) error {
				if x.Status.Ended() {
					return nil // a late refusal leaves the outcome
				}
				return x.Fail(ret, now)
			}); err != nil {
				return err
			}
		}
		return FaceRetError(ret)
	}
	got, err := s.attempts.UpdateFaceAttempt(ctx, a.ID, func(x *FaceAttempt) error { return x.Verify(ret, now) })
	if err != nil {
		return err
	}
	*a = *got
	return nil
}

// finishVerified creates or finds the person and binds it to the user;
// repeating it is harmless.
func (s *FaceService) finishVerified(ctx context.Context, a *FaceAttempt) (*Person, error) {
	p, err := bindVerifiedPerson(ctx, s.users, s.persons, a.UserID, Person{Name: a.Cert.Name, IDType: a.Cert.IDType, IDNumber: a.Cert.IDNumber})
	if err != nil {
		return nil, err
	}
	if a.PersonID != p.ID {
		if _, err := s.attempts.UpdateFaceAttempt(ctx, a.ID, func(x *FaceAttempt) error { x.PersonID = p.ID; return nil }); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// userForCheck loads the user about to start a check of their own
// identity ref, answering alreadyVerified when they are verified as
// another person (checking their own identity again is allowed).
func userForCheck(ctx context.Context, users UserStore, persons PersonStore, userID int64, ref PersonRef) (*User, error) {
	u, err := users.FindUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.Verified() {
		if p, err := persons.FindPersonByID(ctx, u.PersonID); err == nil && !(p.IDType == ref.IDType && p.IDNumber == ref.IDNumber) {
			return nil, alreadyVerified()
		}
	}
	return u, nil
}

// bindVerifiedPerson stores the verified person and sets it as the user's
// identity, refusing a user already bound to a different person.
func bindVerifiedPerson(ctx context.Context, users UserStore, persons PersonStore, userID int64, verified Person) (*Person, error) {
	p, err := persons.EnsurePerson(ctx, verified)
	if err != nil {
		return nil, err
	}
	if _, err := users.UpdateUser(ctx, userID, func(u *User) error {
		if u.PersonID != 0 && u.PersonID != p.ID {
			return alreadyVerified()
		}
		u.PersonID = p.ID
		return nil
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// LegacyInput is the 1.0 flow's request: the identity the front end passed to
// wx.startFacialRecognitionVerify and the verify_result it got back.
type LegacyInput struct {
	IdentityInput
	VerifyResult string
}

// Legacy verifies with the 1.0 flow (FACE_LEGACY_V1): WeChat's getinfo must
// report identify_ret 0 for this user, and the MD5s of the ID number (final
// X upper-case) and name must match the claimed identity. A verify_result is
// accepted once. Errors: not_found when the flow is off, face_mismatch, and
// those of Start and Result.
func (s *FaceService) Legacy(ctx context.Context, userID int64, in LegacyInput) (*Person, error) {
	if !s.cfg.LegacyV1 {
		return nil, NotFound("接口不存在")
	}
	now := s.clock.Now()
	ref, verr := validateIdentity(in.IdentityInput, now)
	if verr != nil {
		return nil, verr
	}
	if ref.IDType != IDResident {
		return nil, faceNotSupported(ref.IDType)
	}
	vr := strings.TrimSpace(in.VerifyResult)
	if vr == "" || len(vr) > 1024 {
		return nil, Invalid("invalid_verify_result", "缺少核验结果", FieldError{Field: "verify_result", Code: "required", Message: "请提供 verify_result"})
	}
	u, err := s.users.FindUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256([]byte(vr))
	key := "legacy-" + hex.EncodeToString(h[:16])
	if prev, err := s.attempts.FindFaceAttemptByVerifyID(ctx, key); err == nil {
		if prev.UserID == userID && prev.Status == FaceVerified && prev.Cert == ref {
			return s.finishVerified(ctx, prev)
		}
		return nil, &Error{Kind: KindConflict, Code: CodeFaceExpired, Message: "该核验结果已使用，请重新进行人脸核验"}
	}
	a := &FaceAttempt{UserID: userID, Flow: FaceFlowLegacy, OutSeqNo: newSeqNo("fl"), Cert: ref, Status: FaceStarting,
		Day: Day(now), CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), UpdatedAt: now}
	if err := s.attempts.ReserveFaceAttempt(ctx, a, s.cfg.DailyAttempts); err != nil {
		if errors.Is(err, ErrDailyLimit) {
			return nil, s.lockedError(now)
		}
		return nil, err
	}
	info, err := s.wx.LegacyIdentifyInfo(ctx, vr)
	if err != nil {
		s.attempts.UpdateFaceAttempt(ctx, a.ID, (*FaceAttempt).MarkError)
		var fe *FaceAPIError
		if errors.As(err, &fe) && fe.ErrCode == 84001 {
			return nil, Invalid("invalid_verify_result", "核验结果无效，请重新进行人脸核验")
		}
		return nil, faceUpstream(err)
	}
	if _, err := s.attempts.UpdateFaceAttempt(ctx, a.ID, func(x *FaceAttempt) error { x.VerifyID = key; return nil }); err != nil {
		if errors.Is(err, ErrDuplicate) {
			return nil, &Error{Kind: KindConflict, Code: CodeFaceExpired, Message: "该核验结果已使用，请重新进行人脸核验"}
		}
		return nil, err
	}
	a.VerifyID = key
	if info.IdentifyRet != 0 {
		s.attempts.UpdateFaceAttempt(ctx, a.ID, func(x *FaceAttempt) error { return x.Fail(info.IdentifyRet, now) })
		return nil, FaceRetError(info.IdentifyRet)
	}
	if (info.OpenID != "" && info.OpenID != u.OpenID) ||
		!strings.EqualFold(info.IDCardNumberMD5, md5Hex(ref.IDNumber)) || !strings.EqualFold(info.NameUTF8MD5, md5Hex(ref.Name)) {
		s.attempts.UpdateFaceAttempt(ctx, a.ID, func(x *FaceAttempt) error { return x.Fail(0, now) }) // WeChat verified someone else
		return nil, &Error{Kind: KindUnprocessable, Code: CodeFaceMismatch, Message: "人脸核验结果与填写的姓名或身份证号不一致，请核对后重新核验"}
	}
	return s.applyRet(ctx, a, FaceVerifyOK)
}

// md5Hex is the lower-case hex MD5 of s, as the 1.0 API reports the ID
// number and name.
func md5Hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}
