package platform_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shebao/sipay/platform"
	"github.com/shebao/sipay/service"
)

// aidPerson finds a simulated person with arrears and a mutual-aid balance.
func aidPerson(t *testing.T, h *harness) (service.PersonRef, service.InsuredProfile) {
	t.Helper()
	for i := 0; i < 200; i++ {
		p := person("张欠费", fmt.Sprintf("1101011990030%05d", i))
		prof, err := h.client.FindProfile(context.Background(), testRegion, p)
		if err != nil || prof.MutualAidBalanceFen <= 0 || len(prof.Arrears) == 0 {
			continue
		}
		return p, prof
	}
	t.Fatal("no simulated person with a mutual-aid balance")
	return service.PersonRef{}, service.InsuredProfile{}
}

// Family mutual aid: the posting carries mutual_aid_fen and its account,
// amount_fen + mutual_aid_fen = the lines; the platform confirms the
// deduction, the balance moves exactly once per booked key (a resend moves
// nothing) and a void of a pending posting restores it.
func TestMutualAidIsDrawnOncePerBookedPostingAndRestoredOnVoid(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	p, prof := aidPerson(t, h)
	w := platform.ToWirePerson(p)
	bal := h.sim.MutualAidBalance(testRegion, w)
	ps := postingFor(t, "T20250615000A01", p, prof)
	aid := min(bal, ps.AmountFen/2)
	ps.AmountFen -= aid
	ps.MutualAidFen, ps.MutualAidAccount = aid, p
	// The lines must equal amount + mutual aid.
	bad := ps
	bad.IdempotencyKey, bad.OutTradeNo = "T20250615000A02", "T20250615000A02"
	bad.MutualAidFen = aid + 1
	_, err := h.client.PostPayment(ctx, bad)
	mustRejection(t, err, service.RejectAmountMismatch)

	for i := 0; i < 2; i++ { // a resend with the same key
		res, err := h.client.PostPayment(ctx, ps)
		if err != nil || res.Status != service.PostingAccepted || res.MutualAidFen != aid {
			t.Fatalf("post %d: %+v %v, want accepted confirming %d fen of mutual aid", i, res, err, aid)
		}
	}
	if got := h.sim.MutualAidBalance(testRegion, w); got != bal-aid {
		t.Fatalf("balance after a booked posting sent twice: got %d, want %d", got, bal-aid)
	}
	if prof2 := mustProfile(t, h, p); prof2.MutualAidBalanceFen != bal-aid {
		t.Fatalf("profile balance: got %d, want %d", prof2.MutualAidBalanceFen, bal-aid)
	}
	// A void of a booked posting answers the booking; nothing moves.
	res, err := h.client.VoidPosting(ctx, testRegion, ps.IdempotencyKey)
	if err != nil || res.Status != service.PostingAccepted || res.Receipt == nil {
		t.Fatalf("void of a booked posting: %+v %v, want the accepted posting", res, err)
	}

	// A pending posting reserves the balance; its void restores it, and the
	// key is never booked afterwards.
	h.sim.Reset()
	h.sim.SetPostingMode("pending")
	ps.IdempotencyKey, ps.OutTradeNo = "T20250615000A03", "T20250615000A03"
	if res, err := h.client.PostPayment(ctx, ps); err != nil || res.Status != service.PostingPending {
		t.Fatalf("pending post: %+v %v", res, err)
	}
	if got := h.sim.MutualAidBalance(testRegion, w); got != bal-aid {
		t.Fatalf("balance while pending: got %d, want %d", got, bal-aid)
	}
	res, err = h.client.VoidPosting(ctx, testRegion, ps.IdempotencyKey)
	if err != nil || res.Status != service.PostingVoided {
		t.Fatalf("void of a pending posting: %+v %v, want voided", res, err)
	}
	if got := h.sim.MutualAidBalance(testRegion, w); got != bal {
		t.Fatalf("balance after void: got %d, want %d restored", got, bal)
	}
	if n, _ := h.sim.CompletePending(ctx); n != 0 {
		t.Fatalf("a voided posting was booked later (%d)", n)
	}
	if _, err := h.client.PostPayment(ctx, ps); !service.IsPermanent(err) {
		t.Fatalf("posting a voided key: got %v, want a rejection", err)
	}
	// A key never seen is voided for good too.
	res, err = h.client.VoidPosting(ctx, testRegion, "T20250615000A04")
	if err != nil || res.Status != service.PostingVoided {
		t.Fatalf("void of an unknown key: %+v %v", res, err)
	}
}

// A 403 storm (the region grant revoked) is a configuration fault on every
// call, never a rejection.
func TestForbiddenIsAConfigurationFault(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	p := person("张欠费", "110101199003074514")
	ps := postingFor(t, "T20250615000F01", p, mustProfile(t, h, p))
	h.sim.SetForbid(true)
	for _, call := range []func() error{
		func() error { _, err := h.client.PostPayment(ctx, ps); return err },
		func() error { _, err := h.client.QueryPosting(ctx, testRegion, ps.IdempotencyKey); return err },
		func() error { _, err := h.client.VoidPosting(ctx, testRegion, ps.IdempotencyKey); return err },
	} {
		err := call()
		if !service.IsConfigFault(err) || service.IsPermanent(err) {
			t.Fatalf("err = %v, want a configuration fault and no rejection", err)
		}
	}
}
