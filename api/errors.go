package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// httpStatus is the one mapping from error kind to HTTP status.
var httpStatus = map[service.Kind]int{
	service.KindInternal:         http.StatusInternalServerError,
	service.KindInvalid:          http.StatusBadRequest,
	service.KindUnauthenticated:  http.StatusUnauthorized,
	service.KindForbidden:        http.StatusForbidden,
	service.KindNotFound:         http.StatusNotFound,
	service.KindConflict:         http.StatusConflict,
	service.KindUnprocessable:    http.StatusUnprocessableEntity,
	service.KindRateLimited:      http.StatusTooManyRequests,
	service.KindUnavailable:      http.StatusServiceUnavailable,
	service.KindMethodNotAllowed: http.StatusMethodNotAllowed,
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string       `json:"code"`
	Message    string       `json:"message"`
	RequestID  string       `json:"request_id"`
	Fields     []fieldError `json:"fields,omitempty"`
	RetryAfter int          `json:"retry_after_seconds,omitempty"`
}

type fieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// fail writes err as the error envelope. Internal errors are logged and
// their text hidden.
func fail(c *gin.Context, err error) {
	e := service.AsError(err)
	if e == nil {
		e = &service.Error{Kind: service.KindInternal, Code: service.CodeInternal, Message: "服务器内部错误，请稍后重试", Err: err}
	}
	status := httpStatus[e.Kind]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	body := errorBody{Error: errorDetail{Code: e.Code, Message: e.Message, RequestID: requestIDOf(c)}}
	for _, f := range e.Fields {
		body.Error.Fields = append(body.Error.Fields, fieldError(f))
	}
	if e.RetryAfter > 0 {
		secs := int(e.RetryAfter.Seconds() + 0.999)
		body.Error.RetryAfter = secs
		c.Header("Retry-After", strconv.Itoa(secs))
	}
	if status >= 500 {
		logger(c).Error("request failed", "status", status, "code", e.Code, "err", errString(e))
	}
	c.AbortWithStatusJSON(status, body)
}

func errString(e *service.Error) string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}
