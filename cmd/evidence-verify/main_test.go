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

// growthFiles writes a bundle kept at tree size 2 and a later one at size
// 3 of a log whose record 1 is amount1 fen (2000 in the original log), with
// the consistency proof from size 2 to 3.
func growthFiles(t *testing.T, key ed25519.PrivateKey, amount1 int64) (oldPath, newPath string) {
	t.Helper()
	write := func(b evidence.Bundle) string {
		raw, _ := json.Marshal(b)
		p := filepath.Join(t.TempDir(), "b.json")
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	build := func(amounts []int64) (*testonly.Tree, [][]byte) {
		tree := testonly.New(evidence.Hasher)
		var bodies [][]byte
		for i, a := range amounts {
			r := evidence.Record{Version: evidence.RecordVersion, OutTradeNo: "SP" + strings.Repeat("x", i+1), AmountFen: a, Vouchers: []evidence.Voucher{}}
			c, _ := r.Canonical()
			bodies = append(bodies, c)
			tree.AppendData(c)
		}
		return tree, bodies
	}
	head := func(tree *testonly.Tree, size uint64) evidence.TreeHead {
		h := evidence.TreeHead{Size: size, RootHash: tree.HashAt(size), Timestamp: time.Date(2026, 3, 3, 0, 0, int(size), 0, time.UTC)}
		evidence.Sign(&h, key)
		return h
	}
	orig, ob := build([]int64{1000, 2000, 3000})
	p, _ := orig.InclusionProof(0, 2)
	oldPath = write(evidence.Bundle{Record: ob[0], LeafIndex: 0, Proof: p, TreeHead: head(orig, 2)})
	now, nb := build([]int64{1000, amount1, 3000})
	p, _ = now.InclusionProof(2, 3)
	cp, _ := now.ConsistencyProof(2, 3)
	newPath = write(evidence.Bundle{Record: nb[2], LeafIndex: 2, Proof: p, TreeHead: head(now, 3), Consistency: &evidence.Consistency{FromSize: 2, Proof: cp}})
	return oldPath, newPath
}

func TestEvidenceVerifyPrevious(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	run2 := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(args, strings.NewReader(""), &out, &out)
		return code, out.String()
	}
	t.Run("Grew", func(t *testing.T) {
		oldP, newP := growthFiles(t, key, 2000)
		if code, out := run2("-pubkey", pub, "-previous", oldP, newP); code != 0 || !strings.Contains(out, "CONSISTENT") {
			t.Fatalf("got %d %q, want 0 CONSISTENT", code, out)
		}
	})
	t.Run("Rewritten", func(t *testing.T) {
		// Record 1 changed after the verifier kept the size-2 head; the new
		// bundle verifies on its own but not as an extension of the old.
		oldP, newP := growthFiles(t, key, 2001)
		if code, _ := run2("-pubkey", pub, newP); code != 0 {
			t.Fatalf("the rewritten log's bundle alone: got %d, want 0", code)
		}
		if code, out := run2("-pubkey", pub, "-previous", oldP, newP); code != 1 || !strings.Contains(out, "NOT VERIFIED") {
			t.Fatalf("got %d %q, want 1 NOT VERIFIED", code, out)
		}
	})
	t.Run("NoProof", func(t *testing.T) {
		oldP, _ := growthFiles(t, key, 2000)
		if code, out := run2("-pubkey", pub, "-previous", oldP, bundleFile(t, key, nil)); code != 1 || !strings.Contains(out, "since=2") {
			t.Fatalf("got %d %q, want 1 asking for ?since=2", code, out)
		}
	})
}
