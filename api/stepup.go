package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// StepUpAPI clears held payments by a fresh face verification
// (service.StepUpService): POST /orders/:order_no/batches/:seq/step-up
// starts it (the verify_id for wx.requestFacialVerify), …/step-up/result
// with {"verify_id"} reads it; a pass releases the hold.
type StepUpAPI interface {
	Start(ctx context.Context, userID int64, orderNo string, seq int) (*service.StepUpStart, error)
	Result(ctx context.Context, userID int64, orderNo string, seq int, verifyID string) (*service.StepUpResult, error)
}

func (s *Server) stepUpStart(c *gin.Context) {
	seq, ok := batchSeq(c)
	if !ok {
		return
	}
	st, err := s.deps.StepUp.Start(c.Request.Context(), currentUser(c).ID, c.Param("order_no"), seq)
	reply(c, http.StatusOK, st, err, toStepUpStartResponse)
}

func (s *Server) stepUpResult(c *gin.Context) {
	seq, ok := batchSeq(c)
	if !ok {
		return
	}
	var req faceResultRequest
	if !bind(c, &req) {
		return
	}
	res, err := s.deps.StepUp.Result(c.Request.Context(), currentUser(c).ID, c.Param("order_no"), seq, req.VerifyID)
	reply(c, http.StatusOK, res, err, toStepUpResultResponse)
}

// batchSeq reads the :seq path parameter; a bad one is not found.
func batchSeq(c *gin.Context) (int, bool) {
	seq, err := strconv.Atoi(c.Param("seq"))
	if err != nil || seq < 1 || seq > 99 {
		fail(c, service.NotFound("该笔缴费不存在"))
		return 0, false
	}
	return seq, true
}

type stepUpStartResponse struct {
	VerifyID     string `json:"verify_id"`
	ExpiresIn    int    `json:"expires_in"`
	AttemptNo    int    `json:"attempt_no"`
	AttemptsLeft int    `json:"attempts_left"`
}

func toStepUpStartResponse(st *service.StepUpStart) stepUpStartResponse {
	return stepUpStartResponse{VerifyID: st.VerifyID, ExpiresIn: int(st.ExpiresIn.Seconds()),
		AttemptNo: st.AttemptNo, AttemptsLeft: st.AttemptsLeft}
}

type stepUpResultResponse struct {
	Released   bool       `json:"released"`
	HoldStatus string     `json:"hold_status"`
	DecidedAt  *time.Time `json:"decided_at,omitempty"`
}

func toStepUpResultResponse(res *service.StepUpResult) stepUpResultResponse {
	return stepUpResultResponse{Released: res.Released, HoldStatus: string(res.Hold.Status), DecidedAt: optTime(res.Hold.DecidedAt)}
}

// holdChoiceJSON tells the payer of a held batch what they may do.
type holdChoiceJSON struct {
	Choice       string    `json:"choice"` // step_up | wait_for_review
	Note         string    `json:"note"`
	AttemptsLeft int       `json:"attempts_left"`
	Until        time.Time `json:"until"`
}

func toHoldChoiceJSON(c *service.HoldChoice) *holdChoiceJSON {
	if c == nil {
		return nil
	}
	return &holdChoiceJSON{Choice: c.Choice, Note: c.Note, AttemptsLeft: c.AttemptsLeft, Until: c.Until.UTC()}
}
