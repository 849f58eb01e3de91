package service_test

import (
	"testing"

	"github.com/shebao/sipay/service"
)

func TestFaceRetError(t *testing.T) {
	for ret, code := range map[int]string{
		90002: service.CodeFaceCancelled, 90003: service.CodeFaceCancelled, 90006: service.CodeFaceCancelled,
		90007: service.CodeFaceRetryLater,
		90008: service.CodeFaceCameraPermission, 90009: service.CodeFaceCameraPermission, 90010: service.CodeFaceCameraPermission,
		90011: service.CodeFaceCaptureInvalid, 90013: service.CodeFaceCaptureInvalid, 90014: service.CodeFaceCaptureInvalid,
		90012: service.CodeFaceRetryLater,
		90017: service.CodeFaceTimeout,
		90018: service.CodeFaceRetryLater, 90104: service.CodeFaceRetryLater, 1: service.CodeFaceRetryLater,
	} {
		e := service.FaceRetError(ret)
		if e.Code != code || e.Kind != service.KindUnprocessable || e.Message == "" {
			t.Errorf("FaceRetError(%d)=%s/%v, want %s/unprocessable with a message", ret, e.Code, e.Kind, code)
		}
	}
}
