package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/shebao/sipay/service"
)

// parseHelp reads the customer-service settings (HELP_HOURS,
// SUBSCRIBE_TEMPLATES, LAPSE_REMIND_DAYS); an error names the variable.
// With the simulator and no SUBSCRIBE_TEMPLATES the app uses the
// simulator's template ids.
func parseHelp(env func(string, string) string, bad func(name, format string, args ...any)) service.HelpSettings {
	s, err := service.LoadHelpSettings(func(k string) string { return env(k, "") })
	if err != nil {
		name, msg, _ := strings.Cut(err.Error(), ": ")
		bad(name, "%s", msg)
	}
	return s
}

// helpFields are the help settings for the start-up configuration block.
func helpFields(s service.HelpSettings) map[string]string {
	var tpls []string
	for k, v := range s.TemplateIDs {
		tpls = append(tpls, k+"="+v)
	}
	sort.Strings(tpls)
	return map[string]string{
		"HELP_HOURS":          s.Hours.String(),
		"SUBSCRIBE_TEMPLATES": strings.Join(tpls, ","),
		"LAPSE_REMIND_DAYS":   strconv.Itoa(s.LapseWindow),
	}
}
