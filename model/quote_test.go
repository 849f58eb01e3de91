package model_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

func TestQuoteStore(t *testing.T) {
	clock := service.NewManualClock(time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC))
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		s := model.NewQuoteStore(db)
		want := &service.Quote{ID: "QABCDEFGHIJKLMNOPQRST", UserID: 1, PersonID: 42, Region: "guangdong-guangzhou",
			Lines: []service.QuoteLine{
				{Insurance: "pension", Month: "2026-09", Arrears: true, BaseFen: 551000, RateBP: 2000, AmountFen: 110200},
				{Insurance: "medical", Month: "2026-11", BaseFen: 600025, RateBP: 600, AmountFen: 36002},
			},
			TotalFen: 146202, MutualAidFen: 10000, PayableFen: 136202,
			Batches: []service.BatchPlan{
				{Seq: 1, AmountFen: 100200, FromMonth: "2026-09", ToMonth: "2026-09"},
				{Seq: 2, AmountFen: 36002, FromMonth: "2026-11", ToMonth: "2026-11"},
			},
			CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(30 * time.Minute)}

		t.Run("RoundTripKeepsLinesAndBatches", func(t *testing.T) {
			if err := s.CreateQuote(ctx, want); err != nil {
				t.Fatal(err)
			}
			got, err := s.FindQuoteByID(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
		t.Run("DuplicateID", func(t *testing.T) {
			if err := s.CreateQuote(ctx, want); !errorsIs(err, service.ErrDuplicate) {
				t.Fatalf("got %v, want ErrDuplicate", err)
			}
		})
		t.Run("NotFound", func(t *testing.T) {
			if _, err := s.FindQuoteByID(ctx, "QMISSING"); !errorsIs(err, service.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	})
}
