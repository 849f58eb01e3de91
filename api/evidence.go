package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/evidence"
	"github.com/shebao/sipay/service"
)

// EvidenceAPI serves the payment evidence log (service.EvidenceService).
type EvidenceAPI interface {
	Bundle(ctx context.Context, userID int64, code string, since uint64) (*evidence.Bundle, error)
	PublishTreeHeadFor(ctx context.Context, actor string) (*evidence.TreeHead, error)
}

// MountEvidence adds the evidence routes:
//
//	GET  /api/v1/evidence/:voucher_code      Bearer token: the record, its inclusion proof, the signed tree head
//	                                         (?since=<size>: plus the consistency proof from that size)
//	POST /api/v1/admin/evidence/tree-heads   admin token: sign a tree head now (audited)
//
// The bundle is the evidence package's JSON, which cmd/evidence-verify checks
// offline.
func (s *Server) MountEvidence(api EvidenceAPI) {
	if api == nil {
		panic("api: MountEvidence: missing dependency")
	}
	user := s.engine.Group("/api/v1", s.authenticate)
	user.GET("/evidence/:voucher_code", s.limit("evidence", 60), func(c *gin.Context) {
		var since uint64
		if v := c.Query("since"); v != "" {
			n, err := strconv.ParseUint(v, 10, 63)
			if err != nil || n == 0 {
				fail(c, service.Invalid("invalid_since", "since 须为正整数（此前见过的树大小）",
					service.FieldError{Field: "since", Code: "format", Message: "want a positive integer"}))
				return
			}
			since = n
		}
		b, err := api.Bundle(c.Request.Context(), currentUser(c).ID, c.Param("voucher_code"), since)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, b)
	})
	if s.deps.Admin != nil && s.deps.AdminToken != "" {
		admin := s.engine.Group("/api/v1/admin", s.adminAuth)
		admin.POST("/evidence/tree-heads", func(c *gin.Context) {
			h, err := api.PublishTreeHeadFor(c.Request.Context(), actorOf(c))
			if err != nil {
				fail(c, err)
				return
			}
			c.JSON(http.StatusOK, h)
		})
	}
}
