package wxsim

import "testing"

func TestSimCertHashDocumentVector(t *testing.T) {
	got := certHash("IDENTITY_CARD", "张三", "310101199801011234")
	if want := "3c241f7ff324977aeb91f173bb2a7b06569e6fd784d5573db34a636d8671108b"; got != want {
		t.Fatalf("certHash=%s, want %s", got, want)
	}
}
