package pbxmux_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/pbxmux"
	"github.com/tandem-cc/tandem/pbxsim"
)

// A caller on ast2 and an agent whose phone is on ast1: the agent is rung
// by ast2 through its trunk to ast1 (the media stays on the caller's PBX
// and crosses over the trunk), and every later command about the call goes
// to ast2 alone.
func TestAgentOnOtherNodeIsRungThroughTheTrunkAndEveryCommandFollowsItsLeg(t *testing.T) {
	w := newWorld(t, trunks)
	ctx := context.Background()
	w.ast2.sim.SetPhone("PJSIP/1001@ast1", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond})

	caller := w.call(t, w.ast2, "5552000")
	if err := w.mux.Answer(ctx, caller); err != nil {
		t.Fatal(err)
	}
	w.onlyOn(t, w.ast2, caller, "answer")
	if err := w.mux.StartMusic(ctx, caller, ""); err != nil {
		t.Fatal(err)
	}
	if err := w.mux.Ring(ctx, acd.RingRequest{Leg: "agent-leg-1", Endpoint: "ast1/PJSIP/1001", CallerID: "5552000", Timeout: 10 * time.Second, Originator: caller}); err != nil {
		t.Fatal(err)
	}
	if got := w.ast1.sim.Originates(); len(got) != 0 {
		t.Errorf("ast1 originated %+v: the ring must go through the caller's node", got)
	}
	orig := w.ast2.sim.Originates()
	if len(orig) != 1 || orig[0].Channel != "agent-leg-1" || orig[0].Endpoint != "PJSIP/1001@ast1" || orig[0].Originator != caller {
		t.Fatalf("ast2 originates %+v, want agent-leg-1 to PJSIP/1001@ast1 for %s", orig, caller)
	}
	waitEvent(t, w, "agent-leg-1", func(e acd.LegAnswered) string { return e.Leg })

	// The call's bridge is asked for with no legs: it is made on the node
	// of the first leg added, and nothing is sent before.
	before1, before2 := w.ast1.requestCount(), w.ast2.requestCount()
	if err := w.mux.Bridge(ctx, "bridge-1"); err != nil {
		t.Fatal(err)
	}
	if w.ast1.requestCount() != before1 || w.ast2.requestCount() != before2 {
		t.Errorf("an empty bridge was sent to a PBX before any leg named its node")
	}
	steps := []struct {
		what string
		id   string
		do   func() error
	}{
		{"add agent", "bridge-1", func() error { return w.mux.AddToBridge(ctx, "bridge-1", "agent-leg-1") }},
		{"stop music", caller, func() error { return w.mux.StopMusic(ctx, caller) }},
		{"add caller", "bridge-1/addChannel", func() error { return w.mux.AddToBridge(ctx, "bridge-1", caller) }},
		{"record", "bridge-1/record", func() error { return w.mux.StartRecording(ctx, "bridge-1", "rec-1") }},
		{"pause", "rec-1/pause", func() error { return w.mux.PauseRecording(ctx, "rec-1") }},
		{"resume", "rec-1/pause", func() error { return w.mux.ResumeRecording(ctx, "rec-1") }},
		{"stop recording", "rec-1/stop", func() error { return w.mux.StopRecording(ctx, "rec-1") }},
		{"remove agent", "removeChannel", func() error { return w.mux.RemoveFromBridge(ctx, "bridge-1", "agent-leg-1") }},
		{"play", "play-1", func() error {
			return w.mux.StartMedia(ctx, "agent-leg-1", "play-1", media.SoundOf("hello-world"), media.DigitsOf("12"))
		}},
		{"stop play", "play-1", func() error { return w.mux.StopMedia(ctx, "play-1") }},
		{"hang up agent", "agent-leg-1", func() error { return w.mux.Hangup(ctx, "agent-leg-1", acd.CauseNormal) }},
		{"destroy bridge", "bridge-1", func() error { return w.mux.DestroyBridge(ctx, "bridge-1") }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		w.onlyOn(t, w.ast2, s.id, s.what)
	}
	if v, ok := w.ast2.sim.Channel(caller); !ok || v.State != "Up" {
		t.Errorf("caller on ast2: %+v", v)
	}
	waitEvent(t, w, "agent-leg-1", func(e acd.LegHungUp) string { return e.Leg })
	if got := w.ast1.requestCount(); got != 0 {
		t.Errorf("ast1 got %d requests (%v); none of this call is there", got, w.ast1.sent(""))
	}

	// A caller on ast1 is answered and sent back to the dialplan on ast1.
	other := w.call(t, w.ast1, "5551000")
	if err := w.mux.Answer(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := w.mux.ContinueInDialplan(ctx, other); err != nil {
		t.Fatal(err)
	}
	w.onlyOn(t, w.ast1, other, "answer and continue")
	if got := w.ast1.sent(other + "/continue"); len(got) != 1 {
		t.Errorf("continue on ast1: %v", got)
	}
}

// A bridge joining legs of two nodes is refused before anything is sent,
// and so is adding a leg of one node to a bridge on the other.
func TestBridgeAcrossNodesIsRefusedAndNothingIsSent(t *testing.T) {
	w := newWorld(t, trunks)
	ctx := context.Background()
	a := w.call(t, w.ast1, "1")
	b := w.call(t, w.ast2, "2")
	before1, before2 := w.ast1.requestCount(), w.ast2.requestCount()

	err := w.mux.Bridge(ctx, "cross", a, b)
	if !errors.Is(err, pbxmux.ErrCrossNode) {
		t.Fatalf("bridge across nodes: %v, want ErrCrossNode", err)
	}
	for _, part := range []string{a, b, "ast1", "ast2"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not name %s", err, part)
		}
	}
	// A bridge made on ast1 (with a's leg) cannot take b.
	if err := w.mux.Bridge(ctx, "on-ast1"); err != nil {
		t.Fatal(err)
	}
	if err := w.mux.AddToBridge(ctx, "on-ast1", a); err != nil {
		t.Fatal(err)
	}
	before1++ // POST /bridges/on-ast1 ...
	before1++ // ... and the addChannel of a
	err = w.mux.AddToBridge(ctx, "on-ast1", b)
	if !errors.Is(err, pbxmux.ErrCrossNode) || !strings.Contains(err.Error(), b) {
		t.Fatalf("add a leg of ast2 to a bridge of ast1: %v", err)
	}
	if got := w.ast1.requestCount(); got != before1 {
		t.Errorf("ast1 got %d requests, want %d: %v", got, before1, w.ast1.sent(""))
	}
	if got := w.ast2.requestCount(); got != before2 {
		t.Errorf("ast2 got %d requests, want %d: %v", got, before2, w.ast2.sent(""))
	}
	if _, ok := w.ast2.sim.Bridge("cross"); ok {
		t.Errorf("ast2 has the refused bridge")
	}
	if v, ok := w.ast1.sim.Bridge("on-ast1"); !ok || len(v.Channels) != 1 || v.Channels[0] != a {
		t.Errorf("bridge on ast1: %+v", v)
	}
}

// Without a trunk from the caller's node to the agent's, the ring is
// refused with ErrNoTrunk naming both nodes and the key to configure; an
// endpoint naming no node is ErrNoNode when nothing says where to ring.
func TestRingWithoutTrunkOrNodeIsRefused(t *testing.T) {
	w := newWorld(t, map[string]map[string]string{"ast1": {"ast2": "PJSIP/{exten}@ast2"}})
	ctx := context.Background()
	caller := w.call(t, w.ast2, "5552000")

	err := w.mux.Ring(ctx, acd.RingRequest{Leg: "no-trunk", Endpoint: "ast1/PJSIP/1001", Timeout: time.Second, Originator: caller})
	if !errors.Is(err, pbxmux.ErrNoTrunk) {
		t.Fatalf("ring without trunk: %v, want ErrNoTrunk", err)
	}
	for _, part := range []string{"ast1", "ast2", "pbx.trunks: {from: ast2, to: ast1}"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not name %s", err, part)
		}
	}
	err = w.mux.Ring(ctx, acd.RingRequest{Leg: "no-node", Endpoint: "PJSIP/1001", Timeout: time.Second})
	if !errors.Is(err, pbxmux.ErrNoNode) || !strings.Contains(err.Error(), "PJSIP/1001") {
		t.Fatalf("ring of an endpoint without node: %v, want ErrNoNode naming it", err)
	}
	if n := len(w.ast1.sim.Originates()) + len(w.ast2.sim.Originates()); n != 0 {
		t.Errorf("%d originates reached the PBXs", n)
	}
	// Rung for nobody, an endpoint on ast1 rings on ast1 itself; an
	// endpoint without node rung for ast2's caller rings on ast2 as it is.
	w.ast1.sim.SetPhone("PJSIP/1001", pbxsim.Phone{Mode: pbxsim.NoAnswer})
	w.ast2.sim.SetPhone("PJSIP/2002", pbxsim.Phone{Mode: pbxsim.NoAnswer})
	if err := w.mux.Ring(ctx, acd.RingRequest{Leg: "own-node", Endpoint: "ast1/PJSIP/1001", Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := w.mux.Ring(ctx, acd.RingRequest{Leg: "callers-node", Endpoint: "PJSIP/2002", Timeout: 5 * time.Second, Originator: caller}); err != nil {
		t.Fatal(err)
	}
	if o := w.ast1.sim.Originates(); len(o) != 1 || o[0].Channel != "own-node" || o[0].Endpoint != "PJSIP/1001" {
		t.Errorf("ast1 originates %+v", o)
	}
	if o := w.ast2.sim.Originates(); len(o) != 1 || o[0].Channel != "callers-node" || o[0].Endpoint != "PJSIP/2002" {
		t.Errorf("ast2 originates %+v", o)
	}
	// A leg no node has: commands say it is gone without asking any node
	// (Hangup asks them all: TestHangupOfALegOfUnknownNodeReachesEveryNode).
	if err := w.mux.Answer(ctx, "nobody-has-it"); !errors.Is(err, acd.ErrLegGone) {
		t.Errorf("answer of an unknown leg: %v, want ErrLegGone", err)
	}
	if err := w.mux.StopMusic(ctx, "nobody-has-it"); !errors.Is(err, acd.ErrLegGone) {
		t.Errorf("stop music of an unknown leg: %v, want ErrLegGone", err)
	}
	if got := w.ast1.sent("nobody-has-it"); len(got)+len(w.ast2.sent("nobody-has-it")) != 0 {
		t.Errorf("requests about an unknown leg were sent")
	}
}

// A bridge the mux never saw (made before a restart or a seat's hand-over,
// and emptied since, so no node's read listed it) is still destroyed: the
// destroy goes to every node, which take an unknown bridge as destroyed
// already. It used to go nowhere, and the empty bridge stayed on the PBX
// for good (chaos test, rolling restarts).
func TestDestroyOfABridgeOfUnknownNodeReachesEveryNode(t *testing.T) {
	w := newWorld(t, trunks)
	ctx := context.Background()
	// Made on ast2 behind the mux's back, as a previous holder did.
	if err := w.ast2.driver.Bridge(ctx, "old-bridge"); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.ast2.sim.Bridge("old-bridge"); !ok {
		t.Fatal("the bridge was not made")
	}
	if err := w.mux.DestroyBridge(ctx, "old-bridge"); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.ast2.sim.Bridge("old-bridge"); ok {
		t.Fatal("the bridge of unknown node is still on ast2")
	}
	if len(w.ast1.sent("old-bridge")) == 0 {
		t.Error("ast1 was not asked: a node unknown means every node")
	}
	if err := w.mux.DestroyBridge(ctx, "never-was"); err != nil {
		t.Errorf("destroying a bridge no node has: %v, want nil", err)
	}
}

// A leg rung behind the mux's back (by a previous holder, before any node's
// read listed it) is still hung up: the hang-up goes to every node. It used
// to be taken as gone, and the dead holder's ring went on while the agent
// was offered again (chaos test with a FreeSWITCH node).
func TestHangupOfALegOfUnknownNodeReachesEveryNode(t *testing.T) {
	w := newWorld(t, trunks)
	ctx := context.Background()
	w.ast2.sim.SetPhone("PJSIP/2001", pbxsim.Phone{Mode: pbxsim.NoAnswer})
	if err := w.ast2.driver.Ring(ctx, acd.RingRequest{Leg: "old-leg", Endpoint: "PJSIP/2001", CallerID: "5552000", Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if c, ok := w.ast2.sim.Channel("old-leg"); !ok || c.HungUp {
		t.Fatalf("the leg does not ring on ast2: %+v", c)
	}
	if err := w.mux.Hangup(ctx, "old-leg", acd.CauseNormal); err != nil {
		t.Fatal(err)
	}
	if c, ok := w.ast2.sim.Channel("old-leg"); !ok || !c.HungUp {
		t.Fatalf("the leg of unknown node still rings on ast2: %+v", c)
	}
	if len(w.ast1.sent("old-leg")) == 0 {
		t.Error("ast1 was not asked: a node unknown means every node")
	}
	if err := w.mux.Hangup(ctx, "never-was", acd.CauseNormal); err != nil {
		t.Errorf("hanging up a leg no node has: %v, want nil", err)
	}
}
