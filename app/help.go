package app

import (
	"context"
	"time"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/faq"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/sim"
	"github.com/shebao/sipay/wechat"
)

// Help is the wired customer service and notifications: the smart FAQ,
// tickets with their SLA, subscribe messages, lapse reminders and the
// timeline follower that turns order events into messages and automatic
// tickets.
type Help struct {
	FAQ       *service.HelpService
	Tickets   *service.TicketService
	Subscribe *service.SubscribeService
	Lapse     *service.LapseService
	Follower  *service.EventFollower
}

// wireHelp builds the help services, sets their API dependencies in deps
// and registers their workers. Call it before api.NewServer.
func (a *App) wireHelp(deps *api.Deps, wx *wechat.Client, regions []service.Region) (*Help, error) {
	settings := a.Cfg.Help
	if a.Sims != nil && len(settings.TemplateIDs) == 0 {
		settings.TemplateIDs = sim.SubscribeTemplateIDs()
	}
	kb, err := faq.Load()
	if err != nil {
		return nil, err
	}
	store := model.NewHelpStore(a.DB, a.PII)
	orders := model.NewOrderStore(a.DB)
	users := model.NewUserStore(a.DB)
	after := model.NewAfterStore(a.DB)
	outbox := model.NewOutbox(a.DB)
	owner := instanceID()
	metrics := a.Metrics.RegisterHelp(store, a.Log.With("component", "metrics"))
	subscribe := service.NewSubscribeService(service.SubscribeDeps{Store: store, Outbox: outbox, Users: users, Sender: wx,
		TemplateIDs: settings.TemplateIDs, Clock: a.Clock, Log: a.Log, Metrics: metrics, Alerts: orders, Owner: owner})
	tickets := service.NewTicketService(service.TicketDeps{Store: store, Orders: orders, Postings: after, Persons: a.Identity,
		Users: users, Audit: after, Hours: settings.Hours, Clock: a.Clock, Metrics: metrics, TemplateIDs: settings.TemplateIDs})
	h := &Help{
		FAQ:       service.NewHelpService(kb, orders),
		Tickets:   tickets,
		Subscribe: subscribe,
		Lapse: service.NewLapseService(service.LapseDeps{Store: store, Regions: regions, Resolver: a.Identity, Persons: a.Identity,
			Platform: a.Platform, Subscribe: subscribe, Users: users, Outbox: outbox, Clock: a.Clock, Log: a.Log,
			Window: settings.LapseWindow, Owner: owner}),
		Follower: service.NewEventFollower(store, orders, users, subscribe, tickets, regions, a.Clock),
	}
	deps.Help, deps.Subscriptions, deps.Lapse, deps.Tickets = h.FAQ, subscribe, h.Lapse, tickets

	a.every("timeline follower", 2*time.Second, func(ctx context.Context) error { _, err := h.Follower.RunOnce(ctx); return err })
	a.every("subscribe messages", 2*time.Second, func(ctx context.Context) error { _, err := subscribe.RunOnce(ctx); return err })
	a.every("ticket SLA", 30*time.Second, func(ctx context.Context) error { _, err := tickets.SweepSLA(ctx); return err })
	a.every("lapse reminders", 5*time.Minute, func(ctx context.Context) error { return h.Lapse.RunDue(ctx) })
	return h, nil
}
