package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// PlatformCallbacks verifies and applies provincial platform callbacks for
// one region (platform.Callbacks). It writes its own reply: the platform's
// request id and signature rules are its wire format.
type PlatformCallbacks interface {
	ServeCallback(w http.ResponseWriter, r *http.Request, region string)
}

func (s *Server) platformCallback(c *gin.Context) {
	s.deps.Platform.ServeCallback(c.Writer, c.Request, c.Param("region"))
}
