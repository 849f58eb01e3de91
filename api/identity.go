package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/service"
)

// FaceVerification is face verification as the API calls it
// (service.FaceService).
type FaceVerification interface {
	Start(ctx context.Context, userID int64, in service.IdentityInput) (*service.FaceStart, error)
	Result(ctx context.Context, userID int64, verifyID string) (*service.Person, error)
	Legacy(ctx context.Context, userID int64, in service.LegacyInput) (*service.Person, error)
}

// AltIdentity is the alternative identity check (service.AltIdentityService).
type AltIdentity interface {
	Start(ctx context.Context, userID int64, in service.AltStartInput) (*service.AltCheck, error)
	Finish(ctx context.Context, userID int64, checkID, secret string) (*service.AltResult, error)
}

type identityRequest struct {
	Name     string `json:"name"`
	IDType   string `json:"id_type"`
	IDNumber string `json:"id_number"`
}

func (r identityRequest) input() service.IdentityInput {
	return service.IdentityInput{Name: r.Name, IDType: service.IDType(r.IDType), IDNumber: r.IDNumber}
}

type faceStartResponse struct {
	VerifyID  string `json:"verify_id"`
	ExpiresIn int    `json:"expires_in"`
}

func toFaceStartResponse(f *service.FaceStart) faceStartResponse {
	return faceStartResponse{VerifyID: f.VerifyID, ExpiresIn: int(f.ExpiresIn.Seconds())}
}

// verifiedResponse answers a successful verification with the identity
// masked.
type verifiedResponse struct {
	Verified bool           `json:"verified"`
	Identity identityMasked `json:"identity"`
}

func maskedIdentity(p *service.Person) identityMasked {
	return identityMasked{Name: pii.MaskName(p.Name), IDType: string(p.IDType), IDNumber: pii.MaskIDNumber(p.IDNumber)}
}

func toVerifiedResponse(p *service.Person) verifiedResponse {
	return verifiedResponse{Verified: true, Identity: maskedIdentity(p)}
}

func (s *Server) faceStart(c *gin.Context, req identityRequest) {
	res, err := s.deps.Face.Start(c.Request.Context(), currentUser(c).ID, req.input())
	reply(c, http.StatusOK, res, err, toFaceStartResponse)
}

type faceResultRequest struct {
	VerifyID string `json:"verify_id"`
}

func (s *Server) faceResult(c *gin.Context, req faceResultRequest) {
	p, err := s.deps.Face.Result(c.Request.Context(), currentUser(c).ID, req.VerifyID)
	reply(c, http.StatusOK, p, err, toVerifiedResponse)
}

type faceLegacyRequest struct {
	identityRequest
	VerifyResult string `json:"verify_result"`
}

func (s *Server) faceLegacy(c *gin.Context, req faceLegacyRequest) {
	p, err := s.deps.Face.Legacy(c.Request.Context(), currentUser(c).ID, service.LegacyInput{IdentityInput: req.input(), VerifyResult: req.VerifyResult})
	reply(c, http.StatusOK, p, err, toVerifiedResponse)
}

type altStartRequest struct {
	identityRequest
	Region  string `json:"region"`
	Method  string `json:"method"`
	Purpose string `json:"purpose"`
	Phone   string `json:"phone"`
}

type altStartResponse struct {
	CheckID   string `json:"check_id"`
	Method    string `json:"method"`
	ExpiresIn int    `json:"expires_in"`
}

func toAltStartResponse(a *service.AltCheck) altStartResponse {
	return altStartResponse{CheckID: a.CheckID, Method: a.Method, ExpiresIn: int(a.ExpiresIn.Seconds())}
}

func (s *Server) altStart(c *gin.Context, req altStartRequest) {
	res, err := s.deps.AltIdentity.Start(c.Request.Context(), currentUser(c).ID, service.AltStartInput{
		Region: req.Region, Method: req.Method, Purpose: req.Purpose, IdentityInput: req.input(), Phone: req.Phone})
	reply(c, http.StatusOK, res, err, toAltStartResponse)
}

type altFinishRequest struct {
	CheckID string `json:"check_id"`
	Secret  string `json:"secret"`
}

type altFinishResponse struct {
	CheckID  string         `json:"check_id"`
	Purpose  string         `json:"purpose"`
	Verified bool           `json:"verified"`
	Identity identityMasked `json:"identity"`
}

func toAltFinishResponse(r *service.AltResult) altFinishResponse {
	return altFinishResponse{CheckID: r.CheckID, Purpose: r.Purpose, Verified: true, Identity: maskedIdentity(r.Person)}
}

func (s *Server) altFinish(c *gin.Context, req altFinishRequest) {
	res, err := s.deps.AltIdentity.Finish(c.Request.Context(), currentUser(c).ID, req.CheckID, req.Secret)
	reply(c, http.StatusOK, res, err, toAltFinishResponse)
}
