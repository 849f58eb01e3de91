// Package pii protects personal data at rest: AES-256-GCM encryption with a
// key id in every ciphertext (so keys can be rotated while old rows stay
// readable), keyed blind indexes for exact-match lookups by ID number, and the
// masking rules for showing names, ID numbers and phone numbers.
//
// Ciphertext format: "v1:<kid>:<base64(nonce|ciphertext|tag)>". The key id
// and version are bound to the ciphertext as additional data, so a ciphertext
// cannot be relabelled to another key.
//
// Each configured secret is never used directly: an encryption key and a
// blind-index key are derived from it with HKDF-SHA256 under different labels,
// so the index never reveals anything about the encryption key.
package pii

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const version = "v1"

// Key is one master secret with its id.
type Key struct {
	ID     string // short, [0-9A-Za-z_-], no ':'
	Secret []byte // 32 bytes
}

// KeyFromBase64 decodes a base64 32-byte secret (the PII_KEY format). Its id
// is a fingerprint of the secret, so the same PII_KEY always has the same id.
func KeyFromBase64(b64 string) (Key, error) {
	secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(secret) != 32 {
		return Key{}, errors.New("pii: key must be base64 of exactly 32 bytes")
	}
	fp, err := hkdf.Key(sha256.New, secret, nil, "sipay/pii/key-id/v1", 4)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: "k" + hex.EncodeToString(fp), Secret: secret}, nil
}

type derived struct {
	aead  cipher.AEAD
	index []byte
}

// Keyring encrypts with its current key and decrypts with any of its keys.
type Keyring struct {
	current string
	order   []string // current first, then old keys in the order given
	keys    map[string]derived
}

// ErrDecrypt is returned for a ciphertext that is malformed, was tampered
// with, or was made with a key the ring does not hold.
var ErrDecrypt = errors.New("pii: cannot decrypt")

// NewKeyring returns a keyring that encrypts with current and can still
// decrypt (and look up by blind index) with the old keys.
func NewKeyring(current Key, old ...Key) (*Keyring, error) {
	r := &Keyring{current: current.ID, keys: map[string]derived{}}
	for _, k := range append([]Key{current}, old...) {
		if k.ID == "" || strings.ContainsAny(k.ID, ": ") {
			return nil, fmt.Errorf("pii: invalid key id %q", k.ID)
		}
		if len(k.Secret) != 32 {
			return nil, fmt.Errorf("pii: key %s: secret must be 32 bytes", k.ID)
		}
		if _, dup := r.keys[k.ID]; dup {
			return nil, fmt.Errorf("pii: duplicate key id %s", k.ID)
		}
		encKey, err := hkdf.Key(sha256.New, k.Secret, nil, "sipay/pii/encrypt/v1", 32)
		if err != nil {
			return nil, err
		}
		idxKey, err := hkdf.Key(sha256.New, k.Secret, nil, "sipay/pii/blind-index/v1", 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(encKey)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		r.keys[k.ID] = derived{aead: aead, index: idxKey}
		r.order = append(r.order, k.ID)
	}
	return r, nil
}

// CurrentKeyID returns the id of the key new ciphertexts use.
func (r *Keyring) CurrentKeyID() string { return r.current }

// Encrypt encrypts plaintext with the current key. The empty string stays
// empty, so optional fields need no ciphertext.
func (r *Keyring) Encrypt(plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	k := r.keys[r.current]
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	prefix := version + ":" + r.current + ":"
	sealed := k.aead.Seal(nonce, nonce, []byte(plaintext), []byte(prefix))
	return prefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// Decrypt opens a ciphertext made by Encrypt with any key of the ring.
func (r *Keyring) Decrypt(ciphertext string) (string, error) {
	if ciphertext == "" {
		return "", nil
	}
	v, rest, ok := strings.Cut(ciphertext, ":")
	if !ok || v != version {
		return "", ErrDecrypt
	}
	kid, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return "", ErrDecrypt
	}
	k, ok := r.keys[kid]
	if !ok {
		return "", fmt.Errorf("%w: unknown key id %s", ErrDecrypt, kid)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return "", ErrDecrypt
	}
	n := k.aead.NonceSize()
	pt, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(version+":"+kid+":"))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}

// NeedsRotation reports whether ciphertext was made with a key other than the
// current one (and should be re-encrypted).
func (r *Keyring) NeedsRotation(ciphertext string) bool {
	return ciphertext != "" && !strings.HasPrefix(ciphertext, version+":"+r.current+":")
}

// BlindIndex returns the keyed HMAC-SHA256 of value under the current key,
// in hex, scoped by domain (e.g. the ID type) so equal values of different
// kinds never collide. It is deterministic: the same input gives the same
// index, which is what makes it usable for unique constraints and lookups.
func (r *Keyring) BlindIndex(domain, value string) string {
	return blindIndex(r.keys[r.current].index, domain, value)
}

// BlindIndexes returns the blind index of value under every key of the ring,
// current first. Lookups match any of them, so rows indexed before a key
// rotation are still found.
func (r *Keyring) BlindIndexes(domain, value string) []string {
	out := make([]string, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, blindIndex(r.keys[id].index, domain, value))
	}
	return out
}

func blindIndex(key []byte, domain, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}
