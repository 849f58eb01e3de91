package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shebao/sipay/internal/httpx"
	"github.com/shebao/sipay/service"
)

// TokenSource gives the mini-program access token.
type TokenSource interface {
	AccessToken(ctx context.Context) (string, error)
}

// FaceClient calls WeChat face verification (微信人脸核身): the 2.0 flow
// (getverifyid, queryverifyinfo) and the legacy 1.0 getinfo. silenceper has
// no client for these, so it is written here, reusing its access token. It
// implements service.FaceVerifier. It never logs the certificate data.
type FaceClient struct {
	tokens TokenSource
	base   string
	http   *http.Client
}

// NewFaceClient returns a FaceClient using c's access token, base URL and
// HTTP client.
func NewFaceClient(c *Client) *FaceClient {
	return NewFaceClientWith(c, c.APIBase(), c.HTTPClient())
}

// NewFaceClientWith returns a FaceClient with explicit parts.
func NewFaceClientWith(tokens TokenSource, apiBase string, hc *http.Client) *FaceClient {
	if hc == nil {
		hc = &http.Client{Transport: httpx.NewTransport(), Timeout: timeout}
	}
	return &FaceClient{tokens: tokens, base: strings.TrimRight(apiBase, "/"), http: hc}
}

// CertType returns WeChat's cert_type for a document type (service.FaceCertType).
func CertType(t service.IDType) string { return service.FaceCertType(t) }

// CertHash is the cert_hash of queryverifyinfo (service.CertHash).
func CertHash(certType, certName, certNo string) string {
	return service.CertHash(certType, certName, certNo)
}

type certInfo struct {
	CertType string `json:"cert_type"`
	CertName string `json:"cert_name"`
	CertNo   string `json:"cert_no"`
}

type errResp struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// post calls path with the access token and decodes the answer into out
// (which must embed errResp fields errcode/errmsg).
func (c *FaceClient) post(ctx context.Context, path string, body any, out any) error {
	tok, err := c.tokens.AccessToken(ctx)
	if err != nil {
		return fmt.Errorf("access token: %w", err)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path+"?access_token="+url.QueryEscape(tok), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL carries the access token; report the path only.
		return fmt.Errorf("%s: request failed", path)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: read: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: http status %d", path, resp.StatusCode)
	}
	var e errResp
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("%s: decode: %w", path, err)
	}
	if e.ErrCode != 0 {
		return &service.FaceAPIError{ErrCode: e.ErrCode, ErrMsg: e.ErrMsg}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: decode: %w", path, err)
	}
	return nil
}

// GetVerifyID calls cityservice/face/identify/getverifyid.
func (c *FaceClient) GetVerifyID(ctx context.Context, r service.FaceVerifyRequest) (string, time.Duration, error) {
	ct := CertType(r.Cert.IDType)
	if ct == "" {
		return "", 0, fmt.Errorf("getverifyid: unsupported document type %s", r.Cert.IDType)
	}
	var out struct {
		VerifyID  string `json:"verify_id"`
		ExpiresIn int    `json:"expires_in"`
	}
	body := map[string]any{"out_seq_no": r.OutSeqNo, "openid": r.OpenID,
		"cert_info": certInfo{CertType: ct, CertName: r.Cert.Name, CertNo: r.Cert.IDNumber}}
	if err := c.post(ctx, "/cityservice/face/identify/getverifyid", body, &out); err != nil {
		return "", 0, err
	}
	if out.VerifyID == "" {
		return "", 0, fmt.Errorf("getverifyid: empty verify_id")
	}
	return out.VerifyID, time.Duration(out.ExpiresIn) * time.Second, nil
}

// QueryVerifyInfo calls cityservice/face/identify/queryverifyinfo and returns
// verify_ret. Only errcode 0 with verify_ret 10000 means verified.
func (c *FaceClient) QueryVerifyInfo(ctx context.Context, q service.FaceQuery) (int, error) {
	var out struct {
		VerifyRet *int `json:"verify_ret"`
	}
	body := map[string]any{"verify_id": q.VerifyID, "out_seq_no": q.OutSeqNo, "openid": q.OpenID,
		"cert_hash": CertHash(CertType(q.Cert.IDType), q.Cert.Name, q.Cert.IDNumber)}
	if err := c.post(ctx, "/cityservice/face/identify/queryverifyinfo", body, &out); err != nil {
		return 0, err
	}
	if out.VerifyRet == nil {
		return 0, fmt.Errorf("queryverifyinfo: no verify_ret")
	}
	return *out.VerifyRet, nil
}

// LegacyIdentifyInfo calls the 1.0 cityservice/face/identify/getinfo.
func (c *FaceClient) LegacyIdentifyInfo(ctx context.Context, verifyResult string) (service.FaceLegacyInfo, error) {
	var out struct {
		IdentifyRet     *int   `json:"identify_ret"`
		IdentifyTime    int64  `json:"identify_time"`
		OpenID          string `json:"openid"`
		IDCardNumberMD5 string `json:"id_card_number_md5"`
		NameUTF8MD5     string `json:"name_utf8_md5"`
	}
	if err := c.post(ctx, "/cityservice/face/identify/getinfo", map[string]string{"verify_result": verifyResult}, &out); err != nil {
		return service.FaceLegacyInfo{}, err
	}
	if out.IdentifyRet == nil {
		return service.FaceLegacyInfo{}, fmt.Errorf("getinfo: no identify_ret")
	}
	return service.FaceLegacyInfo{IdentifyRet: *out.IdentifyRet, IdentifyTime: time.Unix(out.IdentifyTime, 0), OpenID: out.OpenID,
		IDCardNumberMD5: out.IDCardNumberMD5, NameUTF8MD5: out.NameUTF8MD5}, nil
}
