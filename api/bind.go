package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

// maxFieldInMessage bounds a client-supplied field name echoed in an error.
const maxFieldInMessage = 64

// bind decodes a JSON body into v strictly: a size limit, one value with no
// trailing data, no duplicate keys (nor keys differing only in case, which
// encoding/json would silently merge), no unknown fields. Type errors name
// the field path with array indexes (insurances[1].base_fen) and the JSON
// type wanted, never a Go type. It writes the error envelope and returns
// false on failure.
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
	if !utf8.Valid(body) {
		// encoding/json would turn invalid bytes into U+FFFD and store them.
		fail(c, service.Invalid("invalid_json", "请求内容不是有效的 UTF-8"))
		return false
	}
	values, serr := scanJSON(body)
	if serr != nil {
		fail(c, serr)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			field := redact.Clip(strings.Trim(f, `"`), maxFieldInMessage)
			fail(c, service.Invalid("unknown_field", "请求包含不支持的字段："+field,
				service.FieldError{Field: field, Code: "unknown_field", Message: "不支持的字段"}))
			return false
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := values.pathAt(te.Offset)
			if field == "" {
				field = te.Field
			}
			field = redact.Clip(field, maxFieldInMessage)
			fail(c, service.Invalid("invalid_json", "字段类型错误："+field,
				service.FieldError{Field: field, Code: "type", Message: "类型应为" + jsonTypeName(te.Type)}))
			return false
		}
		fail(c, service.Invalid("invalid_json", "请求内容不是有效的 JSON"))
		return false
	}
	return true
}

// jsonTypeName names the JSON type a Go type decodes from, in the words of
// the API (never a Go type name such as service.Fen).
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "其他类型"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "字符串"
	case reflect.Bool:
		return "布尔值"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "整数"
	case reflect.Float32, reflect.Float64:
		return "数字"
	case reflect.Slice, reflect.Array:
		return "数组"
	case reflect.Struct, reflect.Map:
		return "对象"
	}
	return "其他类型"
}

// valueAt is one JSON value of a body: its path and byte range.
type valueAt struct {
	path       string
	start, end int64
}

type valueIndex []valueAt

// pathAt returns the path of the value a decoding error at offset belongs
// to: the value ending there (a wrong literal), the container opened just
// before it (an object or array where a scalar belongs), else the
// innermost one around it.
func (ix valueIndex) pathAt(offset int64) string {
	best := -1
	for _, v := range ix {
		if v.end == offset || v.start == offset-1 {
			return v.path
		}
	}
	for i, v := range ix {
		if v.start <= offset && offset <= v.end && (best < 0 || v.end-v.start < ix[best].end-ix[best].start) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return ix[best].path
}

// scanJSON checks body is one JSON value with no trailing data and no
// duplicate keys (compared case-insensitively, as encoding/json matches
// them), and indexes every value's path.
func scanJSON(body []byte) (valueIndex, *service.Error) {
	type frame struct {
		obj     bool
		keys    map[string]bool
		key     string
		idx     int
		wantKey bool
		start   int64
		path    string
	}
	var (
		stack []*frame
		index valueIndex
		done  bool
	)
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.obj {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				b.WriteString("[" + strconv.Itoa(f.idx) + "]")
			}
		}
		return b.String()
	}
	afterValue := func() {
		if len(stack) == 0 {
			done = true
			return
		}
		top := stack[len(stack)-1]
		if top.obj {
			top.wantKey = true
		} else {
			top.idx++
		}
	}
	invalid := service.Invalid("invalid_json", "请求内容不是有效的 JSON")
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		// before is where the next token starts, past separators.
		before := dec.InputOffset()
		for before < int64(len(body)) && strings.IndexByte(" \t\r\n:,", body[before]) >= 0 {
			before++
		}
		tok, err := dec.Token()
		if err == io.EOF {
			if !done {
				return nil, invalid
			}
			return index, nil
		}
		if done {
			return nil, service.Invalid("invalid_json", "请求内容只能是一个 JSON 对象，其后不能有其他内容")
		}
		if err != nil {
			return nil, invalid
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				index = append(index, valueAt{path: top.path, start: top.start, end: dec.InputOffset()})
				afterValue()
				continue
			}
			k, _ := tok.(string)
			lk := strings.ToLower(k)
			if top.keys[lk] {
				top.key = k
				field := redact.Clip(path(), maxFieldInMessage)
				return nil, service.Invalid("duplicate_field", "请求包含重复的字段："+field,
					service.FieldError{Field: field, Code: "duplicate_field", Message: "字段重复（不区分大小写）"})
			}
			top.keys[lk] = true
			top.key, top.wantKey = k, false
			continue
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, &frame{obj: true, keys: map[string]bool{}, wantKey: true, start: before, path: path()})
				continue
			case '[':
				stack = append(stack, &frame{start: before, path: path()})
				continue
			case ']':
				stack = stack[:len(stack)-1]
				index = append(index, valueAt{path: top.path, start: top.start, end: dec.InputOffset()})
				afterValue()
				continue
			}
		}
		index = append(index, valueAt{path: path(), start: before, end: dec.InputOffset()})
		afterValue()
	}
}
