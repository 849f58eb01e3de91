package wxpay_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shebao/sipay/wxpay"
)

func TestLoadOrCreateDevKeys_RestartReusesKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k1, err := wxpay.LoadOrCreateDevKeys(dir)
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	k2, err := wxpay.LoadOrCreateDevKeys(dir)
	if err != nil {
		t.Fatalf("second call: %v", err)
	}
	if !k1.MerchantKey.Equal(k2.MerchantKey) || !k1.PlatformKey.Equal(k2.PlatformKey) || *k1 != (wxpay.DevKeys{
		MerchantKey: k1.MerchantKey, PlatformKey: k1.PlatformKey, MerchantSerial: k2.MerchantSerial,
		PublicKeyID: k2.PublicKeyID, APIv3Key: k2.APIv3Key, MchID: k2.MchID, AppID: k2.AppID}) {
		t.Errorf("second load differs from the first")
	}
	if got := len(k1.APIv3Key); got != 32 {
		t.Errorf("APIv3 key length %d, want 32", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
	if _, err := wxpay.LoadPrivateKeyFile(filepath.Join(dir, "dev_merchant_key.pem")); err != nil {
		t.Errorf("LoadPrivateKeyFile: %v", err)
	}
}
