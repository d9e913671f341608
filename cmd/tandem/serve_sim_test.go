package main

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/pbxsim"
)

// serveAgainstSim prepares a test that runs `tandem serve` in-process:
// the test's own TANDEM_* variables are cleared (they would override the
// configuration the test writes), and an ARI simulator (user tandem,
// password pw) is served on loopback until the test ends.
func serveAgainstSim(t *testing.T) *httptest.Server {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "TANDEM_") {
			t.Setenv(k, "")
			_ = os.Unsetenv(k)
		}
	}
	sim := pbxsim.New(pbxsim.Options{Username: "tandem", Password: "pw"})
	ari := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); ari.Close() })
	return ari
}
