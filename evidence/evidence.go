// Package evidence is the wire format of the payment evidence log (存证):
// the record of one posted batch, its leaf hash, the signed tree head and
// the bundle GET /api/v1/evidence/{voucher_code} returns, with the offline
// check of a bundle. It imports only the standard library and
// github.com/transparency-dev/merkle (RFC 6962/9162 hashing and proofs), so
// the server, the service and cmd/evidence-verify share one definition.
//
// Hashing (RFC 6962 §2.1, RFC 9162 §2.1.1): leaf = SHA-256(0x00 || record),
// node = SHA-256(0x01 || left || right), where record is the canonical JSON
// of Record (Canonical). A tree head is signed with Ed25519 over its note
// (TreeHead.Note).
package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Origin names the log in every signed note; a head of another log never
// verifies as ours.
const Origin = "sipay payment evidence log v1"

// RecordVersion is the version of Record this package writes and reads.
const RecordVersion = 1

// Voucher is one e-voucher of a posted batch as the record commits to it:
// SHA256 is the hex SHA-256 of the voucher's canonical content (VoucherHash).
type Voucher struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	AmountFen int64     `json:"amount_fen"`
	IssuedAt  time.Time `json:"issued_at"`
	SHA256    string    `json:"sha256"`
}

// Record is the evidence of one posted batch. It carries no name, ID number
// or phone number.
type Record struct {
	Version           int       `json:"v"`
	OutTradeNo        string    `json:"out_trade_no"`
	OrderNo           string    `json:"order_no"`
	Region            string    `json:"region"`
	FromMonth         string    `json:"from_month"`
	ToMonth           string    `json:"to_month"`
	AmountFen         int64     `json:"amount_fen"`
	TransactionID     string    `json:"transaction_id"`
	PaidAt            time.Time `json:"paid_at"`
	PlatformReference string    `json:"platform_reference"`
	RecordedAt        time.Time `json:"recorded_at"`
	Vouchers          []Voucher `json:"vouchers"`
}

// Canonical returns the bytes the leaf hash is taken over: the JSON of r
// with its fields in declaration order, times in UTC, no insignificant
// whitespace.
func (r Record) Canonical() ([]byte, error) {
	r.PaidAt, r.RecordedAt = r.PaidAt.UTC(), r.RecordedAt.UTC()
	vs := make([]Voucher, len(r.Vouchers))
	for i, v := range r.Vouchers {
		v.IssuedAt = v.IssuedAt.UTC()
		vs[i] = v
	}
	r.Vouchers = vs
	return json.Marshal(r)
}

// ParseRecord decodes a record, refusing unknown fields and versions, and
// returns it with its canonical bytes.
func ParseRecord(b []byte) (Record, []byte, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, nil, fmt.Errorf("record: %w", err)
	}
	if r.Version != RecordVersion {
		return Record{}, nil, fmt.Errorf("record: version %d, want %d", r.Version, RecordVersion)
	}
	c, err := r.Canonical()
	return r, c, err
}

// VoucherHash is the hex SHA-256 of a voucher's canonical content:
// "<id>|<kind>|<amount_fen>|<issued_at RFC 3339 UTC>|<content JSON>".
func VoucherHash(id int64, kind string, amountFen int64, issuedAt time.Time, content []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d|%s|%d|%s|", id, kind, amountFen, issuedAt.UTC().Format(time.RFC3339Nano))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// Hasher is the RFC 6962 SHA-256 tree hasher.
var Hasher = rfc6962.DefaultHasher

// LeafHash returns the leaf hash of canonical record bytes.
func LeafHash(canonical []byte) []byte { return Hasher.HashLeaf(canonical) }

// TreeHead is a signed statement of the log's size and root hash at a time.
type TreeHead struct {
	Origin    string    `json:"origin"`
	Size      uint64    `json:"tree_size"`
	RootHash  []byte    `json:"root_hash"` // base64 in JSON
	Timestamp time.Time `json:"timestamp"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature"` // Ed25519 over Note(), base64 in JSON
}

// Note is the signed text: origin, size, base64 root hash and the
// timestamp (RFC 3339, UTC, seconds), one per line, each ending in "\n".
func (h TreeHead) Note() []byte {
	return []byte(h.Origin + "\n" + strconv.FormatUint(h.Size, 10) + "\n" +
		base64.StdEncoding.EncodeToString(h.RootHash) + "\n" + h.Timestamp.UTC().Format(time.RFC3339) + "\n")
}

// KeyID names a public key: the hex of the first 8 bytes of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// Sign fills h's origin, key id and signature. The timestamp is cut to
// seconds, as the note carries it.
func Sign(h *TreeHead, key ed25519.PrivateKey) {
	h.Origin = Origin
	h.Timestamp = h.Timestamp.UTC().Truncate(time.Second)
	h.KeyID = KeyID(key.Public().(ed25519.PublicKey))
	h.Signature = ed25519.Sign(key, h.Note())
}

// VerifyHead checks h's origin, key id and signature against pub.
func VerifyHead(h TreeHead, pub ed25519.PublicKey) error {
	if h.Origin != Origin {
		return fmt.Errorf("tree head: origin %q, want %q", h.Origin, Origin)
	}
	if h.KeyID != KeyID(pub) {
		return fmt.Errorf("tree head: signed by key %s, want %s", h.KeyID, KeyID(pub))
	}
	if len(h.RootHash) != sha256.Size {
		return errors.New("tree head: root hash is not 32 bytes")
	}
	if !ed25519.Verify(pub, h.Note(), h.Signature) {
		return errors.New("tree head: bad signature")
	}
	return nil
}

// Bundle is what a holder of a voucher gets to prove a payment: the record,
// its place in the log, the inclusion proof and the signed tree head.
type Bundle struct {
	Record    json.RawMessage `json:"record"`
	LeafIndex uint64          `json:"leaf_index"`
	LeafHash  []byte          `json:"leaf_hash"`
	Proof     [][]byte        `json:"inclusion_proof"`
	TreeHead  TreeHead        `json:"tree_head"`
	// PublicKey is the key the server signs with, for convenience only: a
	// verifier should pin the key it got out of band (docs/evidence.md).
	PublicKey []byte `json:"public_key"`
	// Consistency, when asked for (?since=<size>), proves that the tree of
	// that earlier size is a prefix of this one: nothing the verifier saw
	// before was dropped or changed.
	Consistency *Consistency `json:"consistency,omitempty"`
}

// Consistency is an RFC 6962 consistency proof from an earlier tree size
// to the bundle's tree head.
type Consistency struct {
	FromSize uint64   `json:"from_size"`
	Proof    [][]byte `json:"proof"`
}

// VerifyConsistency checks that the log signed in older is a prefix of the
// log signed in newer, with the proof from older.Size to newer.Size; both
// heads must verify under pub. A log that dropped or changed an entry
// covered by older fails.
func VerifyConsistency(older, newer TreeHead, p [][]byte, pub ed25519.PublicKey) error {
	if err := VerifyHead(older, pub); err != nil {
		return fmt.Errorf("earlier %w", err)
	}
	if err := VerifyHead(newer, pub); err != nil {
		return err
	}
	if err := proof.VerifyConsistency(Hasher, older.Size, newer.Size, p, older.RootHash, newer.RootHash); err != nil {
		return fmt.Errorf("consistency from size %d to %d: %w", older.Size, newer.Size, err)
	}
	return nil
}

// Verify checks a bundle offline against the pinned public key: the tree
// head's signature, the record's leaf hash and its inclusion proof in the
// signed tree. It returns the decoded record.
func Verify(b Bundle, pub ed25519.PublicKey) (Record, error) {
	if err := VerifyHead(b.TreeHead, pub); err != nil {
		return Record{}, err
	}
	r, canon, err := ParseRecord(b.Record)
	if err != nil {
		return Record{}, err
	}
	leaf := LeafHash(canon)
	if len(b.LeafHash) > 0 && !bytes.Equal(leaf, b.LeafHash) {
		return Record{}, errors.New("record: its hash is not the leaf hash the log stored (the record was altered)")
	}
	if err := proof.VerifyInclusion(Hasher, b.LeafIndex, b.TreeHead.Size, leaf, b.Proof, b.TreeHead.RootHash); err != nil {
		return Record{}, fmt.Errorf("inclusion proof: %w", err)
	}
	return r, nil
}

// ParsePublicKey reads an Ed25519 public key in base64 (32 bytes) or hex.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){base64.StdEncoding.DecodeString, hex.DecodeString} {
		if b, err := dec(s); err == nil && len(b) == ed25519.PublicKeySize {
			return ed25519.PublicKey(b), nil
		}
	}
	return nil, errors.New("public key: want 32 bytes in base64 or hex")
}

// ParsePrivateKey reads an Ed25519 private key given as its base64 32-byte
// seed (EVIDENCE_SIGNING_KEY).
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.SeedSize {
		return nil, errors.New("want the base64 of a 32-byte Ed25519 seed")
	}
	return ed25519.NewKeyFromSeed(b), nil
}
