package platform_test

import (
	"context"
	"testing"

	"github.com/shebao/sipay/internal/httpx/httpxtest"
)

// The posting workers call the platform concurrently. A client built
// without an HTTP client used http.DefaultTransport, which keeps 2 idle
// connections per host: a second burst of 16 calls dialed 14 again. The
// default client's transport keeps the first burst's connections.
func TestClient_ConcurrentCallsReuseTheirConnections(t *testing.T) {
	h := newHarness(t)
	const wave = 16
	srv := httpxtest.NewServer(t, wave, h.sim.Handler())
	c := mustClient(t, srv.URL, h.creds.Secret) // no *http.Client: the default one
	p := person("张欠费", "110101199003074514")
	first, second := srv.NewConnsPerWave(t, func(int) error {
		_, err := c.FindProfile(context.Background(), testRegion, p)
		return err
	})
	if first < wave {
		t.Fatalf("first wave opened %d connections, want %d (the server holds the calls until all are in)", first, wave)
	}
	if second > 2 {
		t.Errorf("second wave opened %d new connections, want at most 2: the first wave's were not kept", second)
	}
}
