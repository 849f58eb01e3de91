package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// AlertDecider acknowledges and resolves alerts (service.OpsService); the
// operations console calls the same methods.
type AlertDecider interface {
	AckAlert(ctx context.Context, actor string, id int64, note string) (*service.OpsAlert, error)
	ResolveAlert(ctx context.Context, actor string, id int64, note string) (*service.OpsAlert, error)
}

type alertDecisionJSON struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	Ref        string     `json:"ref"`
	Status     string     `json:"status"`
	DecidedBy  string     `json:"decided_by,omitempty"`
	Note       string     `json:"note,omitempty"`
	AckedAt    *time.Time `json:"acked_at,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

type alertNoteRequest struct {
	Note string `json:"note"`
}

func (s *Server) adminDecideAlert(ack bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil || id <= 0 {
			fail(c, service.NotFound("告警不存在"))
			return
		}
		var req alertNoteRequest
		if c.Request.ContentLength != 0 && !bind(c, &req) {
			return
		}
		var a *service.OpsAlert
		if ack {
			a, err = s.deps.Ops.AckAlert(c.Request.Context(), actorOf(c), id, req.Note)
		} else {
			a, err = s.deps.Ops.ResolveAlert(c.Request.Context(), actorOf(c), id, req.Note)
		}
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, alertDecisionJSON{ID: a.ID, Kind: a.Kind, Ref: a.Ref, Status: string(a.Status), DecidedBy: a.DecidedBy, Note: a.Note,
			AckedAt: optTime(a.AckedAt), ResolvedAt: optTime(a.ResolvedAt)})
	}
}
