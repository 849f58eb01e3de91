package service

import (
	"fmt"
	"strconv"
	"strings"
)

// HelpSettings configure customer service and notifications, read from the
// environment like the hold rules (README, "Configuration").
type HelpSettings struct {
	// Hours are customer service's business hours (HELP_HOURS): the SLA
	// counts only their time. Default 7×24, as the channel is.
	Hours BusinessHours
	// TemplateIDs are the subscribe-message template ids per key
	// (SUBSCRIBE_TEMPLATES="payment_received=ID,posted=ID,…"); a key
	// without an id sends nothing.
	TemplateIDs map[string]string
	// LapseWindow is how many days before the region's due day lapse
	// reminders go out (LAPSE_REMIND_DAYS, 1..15).
	LapseWindow int
}

// LoadHelpSettings reads HELP_HOURS, SUBSCRIBE_TEMPLATES and
// LAPSE_REMIND_DAYS (config.Load calls it). Errors name the variable.
func LoadHelpSettings(getenv func(string) string) (HelpSettings, error) {
	var s HelpSettings
	var err error
	if s.Hours, err = ParseBusinessHours(getenv("HELP_HOURS")); err != nil {
		return s, fmt.Errorf("HELP_HOURS: %w", err)
	}
	s.TemplateIDs = map[string]string{}
	raw := strings.TrimSpace(getenv("SUBSCRIBE_TEMPLATES"))
	for _, pair := range strings.Split(raw, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, known := FindTemplate(k); !ok || !known || v == "" || len(v) > 64 {
			return s, fmt.Errorf("SUBSCRIBE_TEMPLATES: %q: want key=template_id with a key of %s", pair, templateKeys())
		}
		s.TemplateIDs[k] = v
	}
	s.LapseWindow = LapseWindowDays
	if v := strings.TrimSpace(getenv("LAPSE_REMIND_DAYS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 15 {
			return s, fmt.Errorf("LAPSE_REMIND_DAYS: %q: want a whole number of days, 1 to 15", v)
		}
		s.LapseWindow = n
	}
	return s, nil
}

func templateKeys() string {
	var ks []string
	for _, t := range SubscribeTemplates {
		ks = append(ks, t.Key)
	}
	return strings.Join(ks, ", ")
}
