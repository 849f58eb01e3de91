package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// AdminAPI is the operations service (service.AdminService).
type AdminAPI interface {
	Holds(ctx context.Context, actor string, status service.HoldStatus) ([]service.Hold, error)
	Alerts(ctx context.Context, actor string, status service.AlertStatus) ([]service.Alert, error)
	Recon(ctx context.Context, actor, day string) (*service.ReconReport, error)
	ReleaseHold(ctx context.Context, actor, outTradeNo string) (*service.Hold, error)
	RejectHold(ctx context.Context, actor, outTradeNo, note string) (*service.Hold, error)
	RetryRefund(ctx context.Context, actor, outRefundNo string) (*service.Refund, error)
	ResolvePosting(ctx context.Context, actor, outTradeNo, outcome, reference, note string) (*service.PostingState, error)
	Order(ctx context.Context, actor, orderNo string) (*service.AdminOrder, error)
}

const ctxActor = "admin_actor"

var operatorPattern = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,40}$`)

// adminAuth requires "Authorization: Bearer <ADMIN_TOKEN>", compared in
// constant time. The actor recorded in the audit log is the token's id (a
// short hash, never the token) plus the X-Operator header when well formed.
func (s *Server) adminAuth(c *gin.Context) {
	token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	want := sha256.Sum256([]byte(s.deps.AdminToken))
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if !ok || s.deps.AdminToken == "" || subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		fail(c, &service.Error{Kind: service.KindUnauthenticated, Code: "admin_unauthenticated", Message: "需要有效的运营令牌"})
		return
	}
	actor := "token:" + hex.EncodeToString(want[:4])
	if op := c.GetHeader("X-Operator"); operatorPattern.MatchString(op) {
		actor += "/" + op
	}
	c.Set(ctxActor, actor)
	c.Next()
}

func actorOf(c *gin.Context) string { return c.GetString(ctxActor) }

type holdJSON struct {
	OutTradeNo string     `json:"out_trade_no"`
	OrderNo    string     `json:"order_no"`
	Rules      []string   `json:"rules"`
	Action     string     `json:"action_at_expiry"`
	Detail     string     `json:"detail"`
	Status     string     `json:"status"`
	HeldAt     time.Time  `json:"held_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	DecidedAt  *time.Time `json:"decided_at,omitempty"`
	DecidedBy  string     `json:"decided_by,omitempty"`
}

func toHoldJSON(h *service.Hold) holdJSON {
	j := holdJSON{OutTradeNo: h.OutTradeNo, OrderNo: h.OrderNo, Rules: h.Rules, Action: string(h.Action), Detail: h.Detail, Status: string(h.Status),
		HeldAt: h.HeldAt.UTC(), ExpiresAt: h.ExpiresAt.UTC(), DecidedBy: h.DecidedBy}
	j.DecidedAt = optTime(h.DecidedAt)
	if j.Rules == nil {
		j.Rules = []string{}
	}
	return j
}

func (s *Server) adminHolds(c *gin.Context) {
	hs, err := s.deps.Admin.Holds(c.Request.Context(), actorOf(c), service.HoldStatus(c.Query("status")))
	replyList(c, "holds", hs, err, byValue(toHoldJSON))
}

type alertJSON struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Ref       string    `json:"ref"`
	Detail    string    `json:"detail"`
	Status    string    `json:"status"`
	Count     int       `json:"count"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen_at"`
}

func toAlertJSON(a service.Alert) alertJSON {
	return alertJSON{ID: a.ID, Kind: a.Kind, Ref: a.Ref, Detail: a.Detail, Status: string(a.Status), Count: a.Count,
		CreatedAt: a.CreatedAt.UTC(), LastSeen: a.LastSeenAt.UTC()}
}

func (s *Server) adminAlerts(c *gin.Context) {
	as, err := s.deps.Admin.Alerts(c.Request.Context(), actorOf(c), service.AlertStatus(c.Query("status")))
	replyList(c, "alerts", as, err, toAlertJSON)
}

type findingJSON struct {
	Kind        string `json:"kind"`
	OutTradeNo  string `json:"out_trade_no,omitempty"`
	OutRefundNo string `json:"out_refund_no,omitempty"`
	LocalFen    int64  `json:"local_fen"`
	RemoteFen   int64  `json:"remote_fen"`
	Detail      string `json:"detail,omitempty"`
}

func toReconJSON(r *service.ReconReport) gin.H {
	findings := listJSON(r.Findings, func(f service.ReconFinding) findingJSON {
		return findingJSON{Kind: f.Kind, OutTradeNo: f.OutTradeNo, OutRefundNo: f.OutRefundNo, LocalFen: int64(f.LocalFen), RemoteFen: int64(f.RemoteFen), Detail: f.Detail}
	})
	return gin.H{"date": r.Day, "bill_rows": r.BillRows, "ran_at": r.RanAt.UTC(), "findings": findings}
}

func (s *Server) adminRecon(c *gin.Context) {
	r, err := s.deps.Admin.Recon(c.Request.Context(), actorOf(c), c.Query("date"))
	reply(c, http.StatusOK, r, err, toReconJSON)
}

func (s *Server) adminReleaseHold(c *gin.Context) {
	h, err := s.deps.Admin.ReleaseHold(c.Request.Context(), actorOf(c), c.Param("out_trade_no"))
	reply(c, http.StatusOK, h, err, toHoldJSON)
}

type rejectHoldRequest struct {
	Note string `json:"note"`
}

func (s *Server) adminRejectHold(c *gin.Context) {
	var req rejectHoldRequest
	if c.Request.ContentLength != 0 && !bind(c, &req) {
		return
	}
	if len([]rune(req.Note)) > 200 {
		fail(c, service.Invalid("invalid_request", "备注过长", service.FieldError{Field: "note", Code: "too_long", Message: "最多200字"}))
		return
	}
	h, err := s.deps.Admin.RejectHold(c.Request.Context(), actorOf(c), c.Param("out_trade_no"), req.Note)
	reply(c, http.StatusOK, h, err, toHoldJSON)
}

func (s *Server) adminRetryRefund(c *gin.Context) {
	r, err := s.deps.Admin.RetryRefund(c.Request.Context(), actorOf(c), c.Param("out_refund_no"))
	reply(c, http.StatusAccepted, r, err, func(r *service.Refund) gin.H {
		return gin.H{"out_refund_no": r.OutRefundNo, "status": r.Status, "attempts": r.Attempts, "last_error": r.LastError}
	})
}

type resolvePostingRequest struct {
	Outcome   string `json:"outcome"`   // refund | posted
	Reference string `json:"reference"` // the platform's reference (受理编号) when posted
	Note      string `json:"note"`      // how the outcome was confirmed with the platform
}

// adminResolvePosting records what the platform confirmed out of band for a
// batch whose posting outcome is unknown (status confirming).
func (s *Server) adminResolvePosting(c *gin.Context, req resolvePostingRequest) {
	st, err := s.deps.Admin.ResolvePosting(c.Request.Context(), actorOf(c), c.Param("out_trade_no"), req.Outcome, req.Reference, req.Note)
	reply(c, http.StatusOK, st, err, func(st *service.PostingState) gin.H {
		out := gin.H{"out_trade_no": c.Param("out_trade_no"), "batch_status": st.BatchStatus}
		if st.Posting != nil {
			out["posting_status"], out["reference"] = st.Posting.Status, st.Posting.Reference
		}
		return out
	})
}

type eventJSON struct {
	BatchSeq  int       `json:"batch_seq"`
	Type      string    `json:"type"`
	Detail    string    `json:"detail"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) adminOrder(c *gin.Context) {
	o, err := s.deps.Admin.Order(c.Request.Context(), actorOf(c), c.Param("order_no"))
	reply(c, http.StatusOK, o, err, toAdminOrderJSON)
}

// toAdminOrderJSON is an order with its batches' posting, hold and refund
// and the timeline, for operations.
func toAdminOrderJSON(o *service.AdminOrder) gin.H {
	events := listJSON(o.Events, func(e service.OrderEvent) eventJSON {
		return eventJSON{BatchSeq: e.BatchSeq, Type: e.Type, Detail: e.Detail, CreatedAt: e.CreatedAt.UTC()}
	})
	type batchJSON struct {
		Seq           int             `json:"seq"`
		OutTradeNo    string          `json:"out_trade_no"`
		AmountFen     int64           `json:"amount_fen"`
		Status        string          `json:"status"`
		TransactionID string          `json:"transaction_id,omitempty"`
		PaidAt        *time.Time      `json:"paid_at,omitempty"`
		Posting       gin.H           `json:"posting,omitempty"`
		Hold          *holdJSON       `json:"hold,omitempty"`
		Refund        *refundViewJSON `json:"refund,omitempty"`
	}
	batches := make([]batchJSON, len(o.Order.Batches))
	for i, b := range o.Order.Batches {
		bj := batchJSON{Seq: b.Seq, OutTradeNo: b.OutTradeNo, AmountFen: int64(b.AmountFen), Status: string(b.Status), TransactionID: b.TransactionID}
		bj.PaidAt = optTime(b.PaidAt)
		if p := o.Postings[b.OutTradeNo]; p != nil {
			bj.Posting = gin.H{"status": p.Status, "reference": p.Reference, "reason": p.Reason, "failures": p.Failures, "last_error": p.LastError}
		}
		if h := o.Holds[b.OutTradeNo]; h != nil {
			hj := toHoldJSON(h)
			bj.Hold = &hj
		}
		if r := o.Refunds[b.OutTradeNo]; r != nil {
			rj := ToRefundViewJSON(r)
			bj.Refund = &rj
		}
		batches[i] = bj
	}
	// The person is referred to by id only; identity stays masked elsewhere.
	return gin.H{"order_no": o.Order.No, "user_id": o.Order.UserID, "person_id": o.Order.PersonID, "region": o.Order.Region,
		"amount_fen": int64(o.Order.AmountFen), "status": o.Order.Status, "batches": batches, "timeline": events}
}
