package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// HelpAPI is the smart FAQ (service.HelpService).
type HelpAPI interface {
	Search(q string, limit int, care bool) ([]service.FAQHit, error)
	ForOrder(ctx context.Context, userID int64, orderNo string, care bool) (*service.OrderHelp, error)
}

// SubscriptionAPI records subscribe-message grants (service.SubscribeService).
type SubscriptionAPI interface {
	Templates(ctx context.Context, userID int64) ([]service.TemplateGrant, error)
	RecordResults(ctx context.Context, userID int64, results map[string]string) ([]service.TemplateGrant, error)
}

// LapseAPI manages lapse-reminder opt-ins (service.LapseService).
type LapseAPI interface {
	Watch(ctx context.Context, userID int64, region, person string) (*service.LapseWatch, error)
	Unwatch(ctx context.Context, userID int64, region, person string) error
	Watches(ctx context.Context, userID int64) ([]service.LapseWatch, error)
}

type faqHitJSON struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

func toFAQHits(hs []service.FAQHit) []faqHitJSON {
	return listJSON(hs, func(h service.FAQHit) faqHitJSON {
		return faqHitJSON{ID: h.ID, Category: h.Category, Question: h.Question, Answer: h.Answer}
	})
}

func (s *Server) helpSearch(c *gin.Context) {
	u := currentUser(c)
	limit, _ := strconv.Atoi(c.DefaultQuery("limit", "5"))
	hits, err := s.deps.Help.Search(c.Query("q"), limit, u.CareMode)
	reply(c, http.StatusOK, hits, err, func(hits []service.FAQHit) gin.H {
		return gin.H{"care_mode": u.CareMode, "answers": toFAQHits(hits)}
	})
}

func (s *Server) helpForOrder(c *gin.Context) {
	u := currentUser(c)
	h, err := s.deps.Help.ForOrder(c.Request.Context(), u.ID, c.Param("order_no"), u.CareMode)
	reply(c, http.StatusOK, h, err, func(h *service.OrderHelp) gin.H {
		return gin.H{"order_no": h.OrderNo, "status": h.Status, "delayed": h.Delayed, "title": h.Title,
			"explanation": h.Explanation, "next_action": h.NextAction, "care_mode": u.CareMode, "related": toFAQHits(h.Related)}
	})
}

type templateJSON struct {
	Key        string `json:"key"`
	TemplateID string `json:"template_id"`
	Title      string `json:"title"`
	Remaining  int    `json:"remaining"`
}

func toTemplateJSON(t service.TemplateGrant) templateJSON {
	return templateJSON{Key: t.Key, TemplateID: t.TemplateID, Title: t.Title, Remaining: t.Remaining}
}

func (s *Server) subscriptionsList(c *gin.Context) {
	ts, err := s.deps.Subscriptions.Templates(c.Request.Context(), currentUser(c).ID)
	replyList(c, "templates", ts, err, toTemplateJSON)
}

// subscriptionsRequest is wx.requestSubscribeMessage's result as the
// mini-program got it: template id → accept | reject | ban | filter.
type subscriptionsRequest struct {
	Results map[string]string `json:"results"`
}

func (s *Server) subscriptionsRecord(c *gin.Context, req subscriptionsRequest) {
	ts, err := s.deps.Subscriptions.RecordResults(c.Request.Context(), currentUser(c).ID, req.Results)
	replyList(c, "templates", ts, err, toTemplateJSON)
}

type lapseJSON struct {
	Region    string    `json:"region"`
	PersonID  int64     `json:"person_id"`
	CreatedAt time.Time `json:"created_at"`
}

func toLapseJSON(w *service.LapseWatch) lapseJSON {
	return lapseJSON{Region: w.Region, PersonID: w.PersonID, CreatedAt: w.CreatedAt.UTC()}
}

type lapseRequest struct {
	Region string `json:"region"`
	Person string `json:"person"`
}

func (s *Server) lapseList(c *gin.Context) {
	ws, err := s.deps.Lapse.Watches(c.Request.Context(), currentUser(c).ID)
	replyList(c, "reminders", ws, err, byValue(toLapseJSON))
}

func (s *Server) lapseWatch(c *gin.Context, req lapseRequest) {
	w, err := s.deps.Lapse.Watch(c.Request.Context(), currentUser(c).ID, req.Region, req.Person)
	reply(c, http.StatusOK, w, err, toLapseJSON)
}

func (s *Server) lapseUnwatch(c *gin.Context) {
	noContent(c, s.deps.Lapse.Unwatch(c.Request.Context(), currentUser(c).ID, c.Param("region"), c.Param("person")))
}
