package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/shebao/sipay/redact"
)

// Kind classifies an error for transport mapping. The api package turns a
// Kind into an HTTP status through one table.
type Kind int

// Error kinds.
const (
	KindInternal Kind = iota
	KindInvalid
	KindUnauthenticated
	KindForbidden
	KindNotFound
	KindConflict
	KindUnprocessable
	KindRateLimited
	KindUnavailable
	// KindMethodNotAllowed is a known path called with a wrong method (405
	// with Allow).
	KindMethodNotAllowed
)

// Stable error codes shared by several use cases. Use cases may define more
// codes next to the code that returns them; every code is snake_case.
const (
	CodeInternal        = "internal"
	CodeInvalid         = "invalid_request"
	CodeUnauthenticated = "unauthenticated"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeRateLimited     = "rate_limited"
	CodeUnavailable     = "unavailable"
)

// FieldError names one invalid input field and why it is invalid.
type FieldError struct {
	Field   string
	Code    string
	Message string
}

// Error is the application error. Message is written for the user (Chinese).
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	Fields     []FieldError
	RetryAfter time.Duration
	Err        error // optional cause, never shown to users
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the kind, code and formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a KindInvalid error carrying field errors.
func Invalid(code, message string, fields ...FieldError) *Error {
	return &Error{Kind: KindInvalid, Code: code, Message: message, Fields: fields}
}

// NotFound returns a KindNotFound error with code not_found.
func NotFound(message string) *Error {
	return &Error{Kind: KindNotFound, Code: CodeNotFound, Message: message}
}

// Unavailable returns a KindUnavailable error with a retry advice.
func Unavailable(message string, retryAfter time.Duration, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: CodeUnavailable, Message: message, RetryAfter: retryAfter, Err: cause}
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// ErrorKind returns the kind of err; non-application errors are internal.
func ErrorKind(err error) Kind {
	if e := AsError(err); e != nil {
		return e.Kind
	}
	return KindInternal
}

// ErrorCode returns the stable code of err; non-application errors are "internal".
func ErrorCode(err error) string {
	if e := AsError(err); e != nil {
		return e.Code
	}
	return CodeInternal
}

// Sentinel errors returned by stores. Stores wrap them with %w.
var (
	// ErrNotFound is returned by stores when a row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate is returned by stores when a unique constraint is violated.
	ErrDuplicate = errors.New("duplicate")
	// ErrStale is returned by conditional updates that matched no row.
	ErrStale = errors.New("stale state")
)

// isNotFound reports whether err wraps ErrNotFound.
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// ErrorText returns err's text clipped to n bytes on a rune boundary
// (redact.Clip), for last_error columns and alert details.
func ErrorText(err error, n int) string {
	if err == nil {
		return ""
	}
	return redact.Clip(err.Error(), n)
}
