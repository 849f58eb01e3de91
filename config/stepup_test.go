package config_test

import (
	"strings"
	"testing"

	"github.com/shebao/sipay/config"
)

// HOLD_STEPUP* are read and checked by config.Load: third_party is never
// releasable by the payer's own face, and the attempts are bounded.
func TestStepUpSettingsLoadFromEnvironment(t *testing.T) {
	c, err := config.Load(envOf(map[string]string{"HOLD_STEPUP_RULES": "amount", "HOLD_STEPUP_ATTEMPTS": "2"}))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if s := c.StepUp; !s.Enabled || strings.Join(s.Rules, ",") != "amount" || s.MaxAttempts != 2 {
		t.Fatalf("step-up: got %+v, want on, amount, 2", s)
	}
	if d, _ := config.Load(envOf(nil)); d.StepUp.MaxAttempts != 3 || strings.Join(d.StepUp.Rules, ",") != "amount,velocity" {
		t.Fatalf("defaults: got %+v", d.StepUp)
	}
	for env, name := range map[string]string{"third_party": "HOLD_STEPUP_RULES", "amount,nope": "HOLD_STEPUP_RULES"} {
		if _, err := config.Load(envOf(map[string]string{"HOLD_STEPUP_RULES": env})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("HOLD_STEPUP_RULES=%s: got %v, want an error naming %s", env, err, name)
		}
	}
	if _, err := config.Load(envOf(map[string]string{"HOLD_STEPUP_ATTEMPTS": "0"})); err == nil || !strings.Contains(err.Error(), "HOLD_STEPUP_ATTEMPTS") {
		t.Errorf("HOLD_STEPUP_ATTEMPTS=0: got %v", err)
	}
	if _, err := config.Load(envOf(map[string]string{"SIMULATOR": "on", "EVIDENCE_SIGNING_KEY": "short"})); err == nil || !strings.Contains(err.Error(), "EVIDENCE_SIGNING_KEY") {
		t.Errorf("EVIDENCE_SIGNING_KEY=short: got %v", err)
	}
}
