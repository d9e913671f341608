package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/errs"
)

// The tests below open event streams on a real listener and check the
// per-token cap of WithLimits (http.max_streams). None asserts how long
// something took: where the server has to act (give a slot back), the test
// waits for it within a generous bound.

// openCore is a core whose subscriptions stay open, with no events, until
// their context ends, however many there are at once (fakeCore's feed
// supports one subscription per core).
type openCore struct {
	*fakeCore
}

func (c openCore) SubscribeAgent(ctx context.Context, id string) (<-chan acd.AgentEvent, error) {
	if err := c.record("SubscribeAgent(%s)", id); err != nil {
		return nil, err
	}
	return c.openFeed(ctx), nil
}

func (c openCore) SubscribeSupervisor(ctx context.Context) (<-chan acd.AgentEvent, error) {
	if err := c.record("SubscribeSupervisor()"); err != nil {
		return nil, err
	}
	return c.openFeed(ctx), nil
}

// openFeed is closed when ctx ends, as the Core contract says.
func (openCore) openFeed(ctx context.Context) <-chan acd.AgentEvent {
	ch := make(chan acd.AgentEvent)
	go func() {
		defer close(ch)
		<-ctx.Done()
	}()
	return ch
}

// streamCaps is the default http section with the given stream caps and
// no rate limit.
func streamCaps(agent, supervisor int) config.HTTP {
	h := config.Default().HTTP
	h.RateLimit = config.HTTPRateLimits{}
	h.MaxStreams = config.HTTPMaxStreams{Agent: agent, Supervisor: supervisor}
	return h
}

// streamServer serves the API with the limits of h on loopback; cancelling
// the returned context plays the replica stopping. The returned server is
// the API's own, for the tests that look at its stream counts.
func streamServer(t *testing.T, core Core, h config.HTTP, opts ...Option) (*httptest.Server, *server, context.CancelFunc) {
	t.Helper()
	var api *server
	grab := func(s *server) { api = s }
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(New(core, testAuth, slog.New(slog.DiscardHandler),
		append([]Option{WithLimits(h)}, append(opts, grab)...)...))
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	return srv, api, cancel
}

// openStream opens an event stream at path with token. On a refused
// handshake it returns the response, whose body holds (the start of) the
// server's answer.
func openStream(t *testing.T, srv *httptest.Server, path, token string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+path,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err == nil {
		t.Cleanup(func() { _ = conn.CloseNow() })
	}
	return conn, resp, err
}

func mustOpenStream(t *testing.T, srv *httptest.Server, path, token string) *websocket.Conn {
	t.Helper()
	conn, resp, err := openStream(t, srv, path, token)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("open %s: %v (status %d)", path, err, status)
	}
	return conn
}

// mustBeRefused checks that opening path with token is refused as over
// the cap: 429 with Retry-After in whole seconds and a JSON error, not an
// upgraded socket.
func mustBeRefused(t *testing.T, srv *httptest.Server, path, token string) {
	t.Helper()
	_, resp, err := openStream(t, srv, path, token)
	if err == nil {
		t.Fatalf("open %s: upgraded, want 429", path)
	}
	checkTooManyStreams(t, path, resp)
}

func checkTooManyStreams(t *testing.T, path string, resp *http.Response) {
	t.Helper()
	if resp == nil {
		t.Fatalf("open %s: no response", path)
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("open %s: status %d, want 429", path, resp.StatusCode)
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("open %s: Retry-After %q, want whole seconds ≥ 1", path, resp.Header.Get("Retry-After"))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("open %s: Content-Type %q", path, resp.Header.Get("Content-Type"))
	}
	var eb errorBody
	if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil || !strings.Contains(eb.Error, "event streams") {
		t.Errorf("open %s: body %+v (%v), want an error about event streams", path, eb, err)
	}
}

// openOnceReleased opens path with token, retrying while the server
// answers 429: the slot of a stream that ended comes back when its
// handler returns, which the client cannot see. Any other refusal, or
// the bound passing, fails the test.
func openOnceReleased(t *testing.T, srv *httptest.Server, path, token string) *websocket.Conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, resp, err := openStream(t, srv, path, token)
		if err == nil {
			return conn
		}
		checkTooManyStreams(t, path, resp)
		if time.Now().After(deadline) {
			t.Fatalf("open %s: still refused after the stream ended", path)
		}
		time.Sleep(10 * time.Millisecond) // polling: the next try decides
	}
}

const (
	agentEvents      = "/v1/agents/" + agentID + "/events"
	otherAgentEvents = "/v1/agents/" + otherID + "/events"
	supervisorStream = "/v1/events"
)

func TestEventStreamsAreCappedPerToken(t *testing.T) {
	core := openCore{newFakeCore()}
	srv, _, _ := streamServer(t, core, streamCaps(2, 16))

	first := mustOpenStream(t, srv, agentEvents, agentTok)
	mustOpenStream(t, srv, agentEvents, agentTok)
	mustBeRefused(t, srv, agentEvents, agentTok)
	// Refused before the upgrade, and before the core was asked.
	if n := strings.Count(strings.Join(core.Calls(), " "), "SubscribeAgent("+agentID+")"); n != 2 {
		t.Errorf("core subscribed %d times for %s, want 2: %v", n, agentID, core.Calls())
	}

	// Another agent's token has its own count.
	mustOpenStream(t, srv, otherAgentEvents, otherTok)

	// One of the first agent's streams ends: its slot comes back, and
	// only its.
	if err := first.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Fatalf("close: %v", err)
	}
	openOnceReleased(t, srv, agentEvents, agentTok)
	mustBeRefused(t, srv, agentEvents, agentTok)
}

func TestSupervisorEventStreamsAreCapped(t *testing.T) {
	core := openCore{newFakeCore()}
	srv, _, _ := streamServer(t, core, streamCaps(1, 2))

	// A supervisor token's streams count together, whichever route.
	mustOpenStream(t, srv, supervisorStream, superTok)
	watch := mustOpenStream(t, srv, agentEvents, superTok)
	mustBeRefused(t, srv, supervisorStream, superTok)
	mustBeRefused(t, srv, otherAgentEvents, superTok)

	// The agent's own stream is not the supervisor's: it opens, at the
	// agent's cap of 1.
	mustOpenStream(t, srv, agentEvents, agentTok)
	mustBeRefused(t, srv, agentEvents, agentTok)

	if err := watch.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Fatalf("close: %v", err)
	}
	openOnceReleased(t, srv, supervisorStream, superTok)
	mustBeRefused(t, srv, supervisorStream, superTok)
}

func TestEventStreamCapOffWithoutLimitsOrAtZero(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"without WithLimits", nil},
		{"cap 0", []Option{WithLimits(streamCaps(0, 0))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			srv := httptest.NewUnstartedServer(New(openCore{newFakeCore()}, testAuth, slog.New(slog.DiscardHandler), tc.opts...))
			srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
			srv.Start()
			t.Cleanup(func() {
				cancel()
				srv.Close()
			})
			// Well past the defaults (4 and 16).
			for range 20 {
				mustOpenStream(t, srv, agentEvents, agentTok)
				mustOpenStream(t, srv, supervisorStream, superTok)
			}
		})
	}
}

// openStreams is how many streams api counts as open, all tokens together.
func openStreams(api *server) int {
	l := api.limits.streams
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.open {
		n += c
	}
	return n
}

// waitNoStreams waits until api counts no open stream.
func waitNoStreams(t *testing.T, api *server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for openStreams(api) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still counted after they ended", openStreams(api))
		}
		time.Sleep(10 * time.Millisecond) // polling: the next look decides
	}
}

// TestEventStreamSlotsComeBackHoweverTheStreamEnds checks that the count
// of open streams goes back to zero on every way a stream ends, so that
// no token is locked out by streams that are gone.
func TestEventStreamSlotsComeBackHoweverTheStreamEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		// end ends the streams conns (opened with paths) in its own way.
		end func(t *testing.T, conns []*websocket.Conn, core openCore, stop context.CancelFunc)
		// refused: the core refuses the subscription, so no stream opens.
		refused bool
		// pings: the streams may end (by design) before all are open,
		// so how many are counted at once is not checked.
		pings bool
	}{
		{name: "client closes", end: func(t *testing.T, conns []*websocket.Conn, _ openCore, _ context.CancelFunc) {
			for _, c := range conns {
				if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
					t.Errorf("close: %v", err)
				}
			}
		}},
		{name: "client drops the connection", end: func(_ *testing.T, conns []*websocket.Conn, _ openCore, _ context.CancelFunc) {
			for _, c := range conns {
				_ = c.CloseNow()
			}
		}},
		// The clients never read, so never answer a ping.
		{
			name: "client stops answering pings", opts: []Option{WithKeepalive(20*time.Millisecond, 100*time.Millisecond)}, pings: true,
			end: func(*testing.T, []*websocket.Conn, openCore, context.CancelFunc) {},
		},
		{name: "replica stops", end: func(t *testing.T, conns []*websocket.Conn, _ openCore, stop context.CancelFunc) {
			// The clients read, to answer the server's close at once;
			// each reader ends with its connection.
			done := make(chan struct{}, len(conns))
			for _, c := range conns {
				go func() {
					defer func() { done <- struct{}{} }()
					for {
						if _, _, err := c.Read(context.Background()); err != nil {
							return
						}
					}
				}()
			}
			stop()
			for range conns {
				<-done
			}
		}},
		{name: "subscription refused", refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core := openCore{newFakeCore()}
			if tc.refused {
				core.err = errs.ErrNotFound
			}
			srv, api, stop := streamServer(t, core, streamCaps(2, 2), tc.opts...)
			var conns []*websocket.Conn
			for _, p := range []struct{ path, token string }{
				{agentEvents, agentTok}, {agentEvents, agentTok},
				{supervisorStream, superTok}, {otherAgentEvents, superTok},
			} {
				conn, resp, err := openStream(t, srv, p.path, p.token)
				if tc.refused {
					if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
						t.Fatalf("open %s with the core refusing: %v %+v, want 404", p.path, err, resp)
					}
					continue
				}
				if err != nil {
					t.Fatalf("open %s: %v", p.path, err)
				}
				conns = append(conns, conn)
			}
			if !tc.refused {
				if n := openStreams(api); n != 4 && !tc.pings {
					t.Fatalf("%d streams counted, want 4", n)
				}
				tc.end(t, conns, core, stop)
			}
			waitNoStreams(t, api)
		})
	}
}

// TestStreamLimiterReleaseIsIdempotent: a release called twice gives back
// one slot, not two (the count would then let a token past its cap).
func TestStreamLimiterReleaseIsIdempotent(t *testing.T) {
	l := &streamLimiter{agent: 1, open: map[string]int{}}
	a := principal{agent: agentID, name: "agent:" + agentID}
	release, _, ok := l.acquire(a)
	if !ok {
		t.Fatal("first stream refused")
	}
	if _, limit, ok := l.acquire(a); ok || limit != 1 {
		t.Fatalf("second stream: ok %v limit %d, want refused at 1", ok, limit)
	}
	release()
	release()
	if _, _, ok := l.acquire(a); !ok {
		t.Fatal("refused after release")
	}
	if _, _, ok := l.acquire(a); ok {
		t.Fatal("a double release gave back two slots")
	}
}
