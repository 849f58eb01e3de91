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

// checkMutualAid refuses, in the order's transaction, an order whose family
// mutual aid would overspend the balance its quote was computed from: the
// aid of the person's other open orders in the region plus this order's
// must stay within the quote's recorded balance. The person's row is locked
// (FOR UPDATE on MySQL; SQLite transactions are immediate) so concurrent
// orders of one person check one after the other. An order without mutual
// aid makes no extra round trip.
func (s *OrderStore) checkMutualAid(tx *gorm.DB, o *service.Order) error {
	if o.MutualAidFen <= 0 {
		return nil
	}
	var ids []int64
	if err := lockForUpdate(tx, s.db.Dialect).Model(&personRow{}).Where("id = ?", o.PersonID).Pluck("id", &ids).Error; err != nil {
		return err
	}
	if len(ids) == 0 {
		// FOR UPDATE on a missing row would lock nothing that serializes.
		return fmt.Errorf("mutual aid of order %s: person %d not found", o.No, o.PersonID)
	}
	var committed int64
	err := tx.Table("orders").Joins("JOIN quotes ON quotes.id = orders.quote_id").
		Where("orders.person_id = ? AND orders.region = ? AND orders.status IN ? AND orders.order_no <> ?",
			o.PersonID, o.Region, committedStatuses, o.No).
		Select("COALESCE(SUM(quotes.mutual_aid_fen), 0)").Scan(&committed).Error
	if err != nil {
		return err
	}
	if committed+int64(o.MutualAidFen) > int64(o.MutualAidBalanceFen) {
		return service.MutualAidCommitted()
	}
	return nil
}

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
