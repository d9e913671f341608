package ari_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/ari"
	"github.com/tandem-cc/tandem/pbxsim"
)

// A leg rung for a caller carries the caller's leg as originator (its
// formats, and CDR/CEL linkage); a leg rung for nobody carries the
// configured formats; never both (Asterisk refuses that with 400). Without
// either a Local endpoint settles on slin192 and Asterisk resamples every
// call.
func TestRingCarriesOriginatorOrFormats(t *testing.T) {
	w := newWorldWith(t, nil, 2*time.Second, func(o *ari.Options) { o.Formats = "alaw" })
	ctx := context.Background()
	for _, ep := range []string{"PJSIP/a", "PJSIP/b", "PJSIP/c"} {
		w.sim.SetPhone(ep, pbxsim.Phone{Mode: pbxsim.NoAnswer})
	}
	caller, err := w.sim.Call(pbxsim.Caller{ANI: "5551000", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "call", func() bool {
		return w.count(func(e acd.Event) bool { c, ok := e.(acd.CallArrived); return ok && c.Leg == caller }) == 1
	})
	rings := []acd.RingRequest{
		{Leg: "for-caller", Endpoint: "PJSIP/a", Timeout: 5 * time.Second, Originator: caller},
		{Leg: "for-nobody", Endpoint: "PJSIP/b", Timeout: 5 * time.Second},
		// The caller hung up a moment ago: Asterisk refuses the originator
		// (400), and the leg is rung with formats instead, so its end is
		// the ACD's to decide, as for any ring.
		{Leg: "for-gone", Endpoint: "PJSIP/c", Timeout: 5 * time.Second, Originator: "hung-up-caller"},
	}
	for _, r := range rings {
		if err := w.driver.Ring(ctx, r); err != nil {
			t.Fatalf("ring %s: %v", r.Leg, err)
		}
	}
	got := map[string]pbxsim.Originate{}
	for _, o := range w.sim.Originates() {
		got[o.Channel] = o
	}
	want := map[string][2]string{ // leg → originator, formats
		"for-caller": {caller, ""},
		"for-nobody": {"", "alaw"},
		"for-gone":   {"", "alaw"},
	}
	for leg, w := range want {
		o, ok := got[leg]
		if !ok {
			t.Errorf("%s: never originated", leg)
			continue
		}
		if o.Originator != w[0] || o.Formats != w[1] {
			t.Errorf("%s: originator %q formats %q, want %q %q", leg, o.Originator, o.Formats, w[0], w[1])
		}
	}
	if len(got) != len(want) {
		t.Errorf("originates %v, want one per ring", got)
	}
}

// With Local channels Asterisk reports busy only in the Dial event: the
// half Tandem created is destroyed with cause 0 (trace 04-agent-busy). The
// ring's outcome is busy, not failed.
func TestBusyLocalAgentIsBusyNotFailed(t *testing.T) {
	w := newWorld(t, nil, 2*time.Second)
	ctx := context.Background()
	for _, ep := range []string{"Local/agentA@sim-agent-busy", "Local/agentB@sim-agent"} {
		leg := "leg-" + ep[6:12]
		if ep == "Local/agentB@sim-agent" {
			w.sim.SetPhone(ep, pbxsim.Phone{Mode: pbxsim.Busy})
		}
		if err := w.driver.Ring(ctx, acd.RingRequest{Leg: leg, Endpoint: ep, Timeout: 3 * time.Second}); err != nil {
			t.Fatalf("ring %s: %v", ep, err)
		}
		var f acd.RingFailed
		w.waitFor(t, "ring of "+ep+" ended", func() bool {
			return w.count(func(e acd.Event) bool {
				r, ok := e.(acd.RingFailed)
				if ok && r.Leg == leg {
					f = r
				}
				return ok && r.Leg == leg
			}) == 1
		})
		if f.Reason != "busy" || f.Cause != 0 {
			t.Errorf("%s: reason %q cause %d, want busy with the cause Asterisk gave (0)", ep, f.Reason, f.Cause)
		}
	}
}

// A request whose context has ended is not sent: an engine that stopped
// acting for its seat (fenced, or its socket replaced by a newer holder's)
// must not ring an agent the newer holder may offer another call. Before,
// the request was sent anyway and only its answer was given up.
func TestRequestWithEndedContextIsNotSent(t *testing.T) {
	w := newWorld(t, nil, 2*time.Second)
	w.sim.SetPhone("PJSIP/a", pbxsim.Phone{Mode: pbxsim.NoAnswer})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := w.driver.Ring(ctx, acd.RingRequest{Leg: "late", Endpoint: "PJSIP/a", Timeout: 5 * time.Second})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "not sent") {
		t.Fatalf("ring with an ended context: %v, want it not sent (context.Canceled)", err)
	}
	// A request sent afterwards is answered, so every earlier one reached
	// the simulator (one HTTP connection pool, requests in order) — had
	// the ring been sent, it would be counted now.
	if err := w.driver.Ring(context.Background(), acd.RingRequest{Leg: "next", Endpoint: "PJSIP/a", Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, o := range w.sim.Originates() {
		if o.Channel == "late" {
			t.Fatalf("the ring with an ended context reached the PBX: %+v", o)
		}
	}
	if n := len(w.sim.Originates()); n != 1 {
		t.Fatalf("%d originates, want 1 (the second ring)", n)
	}
}
