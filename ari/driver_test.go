package ari_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/ari"
	"github.com/tandem-cc/tandem/pbxsim"
)

// world is a simulator behind an httptest server and one driver on it.
type world struct {
	sim    *pbxsim.Sim
	srv    *httptest.Server
	driver *ari.Driver

	mu     sync.Mutex
	events []acd.Event
	seen   chan struct{}
}

func newWorld(t *testing.T, wrap func(http.Handler) http.Handler, timeout time.Duration) *world {
	t.Helper()
	return newWorldWith(t, wrap, timeout, nil)
}

// newWorldWith is newWorld with the driver's options adjusted by opts.
func newWorldWith(t *testing.T, wrap func(http.Handler) http.Handler, timeout time.Duration, opts func(*ari.Options)) *world {
	t.Helper()
	// Digits are pressed 1µs apart, so a burst is as fast as the simulator
	// can write frames.
	sim := pbxsim.New(pbxsim.Options{Username: "u", Password: "p", Timing: pbxsim.Timing{DTMFGap: time.Microsecond}})
	w := &world{sim: sim, seen: make(chan struct{}, 1)}
	h := w.sim.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	w.srv = httptest.NewServer(h)
	o := ari.Options{URL: w.srv.URL + "/ari", Username: "u", Password: "p", App: "tandem-test", RequestTimeout: timeout, Logger: slog.New(slog.DiscardHandler)}
	if opts != nil {
		opts(&o)
	}
	w.driver = ari.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.driver.Run(ctx, w.record) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("driver Run after cancel: %v", err)
		}
		w.sim.Close()
		w.srv.Close()
	})
	w.waitApp(t)
	return w
}

func (w *world) record(ev acd.Event) {
	w.mu.Lock()
	w.events = append(w.events, ev)
	w.mu.Unlock()
	select {
	case w.seen <- struct{}{}:
	default:
	}
}

func (w *world) waitApp(t *testing.T) {
	t.Helper()
	w.waitFor(t, "application registered", func() bool {
		req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/ari/applications/tandem-test", nil)
		req.SetBasicAuth("u", "p")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200
	})
}

func (w *world) waitFor(t *testing.T, what string, cond func() bool) {
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

func (w *world) count(match func(acd.Event) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.events {
		if match(e) {
			n++
		}
	}
	return n
}

func TestInboundCallArrivesWithANIDNISAndVariables(t *testing.T) {
	w := newWorld(t, nil, 2*time.Second)
	leg, err := w.sim.Call(pbxsim.Caller{ANI: "5551234", DNIS: "800", Queue: "sales", Vars: map[string]string{"ACCOUNT": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	var got acd.CallArrived
	w.waitFor(t, "CallArrived", func() bool {
		return w.count(func(e acd.Event) bool {
			if ca, ok := e.(acd.CallArrived); ok && ca.Leg == leg {
				got = ca
				return true
			}
			return false
		}) == 1
	})
	if got.ANI != "5551234" || got.DNIS != "800" || len(got.Args) < 3 || got.Args[2] != "sales" || got.Vars["ACCOUNT"] != "42" {
		t.Fatalf("arrived %+v", got)
	}
}

// TestEventBurstLosesNothing pushes 10,000 events through the driver as fast
// as the simulator can write them; every one must be read. (ari/v5's own
// bus would drop events past a subscriber's 100-slot buffer.) A second
// burst of DTMF checks that translated events reach the handler in order.
func TestEventBurstLosesNothing(t *testing.T) {
	w := newWorld(t, nil, 2*time.Second)
	leg, err := w.sim.Call(pbxsim.Caller{ANI: "1", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "call", func() bool {
		return w.count(func(e acd.Event) bool { _, ok := e.(acd.CallArrived); return ok }) == 1
	})
	const n = 10000
	before := w.driver.Received()["ChannelVarset"]
	if err := w.sim.EmitVarsetBurst(leg, n); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "all varset events", func() bool { return w.driver.Received()["ChannelVarset"]-before >= n })
	digits := "0123456789*#"
	if err := w.sim.InjectDTMF(leg, digits); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "DTMF events", func() bool {
		return w.count(func(e acd.Event) bool { _, ok := e.(acd.DTMFReceived); return ok }) == len(digits)
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	var sb strings.Builder
	for _, e := range w.events {
		if d, ok := e.(acd.DTMFReceived); ok {
			sb.WriteString(d.Digit)
		}
	}
	if sb.String() != digits {
		t.Fatalf("digits %q, want %q in order", sb.String(), digits)
	}
	// The digits came after the burst on the socket: now that they are
	// read, any event of the burst read twice would have been too.
	if got := w.driver.Received()["ChannelVarset"] - before; got != n {
		t.Fatalf("read %d events, want exactly %d", got, n)
	}
}

// TestRESTCallsAreBoundedInTime: a PBX that stops answering must not hang
// the caller; the request fails at the configured timeout.
func TestRESTCallsAreBoundedInTime(t *testing.T) {
	release := make(chan struct{})
	stall := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/answer") {
				<-release
			}
			h.ServeHTTP(rw, r)
		})
	}
	w := newWorld(t, stall, 200*time.Millisecond)
	defer close(release)
	leg, err := w.sim.Call(pbxsim.Caller{ANI: "1", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	err = w.driver.Answer(context.Background(), leg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("answer against a stalled PBX: %v, want deadline exceeded", err)
	}
}

// TestReconnectIsNoticedAndChannelsReRead drops the event socket (as a
// network cut or an Asterisk restart would): the driver reconnects and
// reports a resync listing the live channels.
func TestReconnectIsNoticedAndChannelsReRead(t *testing.T) {
	w := newWorld(t, nil, 2*time.Second)
	leg, err := w.sim.Call(pbxsim.Caller{ANI: "1", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "call", func() bool {
		return w.count(func(e acd.Event) bool { _, ok := e.(acd.CallArrived); return ok }) == 1
	})
	w.sim.DropWebSockets("tandem-test")
	var live []string
	w.waitFor(t, "resync after reconnect", func() bool {
		return w.count(func(e acd.Event) bool {
			if r, ok := e.(acd.Resynced); ok && !r.Initial {
				live = r.Live
				return true
			}
			return false
		}) == 1
	})
	found := false
	for _, id := range live {
		found = found || id == leg
	}
	if !found {
		t.Fatalf("resync live %v lacks the call %s", live, leg)
	}
}

func TestAgentLegAnsweredBusyAndNoAnswer(t *testing.T) {
	w := newWorld(t, nil, 2*time.Second)
	ctx := context.Background()
	w.sim.SetPhone("PJSIP/ok", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond})
	w.sim.SetPhone("PJSIP/busy", pbxsim.Phone{Mode: pbxsim.Busy})
	w.sim.SetPhone("PJSIP/never", pbxsim.Phone{Mode: pbxsim.NoAnswer})
	for _, ep := range []string{"ok", "busy", "never"} {
		if err := w.driver.Ring(ctx, acd.RingRequest{Leg: "leg-" + ep, Endpoint: "PJSIP/" + ep, CallerID: "555", Timeout: time.Second}); err != nil {
			t.Fatalf("ring %s: %v", ep, err)
		}
	}
	w.waitFor(t, "answered", func() bool {
		return w.count(func(e acd.Event) bool { a, ok := e.(acd.LegAnswered); return ok && a.Leg == "leg-ok" }) == 1
	})
	w.waitFor(t, "busy", func() bool {
		return w.count(func(e acd.Event) bool {
			f, ok := e.(acd.RingFailed)
			return ok && f.Leg == "leg-busy" && f.Reason == "busy"
		}) == 1
	})
	w.waitFor(t, "no answer", func() bool {
		return w.count(func(e acd.Event) bool {
			f, ok := e.(acd.RingFailed)
			return ok && f.Leg == "leg-never" && f.Reason == "no_answer"
		}) == 1
	})
	if err := w.driver.Hangup(ctx, "leg-ok", acd.CauseNormal); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "hung up", func() bool {
		return w.count(func(e acd.Event) bool { h, ok := e.(acd.LegHungUp); return ok && h.Leg == "leg-ok" }) == 1
	})
	// Hanging up a leg that is already gone is not an error.
	if err := w.driver.Hangup(ctx, "leg-ok", acd.CauseNormal); err != nil {
		t.Fatalf("second hangup: %v", err)
	}
}

func TestCommandOnAGoneLegSaysSo(t *testing.T) {
	w := newWorld(t, nil, 2*time.Second)
	err := w.driver.Answer(context.Background(), "no-such-channel")
	if !errors.Is(err, acd.ErrLegGone) {
		t.Fatalf("answer of an unknown channel: %v, want ErrLegGone", err)
	}
}

func TestBridgeMovesRecording(t *testing.T) {
	w := newWorld(t, nil, 2*time.Second)
	ctx := context.Background()
	w.sim.SetPhone("PJSIP/agent", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond})
	leg, err := w.sim.Call(pbxsim.Caller{ANI: "1", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.driver.Answer(ctx, leg); err != nil {
		t.Fatal(err)
	}
	if err := w.driver.Ring(ctx, acd.RingRequest{Leg: "agent-leg", Endpoint: "PJSIP/agent", Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "agent answered", func() bool {
		return w.count(func(e acd.Event) bool { _, ok := e.(acd.LegAnswered); return ok }) == 1
	})
	if err := w.driver.Bridge(ctx, "b1", leg); err != nil {
		t.Fatal(err)
	}
	if err := w.driver.AddToBridge(ctx, "b1", "agent-leg"); err != nil {
		t.Fatal(err)
	}
	if b, _ := w.sim.Bridge("b1"); len(b.Channels) != 2 {
		t.Fatalf("bridge %+v", b)
	}
	if err := w.driver.StartRecording(ctx, "b1", "conn-1"); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func(context.Context, string) error{w.driver.PauseRecording, w.driver.ResumeRecording, w.driver.StopRecording} {
		if err := step(ctx, "conn-1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.driver.StopRecording(ctx, "conn-1"); err != nil {
		t.Fatalf("stopping a stopped recording: %v", err)
	}
	if err := w.driver.RemoveFromBridge(ctx, "b1", leg); err != nil {
		t.Fatal(err)
	}
	if err := w.driver.RemoveFromBridge(ctx, "b1", leg); err != nil {
		t.Fatalf("removing a leg not in the bridge: %v", err)
	}
	if b, _ := w.sim.Bridge("b1"); len(b.Channels) != 1 {
		t.Fatalf("bridge after remove %+v", b)
	}
}

// TestInitialResyncSurvivesAPBXNotUpYet: Asterisk refuses the event socket
// when Run starts (still booting); once it lets the socket in, the first
// resync the driver reports is still the Initial one, which the ACD
// rebuilds its calls from. A failed first dial used to use it up.
func TestInitialResyncSurvivesAPBXNotUpYet(t *testing.T) {
	var refused atomic.Int64
	var open atomic.Bool
	gate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if !open.Load() && strings.HasSuffix(r.URL.Path, "/events") {
				refused.Add(1)
				http.Error(rw, "not up yet", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(rw, r)
		})
	}
	sim := pbxsim.New(pbxsim.Options{Username: "u", Password: "p"})
	srv := httptest.NewServer(gate(sim.Handler()))
	w := &world{sim: sim, srv: srv, seen: make(chan struct{}, 1)}
	w.driver = ari.New(ari.Options{URL: srv.URL + "/ari", Username: "u", Password: "p", App: "tandem-test",
		RequestTimeout: 2 * time.Second, ReconnectBackoff: time.Millisecond, ReconnectBackoffMax: 5 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.driver.Run(ctx, w.record) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("driver Run after cancel: %v", err)
		}
		sim.Close()
		srv.Close()
	})
	w.waitFor(t, "a refused dial", func() bool { return refused.Load() >= 2 })
	open.Store(true)
	w.waitFor(t, "a resync", func() bool {
		return w.count(func(e acd.Event) bool { _, ok := e.(acd.Resynced); return ok }) >= 1
	})
	if n := w.count(func(e acd.Event) bool { r, ok := e.(acd.Resynced); return ok && r.Initial }); n != 1 {
		t.Fatalf("initial resyncs after the PBX came up: %d, want 1 (events %v)", n, w.events)
	}
}
