package service

import "context"

// Platform event types sent by a provincial platform to our callback URL
// (docs/platform-protocol.md, "Callbacks").
const (
	// EventIdentityCheckCompleted says an asynchronous identity check ended;
	// PlatformEvent.CheckID names it and Accepted says whether it passed.
	EventIdentityCheckCompleted = "identity_check.completed"
	// EventPostingAccepted says a pending posting was booked; Result carries
	// the reference and the receipt.
	EventPostingAccepted = "posting.accepted"
	// EventPostingRejected says a pending posting was refused for good;
	// Reason (and Result.Reason) say why.
	EventPostingRejected = "posting.rejected"
)

// Documented rejection codes of the platform protocol. A
// *PlatformRejection carries one of them in Code (or another snake_case code
// the platform documents later).
const (
	RejectNotInsured          = "not_insured"          // the person has no insurance record in the region
	RejectPersonMismatch      = "person_mismatch"      // name and ID number do not belong together
	RejectAmountMismatch      = "amount_mismatch"      // amount is not the sum of the lines, or not what is due
	RejectMonthNotPayable     = "month_not_payable"    // a month is outside the back-payment window or already paid
	RejectIdempotencyConflict = "idempotency_conflict" // same idempotency key, different body: our bug
	RejectPostingNotFound     = "posting_not_found"    // QueryPosting: the platform never received that key; resend it
	RejectCheckNotFound       = "check_not_found"      // unknown or expired identity check
	RejectCheckLocked         = "check_locked"         // too many wrong secrets
	RejectInvalidRequest      = "invalid_request"      // malformed request: our bug
)

// PlatformEvent is one callback from a provincial platform, already
// authenticated and parsed.
type PlatformEvent struct {
	EventID string // unique per event; redeliveries repeat it
	Type    string // one of the Event* constants
	Region  string // the region the event names
	// URLRegion is the region of the callback URL it arrived on, and
	// CredentialRegion the region whose credentials verified its signature.
	// A posting event acts only when Region, URLRegion and CredentialRegion
	// all equal its batch's region.
	URLRegion        string
	CredentialRegion string
	IdempotencyKey   string // posting events: the posting's idempotency key (out_trade_no)
	CheckID          string // identity events: the check id
	// Accepted is true for posting.accepted and for an identity check that
	// passed.
	Accepted bool
	Result   PostingResult // posting events
	Reason   string        // why a posting was rejected or a check failed
	Raw      []byte        // the verified body, for audit
}

// PlatformEventHandler consumes platform callbacks. It must be idempotent: a
// platform may deliver the same event (same EventID) more than once, and the
// callback endpoint's dedupe on EventID is only a fast path. Returning an
// error makes the platform deliver the event again later.
type PlatformEventHandler interface {
	HandlePlatformEvent(ctx context.Context, e PlatformEvent) error
}
