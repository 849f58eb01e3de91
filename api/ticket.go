package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// TicketAPI is customer-service tickets (service.TicketService): the user's
// side and operations' (audited).
type TicketAPI interface {
	Open(ctx context.Context, userID int64, in service.TicketInput) (*service.Ticket, error)
	Mine(ctx context.Context, userID int64) ([]service.Ticket, error)
	Get(ctx context.Context, userID int64, no string) (*service.Ticket, error)
	FollowUp(ctx context.Context, userID int64, no, body string) (*service.Ticket, error)
	SetStatus(ctx context.Context, userID int64, no, status string) (*service.Ticket, error)

	AdminTickets(ctx context.Context, actor, status string) ([]service.Ticket, error)
	AdminTicket(ctx context.Context, actor, no string) (*service.Ticket, error)
	Reply(ctx context.Context, actor, no, body string) (*service.Ticket, error)
	AdminSetStatus(ctx context.Context, actor, no, status, note string) (*service.Ticket, error)
}

type ticketMessageJSON struct {
	Author    string    `json:"author"`
	Actor     string    `json:"actor,omitempty"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

type ticketJSON struct {
	TicketNo           string                 `json:"ticket_no"`
	OrderNo            string                 `json:"order_no,omitempty"`
	Source             string                 `json:"source"`
	Category           string                 `json:"category"`
	Status             string                 `json:"status"`
	Subject            string                 `json:"subject"`
	OpenedAt           time.Time              `json:"opened_at"`
	FirstResponseDueAt time.Time              `json:"first_response_due_at"`
	FirstResponseAt    *time.Time             `json:"first_response_at,omitempty"`
	SLABreached        bool                   `json:"sla_breached"`
	ResolvedAt         *time.Time             `json:"resolved_at,omitempty"`
	Messages           []ticketMessageJSON    `json:"messages,omitempty"`
	Context            *service.TicketContext `json:"context,omitempty"`
}

// toTicketJSON converts a ticket; the operator's name is shown to
// operations only.
func toTicketJSON(t *service.Ticket, ops bool) ticketJSON {
	out := ticketJSON{TicketNo: t.No, OrderNo: t.OrderNo, Source: t.Source, Category: t.Category, Status: string(t.Status),
		Subject: t.Subject, OpenedAt: t.OpenedAt.UTC(), FirstResponseDueAt: t.FirstResponseDueAt.UTC(),
		FirstResponseAt: optTime(t.FirstResponseAt), SLABreached: !t.SLABreachedAt.IsZero(), ResolvedAt: optTime(t.ResolvedAt),
		Context: t.Context}
	for _, m := range t.Messages {
		j := ticketMessageJSON{Author: m.Author, Body: m.Body, CreatedAt: m.CreatedAt.UTC()}
		if ops {
			j.Actor = m.Actor
		}
		out.Messages = append(out.Messages, j)
	}
	return out
}

// userTicket and opsTicket convert a ticket for its user and for operations.
func userTicket(t *service.Ticket) ticketJSON { return toTicketJSON(t, false) }
func opsTicket(t *service.Ticket) ticketJSON  { return toTicketJSON(t, true) }

type ticketOpenRequest struct {
	OrderNo  string `json:"order_no"`
	Category string `json:"category"`
	Body     string `json:"body"`
	FAQID    string `json:"faq_id"`
}

func (s *Server) ticketOpen(c *gin.Context, req ticketOpenRequest) {
	t, err := s.deps.Tickets.Open(c.Request.Context(), currentUser(c).ID,
		service.TicketInput{OrderNo: req.OrderNo, Category: req.Category, Body: req.Body, FAQID: req.FAQID})
	reply(c, http.StatusCreated, t, err, userTicket)
}

func (s *Server) ticketList(c *gin.Context) {
	ts, err := s.deps.Tickets.Mine(c.Request.Context(), currentUser(c).ID)
	replyList(c, "tickets", ts, err, byValue(userTicket))
}

func (s *Server) ticketGet(c *gin.Context) {
	t, err := s.deps.Tickets.Get(c.Request.Context(), currentUser(c).ID, c.Param("ticket_no"))
	reply(c, http.StatusOK, t, err, userTicket)
}

type ticketBodyRequest struct {
	Body string `json:"body"`
}

func (s *Server) ticketFollowUp(c *gin.Context, req ticketBodyRequest) {
	t, err := s.deps.Tickets.FollowUp(c.Request.Context(), currentUser(c).ID, c.Param("ticket_no"), req.Body)
	reply(c, http.StatusOK, t, err, userTicket)
}

type ticketStatusRequest struct {
	Status string `json:"status"`
	Note   string `json:"note"`
}

type ticketUserStatusRequest struct {
	Status string `json:"status"`
}

func (s *Server) ticketStatus(c *gin.Context, req ticketUserStatusRequest) {
	t, err := s.deps.Tickets.SetStatus(c.Request.Context(), currentUser(c).ID, c.Param("ticket_no"), req.Status)
	reply(c, http.StatusOK, t, err, userTicket)
}

func (s *Server) adminTickets(c *gin.Context) {
	ts, err := s.deps.Tickets.AdminTickets(c.Request.Context(), actorOf(c), c.Query("status"))
	replyList(c, "tickets", ts, err, byValue(opsTicket))
}

func (s *Server) adminTicket(c *gin.Context) {
	t, err := s.deps.Tickets.AdminTicket(c.Request.Context(), actorOf(c), c.Param("ticket_no"))
	reply(c, http.StatusOK, t, err, opsTicket)
}

func (s *Server) adminTicketReply(c *gin.Context, req ticketBodyRequest) {
	t, err := s.deps.Tickets.Reply(c.Request.Context(), actorOf(c), c.Param("ticket_no"), req.Body)
	reply(c, http.StatusOK, t, err, opsTicket)
}

func (s *Server) adminTicketStatus(c *gin.Context, req ticketStatusRequest) {
	t, err := s.deps.Tickets.AdminSetStatus(c.Request.Context(), actorOf(c), c.Param("ticket_no"), req.Status, req.Note)
	reply(c, http.StatusOK, t, err, opsTicket)
}
