package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/internal/conntest"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/httpserver"
)

// The tests below run the API as `tandem serve` does (internal/httpserver
// and WithLimits) on loopback TCP. None asserts how long something took:
// small timeouts are configured, and each test waits, within a generous
// bound, for the server to act.

// limitedHTTP is the default http section with every rate limit off.
func limitedHTTP() config.HTTP {
	h := config.Default().HTTP
	h.RateLimit = config.HTTPRateLimits{}
	return h
}

// serveLimited serves the API over core with the limits of h and returns
// its address.
func serveLimited(t *testing.T, core Core, h config.HTTP, opts ...Option) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	handler := New(core, testAuth, slog.New(slog.DiscardHandler), append([]Option{WithLimits(h)}, opts...)...)
	srv, ln, err := httpserver.Listen("127.0.0.1:0", handler, httpserver.Options{HTTP: h, BaseContext: ctx})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestSlowBodyClientIsCut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token string
		body  time.Duration // http.timeouts.body
		want  int
		// cut: the test waits for the server to close the connection.
		cut bool
	}{
		// No token: refused before the body is read, and the connection
		// closed with the answer rather than kept to read the body.
		{"without a token", "", time.Second, http.StatusUnauthorized, true},
		// The same with no body deadline to speak of: the 401 does not
		// wait for the body (net/http would read it before answering).
		// The connection is then closed at the body deadline (above).
		{"without a token, at once", "", time.Hour, http.StatusUnauthorized, false},
		// A valid token: the body is read, and cut at http.timeouts.body.
		{"with a token", agentTok, time.Second, http.StatusRequestTimeout, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := limitedHTTP()
			h.Timeouts.Body = tc.body
			core := newFakeCore()
			conn := conntest.Dial(t, serveLimited(t, core, h))

			head := "POST /v1/agents/1001/login HTTP/1.1\r\nHost: tandem\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n"
			if tc.token != "" {
				head += "Authorization: Bearer " + tc.token + "\r\n"
			}
			// The body opens a JSON string that never ends: nothing the
			// decoder can refuse before the rest comes.
			if _, err := io.WriteString(conn, head+"\r\n"+`{"endpoint":"`); err != nil {
				t.Fatal(err)
			}
			// 10 bytes every 200 ms, until the server closes the
			// connection or the test ends.
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				tick := time.NewTicker(200 * time.Millisecond)
				defer tick.Stop()
				for {
					if _, err := io.WriteString(conn, "PJSIP/1001"); err != nil {
						return
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()

			br := bufio.NewReader(conn)
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			var eb errorBody
			if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil || eb.Error == "" {
				t.Errorf("error body: %+v %v", eb, err)
			}
			if !resp.Close {
				t.Error("the answer keeps the connection for the rest of the body")
			}
			if tc.cut {
				conntest.WaitClosedByServer(t, conn, br)
			}
			if calls := core.Calls(); len(calls) != 0 {
				t.Errorf("core called: %v", calls)
			}
		})
	}
}

// A body read to its end keeps the connection: the close above is only
// for answers sent before the body was read.
func TestReadBodyKeepsConnection(t *testing.T) {
	conn := conntest.Dial(t, serveLimited(t, newFakeCore(), limitedHTTP()))
	br := bufio.NewReader(conn)
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	body := `{"endpoint":"PJSIP/1001","queues":["sales"]}`
	for i := range 2 {
		_, err := fmt.Fprintf(conn, "POST /v1/agents/1001/login HTTP/1.1\r\nHost: tandem\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", agentTok, len(body), body)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("request %d: status %d, close %v", i, resp.StatusCode, resp.Close)
		}
	}
}

// client sends requests to addr and returns status, Retry-After and body.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (c client) do(method, path, token, body string) (int, string, errorBody) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var eb errorBody
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			c.t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
		if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil || eb.Error == "" {
			c.t.Errorf("%s %s: error body %+v %v", method, path, eb, err)
		}
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), eb
}

func TestWriteRoutesAreRateLimitedPerToken(t *testing.T) {
	h := limitedHTTP()
	h.RateLimit.Agent = config.RateLimit{PerSecond: 1, Burst: 2}
	h.RateLimit.Supervisor = config.RateLimit{PerSecond: 0.25, Burst: 1}
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	core := newFakeCore()
	c := client{t: t, base: "http://" + serveLimited(t, core, h, WithClock(clk)), hc: &http.Client{Timeout: 10 * time.Second}}
	const available = "/v1/agents/1001/available"

	// The burst, then 429 with Retry-After and a JSON body.
	for i := range 2 {
		if st, _, _ := c.do("POST", available, agentTok, ""); st != http.StatusOK {
			t.Fatalf("request %d of the burst: status %d", i, st)
		}
	}
	st, retry, eb := c.do("POST", available, agentTok, "")
	if st != http.StatusTooManyRequests || retry != "1" {
		t.Fatalf("past the burst: status %d, Retry-After %q (%+v)", st, retry, eb)
	}
	if n := len(core.Calls()); n != 2 {
		t.Errorf("core called %d times, want 2 (not for the refused request)", n)
	}
	// Every write method counts, with or without a body.
	if st, _, _ := c.do("PUT", "/v1/agents/1001/call/variables/NOTE", agentTok, `{"value":"x","version":1}`); st != http.StatusTooManyRequests {
		t.Errorf("PUT past the limit: status %d", st)
	}

	// Another token has its own allowance; reads are not limited; a
	// request without a valid token is refused as before (401), not
	// counted against anyone.
	if st, _, _ := c.do("POST", "/v1/agents/1002/available", otherTok, ""); st != http.StatusOK {
		t.Errorf("another agent's token: status %d", st)
	}
	for i := range 5 {
		if st, _, _ := c.do("GET", "/v1/agents/1001", agentTok, ""); st != http.StatusOK {
			t.Errorf("GET %d with the limited token: status %d", i, st)
		}
	}
	for _, tok := range []string{"", wrongTok} {
		if st, _, _ := c.do("POST", available, tok, ""); st != http.StatusUnauthorized {
			t.Errorf("token %q: status %d, want 401", tok, st)
		}
	}

	// Half a second later a request is still half a token away: retry
	// in 1 s (rounded up); a second later one is there.
	clk.Advance(500 * time.Millisecond)
	if st, retry, _ := c.do("POST", available, agentTok, ""); st != http.StatusTooManyRequests || retry != "1" {
		t.Errorf("after 0.5 s: status %d, Retry-After %q", st, retry)
	}
	clk.Advance(500 * time.Millisecond)
	if st, _, _ := c.do("POST", available, agentTok, ""); st != http.StatusOK {
		t.Errorf("after 1 s: status %d", st)
	}

	// A supervisor token has the supervisors' limit: burst 1, then one
	// request every 4 s.
	if st, _, _ := c.do("POST", available, superTok, ""); st != http.StatusOK {
		t.Errorf("supervisor: status %d", st)
	}
	if st, retry, _ := c.do("POST", available, superTok, ""); st != http.StatusTooManyRequests || retry != "4" {
		t.Errorf("supervisor past its burst: status %d, Retry-After %q", st, retry)
	}
}

// feedCore is a fakeCore whose agent subscription is fed by the test.
type feedCore struct {
	*fakeCore
	feed chan acd.AgentEvent
}

func (f feedCore) SubscribeAgent(_ context.Context, id string) (<-chan acd.AgentEvent, error) {
	if err := f.record("SubscribeAgent(%s)", id); err != nil {
		return nil, err
	}
	return f.feed, nil
}

func TestEventStreamOutlivesRequestDeadlines(t *testing.T) {
	h := limitedHTTP()
	h.Timeouts.Write = 200 * time.Millisecond
	h.Timeouts.Body = 200 * time.Millisecond
	h.Timeouts.Idle = 400 * time.Millisecond // ≥ Write: see below
	core := feedCore{fakeCore: newFakeCore(), feed: make(chan acd.AgentEvent)}
	// The server pings every 20 ms: every ping is a write on the socket.
	addr := serveLimited(t, core, h, WithKeepalive(20*time.Millisecond, 5*time.Second))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/v1/agents/1001/events",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + agentTok}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ws.CloseNow() }()
	// The client reads all along (answering the server's pings).
	events := make(chan acd.AgentEvent)
	readErr := make(chan error, 1)
	go func() {
		for {
			var ev acd.AgentEvent
			if err := wsjson.Read(context.Background(), ws, &ev); err != nil {
				readErr <- err
				return
			}
			events <- ev
		}
	}()

	// A plain request opened after the stream, then left idle: the
	// server closes it after timeouts.idle, so by then the stream's own
	// write deadline, had it kept one, would have passed.
	conn := conntest.Dial(t, addr)
	br := bufio.NewReader(conn)
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: tandem\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	conntest.WaitClosedByServer(t, conn, br)

	// The stream still delivers, and still answers the client's ping.
	select {
	case core.feed <- acd.AgentEvent{Type: "offered", Agent: agentID, ConnectionID: "c-late"}:
	case err := <-readErr:
		t.Fatalf("stream ended before the event: %v", err)
	case <-ctx.Done():
		t.Fatal("the server took no event")
	}
	select {
	case ev := <-events:
		if ev.ConnectionID != "c-late" {
			t.Fatalf("event %+v", ev)
		}
	case err := <-readErr:
		t.Fatalf("stream ended: %v", err)
	case <-ctx.Done():
		t.Fatal("no event")
	}
	if err := ws.Ping(ctx); err != nil {
		t.Fatalf("ping after the deadlines: %v", err)
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 4 * time.Second: 4} {
		if got := retryAfter(d); got != want {
			t.Errorf("retryAfter(%v) = %d, want %d", d, got, want)
		}
	}
}
