package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/testonly"

	"github.com/shebao/sipay/evidence"
)

// bundleFile writes the bundle of record 1 of a three-record log signed by
// key (the reference tree of transparency-dev/merkle's testonly package,
// independent of the server's stored tree) and returns its path.
func bundleFile(t *testing.T, key ed25519.PrivateKey, edit func(*evidence.Bundle)) string {
	t.Helper()
	tree := testonly.New(evidence.Hasher)
	var bodies [][]byte
	for i, otn := range []string{"SP1_1", "SP2_1", "SP3_1"} {
		r := evidence.Record{Version: evidence.RecordVersion, OutTradeNo: otn, OrderNo: otn[:3], AmountFen: int64(1000 * (i + 1)),
			TransactionID: "4200" + otn, PaidAt: time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC), PlatformReference: "REF-" + otn,
			RecordedAt: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC), Vouchers: []evidence.Voucher{}}
		c, err := r.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, c)
		tree.AppendData(c)
	}
	p, err := tree.InclusionProof(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	h := evidence.TreeHead{Size: 3, RootHash: tree.Hash(), Timestamp: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)}
	evidence.Sign(&h, key)
	b := evidence.Bundle{Record: bodies[1], LeafIndex: 1, LeafHash: tree.LeafHash(1), Proof: p, TreeHead: h, PublicKey: key.Public().(ed25519.PublicKey)}
	if edit != nil {
		edit(&b)
	}
	raw, err := json.MarshalIndent(b, "", "  ") // pretty-printed on purpose: the check re-canonicalises
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEvidenceVerify(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	verify := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(args, strings.NewReader(""), &out, &errb)
		return code, out.String() + errb.String()
	}
	t.Run("OK", func(t *testing.T) {
		code, out := verify("-pubkey", pub, bundleFile(t, key, nil))
		if code != 0 || !strings.Contains(out, "VERIFIED: batch SP2_1") || !strings.Contains(out, "leaf 1 of a tree of 3") {
			t.Fatalf("got %d %q, want 0 VERIFIED of SP2_1", code, out)
		}
	})
	t.Run("AlteredAmount", func(t *testing.T) {
		code, out := verify("-pubkey", pub, bundleFile(t, key, func(b *evidence.Bundle) {
			b.Record = []byte(strings.Replace(string(b.Record), `"amount_fen":2000`, `"amount_fen":2001`, 1))
		}))
		if code != 1 || !strings.Contains(out, "NOT VERIFIED") {
			t.Fatalf("got %d %q, want 1 NOT VERIFIED", code, out)
		}
	})
	t.Run("AlteredProof", func(t *testing.T) {
		code, _ := verify("-pubkey", pub, bundleFile(t, key, func(b *evidence.Bundle) {
			b.LeafHash = nil
			b.Proof[0] = make([]byte, 32)
		}))
		if code != 1 {
			t.Fatalf("got %d, want 1", code)
		}
	})
	t.Run("OtherIndex", func(t *testing.T) {
		code, _ := verify("-pubkey", pub, bundleFile(t, key, func(b *evidence.Bundle) { b.LeafIndex = 2; b.LeafHash = nil }))
		if code != 1 {
			t.Fatalf("got %d, want 1", code)
		}
	})
	t.Run("OtherKey", func(t *testing.T) {
		other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
		code, out := verify("-pubkey", pub, bundleFile(t, other, nil))
		if code != 1 || !strings.Contains(out, "tree head") {
			t.Fatalf("got %d %q, want 1 naming the tree head", code, out)
		}
	})
	t.Run("ChangedTimestamp", func(t *testing.T) {
		code, _ := verify("-pubkey", pub, bundleFile(t, key, func(b *evidence.Bundle) { b.TreeHead.Timestamp = b.TreeHead.Timestamp.Add(time.Hour) }))
		if code != 1 {
			t.Fatalf("got %d, want 1", code)
		}
	})
	t.Run("Usage", func(t *testing.T) {
		if code, _ := verify(); code != 2 {
			t.Fatalf("no bundle: got %d, want 2", code)
		}
		if code, _ := verify("-pubkey", "nope", bundleFile(t, key, nil)); code != 2 {
			t.Fatalf("bad key: got %d, want 2", code)
		}
	})
}
