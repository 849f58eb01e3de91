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

	"github.com/shebao/sipay/pii"
)

// FamilyStatus is the status of a family binding.
type FamilyStatus string

// Family binding statuses.
const (
	FamilyPendingConsent FamilyStatus = "pending_consent" // the member has not consented yet
	FamilyActive         FamilyStatus = "active"          // consented; the payer may pay for the member
	// FamilyWithdrawn: the member withdrew consent (or never gave it and
	// refused). Final: the payer can no longer quote, order or pay for the
	// member; orders already paid run their course. To pay again the payer
	// removes the binding and invites the member anew.
	FamilyWithdrawn FamilyStatus = "withdrawn"
)

// Consent methods.
const (
	ConsentMemberAccept  = "member_accept"  // the member verified themselves and accepted the invitation
	ConsentIdentityCheck = "identity_check" // the region's check on the member (code or password the member gave)
)

// Relations is the closed set of family relations.
var Relations = []string{"spouse", "parent", "child", "grandparent", "sibling", "other"}

// MaxFamilyBindings is how many family members one user may pay for, as the
// e-social-security-card family service allows.
const MaxFamilyBindings = 8

// invitationTTL is how long a family invitation can be accepted.
const invitationTTL = 7 * 24 * time.Hour

// FamilyBinding lets a user (the payer) pay for a family member (亲属代缴)
// once the member has consented.
type FamilyBinding struct {
	ID              int64
	UserID          int64
	Relation        string
	Member          PersonRef
	Status          FamilyStatus
	PersonID        int64 // the member's verified person once consented
	InviteHash      string
	InviteExpiresAt time.Time
	ConsentMethod   string
	ConsentedAt     time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Consent records the member's consent (method, as person personID): a
// pending binding becomes active. An active binding stays as it is; a
// withdrawn one is final (family_consent_withdrawn).
func (b *FamilyBinding) Consent(personID int64, method string, at time.Time) error {
	switch b.Status {
	case FamilyActive:
		return nil
	case FamilyWithdrawn:
		return consentWithdrawn()
	}
	b.Status, b.PersonID, b.ConsentMethod, b.ConsentedAt, b.UpdatedAt = FamilyActive, personID, method, at, at
	return nil
}

// Withdraw records the member withdrawing consent: an active or pending
// binding becomes withdrawn, for good. A repeat changes nothing.
func (b *FamilyBinding) Withdraw(at time.Time) {
	switch b.Status {
	case FamilyActive, FamilyPendingConsent:
		b.Status, b.UpdatedAt = FamilyWithdrawn, at
	}
}

// ErrFamilyLimit is returned by CreateFamilyBinding when the user has the
// maximum number of bindings.
var ErrFamilyLimit = errors.New("family binding limit reached")

// FamilyStore persists family bindings.
type FamilyStore interface {
	// CreateFamilyBinding inserts b and sets b.ID. It returns ErrFamilyLimit
	// when the user already has max bindings and ErrDuplicate when the user
	// already binds the same document.
	CreateFamilyBinding(ctx context.Context, b *FamilyBinding, max int) error
	// FindFamilyBinding returns ErrNotFound when there is no such binding.
	FindFamilyBinding(ctx context.Context, id int64) (*FamilyBinding, error)
	// FindFamilyBindingByInvite returns ErrNotFound for an unknown hash.
	FindFamilyBindingByInvite(ctx context.Context, inviteHash string) (*FamilyBinding, error)
	// ListFamilyBindings returns the user's bindings, oldest first.
	ListFamilyBindings(ctx context.Context, userID int64) ([]*FamilyBinding, error)
	// UpdateFamilyBinding applies fn under a row lock.
	UpdateFamilyBinding(ctx context.Context, id int64, fn func(*FamilyBinding) error) (*FamilyBinding, error)
	// DeleteFamilyBinding removes the user's binding; ErrNotFound when the
	// user has no binding with that id.
	DeleteFamilyBinding(ctx context.Context, userID, id int64) error
}

// FamilyView is a binding as shown to the payer: name and ID number masked.
type FamilyView struct {
	ID          int64
	Relation    string
	Name        string
	IDType      IDType
	IDNumber    string
	Status      FamilyStatus
	ConsentedAt time.Time
	CreatedAt   time.Time
	// Invitation is the token the payer shares with the member; only set
	// in the answer to Add.
	Invitation          string
	InvitationExpiresAt time.Time
}

func toFamilyView(b *FamilyBinding) *FamilyView {
	return &FamilyView{ID: b.ID, Relation: b.Relation, Name: pii.MaskName(b.Member.Name), IDType: b.Member.IDType,
		IDNumber: pii.MaskIDNumber(b.Member.IDNumber), Status: b.Status, ConsentedAt: b.ConsentedAt, CreatedAt: b.CreatedAt}
}

// FamilyService manages family proxy payment bindings.
type FamilyService struct {
	family  FamilyStore
	checks  IdentityCheckStore
	users   UserStore
	persons PersonStore
	clock   Clock
	trades  ConsentTrades
}

// FamilyDeps are the dependencies of a FamilyService; all but Trades are
// required.
type FamilyDeps struct {
	Family  FamilyStore
	Checks  IdentityCheckStore
	Users   UserStore
	Persons PersonStore
	Clock   Clock
	// Trades closes the payer's unpaid batches for the member when the
	// member withdraws consent. OrderService implements it; without it
	// (tests of bindings alone) they close at time_expire.
	Trades ConsentTrades
}

// ConsentTrades closes the payer's open trades for a person who withdrew
// consent. OrderService implements it.
type ConsentTrades interface {
	// CloseForWithdrawnConsent closes every unpaid batch of the payer's
	// orders for person and returns how many it left pending (retried by
	// the payment poller).
	CloseForWithdrawnConsent(ctx context.Context, payerUserID, personID int64) (int, error)
}

// NewFamilyService returns a FamilyService. It panics on nil dependencies.
func NewFamilyService(d FamilyDeps) *FamilyService {
	if d.Family == nil || d.Checks == nil || d.Users == nil || d.Persons == nil || d.Clock == nil {
		panic("service: NewFamilyService: missing dependency")
	}
	return &FamilyService{family: d.Family, checks: d.Checks, users: d.Users, persons: d.Persons, clock: d.Clock, trades: d.Trades}
}

// FamilyInput adds a family member.
type FamilyInput struct {
	IdentityInput
	Relation string
}

// Family error codes.
const (
	CodeFamilyLimit       = "family_limit"
	CodeFamilyExists      = "family_exists"
	CodeFamilySelf        = "family_self"
	CodeIdentityMismatch  = "identity_mismatch"
	CodeInvitationExpired = "invitation_expired"
	CodeNotVerified       = "not_verified"
	CodeConsentPending    = "consent_pending"
	// CodeConsentWithdrawn refuses quoting, ordering and paying for a
	// member who withdrew consent.
	CodeConsentWithdrawn = "family_consent_withdrawn"
)

func consentWithdrawn() *Error {
	return &Error{Kind: KindForbidden, Code: CodeConsentWithdrawn, Message: "该亲属已撤回代缴授权，无法为其缴费；如需继续代缴，请删除后重新邀请"}
}

// ErrFamilyNotFound is the answer for an unknown binding or another user's.
var ErrFamilyNotFound = &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "亲属不存在"}

func inviteHash(token string) string {
	h := sha256.Sum256([]byte("family-invite|" + token))
	return hex.EncodeToString(h[:])
}

// Add binds a family member in status pending_consent and returns the
// invitation token the payer shares with the member. Errors: invalid_name,
// invalid_id_number, invalid_relation, family_self, family_exists,
// family_limit.
func (s *FamilyService) Add(ctx context.Context, userID int64, in FamilyInput) (*FamilyView, error) {
	now := s.clock.Now()
	ok := false
	for _, r := range Relations {
		ok = ok || r == in.Relation
	}
	if !ok {
		return nil, Invalid("invalid_relation", "请选择与您的关系", FieldError{Field: "relation", Code: "enum",
			Message: "应为 " + strings.Join(Relations, "、") + " 之一"})
	}
	ref, verr := validateIdentity(in.IdentityInput, now)
	if verr != nil {
		return nil, verr
	}
	u, err := s.users.FindUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.Verified() {
		if p, err := s.persons.FindPersonByID(ctx, u.PersonID); err == nil && p.IDType == ref.IDType && p.IDNumber == ref.IDNumber {
			return nil, Invalid(CodeFamilySelf, "不能把自己添加为亲属；为自己缴费请选择“本人”")
		}
	}
	token := newSeqNo("fi") + newSeqNo("")
	b := &FamilyBinding{UserID: userID, Relation: in.Relation, Member: ref, Status: FamilyPendingConsent,
		InviteHash: inviteHash(token), InviteExpiresAt: now.Add(invitationTTL), CreatedAt: now, UpdatedAt: now}
	switch err := s.family.CreateFamilyBinding(ctx, b, MaxFamilyBindings); {
	case errors.Is(err, ErrFamilyLimit):
		return nil, &Error{Kind: KindConflict, Code: CodeFamilyLimit, Message: fmt.Sprintf("最多可添加 %d 位亲属，请先删除不再代缴的亲属", MaxFamilyBindings)}
	case errors.Is(err, ErrDuplicate):
		return nil, &Error{Kind: KindConflict, Code: CodeFamilyExists, Message: "该亲属已添加，无需重复添加"}
	case err != nil:
		return nil, err
	}
	v := toFamilyView(b)
	v.Invitation, v.InvitationExpiresAt = token, b.InviteExpiresAt
	return v, nil
}

// List returns the user's bindings, masked.
func (s *FamilyService) List(ctx context.Context, userID int64) ([]*FamilyView, error) {
	bs, err := s.family.ListFamilyBindings(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]*FamilyView, 0, len(bs))
	for _, b := range bs {
		out = append(out, toFamilyView(b))
	}
	return out, nil
}

// Remove deletes the user's binding. Errors: not_found.
func (s *FamilyService) Remove(ctx context.Context, userID, id int64) error {
	if err := s.family.DeleteFamilyBinding(ctx, userID, id); errors.Is(err, ErrNotFound) {
		return ErrFamilyNotFound
	} else if err != nil {
		return err
	}
	return nil
}

func samePerson(p *Person, ref PersonRef) bool {
	return p.IDType == ref.IDType && p.IDNumber == ref.IDNumber && p.Name == ref.Name
}

func identityMismatch() *Error {
	return &Error{Kind: KindForbidden, Code: CodeIdentityMismatch, Message: "您的实名身份与代缴人填写的亲属信息不一致，无法授权；请让对方核对姓名和证件号码后重新添加"}
}

// Accept is the member's consent: the member, logged in with their own
// WeChat and verified, accepts the invitation token the payer shared.
// Accepting again is harmless. Errors: not_found (unknown token),
// not_verified, identity_mismatch, family_self, invitation_expired.
func (s *FamilyService) Accept(ctx context.Context, memberUserID int64, token string) (*FamilyView, error) {
	token = strings.TrimSpace(token)
	if token == "" || len(token) > 128 {
		return nil, NotFound("邀请不存在或已失效")
	}
	b, err := s.family.FindFamilyBindingByInvite(ctx, inviteHash(token))
	if errors.Is(err, ErrNotFound) {
		return nil, NotFound("邀请不存在或已失效")
	}
	if err != nil {
		return nil, err
	}
	if b.UserID == memberUserID {
		return nil, Invalid(CodeFamilySelf, "请让亲属用本人微信打开邀请并完成实名认证")
	}
	p, err := s.memberPerson(ctx, memberUserID)
	if err != nil {
		return nil, err
	}
	if !samePerson(p, b.Member) {
		return nil, identityMismatch()
	}
	now := s.clock.Now()
	if b.Status == FamilyPendingConsent && !now.Before(b.InviteExpiresAt) {
		return nil, &Error{Kind: KindConflict, Code: CodeInvitationExpired, Message: "邀请已过期，请让代缴人删除后重新添加"}
	}
	return s.activate(ctx, b.ID, p.ID, ConsentMemberAccept)
}

// ConsentWithCheck is the consent through the region's identity check on
// the member: the payer started a family check (purpose family) for the
// member, the member gave the payer the code or password, and the check
// verified. Errors: not_found (binding or check not the user's),
// identity_check_pending, identity_mismatch.
func (s *FamilyService) ConsentWithCheck(ctx context.Context, userID, bindingID int64, checkID string) (*FamilyView, error) {
	b, err := s.family.FindFamilyBinding(ctx, bindingID)
	if errors.Is(err, ErrNotFound) || (err == nil && b.UserID != userID) {
		return nil, ErrFamilyNotFound
	}
	if err != nil {
		return nil, err
	}
	c, err := s.checks.FindIdentityCheck(ctx, strings.TrimSpace(checkID))
	if errors.Is(err, ErrNotFound) || (err == nil && c.UserID != userID) {
		return nil, ErrCheckNotFound
	}
	if err != nil {
		return nil, err
	}
	if c.Status != CheckVerified || c.PersonID == 0 {
		return nil, &Error{Kind: KindConflict, Code: "identity_check_pending", Message: "该认证尚未完成，请先提交亲属提供的验证码或密码"}
	}
	if c.Person != b.Member {
		return nil, identityMismatch()
	}
	return s.activate(ctx, b.ID, c.PersonID, ConsentIdentityCheck)
}

func (s *FamilyService) activate(ctx context.Context, id, personID int64, method string) (*FamilyView, error) {
	now := s.clock.Now()
	b, err := s.family.UpdateFamilyBinding(ctx, id, func(b *FamilyBinding) error {
		return b.Consent(personID, method, now)
	})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrFamilyNotFound
	}
	if err != nil {
		return nil, err
	}
	return toFamilyView(b), nil
}

// Withdraw is the member withdrawing consent (撤回代缴授权): the member,
// logged in with their own WeChat and verified as the bound person (the
// check Accept makes), moves the binding from active or pending_consent to
// withdrawn under the row lock. From then on the payer cannot quote, order
// or pay for the member; batches already paid run their course. Every
// unpaid batch of the payer's orders for the member is then closed at WeChat
// (ConsentTrades): a close that cannot finish now is left to the payment
// poller, and a payment WeChat took before the close is held by the
// third-party rule (ConsentedFamily). Withdrawing again is harmless and
// tries the closes again. Errors: not_found (unknown binding, or the caller
// is not the bound person: the binding's existence is not disclosed),
// not_verified.
func (s *FamilyService) Withdraw(ctx context.Context, memberUserID, bindingID int64) (*FamilyView, error) {
	b, err := s.family.FindFamilyBinding(ctx, bindingID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrFamilyNotFound
	}
	if err != nil {
		return nil, err
	}
	if b.UserID == memberUserID {
		return nil, ErrFamilyNotFound // the payer removes with DELETE /family/{id}
	}
	p, err := s.memberPerson(ctx, memberUserID)
	if err != nil {
		return nil, err
	}
	if !samePerson(p, b.Member) || (b.PersonID != 0 && b.PersonID != p.ID) {
		return nil, ErrFamilyNotFound
	}
	now := s.clock.Now()
	b, err = s.family.UpdateFamilyBinding(ctx, b.ID, func(b *FamilyBinding) error {
		b.Withdraw(now)
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrFamilyNotFound
	}
	if err != nil {
		return nil, err
	}
	if s.trades != nil && b.Status == FamilyWithdrawn && b.PersonID != 0 {
		if _, err := s.trades.CloseForWithdrawnConsent(ctx, b.UserID, b.PersonID); err != nil {
			return nil, err
		}
	}
	return toFamilyView(b), nil
}

// CheckConsent refuses, with family_consent_withdrawn (403), ordering or
// paying for a person the user may pay for only through a binding whose
// member withdrew consent. The user's own person, an active binding, or no
// binding at all (left to the other checks) pass.
func (s *IdentityService) CheckConsent(ctx context.Context, userID, personID int64) error {
	if personID == 0 {
		return nil
	}
	u, err := userByID(ctx, userID, s.users.FindUserByID)
	if err != nil {
		return err
	}
	if u.PersonID == personID {
		return nil
	}
	bs, err := s.family.ListFamilyBindings(ctx, userID)
	if err != nil {
		return err
	}
	withdrawn := false
	for _, b := range bs {
		if b.PersonID != personID {
			continue
		}
		if b.Status == FamilyActive {
			return nil
		}
		withdrawn = withdrawn || b.Status == FamilyWithdrawn
	}
	if withdrawn {
		return consentWithdrawn()
	}
	return nil
}

func notVerified() *Error {
	return &Error{Kind: KindForbidden, Code: CodeNotVerified, Message: "请先完成实名认证（人脸核验或参保地认证）"}
}

// IdentityService answers who a user may pay for and shows identities
// masked. It implements PersonResolver and IdentityViewer.
type IdentityService struct {
	users   UserStore
	persons PersonStore
	family  FamilyStore
}

// NewIdentityService returns an IdentityService. It panics on nil
// dependencies.
func NewIdentityService(users UserStore, persons PersonStore, family FamilyStore) *IdentityService {
	if users == nil || persons == nil || family == nil {
		panic("service: NewIdentityService: missing dependency")
	}
	return &IdentityService{users: users, persons: persons, family: family}
}

// ResolvePerson returns the person for "self" (the user's verified identity)
// or for a family binding id (the member, once consented). Errors:
// not_verified (403), consent_pending (409), not_found (404: not the user's
// binding).
func (s *IdentityService) ResolvePerson(ctx context.Context, userID int64, person string) (*Person, error) {
	person = strings.TrimSpace(person)
	if person == "" {
		return nil, Invalid("invalid_person", "请选择为谁缴费", FieldError{Field: "person", Code: "required", Message: "应为 self 或亲属编号"})
	}
	if person == "self" {
		u, err := userByID(ctx, userID, s.users.FindUserByID)
		if err != nil {
			return nil, err
		}
		if !u.Verified() {
			return nil, notVerified()
		}
		return s.persons.FindPersonByID(ctx, u.PersonID)
	}
	id, err := strconv.ParseInt(person, 10, 64)
	if err != nil || id <= 0 {
		return nil, ErrFamilyNotFound
	}
	b, err := s.family.FindFamilyBinding(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && b.UserID != userID) {
		return nil, ErrFamilyNotFound
	}
	if err != nil {
		return nil, err
	}
	if b.Status == FamilyWithdrawn {
		return nil, consentWithdrawn()
	}
	if b.Status != FamilyActive || b.PersonID == 0 {
		return nil, &Error{Kind: KindConflict, Code: CodeConsentPending, Message: "亲属尚未授权，请让亲属接受邀请或完成参保地认证后再缴费"}
	}
	return s.persons.FindPersonByID(ctx, b.PersonID)
}

// FindPerson returns a person in plaintext, for posting to the platform.
func (s *IdentityService) FindPerson(ctx context.Context, id int64) (*Person, error) {
	return s.persons.FindPersonByID(ctx, id)
}

// MaskedPerson returns the person with name, ID number and phone masked.
func (s *IdentityService) MaskedPerson(ctx context.Context, personID int64) (*Person, error) {
	p, err := s.persons.FindPersonByID(ctx, personID)
	if err != nil {
		return nil, err
	}
	return &Person{ID: p.ID, Name: pii.MaskName(p.Name), IDType: p.IDType, IDNumber: pii.MaskIDNumber(p.IDNumber), Phone: pii.MaskPhone(p.Phone)}, nil
}

// memberPerson is the verified person of the member's own account: who
// accepts an invitation or withdraws consent. Errors: not_verified.
func (s *FamilyService) memberPerson(ctx context.Context, memberUserID int64) (*Person, error) {
	u, err := s.users.FindUserByID(ctx, memberUserID)
	if err != nil {
		return nil, err
	}
	if !u.Verified() {
		return nil, notVerified()
	}
	return s.persons.FindPersonByID(ctx, u.PersonID)
}

// ConsentedFamily answers FamilyBindings from the family bindings: the payer
// has an active binding, consented by the member, to that person, or one the
// member consented to and withdrew at or after at (a batch's success_time):
// a batch paid by the withdrawal was paid under consent and runs its
// course; one paid after it (a trade whose close at WeChat failed or was
// unknown) is not consented, and the third-party hold rule holds it.
// The withdrawal time is the binding's UpdatedAt: a withdrawn binding never
// changes again.
type ConsentedFamily struct{ Store FamilyStore }

// HasConsentedBinding reports whether payer had a consented binding to
// person at time at.
func (f ConsentedFamily) HasConsentedBinding(ctx context.Context, payerUserID, personID int64, at time.Time) (bool, error) {
	bs, err := f.Store.ListFamilyBindings(ctx, payerUserID)
	if err != nil {
		return false, err
	}
	for _, b := range bs {
		consented := b.Status == FamilyActive ||
			(b.Status == FamilyWithdrawn && !b.ConsentedAt.IsZero() && !at.After(b.UpdatedAt))
		if consented && b.PersonID == personID && personID != 0 {
			return true, nil
		}
	}
	return false, nil
}
