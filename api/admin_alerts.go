package api

import (
	"context"
	"net/http"
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
		id, ok := pathID(c, "id", service.NotFound("告警不存在"))
		if !ok {
			return
		}
		var req alertNoteRequest
		if c.Request.ContentLength != 0 && !bind(c, &req) {
			return
		}
		decide := s.deps.Ops.ResolveAlert
		if ack {
			decide = s.deps.Ops.AckAlert
		}
		a, err := decide(c.Request.Context(), actorOf(c), id, req.Note)
		reply(c, http.StatusOK, a, err, toAlertDecisionJSON)
	}
}

func toAlertDecisionJSON(a *service.OpsAlert) alertDecisionJSON {
	return alertDecisionJSON{ID: a.ID, Kind: a.Kind, Ref: a.Ref, Status: string(a.Status), DecidedBy: a.DecidedBy, Note: a.Note,
		AckedAt: optTime(a.AckedAt), ResolvedAt: optTime(a.ResolvedAt)}
}
