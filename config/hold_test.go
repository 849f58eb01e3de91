package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shebao/sipay/config"
	"github.com/shebao/sipay/service"
)

// The HOLD_* rules are read, checked and logged by config.Load (moved here
// from service.LoadHoldRules with the same assertions).
func TestHoldRulesLoadFromEnvironment(t *testing.T) {
	env := map[string]string{"HOLD_AMOUNT_FEN": "500000", "HOLD_VELOCITY_PER_DAY": "0", "HOLD_THIRD_PARTY_ACTION": "release", "HOLD_DURATION": "12h"}
	c, err := config.Load(envOf(env))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	r := c.Hold
	if r.AmountFen != 500000 || r.Velocity.Enabled || r.ThirdParty.Action != service.HoldRelease || r.Duration != 12*time.Hour {
		t.Fatalf("rules: got %+v", r)
	}
	_, err = config.Load(envOf(map[string]string{"HOLD_AMOUNT_ACTION": "maybe"}))
	if err == nil || !strings.Contains(err.Error(), "HOLD_AMOUNT_ACTION") {
		t.Fatalf("bad action: got %v, want an error naming HOLD_AMOUNT_ACTION", err)
	}
}

func TestHoldRulesDefaultAndLogged(t *testing.T) {
	c, err := config.Load(envOf(map[string]string{"HOLD_VELOCITY_PER_DAY": "0"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Hold, service.DefaultHoldRules(); got.Duration != want.Duration || got.AmountFen != want.AmountFen ||
		got.ThirdParty != want.ThirdParty || got.Amount != want.Amount {
		t.Fatalf("rules: got %+v, want the defaults %+v", got, want)
	}
	logged := map[string]string{}
	f := c.Fields()
	for i := 0; i+1 < len(f); i += 2 {
		logged[f[i].(string)] = f[i+1].(string)
	}
	for k, want := range map[string]string{"HOLD_DURATION": "24h0m0s", "HOLD_AMOUNT_FEN": "2000000", "HOLD_VELOCITY_PER_DAY": "0 (off)",
		"HOLD_THIRD_PARTY": "on", "HOLD_THIRD_PARTY_ACTION": "refund"} {
		if got := logged[k]; got != want {
			t.Errorf("logged %s=%q, want %q", k, got, want)
		}
	}
}
