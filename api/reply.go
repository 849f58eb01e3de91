package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// A handler decodes (withBody, pathID), calls one service method and
// answers through reply, replyList or noContent, which write the error
// envelope (fail) when the call failed.

// withBody adapts a handler of a JSON body: it binds the body into a Req
// (strictly, see bind) and calls h with it, or answers the error envelope.
func withBody[Req any](h func(c *gin.Context, req Req)) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req Req
		if bind(c, &req) {
			h(c, req)
		}
	}
}

// pathID parses the path parameter name as a positive integer id. A
// malformed id is answered with notFound, like an unknown one.
func pathID(c *gin.Context, name string, notFound error) (int64, bool) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		fail(c, notFound)
		return 0, false
	}
	return id, true
}

// reply answers status with the JSON of to(v), or the error envelope when
// err is set (v is then not looked at).
func reply[T, R any](c *gin.Context, status int, v T, err error, to func(T) R) {
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(status, to(v))
}

// replyList answers 200 with {key: the converted list}, or the error
// envelope when err is set.
func replyList[T, R any](c *gin.Context, key string, xs []T, err error, to func(T) R) {
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{key: listJSON(xs, to)})
}

// noContent answers 204, or the error envelope when err is set.
func noContent(c *gin.Context, err error) {
	if err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// listJSON converts each of xs with to. The result is never nil, so an
// empty list is [] in JSON, not null.
func listJSON[T, R any](xs []T, to func(T) R) []R {
	out := make([]R, len(xs))
	for i, x := range xs {
		out[i] = to(x)
	}
	return out
}

// byValue adapts a converter of *T to the elements of a []T.
func byValue[T, R any](to func(*T) R) func(T) R {
	return func(v T) R { return to(&v) }
}

// asIs is the conversion of a result already shaped for JSON.
func asIs[T any](v T) T { return v }
