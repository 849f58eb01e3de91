package sim

import "github.com/shebao/sipay/service"

// SubscribeTemplateIDs are the subscribe-message template ids of the
// simulated mini-program console, one per service.SubscribeTemplates key
// (SUBSCRIBE_TEMPLATES defaults to them with the simulator).
func SubscribeTemplateIDs() map[string]string {
	out := map[string]string{}
	for _, t := range service.SubscribeTemplates {
		out[t.Key] = "SIMTPL_" + t.Key
	}
	return out
}

// subscribeTemplates are the simulated console's templates: id → keywords.
func subscribeTemplates() map[string][]string {
	out := map[string][]string{}
	for _, t := range service.SubscribeTemplates {
		out["SIMTPL_"+t.Key] = t.Fields
	}
	return out
}
