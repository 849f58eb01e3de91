package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// bind decodes a JSON body into v strictly: a size limit, no unknown fields,
// no trailing data. It writes the error envelope and returns false on failure.
func bind(c *gin.Context, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(c, &service.Error{Kind: service.KindInvalid, Code: "body_too_large", Message: "请求内容过大"})
			return false
		}
		fail(c, service.Invalid("invalid_json", "请求内容无法读取"))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			field := strings.Trim(f, `"`)
			fail(c, service.Invalid("unknown_field", "请求包含不支持的字段："+field,
				service.FieldError{Field: field, Code: "unknown_field", Message: "不支持的字段"}))
			return false
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			fail(c, service.Invalid("invalid_json", "字段类型错误："+te.Field,
				service.FieldError{Field: te.Field, Code: "type", Message: "类型应为 " + te.Type.String()}))
			return false
		}
		fail(c, service.Invalid("invalid_json", "请求内容不是有效的 JSON"))
		return false
	}
	if dec.More() {
		fail(c, service.Invalid("invalid_json", "请求内容不是单个 JSON 对象"))
		return false
	}
	return true
}
