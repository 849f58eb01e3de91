package service

import (
	"context"
	"time"
)

// EventFollower turns order timeline events into subscribe messages and
// automatic tickets. The money transitions already write their timeline
// event in their own transaction (paid, posted, refunding, refunded,
// posting_confirming, info_delay); the follower reads events not yet
// followed, acts on each idempotently (messages are unique per (user,
// event), automatic tickets per (kind, out_trade_no)) and then marks them
// followed. A crash between acting and marking acts again, which the unique
// keys absorb: every event is acted on exactly once, and no money path
// changed to make it so.
type EventFollower struct {
	feed      EventFeed
	orders    HelpOrders
	users     UserFinder
	subscribe *SubscribeService
	tickets   *TicketService
	regions   map[string]string // code → display name
	clock     Clock
}

// FollowedEvent is a timeline event with its row id.
type FollowedEvent struct {
	ID int64
	OrderEvent
}

// EventFeed reads timeline events not yet followed, oldest first, and
// marks them followed.
type EventFeed interface {
	UnfollowedEvents(ctx context.Context, limit int) ([]FollowedEvent, error)
	MarkFollowed(ctx context.Context, ids []int64, at time.Time) error
}

// NewEventFollower returns an EventFollower. It panics on a missing
// dependency.
func NewEventFollower(feed EventFeed, orders HelpOrders, users UserFinder, subscribe *SubscribeService, tickets *TicketService,
	regions []Region, clock Clock) *EventFollower {
	if feed == nil || orders == nil || users == nil || subscribe == nil || tickets == nil || clock == nil {
		panic("service: NewEventFollower: missing dependency")
	}
	names := map[string]string{}
	for _, r := range regions {
		names[r.Code] = r.Name
	}
	return &EventFollower{feed: feed, orders: orders, users: users, subscribe: subscribe, tickets: tickets, regions: names, clock: clock}
}

// autoTicketFor names the automatic ticket an event opens.
var autoTicketFor = map[string]string{
	"info_delay":         AutoTicketInfoDelay,
	"posting_confirming": AutoTicketUnknownOutcome,
}

// OrdersByNo reads several orders with their batches at once
// (model.OrderStore). When the follower's HelpOrders has it, a run reads
// the orders of all its events together instead of one by one.
type OrdersByNo interface {
	FindOrdersByNo(ctx context.Context, nos []string) ([]*Order, error)
}

// RunOnce follows up to 200 events; it returns how many it followed. It
// stops at the first event it cannot act on (retried at the next run).
func (f *EventFollower) RunOnce(ctx context.Context) (int, error) {
	events, err := f.feed.UnfollowedEvents(ctx, 200)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	var done []int64
	orders := map[string]*Order{}
	if many, ok := f.orders.(OrdersByNo); ok {
		if err := f.prefetch(ctx, many, events, orders); err != nil {
			return 0, err
		}
	}
	var runErr error
	for _, e := range events {
		if err := f.follow(ctx, e, orders); err != nil {
			runErr = err
			break
		}
		done = append(done, e.ID)
	}
	if len(done) > 0 {
		if err := f.feed.MarkFollowed(ctx, done, f.clock.Now()); err != nil {
			return 0, err
		}
	}
	return len(done), runErr
}

// acts reports whether e can lead to a message or an automatic ticket,
// and which: the message's template key, the ticket's kind.
func acts(e FollowedEvent) (key string, sends bool, kind string, auto bool) {
	kind, auto = autoTicketFor[e.Type]
	key, _, _, sends = BatchMessage(e.Type, &Order{}, &Batch{}, "", time.Time{}, false)
	return key, sends, kind, auto
}

// prefetch reads the orders of the events that act into cache.
func (f *EventFollower) prefetch(ctx context.Context, many OrdersByNo, events []FollowedEvent, cache map[string]*Order) error {
	var nos []string
	seen := map[string]bool{}
	for _, e := range events {
		if _, sends, _, auto := acts(e); (sends || auto) && !seen[e.OrderNo] {
			seen[e.OrderNo] = true
			nos = append(nos, e.OrderNo)
		}
	}
	found, err := many.FindOrdersByNo(ctx, nos)
	if err != nil {
		return err
	}
	for _, o := range found {
		cache[o.No] = o
	}
	return nil
}

func (f *EventFollower) follow(ctx context.Context, e FollowedEvent, cache map[string]*Order) error {
	key, sends, kind, auto := acts(e)
	if !sends && !auto {
		return nil
	}
	o := cache[e.OrderNo]
	if o == nil {
		var err error
		if o, err = f.orders.FindOrder(ctx, e.OrderNo); isNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		cache[e.OrderNo] = o
	}
	var b *Batch
	for i := range o.Batches {
		if o.Batches[i].Seq == e.BatchSeq {
			b = &o.Batches[i]
		}
	}
	if b == nil {
		return nil
	}
	if auto {
		if err := f.tickets.OpenAuto(ctx, o, b, kind); err != nil {
			return err
		}
	}
	if !sends {
		return nil
	}
	// Most users accept no template: ask for the grant before reading the
	// user (only its care mode words the message), one light query instead
	// of the user row with its evidence.
	if want, err := f.subscribe.Wants(ctx, o.UserID, key); !want || err != nil {
		return err
	}
	u, err := f.users.FindUserByID(ctx, o.UserID)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	key, page, data, ok := BatchMessage(e.Type, o, b, f.regions[o.Region], e.CreatedAt, u.CareMode)
	if !ok {
		return nil
	}
	return f.subscribe.Notify(ctx, o.UserID, e.Type+":"+b.OutTradeNo, key, page, data)
}
