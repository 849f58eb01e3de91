package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// PayNotifications receives WeChat Pay notifications
// (service.NotifyService): it verifies, decrypts and applies them.
type PayNotifications interface {
	Receive(ctx context.Context, h http.Header, body io.Reader) error
}

// wxpayNotify answers WeChat Pay in its own format, not our envelope: 204
// for work done (first delivery, repeat, an out_trade_no that is not ours),
// or the status of the one table with {"code":"FAIL","message":...}, on
// which WeChat retries: 400 malformed or not matching our order (alerted),
// 401 not verified, 500 not written.
func (s *Server) wxpayNotify(c *gin.Context) {
	err := s.deps.Notify.Receive(c.Request.Context(), c.Request.Header, c.Request.Body)
	if err == nil {
		c.Status(http.StatusNoContent)
		return
	}
	status, msg := ErrorStatus(err) // the one table; internal text hidden
	level := slog.LevelWarn
	if status >= 500 || service.ErrorCode(err) == service.CodeNotifyMismatch {
		level = slog.LevelError // not written, or alerted
	}
	logger(c).Log(c.Request.Context(), level, "wechat pay notification refused", "status", status, "err", err)
	c.AbortWithStatusJSON(status, gin.H{"code": "FAIL", "message": msg})
}
