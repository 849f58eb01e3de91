package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// Idempotency settings (Stripe's rules).
const (
	// IdempotencyTTL is how long a reply is kept for replay.
	IdempotencyTTL = 24 * time.Hour
	// idempotencyLock bounds how long a running request holds its key.
	idempotencyLock   = time.Minute
	maxIdempotencyKey = 255
	// resumeOrderKey is the gin context key under which createOrder names
	// the order it made, so a retry resumes it (resumeOrder).
	resumeOrderKey = "sipay.resume_order"
)

// bodyRecorder keeps a copy of what the handler writes.
type bodyRecorder struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (w *bodyRecorder) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *bodyRecorder) WriteString(s string) (int, error) {
	w.buf.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}

func validIdempotencyKey(k string) bool {
	if len(k) < 1 || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// idempotent requires an Idempotency-Key (1-255 printable ASCII characters)
// and applies Stripe's rules per user: the first reply (status and body) is
// kept for IdempotencyTTL and replayed with Idempotent-Replayed: true; the
// same key with another method, path or body answers 422
// idempotency_mismatch; while the first request runs, the same key answers
// 409 idempotency_in_progress and nothing is saved. Replies to requests that
// did not run (400 validation, 401, 403, 429) are not saved, so a corrected
// retry with the same key runs. A reply that made an order (201, or 503
// prepay_failed) is saved with the order number, and a retry resumes that
// order (resumeOrder) rather than replaying pay_params that may have
// expired or a 503 that would hide the order. Without Redis the request runs unguarded by
// the key: the database still allows one order per quote.
func (s *Server) idempotent(c *gin.Context) {
	key := c.GetHeader("Idempotency-Key")
	if !validIdempotencyKey(key) {
		fail(c, service.Invalid("idempotency_key_required", "请求缺少有效的 Idempotency-Key",
			service.FieldError{Field: "Idempotency-Key", Code: "required", Message: "请提供 1 到 255 个字符的幂等键"}))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		fail(c, &service.Error{Kind: service.KindInvalid, Code: "body_too_large", Message: "请求内容过大"})
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	store := s.deps.Idempotency
	if store == nil {
		c.Next()
		return
	}
	sum := sha256.Sum256([]byte(c.Request.Method + "\n" + c.Request.URL.Path + "\n" + string(body)))
	fp := hex.EncodeToString(sum[:])
	skey := fmt.Sprintf("%d:%s", currentUser(c).ID, key)
	ctx := c.Request.Context()

	saved, token, err := store.Begin(ctx, skey, fp, idempotencyLock)
	switch {
	case errors.Is(err, service.ErrIdempotencyInProgress):
		fail(c, &service.Error{Kind: service.KindConflict, Code: "idempotency_in_progress", RetryAfter: time.Second,
			Message: "相同的请求正在处理中，请稍后重试"})
		return
	case errors.Is(err, service.ErrIdempotencyMismatch):
		fail(c, &service.Error{Kind: service.KindUnprocessable, Code: "idempotency_mismatch",
			Message: "幂等键已用于内容不同的请求，请使用新的幂等键"})
		return
	case err != nil:
		logger(c).Warn("idempotency store unavailable; running without it", "err", err)
		c.Next()
		return
	case saved != nil && saved.Resume != "":
		s.resumeOrder(c, saved)
		return
	case saved != nil:
		c.Header("Idempotent-Replayed", "true")
		c.Data(saved.Status, saved.ContentType, saved.Body)
		c.Abort()
		return
	}

	rec := &bodyRecorder{ResponseWriter: c.Writer}
	c.Writer = rec
	defer func() {
		// Save or release even if the handler panics (the recoverer then
		// writes a 500 after us, which is not saved: safe to retry).
		bg := context.WithoutCancel(ctx)
		status := rec.Status()
		if r := recover(); r != nil {
			store.Release(bg, skey, token)
			panic(r)
		}
		resume := c.GetString(resumeOrderKey)
		if !rec.Written() || (!savable(status) && !(resume != "" && status == http.StatusServiceUnavailable)) {
			if err := store.Release(bg, skey, token); err != nil {
				logger(c).Warn("idempotency release", "err", err)
			}
			return
		}
		resp := service.SavedResponse{Fingerprint: fp, Status: status, ContentType: rec.Header().Get("Content-Type"), Body: rec.buf.Bytes(),
			Resume: resume}
		if err := store.Save(bg, skey, token, resp, IdempotencyTTL); err != nil {
			logger(c).Warn("idempotency save", "err", err)
		}
	}()
	c.Next()
}

// savable reports whether a reply is kept for replay: everything the
// endpoint decided (including 500, as Stripe does), but not requests refused
// before running, nor 503 "try again" answers (a lost database connection,
// WeChat unreachable), which a retry with the same key should re-run.
func savable(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return false
	}
	return true
}
