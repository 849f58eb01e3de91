package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

type loginRequest struct {
	Code string `json:"code"`
}

type userResponse struct {
	ID       int64           `json:"id"`
	Verified bool            `json:"verified"`
	CareMode bool            `json:"care_mode"`
	Identity *identityMasked `json:"identity"`
}

// identityMasked is the masked identity shown to the user.
type identityMasked struct {
	Name     string `json:"name"`
	IDType   string `json:"id_type"`
	IDNumber string `json:"id_number"`
}

type loginResponse struct {
	Token     string       `json:"token"`
	ExpiresAt time.Time    `json:"expires_at"`
	User      userResponse `json:"user"`
}

func (s *Server) login(c *gin.Context, req loginRequest) {
	sess, err := s.deps.Auth.Login(c.Request.Context(), req.Code)
	reply(c, http.StatusOK, sess, err, func(sess *service.Session) loginResponse {
		return loginResponse{Token: sess.Token, ExpiresAt: sess.ExpiresAt.UTC(), User: s.toUserResponse(c, sess.User)}
	})
}

// logout ends the caller's session: DELETE /api/v1/auth/session.
func (s *Server) logout(ender SessionEnder) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		noContent(c, ender.Logout(c.Request.Context(), strings.TrimSpace(token)))
	}
}

// logoutEverywhere ends every session of the caller, this one included:
// DELETE /api/v1/auth/sessions.
func (s *Server) logoutEverywhere(ender SessionEnder) gin.HandlerFunc {
	return func(c *gin.Context) {
		noContent(c, ender.LogoutEverywhere(c.Request.Context(), currentUser(c).ID))
	}
}

func (s *Server) me(c *gin.Context) {
	c.JSON(http.StatusOK, s.toUserResponse(c, currentUser(c)))
}

type updateMeRequest struct {
	CareMode *bool `json:"care_mode"`
}

func (s *Server) updateMe(c *gin.Context, req updateMeRequest) {
	if req.CareMode == nil {
		fail(c, service.Invalid("invalid_request", "没有可更新的字段",
			service.FieldError{Field: "care_mode", Code: "required", Message: "请提供 care_mode"}))
		return
	}
	u, err := s.deps.Auth.SetCareMode(c.Request.Context(), currentUser(c).ID, *req.CareMode)
	reply(c, http.StatusOK, u, err, func(u *service.User) userResponse { return s.toUserResponse(c, u) })
}

func (s *Server) toUserResponse(c *gin.Context, u *service.User) userResponse {
	r := userResponse{ID: u.ID, Verified: u.Verified(), CareMode: u.CareMode}
	if u.Verified() && s.deps.Identity != nil {
		if p, err := s.deps.Identity.MaskedPerson(c.Request.Context(), u.PersonID); err == nil {
			r.Identity = &identityMasked{Name: p.Name, IDType: string(p.IDType), IDNumber: p.IDNumber}
		}
	}
	return r
}
