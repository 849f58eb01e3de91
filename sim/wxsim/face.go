package wxsim

// Face verification (微信人脸核身) in the simulator.
//
// 2.0 flow: POST /cityservice/face/identify/getverifyid registers a
// verification for {out_seq_no, cert_info, openid}; POST
// /cityservice/face/identify/queryverifyinfo answers verify_ret for
// {verify_id, out_seq_no, cert_hash, openid}. Both check the access token.
// getverifyid refuses a malformed or reused out_seq_no (40097), a cert_type
// other than IDENTITY_CARD, an empty name or a cert_no that is not 18
// characters (40097), and an empty or malformed openid (40003).
// queryverifyinfo refuses an unknown or expired verify_id (40097), an
// out_seq_no or openid different from getverifyid's (40097 / 40003), and a
// cert_hash that does not match the registered cert_info (40097
// "cert_hash not match").
//
// There is no phone: the user's "face" is decided when queried, from the
// registered name:
//
//	name contains 取消 → verify_ret 90003 (user cancelled)
//	name contains 网络 → 90007 (network error)
//	name contains 相机 → 90008 (camera permission)
//	name contains 模糊 → 90011 (invalid capture)
//	name contains 超时 → 90017 (timeout)
//	name contains 失败 → 90018 (system error)
//	name contains 繁忙 → getverifyid answers errcode -1 (system busy)
//	anything else      → 10000 (verified)
//
// Legacy 1.0 flow: the front end's wx.startFacialRecognitionVerify is
// simulated by POST /sim/face/legacy {openid, name, id_card_number}, which
// returns a verify_result (the same name rules decide identify_ret); POST
// /cityservice/face/identify/getinfo {verify_result} answers identify_ret,
// openid, id_card_number_md5 (ID with upper-case X) and name_utf8_md5, or
// 84001 for an unknown verify_result.

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// FaceSim is the face verification part of the simulator.
type FaceSim struct {
	s        *Sim
	mu       sync.Mutex
	byVerify map[string]*faceSession
	seqs     map[string]bool
	legacy   map[string]legacyResult
	queries  int
}

type faceSession struct {
	outSeqNo string
	openID   string
	certHash string
	name     string
	expires  time.Time
}

type legacyResult struct {
	openID, name, idNumber string
	at                     time.Time
}

var (
	seqPattern    = regexp.MustCompile(`^[0-9A-Za-z_-]{5,32}$`)
	openIDPattern = regexp.MustCompile(`^[0-9A-Za-z_-]{6,64}$`)
)

// RegisterFace mounts the face verification endpoints on s.
func RegisterFace(s *Sim) *FaceSim {
	f := &FaceSim{s: s, byVerify: map[string]*faceSession{}, seqs: map[string]bool{}, legacy: map[string]legacyResult{}}
	s.Handle("POST /cityservice/face/identify/getverifyid", f.getVerifyID)
	s.Handle("POST /cityservice/face/identify/queryverifyinfo", f.queryVerifyInfo)
	s.Handle("POST /cityservice/face/identify/getinfo", f.getInfo)
	s.Handle("POST /sim/face/legacy", f.legacyVerify)
	return f
}

// certHash is WeChat's documented cert_hash, implemented here on its own so
// the client's implementation is checked against an independent one.
func certHash(certType, name, no string) string {
	enc := base64.StdEncoding.EncodeToString
	sum := sha256.Sum256([]byte("cert_type=" + enc([]byte(certType)) + "&cert_name=" + enc([]byte(name)) + "&cert_no=" + enc([]byte(no))))
	return hex.EncodeToString(sum[:])
}

// FaceRet returns the verify_ret the simulator gives a name.
func FaceRet(name string) int {
	for _, r := range []struct {
		word string
		ret  int
	}{{"取消", 90003}, {"网络", 90007}, {"相机", 90008}, {"模糊", 90011}, {"超时", 90017}, {"失败", 90018}} {
		if strings.Contains(name, r.word) {
			return r.ret
		}
	}
	return 10000
}

// Queries returns how many queryverifyinfo calls were answered.
func (f *FaceSim) Queries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.queries
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(v); err != nil {
		WriteErr(w, 47001, "data format error")
		return false
	}
	return true
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f *FaceSim) getVerifyID(w http.ResponseWriter, r *http.Request) {
	if !f.s.CheckToken(w, r) {
		return
	}
	var req struct {
		OutSeqNo string `json:"out_seq_no"`
		CertInfo struct {
			CertType string `json:"cert_type"`
			CertName string `json:"cert_name"`
			CertNo   string `json:"cert_no"`
		} `json:"cert_info"`
		OpenID string `json:"openid"`
	}
	if !decode(w, r, &req) {
		return
	}
	ci := req.CertInfo
	switch {
	case !seqPattern.MatchString(req.OutSeqNo):
		WriteErr(w, 40097, "invalid args: out_seq_no")
		return
	case ci.CertType != "IDENTITY_CARD" || strings.TrimSpace(ci.CertName) == "" || len(ci.CertNo) != 18:
		WriteErr(w, 40097, "invalid args: cert_info")
		return
	case !openIDPattern.MatchString(req.OpenID):
		WriteErr(w, 40003, "invalid openid")
		return
	case strings.Contains(ci.CertName, "繁忙"):
		WriteErr(w, -1, "system error")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seqs[req.OutSeqNo] {
		WriteErr(w, 40097, "invalid args: out_seq_no duplicated")
		return
	}
	f.seqs[req.OutSeqNo] = true
	id := randomID(48)
	f.byVerify[id] = &faceSession{outSeqNo: req.OutSeqNo, openID: req.OpenID, certHash: certHash(ci.CertType, ci.CertName, ci.CertNo),
		name: ci.CertName, expires: f.s.Clock.Now().Add(time.Hour)}
	WriteJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "verify_id": id, "expires_in": 3600})
}

func (f *FaceSim) queryVerifyInfo(w http.ResponseWriter, r *http.Request) {
	if !f.s.CheckToken(w, r) {
		return
	}
	var req struct {
		VerifyID string `json:"verify_id"`
		OutSeqNo string `json:"out_seq_no"`
		CertHash string `json:"cert_hash"`
		OpenID   string `json:"openid"`
	}
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sess, ok := f.byVerify[req.VerifyID]
	switch {
	case !ok:
		WriteErr(w, 40097, "invalid args: verify_id")
		return
	case !f.s.Clock.Now().Before(sess.expires):
		WriteErr(w, 40097, "invalid args: verify_id expired")
		return
	case req.OutSeqNo != sess.outSeqNo:
		WriteErr(w, 40097, "invalid args: out_seq_no not match")
		return
	case req.OpenID != sess.openID:
		WriteErr(w, 40003, "invalid openid")
		return
	case req.CertHash != sess.certHash:
		WriteErr(w, 40097, "invalid args: cert_hash not match")
		return
	}
	f.queries++
	WriteJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "verify_ret": FaceRet(sess.name)})
}

// LegacyVerifyResult simulates wx.startFacialRecognitionVerify for the user
// openID and returns the verify_result the front end would receive.
func (f *FaceSim) LegacyVerifyResult(openID, name, idNumber string) string {
	vr := randomID(32)
	f.mu.Lock()
	f.legacy[vr] = legacyResult{openID: openID, name: name, idNumber: idNumber, at: f.s.Clock.Now()}
	f.mu.Unlock()
	return vr
}

func (f *FaceSim) legacyVerify(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OpenID       string `json:"openid"`
		Name         string `json:"name"`
		IDCardNumber string `json:"id_card_number"`
	}
	if !decode(w, r, &req) {
		return
	}
	WriteJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "verify_result": f.LegacyVerifyResult(req.OpenID, req.Name, req.IDCardNumber)})
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func (f *FaceSim) getInfo(w http.ResponseWriter, r *http.Request) {
	if !f.s.CheckToken(w, r) {
		return
	}
	var req struct {
		VerifyResult string `json:"verify_result"`
	}
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	res, ok := f.legacy[req.VerifyResult]
	f.mu.Unlock()
	if !ok {
		WriteErr(w, 84001, "invalid identify id")
		return
	}
	ret := FaceRet(res.name)
	if ret == 10000 {
		ret = 0
	}
	WriteJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "identify_ret": ret, "identify_time": res.at.Unix(),
		"validate_data": "8593", "openid": res.openID, "user_id_key": "", "finish_time": res.at.Unix(),
		"id_card_number_md5": md5hex(strings.ToUpper(res.idNumber)), "name_utf8_md5": md5hex(res.name)})
}
