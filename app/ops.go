package app

import (
	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/api/ops"
	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// wireOps builds the OpsService and the operations console and adds them to
// deps; api's routes mount the console at /ops/ where the admin API is
// (ADMIN_TOKEN set). Its actions go through the same AdminService as the
// JSON admin API.
func (a *App) wireOps(admin *service.AdminService, store *model.AfterStore, holds *service.HoldService, persons service.PersonFinder, deps *api.Deps) *service.OpsService {
	svc := service.NewOpsService(service.OpsDeps{Admin: admin, Store: store, Persons: persons, Holds: holds, Clock: a.Clock})
	deps.Ops = svc
	if a.Cfg.AdminToken == "" {
		return svc
	}
	console := ops.New(ops.Deps{Log: a.Log.With("component", "ops-console"), Admin: admin, Ops: svc,
		Sessions: cache.NewOpsSessionStore(a.Redis, a.Clock, a.Cfg.Ops.SessionIdle), Limiter: deps.Limiter, Clock: a.Clock,
		AdminToken: a.Cfg.AdminToken, Operators: a.Cfg.Ops.Operators})
	deps.Console = console
	return svc
}
