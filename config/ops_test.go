package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestOpsOperatorsAreParsedAsHashes(t *testing.T) {
	sum := sha256.Sum256([]byte("alice-secret"))
	env := map[string]string{"DATA_DIR": t.TempDir(), "OPS_OPERATORS": "alice:" + hex.EncodeToString(sum[:]), "OPS_SESSION_IDLE": "20m"}
	c, err := Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Ops.Operators["alice"]; !ok || got != sum {
		t.Fatalf("operators = %v, want alice with the token's hash", c.Ops.Operators)
	}
	if c.Ops.SessionIdle != 20*time.Minute {
		t.Fatalf("idle = %v", c.Ops.SessionIdle)
	}
}

func TestOpsOperatorsRejectsBadEntriesWithoutEchoingTokens(t *testing.T) {
	for name, v := range map[string]string{
		"PlainToken":   "alice:my-plain-secret-token",
		"NoHash":       "alice",
		"ReservedName": "admin:" + strings.Repeat("ab", 32),
		"BadName":      "al ice:" + strings.Repeat("ab", 32),
		"Duplicate":    "bob:" + strings.Repeat("ab", 32) + ",bob:" + strings.Repeat("cd", 32),
	} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir(), "OPS_OPERATORS": v}
			_, err := Load(func(k string) string { return env[k] })
			if err == nil || !strings.Contains(err.Error(), "OPS_OPERATORS") {
				t.Fatalf("err = %v, want an OPS_OPERATORS error", err)
			}
			if strings.Contains(err.Error(), "my-plain-secret-token") {
				t.Fatalf("error echoes the token: %v", err)
			}
		})
	}
	env := map[string]string{"DATA_DIR": t.TempDir(), "OPS_SESSION_IDLE": "5s"}
	if _, err := Load(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "OPS_SESSION_IDLE") {
		t.Fatalf("err = %v, want OPS_SESSION_IDLE error", err)
	}
}
