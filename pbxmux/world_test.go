package pbxmux_test

import (
	"context"
	"fmt"
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
	"github.com/tandem-cc/tandem/pbxmux"
	"github.com/tandem-cc/tandem/pbxsim"
)

const app = "tandem-mux"

// node is one simulated Asterisk behind its own loopback server, the
// requests that reached it, and the real ARI driver on it.
type node struct {
	name   string
	sim    *pbxsim.Sim
	srv    *httptest.Server
	driver *ari.Driver

	// gated: the events socket is refused (503), as by a PBX still
	// starting: the driver keeps dialling.
	gated atomic.Bool

	mu       sync.Mutex
	requests []string // "METHOD path?query" of every request but GETs
}

func newNode(t *testing.T, name string) *node {
	t.Helper()
	n := &node{name: name}
	// Each node has its own system name, as real Asterisks behind one
	// Tandem must: the mux routes by leg id, which no two nodes may share.
	n.sim = pbxsim.New(pbxsim.Options{Username: "u", Password: "p", SystemName: name})
	h := n.sim.Handler()
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.gated.Load() && strings.HasSuffix(r.URL.Path, "/events") {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		if r.Method != http.MethodGet {
			n.mu.Lock()
			n.requests = append(n.requests, r.Method+" "+r.URL.RequestURI())
			n.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	n.driver = ari.New(ari.Options{URL: n.srv.URL + "/ari", Username: "u", Password: "p", App: app,
		RequestTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	return n
}

// sent lists the requests (not GETs) that reached the node and mention id.
func (n *node) sent(id string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, r := range n.requests {
		if strings.Contains(r, id) {
			out = append(out, r)
		}
	}
	return out
}

func (n *node) requestCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.requests)
}

// world is two simulated Asterisks, ast1 and ast2, with trunks both ways,
// and a mux over their drivers, running.
type world struct {
	ast1, ast2 *node
	mux        *pbxmux.Mux
	cancel     context.CancelFunc
	done       chan error

	mu     sync.Mutex
	events []acd.Event
}

var trunks = map[string]map[string]string{
	"ast1": {"ast2": "PJSIP/{exten}@ast2"},
	"ast2": {"ast1": "PJSIP/{exten}@ast1"},
}

// newWorld starts the mux over ast1 and ast2 with the trunks tr, and waits
// for its Initial Resynced.
func newWorld(t *testing.T, tr map[string]map[string]string) *world {
	t.Helper()
	w := newStoppedWorld(t, tr)
	w.start(t)
	w.waitFor(t, "the Initial Resynced", func() bool { return w.initials() == 1 })
	return w
}

// newStoppedWorld is newWorld before Run.
func newStoppedWorld(t *testing.T, tr map[string]map[string]string) *world {
	t.Helper()
	w := &world{}
	w.ast1 = newNode(t, "ast1")
	w.ast2 = newNode(t, "ast2")
	mux, err := pbxmux.New(pbxmux.Options{
		Nodes:  []pbxmux.Node{{Name: "ast1", PBX: w.ast1.driver}, {Name: "ast2", PBX: w.ast2.driver}},
		Trunks: tr, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.mux = mux
	t.Cleanup(func() {
		w.stop(t)
		for _, n := range []*node{w.ast1, w.ast2} {
			n.sim.Close()
			n.srv.Close()
		}
	})
	return w
}

// start runs the mux (again, after stop).
func (w *world) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.done = make(chan error, 1)
	go func() { w.done <- w.mux.Run(ctx, w.record) }()
}

// stop cancels Run and checks it returns nil; a stopped world is left.
func (w *world) stop(t *testing.T) {
	t.Helper()
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("mux Run after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("mux Run did not return after cancel")
	}
}

// initials counts the Initial Resynced delivered.
func (w *world) initials() int {
	return w.count(func(e acd.Event) bool { r, ok := e.(acd.Resynced); return ok && r.Initial })
}

// resyncs returns the Resynced delivered, in order.
func (w *world) resyncs() []acd.Resynced {
	var out []acd.Resynced
	for _, e := range w.snapshot() {
		if r, ok := e.(acd.Resynced); ok {
			out = append(out, r)
		}
	}
	return out
}

func (w *world) record(ev acd.Event) {
	w.mu.Lock()
	w.events = append(w.events, ev)
	w.mu.Unlock()
}

func (w *world) snapshot() []acd.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]acd.Event(nil), w.events...)
}

func (w *world) count(match func(acd.Event) bool) int {
	n := 0
	for _, e := range w.snapshot() {
		if match(e) {
			n++
		}
	}
	return n
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

// call places an inbound call on n and waits for its CallArrived through
// the mux.
func (w *world) call(t *testing.T, n *node, ani string) string {
	t.Helper()
	leg, err := n.sim.Call(pbxsim.Caller{App: app, ANI: ani, DNIS: "800", Queue: "sales", Patience: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, fmt.Sprintf("CallArrived %s on %s", leg, n.name), func() bool {
		return w.count(func(e acd.Event) bool { c, ok := e.(acd.CallArrived); return ok && c.Leg == leg }) == 1
	})
	return leg
}

// waitEvent waits for an event about leg of type T.
func waitEvent[T acd.Event](t *testing.T, w *world, leg string, of func(T) string) T {
	t.Helper()
	var got T
	w.waitFor(t, fmt.Sprintf("%T for %s", got, leg), func() bool {
		for _, e := range w.snapshot() {
			if x, ok := e.(T); ok && of(x) == leg {
				got = x
				return true
			}
		}
		return false
	})
	return got
}

// onlyOn checks that requests mentioning id reached want and none reached
// the other node.
func (w *world) onlyOn(t *testing.T, want *node, id, what string) {
	t.Helper()
	other := w.ast1
	if want == w.ast1 {
		other = w.ast2
	}
	if len(want.sent(id)) == 0 {
		t.Errorf("%s: no request about %s reached %s", what, id, want.name)
	}
	if got := other.sent(id); len(got) > 0 {
		t.Errorf("%s: requests about %s reached %s: %v", what, id, other.name, got)
	}
}
