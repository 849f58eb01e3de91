package model

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/shebao/sipay/service"
)

type orderMonthRow struct {
	ID         int64 `gorm:"primaryKey"`
	PersonID   int64
	Insurance  string
	Month      string
	OrderNo    string
	OutTradeNo string
	CreatedAt  time.Time
}

func (orderMonthRow) TableName() string { return "order_months" }

// releasedBatchStatuses are the batch statuses that release a month claim:
// the money never arrived (closed) or went back (refunded).
var releasedBatchStatuses = []string{string(service.StatusClosed), string(service.StatusRefunded)}

// claimMonths inserts the order's month claims in tx. The unique key
// (person_id, insurance, month) is the truth: a claim held by a closed or
// refunded batch is stale and removed first, in the same transaction; a
// claim held by any other batch refuses the order with 409
// month_already_ordered naming the holding order. Under concurrency the
// second insert fails on the key, never both succeed.
func claimMonths(tx *gorm.DB, o *service.Order, now time.Time) error {
	if len(o.Claims) == 0 {
		return nil
	}
	insert := func() error {
		rows := make([]orderMonthRow, len(o.Claims))
		for i, c := range o.Claims {
			rows[i] = orderMonthRow{PersonID: o.PersonID, Insurance: c.Insurance, Month: c.Month,
				OrderNo: o.No, OutTradeNo: c.OutTradeNo, CreatedAt: now}
		}
		err := tx.Create(&rows).Error // one multi-row INSERT; a key conflict undoes the whole statement
		if err != nil && (errors.Is(err, gorm.ErrDuplicatedKey) || isDuplicate(err)) {
			return errClaimTaken
		}
		return err
	}
	err := insert()
	if err != errClaimTaken {
		return err // the common case: one round trip
	}
	// Some month is claimed. Claims of closed or refunded batches are stale:
	// remove the person's (one statement) and try once more.
	stale := tx.Table("batches").Select("out_trade_no").Where("status IN ?", releasedBatchStatuses)
	if err := tx.Where("person_id = ? AND out_trade_no IN (?)", o.PersonID, stale).Delete(&orderMonthRow{}).Error; err != nil {
		return err
	}
	if err = insert(); err != errClaimTaken {
		return err
	}
	for _, c := range o.Claims {
		var holder orderMonthRow
		if ferr := tx.Where("person_id = ? AND insurance = ? AND month = ?", o.PersonID, c.Insurance, c.Month).First(&holder).Error; ferr == nil {
			return service.MonthAlreadyOrdered(c.Insurance, c.Month, holder.OrderNo)
		}
	}
	return fmt.Errorf("claim months of %s: a claim conflicts but none was found", o.No)
}

var errClaimTaken = errors.New("month already claimed")

// committedStatuses are the order statuses whose mutual-aid deduction the
// platform has not booked yet and that may still be booked.
var committedStatuses = []string{string(service.StatusPendingPayment), string(service.StatusPartiallyPaid),
	string(service.StatusPaid), string(service.StatusHeld), string(service.StatusPosting)}

// CommittedMutualAid returns the mutual-aid fen of the person's open orders
// in region (implements service.MutualAidCommitments).
func (s *OrderStore) CommittedMutualAid(ctx context.Context, personID int64, region string) (service.Fen, error) {
	var sum int64
	err := s.db.WithContext(ctx).Table("orders").Joins("JOIN quotes ON quotes.id = orders.quote_id").
		Where("orders.person_id = ? AND orders.region = ? AND orders.status IN ?", personID, region, committedStatuses).
		Select("COALESCE(SUM(quotes.mutual_aid_fen), 0)").Scan(&sum).Error
	return service.Fen(sum), storeErr("committed mutual aid", err)
}

// IdentityEvidence reads which identity methods verified a person
// (implements service.IdentityEvidence): a verified face attempt gives
// "face"; a verified identity check in the region gives its method.
type IdentityEvidence struct{ db *DB }

// NewIdentityEvidence returns an IdentityEvidence.
func NewIdentityEvidence(db *DB) *IdentityEvidence { return &IdentityEvidence{db: db} }

// VerifiedMethods returns the methods that verified personID. The person
// resolver has already checked the user may act for the person (self or a
// consented family member), so checks count whoever ran them.
func (e *IdentityEvidence) VerifiedMethods(ctx context.Context, _ int64, personID int64, region string) ([]string, error) {
	// One round trip: quotes and orders both ask on their hot path.
	var methods []string
	err := e.db.WithContext(ctx).Raw(`SELECT ? AS method FROM face_attempts WHERE person_id = ? AND status = ?
		UNION SELECT method FROM identity_checks WHERE person_id = ? AND status = ? AND region = ?`,
		service.IdentityFace, personID, service.FaceVerified, personID, service.CheckVerified, region).Scan(&methods).Error
	return methods, storeErr("identity evidence", err)
}
