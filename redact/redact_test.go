package redact_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shebao/sipay/redact"
)

func TestHandlerScrubs(t *testing.T) {
	var b bytes.Buffer
	secret := "s3cr3t-app-secret"
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(&b, nil), func() []string { return []string{secret, "abc"} }))
	urlErr := errors.New(`Get "https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=` + secret + `&js_code=x": dial tcp: connection refused`)
	log.With("component", "x?secret="+secret).Error("call failed", "err", urlErr, "body", "access_token=AT-123456&x=1",
		"auth", "Authorization: Bearer tok-987654321", slog.Group("g", "v", strings.Repeat("a", 5000)))
	out := b.String()
	for _, bad := range []string{secret, "AT-123456", "tok-987654321", "js_code=x", strings.Repeat("a", 2000)} {
		if strings.Contains(out, bad) {
			t.Fatalf("log contains %q: %s", bad, out)
		}
	}
	for _, good := range []string{"https://api.weixin.qq.com/sns/jscode2session?[query removed]", "connection refused", "bytes cut"} {
		if !strings.Contains(out, good) {
			t.Fatalf("log lacks %q: %s", good, out)
		}
	}
}

func TestClipKeepsRunes(t *testing.T) {
	s := redact.Clip(strings.Repeat("社", 500), 100)
	if !utf8.ValidString(s) || len(s) > 100 || !strings.HasPrefix(s, strings.Repeat("社", 25)+"…") {
		t.Fatalf("clip: %q", s)
	}
}

func TestStringIsIdempotent(t *testing.T) {
	in := `Get "https://h/p?secret=abcdefgh&x=1": refused ` + strings.Repeat("z", 3000)
	once := redact.String(in, []string{"abcdefgh"})
	if twice := redact.String(once, []string{"abcdefgh"}); twice != once {
		t.Fatalf("second pass changed the value:\n%s\n%s", once, twice)
	}
	if len(once) > redact.MaxValue {
		t.Fatalf("len %d > %d", len(once), redact.MaxValue)
	}
}
