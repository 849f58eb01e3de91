package service

import "context"

// PlatformEvent is a verified callback from a provincial platform about an
// earlier posting: the final result of a posting that was answered pending.
//
// Declared here until the platform helper's service/platform_event.go lands
// on main; that file replaces this one (same names and fields).
type PlatformEvent struct {
	EventID        string // unique per callback; repeats carry the same id
	Region         string
	IdempotencyKey string // the posting's key: the batch's out_trade_no
	Result         PostingResult
}

// PlatformEventHandler handles platform callbacks. It must be idempotent:
// platforms repeat callbacks.
type PlatformEventHandler interface {
	HandlePlatformEvent(ctx context.Context, ev PlatformEvent) error
}
