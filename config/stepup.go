package config

import (
	"strconv"
	"strings"

	"github.com/shebao/sipay/service"
)

// parseStepUp reads step-up verification of held payments (HOLD_STEPUP*)
// over service.DefaultStepUpConfig; it reports every problem through bad.
//
//	HOLD_STEPUP           on | off (on)
//	HOLD_STEPUP_RULES     hold rules a pass may release: amount, velocity (amount,velocity);
//	                      third_party is refused: the payer's own face does not vouch for paying for someone else
//	HOLD_STEPUP_ATTEMPTS  face attempts per hold, 1 to 10 (3); they also count against FACE_DAILY_ATTEMPTS
func parseStepUp(env func(string, string) string, bad func(name, format string, args ...any)) service.StepUpConfig {
	c := service.DefaultStepUpConfig()
	switch v := env("HOLD_STEPUP", ""); v {
	case "", "on", "true", "1":
	case "off", "false", "0":
		c.Enabled = false
	default:
		bad("HOLD_STEPUP", "want on or off, got %q", v)
	}
	if v := env("HOLD_STEPUP_RULES", ""); v != "" {
		c.Rules = nil
		for _, r := range splitList(v) {
			switch r {
			case service.RuleAmount, service.RuleVelocity:
				c.Rules = append(c.Rules, r)
			case service.RuleThirdParty:
				bad("HOLD_STEPUP_RULES", "third_party cannot be released by the payer's own face (nobody vouched for the payer)")
			default:
				bad("HOLD_STEPUP_RULES", "want amount and/or velocity, got %q", r)
			}
		}
	}
	if v := env("HOLD_STEPUP_ATTEMPTS", ""); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 10 {
			bad("HOLD_STEPUP_ATTEMPTS", "want 1 to 10, got %q", v)
		} else {
			c.MaxAttempts = n
		}
	}
	return c
}

// stepUpFields are the step-up settings for the start-up log, as set.
func stepUpFields(c service.StepUpConfig) map[string]string {
	return map[string]string{
		"HOLD_STEPUP":          onOff(c.Enabled),
		"HOLD_STEPUP_RULES":    strings.Join(c.Rules, ","),
		"HOLD_STEPUP_ATTEMPTS": strconv.Itoa(c.MaxAttempts),
	}
}
