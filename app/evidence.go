package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/evidence"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// wireStepUpAndEvidence builds step-up verification of held payments and
// the payment evidence log on top of the after-payment flow, adds them to
// deps and registers the evidence workers. Call it after wireIdentity (the
// face verification) and wireAfterPayment.
func (a *App) wireStepUpAndEvidence(deps *api.Deps) error {
	after := a.After
	orders := model.NewOrderStore(a.DB)
	store := model.NewAfterStore(a.DB)
	if fs, ok := deps.Face.(*service.FaceService); ok {
		stepup := service.NewStepUpService(service.StepUpDeps{Config: a.Cfg.StepUp, Holds: after.Holds, Orders: orders,
			Users: model.NewUserStore(a.DB), Family: service.ConsentedFamily{Store: model.NewFamilyStore(a.DB, a.PII)},
			Face: fs, Original: model.NewFaceAttemptStore(a.DB, a.PII), Store: model.NewStepUpStore(a.DB), Audit: store, Clock: a.Clock})
		after.StepUp = stepup
		after.Viewer.StepUp = stepup
		deps.StepUp = stepup
	}

	keyB64 := a.Cfg.EvidenceKey
	if keyB64 == "" && a.Cfg.Simulator {
		var err error
		if keyB64, err = loadOrCreateKey(filepath.Join(a.Cfg.DataDir, "evidence.key")); err != nil {
			return fmt.Errorf("EVIDENCE_SIGNING_KEY: %w", err)
		}
	}
	if keyB64 == "" {
		a.Log.Warn("payment evidence log is off: EVIDENCE_SIGNING_KEY is not set")
		return nil
	}
	key, err := evidence.ParsePrivateKey(keyB64)
	if err != nil {
		return fmt.Errorf("EVIDENCE_SIGNING_KEY: %w", err)
	}
	ev := service.NewEvidenceService(service.EvidenceDeps{Store: model.NewEvidenceStore(a.DB), Orders: orders, Postings: store,
		Vouchers: store, Codes: after.Vouchers, Key: key, Clock: a.Clock, Audit: store})
	after.Evidence = ev
	a.Log.Info("payment evidence log on", "key_id", evidence.KeyID(ev.PublicKey()))
	deps.Evidence = ev
	a.every("evidence", 5*time.Second, func(ctx context.Context) error { _, err := ev.RunOnce(ctx); return err })
	a.every("evidence catch-up", time.Hour, func(ctx context.Context) error { _, err := ev.CatchUp(ctx); return err })
	a.every("evidence tree head", 10*time.Minute, func(ctx context.Context) error { _, err := ev.PublishDaily(ctx); return err })
	a.every("evidence audit", 24*time.Hour, func(ctx context.Context) error { _, err := ev.Audit(ctx); return err })
	return nil
}
