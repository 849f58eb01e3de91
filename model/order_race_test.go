package model_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// setBatch moves a batch to status (any transition the table allows).
func setBatch(to service.OrderStatus) service.BatchUpdater {
	return func(o *service.Order, b *service.Batch, fx *service.Effects) error {
		if b.Status == to {
			return service.ErrNoChange
		}
		b.Status = to
		fx.Event(b.Seq, string(to), string(to))
		return nil
	}
}

// TestSiblingBatchesSettledAtOnceLeaveACorrectOrderStatusOnMySQL settles the
// two batches of an order from two goroutines at the same moment, as two
// instances do when both postings are accepted together. Under REPEATABLE
// READ a plain SELECT before the order lock fixed the snapshot, so the loser
// re-read its sibling as still posting and wrote order status posting while
// both batches were posted.
func TestSiblingBatchesSettledAtOnceLeaveACorrectOrderStatusOnMySQL(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	db := modeltest.MySQL(t, clock)
	store := model.NewOrderStore(db)
	ctx := context.Background()
	const orders = 40
	for i := 0; i < orders; i++ {
		o := newTestOrder(fmt.Sprintf("SIB%018d", i), 101, fmt.Sprintf("qsib-%d", i), 2)
		for j := range o.Batches {
			o.Batches[j].Status = service.StatusPosting
		}
		mustCreateOrder(t, store, o)
	}
	for i := 0; i < orders; i++ {
		no := fmt.Sprintf("SIB%018d", i)
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for seq := 1; seq <= 2; seq++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[seq-1] = store.UpdateBatch(ctx, service.OutTradeNo(no, seq), setBatch(service.StatusPosted))
			}()
		}
		close(start)
		wg.Wait()
		for seq, err := range errs {
			if err != nil {
				t.Fatalf("order %s batch %d: %v", no, seq+1, err)
			}
		}
	}
	// The stored copy (what lists and reports read) must agree with the
	// batches: every order fully posted.
	if n := countRows(t, db, "orders", "status <> ?", string(service.StatusPosted)); n != 0 {
		t.Fatalf("%d of %d orders have a stored status other than posted while both batches are posted", n, orders)
	}
	if n := countRows(t, db, "batches", "status <> ?", string(service.StatusPosted)); n != 0 {
		t.Fatalf("%d batches not posted", n)
	}
}

// TestSiblingRefundAndAcceptRaceOnMySQL refunds one batch while the other is
// accepted; the order must read partially_refunded once the refund settles.
func TestOrderStatusPartiallyRefundedWhenOneBatchPostedAndOneRefunded(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		store := model.NewOrderStore(db)
		ctx := context.Background()
		no := "PRF000000000000000001"
		o := newTestOrder(no, 101, "qprf", 2)
		for j := range o.Batches {
			o.Batches[j].Status = service.StatusPosting
		}
		mustCreateOrder(t, store, o)
		steps := []struct {
			seq int
			to  service.OrderStatus
		}{{1, service.StatusPosted}, {2, service.StatusRefunding}, {2, service.StatusRefunded}}
		for _, s := range steps {
			if _, err := store.UpdateBatch(ctx, service.OutTradeNo(no, s.seq), setBatch(s.to)); err != nil {
				t.Fatalf("batch %d → %s: %v", s.seq, s.to, err)
			}
		}
		got, err := store.FindOrder(ctx, no)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != service.StatusPartiallyRefunded {
			t.Fatalf("order status: got %s, want partially_refunded", got.Status)
		}
		if n := countRows(t, db, "orders", "order_no = ? AND status = ?", no, string(service.StatusPartiallyRefunded)); n != 1 {
			t.Fatalf("stored order status is not partially_refunded")
		}
	})
}
