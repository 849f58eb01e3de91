package service_test

import (
	"testing"

	"github.com/shebao/sipay/service"
)

func TestBatchLinesMatchThePlannedBatchesWithMutualAid(t *testing.T) {
	lines := []service.QuoteLine{
		{Insurance: service.InsurancePension, Month: "2026-01", AmountFen: 80000},
		{Insurance: service.InsuranceMedical, Month: "2026-01", AmountFen: 30000},
		{Insurance: service.InsurancePension, Month: "2026-02", AmountFen: 80000},
		{Insurance: service.InsuranceMedical, Month: "2026-02", AmountFen: 30000},
		{Insurance: service.InsurancePension, Month: "2026-03", AmountFen: 80000},
		{Insurance: service.InsuranceMedical, Month: "2026-03", AmountFen: 30000},
	}
	q := &service.Quote{Lines: lines, MutualAidFen: 45000}
	plans, err := service.PlanBatches(lines, q.MutualAidFen, 200000)
	if err != nil || len(plans) != 2 {
		t.Fatalf("plan: got %+v, %v; want 2 batches", plans, err)
	}
	for _, p := range plans {
		b := &service.Batch{AmountFen: p.AmountFen, FromMonth: p.FromMonth, ToMonth: p.ToMonth}
		var sum service.Fen
		for _, l := range service.BatchLines(q, b) {
			if l.AmountFen <= 0 {
				t.Fatalf("batch %d: line %+v has no amount", p.Seq, l)
			}
			sum += l.AmountFen
		}
		if sum != p.AmountFen {
			t.Fatalf("batch %d (%s~%s): lines sum to %d, want %d", p.Seq, p.FromMonth, p.ToMonth, sum, p.AmountFen)
		}
	}
}
