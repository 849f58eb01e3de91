package sim

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/shebao/sipay/wxpay"
)

// PayScoreServiceID is the simulated merchant's Pay Score service id (32
// digits, as WeChat issues them).
const PayScoreServiceID = "00004000000000170000000000000001"

// PayScoreAPIv2Key is the simulated merchant's APIv2 key, which signs the
// Pay Score confirmation extraData. It is derived from the dev keys' APIv3
// key, so the persisted dev key files need no new entry.
func PayScoreAPIv2Key(k *wxpay.DevKeys) string {
	sum := sha256.Sum256([]byte("sipay sim payscore apiv2 key\x00" + k.APIv3Key))
	return hex.EncodeToString(sum[:16])
}
