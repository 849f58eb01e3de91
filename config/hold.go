package config

import (
	"strconv"
	"time"

	"github.com/shebao/sipay/service"
)

// parseHold reads the risk-hold rules (HOLD_*) over
// service.DefaultHoldRules; it reports every problem through bad.
//
//	HOLD_DURATION            how long a hold lasts unreviewed (24h)
//	HOLD_AMOUNT_FEN          amount threshold in fen, 0 = off (2000000 = 20,000 元)
//	HOLD_AMOUNT_ACTION       release | refund (release)
//	HOLD_VELOCITY_PER_DAY    paid batches per payer per Shanghai day before holding, 0 = off (5)
//	HOLD_VELOCITY_ACTION     release | refund (release)
//	HOLD_THIRD_PARTY         on | off (on)
//	HOLD_THIRD_PARTY_ACTION  release | refund (refund: nobody vouched for the payer)
func parseHold(env func(string, string) string, bad func(name, format string, args ...any)) service.HoldRules {
	r := service.DefaultHoldRules()
	action := func(name string, def service.HoldAction) service.HoldAction {
		switch v := service.HoldAction(env(name, "")); v {
		case "":
			return def
		case service.HoldRelease, service.HoldRefund:
			return v
		default:
			bad(name, "want release or refund, got %q", v)
			return def
		}
	}
	if v := env("HOLD_DURATION", ""); v != "" {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			bad("HOLD_DURATION", "want a positive duration, got %q", v)
		} else {
			r.Duration = d
		}
	}
	if v := env("HOLD_AMOUNT_FEN", ""); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
			bad("HOLD_AMOUNT_FEN", "want fen >= 0, got %q", v)
		} else {
			r.AmountFen, r.Amount.Enabled = service.Fen(n), n > 0
		}
	}
	if v := env("HOLD_VELOCITY_PER_DAY", ""); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			bad("HOLD_VELOCITY_PER_DAY", "want an integer >= 0, got %q", v)
		} else {
			r.VelocityPerDay, r.Velocity.Enabled = n, n > 0
		}
	}
	switch v := env("HOLD_THIRD_PARTY", ""); v {
	case "", "on", "true", "1":
	case "off", "false", "0":
		r.ThirdParty.Enabled = false
	default:
		bad("HOLD_THIRD_PARTY", "want on or off, got %q", v)
	}
	r.Amount.Action = action("HOLD_AMOUNT_ACTION", r.Amount.Action)
	r.Velocity.Action = action("HOLD_VELOCITY_ACTION", r.Velocity.Action)
	r.ThirdParty.Action = action("HOLD_THIRD_PARTY_ACTION", r.ThirdParty.Action)
	return r
}

// holdFields are the risk-hold rules for the start-up log, as set.
func holdFields(r service.HoldRules) map[string]string {
	return map[string]string{
		"HOLD_DURATION":           r.Duration.String(),
		"HOLD_AMOUNT_FEN":         strconv.FormatInt(int64(r.AmountFen), 10) + offIf(!r.Amount.Enabled),
		"HOLD_AMOUNT_ACTION":      string(r.Amount.Action),
		"HOLD_VELOCITY_PER_DAY":   strconv.Itoa(r.VelocityPerDay) + offIf(!r.Velocity.Enabled),
		"HOLD_VELOCITY_ACTION":    string(r.Velocity.Action),
		"HOLD_THIRD_PARTY":        onOff(r.ThirdParty.Enabled),
		"HOLD_THIRD_PARTY_ACTION": string(r.ThirdParty.Action),
	}
}

func offIf(off bool) string {
	if off {
		return " (off)"
	}
	return ""
}
