package pbxsim

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
	"golang.org/x/net/websocket"
)

const (
	testUser = "tandem"
	testPass = "secret"
)

// world is one simulator behind a loopback HTTP server.
type world struct {
	t   *testing.T
	sim *Sim
	srv *httptest.Server
}

func newWorld(t *testing.T, timing Timing) *world {
	t.Helper()
	return newWorldClock(t, timing, nil)
}

// newWorldClock is newWorld with the simulator's delays on clock (nil: the
// wall clock).
func newWorldClock(t *testing.T, timing Timing, clock Clock) *world {
	t.Helper()
	tw := &testWriter{t: t}
	log := slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sim := New(Options{Username: testUser, Password: testPass, Timing: timing, Logger: log, Clock: clock})
	srv := httptest.NewServer(sim.Handler())
	// The listener stays open after the test on purpose: ari/v5 clients
	// cannot be closed race-free (see connect), keep reconnecting to their
	// URL, and would register their app on a later test's server if the
	// port were reused. A closed simulator answers them 503.
	t.Cleanup(func() {
		sim.Close()
		srv.CloseClientConnections()
		tw.off.Store(true)
	})
	return &world{t: t, sim: sim, srv: srv}
}

// connect connects the unmodified ari/v5 native client as app.
func (w *world) connect(app string) (ari.Client, *recorder) {
	w.t.Helper()
	cl, err := native.Connect(&native.Options{
		Application:  app,
		URL:          w.srv.URL + "/ari",
		WebsocketURL: "ws" + strings.TrimPrefix(w.srv.URL, "http") + "/ari/events",
		Username:     testUser,
		Password:     testPass,
	})
	if err != nil {
		w.t.Fatalf("connect %s: %v", app, err)
	}
	rec := newRecorder(cl)
	// No cl.Close(): in ari/v5 v5.3.1 Close writes c.connected while the
	// reconnect loop writes it too, a data race -race reports. The client's
	// goroutine keeps retrying the closed server once a second instead.
	w.t.Cleanup(rec.stop)
	return cl, rec
}

// recorder drains every event of a client into a list, in its own goroutine
// so the client's 100-slot subscription buffer never overflows.
type recorder struct {
	sub  ari.Subscription
	done chan struct{}
	mu   sync.Mutex
	evs  []ari.Event
}

func newRecorder(cl ari.Client) *recorder {
	r := &recorder{sub: cl.Bus().Subscribe(nil, ari.Events.All), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for e := range r.sub.Events() {
			r.mu.Lock()
			r.evs = append(r.evs, e)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) stop() {
	r.sub.Cancel()
	select {
	case <-r.done:
	case <-time.After(time.Second):
	}
}

func (r *recorder) events() []ari.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ari.Event(nil), r.evs...)
}

// wait returns the first event that satisfies match, failing after 5 s.
func (r *recorder) wait(t *testing.T, what string, match func(ari.Event) bool) ari.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range r.events() {
			if match(e) {
				return e
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; got %v", what, typesOf(r.events()))
	return nil
}

// channelEvents lists the types of the events about channel id, Dial events
// counted for their peer.
func (r *recorder) channelEvents(id string) []string {
	var out []string
	for _, e := range r.events() {
		if eventChannel(e) == id {
			out = append(out, typeWithDetail(e))
		}
	}
	return out
}

func eventChannel(e ari.Event) string {
	switch v := e.(type) {
	case *ari.StasisStart:
		return v.Channel.ID
	case *ari.StasisEnd:
		return v.Channel.ID
	case *ari.ChannelStateChange:
		return v.Channel.ID
	case *ari.ChannelHangupRequest:
		return v.Channel.ID
	case *ari.ChannelDestroyed:
		return v.Channel.ID
	case *ari.ChannelEnteredBridge:
		return v.Channel.ID
	case *ari.ChannelLeftBridge:
		return v.Channel.ID
	case *ari.ChannelVarset:
		return v.Channel.ID
	case *ari.ChannelDtmfReceived:
		return v.Channel.ID
	case *ari.Dial:
		return v.Peer.ID
	}
	return ""
}

func typeWithDetail(e ari.Event) string {
	switch v := e.(type) {
	case *ari.ChannelStateChange:
		return "ChannelStateChange:" + v.Channel.State
	case *ari.Dial:
		return "Dial:" + v.Dialstatus
	case *ari.ChannelVarset:
		return "ChannelVarset:" + v.Variable
	}
	return e.GetType()
}

func typesOf(evs []ari.Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.GetType())
	}
	return out
}

func isStasisStart(id string) func(ari.Event) bool {
	return func(e ari.Event) bool {
		v, ok := e.(*ari.StasisStart)
		return ok && (id == "" || v.Channel.ID == id)
	}
}

func isType(typ, id string) func(ari.Event) bool {
	return func(e ari.Event) bool {
		return e.GetType() == typ && (id == "" || eventChannel(e) == id)
	}
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func chanKey(id string) *ari.Key { return ari.NewKey(ari.ChannelKey, id) }

// rawSocket is a plain WebSocket client that keeps every frame verbatim; it
// sees what ari/v5's bus hides (ApplicationReplaced has no keys there and is
// never delivered to subscribers).
type rawSocket struct {
	ws   *websocket.Conn
	conn net.Conn
	mu   sync.Mutex
	msgs []map[string]any
	raw  []string
	done chan struct{}
}

func (w *world) dialRaw(query string) *rawSocket {
	w.t.Helper()
	rs, err := w.dialRawAuth(query, "Basic dGFuZGVtOnNlY3JldA==") // tandem:secret
	if err != nil {
		w.t.Fatalf("dial events: %v", err)
	}
	return rs
}

// dialRawAuth opens an events WebSocket over a TCP connection the test owns,
// so that it can also be cut without a close frame (drop).
func (w *world) dialRawAuth(query, authorization string) (*rawSocket, error) {
	u := "ws" + strings.TrimPrefix(w.srv.URL, "http") + "/ari/events?" + query
	cfg, err := websocket.NewConfig(u, "http://localhost/")
	if err != nil {
		return nil, err
	}
	if authorization != "" {
		cfg.Header.Set("Authorization", authorization)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(w.srv.URL, "http://"))
	if err != nil {
		return nil, err
	}
	ws, err := websocket.NewClient(cfg, conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	rs := &rawSocket{ws: ws, conn: conn, done: make(chan struct{})}
	go func() {
		defer close(rs.done)
		for {
			var s string
			if err := websocket.Message.Receive(ws, &s); err != nil {
				return
			}
			var m map[string]any
			_ = json.Unmarshal([]byte(s), &m)
			rs.mu.Lock()
			rs.msgs = append(rs.msgs, m)
			rs.raw = append(rs.raw, s)
			rs.mu.Unlock()
		}
	}()
	w.t.Cleanup(rs.close)
	return rs, nil
}

// drop cuts the TCP connection without a close frame, like a crash.
func (rs *rawSocket) drop() {
	_ = rs.conn.Close()
	<-rs.done
}

// close closes like the tracer did: it sends a close frame (1000) and
// reads until the server closes, so it receives every event the server
// emitted before it saw the close; then it ends the connection.
func (rs *rawSocket) close() {
	// FIN + close opcode, masked, 2-byte payload 1000; a zero mask key
	// leaves the payload as is.
	_, err := rs.conn.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8})
	if err == nil {
		t := time.NewTimer(3 * time.Second)
		defer t.Stop()
		select {
		case <-rs.done:
		case <-t.C:
		}
	}
	_ = rs.conn.Close()
	<-rs.done
}

func (rs *rawSocket) messages() []map[string]any {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]map[string]any(nil), rs.msgs...)
}

func (rs *rawSocket) frames() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.raw...)
}

// testWriter sends the simulator's log to t.Log while the test runs.
type testWriter struct {
	t   *testing.T
	off atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	if !w.off.Load() {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}
