package pbxsim

import (
	"testing"

	"github.com/CyCoreSystems/ari/v5"
)

// TestLeftoversListWhatOutlivesTheCall: a bridge stays, empty, after its
// last channel hung up, and its recording runs on with it (Asterisk keeps
// an ARI bridge until it is destroyed); a snoop goes with the channel it
// snoops (trace 11). Leftovers lists exactly that, and nothing once the
// bridge is destroyed.
func TestLeftoversListWhatOutlivesTheCall(t *testing.T) {
	w := newWorld(t, fastTiming)
	cl, rec := w.connect("acd")
	if l := w.sim.Leftovers(); !l.Empty() {
		t.Fatalf("a new simulator holds %s", l)
	}
	id, err := w.sim.Call(Caller{ANI: "5551000", DNIS: "8000"})
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "StasisStart", isStasisStart(id))
	key := chanKey(id)
	if err := cl.Channel().Answer(key); err != nil {
		t.Fatal(err)
	}
	br, err := cl.Bridge().Create(ari.NewKey(ari.BridgeKey, "call-1"), "mixing", "call-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := br.AddChannel(id); err != nil {
		t.Fatal(err)
	}
	if _, err := br.Record("call-1", &ari.RecordingOptions{Format: "wav"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Channel().Snoop(key, "snoop-1", &ari.SnoopOptions{App: "acd", Spy: ari.DirectionBoth}); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "the snoop's StasisStart", isStasisStart("snoop-1"))
	l := w.sim.Leftovers()
	if len(l.Bridges) != 1 || len(l.Snoops) != 1 || len(l.Recordings) != 1 ||
		l.Bridges[0].ID != "call-1" || l.Snoops[0].ID != "snoop-1" || l.Recordings[0].Target != "bridge:call-1" {
		t.Fatalf("during the call: %s", l)
	}
	if err := w.sim.HangUp("snoop-1"); err == nil {
		t.Fatal("a snoop was hung up as if it had a far end")
	}

	if err := w.sim.HangUp(id); err != nil {
		t.Fatal(err)
	}
	// HangUp returns with the channel gone (an inbound channel that
	// entered Stasis from the dialplan reports StasisEnd, not
	// ChannelDestroyed).
	l = w.sim.Leftovers()
	if len(l.Snoops) != 0 || len(l.Bridges) != 1 || len(l.Bridges[0].Channels) != 0 || len(l.Recordings) != 1 {
		t.Fatalf("after the caller hung up: %s, want the empty bridge and its recording only", l)
	}
	if err := w.sim.HangUp(id); err == nil {
		t.Fatal("a channel hung up twice")
	}
	if err := br.Delete(); err != nil {
		t.Fatal(err)
	}
	if l := w.sim.Leftovers(); !l.Empty() {
		t.Fatalf("after the bridge was destroyed: %s", l)
	}
}
