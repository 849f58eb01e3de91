package redact_test

import (
	"strings"
	"testing"

	"github.com/shebao/sipay/redact"
)

func TestPersonalMasksOpenIDNameIDNumberAndPhoneOnly(t *testing.T) {
	in := `out_trade_no=SI2026112479286389348651_01 transaction_id=4200000001202611240000000001 amount.total 9999; ` +
		`body={"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"name":"欧阳明月","id_number":"110105194802023456","phone":"13987654321"} ` +
		`escaped={\"openid\":\"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\"} cert_name=欧阳明月`
	got := redact.Personal(in)
	for _, pii := range []string{"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "欧阳明月", "110105194802023456", "13987654321"} {
		if strings.Contains(got, pii) {
			t.Errorf("Personal kept %q: %s", pii, got)
		}
	}
	for _, keep := range []string{"SI2026112479286389348651_01", "4200000001202611240000000001", "9999", `"openid":"oUpF****`, "110105********3456", "139****4321"} {
		if !strings.Contains(got, keep) {
			t.Errorf("Personal lost %q: %s", keep, got)
		}
	}
	if again := redact.Personal(got); again != got {
		t.Errorf("masking twice changed the text:\n%s\n%s", got, again)
	}
}
