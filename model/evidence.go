package model

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"gorm.io/gorm"

	"github.com/shebao/sipay/evidence"
	"github.com/shebao/sipay/service"
)

type evidenceRecordRow struct {
	ID         int64 `gorm:"primaryKey"`
	LeafIndex  int64
	OutTradeNo string
	OrderNo    string
	Body       string
	CreatedAt  time.Time
}

func (evidenceRecordRow) TableName() string { return "evidence_records" }

type evidenceNodeRow struct {
	Level     int
	NodeIndex int64
	Hash      []byte
}

func (evidenceNodeRow) TableName() string { return "evidence_nodes" }

type evidenceHeadRow struct {
	ID        int64 `gorm:"primaryKey"`
	TreeSize  int64
	RootHash  []byte
	SignedAt  time.Time
	KeyID     string
	Signature []byte
}

func (evidenceHeadRow) TableName() string { return "evidence_tree_heads" }

// EvidenceStore implements service.EvidenceStore.
type EvidenceStore struct{ db *DB }

// NewEvidenceStore returns an EvidenceStore.
func NewEvidenceStore(db *DB) *EvidenceStore { return &EvidenceStore{db: db} }

func toEvidenceEntry(r *evidenceRecordRow) service.EvidenceEntry {
	return service.EvidenceEntry{LeafIndex: uint64(r.LeafIndex), OutTradeNo: r.OutTradeNo, OrderNo: r.OrderNo,
		Body: []byte(r.Body), CreatedAt: r.CreatedAt.UTC()}
}

// EvidenceSize returns the highest leaf index plus one (0 when empty).
func (s *EvidenceStore) EvidenceSize(ctx context.Context) (uint64, error) {
	var n sql.NullInt64
	if err := s.db.WithContext(ctx).Model(&evidenceRecordRow{}).Select("MAX(leaf_index)").Scan(&n).Error; err != nil {
		return 0, storeErr("evidence size", err)
	}
	if !n.Valid {
		return 0, nil
	}
	return uint64(n.Int64) + 1, nil
}

// EvidenceNodes returns the hashes of ids in order.
func (s *EvidenceStore) EvidenceNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	q := s.db.WithContext(ctx).Model(&evidenceNodeRow{})
	cond := s.db.WithContext(ctx)
	for i, id := range ids {
		if i == 0 {
			cond = cond.Where("level = ? AND node_index = ?", id.Level, id.Index)
		} else {
			cond = cond.Or("level = ? AND node_index = ?", id.Level, id.Index)
		}
	}
	var rows []evidenceNodeRow
	if err := q.Where(cond).Find(&rows).Error; err != nil {
		return nil, storeErr("evidence nodes", err)
	}
	got := make(map[compact.NodeID][]byte, len(rows))
	for _, r := range rows {
		got[compact.NewNodeID(uint(r.Level), uint64(r.NodeIndex))] = r.Hash
	}
	for i, id := range ids {
		h, ok := got[id]
		if !ok {
			return nil, fmt.Errorf("evidence node (%d, %d): %w", id.Level, id.Index, service.ErrNotFound)
		}
		out[i] = h
	}
	return out, nil
}

// AppendEvidence writes the entry and its nodes in one transaction.
func (s *EvidenceStore) AppendEvidence(ctx context.Context, e *service.EvidenceEntry, nodes []service.EvidenceNode) error {
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		row := evidenceRecordRow{LeafIndex: int64(e.LeafIndex), OutTradeNo: e.OutTradeNo, OrderNo: e.OrderNo, Body: string(e.Body),
			CreatedAt: e.CreatedAt.UTC()}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		rows := make([]evidenceNodeRow, len(nodes))
		for i, n := range nodes {
			rows[i] = evidenceNodeRow{Level: int(n.ID.Level), NodeIndex: int64(n.ID.Index), Hash: n.Hash}
		}
		if len(rows) == 0 {
			return nil
		}
		return tx.Create(&rows).Error
	})
	return storeErr("append evidence", err)
}

// FindEvidence returns a batch's entry.
func (s *EvidenceStore) FindEvidence(ctx context.Context, outTradeNo string) (*service.EvidenceEntry, error) {
	return findOne(s.db.WithContext(ctx).Where("out_trade_no = ?", outTradeNo), "find evidence", toEvidenceEntry)
}

// ListEvidence returns entries from leaf index from on, in index order.
func (s *EvidenceStore) ListEvidence(ctx context.Context, from uint64, limit int) ([]service.EvidenceEntry, error) {
	return findAll(s.db.WithContext(ctx).Where("leaf_index >= ?", int64(from)).Order("leaf_index").Limit(limit), "list evidence", toEvidenceEntry)
}

// PendingEvidence lists posted batches without an entry, oldest first;
// with since set, only batches updated at or after it.
func (s *EvidenceStore) PendingEvidence(ctx context.Context, since time.Time, limit int) ([]string, error) {
	var outs []string
	q := s.db.WithContext(ctx).Table("batches AS b").
		Joins("LEFT JOIN evidence_records e ON e.out_trade_no = b.out_trade_no").
		Where("b.status = ? AND e.id IS NULL", string(service.StatusPosted))
	if !since.IsZero() {
		q = q.Where("b.updated_at >= ?", since.UTC())
	}
	err := q.Order("b.updated_at, b.id").Limit(limit).Pluck("b.out_trade_no", &outs).Error
	return outs, storeErr("pending evidence", err)
}

func toTreeHead(r *evidenceHeadRow) *evidence.TreeHead {
	return &evidence.TreeHead{Origin: evidence.Origin, Size: uint64(r.TreeSize), RootHash: r.RootHash, Timestamp: r.SignedAt.UTC(),
		KeyID: r.KeyID, Signature: r.Signature}
}

// SaveTreeHead stores h or returns the head already stored for its size.
func (s *EvidenceStore) SaveTreeHead(ctx context.Context, h *evidence.TreeHead) (*evidence.TreeHead, error) {
	row := evidenceHeadRow{TreeSize: int64(h.Size), RootHash: h.RootHash, SignedAt: h.Timestamp.UTC(), KeyID: h.KeyID, Signature: h.Signature}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil && !isDuplicate(err) {
		return nil, storeErr("save tree head", err)
	}
	var got evidenceHeadRow
	if err := s.db.WithContext(ctx).Where("tree_size = ?", int64(h.Size)).First(&got).Error; err != nil {
		return nil, storeErr("save tree head", err)
	}
	return toTreeHead(&got), nil
}

// LatestTreeHead returns the head of the largest size.
func (s *EvidenceStore) LatestTreeHead(ctx context.Context) (*evidence.TreeHead, error) {
	var row evidenceHeadRow
	if err := s.db.WithContext(ctx).Order("tree_size DESC").First(&row).Error; err != nil {
		return nil, storeErr("latest tree head", err)
	}
	return toTreeHead(&row), nil
}
