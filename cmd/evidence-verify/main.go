// Command evidence-verify checks a payment evidence bundle offline: the
// reply of GET /api/v1/evidence/{voucher_code}, saved to a file. It checks
// the tree head's Ed25519 signature against the pinned public key, the
// record's RFC 6962 leaf hash and its inclusion proof in the signed tree,
// with no network and no database.
//
//	go run ./cmd/evidence-verify -pubkey <base64 or hex> bundle.json
//	curl … /api/v1/evidence/$CODE | go run ./cmd/evidence-verify -pubkey … -
//	go run ./cmd/evidence-verify -pubkey … -previous old.json new.json
//
// With -previous (a bundle kept from before), the new bundle must carry the
// consistency proof from the old tree head's size (fetch it with
// ?since=<old tree_size>): the log the verifier saw then is a prefix of the
// log now, so nothing was dropped or changed since.
//
// Exit status 0: verified; 1: it does not verify; 2: bad usage.
package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/shebao/sipay/evidence"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evidence-verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pubFlag := fs.String("pubkey", "", "the log's Ed25519 public key (base64 or hex), as published out of band")
	pubFile := fs.String("pubkey-file", "", "file holding the public key instead of -pubkey")
	previous := fs.String("previous", "", "a bundle kept from before: check that the log only grew since its tree head")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: evidence-verify -pubkey <key> <bundle.json | ->")
		return 2
	}
	err := verify(fs.Arg(0), *pubFlag, *pubFile, *previous, stdin, stdout, stderr)
	var nv notVerified
	switch {
	case err == nil:
		return 0
	case errors.As(err, &nv):
		fmt.Fprintln(stdout, "NOT VERIFIED:", nv.err)
		return 1
	default:
		fmt.Fprintln(stderr, "error:", err)
		return 2
	}
}

// notVerified is a bundle that does not verify (exit status 1); any other
// error of verify is bad usage or input (2).
type notVerified struct{ err error }

func (e notVerified) Error() string { return e.err.Error() }

// verify checks the bundle at path ("-": stdin), with the key given as
// key or in keyFile, and its growth since the bundle at previous when set.
func verify(path, key, keyFile, previous string, stdin io.Reader, stdout, stderr io.Writer) error {
	b, err := loadBundle(path, stdin, "the bundle is not valid JSON of an evidence bundle")
	if err != nil {
		return err
	}
	if keyFile != "" {
		k, err := os.ReadFile(keyFile)
		if err != nil {
			return err
		}
		key = string(k)
	}
	var pub ed25519.PublicKey
	if key == "" {
		// Without a pinned key the check only shows the bundle is
		// consistent with itself, not that the log's owner signed it.
		fmt.Fprintln(stderr, "warning: no -pubkey given: using the key inside the bundle, which proves nothing about who signed it")
		pub = ed25519.PublicKey(b.PublicKey)
	} else if pub, err = evidence.ParsePublicKey(key); err != nil {
		return err
	}
	r, err := evidence.Verify(b, pub)
	if err != nil {
		return notVerified{err}
	}
	if previous != "" {
		old, err := loadBundle(previous, stdin, "the previous bundle")
		if err != nil {
			return err
		}
		if err := checkGrowth(old.TreeHead, b, pub); err != nil {
			return notVerified{err}
		}
		fmt.Fprintf(stdout, "CONSISTENT: the log of %d records signed %s is a prefix of this one\n",
			old.TreeHead.Size, old.TreeHead.Timestamp.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "VERIFIED: batch %s of order %s, %d fen, WeChat transaction %s, platform reference %s, %d voucher(s)\n",
		r.OutTradeNo, r.OrderNo, r.AmountFen, r.TransactionID, r.PlatformReference, len(r.Vouchers))
	fmt.Fprintf(stdout, "  leaf %d of a tree of %d records, root signed %s by key %s\n",
		b.LeafIndex, b.TreeHead.Size, b.TreeHead.Timestamp.UTC().Format(time.RFC3339), b.TreeHead.KeyID)
	return nil
}

// loadBundle reads the bundle at path ("-": stdin) and parses it; a bundle
// that does not parse does not verify, named by what.
func loadBundle(path string, stdin io.Reader, what string) (evidence.Bundle, error) {
	var raw []byte
	var err error
	if path == "-" {
		raw, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return evidence.Bundle{}, err
	}
	b, err := parseBundle(raw)
	if err != nil {
		return b, notVerified{fmt.Errorf("%s: %w", what, err)}
	}
	return b, nil
}

func parseBundle(raw []byte) (evidence.Bundle, error) {
	var b evidence.Bundle
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&b)
	return b, err
}

// checkGrowth checks that the log signed in old is a prefix of the one in
// b, with b's consistency proof.
func checkGrowth(old evidence.TreeHead, b evidence.Bundle, pub ed25519.PublicKey) error {
	switch {
	case old.Size == b.TreeHead.Size:
		if err := evidence.VerifyHead(old, pub); err != nil {
			return fmt.Errorf("earlier %w", err)
		}
		if !bytes.Equal(old.RootHash, b.TreeHead.RootHash) {
			return fmt.Errorf("two signed heads of size %d with different roots: the log was rewritten", old.Size)
		}
		return nil
	case old.Size > b.TreeHead.Size:
		return fmt.Errorf("the log shrank from %d to %d records", old.Size, b.TreeHead.Size)
	case b.Consistency == nil || b.Consistency.FromSize != old.Size:
		return fmt.Errorf("the bundle has no consistency proof from size %d (fetch it with ?since=%d)", old.Size, old.Size)
	}
	return evidence.VerifyConsistency(old, b.TreeHead, b.Consistency.Proof, pub)
}
