package platform_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shebao/sipay/platform"
)

// The vector was computed independently with:
//
//	printf '1700000000\nabcdefghijklmnop\nPOST\n/si/v1/profile\n{"a":1}' | openssl dgst -sha256 -hmac test-secret -hex
const knownSignature = "ed32fcd69bfc2e5abf58d15fbf231be5a313b8bdf3c68c0211a60f63ee123f69"

func TestSign_MatchesIndependentVector(t *testing.T) {
	got := platform.Sign("test-secret", "1700000000", "abcdefghijklmnop", "POST", "/si/v1/profile", []byte(`{"a":1}`))
	if got != knownSignature {
		t.Fatalf("Sign = %s, want %s", got, knownSignature)
	}
}

// The void request and its answer (docs/platform-protocol.md §5.7), computed
// independently with:
//
//	printf '1700000000\nabcdefghijklmnop\nPOST\n/si/v1/postings/T20250615000001/void\n%s' "$body" | openssl dgst -sha256 -hmac test-secret -hex
func TestSign_VoidVectors(t *testing.T) {
	const path = "/si/v1/postings/T20250615000001/void"
	req, err := json.Marshal(platform.WireVoid{Region: "440300", IdempotencyKey: "T20250615000001"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := platform.Sign("test-secret", "1700000000", "abcdefghijklmnop", "POST", path, req),
		"11f88b0eae75fc49c2390fa826ad3d9bb8bcb0d9e632f97f67e2eacadcbe8262"; got != want {
		t.Fatalf("void request %s: Sign = %s, want %s", req, got, want)
	}
	res, err := json.Marshal(platform.WirePostingResult{IdempotencyKey: "T20250615000001", Status: "voided", Reason: "已作废，不会入账"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := platform.Sign("test-secret", "1700000000", "abcdefghijklmnop", "POST", path, res),
		"978763d322077232ddd82e8c8039453e87afda25c5ab0ded611c9609e0a39c9d"; got != want {
		t.Fatalf("void answer %s: Sign = %s, want %s", res, got, want)
	}
}

func TestVerify(t *testing.T) {
	const secret, ts, nonce, method, path = "s3cret", "1700000000", "0123456789abcdef", "POST", "/si/v1/postings"
	body := []byte(`{"amount_fen":100}`)
	sig := platform.Sign(secret, ts, nonce, method, path, body)
	t.Run("RoundTrip", func(t *testing.T) {
		if !platform.Verify(secret, ts, nonce, method, path, body, sig) {
			t.Fatal("Verify = false, want true")
		}
	})
	tampered := map[string]func() bool{
		"Secret":    func() bool { return platform.Verify("other", ts, nonce, method, path, body, sig) },
		"Timestamp": func() bool { return platform.Verify(secret, "1700000001", nonce, method, path, body, sig) },
		"Nonce":     func() bool { return platform.Verify(secret, ts, nonce+"x", method, path, body, sig) },
		"Method":    func() bool { return platform.Verify(secret, ts, nonce, "GET", path, body, sig) },
		"Path":      func() bool { return platform.Verify(secret, ts, nonce, method, "/si/v1/profile", body, sig) },
		"Body": func() bool {
			return platform.Verify(secret, ts, nonce, method, path, []byte(`{"amount_fen":101}`), sig)
		},
		"Uppercase": func() bool {
			return platform.Verify(secret, ts, nonce, method, path, body, "ED32FCD69BFC2E5ABF58D15FBF231BE5A313B8BDF3C68C0211A60F63EE123F69")
		},
		"Empty": func() bool { return platform.Verify(secret, ts, nonce, method, path, body, "") },
		// Moving bytes between fields must not keep the signature valid.
		"FieldBoundary": func() bool { return platform.Verify(secret, ts, nonce, method, path+"\n", body[1:], sig) },
	}
	for name, f := range tampered {
		t.Run("Tampered"+name, func(t *testing.T) {
			if f() {
				t.Fatal("Verify = true, want false")
			}
		})
	}
}

func TestFresh(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name string
		d    time.Duration
		want bool
	}{
		{"Now", 0, true},
		{"EdgePast", -300 * time.Second, true},
		{"EdgeFuture", 300 * time.Second, true},
		{"TooOld", -301 * time.Second, false},
		{"TooNew", 301 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := platform.Fresh(now.Add(tc.d), now); got != tc.want {
				t.Fatalf("Fresh(now%+v) = %v, want %v", tc.d, got, tc.want)
			}
		})
	}
}

func TestParseTimestamp_RefusesNonDecimal(t *testing.T) {
	for _, ts := range []string{"", "-1", "+1700000000", "1.5", "0x10", "1700000000000000"} {
		if _, ok := platform.ParseTimestamp(ts); ok {
			t.Errorf("ParseTimestamp(%q) ok = true, want false", ts)
		}
	}
	if got, ok := platform.ParseTimestamp("1700000000"); !ok || got.Unix() != 1700000000 {
		t.Fatalf("ParseTimestamp = %v,%v, want 1700000000,true", got.Unix(), ok)
	}
}

func TestValidNonce(t *testing.T) {
	if !platform.ValidNonce(platform.NewNonce()) {
		t.Fatal("NewNonce is not a valid nonce")
	}
	for _, n := range []string{"short", "0123456789abcde", string(make([]byte, 65)), "0123456789abcdef\n"} {
		if platform.ValidNonce(n) {
			t.Errorf("ValidNonce(%q) = true, want false", n)
		}
	}
}
