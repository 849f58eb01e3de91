package model_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/model/modeltest"
	"github.com/shebao/sipay/service"
)

// The database carries the log's exactly-once: a second entry at a taken
// leaf index, or a second entry for a batch, is refused, and the refused
// append writes none of its nodes (they share the entry's transaction).
func TestEvidenceAppendIsUniquePerLeafIndexAndBatchAndAtomicWithItsNodes(t *testing.T) {
	t1 := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	clock := service.NewManualClock(t1)
	modeltest.Each(t, clock, func(t *testing.T, db *model.DB) {
		ctx := context.Background()
		s := model.NewEvidenceStore(db)
		leaf := func(i uint64, b byte) []service.EvidenceNode {
			return []service.EvidenceNode{{ID: compact.NewNodeID(0, i), Hash: []byte{b, 1, 2, 3}}}
		}
		e0 := &service.EvidenceEntry{LeafIndex: 0, OutTradeNo: "SPA_01", OrderNo: "SPA", Body: []byte(`{"v":1}`), CreatedAt: t1}
		if err := s.AppendEvidence(ctx, e0, leaf(0, 1)); err != nil {
			t.Fatalf("append 0: %v", err)
		}
		// Another batch at index 0, with a parent node: refused, and the
		// parent node is not written.
		other := &service.EvidenceEntry{LeafIndex: 0, OutTradeNo: "SPB_01", OrderNo: "SPB", Body: []byte(`{"v":1}`), CreatedAt: t1}
		withParent := append(leaf(5, 9), service.EvidenceNode{ID: compact.NewNodeID(3, 0), Hash: []byte{9}})
		if err := s.AppendEvidence(ctx, other, withParent); !errors.Is(err, service.ErrDuplicate) {
			t.Fatalf("second entry at index 0: got %v, want ErrDuplicate", err)
		}
		if _, err := s.EvidenceNodes(ctx, []compact.NodeID{compact.NewNodeID(3, 0)}); !errors.Is(err, service.ErrNotFound) {
			t.Fatalf("node of the refused append: got %v, want not found", err)
		}
		// The same batch at index 1: refused.
		again := &service.EvidenceEntry{LeafIndex: 1, OutTradeNo: "SPA_01", OrderNo: "SPA", Body: []byte(`{"v":1}`), CreatedAt: t1}
		if err := s.AppendEvidence(ctx, again, leaf(1, 2)); !errors.Is(err, service.ErrDuplicate) {
			t.Fatalf("the same batch again: got %v, want ErrDuplicate", err)
		}
		if n, err := s.EvidenceSize(ctx); err != nil || n != 1 {
			t.Fatalf("size: got %d, %v; want 1", n, err)
		}
		got, err := s.EvidenceNodes(ctx, []compact.NodeID{compact.NewNodeID(0, 0)})
		if err != nil || len(got) != 1 || got[0][0] != 1 {
			t.Fatalf("leaf 0: got %v, %v; want the first append's hash", got, err)
		}
	})
}
