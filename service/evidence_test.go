package service_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shebao/sipay/evidence"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// testEvidenceKey is a fixed Ed25519 key (seed 0x07…).
var testEvidenceKey = ed25519.NewKeyFromSeed([]byte(strings.Repeat("\x07", ed25519.SeedSize)))

func (h *harness) evidenceService() *service.EvidenceService {
	return service.NewEvidenceService(service.EvidenceDeps{Store: model.NewEvidenceStore(h.db), Orders: h.orders, Postings: h.store,
		Vouchers: h.store, Codes: h.vouchers, Key: testEvidenceKey, Clock: h.clock})
}

// postedBatches pays n one-batch orders of user uid and posts them.
func (h *harness) postedBatches(uid int64, first, n int) []string {
	h.t.Helper()
	var outs []string
	for i := 0; i < n; i++ {
		outs = append(outs, h.paid(orderNo(first+i), uid, 11, service.Fen(10000+i)))
	}
	h.run()
	for _, otn := range outs {
		h.wantStatus(otn, service.StatusPosted)
	}
	return outs
}

// codeOf returns the verification code of a batch's voucher of kind k.
func (h *harness) codeOf(uid int64, otn string, k service.VoucherKind) string {
	h.t.Helper()
	no, _, _ := service.SplitOutTradeNo(otn)
	vs, err := h.vouchers.ListForUser(context.Background(), uid, no)
	if err != nil {
		h.t.Fatalf("vouchers: %v", err)
	}
	for _, v := range vs {
		if v.Kind == k {
			return v.Code
		}
	}
	h.t.Fatalf("no %s voucher for %s", k, otn)
	return ""
}

func TestEvidenceLogRecordsEveryPostedBatchOnceAndItsProofVerifiesOffline(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("ev1", 11)
		outs := h.postedBatches(uid, 100, 5)
		// Two instances append at once (truly concurrently on MySQL; one
		// after the other on SQLite): each batch is recorded once, the leaf
		// indexes are 0..4 without a gap.
		a, b := h.evidenceService(), h.evidenceService()
		var wg sync.WaitGroup
		var na, nb int
		var ea, eb error
		if h.db.Dialect == model.MySQL {
			wg.Add(2)
			go func() { defer wg.Done(); na, ea = a.RunOnce(ctx) }()
			go func() { defer wg.Done(); nb, eb = b.RunOnce(ctx) }()
			wg.Wait()
		} else {
			na, ea = a.RunOnce(ctx)
			nb, eb = b.RunOnce(ctx)
		}
		if ea != nil || eb != nil {
			t.Fatalf("run: %v, %v", ea, eb)
		}
		if na+nb < 5 {
			t.Fatalf("appended %d+%d, want at least 5 (each batch once; a repeat returns the stored entry)", na, nb)
		}
		if n, err := a.RunOnce(ctx); err != nil || n != 0 {
			t.Fatalf("third run: got %d, %v; want 0 (nothing pending)", n, err)
		}
		store := model.NewEvidenceStore(h.db)
		if size, err := store.EvidenceSize(ctx); err != nil || size != 5 {
			t.Fatalf("log size: got %d, %v; want 5", size, err)
		}
		seen := map[uint64]string{}
		for _, otn := range outs {
			e, err := store.FindEvidence(ctx, otn)
			if err != nil {
				t.Fatalf("find %s: %v", otn, err)
			}
			if prev, dup := seen[e.LeafIndex]; dup {
				t.Fatalf("leaf %d holds %s and %s", e.LeafIndex, prev, otn)
			}
			seen[e.LeafIndex] = otn
		}

		h.clock.Advance(time.Minute)
		for i, otn := range outs {
			bundle, err := a.Bundle(ctx, uid, h.codeOf(uid, otn, service.VoucherAcceptance), 0)
			if err != nil {
				t.Fatalf("bundle %s: %v", otn, err)
			}
			// The head was signed on demand at the first request; it covers
			// all 5 records.
			if bundle.TreeHead.Size != 5 {
				t.Fatalf("tree head size: got %d, want 5", bundle.TreeHead.Size)
			}
			// Offline: only the bundle's bytes and the pinned public key.
			raw, _ := json.Marshal(bundle)
			var got evidence.Bundle
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			r, err := evidence.Verify(got, testEvidenceKey.Public().(ed25519.PublicKey))
			if err != nil {
				t.Fatalf("verify %s: %v", otn, err)
			}
			if r.OutTradeNo != otn || r.AmountFen != int64(10000+i) || r.TransactionID != "4200"+orderNo(100+i) ||
				r.PlatformReference != "REF-"+otn || len(r.Vouchers) != 3 {
				t.Fatalf("record: got %+v, want batch %s of %d fen, its transaction, reference and 3 vouchers", r, otn, 10000+i)
			}
			// A record altered after it left us does not verify.
			forged := got
			forged.Record = []byte(strings.Replace(string(got.Record), `"amount_fen":`+itoa(10000+i), `"amount_fen":1`, 1))
			if _, err := evidence.Verify(forged, testEvidenceKey.Public().(ed25519.PublicKey)); err == nil {
				t.Fatalf("a record with its amount changed verified")
			}
			// Another key does not verify the head.
			other := ed25519.NewKeyFromSeed([]byte(strings.Repeat("\x08", 32)))
			if _, err := evidence.Verify(got, other.Public().(ed25519.PublicKey)); err == nil {
				t.Fatalf("the head verified under another key")
			}
		}
		// Another user holding the code gets not found.
		stranger := h.user("ev2", 12)
		if _, err := a.Bundle(ctx, stranger, h.codeOf(uid, outs[0], service.VoucherFiscal), 0); service.ErrorCode(err) != service.CodeNotFound {
			t.Fatalf("stranger: got %v, want not_found", err)
		}
		if _, err := a.Bundle(ctx, uid, "1.F.100.20260302.AAAAAAAAAAAAAAAAAAAAAA", 0); service.ErrorCode(err) != "voucher_invalid" {
			t.Fatalf("forged code: got %v, want voucher_invalid", err)
		}
		if au, err := a.Audit(ctx); err != nil || len(au.Problems) != 0 || au.Size != 5 || au.HeadSize != 5 {
			t.Fatalf("audit of an intact log: got %+v, %v; want 5 records, head 5, no problems", au, err)
		}
		if len(h.alerts(service.AlertEvidenceTampered)) != 0 {
			t.Fatalf("an intact log raised evidence_tampered")
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestEvidenceAlteringOrDroppingAnyStoredRecordBreaksVerification(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("ev1", 11)
		outs := h.postedBatches(uid, 200, 4)
		ev := h.evidenceService()
		if _, err := ev.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ev.PublishTreeHead(ctx); err != nil {
			t.Fatal(err)
		}
		for k, otn := range outs {
			// Alter record k: one fen more.
			var body string
			if err := h.db.Raw("SELECT body FROM evidence_records WHERE out_trade_no = ?", otn).Scan(&body).Error; err != nil {
				t.Fatal(err)
			}
			altered := strings.Replace(body, `"amount_fen":`+itoa(10000+k), `"amount_fen":`+itoa(10001+k), 1)
			if altered == body {
				t.Fatalf("test did not alter record %d", k)
			}
			if err := h.db.Exec("UPDATE evidence_records SET body = ? WHERE out_trade_no = ?", altered, otn).Error; err != nil {
				t.Fatal(err)
			}
			if _, err := ev.Bundle(ctx, uid, h.codeOf(uid, otn, service.VoucherTransaction), 0); service.ErrorCode(err) != "evidence_unavailable" {
				t.Fatalf("bundle of altered record %d: got %v, want evidence_unavailable", k, err)
			}
			if au, err := ev.Audit(ctx); err != nil || len(au.Problems) == 0 {
				t.Fatalf("audit with record %d altered: got %+v, %v; want a problem", k, au, err)
			}
			if err := h.db.Exec("UPDATE evidence_records SET body = ? WHERE out_trade_no = ?", body, otn).Error; err != nil {
				t.Fatal(err)
			}

			// Drop record k.
			var row map[string]any
			if err := h.db.Raw("SELECT leaf_index, order_no, created_at FROM evidence_records WHERE out_trade_no = ?", otn).Scan(&row).Error; err != nil {
				t.Fatal(err)
			}
			if err := h.db.Exec("DELETE FROM evidence_records WHERE out_trade_no = ?", otn).Error; err != nil {
				t.Fatal(err)
			}
			if au, err := ev.Audit(ctx); err != nil || len(au.Problems) == 0 {
				t.Fatalf("audit with record %d dropped: got %+v, %v; want a problem", k, au, err)
			}
			if err := h.db.Exec("INSERT INTO evidence_records (leaf_index, out_trade_no, order_no, body, created_at) VALUES (?, ?, ?, ?, ?)",
				row["leaf_index"], otn, row["order_no"], body, h.clock.Now().UTC()).Error; err != nil {
				t.Fatal(err)
			}
			if au, err := ev.Audit(ctx); err != nil || len(au.Problems) != 0 {
				t.Fatalf("audit after restoring record %d: got %+v, %v; want no problem", k, au, err)
			}
		}
		// Altering a stored tree node breaks the proofs that use it.
		if err := h.db.Exec("UPDATE evidence_nodes SET hash = ? WHERE level = 1 AND node_index = 0", make([]byte, 32)).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := ev.Bundle(ctx, uid, h.codeOf(uid, outs[3], service.VoucherTransaction), 0); service.ErrorCode(err) != "evidence_unavailable" {
			t.Fatalf("bundle with an altered node: got %v, want evidence_unavailable", err)
		}
		if au, err := ev.Audit(ctx); err != nil || len(au.Problems) == 0 {
			t.Fatalf("audit with an altered node: got %+v, %v; want a problem", au, err)
		}
		if as := h.alerts(service.AlertEvidenceTampered); len(as) == 0 {
			t.Fatalf("tampering raised no evidence_tampered alert")
		}
	})
}

func TestEvidenceTreeHeadIsPublishedOncePerDayWhenTheLogGrew(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("ev1", 11)
		h.postedBatches(uid, 300, 2)
		ev := h.evidenceService()
		if _, err := ev.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		first, err := ev.PublishDaily(ctx)
		if err != nil || first == nil || first.Size != 2 {
			t.Fatalf("first daily head: got %+v, %v; want size 2", first, err)
		}
		if err := evidence.VerifyHead(*first, ev.PublicKey()); err != nil {
			t.Fatalf("head: %v", err)
		}
		h.postedBatches(uid, 310, 1)
		if _, err := ev.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if again, err := ev.PublishDaily(ctx); err != nil || again != nil {
			t.Fatalf("same Shanghai day: got %+v, %v; want no new head", again, err)
		}
		h.clock.Advance(24 * time.Hour)
		next, err := ev.PublishDaily(ctx)
		if err != nil || next == nil || next.Size != 3 {
			t.Fatalf("next day: got %+v, %v; want a head of size 3", next, err)
		}
		h.clock.Advance(24 * time.Hour)
		if idle, err := ev.PublishDaily(ctx); err != nil || idle != nil {
			t.Fatalf("a day without growth: got %+v, %v; want none", idle, err)
		}
		// On demand for an unchanged size returns the stored head.
		if same, err := ev.PublishTreeHead(ctx); err != nil || same.Size != 3 || !same.Timestamp.Equal(next.Timestamp) {
			t.Fatalf("on demand: got %+v, %v; want the stored head of size 3", same, err)
		}
	})
}

func TestEvidenceWorkerLooksBackADayAndCatchUpRecordsOlderBatches(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		uid := h.user("ev1", 11)
		old := h.postedBatches(uid, 400, 1)[0]
		h.clock.Advance(service.EvidenceRecent + time.Minute) // e.g. the log was off, or a clock jump
		recent := h.postedBatches(uid, 410, 1)[0]
		ev := h.evidenceService()
		if n, err := ev.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("run: got %d, %v; want 1 (the recent batch)", n, err)
		}
		store := model.NewEvidenceStore(h.db)
		if _, err := store.FindEvidence(ctx, recent); err != nil {
			t.Fatalf("recent batch: %v", err)
		}
		if n, err := ev.CatchUp(ctx); err != nil || n != 1 {
			t.Fatalf("catch-up: got %d, %v; want 1 (the older batch)", n, err)
		}
		if e, err := store.FindEvidence(ctx, old); err != nil || e.LeafIndex != 1 {
			t.Fatalf("older batch: got %+v, %v; want leaf 1", e, err)
		}
		if n, err := ev.CatchUp(ctx); err != nil || n != 0 {
			t.Fatalf("second catch-up: got %d, %v; want 0", n, err)
		}
	})
}

func TestEvidenceConsistencyProofShowsTheLogOnlyGrewAndCatchesARewrittenLog(t *testing.T) {
	each(t, noHolds(), func(t *testing.T, h *harness) {
		ctx := context.Background()
		pub := testEvidenceKey.Public().(ed25519.PublicKey)
		uid := h.user("ev1", 11)
		outs := h.postedBatches(uid, 500, 3)
		ev := h.evidenceService()
		if _, err := ev.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		// A verifier keeps the head it saw with its first bundle (size 3).
		first, err := ev.Bundle(ctx, uid, h.codeOf(uid, outs[0], service.VoucherTransaction), 0)
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Hour)
		outs = append(outs, h.postedBatches(uid, 510, 2)...)
		if _, err := ev.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ev.PublishTreeHead(ctx); err != nil {
			t.Fatal(err)
		}
		later, err := ev.Bundle(ctx, uid, h.codeOf(uid, outs[4], service.VoucherTransaction), first.TreeHead.Size)
		if err != nil {
			t.Fatal(err)
		}
		if later.TreeHead.Size != 5 || later.Consistency == nil || later.Consistency.FromSize != 3 {
			t.Fatalf("later bundle: head %d, consistency %+v; want 5 from 3", later.TreeHead.Size, later.Consistency)
		}
		if err := evidence.VerifyConsistency(first.TreeHead, later.TreeHead, later.Consistency.Proof, pub); err != nil {
			t.Fatalf("the log only grew, yet: %v", err)
		}
		if _, err := ev.Bundle(ctx, uid, h.codeOf(uid, outs[4], service.VoucherTransaction), 6); service.ErrorCode(err) != "invalid_since" {
			t.Fatalf("since beyond the head: got %v, want invalid_since", err)
		}

		// The operator drops record 1 and rebuilds the whole log, signing
		// new heads with the same key: every new bundle verifies on its own,
		// but not as an extension of the head the verifier kept.
		for _, tbl := range []string{"evidence_records", "evidence_nodes", "evidence_tree_heads"} {
			if err := h.db.Exec("DELETE FROM " + tbl).Error; err != nil {
				t.Fatal(err)
			}
		}
		for i, otn := range outs {
			if i == 1 {
				continue
			}
			if _, err := ev.Append(ctx, otn); err != nil {
				t.Fatal(err)
			}
		}
		rewritten, err := ev.Bundle(ctx, uid, h.codeOf(uid, outs[4], service.VoucherTransaction), first.TreeHead.Size)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := evidence.Verify(*rewritten, pub); err != nil {
			t.Fatalf("the rewritten log's own bundle: %v (it should verify on its own)", err)
		}
		if err := evidence.VerifyConsistency(first.TreeHead, rewritten.TreeHead, rewritten.Consistency.Proof, pub); err == nil {
			t.Fatalf("a log rebuilt without record 1 passed as an extension of the head the verifier kept")
		}
	})
}
