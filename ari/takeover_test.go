package ari_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/ari"
	"github.com/tandem-cc/tandem/pbxsim"
)

// cluster is one simulated Asterisk shared by several replicas, each a
// driver with its own Stasis application.
type cluster struct {
	sim *pbxsim.Sim
	srv *httptest.Server
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	sim := pbxsim.New(pbxsim.Options{Username: "u", Password: "p"})
	c := &cluster{sim: sim, srv: httptest.NewServer(sim.Handler())}
	t.Cleanup(func() {
		c.sim.Close()
		c.srv.Close()
	})
	return c
}

// replica is one running driver and the events its handler received.
type replica struct {
	app      string
	driver   *ari.Driver
	cancel   context.CancelFunc
	finished chan struct{} // closed when Run has returned
	runErr   error         // Run's result, once finished

	mu     sync.Mutex
	events []acd.Event
}

// start runs a driver for app and waits until its socket is registered.
// Cleanup stops it.
func (c *cluster) start(t *testing.T, app string) *replica {
	t.Helper()
	r := &replica{app: app, finished: make(chan struct{})}
	r.driver = ari.New(ari.Options{URL: c.srv.URL + "/ari", Username: "u", Password: "p", App: app, RequestTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.finished)
		r.runErr = r.driver.Run(ctx, r.record)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.finished
	})
	eventually(t, app+" registered", func() bool { return c.appActive(app) })
	return r
}

// wait returns Run's result once it has returned.
func (r *replica) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.finished:
		return r.runErr
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: Run did not return", r.app)
		return nil
	}
}

func (r *replica) running() bool {
	select {
	case <-r.finished:
		return false
	default:
		return true
	}
}

func (r *replica) record(ev acd.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// got lists the events the replica received, but the first read of its
// application (Resynced.Initial), which every Run starts with.
func (r *replica) got() []acd.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(r.events), func(e acd.Event) bool { s, ok := e.(acd.Resynced); return ok && s.Initial })
}

func (r *replica) has(ev acd.Event) bool { return slices.Contains(r.got(), ev) }

// crash ends a replica the way a killed process does: its socket goes, and
// nothing is hung up. The simulator is told at once (as an abrupt TCP close
// would) so that what happens next does not race with it noticing.
func (c *cluster) crash(t *testing.T, r *replica) {
	t.Helper()
	r.cancel()
	if err := r.wait(t); err != nil {
		t.Fatalf("%s Run: %v", r.app, err)
	}
	c.sim.DropWebSockets(r.app)
}

// appActive reports whether app has a live socket: a channel sent to it now
// would enter Stasis.
func (c *cluster) appActive(app string) bool {
	v, ok := c.sim.App(app)
	return ok && v.Active
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestTakeoverContinuesADeadReplicasRingingLeg: replica A rings an agent
// and dies before the agent answers; B takes A's application over, and the
// answer and the hang-up reach B's handler as if B had rung the leg.
func TestTakeoverContinuesADeadReplicasRingingLeg(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	// Long enough for the crash and the takeover to happen first; nothing
	// is measured against it.
	c.sim.SetPhone("PJSIP/agent", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 750 * time.Millisecond})
	a := c.start(t, "tandem-a")
	b := c.start(t, "tandem-b")
	const leg = "agent-leg-1"
	if err := a.driver.Ring(ctx, acd.RingRequest{Leg: leg, Endpoint: "PJSIP/agent", CallerID: "555", Timeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	c.crash(t, a)

	states, err := b.driver.Takeover(ctx, a.driver.Owner(), []string{leg})
	if err != nil {
		t.Fatal(err)
	}
	if want := []acd.LegState{{Leg: leg}}; !slices.Equal(states, want) {
		t.Fatalf("takeover states %+v, want %+v (still ringing)", states, want)
	}
	eventually(t, "LegAnswered on B", func() bool { return b.has(acd.LegAnswered{Leg: leg}) })
	if err := b.driver.Hangup(ctx, leg, acd.CauseNormal); err != nil {
		t.Fatal(err)
	}
	eventually(t, "LegHungUp on B", func() bool {
		return slices.ContainsFunc(b.got(), func(e acd.Event) bool { h, ok := e.(acd.LegHungUp); return ok && h.Leg == leg })
	})
	// LegHungUp is the last event a leg can have; nothing came twice.
	got := b.got()
	if len(got) != 2 || got[0] != (acd.LegAnswered{Leg: leg}) {
		t.Fatalf("B's events %+v, want exactly LegAnswered then LegHungUp", got)
	}
	if n := len(a.got()); n != 0 {
		t.Fatalf("the dead replica received %d events", n)
	}
	// B's own application is untouched by the takeover.
	if !c.appActive("tandem-b") {
		t.Fatal("B's own application lost its socket")
	}
}

// TestTakeoverReportsGoneAndUpLegs: of a dead replica's legs, one answered
// before it died is Up (and its end is a hang-up, not a ring failure), one
// answered while nobody listened died in Asterisk (Stasis() fails for an
// inactive application) and is Gone, one still ringing is neither.
func TestTakeoverReportsGoneAndUpLegs(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	c.sim.SetPhone("PJSIP/quick", pbxsim.Phone{Mode: pbxsim.Answer})
	c.sim.SetPhone("PJSIP/late", pbxsim.Phone{Mode: pbxsim.Answer})
	c.sim.SetPhone("PJSIP/never", pbxsim.Phone{Mode: pbxsim.NoAnswer})
	a := c.start(t, "tandem-a")
	b := c.start(t, "tandem-b")
	ring := func(leg, endpoint string) {
		t.Helper()
		if err := a.driver.Ring(ctx, acd.RingRequest{Leg: leg, Endpoint: endpoint, Timeout: 30 * time.Second}); err != nil {
			t.Fatalf("ring %s: %v", leg, err)
		}
	}
	ring("leg-up", "PJSIP/quick")
	ring("leg-ringing", "PJSIP/never")
	eventually(t, "leg-up answered on A", func() bool { return a.has(acd.LegAnswered{Leg: "leg-up"}) })
	c.crash(t, a)
	// A's originate that was already on its way when A died: the phone
	// answers into an application without a socket, and the leg dies.
	ring("leg-late", "PJSIP/late")
	eventually(t, "leg-late gone", func() bool {
		v, ok := c.sim.Channel("leg-late")
		return ok && v.HungUp
	})

	states, err := b.driver.Takeover(ctx, "tandem-a", []string{"leg-up", "leg-late", "leg-ringing"})
	if err != nil {
		t.Fatal(err)
	}
	want := []acd.LegState{{Leg: "leg-up", Up: true}, {Leg: "leg-late", Gone: true}, {Leg: "leg-ringing"}}
	if !slices.Equal(states, want) {
		t.Fatalf("takeover states %+v, want %+v", states, want)
	}
	if err := b.driver.Hangup(ctx, "leg-up", acd.CauseNormal); err != nil {
		t.Fatal(err)
	}
	// The ringing leg's end comes after the answered one's on the same
	// socket, so once it is in, every event of leg-up is too.
	if err := b.driver.Hangup(ctx, "leg-ringing", acd.CauseNoAnswer); err != nil {
		t.Fatal(err)
	}
	eventually(t, "leg-ringing's ring failure", func() bool {
		return slices.ContainsFunc(b.got(), func(e acd.Event) bool { f, ok := e.(acd.RingFailed); return ok && f.Leg == "leg-ringing" })
	})
	got := b.got()
	if len(got) != 2 {
		t.Fatalf("B's events %+v, want LegHungUp(leg-up) and RingFailed(leg-ringing)", got)
	}
	if h, ok := got[0].(acd.LegHungUp); !ok || h.Leg != "leg-up" {
		t.Fatalf("first event %+v, want leg-up's LegHungUp", got[0])
	}
}

// TestTakeoverFencesALiveOwner: taking over an application whose replica is
// in fact alive replaces its socket; that replica's Run returns ErrReplaced,
// and its legs' events go to the new owner only.
func TestTakeoverFencesALiveOwner(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	c.sim.SetPhone("PJSIP/never", pbxsim.Phone{Mode: pbxsim.NoAnswer})
	a := c.start(t, "tandem-a")
	b := c.start(t, "tandem-b")
	if err := a.driver.Ring(ctx, acd.RingRequest{Leg: "leg-1", Endpoint: "PJSIP/never", Timeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	states, err := b.driver.Takeover(ctx, "tandem-a", []string{"leg-1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []acd.LegState{{Leg: "leg-1"}}; !slices.Equal(states, want) {
		t.Fatalf("states %+v, want %+v", states, want)
	}
	if err := a.wait(t); !errors.Is(err, ari.ErrReplaced) {
		t.Fatalf("fenced replica's Run returned %v, want ErrReplaced", err)
	}
	if err := b.driver.Hangup(ctx, "leg-1", acd.CauseNoAnswer); err != nil {
		t.Fatal(err)
	}
	eventually(t, "RingFailed on B", func() bool {
		return slices.ContainsFunc(b.got(), func(e acd.Event) bool { f, ok := e.(acd.RingFailed); return ok && f.Leg == "leg-1" })
	})
	if got := a.got(); len(got) != 0 {
		t.Fatalf("fenced replica received %+v", got)
	}
}

// TestTakeoverGuardsSharingAndReconnect covers the guards (no Run; its own
// application), two takeovers sharing one socket, a takeover that ended
// freeing the application for the next one, and a lost takeover socket
// being redialled.
func TestTakeoverGuardsSharingAndReconnect(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	idle := ari.New(ari.Options{URL: c.srv.URL + "/ari", Username: "u", Password: "p", App: "tandem-idle", Logger: slog.New(slog.DiscardHandler)})
	if _, err := idle.Takeover(ctx, "tandem-a", nil); !errors.Is(err, ari.ErrNotRunning) {
		t.Fatalf("takeover before Run: %v, want ErrNotRunning", err)
	}
	b := c.start(t, "tandem-b")
	// Its own application (a replica restarted under the same name): the
	// legs are read, no second socket replaces Run's.
	if states, err := b.driver.Takeover(ctx, "tandem-b", []string{"no-such-leg"}); err != nil || len(states) != 1 || !states[0].Gone {
		t.Fatalf("takeover of its own application: %+v %v", states, err)
	}

	// Two takeovers of one application (a dead replica with two calls in
	// flight) share one socket, open until both have ended.
	tctx, cancel := context.WithCancel(ctx)
	if _, err := b.driver.Takeover(tctx, "tandem-a", nil); err != nil {
		t.Fatal(err)
	}
	t2ctx, cancel2 := context.WithCancel(ctx)
	if _, err := b.driver.Takeover(t2ctx, "tandem-a", nil); err != nil {
		t.Fatalf("second takeover of a held application: %v", err)
	}
	cancel()
	// The first Takeover's end has been counted: one user is left.
	eventually(t, "the first takeover released", func() bool {
		users, _, _ := ari.TakeoverState(b.driver, "tandem-a")
		return users == 1
	})
	if _, ending, ok := ari.TakeoverState(b.driver, "tandem-a"); !ok || ending || !c.appActive("tandem-a") {
		t.Fatal("the socket closed while a second takeover still used it")
	}
	cancel2()
	eventually(t, "socket closed after the last takeover ended", func() bool { return !c.appActive("tandem-a") })
	// The ended takeover is waited for, not reported as active.
	if _, err := b.driver.Takeover(ctx, "tandem-a", nil); err != nil {
		t.Fatalf("takeover after the previous one ended: %v", err)
	}
	// A takeover socket that is lost is redialled, as Run's own is.
	c.sim.DropWebSockets("tandem-a")
	eventually(t, "the takeover socket back", func() bool { return c.appActive("tandem-a") })
	if _, err := b.driver.Takeover(ctx, "tandem-a", nil); err != nil {
		t.Fatalf("takeover after the socket came back: %v", err)
	}
	if !c.appActive("tandem-b") {
		t.Fatal("B's own socket suffered from its takeovers")
	}
	if !b.running() {
		t.Fatalf("B's Run returned %v", b.runErr)
	}
	for i := range 3 {
		if _, err := b.driver.Takeover(ctx, fmt.Sprintf("tandem-x%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Cleanup cancels B's Run, which must end every takeover and wait for it.
}

// TestTakeoverServesACallArrivingOnTheDeadApplication: a call the dialplan
// sends to the dead replica's application while it is taken over is
// reported as any call, and the takeover socket stays until that call has
// ended, even after the Takeover that opened it is over.
func TestTakeoverServesACallArrivingOnTheDeadApplication(t *testing.T) {
	c := newCluster(t)
	a := c.start(t, "tandem-a")
	a.cancel() // the replica dies
	if err := a.wait(t); err != nil {
		t.Fatalf("replica a stopped with %v", err)
	}
	b := c.start(t, "tandem-b")
	tctx, cancel := context.WithCancel(context.Background())
	if _, err := b.driver.Takeover(tctx, "tandem-a", nil); err != nil {
		t.Fatal(err)
	}
	leg, err := c.sim.Call(pbxsim.Caller{App: "tandem-a", ANI: "5551000", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "CallArrived on B", func() bool {
		return slices.ContainsFunc(b.got(), func(e acd.Event) bool { v, ok := e.(acd.CallArrived); return ok && v.Leg == leg })
	})
	cancel()
	// The Takeover's end has been counted (no user left) and the live
	// call kept the socket open.
	eventually(t, "the takeover released", func() bool {
		users, _, _ := ari.TakeoverState(b.driver, "tandem-a")
		return users == 0
	})
	if _, ending, ok := ari.TakeoverState(b.driver, "tandem-a"); !ok || ending || !c.appActive("tandem-a") {
		t.Fatal("the takeover socket closed under a live call")
	}
	if err := b.driver.Hangup(context.Background(), leg, acd.CauseNormal); err != nil {
		t.Fatal(err)
	}
	eventually(t, "LegHungUp on B", func() bool {
		return slices.ContainsFunc(b.got(), func(e acd.Event) bool { v, ok := e.(acd.LegHungUp); return ok && v.Leg == leg })
	})
	eventually(t, "takeover socket closed once the call ended", func() bool { return !c.appActive("tandem-a") })
}

// TestRestartReadsWhatTheApplicationHolds: a driver restarted under the same
// application (after a crash) first reports what the application holds —
// Resynced with Initial set, its channels and its bridges — so that the
// ACD can rebuild its calls; the legs it then takes over (Takeover with its
// own application) report their states and their later hang-ups.
func TestRestartReadsWhatTheApplicationHolds(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	c.sim.SetPhone("PJSIP/ok", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: time.Millisecond})
	a := c.start(t, "tandem-a")
	caller, err := c.sim.Call(pbxsim.Caller{App: "tandem-a", ANI: "1", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "call", func() bool {
		return slices.ContainsFunc(a.got(), func(e acd.Event) bool { ev, ok := e.(acd.CallArrived); return ok && ev.Leg == caller })
	})
	if err := a.driver.Answer(ctx, caller); err != nil {
		t.Fatal(err)
	}
	if err := a.driver.Ring(ctx, acd.RingRequest{Leg: "agent-1", Endpoint: "PJSIP/ok", Originator: caller, Timeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "agent answered", func() bool { return a.has(acd.LegAnswered{Leg: "agent-1"}) })
	if err := a.driver.Bridge(ctx, "b-1", caller, "agent-1"); err != nil {
		t.Fatal(err)
	}
	c.crash(t, a)

	b := c.start(t, "tandem-a")
	var first acd.Resynced
	eventually(t, "the first read", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.events) == 0 {
			return false
		}
		first, _ = b.events[0].(acd.Resynced)
		return true
	})
	if !first.Initial || !slices.Contains(first.Live, caller) || !slices.Contains(first.Live, "agent-1") || !slices.Equal(first.Bridges, []string{"b-1"}) {
		t.Fatalf("first event %+v, want Initial with %s and agent-1 live and bridge b-1", first, caller)
	}
	states, err := b.driver.Takeover(ctx, "tandem-a", []string{caller, "agent-1", "gone-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []acd.LegState{{Leg: caller, Up: true}, {Leg: "agent-1", Up: true}, {Leg: "gone-1", Gone: true}}
	if !slices.Equal(states, want) {
		t.Fatalf("states %+v, want %+v", states, want)
	}
	if err := b.driver.Hangup(ctx, caller, acd.CauseNormal); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the caller's hang-up reported", func() bool {
		return slices.ContainsFunc(b.got(), func(e acd.Event) bool { h, ok := e.(acd.LegHungUp); return ok && h.Leg == caller })
	})
}
