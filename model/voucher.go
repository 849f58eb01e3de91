package model

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm/clause"

	"github.com/shebao/sipay/service"
)

type voucherRow struct {
	ID         int64 `gorm:"primaryKey"`
	OrderNo    string
	OutTradeNo string
	Kind       string
	AmountFen  int64
	IssuedAt   time.Time
	ExpiresAt  sql.NullTime
	Content    string
	PurgedAt   sql.NullTime
}

func (voucherRow) TableName() string { return "vouchers" }

func toVoucher(r *voucherRow) (service.Voucher, error) {
	c, err := service.UnmarshalVoucherContent(r.Content)
	return service.Voucher{ID: r.ID, OrderNo: r.OrderNo, OutTradeNo: r.OutTradeNo, Kind: service.VoucherKind(r.Kind),
		AmountFen: service.Fen(r.AmountFen), IssuedAt: r.IssuedAt.UTC(), ExpiresAt: fromNull(r.ExpiresAt), Content: c,
		PurgedAt: fromNull(r.PurgedAt)}, err
}

func toVoucherRef(r *voucherRow) (*service.Voucher, error) {
	v, err := toVoucher(r)
	return &v, err
}

// CreateVoucher inserts the voucher or returns the existing one of the same
// batch and kind.
func (s *AfterStore) CreateVoucher(ctx context.Context, v *service.Voucher) (*service.Voucher, error) {
	content, err := service.MarshalVoucherContent(v.Content)
	if err != nil {
		return nil, err
	}
	row := voucherRow{OrderNo: v.OrderNo, OutTradeNo: v.OutTradeNo, Kind: string(v.Kind), AmountFen: int64(v.AmountFen),
		IssuedAt: v.IssuedAt.UTC().Truncate(time.Microsecond), ExpiresAt: nullTime(v.ExpiresAt), Content: content}
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return nil, storeErr("create voucher", err)
	}
	return findDecoded(s.db.WithContext(ctx).Where("out_trade_no = ? AND kind = ?", v.OutTradeNo, string(v.Kind)), "find voucher", toVoucherRef)
}

// FindVoucher returns a voucher by id.
func (s *AfterStore) FindVoucher(ctx context.Context, id int64) (*service.Voucher, error) {
	return findDecoded(s.db.WithContext(ctx).Where("id = ?", id), "find voucher", toVoucherRef)
}

// FindVouchers lists an order's vouchers by batch and kind.
func (s *AfterStore) FindVouchers(ctx context.Context, orderNo string) ([]service.Voucher, error) {
	return findAllDecoded(s.db.WithContext(ctx).Where("order_no = ?", orderNo).Order("out_trade_no, id"), "find vouchers", toVoucher)
}

// PurgeExpiredVouchers removes the content of vouchers past retention; the
// row stays so verification can say the voucher expired.
func (s *AfterStore) PurgeExpiredVouchers(ctx context.Context, now time.Time) (int, error) {
	res := s.db.WithContext(ctx).Model(&voucherRow{}).Where("expires_at IS NOT NULL AND expires_at <= ? AND purged_at IS NULL", now.UTC()).
		Updates(map[string]any{"content": "", "purged_at": now.UTC()})
	if res.Error != nil {
		return 0, storeErr("purge vouchers", res.Error)
	}
	return int(res.RowsAffected), nil
}
