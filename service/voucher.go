package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// VoucherKind is one of the three e-vouchers (电子凭证) of a posted batch.
type VoucherKind string

// Voucher kinds and their retention.
const (
	VoucherFiscal      VoucherKind = "fiscal_receipt"     // 财政电子票据: kept long-term
	VoucherAcceptance  VoucherKind = "acceptance_receipt" // 受理回执: kept 2 years
	VoucherTransaction VoucherKind = "transaction_detail" // 交易明细: kept 18 months
)

// VoucherKinds lists the kinds in display order.
var VoucherKinds = []VoucherKind{VoucherFiscal, VoucherAcceptance, VoucherTransaction}

// Retention returns until when a voucher issued at t is kept; zero means
// long-term.
func (k VoucherKind) Retention(t time.Time) time.Time {
	switch k {
	case VoucherAcceptance:
		return t.AddDate(2, 0, 0)
	case VoucherTransaction:
		return t.AddDate(0, 18, 0)
	}
	return time.Time{}
}

func (k VoucherKind) code() string {
	switch k {
	case VoucherFiscal:
		return "F"
	case VoucherAcceptance:
		return "A"
	case VoucherTransaction:
		return "T"
	}
	return ""
}

// Title is the Chinese name of the kind.
func (k VoucherKind) Title() string {
	switch k {
	case VoucherFiscal:
		return "财政电子票据"
	case VoucherAcceptance:
		return "社保受理回执"
	case VoucherTransaction:
		return "交易明细"
	}
	return string(k)
}

// VoucherContent is the content of a voucher; which fields are set depends
// on the kind.
type VoucherContent struct {
	// Fiscal e-receipt.
	BillCode   string `json:"bill_code,omitempty"`   // 票据代码
	BillNumber string `json:"bill_number,omitempty"` // 票据号码
	CheckCode  string `json:"check_code,omitempty"`  // 校验码
	IssuedOn   string `json:"issued_on,omitempty"`   // 开票日期 YYYY-MM-DD
	// Acceptance receipt.
	AcceptanceNo string    `json:"acceptance_no,omitempty"`
	Reference    string    `json:"reference,omitempty"`
	AcceptedAt   time.Time `json:"accepted_at,omitzero"`
	Region       string    `json:"region,omitempty"`
	FromMonth    string    `json:"from_month,omitempty"`
	ToMonth      string    `json:"to_month,omitempty"`
	// Transaction detail.
	TransactionID string    `json:"transaction_id,omitempty"`
	OutTradeNo    string    `json:"out_trade_no,omitempty"`
	PaidAt        time.Time `json:"paid_at,omitzero"`
}

// Voucher is one e-voucher.
type Voucher struct {
	ID         int64
	OrderNo    string
	OutTradeNo string
	Kind       VoucherKind
	AmountFen  Fen
	IssuedAt   time.Time
	ExpiresAt  time.Time // zero: long-term
	Content    *VoucherContent
	PurgedAt   time.Time // content removed after retention
	Code       string    // signed verification code (computed)
}

// Purged reports whether the content was removed after retention.
func (v *Voucher) Purged() bool { return !v.PurgedAt.IsZero() }

// VoucherStore persists vouchers; (out_trade_no, kind) is unique.
type VoucherStore interface {
	// CreateVoucher inserts v or returns the existing voucher of the same
	// batch and kind.
	CreateVoucher(ctx context.Context, v *Voucher) (*Voucher, error)
	// FindVoucher returns ErrNotFound when there is none.
	FindVoucher(ctx context.Context, id int64) (*Voucher, error)
	// FindVouchers lists an order's vouchers.
	FindVouchers(ctx context.Context, orderNo string) ([]Voucher, error)
	// PurgeExpiredVouchers removes the content of vouchers whose retention
	// ended at or before now and returns how many.
	PurgeExpiredVouchers(ctx context.Context, now time.Time) (int, error)
}

// VoucherService issues, lists and verifies e-vouchers.
type VoucherService struct {
	store  VoucherStore
	orders OrderStore
	clock  Clock
	key    []byte
}

// NewVoucherService returns a VoucherService. key signs verification codes;
// derive it from a configured secret with DeriveVoucherKey.
func NewVoucherService(store VoucherStore, orders OrderStore, clock Clock, key []byte) *VoucherService {
	if store == nil || orders == nil || clock == nil || len(key) < 16 {
		panic("service: NewVoucherService: missing dependency")
	}
	return &VoucherService{store: store, orders: orders, clock: clock, key: key}
}

// DeriveVoucherKey derives the verification-code key from a secret, so the
// secret itself (e.g. PII_KEY) is never used for two purposes.
func DeriveVoucherKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("sipay voucher verification v1"))
	return m.Sum(nil)
}

// Issue creates the three vouchers of a posted batch from its posting
// record; repeats return the existing ones. A fiscal receipt whose amount is
// not the batch amount is not issued: it raises a voucher_mismatch alert
// (the other two vouchers, which carry our own figures, are issued).
func (s *VoucherService) Issue(ctx context.Context, o *Order, b *Batch, rec *PostingRecord) error {
	now := s.clock.Now()
	for _, k := range VoucherKinds {
		c := &VoucherContent{}
		switch k {
		case VoucherFiscal:
			if rec.Receipt == nil {
				continue
			}
			if got := rec.Receipt.Fiscal.AmountFen; got != b.AmountFen {
				if err := s.orders.RecordAlert(ctx, Alert{Kind: AlertVoucherMismatch, Ref: b.OutTradeNo,
					Detail: fmt.Sprintf("fiscal receipt %s/%s is for %d fen, the batch is %d fen; no fiscal voucher issued",
						rec.Receipt.Fiscal.Code, rec.Receipt.Fiscal.Number, got, b.AmountFen)}); err != nil {
					return fmt.Errorf("issue voucher %s: %w", k, err)
				}
				continue
			}
			f := rec.Receipt.Fiscal
			c.BillCode, c.BillNumber, c.CheckCode, c.IssuedOn = f.Code, f.Number, f.CheckCode, f.IssuedOn
		case VoucherAcceptance:
			c.Reference, c.Region, c.FromMonth, c.ToMonth = rec.Reference, o.Region, b.FromMonth, b.ToMonth
			if rec.Receipt != nil {
				c.AcceptanceNo, c.AcceptedAt = rec.Receipt.AcceptanceNo, rec.Receipt.AcceptedAt
			}
		case VoucherTransaction:
			c.TransactionID, c.OutTradeNo, c.PaidAt = b.TransactionID, b.OutTradeNo, b.PaidAt
		}
		if _, err := s.store.CreateVoucher(ctx, &Voucher{OrderNo: o.No, OutTradeNo: b.OutTradeNo, Kind: k, AmountFen: b.AmountFen,
			IssuedAt: now, ExpiresAt: k.Retention(now), Content: c}); err != nil {
			return fmt.Errorf("issue voucher %s: %w", k, err)
		}
	}
	return nil
}

// ListForUser returns an order's vouchers with their codes; an order of
// another user is reported as not found.
func (s *VoucherService) ListForUser(ctx context.Context, userID int64, orderNo string) ([]Voucher, error) {
	if _, err := findUserOrder(ctx, s.orders, userID, orderNo, "订单不存在"); err != nil {
		return nil, err
	}
	vs, err := s.store.FindVouchers(ctx, orderNo)
	if err != nil {
		return nil, err
	}
	for i := range vs {
		vs[i].Code = s.Sign(&vs[i])
	}
	return vs, nil
}

// Sign returns the verification code of v: "<id>.<kind>.<amount>.<yyyymmdd>."
// followed by the first 16 bytes of HMAC-SHA256 over that prefix, in
// base64url. It is ASCII, about 45 characters, and fits a QR code.
func (s *VoucherService) Sign(v *Voucher) string {
	p := voucherPayload(v.ID, v.Kind, v.AmountFen, v.IssuedAt)
	return p + "." + s.mac(p)
}

func voucherPayload(id int64, k VoucherKind, amount Fen, issued time.Time) string {
	return strconv.FormatInt(id, 10) + "." + k.code() + "." + strconv.FormatInt(int64(amount), 10) + "." + issued.In(Shanghai).Format("20060102")
}

func (s *VoucherService) mac(p string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(p))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// ErrVoucherInvalid is returned for forged, altered or unknown codes.
var ErrVoucherInvalid = &Error{Kind: KindInvalid, Code: "voucher_invalid", Message: "凭证验证码无效"}

// VoucherCheck is the public answer to a verification: a masked summary,
// never names or ID numbers.
type VoucherCheck struct {
	Kind      VoucherKind
	Title     string
	AmountFen Fen
	IssuedOn  string // YYYY-MM-DD (Asia/Shanghai)
	OrderNo   string // masked
	Expired   bool   // authentic, but the content was purged after retention
	Summary   map[string]string
}

// Resolve checks a verification code's signature and returns the voucher
// it names; forged, altered or unknown codes give ErrVoucherInvalid.
func (s *VoucherService) Resolve(ctx context.Context, code string) (*Voucher, error) {
	code = strings.TrimSpace(code)
	parts := strings.Split(code, ".")
	if len(code) > 120 || len(parts) != 5 {
		return nil, ErrVoucherInvalid
	}
	p := strings.Join(parts[:4], ".")
	if !hmac.Equal([]byte(s.mac(p)), []byte(parts[4])) {
		return nil, ErrVoucherInvalid
	}
	id, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return nil, ErrVoucherInvalid
	}
	v, err := s.store.FindVoucher(ctx, id)
	if isNotFound(err) {
		return nil, ErrVoucherInvalid
	}
	if err != nil {
		return nil, err
	}
	// The signature is ours; the stored voucher must still say the same.
	if voucherPayload(v.ID, v.Kind, v.AmountFen, v.IssuedAt) != p {
		return nil, ErrVoucherInvalid
	}
	return v, nil
}

// Verify checks a verification code and returns the masked summary.
func (s *VoucherService) Verify(ctx context.Context, code string) (*VoucherCheck, error) {
	v, err := s.Resolve(ctx, code)
	if err != nil {
		return nil, err
	}
	c := &VoucherCheck{Kind: v.Kind, Title: v.Kind.Title(), AmountFen: v.AmountFen,
		IssuedOn: v.IssuedAt.In(Shanghai).Format("2006-01-02"), OrderNo: MaskMiddle(v.OrderNo, 4, 4), Expired: v.Purged()}
	if v.Purged() || v.Content == nil {
		return c, nil
	}
	ct := v.Content
	switch v.Kind {
	case VoucherFiscal:
		c.Summary = map[string]string{"bill_code": ct.BillCode, "bill_number": MaskMiddle(ct.BillNumber, 2, 2), "issued_on": ct.IssuedOn}
	case VoucherAcceptance:
		c.Summary = map[string]string{"region": ct.Region, "reference": MaskMiddle(ct.Reference, 3, 3), "months": ct.FromMonth + "~" + ct.ToMonth}
	case VoucherTransaction:
		c.Summary = map[string]string{"transaction_id": MaskMiddle(ct.TransactionID, 4, 4), "paid_on": ct.PaidAt.In(Shanghai).Format("2006-01-02")}
	}
	return c, nil
}

// PurgeExpired removes the content of vouchers past their retention.
func (s *VoucherService) PurgeExpired(ctx context.Context) (int, error) {
	return s.store.PurgeExpiredVouchers(ctx, s.clock.Now())
}

// MaskMiddle keeps the first head and last tail runes of s and stars the
// rest.
func MaskMiddle(s string, head, tail int) string {
	r := []rune(s)
	if len(r) <= head+tail {
		return strings.Repeat("*", len(r))
	}
	return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
}

// MarshalVoucherContent encodes content for storage.
func MarshalVoucherContent(c *VoucherContent) (string, error) {
	if c == nil {
		return "", nil
	}
	b, err := json.Marshal(c)
	return string(b), err
}

// UnmarshalVoucherContent decodes stored content; empty means purged.
func UnmarshalVoucherContent(s string) (*VoucherContent, error) {
	if s == "" {
		return nil, nil
	}
	var c VoucherContent
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, err
	}
	return &c, nil
}
