package api

import (
	"net/http"

	"github.com/shebao/sipay/service"
)

// ErrorStatus maps err through the one kind → status table and returns the
// message safe to show (internal errors are hidden). The operations
// console renders errors with it.
func ErrorStatus(err error) (int, string) {
	e := service.AsError(err)
	if e == nil {
		return http.StatusInternalServerError, "服务器内部错误，请稍后重试"
	}
	status := httpStatus[e.Kind]
	if status == 0 || e.Kind == service.KindInternal {
		return http.StatusInternalServerError, "服务器内部错误，请稍后重试"
	}
	return status, e.Message
}
