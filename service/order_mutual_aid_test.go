package service_test

import (
	"context"
	"testing"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// Two quotes issued before either is ordered each deduct the whole family
// mutual-aid balance: the first order commits it, the second is refused
// with 409 mutual_aid_committed, nothing of it is written, and the trade
// prepaid for it (batch 1 is prepaid before the order's one write) is
// closed at WeChat, so nothing can pay it (issue 9 #7).
func TestCreateOrderRefusesMutualAidCommittedMeanwhile(t *testing.T) {
	e := newSQLiteOrderEnv(t)
	ctx := context.Background()
	now := e.clock.Now()
	if err := e.db.Exec(`INSERT INTO persons (id, name_enc, id_type, id_number_enc, id_number_bidx, created_at, updated_at)
		VALUES (7, 'x', 'resident_id', 'x', 'b7', ?, ?)`, now, now).Error; err != nil {
		t.Fatal(err)
	}
	const balance = 30000
	for i, id := range []string{"qa1", "qa2"} {
		q := e.addQuote(t, id, 1, 100000-balance)
		q.Lines[0].Insurance, q.Lines[0].Month = service.InsuranceMedical, []string{"2026-11", "2026-12"}[i]
		q.Batches[0].FromMonth, q.Batches[0].ToMonth = q.Lines[0].Month, q.Lines[0].Month
		q.Lines[0].AmountFen, q.TotalFen = 100000, 100000
		q.MutualAidFen, q.MutualAidBalanceFen = balance, balance
		// The committed sum joins the quotes table: store the quote there too.
		if err := model.NewQuoteStore(e.db).CreateQuote(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	e.mustCreate(t, 1, "qa1")
	prepays := len(e.gw.prepays)
	res, err := e.svc.CreateOrder(ctx, 1, "qa2")
	if service.ErrorCode(err) != service.CodeMutualAidCommitted || service.ErrorKind(err) != service.KindConflict || res != nil {
		t.Fatalf("got %+v %v, want 409 %s", res, err, service.CodeMutualAidCommitted)
	}
	if len(e.gw.prepays) != prepays+1 {
		t.Fatalf("got %d prepays for the refused order, want 1", len(e.gw.prepays)-prepays)
	}
	refused := e.gw.prepays[prepays].OutTradeNo
	if len(e.gw.closes) != 1 || e.gw.closes[0] != refused {
		t.Errorf("closed %q at WeChat, want exactly the refused order's trade %s", e.gw.closes, refused)
	}
	if _, err := e.store.FindOrderByQuote(ctx, "qa2"); err == nil {
		t.Error("the refused quote has an order, want nothing written")
	}
}
