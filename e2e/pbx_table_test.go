package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/internal/lab"
)

// pbxKinds are the PBXs every portable scenario runs on. lab.FreeSWITCH
// joins once its simulator and driver are wired into the lab
// (internal/lab/rig.go): this is the one line to change.
var pbxKinds = []lab.PBXKind{lab.Asterisk}

// forEachPBX runs a scenario once per PBX kind, as a subtest named after
// the kind: a test names its scenario once and it runs on every driver.
// The scenario starts its lab on pbx and acts through the portable API
// only (Lab.PBX, Lab.Endpoint, Lab.Bridged, Redis, the engines).
func forEachPBX(t *testing.T, fn func(t *testing.T, pbx lab.PBXKind)) {
	t.Helper()
	for _, k := range pbxKinds {
		t.Run(string(k), func(t *testing.T) { fn(t, k) })
	}
}

// TestPortableScenariosStartOnTheirPBX: a lab started for a kind runs on
// it, and the portable API names that kind's endpoints.
func TestPortableScenariosStartOnTheirPBX(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabOn(t, pbx, 1, time.Second, nil)
		if l.Kind() != pbx || l.PBX == nil {
			t.Fatalf("lab on %q: kind %q, PBX %v", pbx, l.Kind(), l.PBX)
		}
		if got, want := l.Endpoint("1001"), pbx.Endpoint("1001"); got != want || !strings.HasSuffix(got, "/1001") {
			t.Fatalf("endpoint of 1001 on %s: %q, want %q", pbx, got, want)
		}
	})
}
