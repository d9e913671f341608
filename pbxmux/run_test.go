package pbxmux_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/ari"
	"github.com/tandem-cc/tandem/errs"
)

// The engine gets one Initial Resynced, once every node has made its
// first report: a node still unreachable holds it back (the other node's
// calls are delivered meanwhile), and it lists both nodes' legs.
func TestInitialResyncedWaitsForEveryNodeAndIsTheUnion(t *testing.T) {
	w := newStoppedWorld(t, trunks)
	w.start(t)
	w.waitFor(t, "both drivers connected", func() bool { return w.ast1.driver.Connected() && w.ast2.driver.Connected() })
	a := w.call(t, w.ast1, "1")
	b := w.call(t, w.ast2, "2")
	w.stop(t) // the calls stay in the application, as in Asterisk (trace 14)

	w.mu.Lock()
	w.events = nil
	w.mu.Unlock()
	w.ast2.gated.Store(true)
	w.start(t)
	w.waitFor(t, "ast1 connected", w.ast1.driver.Connected)
	c := w.call(t, w.ast1, "3")
	// ast1's own report came before its call (a driver reports, then
	// reads): had the mux passed it on, it would be here.
	if got := w.resyncs(); len(got) != 0 {
		t.Fatalf("resynced delivered while ast2 had not reported: %+v", got)
	}
	w.ast2.gated.Store(false)
	w.waitFor(t, "the Initial Resynced", func() bool { return w.initials() == 1 })
	r := w.resyncs()[0]
	for _, leg := range []string{a, b, c} {
		if !slices.Contains(r.Live, leg) {
			t.Errorf("initial Live %v lacks %s", r.Live, leg)
		}
	}
	if !r.Initial || len(w.resyncs()) != 1 {
		t.Errorf("resyncs %+v, want one Initial", w.resyncs())
	}

	// After the first, one node's reconnect is a union with Initial false:
	// ast2's call stays live although only ast1 re-read its PBX.
	w.ast1.sim.DropWebSockets(app)
	w.waitFor(t, "a second Resynced", func() bool { return len(w.resyncs()) == 2 })
	r = w.resyncs()[1]
	if r.Initial {
		t.Errorf("a later resync is Initial")
	}
	for _, leg := range []string{a, b, c} {
		if !slices.Contains(r.Live, leg) {
			t.Errorf("Live %v after ast1's reconnect lacks %s", r.Live, leg)
		}
	}
	if w.initials() != 1 {
		t.Errorf("%d Initial Resynced, want 1", w.initials())
	}
	// A leg of the first run (known from the resyncs only) is routed to
	// its node.
	if err := w.mux.Answer(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	w.onlyOn(t, w.ast2, b, "answer after restart")
}

// Cancelling Run stops both drivers: each PBX's application loses its
// socket, and Run returns nil.
func TestRunStopsEveryDriverOnCancel(t *testing.T) {
	w := newWorld(t, trunks)
	w.stop(t)
	for _, n := range []*node{w.ast1, w.ast2} {
		if n.driver.Connected() {
			t.Errorf("%s driver still connected", n.name)
		}
		w.waitFor(t, n.name+" application without socket", func() bool {
			v, ok := n.sim.App(app)
			return !ok || !v.Active
		})
	}
}

// A node whose driver fails for good (here fenced: another connection
// took its application) ends Run with the node's name and the driver's
// error, and the other node's driver is stopped too.
func TestOneNodeFailingStopsTheOthers(t *testing.T) {
	w := newWorld(t, trunks)
	thief := ari.New(ari.Options{URL: w.ast1.srv.URL + "/ari", Username: "u", Password: "p", App: app, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	thiefDone := make(chan error, 1)
	go func() { thiefDone <- thief.Run(ctx, func(acd.Event) {}) }()
	defer func() {
		cancel()
		if err := <-thiefDone; err != nil {
			t.Errorf("the other connection's driver: %v", err)
		}
	}()
	var err error
	select {
	case err = <-w.done:
	case <-time.After(20 * time.Second):
		t.Fatal("mux Run did not end when ast1's application was taken")
	}
	w.cancel = nil // Run is over; cleanup must not wait for it again
	if !errors.Is(err, ari.ErrReplaced) || !errors.Is(err, errs.ErrFenced) || !strings.Contains(err.Error(), "ast1") {
		t.Fatalf("Run: %v, want ast1's ErrReplaced", err)
	}
	if w.ast2.driver.Connected() {
		t.Errorf("ast2's driver still runs")
	}
	w.waitFor(t, "ast2 application without socket", func() bool {
		v, ok := w.ast2.sim.App(app)
		return !ok || !v.Active
	})
}

// Takeover asks every node: a leg one node has is that node's (and is
// routed there afterwards), a leg no node has is Gone.
func TestTakeoverMergesTheNodesAnswers(t *testing.T) {
	w := newWorld(t, trunks)
	ctx := context.Background()
	a := w.call(t, w.ast1, "1")
	b := w.call(t, w.ast2, "2")
	if err := w.mux.Answer(ctx, b); err != nil {
		t.Fatal(err)
	}
	states, err := w.mux.Takeover(ctx, w.mux.Owner(), []string{a, b, "never-was"})
	if err != nil {
		t.Fatal(err)
	}
	want := []acd.LegState{{Leg: a}, {Leg: b, Up: true}, {Leg: "never-was", Gone: true}}
	if !slices.Equal(states, want) {
		t.Errorf("states %+v, want %+v", states, want)
	}
	if w.mux.Owner() != app {
		t.Errorf("owner %q", w.mux.Owner())
	}
}
