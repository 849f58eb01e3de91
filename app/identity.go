package app

import (
	"fmt"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/service"
	"github.com/shebao/sipay/wechat"
)

// wireIdentity builds the PII keyring, the identity stores and services
// (face verification, alternative checks through the provincial platform,
// person resolution) and adds them to the API. Family proxy payment comes
// after the orders (wireFamily).
func (a *App) wireIdentity(deps *api.Deps, users *model.UserStore, wx *wechat.Client, regions service.RegionCatalog) error {
	key, err := pii.KeyFromBase64(a.Cfg.PIIKey)
	if err != nil {
		return fmt.Errorf("PII_KEY: %w", err)
	}
	var old []pii.Key
	for _, b64 := range a.Cfg.PIIOldKeys {
		k, err := pii.KeyFromBase64(b64)
		if err != nil {
			return fmt.Errorf("PII_OLD_KEYS: %w", err)
		}
		old = append(old, k)
	}
	if a.PII, err = pii.NewKeyring(key, old...); err != nil {
		return fmt.Errorf("PII_KEY: %w", err)
	}
	persons := model.NewPersonStore(a.DB, a.PII)
	family := model.NewFamilyStore(a.DB, a.PII)
	checks := model.NewIdentityCheckStore(a.DB, a.PII)
	a.Identity = service.NewIdentityService(users, persons, family)
	deps.Identity = a.Identity
	deps.Face = service.NewFaceService(service.FaceDeps{
		Config: service.FaceConfig{DailyAttempts: a.Cfg.Face.DailyAttempts, LegacyV1: a.Cfg.Face.LegacyV1},
		Users:  users, Persons: persons, Attempts: model.NewFaceAttemptStore(a.DB, a.PII), WeChat: wechat.NewFaceClient(wx), Clock: a.Clock})
	deps.AltIdentity = service.NewAltIdentityService(service.AltIdentityDeps{Rules: regions, Platform: a.Platform, Checks: checks,
		Users: users, Persons: persons, Clock: a.Clock}).
		WithAbuseLimits(deps.Limiter, family)
	return nil
}

// wireFamily builds family proxy payment (亲属代缴) and adds it to the API:
// a member's consent withdrawal closes the payer's unpaid batches through
// the orders.
func (a *App) wireFamily(deps *api.Deps, users *model.UserStore, orders *service.OrderService) {
	deps.Family = service.NewFamilyService(service.FamilyDeps{Family: model.NewFamilyStore(a.DB, a.PII),
		Checks: model.NewIdentityCheckStore(a.DB, a.PII), Users: users, Persons: model.NewPersonStore(a.DB, a.PII),
		Clock: a.Clock, Trades: orders})
}
