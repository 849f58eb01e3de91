package wxpay

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// DevKeys is a complete, throwaway set of WeChat Pay credentials for the
// built-in simulator: the merchant key pair (we sign requests and paySign with
// it), the "WeChat Pay public key" pair (the simulator signs responses and
// notifications with it), the APIv3 key and the ids. Never use them against
// the real WeChat Pay.
type DevKeys struct {
	MerchantKey    *rsa.PrivateKey
	MerchantSerial string
	PlatformKey    *rsa.PrivateKey
	PublicKeyID    string // "PUB_KEY_ID_..." shape
	APIv3Key       string // 32 bytes
	MchID          string
	AppID          string
}

// File names inside the directory given to LoadOrCreateDevKeys.
const (
	devMerchantKeyFile = "dev_merchant_key.pem"
	devPlatformKeyFile = "dev_wechatpay_key.pem"
	devMetaFile        = "dev_wechatpay.json"
)

type devMeta struct {
	MerchantSerial string `json:"merchant_serial"`
	PublicKeyID    string `json:"public_key_id"`
	APIv3Key       string `json:"apiv3_key"`
	MchID          string `json:"mchid"`
	AppID          string `json:"appid"`
}

// LoadOrCreateDevKeys reads the dev keys stored in dir, or generates RSA-2048
// keys and ids once and stores them there (files 0600, dir 0700) so restarts
// reuse them.
func LoadOrCreateDevKeys(dir string) (*DevKeys, error) {
	metaPath := filepath.Join(dir, devMetaFile)
	raw, err := os.ReadFile(metaPath)
	switch {
	case err == nil:
		return loadDevKeys(dir, raw)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read dev keys: %w", err)
	}
	k, err := GenerateDevKeys()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create dev keys dir: %w", err)
	}
	for name, key := range map[string]*rsa.PrivateKey{devMerchantKeyFile: k.MerchantKey, devPlatformKeyFile: k.PlatformKey} {
		b, err := EncodePrivateKeyPEM(key)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, fmt.Errorf("write dev key: %w", err)
		}
	}
	meta, err := json.MarshalIndent(devMeta{k.MerchantSerial, k.PublicKeyID, k.APIv3Key, k.MchID, k.AppID}, "", "  ")
	if err != nil {
		return nil, err
	}
	// The meta file is written last: its presence means the set is complete.
	if err := os.WriteFile(metaPath, meta, 0o600); err != nil {
		return nil, fmt.Errorf("write dev keys: %w", err)
	}
	return k, nil
}

func loadDevKeys(dir string, raw []byte) (*DevKeys, error) {
	var m devMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parse dev keys: %w", err)
	}
	mk, err := LoadPrivateKeyFile(filepath.Join(dir, devMerchantKeyFile))
	if err != nil {
		return nil, err
	}
	pk, err := LoadPrivateKeyFile(filepath.Join(dir, devPlatformKeyFile))
	if err != nil {
		return nil, err
	}
	if len(m.APIv3Key) != 32 {
		return nil, fmt.Errorf("dev keys: apiv3 key must be 32 bytes, got %d", len(m.APIv3Key))
	}
	return &DevKeys{MerchantKey: mk, MerchantSerial: m.MerchantSerial, PlatformKey: pk,
		PublicKeyID: m.PublicKeyID, APIv3Key: m.APIv3Key, MchID: m.MchID, AppID: m.AppID}, nil
}

// GenerateDevKeys makes a fresh in-memory DevKeys (two RSA-2048 keys).
func GenerateDevKeys() (*DevKeys, error) {
	mk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate merchant key: %w", err)
	}
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate wechat pay key: %w", err)
	}
	serial := make([]byte, 20)
	if _, err := rand.Read(serial); err != nil {
		return nil, err
	}
	appid := make([]byte, 8)
	if _, err := rand.Read(appid); err != nil {
		return nil, err
	}
	return &DevKeys{
		MerchantKey:    mk,
		MerchantSerial: strings.ToUpper(hex.EncodeToString(serial)),
		PlatformKey:    pk,
		PublicKeyID:    "PUB_KEY_ID_" + randomDigits(32),
		APIv3Key:       randomAlnum(32),
		MchID:          "19" + randomDigits(8),
		AppID:          "wx" + hex.EncodeToString(appid),
	}, nil
}

// EncodePrivateKeyPEM encodes key as a PKCS#8 "PRIVATE KEY" PEM block, the
// format of apiclient_key.pem.
func EncodePrivateKeyPEM(key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKeyPEM encodes key as a PKIX "PUBLIC KEY" PEM block, the format
// of the WeChat Pay public key file.
func EncodePublicKeyPEM(key *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// LoadPrivateKeyFile loads a merchant private key (apiclient_key.pem, PKCS#8).
func LoadPrivateKeyFile(path string) (*rsa.PrivateKey, error) {
	k, err := utils.LoadPrivateKeyWithPath(path)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", path, err)
	}
	return k, nil
}

// LoadPublicKeyFile loads the WeChat Pay public key (pub_key.pem, PKIX).
func LoadPublicKeyFile(path string) (*rsa.PublicKey, error) {
	k, err := utils.LoadPublicKeyWithPath(path)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", path, err)
	}
	return k, nil
}

// LoadCertificateFile loads a WeChat Pay platform certificate (PEM).
func LoadCertificateFile(path string) (*x509.Certificate, error) {
	c, err := utils.LoadCertificateWithPath(path)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s: %w", path, err)
	}
	return c, nil
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randomAlnum(n int) string { return RandomString(alnum, n) }

func randomDigits(n int) string { return RandomString(alnum[:10], n) }

// RandomString returns n characters drawn from alphabet with crypto/rand:
// nonces, test keys and the simulators' ids.
func RandomString(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}
