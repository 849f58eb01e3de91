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

// Concurrent deliveries of one event enqueue one message and one send job;
// concurrent sends of ten messages take exactly the three grants there are.
func TestHelpStoreMessagesAndGrantsUnderConcurrency(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		s := model.NewHelpStore(db, testRing(t, "k1", 7))
		outbox := model.NewOutbox(db)

		var wg sync.WaitGroup
		var mu sync.Mutex
		inserted := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.EnqueueMessage(ctx, &service.SubscribeMessage{UserID: 1, EventKey: "paid:X_1", Template: service.TplPaymentReceived,
					Data: map[string]string{"character_string1": "X"}})
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					inserted++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if n, _ := outbox.Pending(ctx, service.JobSubscribeSend); inserted != 1 || n != 1 {
			t.Fatalf("8 concurrent enqueues: %d inserted, %d jobs; want 1 and 1", inserted, n)
		}

		if err := s.AddGrants(ctx, 2, service.TplPosted, 2); err != nil {
			t.Fatal(err)
		}
		if err := s.AddGrants(ctx, 2, service.TplPosted, 1); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for i := 0; i < 10; i++ {
			m := &service.SubscribeMessage{UserID: 2, EventKey: fmt.Sprintf("posted:Y_%d", i), Template: service.TplPosted, Data: map[string]string{}}
			if _, err := s.EnqueueMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		taken := 0
		for _, id := range ids {
			wg.Add(1)
			go func(id int64) {
				defer wg.Done()
				ok, err := s.TakeGrant(ctx, id)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					taken++
					mu.Unlock()
				}
			}(id)
		}
		wg.Wait()
		g, _ := s.Grants(ctx, 2)
		if taken != 3 || g[service.TplPosted] != 0 {
			t.Fatalf("10 concurrent sends with 3 grants: %d taken, %d left; want 3 and 0", taken, g[service.TplPosted])
		}
		// Taking again for a message that has its grant is no second grant.
		for _, id := range ids {
			m, _ := s.FindMessage(ctx, id)
			if m.GrantTaken {
				if ok, err := s.TakeGrant(ctx, id); err != nil || !ok {
					t.Fatalf("retake for %d: %v %v, want true (already held)", id, ok, err)
				}
			}
		}
		if g, _ := s.Grants(ctx, 2); g[service.TplPosted] != 0 {
			t.Fatalf("grants after retakes: %d, want 0", g[service.TplPosted])
		}
	})
}
