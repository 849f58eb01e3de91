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

// evidenceBundle answers GET /evidence/:voucher_code: the record, its
// inclusion proof and the signed tree head (?since=<size>: plus the
// consistency proof from that size), the evidence package's JSON, which
// cmd/evidence-verify checks offline.
func (s *Server) evidenceBundle(c *gin.Context) {
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
	b, err := s.deps.Evidence.Bundle(c.Request.Context(), currentUser(c).ID, c.Param("voucher_code"), since)
	reply(c, http.StatusOK, b, err, asIs)
}

// adminPublishTreeHead signs a tree head now (audited).
func (s *Server) adminPublishTreeHead(c *gin.Context) {
	h, err := s.deps.Evidence.PublishTreeHeadFor(c.Request.Context(), actorOf(c))
	reply(c, http.StatusOK, h, err, asIs)
}
