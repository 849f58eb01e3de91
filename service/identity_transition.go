package service

import (
	"slices"
	"time"
)

// The transitions of face attempts and alternative identity checks. Like
// Batch's, each enforces its table and returns a KindConflict
// invalid_transition error without changing the record when the move is not
// allowed. Use cases call them inside an UpdateFaceAttempt or
// UpdateIdentityCheck closure; the store only persists the result.

// faceTransitions is the state machine of a face attempt. A starting
// attempt (reserved, no verify_id yet) gets one (pending), or ends at once:
// our call failed (error), or the 1.0 flow's single answer verified or
// refused it. WeChat's answer for a pending attempt ends it. A repeated
// verified answer (two result queries racing) is allowed; failed and error
// are final.
var faceTransitions = map[FaceStatus][]FaceStatus{
	FaceStarting: {FacePending, FaceVerified, FaceFailed, FaceError},
	FacePending:  {FaceVerified, FaceFailed},
	FaceVerified: {FaceVerified},
}

// Ended reports whether an attempt in status s has its outcome.
func (s FaceStatus) Ended() bool { return s == FaceVerified || s == FaceFailed || s == FaceError }

func (a *FaceAttempt) moveTo(to FaceStatus) error {
	if !slices.Contains(faceTransitions[a.Status], to) {
		return Errorf(KindConflict, CodeInvalidTransition, "人脸核验状态不允许从 %s 变为 %s", a.Status, to)
	}
	a.Status = to
	return nil
}

// Issue records the verify_id WeChat issued at now for a starting attempt,
// valid until expiresAt.
func (a *FaceAttempt) Issue(verifyID string, expiresAt, now time.Time) error {
	if err := a.moveTo(FacePending); err != nil {
		return err
	}
	a.VerifyID, a.ExpiresAt, a.UpdatedAt = verifyID, expiresAt, now
	return nil
}

// MarkError records that our call to WeChat failed: the attempt ends and
// does not count against the daily limit.
func (a *FaceAttempt) MarkError() error { return a.moveTo(FaceError) }

// Verify records WeChat's verify_ret ret (FaceVerifyOK) at now.
func (a *FaceAttempt) Verify(ret int, now time.Time) error { return a.end(FaceVerified, ret, now) }

// Fail records WeChat's refusal ret at now (0 when WeChat verified someone
// other than the claimed identity).
func (a *FaceAttempt) Fail(ret int, now time.Time) error { return a.end(FaceFailed, ret, now) }

// end moves a to the outcome to with WeChat's verify_ret ret, at now.
func (a *FaceAttempt) end(to FaceStatus, ret int, now time.Time) error {
	if err := a.moveTo(to); err != nil {
		return err
	}
	a.VerifyRet, a.UpdatedAt = ret, now
	return nil
}

// checkTransitions is the state machine of an alternative identity check:
// only a pending check moves, to verified or (too many wrong secrets) failed.
var checkTransitions = map[CheckStatus][]CheckStatus{
	CheckPending: {CheckVerified, CheckFailed},
}

func (c *IdentityCheckRecord) moveTo(to CheckStatus) error {
	if !slices.Contains(checkTransitions[c.Status], to) {
		return Errorf(KindConflict, CodeInvalidTransition, "身份验证状态不允许从 %s 变为 %s", c.Status, to)
	}
	c.Status = to
	return nil
}

// FailTry counts a wrong secret at now; the try that reaches max fails a
// pending check. It returns how many tries are left (0 or less: none).
func (c *IdentityCheckRecord) FailTry(max int, now time.Time) int {
	c.FailedTries++
	c.UpdatedAt = now
	if c.FailedTries >= max {
		_ = c.moveTo(CheckFailed) // a check that already ended keeps its outcome
	}
	return max - c.FailedTries
}

// Verify records the platform's confirmation of the secret at now.
func (c *IdentityCheckRecord) Verify(now time.Time) error {
	if err := c.moveTo(CheckVerified); err != nil {
		return err
	}
	c.UpdatedAt = now
	return nil
}
