package service

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"github.com/shebao/sipay/evidence"
)

// Tamper-evident payment evidence (存证): an append-only log with one record
// per posted batch, kept as an RFC 6962 Merkle tree in the database (every
// perfect subtree's hash, leaves included, in evidence_nodes), with signed
// tree heads. The wire format and the offline check live in package
// evidence; hashing and proofs are github.com/transparency-dev/merkle.

// EvidenceEntry is one stored record of the log.
type EvidenceEntry struct {
	LeafIndex  uint64
	OutTradeNo string
	OrderNo    string
	Body       []byte // canonical evidence.Record, the leaf's data
	CreatedAt  time.Time
}

// EvidenceNode is the hash of one perfect subtree of the log (level 0: a
// leaf).
type EvidenceNode struct {
	ID   compact.NodeID
	Hash []byte
}

// EvidenceStore persists the log. The database carries exactly-once: the
// leaf index and the batch are each unique, and an entry is written with
// its nodes in one transaction.
type EvidenceStore interface {
	// EvidenceSize returns the number of entries (the next leaf index).
	EvidenceSize(ctx context.Context) (uint64, error)
	// EvidenceNodes returns the hashes of ids, in order; ErrNotFound when
	// one is missing.
	EvidenceNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error)
	// AppendEvidence inserts e at e.LeafIndex and the nodes in one
	// transaction; ErrDuplicate when the index or the batch is taken.
	AppendEvidence(ctx context.Context, e *EvidenceEntry, nodes []EvidenceNode) error
	// FindEvidence returns a batch's entry or ErrNotFound.
	FindEvidence(ctx context.Context, outTradeNo string) (*EvidenceEntry, error)
	// ListEvidence returns up to limit entries from leaf index from on, in
	// index order.
	ListEvidence(ctx context.Context, from uint64, limit int) ([]EvidenceEntry, error)
	// PendingEvidence lists posted batches without an entry, oldest first;
	// with since set, only batches updated at or after it.
	PendingEvidence(ctx context.Context, since time.Time, limit int) ([]string, error)
	// SaveTreeHead stores a signed head, or returns the one already stored
	// for its size (one head per size).
	SaveTreeHead(ctx context.Context, h *evidence.TreeHead) (*evidence.TreeHead, error)
	// LatestTreeHead returns the head of the largest size or ErrNotFound.
	LatestTreeHead(ctx context.Context) (*evidence.TreeHead, error)
}

// EvidenceDeps are the dependencies of an EvidenceService.
type EvidenceDeps struct {
	Store    EvidenceStore
	Orders   OrderStore
	Postings PostingStore
	Vouchers VoucherStore
	Codes    *VoucherService // resolves voucher codes
	Key      ed25519.PrivateKey
	Clock    Clock
	Audit    AuditStore // optional: audits heads signed at an operator's request
}

// EvidenceService appends posted batches to the evidence log, signs tree
// heads and serves inclusion proofs.
type EvidenceService struct {
	d EvidenceDeps
	f compact.RangeFactory
}

// NewEvidenceService returns an EvidenceService; it panics on missing
// dependencies.
func NewEvidenceService(d EvidenceDeps) *EvidenceService {
	if d.Store == nil || d.Orders == nil || d.Postings == nil || d.Vouchers == nil || d.Codes == nil ||
		len(d.Key) != ed25519.PrivateKeySize || d.Clock == nil {
		panic("service: NewEvidenceService: missing dependency")
	}
	return &EvidenceService{d: d, f: compact.RangeFactory{Hash: evidence.Hasher.HashChildren}}
}

// PublicKey is the key tree heads verify with.
func (s *EvidenceService) PublicKey() ed25519.PublicKey { return s.d.Key.Public().(ed25519.PublicKey) }

// errEvidenceNotReady: the batch is not posted, or its vouchers are not
// issued yet; the next run tries again.
var errEvidenceNotReady = errors.New("evidence: batch not ready")

// record builds the evidence record of a posted batch.
func (s *EvidenceService) record(ctx context.Context, outTradeNo string) (*Order, []byte, error) {
	o, b, err := findBatch(ctx, s.d.Orders, outTradeNo)
	if err != nil {
		return nil, nil, err
	}
	if b.Status != StatusPosted {
		return nil, nil, errEvidenceNotReady
	}
	p, err := s.d.Postings.FindPosting(ctx, outTradeNo)
	if err != nil {
		return nil, nil, err
	}
	vs, err := s.d.Vouchers.FindVouchers(ctx, o.No)
	if err != nil {
		return nil, nil, err
	}
	r := evidence.Record{Version: evidence.RecordVersion, OutTradeNo: b.OutTradeNo, OrderNo: o.No, Region: o.Region,
		FromMonth: b.FromMonth, ToMonth: b.ToMonth, AmountFen: int64(b.AmountFen), TransactionID: b.TransactionID,
		PaidAt: b.PaidAt, PlatformReference: p.Reference, RecordedAt: s.d.Clock.Now(), Vouchers: []evidence.Voucher{}}
	have := map[VoucherKind]bool{}
	for _, v := range vs {
		if v.OutTradeNo != outTradeNo {
			continue
		}
		content, err := MarshalVoucherContent(v.Content)
		if err != nil {
			return nil, nil, err
		}
		have[v.Kind] = true
		r.Vouchers = append(r.Vouchers, evidence.Voucher{ID: v.ID, Kind: string(v.Kind), AmountFen: int64(v.AmountFen), IssuedAt: v.IssuedAt,
			SHA256: evidence.VoucherHash(v.ID, string(v.Kind), int64(v.AmountFen), v.IssuedAt, []byte(content))})
	}
	// The acceptance and transaction vouchers are always issued on posting
	// (the fiscal one may be withheld on a mismatch): until both exist the
	// posting is still finishing.
	if !have[VoucherAcceptance] || !have[VoucherTransaction] {
		return nil, nil, errEvidenceNotReady
	}
	body, err := r.Canonical()
	return o, body, err
}

// Append adds the evidence of a posted batch to the log, once: a repeat, or
// another instance appending the same batch, returns the stored entry.
func (s *EvidenceService) Append(ctx context.Context, outTradeNo string) (*EvidenceEntry, error) {
	if e, err := s.d.Store.FindEvidence(ctx, outTradeNo); err == nil {
		return e, nil
	} else if !isNotFound(err) {
		return nil, err
	}
	o, body, err := s.record(ctx, outTradeNo)
	if err != nil {
		return nil, err
	}
	leaf := evidence.LeafHash(body)
	for attempt := 0; attempt < 20; attempt++ {
		size, err := s.d.Store.EvidenceSize(ctx)
		if err != nil {
			return nil, err
		}
		r, err := s.rangeAt(ctx, size)
		if err != nil {
			return nil, err
		}
		var nodes []EvidenceNode
		if err := r.Append(leaf, func(id compact.NodeID, h []byte) {
			nodes = append(nodes, EvidenceNode{ID: id, Hash: append([]byte(nil), h...)})
		}); err != nil {
			return nil, fmt.Errorf("evidence: append: %w", err)
		}
		e := &EvidenceEntry{LeafIndex: size, OutTradeNo: outTradeNo, OrderNo: o.No, Body: body, CreatedAt: s.d.Clock.Now()}
		err = s.d.Store.AppendEvidence(ctx, e, nodes)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, ErrDuplicate) {
			return nil, err
		}
		// Another instance took this index (try the next one) or appended
		// this very batch (done).
		if prev, ferr := s.d.Store.FindEvidence(ctx, outTradeNo); ferr == nil {
			return prev, nil
		}
	}
	return nil, fmt.Errorf("evidence: append %s: %w", outTradeNo, ErrStale)
}

// rangeAt returns the compact range [0, size) from the stored nodes.
func (s *EvidenceService) rangeAt(ctx context.Context, size uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := s.d.Store.EvidenceNodes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("evidence: nodes of [0, %d): %w", size, err)
	}
	return s.f.NewRange(0, size, hashes)
}

// root returns the root hash of the tree of size leaves.
func (s *EvidenceService) root(ctx context.Context, size uint64) ([]byte, error) {
	if size == 0 {
		return evidence.Hasher.EmptyRoot(), nil
	}
	r, err := s.rangeAt(ctx, size)
	if err != nil {
		return nil, err
	}
	return r.GetRootHash(nil)
}

// EvidenceRecent is how far back RunOnce looks for posted batches; CatchUp
// looks at all of them.
const EvidenceRecent = 24 * time.Hour

// RunOnce appends the batches posted in the last EvidenceRecent that are not
// in the log yet (an indexed query, for a worker every few seconds); it
// returns how many it appended. Safe on several instances.
func (s *EvidenceService) RunOnce(ctx context.Context) (int, error) {
	return s.appendPending(ctx, s.d.Clock.Now().Add(-EvidenceRecent))
}

// CatchUp appends every posted batch not in the log yet, however old (after
// downtime, a clock jump, or for batches posted before the log existed).
func (s *EvidenceService) CatchUp(ctx context.Context) (int, error) {
	return s.appendPending(ctx, time.Time{})
}

func (s *EvidenceService) appendPending(ctx context.Context, since time.Time) (int, error) {
	n := 0
	for {
		outs, err := s.d.Store.PendingEvidence(ctx, since, 100)
		if err != nil {
			return n, err
		}
		added := 0
		for _, otn := range outs {
			if _, err := s.Append(ctx, otn); errors.Is(err, errEvidenceNotReady) {
				continue
			} else if err != nil {
				return n, err
			}
			added++
		}
		n += added
		if len(outs) < 100 || added == 0 {
			return n, nil
		}
	}
}

// PublishTreeHead signs a head for the log's current size, or returns the
// head already signed for that size.
func (s *EvidenceService) PublishTreeHead(ctx context.Context) (*evidence.TreeHead, error) {
	size, err := s.d.Store.EvidenceSize(ctx)
	if err != nil {
		return nil, err
	}
	if h, err := s.d.Store.LatestTreeHead(ctx); err == nil && h.Size == size {
		return h, nil
	} else if err != nil && !isNotFound(err) {
		return nil, err
	}
	root, err := s.root(ctx, size)
	if err != nil {
		return nil, err
	}
	h := &evidence.TreeHead{Size: size, RootHash: root, Timestamp: s.d.Clock.Now()}
	evidence.Sign(h, s.d.Key)
	return s.d.Store.SaveTreeHead(ctx, h)
}

// PublishTreeHeadFor signs a head now at an operator's request (actor), as
// PublishTreeHead, and writes the audit log.
func (s *EvidenceService) PublishTreeHeadFor(ctx context.Context, actor string) (*evidence.TreeHead, error) {
	h, err := s.PublishTreeHead(ctx)
	if err != nil || s.d.Audit == nil {
		return h, err
	}
	after := fmt.Sprintf(`{"tree_size":%d,"timestamp":%q}`, h.Size, h.Timestamp.UTC().Format(time.RFC3339))
	return h, s.d.Audit.WriteAudit(ctx, AuditEntry{Actor: actor, Action: "publish_tree_head", Target: "evidence-log", After: after, CreatedAt: s.d.Clock.Now()})
}

// PublishDaily signs a head once per Asia/Shanghai day when the log has
// grown since the last one; it returns the head signed, or nil.
func (s *EvidenceService) PublishDaily(ctx context.Context) (*evidence.TreeHead, error) {
	size, err := s.d.Store.EvidenceSize(ctx)
	if err != nil {
		return nil, err
	}
	h, err := s.d.Store.LatestTreeHead(ctx)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	if h != nil && (h.Size == size || Day(h.Timestamp) == Day(s.d.Clock.Now())) {
		return nil, nil
	}
	return s.PublishTreeHead(ctx)
}

// ErrEvidenceNotFound answers a voucher whose batch has no evidence yet
// (being recorded, in a minute or two).
var ErrEvidenceNotFound = &Error{Kind: KindNotFound, Code: "evidence_not_found", Message: "该凭证的存证记录尚未生成，请稍后再试"}

// Bundle returns the evidence of the batch a voucher code names, with its
// inclusion proof in a signed tree head; a head covering the record is
// signed on demand. The code's signature is checked and the order must be
// the user's (another user's is not found). The proof is checked before
// it is returned. With since > 0 (a tree size the caller saw before) the
// bundle carries the consistency proof from that size to the head. Errors:
// voucher_invalid, not_found, evidence_not_found, invalid_since.
func (s *EvidenceService) Bundle(ctx context.Context, userID int64, code string, since uint64) (*evidence.Bundle, error) {
	v, err := s.d.Codes.Resolve(ctx, code)
	if err != nil {
		return nil, err
	}
	if _, err := findUserOrder(ctx, s.d.Orders, userID, v.OrderNo, "凭证不存在"); err != nil {
		return nil, err
	}
	e, err := s.d.Store.FindEvidence(ctx, v.OutTradeNo)
	if isNotFound(err) {
		return nil, ErrEvidenceNotFound
	}
	if err != nil {
		return nil, err
	}
	h, err := s.d.Store.LatestTreeHead(ctx)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	if h == nil || h.Size <= e.LeafIndex {
		if h, err = s.PublishTreeHead(ctx); err != nil {
			return nil, err
		}
	}
	nodes, err := proof.Inclusion(e.LeafIndex, h.Size)
	if err != nil {
		return nil, err
	}
	path, err := s.proofPath(ctx, nodes)
	if err != nil {
		return nil, err
	}
	leaf, err := s.d.Store.EvidenceNodes(ctx, []compact.NodeID{compact.NewNodeID(0, e.LeafIndex)})
	if err != nil {
		return nil, err
	}
	b := &evidence.Bundle{Record: e.Body, LeafIndex: e.LeafIndex, LeafHash: leaf[0], Proof: path, TreeHead: *h, PublicKey: s.PublicKey()}
	if since > 0 {
		if since > h.Size {
			return nil, Invalid("invalid_since", fmt.Sprintf("since 不能大于当前树大小 %d", h.Size),
				FieldError{Field: "since", Code: "range", Message: fmt.Sprintf("want 1 to %d", h.Size)})
		}
		cn, err := proof.Consistency(since, h.Size)
		if err != nil {
			return nil, err
		}
		cp, err := s.proofPath(ctx, cn)
		if err != nil {
			return nil, err
		}
		b.Consistency = &evidence.Consistency{FromSize: since, Proof: cp}
	}
	if _, err := evidence.Verify(*b, s.PublicKey()); err != nil {
		// What we would hand out does not verify: the stored log was
		// altered. Never serve it; operations must look.
		if aerr := s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertEvidenceTampered, Ref: v.OutTradeNo,
			Detail: "evidence of this batch does not verify: " + ErrorText(err, 300)}); aerr != nil {
			return nil, aerr
		}
		return nil, &Error{Kind: KindUnavailable, Code: "evidence_unavailable", Message: "存证记录暂时无法验证，已通知运营人员核查", RetryAfter: time.Hour, Err: err}
	}
	return b, nil
}

// proofPath reads the stored nodes a proof needs and hashes them into the
// proof's path.
func (s *EvidenceService) proofPath(ctx context.Context, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := s.d.Store.EvidenceNodes(ctx, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, evidence.Hasher.HashChildren)
}

// EvidenceAudit is the result of checking the whole log.
type EvidenceAudit struct {
	Size     uint64 // entries read
	HeadSize uint64 // size of the latest signed head (0: none)
	Problems []string
}

// Audit re-reads every entry, recomputes its leaf hash and the tree, and
// compares them with the stored nodes and the latest signed head: an
// altered, dropped or inserted record, or an altered node, is a problem.
// Problems raise one evidence_tampered alert.
func (s *EvidenceService) Audit(ctx context.Context) (*EvidenceAudit, error) {
	a := &EvidenceAudit{}
	h, err := s.d.Store.LatestTreeHead(ctx)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	if h != nil {
		a.HeadSize = h.Size
		if err := evidence.VerifyHead(*h, s.PublicKey()); err != nil {
			a.Problems = append(a.Problems, err.Error())
		}
	}
	stored, err := s.d.Store.EvidenceSize(ctx)
	if err != nil {
		return nil, err
	}
	r := s.f.NewEmptyRange(0)
	for next := uint64(0); ; {
		es, err := s.d.Store.ListEvidence(ctx, next, 500)
		if err != nil {
			return nil, err
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if e.LeafIndex != next {
				a.Problems = append(a.Problems, fmt.Sprintf("leaf %d is missing", next))
				next = e.LeafIndex // carry on from what is there
			}
			_, canon, perr := evidence.ParseRecord(e.Body)
			if perr != nil {
				a.Problems = append(a.Problems, fmt.Sprintf("leaf %d (%s): %v", e.LeafIndex, e.OutTradeNo, perr))
				canon = e.Body
			} else if !bytes.Equal(canon, e.Body) {
				a.Problems = append(a.Problems, fmt.Sprintf("leaf %d (%s) is not canonical", e.LeafIndex, e.OutTradeNo))
			}
			var mismatch bool
			if err := r.Append(evidence.LeafHash(canon), func(id compact.NodeID, hash []byte) {
				got, nerr := s.d.Store.EvidenceNodes(ctx, []compact.NodeID{id})
				if nerr != nil || !bytes.Equal(got[0], hash) {
					mismatch = true
				}
			}); err != nil {
				return nil, err
			}
			if mismatch {
				a.Problems = append(a.Problems, fmt.Sprintf("leaf %d (%s): record or tree nodes altered", e.LeafIndex, e.OutTradeNo))
			}
			next++
			a.Size++
			if h != nil && next == h.Size {
				root, err := r.GetRootHash(nil)
				if err != nil {
					return nil, err
				}
				if !bytes.Equal(root, h.RootHash) {
					a.Problems = append(a.Problems, fmt.Sprintf("the tree of the first %d records does not have the signed root", h.Size))
				}
			}
		}
	}
	if a.Size != stored || (h != nil && a.Size < h.Size) {
		a.Problems = append(a.Problems, fmt.Sprintf("%d records readable, log size %d, signed head size %d", a.Size, stored, a.HeadSize))
	}
	if len(a.Problems) > 0 {
		detail := fmt.Sprintf("%d problem(s); first: %s", len(a.Problems), a.Problems[0])
		if err := s.d.Orders.RecordAlert(ctx, Alert{Kind: AlertEvidenceTampered, Ref: "evidence-log", Detail: ErrorText(errors.New(detail), 500)}); err != nil {
			return a, err
		}
	}
	return a, nil
}
