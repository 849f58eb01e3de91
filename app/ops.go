package app

import (
	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/api/ops"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// wireOps builds the OpsService (the console's reads and alert decisions)
// and adds it to deps; its actions go through the same AdminService as the
// JSON admin API.
func (a *App) wireOps(admin *service.AdminService, store *model.AfterStore, holds *service.HoldService, persons service.PersonFinder, deps *api.Deps) *service.OpsService {
	svc := service.NewOpsService(service.OpsDeps{Admin: admin, Store: store, Persons: persons, Holds: holds, Clock: a.Clock})
	deps.Ops = svc
	return svc
}

// wireConsole builds the operations console where the admin API is
// (ADMIN_TOKEN set); api's routes mount it at /ops/. Call it after
// wireAfterPayment and wireHelp: its pages call the same audited
// AdminService, OpsService and TicketService as the JSON admin API.
func (a *App) wireConsole(deps *api.Deps) {
	if a.Cfg.AdminToken == "" {
		return
	}
	deps.Console = ops.New(ops.Deps{Log: a.Log.With("component", "ops-console"), Admin: a.After.Admin, Ops: a.After.Ops,
		Tickets: a.Help.Tickets, Sessions: cache.NewOpsSessionStore(a.Redis, a.Clock, a.Cfg.Ops.SessionIdle),
		Limiter: deps.Limiter, Clock: a.Clock, AdminToken: a.Cfg.AdminToken, Operators: a.Cfg.Ops.Operators})
}
