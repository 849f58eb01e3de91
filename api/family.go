package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// Family is family proxy payment as the API calls it (service.FamilyService).
type Family interface {
	Add(ctx context.Context, userID int64, in service.FamilyInput) (*service.FamilyView, error)
	List(ctx context.Context, userID int64) ([]*service.FamilyView, error)
	Remove(ctx context.Context, userID, id int64) error
	Accept(ctx context.Context, memberUserID int64, token string) (*service.FamilyView, error)
	ConsentWithCheck(ctx context.Context, userID, bindingID int64, checkID string) (*service.FamilyView, error)
	Withdraw(ctx context.Context, memberUserID, bindingID int64) (*service.FamilyView, error)
}

type familyAddRequest struct {
	identityRequest
	Relation string `json:"relation"`
}

type familyResponse struct {
	ID                  int64      `json:"id"`
	Relation            string     `json:"relation"`
	Name                string     `json:"name"`
	IDType              string     `json:"id_type"`
	IDNumber            string     `json:"id_number"`
	Status              string     `json:"status"`
	ConsentedAt         *time.Time `json:"consented_at,omitempty"`
	CreatedAt           time.Time  `json:"created_at"`
	Invitation          string     `json:"invitation,omitempty"`
	InvitationExpiresAt *time.Time `json:"invitation_expires_at,omitempty"`
}

// toFamilyResponse converts a view; name and ID number are already masked.
func toFamilyResponse(v *service.FamilyView) familyResponse {
	return familyResponse{ID: v.ID, Relation: v.Relation, Name: v.Name, IDType: string(v.IDType), IDNumber: v.IDNumber,
		Status: string(v.Status), ConsentedAt: optTime(v.ConsentedAt), CreatedAt: v.CreatedAt.UTC(), Invitation: v.Invitation,
		InvitationExpiresAt: optTime(v.InvitationExpiresAt)}
}

func (s *Server) familyAdd(c *gin.Context, req familyAddRequest) {
	v, err := s.deps.Family.Add(c.Request.Context(), currentUser(c).ID, service.FamilyInput{IdentityInput: req.input(), Relation: req.Relation})
	reply(c, http.StatusCreated, v, err, toFamilyResponse)
}

func (s *Server) familyList(c *gin.Context) {
	vs, err := s.deps.Family.List(c.Request.Context(), currentUser(c).ID)
	replyList(c, "family", vs, err, toFamilyResponse)
}

// bindingID parses the :id path parameter; a malformed id is a 404 like an
// unknown one.
func bindingID(c *gin.Context) (int64, bool) { return pathID(c, "id", service.ErrFamilyNotFound) }

func (s *Server) familyRemove(c *gin.Context) {
	id, ok := bindingID(c)
	if !ok {
		return
	}
	noContent(c, s.deps.Family.Remove(c.Request.Context(), currentUser(c).ID, id))
}

type familyConsentRequest struct {
	CheckID string `json:"check_id"`
}

func (s *Server) familyConsent(c *gin.Context) {
	id, ok := bindingID(c)
	if !ok {
		return
	}
	var req familyConsentRequest
	if !bind(c, &req) {
		return
	}
	v, err := s.deps.Family.ConsentWithCheck(c.Request.Context(), currentUser(c).ID, id, req.CheckID)
	reply(c, http.StatusOK, v, err, toFamilyResponse)
}

func (s *Server) familyAccept(c *gin.Context) {
	v, err := s.deps.Family.Accept(c.Request.Context(), currentUser(c).ID, c.Param("token"))
	reply(c, http.StatusOK, v, err, toFamilyResponse)
}

// familyWithdraw is the member withdrawing consent to the binding :id (the
// id the accept answer showed); the caller must be the bound person.
func (s *Server) familyWithdraw(c *gin.Context) {
	id, ok := bindingID(c)
	if !ok {
		return
	}
	v, err := s.deps.Family.Withdraw(c.Request.Context(), currentUser(c).ID, id)
	reply(c, http.StatusOK, v, err, toFamilyResponse)
}
