package pii_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/shebao/sipay/pii"
)

func mustKey(tb testing.TB, id string, fill byte) pii.Key {
	tb.Helper()
	return pii.Key{ID: id, Secret: bytes.Repeat([]byte{fill}, 32)}
}

func mustRing(tb testing.TB, current pii.Key, old ...pii.Key) *pii.Keyring {
	tb.Helper()
	r, err := pii.NewKeyring(current, old...)
	if err != nil {
		tb.Fatalf("NewKeyring: %v", err)
	}
	return r
}

func TestEncryptRoundTrip(t *testing.T) {
	r := mustRing(t, mustKey(t, "k1", 1))
	for _, pt := range []string{"张三", "110101199003071234", "13812345678", "x"} {
		ct, err := r.Encrypt(pt)
		if err != nil {
			t.Fatal(err)
		}
		// A one-character plaintext may occur in base64 by chance.
		if len(pt) > 3 && strings.Contains(ct, pt) {
			t.Fatalf("ciphertext %q contains plaintext %q", ct, pt)
		}
		if !strings.HasPrefix(ct, "v1:k1:") {
			t.Fatalf("ciphertext %q, want prefix v1:k1:", ct)
		}
		got, err := r.Decrypt(ct)
		if err != nil {
			t.Fatal(err)
		}
		if got != pt {
			t.Fatalf("got %q, want %q", got, pt)
		}
	}
}

func TestEncryptIsRandomized(t *testing.T) {
	r := mustRing(t, mustKey(t, "k1", 1))
	a, _ := r.Encrypt("张三")
	b, _ := r.Encrypt("张三")
	if a == b {
		t.Fatalf("two encryptions are equal (%q): nonce reused", a)
	}
}

func TestEmptyStaysEmpty(t *testing.T) {
	r := mustRing(t, mustKey(t, "k1", 1))
	ct, err := r.Encrypt("")
	if err != nil || ct != "" {
		t.Fatalf("Encrypt(\"\")=%q,%v, want \"\",nil", ct, err)
	}
	pt, err := r.Decrypt("")
	if err != nil || pt != "" {
		t.Fatalf("Decrypt(\"\")=%q,%v, want \"\",nil", pt, err)
	}
}

func TestOldKeyDecryptsAfterRotation(t *testing.T) {
	k1, k2 := mustKey(t, "k1", 1), mustKey(t, "k2", 2)
	before := mustRing(t, k1)
	ct, _ := before.Encrypt("110101199003071234")

	after := mustRing(t, k2, k1)
	got, err := after.Decrypt(ct)
	if err != nil || got != "110101199003071234" {
		t.Fatalf("Decrypt after rotation = %q,%v, want the plaintext", got, err)
	}
	if !after.NeedsRotation(ct) {
		t.Fatalf("NeedsRotation=false for a k1 ciphertext, want true")
	}
	fresh, _ := after.Encrypt("x")
	if !strings.HasPrefix(fresh, "v1:k2:") || after.NeedsRotation(fresh) {
		t.Fatalf("new ciphertext %q, want current key k2", fresh)
	}
	// The blind index made before rotation is still among the candidates.
	old := before.BlindIndex("resident_id", "110101199003071234")
	cands := after.BlindIndexes("resident_id", "110101199003071234")
	if len(cands) != 2 || cands[1] != old {
		t.Fatalf("BlindIndexes=%v, want [current, %s]", cands, old)
	}

	// A ring without k1 refuses.
	if _, err := mustRing(t, k2).Decrypt(ct); !errors.Is(err, pii.ErrDecrypt) {
		t.Fatalf("Decrypt with unknown key: err=%v, want ErrDecrypt", err)
	}
}

func TestTamperedCiphertextRefused(t *testing.T) {
	r := mustRing(t, mustKey(t, "k1", 1), mustKey(t, "k2", 2))
	ct, _ := r.Encrypt("110101199003071234")
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(ct, "v1:k1:"))
	for name, bad := range map[string]string{
		"FlippedBit": func() string {
			b := append([]byte(nil), raw...)
			b[len(b)-1] ^= 1
			return "v1:k1:" + base64.StdEncoding.EncodeToString(b)
		}(),
		"RelabelledKey": "v1:k2:" + base64.StdEncoding.EncodeToString(raw),
		"Truncated":     "v1:k1:" + base64.StdEncoding.EncodeToString(raw[:10]),
		"BadVersion":    "v2:k1:" + base64.StdEncoding.EncodeToString(raw),
		"NotBase64":     "v1:k1:@@@",
		"Plaintext":     "110101199003071234",
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := r.Decrypt(bad); !errors.Is(err, pii.ErrDecrypt) {
				t.Fatalf("Decrypt=%q,%v, want ErrDecrypt", got, err)
			}
		})
	}
}

func TestBlindIndexDeterministicAndKeyed(t *testing.T) {
	r := mustRing(t, mustKey(t, "k1", 1))
	a := r.BlindIndex("resident_id", "110101199003071234")
	if b := r.BlindIndex("resident_id", "110101199003071234"); a != b {
		t.Fatalf("blind index not deterministic: %s vs %s", a, b)
	}
	if len(a) != 64 {
		t.Fatalf("len=%d, want 64 hex chars", len(a))
	}
	if b := r.BlindIndex("hk_macau_residence", "110101199003071234"); a == b {
		t.Fatalf("same index across domains")
	}
	if b := r.BlindIndex("resident_id", "110101199003071235"); a == b {
		t.Fatalf("same index for different values")
	}
	other := mustRing(t, mustKey(t, "k9", 9))
	if b := other.BlindIndex("resident_id", "110101199003071234"); a == b {
		t.Fatalf("same index under a different key")
	}
}

func TestKeyFromBase64(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	k1, err := pii.KeyFromBase64(secret)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := pii.KeyFromBase64(secret)
	if k1.ID != k2.ID || k1.ID == "" {
		t.Fatalf("key ids %q, %q, want equal and non-empty", k1.ID, k2.ID)
	}
	if _, err := pii.KeyFromBase64(base64.StdEncoding.EncodeToString([]byte("short"))); err == nil {
		t.Fatalf("short key accepted, want error")
	}
}

func TestNewKeyringRefusesBadKeys(t *testing.T) {
	if _, err := pii.NewKeyring(pii.Key{ID: "k1", Secret: []byte("short")}); err == nil {
		t.Fatalf("short secret accepted")
	}
	if _, err := pii.NewKeyring(mustKey(t, "a:b", 1)); err == nil {
		t.Fatalf("key id with ':' accepted")
	}
	if _, err := pii.NewKeyring(mustKey(t, "k1", 1), mustKey(t, "k1", 2)); err == nil {
		t.Fatalf("duplicate key id accepted")
	}
}

func TestMasks(t *testing.T) {
	for _, c := range []struct {
		fn       func(string) string
		in, want string
	}{
		{pii.MaskName, "张三", "张*"},
		{pii.MaskName, "欧阳娜娜", "欧***"},
		{pii.MaskName, "李", "*"},
		{pii.MaskName, "", ""},
		{pii.MaskIDNumber, "110101199003071234", "110***********1234"},
		{pii.MaskIDNumber, "H12345678", "H12**5678"},
		{pii.MaskIDNumber, "12345678", "******78"},
		{pii.MaskPhone, "13812345678", "138****5678"},
		{pii.MaskPhone, "98765432", "987*5432"},
		{pii.MaskPhone, "", ""},
	} {
		if got := c.fn(c.in); got != c.want {
			t.Errorf("mask(%q)=%q, want %q", c.in, got, c.want)
		}
	}
}
