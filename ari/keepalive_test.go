package ari_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/ari"
	"github.com/tandem-cc/tandem/pbxsim"
)

// A half-open events socket (the TCP connection stays open, nothing comes
// through, pings go unanswered) is noticed by the keepalive, reopened, and
// the PBX re-read: the waiting caller is still live, and its later events
// arrive on the new socket. Without the ping the driver would wait on the
// frozen socket forever.
func TestHalfOpenEventSocketIsNoticedAndReconnected(t *testing.T) {
	w := newWorldWith(t, nil, 2*time.Second, func(o *ari.Options) {
		o.PingInterval = 50 * time.Millisecond
		o.PongTimeout = 100 * time.Millisecond
		o.ReconnectBackoff = 10 * time.Millisecond
		o.ReconnectBackoffMax = 100 * time.Millisecond
	})
	caller, err := w.sim.Call(pbxsim.Caller{ANI: "5551000", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "call", func() bool {
		return w.count(func(e acd.Event) bool { c, ok := e.(acd.CallArrived); return ok && c.Leg == caller }) == 1
	})
	w.sim.FreezeWebSockets("tandem-test")
	var live []string
	w.waitFor(t, "resync after the half-open socket was replaced", func() bool {
		return w.count(func(e acd.Event) bool {
			if r, ok := e.(acd.Resynced); ok && !r.Initial {
				live = r.Live
				return true
			}
			return false
		}) >= 1
	})
	if !slices.Contains(live, caller) {
		t.Fatalf("resync live %v lacks the waiting caller %s", live, caller)
	}
	if err := w.sim.InjectDTMF(caller, "7"); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "a digit through the new socket", func() bool {
		return w.count(func(e acd.Event) bool { d, ok := e.(acd.DTMFReceived); return ok && d.Leg == caller && d.Digit == "7" }) == 1
	})
}
