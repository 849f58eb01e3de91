package wxsim

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// SubscribeSim simulates subscribe messages (订阅消息): the console's
// templates with their keywords, the one-time grants users give in the
// mini-program (wx.requestSubscribeMessage, played by a control route) and
// POST /cgi-bin/message/subscribe/send, which checks the access token, the
// template, the openid, the data keys against the template's keywords and
// each value against its keyword kind, and takes one grant per message.
//
// Errcodes as WeChat answers them: 40037 unknown template, 40003 bad
// openid, 47003 data that does not fit the template, 43101 no grant left,
// 41030 bad page.
//
// Control routes (docs/simulator-openapi.yaml):
//
//	POST /sim/wechat/subscribe/accept {"code"|"openid", "template_ids": [...]}  the user accepts
//	GET  /sim/wechat/subscribe/sent?code=|openid=                             what was delivered
type SubscribeSim struct {
	sim       *Sim
	mu        sync.Mutex
	templates map[string][]string // template id → keywords
	grants    map[[2]string]int   // (openid, template id) → sends left
	sent      []SubscribeSent
}

// SubscribeSent is one delivered message.
type SubscribeSent struct {
	OpenID     string            `json:"openid"`
	TemplateID string            `json:"template_id"`
	Page       string            `json:"page"`
	Data       map[string]string `json:"data"`
	At         time.Time         `json:"at"`
}

// RegisterSubscribe mounts the send endpoint and the control routes with
// the given templates (template id → keywords).
func RegisterSubscribe(s *Sim, templates map[string][]string) *SubscribeSim {
	ss := &SubscribeSim{sim: s, templates: templates, grants: map[[2]string]int{}}
	s.Handle("POST /cgi-bin/message/subscribe/send", ss.send)
	s.Handle("POST /sim/wechat/subscribe/accept", ss.accept)
	s.Handle("GET /sim/wechat/subscribe/sent", ss.list)
	return ss
}

// Accept gives openid one grant of each template (the user tapped 允许).
func (ss *SubscribeSim) Accept(openID string, templateIDs ...string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, id := range templateIDs {
		ss.grants[[2]string{openID, id}]++
	}
}

// Sent returns the messages delivered to openid ("" for all), oldest first.
func (ss *SubscribeSim) Sent(openID string) []SubscribeSent {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var out []SubscribeSent
	for _, m := range ss.sent {
		if openID == "" || m.OpenID == openID {
			out = append(out, m)
		}
	}
	return out
}

func (ss *SubscribeSim) openIDOf(r *http.Request, code, openID string) string {
	if openID != "" {
		return openID
	}
	if code != "" {
		return ss.sim.OpenID(code)
	}
	return ""
}

func (ss *SubscribeSim) accept(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code        string   `json:"code"`
		OpenID      string   `json:"openid"`
		TemplateIDs []string `json:"template_ids"`
	}
	if !decode(w, r, &req) {
		return
	}
	openID := ss.openIDOf(r, req.Code, req.OpenID)
	if openID == "" || len(req.TemplateIDs) == 0 {
		http.Error(w, `{"error":"code or openid, and template_ids, are required"}`, http.StatusBadRequest)
		return
	}
	results := map[string]string{}
	for _, id := range req.TemplateIDs {
		if _, ok := ss.templates[id]; ok {
			ss.Accept(openID, id)
			results[id] = "accept"
		} else {
			results[id] = "filter"
		}
	}
	// The shape of wx.requestSubscribeMessage's success result.
	WriteJSON(w, map[string]any{"errMsg": "requestSubscribeMessage:ok", "results": results})
}

func (ss *SubscribeSim) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sent := ss.Sent(ss.openIDOf(r, q.Get("code"), q.Get("openid")))
	if sent == nil {
		sent = []SubscribeSent{}
	}
	WriteJSON(w, map[string]any{"sent": sent})
}

func (ss *SubscribeSim) send(w http.ResponseWriter, r *http.Request) {
	if !ss.sim.CheckToken(w, r) {
		return
	}
	var req struct {
		ToUser           string `json:"touser"`
		TemplateID       string `json:"template_id"`
		Page             string `json:"page"`
		MiniprogramState string `json:"miniprogram_state"`
		Lang             string `json:"lang"`
		Data             map[string]struct {
			Value any    `json:"value"`
			Color string `json:"color"`
		} `json:"data"`
	}
	if !decode(w, r, &req) {
		return
	}
	fields, ok := ss.templates[req.TemplateID]
	if !ok {
		WriteErr(w, 40037, "invalid template_id")
		return
	}
	if !strings.HasPrefix(req.ToUser, "o") || len(req.ToUser) < 10 {
		WriteErr(w, 40003, "invalid openid")
		return
	}
	if req.Page != "" && (strings.HasPrefix(req.Page, "/") || strings.ContainsAny(req.Page, " \t\n")) {
		WriteErr(w, 41030, "invalid page")
		return
	}
	data := map[string]string{}
	for k, v := range req.Data {
		s, isString := v.Value.(string)
		if !isString {
			WriteErr(w, 47003, "argument invalid! data."+k+".value must be a string")
			return
		}
		data[k] = s
	}
	if msg := CheckTemplateData(fields, data); msg != "" {
		WriteErr(w, 47003, "argument invalid! "+msg)
		return
	}
	key := [2]string{req.ToUser, req.TemplateID}
	ss.mu.Lock()
	if ss.grants[key] <= 0 {
		ss.mu.Unlock()
		WriteErr(w, 43101, "user refuse to accept the msg")
		return
	}
	ss.grants[key]--
	ss.sent = append(ss.sent, SubscribeSent{OpenID: req.ToUser, TemplateID: req.TemplateID, Page: req.Page, Data: data, At: ss.sim.Clock.Now().UTC()})
	ss.mu.Unlock()
	WriteJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": time.Now().UnixNano()})
}

var (
	reAmount    = regexp.MustCompile(`^[¥$]?\d{1,10}(\.\d{1,2})?元?$`)
	reCharStr   = regexp.MustCompile(`^[\x21-\x7e]{1,32}$`)
	reNumber    = regexp.MustCompile(`^\d{1,32}$`)
	timeLayouts = []string{"2006年01月02日 15:04", "2006年1月2日 15:04", "2006-01-02 15:04", "15:04"}
	dateLayouts = []string{"2006年01月02日", "2006年1月2日", "2006-01-02"}
)

// CheckTemplateData checks data against a template's keywords the way
// WeChat does: exactly the template's keys, each value fitting its kind
// (the key's prefix). It returns "" when the data fits, else the reason.
// It is written from WeChat's keyword rules, apart from the code that
// builds the messages, so it catches that code's mistakes.
func CheckTemplateData(fields []string, data map[string]string) string {
	want := append([]string(nil), fields...)
	var got []string
	for k := range data {
		got = append(got, k)
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(want, ",") != strings.Join(got, ",") {
		return "data keys " + strings.Join(got, ",") + " do not match the template's " + strings.Join(want, ",")
	}
	for k, v := range data {
		kind := strings.TrimRight(k, "0123456789")
		n := utf8.RuneCountInString(v)
		bad := false
		switch kind {
		case "thing":
			bad = n == 0 || n > 20
		case "character_string":
			bad = !reCharStr.MatchString(v)
		case "amount":
			bad = !reAmount.MatchString(v)
		case "number":
			bad = !reNumber.MatchString(v)
		case "phrase":
			bad = n == 0 || n > 5
			for _, r := range v {
				if !unicode.Is(unicode.Han, r) {
					bad = true
				}
			}
		case "time":
			bad = !parsesAs(v, timeLayouts)
		case "date":
			bad = !parsesAs(v, dateLayouts)
		case "name":
			bad = n == 0 || n > 10
		default:
			return "unknown keyword kind " + k
		}
		if bad {
			return "data." + k + ".value " + quoteClip(v) + " does not fit a " + kind + " keyword"
		}
	}
	return ""
}

func parsesAs(v string, layouts []string) bool {
	for _, l := range layouts {
		if _, err := time.Parse(l, v); err == nil {
			return true
		}
	}
	return false
}

func quoteClip(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "…"
	}
	return `"` + s + `"`
}
